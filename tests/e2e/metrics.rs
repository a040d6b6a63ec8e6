//! Service metrics end to end: a synthetic burst of orders and cases through the real
//! binaries, then `GET /metrics` and the daily report in S3 checked figure by figure against
//! what was sent.
//!
//! The figures are global (every case and order of a day counts), so these tests run on a twin
//! of their own: the suite's twin is shared by tests opening cases at the same time.

use std::sync::OnceLock;

use aftercare_e2e::{
    SUITE_PARAMETERS, TestTwin, place_order_with, twin_options, unique, workspace,
};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{answer, http};

fn metrics_twin() -> &'static TestTwin {
    static TWIN: OnceLock<TestTwin> = OnceLock::new();
    TWIN.get_or_init(|| TestTwin::start(twin_options("debug", SUITE_PARAMETERS)))
}

/// The tests' turns on the twin: each checks the whole day's figures.
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// An order of `serum` SERUM-30 (batch S2409A) and `toner` TONER-200 placed now by
/// `customer`, as the generic webhook's `data`.
fn order_lines(serum: u32, toner: u32) -> impl FnOnce(&mut Value) {
    move |data: &mut Value| {
        let now = Utc::now().to_rfc3339();
        data["placed_at"] = Value::from(now.clone());
        data["updated_at"] = Value::from(now);
        data["lines"][0]["quantity"] = Value::from(serum);
        data["lines"][1]["quantity"] = Value::from(toner);
    }
}

