//! Injected faults: a fifth of the functions' AWS calls throttled, failed with a 500, timed out
//! after the write happened, or dropped (`aftercare_twin::faults`), while storefronts, apps,
//! finance and the schedules do their work and retry as real ones do. Nothing may be lost or
//! doubled:
//!
//! - order webhooks, 10% delivered twice, retried by the sender until answered 2xx: each order
//!   stored once and counted once (orders and units sold); then a short storm of 60% failing
//!   calls, beyond what the SDK's own three attempts absorb, so the senders' retries carry it;
//! - cases opened with an `Idempotency-Key`, retried with the same key: one complete case per
//!   customer, listed for its customer and in its work queue, counted once;
//! - refunds resolved and approved, retried: each approved once, with exactly one payout
//!   message on the FIFO queue after the relay;
//! - a backlog of late cases swept again and again: every SLA step of every case recorded once;
//! - a poison message among due surveys: in the DLQ after the configured receives, while every
//!   other survey is sent.
//!
//! It prints the counts (attempted, faulted, succeeded, duplicates, lost) and `make faults`
//! runs it alone. The test has a twin of its own: nothing else may share its proxy.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aftercare::case::Case;
use aftercare_e2e::{
    DEV_GENERIC_SECRET, GENERIC_SOURCE, TestTwin, dead_letters, drain_queue, eventually,
    generic_order_webhook, load_cases, synthetic_case, twin_options, unique,
};
use aftercare_twin::faults::{FaultCounts, FaultPlan};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// The share of the functions' AWS calls that fail.
const FAULT_SHARE: f64 = 0.2;
const SEED: u64 = 20_261_111;
const ORDERS: usize = 120;
/// A storm beyond what the SDK's retries absorb (0.6³ ≈ 22% of calls fail all three
/// attempts): the senders' retries must carry it.
const STORM_SHARE: f64 = 0.6;
const STORM_ORDERS: usize = 30;
const CASES: usize = 30;
const REFUNDS: usize = 12;
const LATE_CASES: usize = 30;
const SURVEYS: usize = 8;
/// Tries a client makes before it gives up (a storefront retries for a day).
const CLIENT_TRIES: usize = 30;
/// Redeliveries before the DLQ. The visibility timeout outlasts an invocation whose calls all
/// time out once (3 × the 3 s attempt timeout), so a slow consumer is not mistaken for a failing one.
const MAX_RECEIVES: &str = "3";
const VISIBILITY_SECONDS: &str = "12";

fn faults_twin() -> TestTwin {
    let mut options = twin_options(
        "debug",
        &[
            ("QueueVisibilityTimeoutSeconds", VISIBILITY_SECONDS),
            ("QueueMaxReceiveCount", MAX_RECEIVES),
            ("SurveyDelayMinutes", "60"),
            ("QualityAlertMinCases", "1000"),
            ("QualityAlertShareOfUnits", "0"),
        ],
    );
    options.faults = Some(FaultPlan::new(FAULT_SHARE, SEED));
    TestTwin::start(options)
}

