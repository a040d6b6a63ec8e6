//! Batch quality alerts end to end: cases opened through the API against the real intake
//! binary, the alert read back from `GET /quality/alerts` and from the FIFO queue
//! `quality-alerts`. Every test uses batch numbers of its own, so they run side by side.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use aftercare_e2e::{QUALITY_PARAMETERS, TestTwin, place_order_with, twin_options, unique};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde_json::{Value, json};

use crate::{answer, http};

/// A twin of their own, with the default alert policy (the suite's twin turns alerts off).
fn twin() -> &'static TestTwin {
    static TWIN: OnceLock<TestTwin> = OnceLock::new();
    TWIN.get_or_init(|| TestTwin::start(twin_options("debug", QUALITY_PARAMETERS)))
}

const REACTION: &str = "I got an allergic reaction after using the serum: red rash and itching";
const DEFECT: &str = "the serum smells rancid and has separated into layers";
const WRONG_ITEM: &str = "I received the wrong item, I ordered a different product";

/// An order for `customer` whose SERUM-30 line is of `batch` (the TONER-200 line has none).
async fn order_of_batch(customer: &str, batch: &str) -> String {
    let batch = batch.to_owned();
    place_order_with(twin(), customer, &unique("order"), move |data| {
        data["lines"][0]["batch"] = json!(batch);
    })
    .await
}