/// Delivers a generic webhook payload as the storefront signs it; the receipt's status.
async fn deliver(twin: &TestTwin, payload: &Value) -> String {
    let body = serde_json::to_vec(payload).unwrap();
    let (status, receipt) = answer(
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
    assert_eq!(status, 200, "{receipt}");
    receipt["status"].as_str().unwrap().to_owned()
}

async fn open_case(
    twin: &TestTwin,
    customer: &str,
    order: &str,
    lines: Value,
    description: &str,
) -> Value {
    let (status, case) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(customer, "customer"))
            .json(&json!({"order_id": order, "lines": lines, "description": description}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    case
}

async fn act(twin: &TestTwin, case: &Value, action: &str, body: Value) -> Value {
    let id = case["id"].as_str().unwrap();
    let (status, changed) = answer(
        http()
            .post(twin.api(&format!("/cases/{id}/{action}")))
            .bearer_auth(twin.token("expert-1", "expert"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{action}: {changed}");
    changed
}

fn eligible(case: &Value, remedy: &str) -> bool {
    case["remedies"]["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["remedy"] == remedy)
}

async fn metrics(twin: &TestTwin, role: Option<&str>, query: &str) -> (u16, Value) {
    let mut request = http().get(twin.api(&format!("/metrics{query}")));
    if let Some(role) = role {
        request = request.bearer_auth(twin.token(&unique("staff"), role));
    }
    answer(request.send().await.unwrap()).await
}

/// Survey counters as the survey dispatcher writes them (series `surveys`, one day shard).
async fn record_surveys(twin: &TestTwin, day: NaiveDate, counts: &[(&str, i64)]) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let mut put = dynamodb
        .put_item()
        .table_name(twin.name_of("MetricsTable"))
        .item("series", AttributeValue::S("surveys".into()))
        .item("period", AttributeValue::S(format!("{day}#5")));
    for (name, n) in counts {
        put = put.item(*name, AttributeValue::N(n.to_string()));
    }
    put.send().await.unwrap();
}

async fn report_object(twin: &TestTwin, key: &str) -> (String, String) {
    let s3 = aws_sdk_s3::Client::new(&twin.aws().await);
    let object = s3
        .get_object()
        .bucket(twin.name_of("ReportsBucket"))
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let content_type = object.content_type().unwrap_or_default().to_owned();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    (content_type, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_burst_of_orders_and_cases_adds_up_in_get_metrics_and_in_the_daily_report() {
    let _turn = turn().await;
    let twin = metrics_twin();
    let today = Utc::now().date_naive();

    // Four orders at once: (SERUM-30, TONER-200) units.
    let units = [(3, 1), (1, 2), (2, 1), (4, 5)];
    let customers: Vec<String> = (0..units.len()).map(|_| unique("c")).collect();
    let order_ids: Vec<String> = (0..units.len()).map(|_| unique("o")).collect();
    let orders: Vec<String> = join_all(customers.iter().zip(&order_ids).zip(units).map(
        |((customer, order_id), (s, t))| {
            place_order_with(twin, customer, order_id, order_lines(s, t))
        },
    ))
    .await;
    // Placed again by the storefront: a redelivery of one event, and a later update of the
    // order. Neither counts again.
    let path = workspace().join("shared/tests/fixtures/webhooks/generic-order-upserted.json");
    let mut payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let order_id = unique("o");
    payload["event_id"] = Value::from(unique("event"));
    payload["data"]["order_id"] = Value::from(order_id.as_str());
    payload["data"]["customer_id"] = Value::from(unique("c"));
    order_lines(10, 10)(&mut payload["data"]);
    assert_eq!(deliver(twin, &payload).await, "applied");
    assert_eq!(deliver(twin, &payload).await, "duplicate");
    payload["event_id"] = Value::from(unique("event"));
    payload["data"]["updated_at"] = Value::from((Utc::now() + Duration::seconds(5)).to_rfc3339());
    payload["data"]["lines"][0]["quantity"] = Value::from(20);
    assert_eq!(deliver(twin, &payload).await, "applied");
    let (serum_sold, toner_sold) = (3 + 1 + 2 + 4 + 10, 1 + 2 + 1 + 5 + 10);

    // Four cases at once, one per order.
    let serum = |n: u32| json!({"sku": "SERUM-30", "quantity": n});
    let toner = |n: u32| json!({"sku": "TONER-200", "quantity": n});
    let opened = join_all(
        [
            (
                0,
                json!([serum(1)]),
                "the serum bottle arrived broken and leaking",
            ),
            (
                1,
                json!([serum(1), toner(1)]),
                "both bottles arrived broken and leaking",
            ),
            (2, json!([serum(1)]), "how long does this keep once opened?"),
            (
                3,
                json!([serum(1), toner(1)]),
                "my face got red and itchy after using the serum",
            ),
        ]
        .map(|(i, lines, text)| open_case(twin, &customers[i], &orders[i], lines, text)),
    )
    .await;
    let categories: Vec<&str> = opened
        .iter()
        .map(|c| c["classification"]["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        [
            "damaged_in_transit",
            "damaged_in_transit",
            "inquiry",
            "adverse_reaction"
        ]
    );
    assert!(eligible(&opened[0], "refund"), "{}", opened[0]);
    assert!(eligible(&opened[1], "replacement"), "{}", opened[1]);
    assert!(eligible(&opened[3], "expert_consultation"), "{}", opened[3]);

    // Worked at once: a refund, a replacement, a consultation, a reply to the question.
    join_all([
        act(twin, &opened[0], "resolve", json!({"remedy": "refund"})),
        act(
            twin,
            &opened[1],
            "resolve",
            json!({"remedy": "replacement"}),
        ),
        act(
            twin,
            &opened[2],
            "replies",
            json!({"message": "12 months once opened."}),
        ),
        act(
            twin,
            &opened[3],
            "resolve",
            json!({"remedy": "expert_consultation"}),
        ),
    ])
    .await;
    // Reopened and resolved again: still one resolved case, under its last remedy.
    act(
        twin,
        &opened[1],
        "reopen",
        json!({"reason": "the new bottle leaks too"}),
    )
    .await;
    act(
        twin,
        &opened[1],
        "resolve",
        json!({"remedy": "replacement"}),
    )
    .await;

    record_surveys(
        twin,
        today,
        &[
            ("sent", 5),
            ("opted_out", 1),
            ("answered", 4),
            ("satisfied", 3),
        ],
    )
    .await;

    let query = format!("?from={today}&to={today}");
    let (status, got) = metrics(twin, Some("supervisor"), &query).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["from"], today.to_string());
    assert_eq!(got["days"].as_array().unwrap().len(), 1);
    let day = &got["days"][0];
    assert_eq!(day["day"], today.to_string());
    let period = &got["period"];
    for key in period.as_object().unwrap().keys() {
        assert_eq!(
            day[key], period[key],
            "one day: the day is the period ({key})"
        );
    }
    let rate = |n: i64, d: i64| json!({"rate": if d == 0 { Value::Null } else { json!(((n as f64 / d as f64) * 10_000.0).round() / 10_000.0) }, "numerator": n, "denominator": d});
    assert_eq!(
        period["cases"],
        json!({
            "opened": 4, "complaints": 3, "resolved": 3,
            "resolved_with_refund": 1, "resolved_with_return": 1,
            "by_category": {
                "adverse_reaction": 1, "counterfeit_suspected": 0, "damaged_in_transit": 2,
                "expired_or_near_expiry": 0, "inquiry": 1, "missing_item": 0,
                "not_as_expected": 0, "quality_defect": 0, "wrong_item": 0
            }
        })
    );
    assert_eq!(period["orders"], 5);
    assert_eq!(period["units_sold"], serum_sold + toner_sold);
    assert_eq!(period["complaint_rate"], rate(3, 5));
    assert_eq!(
        period["surveys"],
        json!({"sent": 5, "opted_out": 1, "answered": 4, "satisfied": 3})
    );
    assert_eq!(period["satisfaction_rate"], rate(3, 4));
    assert_eq!(period["response_rate"], rate(4, 5));
    // Every case got its first answer within seconds; four resolutions were measured (the
    // reopened case's two included), each within its target.
    assert_eq!(
        period["first_response"],
        json!({"count": 4, "p50_minutes_at_most": 1, "p90_minutes_at_most": 1,
               "share_within_target": 1.0, "beyond_last_bucket": false, "within_target": 4})
    );
    assert_eq!(
        period["resolution"],
        json!({"count": 4, "p50_minutes_at_most": 1, "p90_minutes_at_most": 1,
               "share_within_target": 1.0, "beyond_last_bucket": false, "within_target": 4})
    );
    assert_eq!(
        period["skus"],
        json!([
            {"sku": "SERUM-30", "units_sold": serum_sold, "cases": 4, "refund_cases": 1,
             "return_cases": 1, "refund_rate": rate(1, serum_sold), "return_rate": rate(1, serum_sold)},
            {"sku": "TONER-200", "units_sold": toner_sold, "cases": 2, "refund_cases": 0,
             "return_cases": 1, "refund_rate": rate(0, toner_sold), "return_rate": rate(1, toner_sold)},
        ])
    );

    // The lifetime units of the batch the quality alerts read (TONER-200 lines have none).
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let batch = dynamodb
        .get_item()
        .table_name(twin.name_of("MetricsTable"))
        .key(
            "series",
            AttributeValue::S("units-sold#SERUM-30#S2409A".into()),
        )
        .key("period", AttributeValue::S("all".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        batch.item.unwrap()["units"],
        AttributeValue::N(serum_sold.to_string())
    );

    // The schedule at 00:15 the next day writes today's report; a second run the same.
    let next_run =
        Utc.from_utc_datetime(&(today + Duration::days(1)).and_hms_opt(0, 15, 0).unwrap());
    let written = twin
        .fire_schedule("DailyReportFunctionDailyReportSchedule", next_run)
        .await
        .unwrap();
    assert_eq!(
        written,
        json!({"day": today.to_string(),
               "json_key": format!("reports/daily/{today}.json"),
               "csv_key": format!("reports/daily/{today}.csv")})
    );
    let (json_type, report) = report_object(twin, &format!("reports/daily/{today}.json")).await;
    assert_eq!(json_type, "application/json");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report, got, "the report is GET /metrics of that day");
    let (csv_type, csv) = report_object(twin, &format!("reports/daily/{today}.csv")).await;
    assert_eq!(csv_type, "text/csv; charset=utf-8");
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(rows[0], "day,metric,subject,value,numerator,denominator");
    for row in [
        format!("{today},cases_opened,,4,,"),
        format!("{today},complaints,,3,,"),
        format!("{today},cases_resolved_with_refund,,1,,"),
        format!("{today},cases_by_category,damaged_in_transit,2,,"),
        format!("{today},orders,,5,,"),
        format!("{today},complaint_rate,,0.6,3,5"),
        format!("{today},satisfaction_rate,,0.75,3,4"),
        format!("{today},response_rate,,0.8,4,5"),
        format!("{today},first_response_p90_minutes_at_most,,1,,"),
        format!("{today},resolution_within_target,,1,4,4"),
        format!("{today},sku_units_sold,SERUM-30,{serum_sold},,"),
        format!(
            "{today},sku_refund_rate,SERUM-30,{},1,{serum_sold}",
            (10_000.0 / serum_sold as f64).round() / 10_000.0
        ),
        format!(
            "{today},sku_return_rate,TONER-200,{},1,{toner_sold}",
            (10_000.0 / toner_sold as f64).round() / 10_000.0
        ),
    ] {
        assert!(rows.contains(&row.as_str()), "{row} in\n{csv}");
    }
    twin.fire_schedule("DailyReportFunctionDailyReportSchedule", next_run)
        .await
        .unwrap();
    let (_, again) = report_object(twin, &format!("reports/daily/{today}.csv")).await;
    assert_eq!(again, csv, "a second run writes the same report");
}

#[tokio::test]
async fn only_supervisors_read_the_metrics_and_a_bad_period_is_refused() {
    let twin = metrics_twin();
    let (status, body) = metrics(twin, None, "?from=2026-11-01&to=2026-11-02").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    for role in ["agent", "expert", "finance", "customer"] {
        let (status, body) = metrics(twin, Some(role), "?from=2026-11-01&to=2026-11-02").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{role}"
        );
    }
    for query in [
        "",
        "?from=2026-11-01",
        "?from=2026-11-31&to=2026-12-01",
        "?from=2026-11-02&to=2026-11-01",
        "?from=2025-11-01&to=2026-11-02",
    ] {
        let (status, body) = metrics(twin, Some("supervisor"), query).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("validation_failed")),
            "{query}: {body}"
        );
    }
    // A year of days is fine, and days without activity have every rate null.
    let (status, body) = metrics(twin, Some("supervisor"), "?from=2001-01-01&to=2001-12-31").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["days"].as_array().unwrap().len(), 365);
    assert_eq!(body["period"]["complaint_rate"]["rate"], Value::Null);
}
