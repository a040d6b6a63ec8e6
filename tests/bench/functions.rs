//! `make bench`: figures for each function, printed as a table.
//!
//! - cold start: spawn of the release binary to its first call of the Runtime API's
//!   `/invocation/next`, median of 21 spawns, next to a hello-world `lambda_runtime` binary
//!   built with the same profile in the same run;
//! - release binary and zip size for arm64 (as deployed) and x86_64, from `cargo lambda build`;
//! - peak resident memory of one instance after 1,000 warm invocations with its sample events.
//!
//! - AWS calls per request of intake, counted by the SDK interceptor inside the real binary
//!   (`aws_calls` on each "answered" log line).
//! - a sweep of 1,000 due cases against moto: wall time, and the DynamoDB calls, writes and
//!   items read per escalated case, from the sweep's own reports.
//! - 50 refund approvals through the HTTP API: latency of the approve path (p50, p99) and the
//!   AWS calls per approval (target <= 2), from refund-approval's "answered" lines.
//!
//! - dispatch of 1,000 due surveys: the sweep and the dispatcher against moto (SES and
//!   DynamoDB), messages per second and AWS calls per survey (target <= 5, sweep included).
//!
//! - verification of a 5 MB JPEG by a fresh photo-upload instance against moto: wall time of
//!   the invocation and the instance's peak resident memory; and the scrubber alone in-process.
//!
//! Targets: init <= 2x hello-world, zip <= 4 MB, peak RSS <= 30 MB, <= 2 AWS calls per
//! `POST /cases` and per order webhook, <= 1 DynamoDB write per escalated case, <= 64 MB peak
//! memory verifying a 5 MB photo.

use std::path::Path;
use std::time::Duration;

use aftercare_e2e::{
    SUITE_PARAMETERS, TestTwin, answer, http, load_cases, place_order_on, sweep_until_drained,
    synthetic_case, twin_options, unique, workspace,
};
use aftercare_twin::lambda::{Bytes, Launcher, LogSink, Outcome};
use aftercare_twin::stack::FunctionSpec;
use serde_json::Value;

const SPAWNS: usize = 21;
const WARM_INVOCATIONS: usize = 1_000;
const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("intake", "IntakeFunction", "intake-"),
    ("photo-upload", "PhotoUploadFunction", "photo-upload-"),
    ("sla-escalation", "SlaEscalationFunction", "sla-escalation-"),
    (
        "refund-approval",
        "RefundApprovalFunction",
        "refund-approval-",
    ),
    (
        "survey-dispatch",
        "SurveyDispatchFunction",
        "survey-dispatch-",
    ),
    ("daily-report", "DailyReportFunction", "daily-report-"),
];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn cold_start(launcher: &Launcher) -> Duration {
    let mut samples = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        let instance = launcher
            .spawn()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", launcher.spec.binary));
        samples.push(instance.init_duration);
        instance.stop().await;
    }
    median(samples)
}

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn mib(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "n/a".into())
}

fn samples_for(prefix: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for entry in std::fs::read_dir(workspace().join("events"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".json") {
            events.push(
                serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap(),
            );
        }
    }
    events
}