/// Opens a case about the order's SERUM-30 as its customer.
async fn open(customer: &str, order: &str, description: &str) -> (u16, Value) {
    answer(
        http()
            .post(twin().api("/cases"))
            .bearer_auth(twin().token(customer, "customer"))
            .json(
                &json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                "description": description}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A new customer's case about SERUM-30 of `batch`; its id.
async fn case_of_batch(batch: &str, description: &str) -> String {
    let customer = unique("c-quality");
    let order = order_of_batch(&customer, batch).await;
    let (status, case) = open(&customer, &order, description).await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn get(path: &str, role: &str) -> (u16, Value) {
    answer(
        http()
            .get(twin().api(path))
            .bearer_auth(twin().token(&unique(role), role))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn acknowledge(alert_id: &str, role: &str, body: Value) -> (u16, Value) {
    answer(
        http()
            .post(twin().api(&format!("/quality/alerts/{alert_id}/acknowledge")))
            .bearer_auth(twin().token(&unique(role), role))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The alerts of `batch`, newest first, read page by page as a supervisor (`query`: extra
/// parameters such as `status=open`).
async fn alerts_of(batch: &str, query: &str) -> Vec<Value> {
    let mut mine = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/quality/alerts?limit=100{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = get(&path, "supervisor").await;
        assert_eq!(status, 200, "{page}");
        mine.extend(
            page["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|alert| alert["batch"] == batch)
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return mine,
        }
    }
}

/// One test reads the queue at a time: a receive hides what it does not delete.
static QUEUE_READER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The messages on the quality-alerts queue about `batch`, deleted once read. Every message
/// is received (each batch's in order: FIFO); those of other batches are made visible again
/// for their own tests.
async fn drain_messages_of(batch: &str) -> Vec<(Value, String, String)> {
    let _reading = QUEUE_READER.lock().await;
    let twin = twin();
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let url = twin
        .twin
        .stack
        .queue("QualityAlertsQueue")
        .expect("the queue")
        .url
        .clone();
    let mut mine = Vec::new();
    let mut others = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            break;
        }
        for message in &received {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            if body["batch"] != batch {
                others.push(message.receipt_handle().unwrap().to_owned());
            } else {
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                let attribute = |name: &str| {
                    message
                        .attributes()
                        .and_then(|a| {
                            a.iter()
                                .find(|(k, _)| k.as_str() == name)
                                .map(|(_, v)| v.clone())
                        })
                        .unwrap_or_default()
                };
                mine.push((
                    body,
                    attribute("MessageGroupId"),
                    attribute("MessageDeduplicationId"),
                ));
            }
        }
    }
    for handle in others {
        sqs.change_message_visibility()
            .queue_url(&url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    mine
}

async fn relay() -> Value {
    twin()
        .fire_schedule("IntakeFunctionQualityAlertRelaySchedule", Utc::now())
        .await
        .expect("the relay ran")
}

fn case_ids(alert: &Value) -> BTreeSet<String> {
    alert["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn case_view(id: &str) -> Value {
    let (status, case) = get(&format!("/cases/{id}"), "expert").await;
    assert_eq!(status, 200, "{case}");
    case
}

fn flag_of(case: &Value) -> Option<Value> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "quality_alert_flag")
        .cloned()
}

#[tokio::test]
async fn a_burst_raises_one_alert_and_a_new_crossing_after_acknowledgement_another() {
    let batch = unique("B");
    // A large batch: the count rule, not the share of units sold, decides.
    units_sold(&batch, 100_000).await;
    // Six customers, six orders of the batch, then six reactions at once.
    let mut orders = Vec::new();
    for _ in 0..6 {
        let customer = unique("c-burst");
        let order = order_of_batch(&customer, &batch).await;
        orders.push((customer, order));
    }
    let opened = futures_util::future::join_all(
        orders
            .iter()
            .map(|(customer, order)| open(customer, order, REACTION)),
    )
    .await;
    let mut burst = BTreeSet::new();
    for (status, case) in &opened {
        assert_eq!(*status, 201, "{case}");
        assert_eq!(case["classification"]["category"], "adverse_reaction");
        burst.insert(case["id"].as_str().unwrap().to_owned());
    }

    let alerts = alerts_of(&batch, "").await;
    assert_eq!(alerts.len(), 1, "one alert, not one per case: {alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["sequence"], 1);
    assert_eq!(alert["sku"], "SERUM-30");
    assert_eq!(alert["rule"], "case_count");
    assert_eq!(alert["window_days"], 7);
    assert_eq!(alert["count_in_window"], 3);
    assert_eq!(alert["categories"][0]["category"], "adverse_reaction");
    let evidence = case_ids(alert);
    assert_eq!(evidence.len(), 3);
    assert!(evidence.is_subset(&burst), "{alert}");
    let alert_id = alert["alert_id"].as_str().unwrap().to_owned();

    // On the queue exactly once, even after the relay runs.
    relay().await;
    let messages = drain_messages_of(&batch).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (body, group, deduplication) = &messages[0];
    assert_eq!(body["alert_id"], alert_id.as_str());
    assert_eq!(case_ids(body), evidence);
    assert_eq!(*group, format!("SERUM-30#{batch}"));
    assert_eq!(*deduplication, format!("SERUM-30#{batch}#1"));

    // The three cases after the crossing were flagged; the next case of the batch, whatever
    // it is about, goes to the expert queue with the alert named on its timeline.
    let flagged = opened
        .iter()
        .filter(|(_, case)| flag_of(case).is_some())
        .count();
    assert!(flagged >= 3, "the cases after the crossing are flagged");
    let next = case_view(&case_of_batch(&batch, WRONG_ITEM).await).await;
    assert_eq!(next["classification"]["category"], "wrong_item");
    assert_eq!(next["queue"], "expert", "{next}");
    let flag = flag_of(&next).expect("a quality_alert_flag entry");
    assert!(flag["note"].as_str().unwrap().contains(&alert_id), "{flag}");
    assert_eq!(alerts_of(&batch, "").await.len(), 1);

    // Acknowledged: no longer open, once only.
    let (status, acked) = acknowledge(&alert_id, "expert", json!({"note": "batch on hold"})).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged"]["note"], "batch on hold");
    let (status, again) = acknowledge(&alert_id, "supervisor", json!({"note": "again"})).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("alert_already_acknowledged"))
    );
    assert_eq!(alerts_of(&batch, "&status=open").await.len(), 0);
    assert_eq!(alerts_of(&batch, "&status=acknowledged").await.len(), 1);

    // After the acknowledgement a case of the batch is routed by its own category again.
    let after = case_view(&case_of_batch(&batch, WRONG_ITEM).await).await;
    assert_eq!(after["queue"], "service");
    assert!(flag_of(&after).is_none());

    // Three new reactions: a new crossing, a second alert with exactly those cases.
    let mut second_burst = BTreeSet::new();
    for description in [REACTION, DEFECT, REACTION] {
        second_burst.insert(case_of_batch(&batch, description).await);
    }
    let alerts = alerts_of(&batch, "").await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let second = &alerts[0];
    assert_eq!(
        (second["sequence"].clone(), second["status"].clone()),
        (json!(2), json!("open"))
    );
    assert_eq!(case_ids(second), second_burst);
    assert_eq!(alerts[1]["alert_id"], alert_id.as_str(), "newest first");
    let messages = drain_messages_of(&batch).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].2, format!("SERUM-30#{batch}#2"));
}

#[tokio::test]
async fn other_batches_other_categories_and_unknown_batches_raise_nothing() {
    let (batch, other) = (unique("B"), unique("B"));
    units_sold(&batch, 100_000).await;
    units_sold(&other, 100_000).await;
    for _ in 0..3 {
        case_of_batch(&batch, WRONG_ITEM).await;
    }
    case_of_batch(&batch, REACTION).await;
    case_of_batch(&batch, DEFECT).await;
    case_of_batch(&other, REACTION).await;
    // The fixture's TONER-200 line records no batch.
    for _ in 0..3 {
        let customer = unique("c-toner");
        let order = order_of_batch(&customer, &batch).await;
        let (status, case) = answer(
            http()
                .post(twin().api("/cases"))
                .bearer_auth(twin().token(&customer, "customer"))
                .json(
                    &json!({"order_id": order, "lines": [{"sku": "TONER-200", "quantity": 1}],
                    "description": REACTION}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{case}");
    }
    assert!(alerts_of(&batch, "").await.is_empty());
    assert!(alerts_of(&other, "").await.is_empty());
    relay().await;
    assert!(drain_messages_of(&batch).await.is_empty());
}

/// Adds to the units of SERUM-30 of `batch` sold, as the order webhooks do (each order of
/// these tests adds its one unit).
async fn units_sold(batch: &str, units: u64) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin().aws().await);
    dynamodb
        .update_item()
        .table_name(twin().name_of("MetricsTable"))
        .key(
            "series",
            AttributeValue::S(format!("units-sold#SERUM-30#{batch}")),
        )
        .key("period", AttributeValue::S("all".into()))
        .update_expression("ADD #u :u")
        .expression_attribute_names("#u", "units")
        .expression_attribute_values(":u", AttributeValue::N(units.to_string()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn two_cases_in_four_hundred_units_sold_cross_the_share_rule() {
    let (batch, larger) = (unique("B"), unique("B"));
    // With the one unit of each of the two orders: 400 and 401.
    units_sold(&batch, 398).await;
    units_sold(&larger, 399).await;
    let first = case_of_batch(&batch, REACTION).await;
    case_of_batch(&larger, REACTION).await;
    assert!(alerts_of(&batch, "").await.is_empty());
    let second = case_of_batch(&batch, DEFECT).await;
    case_of_batch(&larger, DEFECT).await;

    let alerts = alerts_of(&batch, "").await;
    assert_eq!(alerts.len(), 1, "2 of 400 is 0.5 %: {alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["rule"], "share_of_units_sold");
    assert_eq!(alert["units_sold"], 400);
    assert_eq!(alert["share_basis_points"], 50);
    assert_eq!(alert["share_threshold_basis_points"], 50);
    assert_eq!(case_ids(alert), BTreeSet::from([first, second]));
    assert!(alerts_of(&larger, "").await.is_empty(), "2 of 401 is under");
}

#[tokio::test]
async fn an_alert_left_in_the_outbox_is_sent_by_the_relay_once() {
    let batch = unique("B");
    units_sold(&batch, 99).await; // with the order's unit, one case is 1 %
    case_of_batch(&batch, REACTION).await;
    let alert = alerts_of(&batch, "").await.remove(0);
    let sent = drain_messages_of(&batch).await;
    assert_eq!(sent.len(), 1);

    // As if intake had crashed between the commit and the send: back in the outbox.
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin().aws().await);
    let key = |id: &str| {
        [
            ("scope".to_owned(), AttributeValue::S(format!("alert#{id}"))),
            ("entry".to_owned(), AttributeValue::S("alert".into())),
        ]
    };
    let id = alert["alert_id"].as_str().unwrap();
    dynamodb
        .update_item()
        .table_name(twin().name_of("QualityTable"))
        .set_key(Some(key(id).into()))
        .update_expression("SET outbox = :u")
        .expression_attribute_values(":u", AttributeValue::S("unsent".into()))
        .send()
        .await
        .unwrap();
    let report = relay().await;
    assert!(report["sent"].as_u64().unwrap() >= 1, "{report}");
    let resent = drain_messages_of(&batch).await;
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].0["alert_id"], id);
    assert_eq!(resent[0].2, sent[0].2, "the same deduplication id");
    let item = dynamodb
        .get_item()
        .table_name(twin().name_of("QualityTable"))
        .set_key(Some(key(id).into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("outbox"), "out of the outbox");
    relay().await;
    assert!(drain_messages_of(&batch).await.is_empty(), "sent once");
}

#[tokio::test]
async fn only_supervisors_and_experts_see_and_acknowledge_alerts() {
    let nobody = "01JD0000000000000000000000";
    for role in ["customer", "agent", "finance", "payment_integration"] {
        let (status, body) = get("/quality/alerts", role).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{role}"
        );
        let (status, body) = acknowledge(nobody, role, json!({"note": "seen"})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{role}"
        );
    }
    for role in ["supervisor", "expert"] {
        let (status, body) = get("/quality/alerts?status=open&limit=1", role).await;
        assert_eq!(status, 200, "{role}: {body}");
        assert!(body["alerts"].is_array());
        let (status, body) = acknowledge(nobody, role, json!({"note": "seen"})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{role}"
        );
    }
    let response = http()
        .get(twin().api("/quality/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let batch = unique("B");
    units_sold(&batch, 99).await;
    case_of_batch(&batch, REACTION).await;
    let alert = alerts_of(&batch, "").await.remove(0);
    let id = alert["alert_id"].as_str().unwrap();

    for (query, code) in [
        ("?status=closed", "invalid_query"),
        ("?limit=0", "invalid_query"),
        ("?limit=101", "invalid_query"),
        ("?sku=SERUM-30", "invalid_query"),
        ("?cursor=bm9wZQ", "invalid_cursor"),
    ] {
        let (status, body) = get(&format!("/quality/alerts{query}"), "expert").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    for (body, status, code) in [
        (json!({}), 400, "invalid_request"),
        (json!({"note": "  "}), 422, "validation_failed"),
        (json!({"note": "x".repeat(2_001)}), 422, "validation_failed"),
        (
            json!({"note": "ok", "status": "closed"}),
            400,
            "invalid_request",
        ),
        (json!({"note": 7}), 400, "invalid_request"),
    ] {
        let (got, answer) = acknowledge(id, "expert", body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (status, body) = answer(
        http()
            .post(twin().api(&format!("/quality/alerts/{id}/acknowledge")))
            .bearer_auth(twin().token("e-1", "expert"))
            .header("content-type", "text/plain")
            .body("note")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, _) = acknowledge("not-an-alert", "expert", json!({"note": "x"})).await;
    assert_eq!(status, 404);

    // Nothing was acknowledged: the alert is open, and a good request acknowledges it.
    let now = alerts_of(&batch, "").await.remove(0);
    assert_eq!(now["status"], "open");
    assert!(now.get("acknowledged").is_none());
    let (status, _) = acknowledge(id, "supervisor", json!({"note": "recall"})).await;
    assert_eq!(status, 200);
}
