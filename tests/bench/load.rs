//! `make load`: a Singles' Day surge against the local twin running the release binaries.
//!
//! A burst of order webhooks (5,000 by default, `LOAD_ORDERS`), then of cases (1,000,
//! `LOAD_CASES`), a tenth of each delivered twice (the same webhook body; the same
//! `Idempotency-Key`), `LOAD_CONCURRENCY` requests in flight (default 32), while the SLA and
//! survey sweeps run back to back. It prints throughput, p50/p99 latency and errors per
//! burst, then checks the final counts against what was sent: every order stored and counted
//! once (orders, units sold), every case opened once and a duplicate answered with the same
//! case. Beside it, the emulator's own ceiling measured in the same run: raw PutItem calls to
//! moto at the same concurrency, so the ratio shows how much of the limit is the emulator's.
//! Figures, not assertions of speed; a lost or doubled order or case fails the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aftercare_e2e::{
    DEV_GENERIC_SECRET, GENERIC_SOURCE, SUITE_PARAMETERS, TestTwin, generic_order_webhook,
    twin_options, unique,
};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::{Value, json};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(default)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

/// What one burst measured.
struct Burst {
    what: &'static str,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

impl Burst {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted
            .get(rank - 1)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        println!(
            "{:<34} {:>6} requests in {:>6.1} s  {:>7.1} /s  p50 {:>7.1} ms  p99 {:>7.1} ms  errors {}",
            self.what,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.errors
        );
    }
}

/// Reorders `items` the same way every run (a fixed-multiplier hash, no randomness).
fn interleave<T>(items: &mut [T]) {
    let len = items.len();
    for i in (1..len).rev() {
        let j = (i.wrapping_mul(2_654_435_761) ^ (i >> 3)) % (i + 1);
        items.swap(i, j);
    }
}

/// Order `n` of the run, placed now (so it counts in today's metrics): its customer and body.
fn order_webhook(run: &str, n: usize) -> (String, Vec<u8>) {
    let customer = format!("load-{run}-{n}");
    let now = Utc::now().to_rfc3339();
    let (_, body) = generic_order_webhook(&customer, &format!("{run}-{n}"), |data| {
        data["placed_at"] = json!(now);
        data["updated_at"] = json!(now);
    });
    (customer, body)
}

/// A status and JSON body; `None` when the request got no answer at all.
type Answer = Option<(u16, Value)>;

/// Sends every request, `concurrency` at a time; the answer of each, in order.
async fn burst(
    what: &'static str,
    concurrency: usize,
    requests: Vec<reqwest::RequestBuilder>,
) -> (Burst, Vec<Answer>) {
    let started = Instant::now();
    let total = requests.len();
    let mut answered: Vec<(usize, Duration, Answer)> =
        futures_util::stream::iter(requests.into_iter().enumerate())
            .map(|(i, request)| async move {
                let sent = Instant::now();
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
                    }
                    Err(_) => None,
                };
                (i, sent.elapsed(), answer)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let elapsed = started.elapsed();
    answered.sort_by_key(|(i, _, _)| *i);
    let errors = answered
        .iter()
        .filter(|(_, _, answer)| !matches!(answer, Some((status, _)) if *status < 300))
        .count();
    let latencies = answered.iter().map(|(_, latency, _)| *latency).collect();
    let answers = answered.into_iter().map(|(_, _, answer)| answer).collect();
    (
        Burst {
            what,
            requests: total,
            elapsed,
            latencies,
            errors,
        },
        answers,
    )
}