/// CPU time of what intake decides for one 2,000-character complaint: classification, remedy
/// matching and the JSON of both (target <= 50 us). The median of 2,000 runs.
fn assessment_cost() -> Duration {
    use aftercare::assessment::assess;
    use aftercare::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use aftercare::classify::ComplaintContext;
    use aftercare::order::OrderFile;

    let sentence = "快递到的时候精华液瓶子漏了一半，盒子也压坏了。用了两天脸上有点红有点痒，the serum leaked and my skin feels itchy. ";
    let description: String = sentence.chars().cycle().take(2_000).collect();
    let order: aftercare::storefront::StoreOrder = serde_json::from_value(serde_json::json!({
        "platform": "generic", "store": "bench", "order_id": "1", "order_number": "1", "customer_id": "c",
        "customer_email": null, "customer_locale": "zh-CN", "currency": "CNY",
        "lines": [{"line_item_id": "1", "sku": "SERUM-30", "title": "Serum", "quantity": 2,
                   "unit_price_minor": 19900, "paid_minor": 39800, "batch": "S2409A"}],
        "placed_at": "2026-11-01T00:00:00Z", "source_updated_at": "2026-11-01T00:00:00Z",
        "delivered_at": "2026-11-03T00:00:00Z", "opened_exclusion_consented": false
    }))
    .unwrap();
    let file = OrderFile {
        reference: "generic:bench:1".into(),
        order: Some(order),
        deliveries: vec![],
        refunds: vec![],
    };
    let draft = CaseDraft::parse(NewCaseRequest {
        order_id: "generic:bench:1".into(),
        lines: vec![NewCaseLine {
            sku: "SERUM-30".into(),
            quantity: 1,
        }],
        description,
        opened: Some(true),
    })
    .unwrap();
    let products = Default::default();
    let now = chrono::Utc::now();
    let mut samples = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let started = std::time::Instant::now();
        let assessment =
            assess(&draft, &file, &products, &ComplaintContext::default(), now).unwrap();
        let json =
            serde_json::to_string(&(&assessment.classification, &assessment.remedies)).unwrap();
        std::hint::black_box(json);
        samples.push(started.elapsed());
    }
    median(samples)
}

