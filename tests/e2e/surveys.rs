//! Satisfaction surveys end to end, on a twin of their own (a sweep fired at a later instant
//! sends every survey due by then, and its webhook receiver must be known when it starts):
//! scheduling with the resolution, the sweep with time moved by the scheduled event's time,
//! e-mails read back from moto's sent-mail record, the signed webhook at a test receiver,
//! exactly-once under a burst of duplicated messages, opt-out, the DLQ, and the survey API.
//!
//! The tests take turns (`turn()`): each fires sweeps that would send the others' surveys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aftercare::survey::{SurveyToken, verify_webhook};
use aftercare_e2e::{
    TestTwin, dead_letters, eventually, place_order_with, sent_emails, twin_options, unique,
};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::{answer, http};

const FUNCTION: &str = "SurveyDispatchFunction";
const BASE_URL: &str = "https://help.glow-lab.example";
/// The fixture's generic source, whose store announces surveys through the test receiver.
const SOURCE: &str = "glow-lab-tmall";
const SECRET: &[u8] = b"dev-generic-secret";

/// One delivery the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    json: Value,
}

type Deliveries = Arc<Mutex<Vec<Delivery>>>;

struct SurveyTwin {
    twin: TestTwin,
    deliveries: Deliveries,
}

/// The receiver: records every delivery, and answers 500 to customers whose id starts with
/// `fail-` (a store that keeps refusing).
fn start_receiver() -> (u16, Deliveries) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let deliveries: Deliveries = Arc::default();
    let recorded = deliveries.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/hooks",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let recorded = recorded.clone();
                    async move {
                        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let refuse = json["customer_id"]
                            .as_str()
                            .is_some_and(|c| c.starts_with("fail-"));
                        recorded.lock().unwrap().push(Delivery {
                            headers: headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                })
                                .collect(),
                            body: body.to_vec(),
                            json,
                        });
                        if refuse {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::NO_CONTENT
                        }
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (port, deliveries)
}

fn surveys() -> &'static SurveyTwin {
    static TWIN: OnceLock<SurveyTwin> = OnceLock::new();
    TWIN.get_or_init(|| {
        let (port, deliveries) = start_receiver();
        let hooks = format!("generic:{SOURCE}=http://127.0.0.1:{port}/hooks");
        let twin = TestTwin::start(twin_options(
            "debug",
            &[
                ("QueueVisibilityTimeoutSeconds", "1"),
                ("QueueMaxReceiveCount", "2"),
                ("SurveyDelayMinutes", "60"),
                ("SurveyBaseUrl", BASE_URL),
                ("SurveyWebhookUrls", &hooks),
            ],
        ));
        SurveyTwin { twin, deliveries }
    })
}

/// The tests' turns on the shared twin.
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

async fn emails_to(twin: &TestTwin, address: &str) -> Vec<(String, String)> {
    sent_emails(twin)
        .await
        .into_iter()
        .filter(|(to, _, _)| to == address)
        .map(|(_, subject, body)| (subject, body))
        .collect()
}

fn deliveries_for(case_id: &str) -> Vec<Delivery> {
    surveys()
        .deliveries
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d.json["case_id"] == case_id)
        .cloned()
        .collect()
}

/// The token of the first survey link in `text`.
fn token_in(text: &str) -> String {
    let start = text.find("/surveys/").expect("a survey link") + "/surveys/".len();
    text[start..start + SurveyToken::CHARS].to_owned()
}

/// An order of `customer` with an e-mail address and a locale; returns its reference.
async fn order_for(twin: &TestTwin, customer: &str, email: &str, locale: &str) -> String {
    let (email, locale) = (email.to_owned(), locale.to_owned());
    place_order_with(twin, customer, &unique("order"), move |data| {
        data["customer_email"] = json!(email);
        data["customer_locale"] = json!(locale);
    })
    .await
}