/// Raw PutItem calls straight to moto at `concurrency`: the emulator's ceiling in this run.
async fn put_item_ceiling(twin: &TestTwin, run: &str, calls: usize, concurrency: usize) -> Burst {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let table = twin.name_of("IdempotencyTable");
    let key = key_attribute(twin, "IdempotencyTable").await;
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = futures_util::stream::iter(0..calls)
        .map(|n| {
            let (dynamodb, table, key) = (dynamodb.clone(), table.clone(), key.clone());
            async move {
                let sent = Instant::now();
                let ok = dynamodb
                    .put_item()
                    .table_name(table)
                    .item(key, AttributeValue::S(format!("ceiling-{run}-{n}")))
                    .item("note", AttributeValue::S("emulator ceiling".into()))
                    .send()
                    .await
                    .is_ok();
                (sent.elapsed(), ok)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    Burst {
        what: "raw PutItem to moto (ceiling)",
        requests: calls,
        elapsed: started.elapsed(),
        errors: results.iter().filter(|(_, ok)| !ok).count(),
        latencies: results.into_iter().map(|(latency, _)| latency).collect(),
    }
}

/// The partition key's name of a table (the ceiling writes to a table with a single key).
async fn key_attribute(twin: &TestTwin, logical: &str) -> String {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let table = dynamodb
        .describe_table()
        .table_name(twin.name_of(logical))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let schema = table.key_schema();
    assert_eq!(schema.len(), 1, "{logical} has a sort key");
    schema[0].attribute_name().to_owned()
}

/// Fires the SLA and survey sweeps one run after the other until `stop` (each run takes what
/// the work takes; no timer paces them): how many ran and failed.
fn run_sweeps(
    twin: Arc<TestTwin>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    tokio::spawn(async move {
        let (mut runs, mut failed) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            for schedule in ["SlaEscalationFunction", "SurveyDispatchFunction"] {
                runs += 1;
                failed += usize::from(twin.fire_schedule(schedule, Utc::now()).await.is_err());
            }
        }
        (runs, failed)
    })
}

async fn metrics_today(twin: &TestTwin) -> Value {
    let today = Utc::now().date_naive();
    let response = http()
        .get(twin.api(&format!("/metrics?from={today}&to={today}")))
        .bearer_auth(twin.token("supervisor-load", "supervisor"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["period"].clone()
}

fn main() {
    let orders = setting("LOAD_ORDERS", 5_000);
    let cases = setting("LOAD_CASES", 1_000).min(orders);
    let concurrency = setting("LOAD_CONCURRENCY", 32);
    let mut options = twin_options("release", SUITE_PARAMETERS);
    // Lambda scales out per concurrent request; the twin caps instances per function.
    options.max_concurrency = concurrency;
    let twin = Arc::new(TestTwin::start(options));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let run = unique("surge");
        let client = http();
        let stop = Arc::new(AtomicBool::new(false));
        let sweeps = run_sweeps(twin.clone(), stop.clone());

        // Order webhooks: every order once, a tenth again, interleaved.
        let webhooks: Vec<(String, Vec<u8>)> = (0..orders).map(|n| order_webhook(&run, n)).collect();
        let mut deliveries: Vec<usize> = (0..orders).chain((0..orders).step_by(10)).collect();
        interleave(&mut deliveries);
        let requests = deliveries
            .iter()
            .map(|&n| {
                let body = webhooks[n].1.clone();
                client
                    .post(twin.api("/webhooks/generic"))
                    .header("content-type", "application/json")
                    .header("x-aftercare-source", GENERIC_SOURCE)
                    .header(
                        "x-aftercare-signature",
                        aftercare::storefront::sign(DEV_GENERIC_SECRET, &body),
                    )
                    .body(body)
            })
            .collect();
        let (order_burst, _) = burst("order webhooks (10% duplicates)", concurrency, requests).await;

        // Cases on the first orders: every case once, a tenth submitted again with its key.
        let keys: Vec<String> = (0..cases).map(|n| format!("{run}-key-{n}")).collect();
        let mut submissions: Vec<usize> = (0..cases).chain((0..cases).step_by(10)).collect();
        interleave(&mut submissions);
        let requests = submissions
            .iter()
            .map(|&n| {
                let customer = &webhooks[n].0;
                client
                    .post(twin.api("/cases"))
                    .bearer_auth(twin.token(customer, "customer"))
                    .header("Idempotency-Key", &keys[n])
                    .json(&json!({
                        "order_id": format!("generic:{GENERIC_SOURCE}:{run}-{n}"),
                        "lines": [{"sku": "SERUM-30", "quantity": 1}],
                        "description": "双十一买的精华液瓶子漏了 / the serum bottle leaked",
                    }))
            })
            .collect();
        let (case_burst, answers) = burst("cases (10% resubmitted)", concurrency, requests).await;

        stop.store(true, Ordering::Relaxed);
        let (sweep_runs, sweep_failures) = sweeps.await.unwrap();
        let ceiling = put_item_ceiling(&twin, &run, 2_000, concurrency).await;

        // Final counts against what was sent.
        let mut case_of: Vec<Option<String>> = vec![None; cases];
        let mut answered_differently = 0;
        for (&n, answer) in submissions.iter().zip(&answers) {
            let id = answer
                .as_ref()
                .and_then(|(_, body)| body["id"].as_str())
                .map(str::to_owned);
            match (&case_of[n], id) {
                (None, id) => case_of[n] = id,
                (Some(first), Some(id)) if *first != id => answered_differently += 1,
                _ => {}
            }
        }
        let figures = metrics_today(&twin).await;
        let counted_orders = figures["orders"].as_u64().unwrap_or_default() as usize;
        let units = figures["units_sold"].as_u64().unwrap_or_default() as usize;
        let opened = figures["cases"]["opened"].as_u64().unwrap_or_default() as usize;
        let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
        let stored = AtomicUsize::new(0);
        futures_util::stream::iter(0..orders)
            .for_each_concurrent(concurrency, |n| {
                let (dynamodb, stored, run) = (dynamodb.clone(), &stored, &run);
                let table = twin.name_of("OrdersTable");
                async move {
                    let item = dynamodb
                        .get_item()
                        .table_name(table)
                        .key("order_id", AttributeValue::S(format!("generic:{GENERIC_SOURCE}:{run}-{n}")))
                        .key("entry", AttributeValue::S("order".into()))
                        .send()
                        .await
                        .unwrap()
                        .item;
                    stored.fetch_add(usize::from(item.is_some()), Ordering::Relaxed);
                }
            })
            .await;
        let stored = stored.into_inner();

        println!(
            "\nSingles' Day surge: {orders} orders, {cases} cases, {concurrency} in flight, release binaries against moto, sweeps back to back\n"
        );
        order_burst.print();
        case_burst.print();
        ceiling.print();
        println!(
            "{:<34} orders {:.2}, cases {:.2} of the raw PutItem rate",
            "ratio to the emulator's ceiling",
            order_burst.rate() / ceiling.rate(),
            case_burst.rate() / ceiling.rate()
        );
        println!("{:<34} {sweep_runs} runs, {sweep_failures} failed", "sweeps during the surge");
        println!(
            "{:<34} orders sent {orders}, stored {stored}, counted {counted_orders}, units {units} (3 per order)",
            "final counts"
        );
        println!(
            "{:<34} cases sent {cases}, opened {opened}, distinct ids {}, duplicates answered with another case {answered_differently}",
            "",
            case_of.iter().flatten().collect::<std::collections::BTreeSet<_>>().len()
        );
        let lost_or_doubled = stored != orders
            || counted_orders != orders
            || units != 3 * orders
            || opened != cases
            || answered_differently != 0
            || case_of.iter().any(Option::is_none);
        if lost_or_doubled {
            eprintln!("\nthe surge lost or doubled something: see the counts above");
            std::process::exit(1);
        }
    });
}