/// Posts a generic webhook signed with the development secret; returns its `status`.
async fn post_generic(twin: &TestTwin, payload: &Value) -> String {
    let body = serde_json::to_vec(payload).unwrap();
    let (code, answer) = answer(
        http()
            .post(twin.api("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-aftercare-source", payload["source"].as_str().unwrap())
            .header(
                "x-aftercare-signature",
                aftercare::storefront::sign(b"dev-generic-secret", &body),
            )
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    answer["status"].as_str().unwrap_or_default().to_owned()
}

/// The AWS calls intake made per request, as its log reports them: one request of each kind,
/// through the HTTP API into the release binary. Returns (request, calls) in order.
async fn aws_calls_per_request(twin: &TestTwin) -> Vec<(String, u64)> {
    let answered_lines = |log: String| {
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["message"] == "answered")
            .count()
    };
    let before = answered_lines(twin.function_log("IntakeFunction"));
    let customer = unique("c");
    let order_id = unique("order");
    let order = place_order_on(twin, &customer, &order_id).await;
    let fixture = |name: &str| -> Value {
        let path = workspace().join(format!("shared/tests/fixtures/webhooks/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let mut delivered = fixture("generic-order-delivered");
    delivered["event_id"] = Value::from(unique("event"));
    delivered["data"]["order_id"] = Value::from(order_id.as_str());
    assert_eq!(post_generic(twin, &delivered).await, "applied");
    assert_eq!(post_generic(twin, &delivered).await, "duplicate");

    let token = twin.token(&customer, "customer");
    // The fixture's TONER-200 line names no batch; its SERUM-30 line names S2409A, whose
    // quality window an opening about it reads.
    let complaint = serde_json::json!({"order_id": order, "lines": [{"sku": "TONER-200", "quantity": 1}],
        "description": "快递到的时候爽肤水瓶子漏了 the toner leaked"});
    let with_batch = serde_json::json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
        "description": "快递到的时候精华液瓶子漏了 the serum leaked"});
    let mut case = String::new();
    for complaint in [&with_batch, &complaint, &complaint, &with_batch] {
        let (status, body) = answer(
            http()
                .post(twin.api("/cases"))
                .bearer_auth(&token)
                .json(complaint)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        case = body["id"].as_str().unwrap().to_owned();
    }
    let staff = twin.token("agent-1", "agent");
    let (status, _) = answer(
        http()
            .post(twin.api(&format!("/cases/{case}/replies")))
            .bearer_auth(&staff)
            .header("idempotency-key", unique("k"))
            .json(&serde_json::json!({"message": "We are on it."}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = answer(
        http()
            .get(twin.api(&format!("/cases/{case}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let mut returned = fixture("generic-return-requested");
    returned["event_id"] = Value::from(unique("event"));
    returned["data"]["order_id"] = Value::from(order_id.as_str());
    returned["data"]["lines"][0]["line_item_id"] = Value::from("4021987730011-1");
    assert_eq!(post_generic(twin, &returned).await, "applied");

    let names = [
        "webhook: order (new)",
        "webhook: delivery (new)",
        "webhook: delivery (duplicate)",
        "POST /cases (a line with a batch, product cache cold)",
        "POST /cases (product cache cold)",
        "POST /cases (product cache warm)",
        "POST /cases (a line with a batch: its window read; cache warm)",
        "POST /cases/{id}/replies (with Idempotency-Key)",
        "GET /cases/{id}",
        "webhook: return request (opens a case)",
    ];
    // The "answered" lines of these requests, the last of the intake log (the twin hands the
    // log file to the function, so each line is there before its answer).
    let answered: Vec<Value> = twin
        .function_log("IntakeFunction")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "answered")
        .collect();
    assert_eq!(
        answered.len(),
        before + names.len(),
        "the intake log has {} answered lines, expected {}",
        answered.len(),
        before + names.len()
    );
    let last = &answered[before..before + names.len()];
    names
        .iter()
        .zip(last)
        .map(|(name, line)| {
            (
                format!(
                    "{name} [{} {}]",
                    line["route"].as_str().unwrap_or("?"),
                    line["status"]
                ),
                line["aws_calls"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

/// Due cases of the sweep benchmark.
const SWEEP_BACKLOG: usize = 1_000;

/// Loads 1,000 cases opened on 2019-01-01 (long before any other case of the twin) and fires
/// the sweep at 2019-03-01, when every stage of both clocks has come, until a run finds
/// nothing due; prints what it cost. Pushes to `misses` when an escalated case took more than
/// one DynamoDB write.
async fn sla_sweep_backlog(twin: &TestTwin, misses: &mut Vec<String>) {
    use chrono::{TimeDelta, TimeZone, Utc};

    let opened = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap();
    let at = Utc.with_ymd_and_hms(2019, 3, 1, 0, 0, 0).unwrap();
    let cases: Vec<_> = (0..SWEEP_BACKLOG as i64)
        .map(|i| synthetic_case("bench-backlog", opened + TimeDelta::seconds(i)))
        .collect();
    let loading = std::time::Instant::now();
    load_cases(twin, &cases).await;
    let loading = loading.elapsed();
    let totals = sweep_until_drained(twin, at, 100).await;

    let escalated = totals.escalated.max(1) as f64;
    let per_case = |n: u64| n as f64 / escalated;
    let wall = totals.wall_time.as_secs_f64();
    println!(
        "\nSLA sweep of {SWEEP_BACKLOG} due cases (release binary, default batch size, against moto)\n"
    );
    println!(
        "{:<44} {:>12.1} s",
        "bulk load (BatchWriteItem)",
        loading.as_secs_f64()
    );
    println!("{:<44} {:>12}", "cases escalated", totals.escalated);
    println!(
        "{:<44} {:>12}",
        "runs (the last one finds nothing due)", totals.runs
    );
    println!(
        "{:<44} {:>12.1} s",
        "wall time, first fire to end of last run", wall
    );
    println!(
        "{:<44} {:>12.1}",
        "cases escalated per second",
        totals.escalated as f64 / wall
    );
    println!(
        "{:<44} {:>12.2}",
        "DynamoDB calls per escalated case",
        per_case(totals.dynamodb_calls)
    );
    println!(
        "{:<44} {:>12.2}",
        "DynamoDB writes per escalated case",
        per_case(totals.dynamodb_writes)
    );
    println!(
        "{:<44} {:>12.2}",
        "items read per escalated case",
        per_case(totals.items_read)
    );
    println!(
        "{:<44} {:>12}",
        "deferred / failed / conflicts",
        format!(
            "{} / {} / {}",
            totals.deferred, totals.failed, totals.conflicts
        )
    );
    if let Some(error) = &totals.error {
        misses.push(format!("SLA sweep: a run failed: {error}"));
    } else if !totals.drained {
        misses.push(format!(
            "SLA sweep: {SWEEP_BACKLOG} due cases not worked off in {} runs",
            totals.runs
        ));
    }
    if totals.escalated < SWEEP_BACKLOG as u64 {
        misses.push(format!(
            "SLA sweep: escalated {} of {SWEEP_BACKLOG} due cases",
            totals.escalated
        ));
    }
    if per_case(totals.dynamodb_writes) > 1.0 {
        misses.push(format!(
            "SLA sweep: {:.2} DynamoDB writes per escalated case (target <= 1)",
            per_case(totals.dynamodb_writes)
        ));
    }
}

/// Surveys the dispatch benchmark sends.
const SURVEY_BURST: usize = 1_000;

/// Seeds 1,000 due surveys (as a resolution schedules them) with their orders' e-mail
/// addresses, fires the survey sweep once, and waits until the dispatcher has settled every
/// one; prints messages per second and the AWS calls per survey, the sweep's share included,
/// from the sweep's report and the dispatcher's `survey batch` log lines. Pushes to `misses`
/// when a survey cost more than 5 calls.
async fn survey_dispatch_burst(twin: &TestTwin, misses: &mut Vec<String>) {
    use aws_sdk_dynamodb::types::AttributeValue;
    use futures_util::StreamExt;

    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let (surveys, orders) = (twin.name_of("SurveysTable"), twin.name_of("OrdersTable"));
    let now = chrono::Utc::now();
    let due_at = aftercare::clock::rfc3339(now - chrono::Duration::minutes(1));
    let seeding = std::time::Instant::now();
    futures_util::stream::iter(0..SURVEY_BURST)
        .for_each_concurrent(16, |i| {
            let (dynamodb, surveys, orders, due_at) = (&dynamodb, &surveys, &orders, &due_at);
            async move {
                let s = |v: &str| AttributeValue::S(v.to_owned());
                let case = aftercare::case::CaseId::from_instant(now);
                let order = format!("generic:bench-surveys:{i}");
                let snapshot = AttributeValue::M(
                    [
                        (
                            "customer_email".to_owned(),
                            s(&format!("bench-{i}@example.com")),
                        ),
                        (
                            "customer_locale".to_owned(),
                            s(if i % 2 == 0 { "zh-CN" } else { "en" }),
                        ),
                    ]
                    .into(),
                );
                dynamodb
                    .put_item()
                    .table_name(orders)
                    .item("order_id", s(&order))
                    .item("entry", s("order"))
                    .item("snapshot", snapshot)
                    .send()
                    .await
                    .expect("order");
                dynamodb
                    .put_item()
                    .table_name(surveys)
                    .item("case_id", s(&case.to_string()))
                    .item("customer_id", s(&format!("bench-survey-{i}")))
                    .item("order_reference", s(&order))
                    .item("resolved_by", s("agent:bench"))
                    .item("resolved_at", s(due_at))
                    .item("due_at", s(due_at))
                    .item("due_shard", s(&aftercare::store::due_shard(&case)))
                    .send()
                    .await
                    .expect("survey");
            }
        })
        .await;
    let seeding = seeding.elapsed();
    let log_before = twin.function_log("SurveyDispatchFunction").len();
    let started = std::time::Instant::now();
    let report = twin
        .fire_schedule("SurveyDispatchFunction", now)
        .await
        .expect("the survey sweep runs");
    let sweep_time = started.elapsed();
    let batches = |log: &str| -> (usize, u64) {
        let mut settled = 0;
        let mut calls = 0;
        for line in log.lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            match entry["message"].as_str() {
                Some("survey message done") => settled += 1,
                Some("survey batch") => calls += entry["aws_calls"].as_u64().unwrap_or(0),
                _ => {}
            }
        }
        (settled, calls)
    };
    let (settled, dispatch_calls) = aftercare_e2e::eventually(
        twin,
        "SurveyDispatchFunction",
        "every due survey dispatched",
        Duration::from_secs(900),
        || async {
            let log = twin.function_log("SurveyDispatchFunction");
            let (settled, calls) = batches(&log[log_before.min(log.len())..]);
            (settled >= SURVEY_BURST).then_some((settled, calls))
        },
    )
    .await;
    let wall = started.elapsed().as_secs_f64();
    let sweep_calls = report["aws_calls"].as_u64().unwrap_or(0);
    let per_survey = (sweep_calls + dispatch_calls) as f64 / SURVEY_BURST as f64;
    println!(
        "
Dispatch of {SURVEY_BURST} due surveys (release binary, SES and DynamoDB of moto)
"
    );
    println!(
        "{:<44} {:>12.1} s",
        "seeding (orders and surveys, PutItem)",
        seeding.as_secs_f64()
    );
    println!(
        "{:<44} {:>12.1} s",
        "sweep run (query, queue, unindex)",
        sweep_time.as_secs_f64()
    );
    println!(
        "{:<44} {:>12}",
        "surveys queued by the sweep", report["queued"]
    );
    println!("{:<44} {:>12}", "messages settled", settled);
    println!(
        "{:<44} {:>12.1} s",
        "wall time, sweep fired to last settled", wall
    );
    println!(
        "{:<44} {:>12.1}",
        "messages per second",
        settled as f64 / wall
    );
    println!(
        "{:<44} {:>12.2}",
        "AWS calls per survey (sweep's share incl.)", per_survey
    );
    println!(
        "{:<44} {:>12.2}",
        "of which the sweep's",
        sweep_calls as f64 / SURVEY_BURST as f64
    );
    if per_survey > 5.0 {
        misses.push(format!(
            "survey dispatch: {per_survey:.2} AWS calls per survey (target <= 5)"
        ));
    }
}

/// Refunds the approval benchmark approves.
const APPROVALS: usize = 50;

/// Approves 50 pending refunds one after the other through the HTTP API of the release twin
/// and prints the latency of the approve path (client side, p50 and p99) and the AWS calls
/// each approval made, as the binary's SDK interceptor counted them (`aws_calls` on its
/// "answered" lines); then one run of the payout relay for them. The refunds are written
/// straight into the table as a case resolution opens them (the approval reads the refund
/// alone). Pushes to `misses` when an approval took more than 2 AWS calls.
async fn refund_approvals(twin: &TestTwin, misses: &mut Vec<String>) {
    use aftercare::auth::Role;
    use aftercare::case::CaseId;
    use aftercare::complaint::Category;
    use aftercare::money::Currency;
    use aftercare::order::OrderFile;
    use aftercare::refund::{Actor, Evidence, Refund, RefundDraft, RefundLine, RefundPolicy};
    use aftercare::store::{DynamoRefundStore, RefundStore};

    let store = DynamoRefundStore::new(
        aws_sdk_dynamodb::Client::new(&twin.aws().await),
        twin.name_of("RefundsTable"),
    );
    let policy = RefundPolicy::default();
    let mut ids = Vec::with_capacity(APPROVALS);
    for _ in 0..APPROVALS {
        let order_id = unique("bench-order");
        let customer = unique("bench-c");
        let order = OrderFile {
            reference: format!("generic:bench:{order_id}"),
            order: Some(
                serde_json::from_value(serde_json::json!({
                    "platform": "generic", "store": "bench", "order_id": order_id,
                    "order_number": null, "customer_id": customer, "customer_email": null,
                    "customer_locale": null, "currency": "CNY",
                    "lines": [{"line_item_id": "1", "sku": "SERUM-30", "title": "Serum",
                        "quantity": 1, "unit_price_minor": 17900, "paid_minor": 17900,
                        "batch": null}],
                    "placed_at": "2026-11-05T02:00:00Z",
                    "source_updated_at": "2026-11-05T02:00:00Z",
                    "delivered_at": null, "opened_exclusion_consented": false
                }))
                .expect("an order"),
            ),
            deliveries: vec![],
            refunds: vec![],
        };
        let draft = RefundDraft {
            case_id: CaseId::new(),
            customer_id: customer,
            lines: vec![RefundLine {
                line_item_id: "1".into(),
                quantity: None,
            }],
            amount_minor: 15_000,
            currency: Currency::parse("CNY").unwrap(),
            reason: "The serum bottle arrived broken.".into(),
            // No photo attached: the policy leaves it to finance.
            evidence: Evidence {
                category: Category::DamagedInTransit,
                photo_required: true,
                photos_attached: 0,
            },
            requested_by: Actor::staff("bench-agent", Role::Agent),
        };
        let now = chrono::Utc::now();
        let refund = Refund::request(draft, &order, &[], &policy, now)
            .expect("a valid request")
            .refund
            .screen(&policy, &[], now)
            .expect("screened")
            .refund;
        store.open_refund(&refund).await.expect("the refund stored");
        ids.push(refund.id().to_string());
    }

    let token = twin.token("bench-finance", "finance");
    let mut latencies = Vec::with_capacity(APPROVALS);
    for id in &ids {
        let started = std::time::Instant::now();
        let (status, body) = answer(
            http()
                .post(twin.api(&format!("/refunds/{id}/approve")))
                .bearer_auth(&token)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "{body}");
    }
    latencies.sort();
    let percentile = |p: f64| {
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1000.0
    };
    // The approvals' "answered" lines (the twin hands the log file to the function, so each
    // line is there before its answer).
    let calls: Vec<u64> = twin
        .function_log("RefundApprovalFunction")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["message"] == "answered"
                && line["route"] == "POST /refunds/{id}/approve"
                && ids.iter().any(|id| line.to_string().contains(id.as_str()))
        })
        .map(|line| line["aws_calls"].as_u64().unwrap_or(u64::MAX))
        .collect();
    let relay = twin
        .fire_schedule(
            "RefundApprovalFunctionPayoutRelaySchedule",
            chrono::Utc::now(),
        )
        .await;

    println!(
        "\nRefund approval: {APPROVALS} approvals through the HTTP API (release binary, against moto)\n"
    );
    println!(
        "{:<44} {:>12.1} ms",
        "approve p50 (client side)",
        percentile(0.50)
    );
    println!(
        "{:<44} {:>12.1} ms",
        "approve p99 (client side)",
        percentile(0.99)
    );
    println!(
        "{:<44} {:>12}",
        "AWS calls per approval (min / max)",
        format!(
            "{} / {}",
            calls.iter().min().copied().unwrap_or_default(),
            calls.iter().max().copied().unwrap_or_default()
        )
    );
    match &relay {
        Ok(report) => {
            let sent = report["sent"].as_u64().unwrap_or_default();
            println!("{:<44} {:>12}", "payouts sent by one relay run", sent);
            println!(
                "{:<44} {:>12.2}",
                "AWS calls per payout sent",
                report["aws_calls"].as_u64().unwrap_or_default() as f64 / sent.max(1) as f64
            );
        }
        Err(error) => misses.push(format!("payout relay: the run failed: {error}")),
    }
    if calls.len() != APPROVALS {
        misses.push(format!(
            "refund approval: {} of {APPROVALS} approvals logged their AWS calls",
            calls.len()
        ));
    }
    if let Some(worst) = calls.iter().max().filter(|n| **n > 2) {
        misses.push(format!(
            "refund approval: {worst} AWS calls per approval (target <= 2)"
        ));
    }
}

/// A 5 MB JPEG with GPS tags, verified by a fresh release instance of the photo function (not
/// the twin's: the bucket notification must not race it). The object is put before its case
/// exists, so the twin's own notification finds no case and ignores it; then the case is
/// written with the upload's slot, and the instance is invoked with the notification.
async fn photo_verification(
    twin: &TestTwin,
    release: &Path,
    endpoint: &str,
    logs: &LogSink,
    misses: &mut Vec<String>,
) {
    use aftercare::evidence::{PendingPhoto, PhotoId, upload_key};
    use aftercare::photo::{PhotoFormat, PhotoScrubber, samples};

    const TARGET_BYTES: usize = 5 * 1000 * 1000;
    let photo = samples::jpeg_of_size(TARGET_BYTES);

    let scrubbing = std::time::Instant::now();
    let mut scrubber = PhotoScrubber::new(
        PhotoFormat::Jpeg,
        photo.len() as u64,
        std::io::Cursor::new(Vec::with_capacity(photo.len())),
    );
    for chunk in photo.chunks(64 * 1024) {
        scrubber.push(chunk).expect("the sample is a photo");
    }
    let (inspected, _) = scrubber.finish().expect("the sample is a photo");
    let scrubbing = scrubbing.elapsed();

    let now = chrono::Utc::now();
    let mut case = synthetic_case(&unique("bench-photo"), now);
    let pending = PendingPhoto {
        id: PhotoId::from_instant(now),
        format: PhotoFormat::Jpeg,
        content_length: photo.len() as u64,
        requested_by: format!("customer:{}", case.customer_id),
        requested_at: now,
        url_expires_at: now + chrono::Duration::minutes(5),
    };
    let key = upload_key(&case.id, &pending.id);
    let s3 = aws_sdk_s3::Client::new(&twin.aws().await);
    s3.put_object()
        .bucket(twin.name_of("PhotoBucket"))
        .key(&key)
        .content_type("image/jpeg")
        .body(photo.clone().into())
        .send()
        .await
        .expect("put the upload");
    let case_id = case.id.to_string();
    aftercare_e2e::eventually(
        twin,
        "PhotoUploadFunction",
        "the twin ignoring the early upload",
        Duration::from_secs(60),
        || async {
            twin.function_log("PhotoUploadFunction")
                .lines()
                .any(|l| l.contains(&case_id) && l.contains("upload for an unknown case ignored"))
                .then_some(())
        },
    )
    .await;
    case.photos.pending.push(pending);
    load_cases(twin, std::slice::from_ref(&case)).await;

    let spec = twin
        .twin
        .stack
        .function("PhotoUploadFunction")
        .expect("function in template")
        .clone();
    let mut instance = Launcher::new(spec, release, endpoint, logs.clone())
        .spawn()
        .await
        .unwrap();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("events/photo-upload-s3-created.json")).unwrap(),
    )
    .unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = Value::from(twin.name_of("PhotoBucket"));
    event["Records"][0]["s3"]["object"]["key"] = Value::from(key.replace('/', "%2F"));
    let idle_kib = instance.peak_rss_kib();
    let started = std::time::Instant::now();
    let outcome = instance
        .invoke(Bytes::from(event.to_string()), Duration::from_secs(60))
        .await
        .expect("the verification ran");
    let wall = started.elapsed();
    let peak_kib = instance.peak_rss_kib();
    instance.stop().await;
    let attached = matches!(&outcome, Outcome::Response(body) if String::from_utf8_lossy(body).contains("\"attached\":1"));

    println!(
        "\nPhoto verification of a {:.1} MB JPEG with GPS tags\n",
        photo.len() as f64 / 1e6
    );
    println!(
        "{:<44} {:>12.1} ms ({:.0} MB/s)",
        "scrubber alone, in-process, 64 KiB chunks",
        scrubbing.as_secs_f64() * 1000.0,
        photo.len() as f64 / 1e6 / scrubbing.as_secs_f64()
    );
    println!(
        "{:<44} {:>12}",
        "metadata removed",
        format!("{:?}", inspected.metadata_removed)
    );
    println!(
        "{:<44} {:>12.1} ms",
        "release function, S3 read + scrub + evidence write + case write",
        wall.as_secs_f64() * 1000.0
    );
    let mib = |k: Option<u64>| {
        k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "{:<44} {:>12}",
        "peak RSS of the instance before",
        mib(idle_kib)
    );
    println!(
        "{:<44} {:>12}",
        "peak RSS of the instance after",
        mib(peak_kib)
    );
    if !attached {
        misses.push(format!(
            "photo verification: the 5 MB photo was not attached: {outcome:?}"
        ));
    }
    if peak_kib.is_some_and(|k| k > 64 * 1024) {
        misses.push(format!(
            "photo verification: peak RSS {} (target <= 64 MB)",
            mib(peak_kib)
        ));
    }
}

fn main() {
    let assessment = assessment_cost();
    println!(
        "\nassessment of a 2,000-character complaint (classify + remedies + JSON): {:.1} us (target <= 50 us)",
        assessment.as_secs_f64() * 1e6
    );
    let twin = TestTwin::start(twin_options("release", SUITE_PARAMETERS));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let release = aftercare_e2e::bin_dir("release");
        let logs = LogSink::Directory(twin.log_dir.clone());
        let endpoint = twin.twin.moto_endpoint.clone();
        let hello_spec = FunctionSpec {
            logical: "HelloWorld".into(),
            name: "hello-lambda".into(),
            binary: "hello-lambda".into(),
            environment: Default::default(),
            timeout_secs: 3,
            memory_mb: 128,
            log_level: "INFO".into(),
        };
        let hello = cold_start(&Launcher::new(hello_spec, &release, &endpoint, logs.clone())).await;

        println!("\nAftercare functions (release profile; cold start and memory on this host's architecture)\n");
        println!(
            "{:<16} {:>10} {:>9} {:>12} {:>10} {:>12} {:>10} {:>16}",
            "function", "init p50", "x hello", "bin arm64", "zip arm64", "bin x86_64", "zip x86_64", "peak RSS @1000"
        );
        println!("{:<16} {:>10}", "hello-lambda", format!("{:.2} ms", hello.as_secs_f64() * 1000.0));
        let mut misses = Vec::new();
        for (binary, logical, prefix) in FUNCTIONS {
            let spec = twin.twin.stack.function(logical).expect("function in template").clone();
            let launcher = Launcher::new(spec, &release, &endpoint, logs.clone());
            let init = cold_start(&launcher).await;
            let ratio = init.as_secs_f64() / hello.as_secs_f64();

            let events = samples_for(prefix);
            let mut instance = launcher.spawn().await.unwrap();
            for i in 0..WARM_INVOCATIONS {
                let event = &events[i % events.len()];
                match instance.invoke(Bytes::from(event.to_string()), Duration::from_secs(30)).await {
                    Ok(Outcome::Response(_)) => {}
                    // A function may refuse a sample by design (a foreign trigger); it still ran.
                    Ok(Outcome::FunctionError(_)) => {}
                    Err(e) => panic!("{binary}: invocation {i} failed: {e}"),
                }
            }
            let rss_kib = instance.peak_rss_kib();
            instance.stop().await;

            let lambda = aftercare_e2e::target_dir().join("lambda");
            let bin_arm = size(&lambda.join("arm64").join(binary).join("bootstrap"));
            let zip_arm = size(&lambda.join("arm64-zip").join(binary).join("bootstrap.zip"));
            let bin_x86 = size(&lambda.join("x86_64").join(binary).join("bootstrap"));
            let zip_x86 = size(&lambda.join("x86_64-zip").join(binary).join("bootstrap.zip"));
            println!(
                "{:<16} {:>10} {:>9} {:>12} {:>10} {:>12} {:>10} {:>16}",
                binary,
                format!("{:.2} ms", init.as_secs_f64() * 1000.0),
                format!("{ratio:.2}x"),
                mib(bin_arm),
                mib(zip_arm),
                mib(bin_x86),
                mib(zip_x86),
                rss_kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into()),
            );
            if ratio > 2.0 {
                misses.push(format!("{binary}: init {ratio:.2}x hello-world (target <= 2x)"));
            }
            for (arch, zip) in [("arm64", zip_arm), ("x86_64", zip_x86)] {
                match zip {
                    Some(bytes) if bytes > 4 * 1024 * 1024 => misses.push(format!("{binary}: {arch} zip {} (target <= 4 MB)", mib(zip))),
                    None => misses.push(format!("{binary}: no {arch} zip (run `make bench`, which builds it)")),
                    _ => {}
                }
            }
            if rss_kib.is_some_and(|k| k > 30 * 1024) {
                misses.push(format!("{binary}: peak RSS over 30 MB"));
            }
        }
        println!("\nAWS calls per intake request (SDK interceptor in the release binary)\n");
        for (request, calls) in aws_calls_per_request(&twin).await {
            println!("{request:<72} {calls:>3}");
            let counted = request.starts_with("POST /cases (product cache warm)")
                || request.starts_with("webhook: order")
                || request.starts_with("webhook: delivery");
            if counted && calls > 2 {
                misses.push(format!("{request}: {calls} AWS calls (target <= 2)"));
            }
        }
        sla_sweep_backlog(&twin, &mut misses).await;
        refund_approvals(&twin, &mut misses).await;
        survey_dispatch_burst(&twin, &mut misses).await;
        photo_verification(&twin, &release, &endpoint, &logs, &mut misses).await;
        println!("\ntargets: init <= 2x hello-world, zip <= 4 MB, peak RSS <= 30 MB, <= 2 AWS calls per POST /cases and order webhook, <= 1 DynamoDB write per escalated case, <= 64 MB verifying a 5 MB photo");
        if misses.is_empty() {
            println!("all targets met");
        } else {
            println!("targets missed:");
            for miss in misses {
                println!("  - {miss}");
            }
        }
    });
}