fn http() -> reqwest::Client {
    // Longer than the worst the proxy does to one invocation.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// What one kind of client saw.
#[derive(Debug, Default)]
struct Tally {
    /// Distinct things sent (orders, cases, approvals).
    sent: usize,
    /// Requests made, retries and duplicate deliveries included.
    requests: usize,
    /// Answers that told the client to try again (5xx, a dropped connection).
    retried: usize,
    /// Deliveries repeated on purpose after success.
    duplicates_sent: usize,
}

/// Sends until the answer is not a server error or a transport failure; `None` if it never is.
async fn until_answered(
    tally: &mut Tally,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Option<(u16, Value)> {
    for _ in 0..CLIENT_TRIES {
        tally.requests += 1;
        match request().send().await {
            Ok(response) if response.status().is_server_error() => tally.retried += 1,
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                return Some((
                    status,
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                ));
            }
            Err(_) => tally.retried += 1,
        }
    }
    None
}

/// A generic order webhook for `customer`, placed now (so it counts in today's metrics).
fn order_webhook(customer: &str, order_id: &str, email: &str) -> (String, Vec<u8>) {
    let now = Utc::now().to_rfc3339();
    generic_order_webhook(customer, order_id, |data| {
        data["customer_email"] = json!(email);
        data["placed_at"] = json!(now);
        data["updated_at"] = json!(now);
    })
}

async fn deliver(twin: &TestTwin, tally: &mut Tally, body: &[u8]) -> bool {
    let signature = aftercare::storefront::sign(DEV_GENERIC_SECRET, body);
    let answer = until_answered(tally, || {
        http()
            .post(twin.api("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-aftercare-source", GENERIC_SOURCE)
            .header("x-aftercare-signature", &signature)
            .body(body.to_vec())
    })
    .await;
    matches!(answer, Some((200, _)))
}

async fn stored_order_count(twin: &TestTwin, references: &[String]) -> usize {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let mut found = 0;
    for reference in references {
        let item = dynamodb
            .get_item()
            .table_name(twin.name_of("OrdersTable"))
            .key("order_id", AttributeValue::S(reference.clone()))
            .key("entry", AttributeValue::S("order".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item;
        found += usize::from(item.is_some());
    }
    found
}

async fn metrics_today(twin: &TestTwin) -> Value {
    let today = Utc::now().date_naive();
    let supervisor = twin.token("supervisor-faults", "supervisor");
    let mut tally = Tally::default();
    let (status, report) = until_answered(&mut tally, || {
        http()
            .get(twin.api(&format!("/metrics?from={today}&to={today}")))
            .bearer_auth(&supervisor)
    })
    .await
    .expect("the metrics answer");
    assert_eq!(status, 200, "{report}");
    report["period"].clone()
}

async fn get_json(twin: &TestTwin, path: &str, token: &str) -> (u16, Value) {
    until_answered(&mut Tally::default(), || {
        http().get(twin.api(path)).bearer_auth(token)
    })
    .await
    .unwrap_or_else(|| panic!("GET {path} never answered"))
}

/// Fires a schedule until a run succeeds and `done` says its report shows nothing left.
async fn fire_until(
    twin: &TestTwin,
    schedule: &str,
    at: DateTime<Utc>,
    done: impl Fn(&Value) -> bool,
) -> (usize, usize) {
    let (mut runs, mut failed) = (0, 0);
    while runs < 100 {
        runs += 1;
        match twin.fire_schedule(schedule, at).await {
            Ok(report) if done(&report) => return (runs, failed),
            Ok(_) => {}
            Err(_) => failed += 1,
        }
    }
    panic!("{schedule}: not done after {runs} runs ({failed} failed)");
}

/// Delivers every webhook, 8 at a time, every `duplicate_every`-th one twice: how many were
/// acknowledged (both deliveries, for a duplicated one), and what the senders did.
async fn deliver_all(
    twin: &TestTwin,
    webhooks: &[(String, Vec<u8>)],
    duplicate_every: usize,
) -> (usize, Tally) {
    let deliveries: Vec<(bool, Tally)> = futures_util::stream::iter(webhooks.iter().enumerate())
        .map(|(i, (_, body))| async move {
            let mut tally = Tally {
                sent: 1,
                ..Tally::default()
            };
            let mut landed = deliver(twin, &mut tally, body).await;
            if duplicate_every > 0 && i % duplicate_every == 0 {
                tally.duplicates_sent += 1;
                landed &= deliver(twin, &mut tally, body).await;
            }
            (landed, tally)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut total = Tally::default();
    let mut answered = 0;
    for (landed, tally) in &deliveries {
        answered += usize::from(*landed);
        total.sent += tally.sent;
        total.requests += tally.requests;
        total.retried += tally.retried;
        total.duplicates_sent += tally.duplicates_sent;
    }
    (answered, total)
}

struct Report {
    lines: Vec<String>,
    lost: usize,
    doubled: usize,
}

impl Report {
    fn line(&mut self, what: &str, tally: &Tally, landed: usize, duplicates: usize, lost: usize) {
        self.lost += lost;
        self.doubled += duplicates;
        self.lines.push(format!(
            "{what:<26} sent {:>4}  requests {:>4}  retried {:>3}  duplicate deliveries {:>3}  \
             landed {:>4}  duplicates {duplicates}  lost {lost}",
            tally.sent, tally.requests, tally.retried, tally.duplicates_sent, landed
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifth_of_aws_calls_failing_loses_and_doubles_nothing() {
    let twin = faults_twin();
    let started = Instant::now();
    let mut report = Report {
        lines: Vec::new(),
        lost: 0,
        doubled: 0,
    };
    let run = unique("faults");

    // 1. Order webhooks, a tenth delivered twice, sent 8 at a time.
    let customers: Vec<String> = (0..ORDERS).map(|i| format!("c-{run}-{i}")).collect();
    let webhooks: Vec<(String, Vec<u8>)> = customers
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            order_webhook(
                customer,
                &format!("{run}-{i}"),
                &format!("{customer}@faults.example"),
            )
        })
        .collect();
    let twin_ref = &twin;
    let (answered, orders) = deliver_all(twin_ref, &webhooks, 10).await;
    let references: Vec<String> = webhooks.iter().map(|(r, _)| r.clone()).collect();
    let stored = stored_order_count(&twin, &references).await;
    let figures = metrics_today(&twin).await;
    let counted = figures["orders"].as_u64().unwrap() as usize;
    let units = figures["units_sold"].as_u64().unwrap() as usize;
    assert_eq!(answered, ORDERS, "a webhook was never acknowledged");
    // The fixture's order has three units (1 serum, 2 toners).
    assert_eq!(
        units,
        3 * counted,
        "units sold counted apart from their orders"
    );
    report.line(
        "order webhooks",
        &orders,
        stored,
        counted.saturating_sub(ORDERS),
        ORDERS.saturating_sub(stored.min(counted)),
    );

    // 1b. A storm: more calls failing than the SDK's three attempts absorb, so the storefront's
    // own retries carry the webhooks; then calm again at the test's share.
    let proxy = twin.twin.faults.as_ref().expect("the fault proxy");
    let storm: Vec<(String, Vec<u8>)> = (0..STORM_ORDERS)
        .map(|i| {
            let customer = format!("storm-{run}-{i}");
            let email = format!("{customer}@faults.example");
            order_webhook(&customer, &format!("{run}-storm-{i}"), &email)
        })
        .collect();
    let before = proxy.counts();
    proxy.set_share(STORM_SHARE);
    let (storm_answered, storm_tally) = deliver_all(twin_ref, &storm, 5).await;
    proxy.set_share(FAULT_SHARE);
    let during = proxy.counts();
    let storm_references: Vec<String> = storm.iter().map(|(r, _)| r.clone()).collect();
    let storm_stored = stored_order_count(&twin, &storm_references).await;
    let storm_counted = metrics_today(&twin).await["orders"].as_u64().unwrap() as usize - counted;
    assert_eq!(
        storm_answered, STORM_ORDERS,
        "a webhook was never acknowledged"
    );
    report.line(
        &format!("webhooks, {:.0}% storm", STORM_SHARE * 100.0),
        &storm_tally,
        storm_stored,
        storm_counted.saturating_sub(STORM_ORDERS),
        STORM_ORDERS.saturating_sub(storm_stored.min(storm_counted)),
    );
    report.lines.push(format!(
        "  storm: {} AWS calls, {} faulted",
        during.attempted - before.attempted,
        during.faulted() - before.faulted()
    ));

    // 2. Cases, each retried with its own idempotency key, 8 customers at a time.
    let opened: Vec<(Tally, String, String)> = futures_util::stream::iter(
        customers.iter().zip(&references).take(CASES),
    )
    .map(|(customer, reference)| async move {
        let mut tally = Tally {
            sent: 1,
            ..Tally::default()
        };
        let key = unique("key");
        let token = twin_ref.token(customer, "customer");
        let body = json!({"order_id": reference, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                          "description": "The serum bottle arrived cracked and leaking."});
        let answer = until_answered(&mut tally, || {
            http()
                .post(twin_ref.api("/cases"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
        })
        .await;
        match answer {
            Some((200 | 201, case)) => {
                let id = case["id"].as_str().unwrap().to_owned();
                (tally, customer.clone(), id)
            }
            other => panic!("opening a case for {customer}: {other:?}"),
        }
    })
    .buffer_unordered(8)
    .collect()
    .await;
    let mut cases = Tally::default();
    let mut case_ids: Vec<(String, String)> = Vec::new();
    for (tally, customer, id) in opened {
        cases.sent += tally.sent;
        cases.requests += tally.requests;
        cases.retried += tally.retried;
        case_ids.push((customer, id));
    }
    let mut complete = 0;
    let mut doubled_cases = 0;
    let agent = twin.token("agent-faults", "agent");
    let (_, queue) = get_json(&twin, "/queues/service?limit=100", &agent).await;
    let queued = queue.to_string();
    for (customer, id) in &case_ids {
        let (status, listing) = get_json(&twin, "/cases", &twin.token(customer, "customer")).await;
        assert_eq!(status, 200, "{listing}");
        let listed = listing["cases"].as_array().map_or(0, Vec::len);
        doubled_cases += listed.saturating_sub(1);
        let (status, case) = get_json(&twin, &format!("/cases/{id}"), &agent).await;
        let whole = status == 200
            && case["timeline"].as_array().is_some_and(|t| !t.is_empty())
            && case["sla"].is_object()
            && listed == 1
            && queued.contains(id.as_str());
        complete += usize::from(whole);
    }
    let opened = metrics_today(&twin).await["cases"]["opened"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(
        complete, CASES,
        "a case is missing a part (listing, queue, timeline, SLA)"
    );
    report.line(
        "cases",
        &cases,
        complete,
        doubled_cases + opened.saturating_sub(CASES),
        CASES - complete,
    );

    // 3. Refunds: resolved with a partial refund, approved by finance, each retried.
    let mut refunds = Tally::default();
    let finance = twin.token("finance-faults", "finance");
    let mut refund_ids = Vec::new();
    for (_, case) in case_ids.iter().take(REFUNDS) {
        refunds.sent += 1;
        let resolve = json!({"remedy": "partial_refund", "amount_minor": 5_000});
        let answer = until_answered(&mut refunds, || {
            http()
                .post(twin.api(&format!("/cases/{case}/resolve")))
                .bearer_auth(&agent)
                .json(&resolve)
        })
        .await;
        // A retry after a lost answer finds the case resolved already (409).
        assert!(
            matches!(answer, Some((200 | 409, _))),
            "resolve {case}: {answer:?}"
        );
        let (_, file) = get_json(&twin, &format!("/cases/{case}"), &agent).await;
        let refund = file["resolution"]["refund_id"]
            .as_str()
            .unwrap_or_else(|| panic!("case {case} resolved without its refund: {file}"))
            .to_owned();
        let answer = until_answered(&mut refunds, || {
            http()
                .post(twin.api(&format!("/refunds/{refund}/approve")))
                .bearer_auth(&finance)
                .json(&json!({}))
        })
        .await;
        assert!(
            matches!(answer, Some((200 | 409, _))),
            "approve {refund}: {answer:?}"
        );
        refund_ids.push(refund);
    }
    let (runs, failed) = fire_until(
        &twin,
        "RefundApprovalFunctionPayoutRelaySchedule",
        Utc::now(),
        |report| report["unsent"] == 0,
    )
    .await;
    let payouts = drain_queue(&twin, "RefundsApprovedQueue").await;
    let mut per_refund: HashMap<String, usize> = HashMap::new();
    for body in &payouts {
        let body: Value = serde_json::from_str(body).unwrap();
        *per_refund
            .entry(body["refund_id"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let mut approved_once = 0;
    let mut approvals_doubled = 0;
    for refund in &refund_ids {
        let (status, detail) = get_json(&twin, &format!("/refunds/{refund}"), &finance).await;
        assert_eq!(status, 200, "{detail}");
        let approvals = detail["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["action"] == "approved")
            .count();
        approvals_doubled += approvals.saturating_sub(1);
        if detail["status"] == "approved" && approvals == 1 && per_refund.get(refund) == Some(&1) {
            approved_once += 1;
        }
    }
    let payouts_doubled: usize = per_refund.values().map(|n| n.saturating_sub(1)).sum();
    report.line(
        "refunds (+ payout message)",
        &refunds,
        approved_once,
        approvals_doubled + payouts_doubled,
        REFUNDS - approved_once.min(REFUNDS),
    );
    report
        .lines
        .push(format!("  payout relay: {runs} runs, {failed} failed"));

    // 4. A backlog of late cases, swept until nothing is due.
    let long_ago = Utc::now() - chrono::Duration::days(3);
    let late: Vec<Case> = (0..LATE_CASES)
        .map(|i| {
            synthetic_case(
                &format!("late-{run}"),
                long_ago + chrono::Duration::seconds(i as i64),
            )
        })
        .collect();
    load_cases(&twin, &late).await;
    let (runs, failed) = fire_until(&twin, "SlaEscalationFunction", Utc::now(), |report| {
        report["due"] == 0
    })
    .await;
    let supervisor = twin.token("supervisor-faults", "supervisor");
    let mut escalated_once = 0;
    let mut steps_doubled = 0;
    for case in &late {
        let (status, file) = get_json(&twin, &format!("/cases/{}", case.id), &supervisor).await;
        assert_eq!(status, 200, "{file}");
        let mut steps: BTreeMap<String, usize> = BTreeMap::new();
        for entry in file["timeline"].as_array().unwrap() {
            let action = entry["action"].as_str().unwrap_or_default();
            if action.starts_with("sla_") {
                *steps.entry(action.to_owned()).or_default() += 1;
            }
        }
        // Two clocks, three stages each: at risk, breached, escalated.
        steps_doubled += steps.values().map(|n| n.saturating_sub(2)).sum::<usize>();
        let all_once = ["sla_at_risk", "sla_breached", "sla_escalated"]
            .iter()
            .all(|step| steps.get(*step) == Some(&2));
        if all_once && file["sla"]["escalation_level"] == 2 {
            escalated_once += 1;
        }
    }
    report.line(
        "escalations",
        &Tally {
            sent: LATE_CASES,
            requests: runs,
            retried: failed,
            duplicates_sent: 0,
        },
        escalated_once,
        steps_doubled,
        LATE_CASES - escalated_once.min(LATE_CASES),
    );

    // 5. A poison message among due surveys.
    let poison = format!("{{\"poison\": \"{run}\"");
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let surveys_queue = twin
        .twin
        .stack
        .queue("SurveysDueQueue")
        .unwrap()
        .url
        .clone();
    sqs.send_message()
        .queue_url(&surveys_queue)
        .message_body(&poison)
        .send()
        .await
        .unwrap();
    let surveyed: Vec<&(String, String)> = case_ids.iter().skip(REFUNDS).take(SURVEYS).collect();
    let mut surveys = Tally::default();
    for (_, case) in &surveyed {
        surveys.sent += 1;
        let answer = until_answered(&mut surveys, || {
            http()
                .post(twin.api(&format!("/cases/{case}/resolve")))
                .bearer_auth(&agent)
                .json(&json!({"remedy": "replacement"}))
        })
        .await;
        assert!(
            matches!(answer, Some((200 | 409, _))),
            "resolve {case}: {answer:?}"
        );
    }
    let (runs, failed) = fire_until(
        &twin,
        "SurveyDispatchFunction",
        Utc::now() + chrono::Duration::minutes(61),
        |report| report["due"] == 0,
    )
    .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let outcome = |case: String| {
        let dynamodb = dynamodb.clone();
        let table = twin.name_of("SurveysTable");
        async move {
            dynamodb
                .get_item()
                .table_name(table)
                .key("case_id", AttributeValue::S(case))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .and_then(|item| item.get("outcome").and_then(|v| v.as_s().ok()).cloned())
        }
    };
    // Woken by each dispatcher invocation, not by a timer.
    eventually(
        &twin,
        "SurveyDispatchFunction",
        "every good survey sent",
        Duration::from_secs(180),
        || async {
            let mut sent = 0;
            for (_, case) in &surveyed {
                sent += usize::from(outcome(case.clone()).await.as_deref() == Some("sent"));
            }
            (sent == SURVEYS).then_some(())
        },
    )
    .await;
    let sent = SURVEYS;
    let dead = dead_letters(&twin, "SurveysDueDLQ", Duration::from_secs(120), |bodies| {
        bodies.contains(&poison)
    })
    .await;
    let poison_in_dlq = dead.contains(&poison);
    let good_in_dlq = dead.iter().filter(|body| **body != poison).count();
    report.line("surveys (+ poison)", &surveys, sent, 0, SURVEYS - sent);
    report.lines.push(format!(
        "  survey sweep: {runs} runs, {failed} failed; poison message in the DLQ: {poison_in_dlq}; \
         other messages in the DLQ: {good_in_dlq}"
    ));

    let counts: FaultCounts = twin.twin.faults.as_ref().unwrap().counts();
    println!(
        "\nInjected faults ({:.0}% of AWS calls, {:.0}% during the storm, seed {SEED}), {:.0} s:",
        FAULT_SHARE * 100.0,
        STORM_SHARE * 100.0,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  AWS calls attempted {}  faulted {} (throttled {}, 500 {}, timed out {}, dropped {})  \
         succeeded {}",
        counts.attempted,
        counts.faulted(),
        counts.throttled,
        counts.server_errors,
        counts.timed_out,
        counts.dropped,
        counts.passed
    );
    for line in &report.lines {
        println!("  {line}");
    }
    println!("  duplicates {}  lost {}", report.doubled, report.lost);

    assert!(
        counts.faulted() * 100 >= counts.attempted * 15,
        "too few faults were injected to prove anything: {counts:?}"
    );
    assert!(poison_in_dlq, "the poison message did not reach the DLQ");
    assert_eq!(good_in_dlq, 0, "a good survey message ended in the DLQ");
    assert_eq!(
        (report.doubled, report.lost),
        (0, 0),
        "{}",
        report.lines.join("\n")
    );
}