/// Opens a case on `order` and resolves it as `agent`; returns the case id.
async fn resolved_case(twin: &TestTwin, customer: &str, order: &str, agent: &str) -> String {
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(customer, "customer"))
            .json(
                &json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                          "description": "the serum bottle arrived broken and leaking"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let (status, body) = answer(
        http()
            .post(twin.api(&format!("/cases/{id}/resolve")))
            .bearer_auth(twin.token(agent, "agent"))
            .json(&json!({"remedy": "replacement"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    id
}

/// A survey due now, written as intake's resolution writes it (for bursts).
async fn seed_due_survey(twin: &TestTwin, customer: &str, order: &str, agent: &str) -> String {
    let now = Utc::now();
    let case_id = aftercare::case::CaseId::from_instant(now);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let at = aftercare::clock::rfc3339(now - chrono::Duration::minutes(1));
    aws_sdk_dynamodb::Client::new(&twin.aws().await)
        .put_item()
        .table_name(twin.name_of("SurveysTable"))
        .item("case_id", s(&case_id.to_string()))
        .item("customer_id", s(customer))
        .item("order_reference", s(order))
        .item("resolved_by", s(&format!("agent:{agent}")))
        .item("resolved_at", s(&at))
        .item("due_at", s(&at))
        .item("due_shard", s(&aftercare::store::due_shard(&case_id)))
        .send()
        .await
        .unwrap();
    case_id.to_string()
}

async fn stored(twin: &TestTwin, case_id: &str) -> HashMap<String, AttributeValue> {
    aws_sdk_dynamodb::Client::new(&twin.aws().await)
        .get_item()
        .table_name(twin.name_of("SurveysTable"))
        .key("case_id", AttributeValue::S(case_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
}

async fn outcome(twin: &TestTwin, case_id: &str) -> Option<String> {
    stored(twin, case_id)
        .await
        .get("outcome")
        .and_then(|v| v.as_s().ok())
        .cloned()
}

async fn sweep(twin: &TestTwin, at: chrono::DateTime<Utc>) -> Value {
    twin.fire_schedule(FUNCTION, at)
        .await
        .expect("the sweep runs")
}

/// Messages on the surveys-due queue, visible or in flight.
async fn queue_depth(twin: &TestTwin, logical: &str) -> u64 {
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let url = twin.twin.stack.queue(logical).unwrap().url.clone();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| {
        attributes
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

async fn get_survey(twin: &TestTwin, token: &str) -> (u16, Value) {
    answer(
        http()
            .get(twin.api(&format!("/surveys/{token}")))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post_answer(twin: &TestTwin, token: &str, body: Value) -> (u16, Value) {
    answer(
        http()
            .post(twin.api(&format!("/surveys/{token}")))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The survey counters credited to `agent` on the day-shard item of `case_id`, by name
/// without the agent suffix (`answered`, `satisfied`, `csat_sum`).
async fn agent_counters(twin: &TestTwin, agent: &str, case_id: &str) -> HashMap<String, i64> {
    let case: aftercare::case::CaseId = case_id.parse().unwrap();
    let period = aftercare::metrics::day_period(Utc::now().date_naive(), &case);
    let suffix = format!("#{agent}");
    aws_sdk_dynamodb::Client::new(&twin.aws().await)
        .get_item()
        .table_name(twin.name_of("MetricsTable"))
        .key(
            "series",
            AttributeValue::S(aftercare::metrics::SURVEYS.to_owned()),
        )
        .key("period", AttributeValue::S(period))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_suffix(&suffix)?.to_owned();
            v.as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .map(|n| (name, n))
        })
        .collect()
}

#[tokio::test]
async fn a_resolved_case_is_surveyed_once_due_by_email_and_signed_webhook_and_answered_once() {
    let _turn = turn().await;
    let twin = &surveys().twin;
    let customer = unique("c");
    let address = format!("{}@example.com", unique("mei"));
    let agent = unique("a");
    let order = order_for(twin, &customer, &address, "zh-CN").await;
    let case_id = resolved_case(twin, &customer, &order, &agent).await;
    assert!(
        stored(twin, &case_id).await.contains_key("due_shard"),
        "the resolution scheduled the survey"
    );

    // Half an hour later it is not due yet (the delay is an hour): nothing is queued.
    let early = sweep(twin, Utc::now() + chrono::Duration::minutes(30)).await;
    assert_eq!(early["queued"], 0, "{early}");
    assert!(stored(twin, &case_id).await.contains_key("due_shard"));

    // Two hours later it is.
    let late = sweep(twin, Utc::now() + chrono::Duration::hours(2)).await;
    assert!(late["queued"].as_u64().unwrap() >= 1, "{late}");
    let (subject, body) = eventually(
        twin,
        FUNCTION,
        "the survey e-mail",
        Duration::from_secs(60),
        || async {
            let emails = emails_to(twin, &address).await;
            let webhooks = deliveries_for(&case_id);
            (!emails.is_empty() && !webhooks.is_empty() && outcome(twin, &case_id).await.is_some())
                .then(|| emails[0].clone())
        },
    )
    .await;
    assert_eq!(subject, "您对本次售后服务满意吗？");
    assert!(body.contains("为本次服务评分"), "{body}");
    assert!(body.contains(&format!("{BASE_URL}/surveys/")));
    let email_token = token_in(&body);
    assert_eq!(outcome(twin, &case_id).await.as_deref(), Some("sent"));
    assert!(
        !format!("{:?}", stored(twin, &case_id).await).contains(&email_token),
        "only the token's hash is stored"
    );

    // The signed webhook, with its own link.
    let deliveries = deliveries_for(&case_id);
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert!(verify_webhook(
        SECRET,
        &delivery.body,
        &delivery.headers["x-aftercare-timestamp"],
        &delivery.headers["x-aftercare-signature"],
        Utc::now()
    ));
    assert_eq!(delivery.headers["x-aftercare-delivery"], case_id);
    assert_eq!(delivery.json["event"], "survey.ready");
    assert_eq!(delivery.json["language"], "zh-CN");
    assert_eq!(delivery.json["customer_id"], customer.as_str());
    let webhook_token = token_in(delivery.json["survey_url"].as_str().unwrap());
    assert_ne!(webhook_token, email_token);

    // Both links show the questions in Chinese.
    for token in [&email_token, &webhook_token] {
        let (status, page) = get_survey(twin, token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["language"], "zh-CN");
        assert_eq!(page["questions"]["csat"]["field"], "csat");
    }

    // Bad input: 422 (or 400 for an unknown field), and nothing is written.
    for (bad, code) in [
        (json!({"csat": 9}), "validation_failed"),
        (json!({"csat": 1}), "validation_failed"),
        (json!({"csat": 5, "reason": "other"}), "validation_failed"),
        (json!({"csat": 5, "nps": 11}), "validation_failed"),
        (json!({"csat": 5, "stars": 5}), "invalid_request"),
    ] {
        let (status, error) = post_answer(twin, &email_token, bad.clone()).await;
        assert_eq!(error["error"]["code"], code, "{bad}: {status} {error}");
    }
    assert_eq!(get_survey(twin, &email_token).await.0, 200, "still open");
    assert!(
        agent_counters(twin, &format!("agent:{agent}"), &case_id)
            .await
            .is_empty()
    );

    // Two answers at once: one is recorded, the other gets 409; a third too.
    let (first, second) = tokio::join!(
        post_answer(
            twin,
            &email_token,
            json!({"csat": 2, "reason": "slow_response", "nps": 6, "comment": "慢"})
        ),
        post_answer(twin, &webhook_token, json!({"csat": 5})),
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{first:?} {second:?}");
    let (status, again) = post_answer(twin, &email_token, json!({"csat": 4})).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("survey_already_answered"))
    );
    assert_eq!(get_survey(twin, &webhook_token).await.0, 409);

    // Credited once to the agent who resolved the case.
    let counters = agent_counters(twin, &format!("agent:{agent}"), &case_id).await;
    assert_eq!(counters.get("answered"), Some(&1), "{counters:?}");
    let recorded = if first.0 == 201 { (2, 0) } else { (5, 1) };
    assert_eq!(
        (counters["csat_sum"], counters["satisfied"]),
        recorded,
        "{counters:?}"
    );

    // Unknown and malformed links are the same 404.
    let unknown = SurveyToken::from_bytes([7; 32]);
    for token in [
        unknown.as_str(),
        "abc",
        "not-a-token-but-43-characters-long-0123456",
    ] {
        let (status, body) = get_survey(twin, token).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("survey_not_found")),
            "{token}"
        );
        assert_eq!(post_answer(twin, token, json!({"csat": 5})).await.0, 404);
    }
}

#[tokio::test]
async fn a_burst_of_duplicated_messages_sends_one_email_and_one_webhook_per_case() {
    let _turn = turn().await;
    let twin = &surveys().twin;
    let agent = unique("a");
    let mut cases = Vec::new();
    for i in 0..50 {
        let customer = unique("c");
        let address = format!("{}@example.com", unique("burst"));
        let locale = if i % 2 == 0 { "en-US" } else { "zh-CN" };
        let order = order_for(twin, &customer, &address, locale).await;
        let case_id = seed_due_survey(twin, &customer, &order, &agent).await;
        cases.push((case_id, address, locale));
    }
    let now = Utc::now();
    let first = sweep(twin, now).await;
    assert!(first["queued"].as_u64().unwrap() >= 50, "{first}");
    // The second sweep finds them out of the index; the queue gets each message again anyway.
    let second = sweep(twin, now).await;
    assert_eq!(second["due"], 0, "{second}");
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let queue = twin
        .twin
        .stack
        .queue("SurveysDueQueue")
        .unwrap()
        .url
        .clone();
    let surveys_table = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    futures_util::stream::iter(&cases)
        .for_each_concurrent(8, |(case_id, _, _)| {
            let (sqs, queue, surveys_table) = (&sqs, &queue, &surveys_table);
            async move {
                let item = surveys_table
                    .get_item()
                    .table_name(twin.name_of("SurveysTable"))
                    .key("case_id", AttributeValue::S(case_id.clone()))
                    .send()
                    .await
                    .unwrap()
                    .item
                    .unwrap();
                let text = |k: &str| item[k].as_s().unwrap().clone();
                let due = json!({"case_id": case_id, "customer_id": text("customer_id"),
                    "order_reference": text("order_reference"), "resolved_by": text("resolved_by"),
                    "resolved_at": text("resolved_at"), "due_at": text("due_at")});
                sqs.send_message()
                    .queue_url(queue)
                    .message_body(due.to_string())
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;

    eventually(
        twin,
        FUNCTION,
        "every burst survey sent and the queue drained",
        Duration::from_secs(180),
        || async {
            for (case_id, _, _) in &cases {
                if outcome(twin, case_id).await.as_deref() != Some("sent") {
                    return None;
                }
            }
            (queue_depth(twin, "SurveysDueQueue").await == 0).then_some(())
        },
    )
    .await;
    let emails = sent_emails(twin).await;
    for (case_id, address, locale) in &cases {
        let mine: Vec<_> = emails.iter().filter(|(to, _, _)| to == address).collect();
        assert_eq!(mine.len(), 1, "one e-mail to {address}");
        let expected = if *locale == "en-US" {
            "How did we do with your request?"
        } else {
            "您对本次售后服务满意吗？"
        };
        assert_eq!(mine[0].1, expected);
        assert_eq!(
            deliveries_for(case_id).len(),
            1,
            "one webhook for {case_id}"
        );
    }
}

#[tokio::test]
async fn a_customer_who_opted_out_gets_nothing_and_links_opt_out() {
    let _turn = turn().await;
    let twin = &surveys().twin;
    let customer = unique("c");
    let address = format!("{}@example.com", unique("quiet"));
    let order = order_for(twin, &customer, &address, "en").await;
    let url = twin.api("/customers/me/survey-preference");

    // Customers only; a body of exactly one boolean.
    let put = |token: String, body: Value| {
        let url = url.clone();
        async move {
            answer(
                http()
                    .put(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, _) = put(twin.token(&customer, "agent"), json!({"opted_out": true})).await;
    assert_eq!(status, 403);
    let (status, body) = put(
        twin.token(&customer, "customer"),
        json!({"opted_out": "yes"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = put(
        twin.token(&customer, "customer"),
        json!({"opted_out": true}),
    )
    .await;
    assert_eq!((status, body["opted_out"].as_bool()), (200, Some(true)));

    let case_id = seed_due_survey(twin, &customer, &order, &unique("a")).await;
    sweep(twin, Utc::now()).await;
    eventually(
        twin,
        FUNCTION,
        "the opt-out recorded",
        Duration::from_secs(60),
        || async { (outcome(twin, &case_id).await.as_deref() == Some("opted_out")).then_some(()) },
    )
    .await;
    assert!(emails_to(twin, &address).await.is_empty());
    assert!(deliveries_for(&case_id).is_empty());

    // The e-mail footer's link: a customer who gets a survey can stop the next ones.
    let other = unique("c");
    let other_address = format!("{}@example.com", unique("footer"));
    let other_order = order_for(twin, &other, &other_address, "en").await;
    let other_case = seed_due_survey(twin, &other, &other_order, &unique("a")).await;
    sweep(twin, Utc::now()).await;
    let (subject, body) = eventually(
        twin,
        FUNCTION,
        "the survey e-mail",
        Duration::from_secs(60),
        || async { emails_to(twin, &other_address).await.into_iter().next() },
    )
    .await;
    assert_eq!(subject, "How did we do with your request?");
    let token = token_in(&body);
    assert!(body.contains(&format!("{BASE_URL}/surveys/{token}/opt-out")));
    let (status, body) = answer(
        http()
            .post(twin.api(&format!("/surveys/{token}/opt-out")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["opted_out"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let customer_item = aws_sdk_dynamodb::Client::new(&twin.aws().await)
        .get_item()
        .table_name(twin.name_of("CustomersTable"))
        .key("customer_id", AttributeValue::S(other.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        customer_item["survey_opted_out"],
        AttributeValue::Bool(true)
    );
    assert_eq!(outcome(twin, &other_case).await.as_deref(), Some("sent"));
}

#[tokio::test]
async fn a_message_that_keeps_failing_ends_in_the_dlq_without_a_second_email() {
    let _turn = turn().await;
    let twin = &surveys().twin;
    let agent = unique("a");
    // The store refuses this customer's webhook every time.
    let failing = unique("fail-c");
    let failing_address = format!("{}@example.com", unique("refused"));
    let order = order_for(twin, &failing, &failing_address, "zh-CN").await;
    let failing_case = seed_due_survey(twin, &failing, &order, &agent).await;
    let mut fine = Vec::new();
    for _ in 0..4 {
        let customer = unique("c");
        let order = order_for(
            twin,
            &customer,
            &format!("{}@example.com", unique("ok")),
            "en",
        )
        .await;
        fine.push(seed_due_survey(twin, &customer, &order, &agent).await);
    }
    sweep(twin, Utc::now()).await;
    eventually(
        twin,
        FUNCTION,
        "the other surveys sent",
        Duration::from_secs(60),
        || async {
            for case in &fine {
                if outcome(twin, case).await.as_deref() != Some("sent") {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    dead_letters(twin, "SurveysDueDLQ", Duration::from_secs(60), |bodies| {
        bodies.iter().any(|body| body.contains(&failing_case))
    })
    .await;
    // Tried twice (maxReceiveCount 2), e-mailed once: the e-mail went out on the first try.
    assert_eq!(deliveries_for(&failing_case).len(), 2);
    assert_eq!(emails_to(twin, &failing_address).await.len(), 1);
    let item = stored(twin, &failing_case).await;
    assert!(item.contains_key("email_sent_at") && !item.contains_key("outcome"));
    assert!(
        !item.contains_key("webhook_token_hash"),
        "the undelivered link is forgotten"
    );
    assert!(!item.contains_key("claimed_at"));
}

#[tokio::test]
async fn an_expired_link_is_gone() {
    let _turn = turn().await;
    let twin = &surveys().twin;
    let customer = unique("c");
    let address = format!("{}@example.com", unique("late"));
    let order = order_for(twin, &customer, &address, "zh-CN").await;
    let case_id = seed_due_survey(twin, &customer, &order, &unique("a")).await;
    sweep(twin, Utc::now()).await;
    let (_, body) = eventually(
        twin,
        FUNCTION,
        "the survey e-mail",
        Duration::from_secs(60),
        || async { emails_to(twin, &address).await.into_iter().next() },
    )
    .await;
    let token = token_in(&body);
    assert_eq!(get_survey(twin, &token).await.0, 200);
    // 28 days pass: the stored expiry moves into the past.
    aws_sdk_dynamodb::Client::new(&twin.aws().await)
        .update_item()
        .table_name(twin.name_of("SurveysTable"))
        .key("case_id", AttributeValue::S(case_id.clone()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::S(aftercare::clock::rfc3339(
                Utc::now() - chrono::Duration::seconds(1),
            )),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = get_survey(twin, &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("survey_expired"))
    );
    let (status, _) = post_answer(twin, &token, json!({"csat": 5})).await;
    assert_eq!(status, 410);
    assert!(!stored(twin, &case_id).await.contains_key("answered_at"));
}
