//! Helpers of the end-to-end suite and the benchmarks: one local twin per test binary
//! (moto_server, the template's resources, the real function binaries), shared by every test.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aftercare::assessment::Assessment;
use aftercare::case::{Case, CaseDraft, NewCaseLine, NewCaseRequest};
use aftercare::sla::SlaPolicy;
use aftercare_twin::lambda::LogSink;
use aftercare_twin::{Twin, TwinOptions};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures_util::StreamExt;
use serde_json::Value;

/// The repository root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// Where cargo builds (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// Where cargo put the binaries of `profile` (`debug` or `release`).
pub fn bin_dir(profile: &str) -> PathBuf {
    target_dir().join(profile)
}

/// The Python with moto installed (`make setup` creates `.venv`).
pub fn python() -> PathBuf {
    std::env::var_os("TWIN_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"))
}

/// Options for a twin on free ports, its function logs under `.local/logs/<run>`.
pub fn twin_options(profile: &str, overrides: &[(&str, &str)]) -> TwinOptions {
    let bins = bin_dir(profile);
    for binary in [
        "intake",
        "photo-upload",
        "sla-escalation",
        "refund-approval",
        "survey-dispatch",
        "daily-report",
    ] {
        assert!(
            bins.join(binary).exists(),
            "{} is missing: build the functions first (`cargo build --workspace --bins`, which `make test` does)",
            bins.join(binary).display()
        );
    }
    let logs = workspace()
        .join(".local/logs")
        .join(ulid::Ulid::new().to_string());
    std::fs::create_dir_all(&logs).expect("log directory");
    TwinOptions {
        template: workspace().join("infra/template.yaml"),
        stack_name: "aftercare-local".into(),
        parameter_overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        api_port: 0,
        control_port: 0,
        moto_port: 0,
        python: python(),
        bin_dir: bins,
        state_dir: workspace().join(".local"),
        logs: LogSink::Directory(logs),
        max_concurrency: 8,
        run_schedules: false,
        faults: None,
    }
}

/// A twin running on its own runtime thread, so it outlives each test's runtime.
pub struct TestTwin {
    pub twin: Arc<Twin>,
    runtime: tokio::runtime::Handle,
    pub log_dir: PathBuf,
}

impl TestTwin {
    pub fn start(options: TwinOptions) -> TestTwin {
        let LogSink::Directory(log_dir) = options.logs.clone() else {
            unreachable!("tests log to files")
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let handle = runtime.handle().clone();
            runtime.block_on(async move {
                let twin = Twin::start(options).await.map(Arc::new);
                tx.send(twin.map(|t| (t, handle)).map_err(|e| e.to_string()))
                    .expect("test thread waits");
                std::future::pending::<()>().await;
            });
        });
        let (twin, runtime) = rx
            .recv()
            .expect("twin thread")
            .unwrap_or_else(|e| panic!("the twin did not start: {e}"));
        TestTwin {
            twin,
            runtime,
            log_dir,
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.twin.api_url)
    }

    pub fn token(&self, sub: &str, role: &str) -> String {
        self.twin.token(sub, role, 3600).expect("token")
    }

    /// Runs a twin operation on the twin's own runtime.
    async fn on_twin<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        self.runtime.spawn(work).await.expect("twin task")
    }

    pub async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        let twin = self.twin.clone();
        let function = function.to_owned();
        self.on_twin(async move {
            twin.invoke(&function, &event)
                .await
                .map_err(|e| e.to_string())
        })
        .await
    }

    pub async fn fire_schedule(
        &self,
        name: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Value, String> {
        let twin = self.twin.clone();
        let name = name.to_owned();
        self.on_twin(async move {
            twin.fire_schedule(&name, Some(at))
                .await
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// A fresh SDK configuration for the emulator, bound to the calling test's runtime.
    pub async fn aws(&self) -> aws_config::SdkConfig {
        aftercare_twin::emulator_config(&self.twin.moto_endpoint).await
    }

    /// The physical name of a template resource.
    pub fn name_of(&self, logical: &str) -> String {
        self.twin.stack.template.physical_name(logical)
    }

    /// Everything the function wrote to its log so far.
    pub fn function_log(&self, logical: &str) -> String {
        std::fs::read_to_string(self.log_dir.join(format!("{logical}.log"))).unwrap_or_default()
    }
}

/// Parameter overrides of the suite: short visibility and few receives, so redrive is quick.
pub const SUITE_PARAMETERS: &[(&str, &str)] = &[
    ("QueueVisibilityTimeoutSeconds", "1"),
    ("QueueMaxReceiveCount", "2"),
    // Most tests' orders carry the fixture's SERUM-30 batch, and together they would make it
    // alert and send later tests' cases to the expert queue. The quality-alert tests run a twin
    // with the default policy (`QUALITY_PARAMETERS`).
    ("QualityAlertMinCases", "1000"),
    ("QualityAlertShareOfUnits", "0"),
    // moto answers a Query over the SLA backlog test's 55,000 cases in seconds where DynamoDB
    // takes milliseconds; the fault test keeps the deployed 3 s.
    ("AwsAttemptTimeoutMillis", "30000"),
];

/// The twin parameters of the quality-alert tests: the suite's, with the default alert policy.
pub const QUALITY_PARAMETERS: &[(&str, &str)] = &[
    ("QueueVisibilityTimeoutSeconds", "1"),
    ("QueueMaxReceiveCount", "2"),
];

/// The suite's twin, started on first use.
pub fn twin() -> &'static TestTwin {
    static TWIN: OnceLock<TestTwin> = OnceLock::new();
    TWIN.get_or_init(|| TestTwin::start(twin_options("debug", SUITE_PARAMETERS)))
}

/// An id no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new())
}

/// A reqwest client; each test has its own (connection pools do not cross runtimes).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// Waits for what a real event source delivers asynchronously to `function` (an S3
/// notification through the bucket's queue): checks `check` now and again each time an
/// invocation of `function` ends, and fails the test if nothing it waits for happened within
/// `within`. It waits for deliveries, never for time to pass.
pub async fn eventually<T, F, Fut>(
    twin: &TestTwin,
    function: &str,
    what: &str,
    within: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut finished = twin
        .twin
        .pools
        .get(function)
        .unwrap_or_else(|| panic!("no function {function} in the template"))
        .invocations_finished();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        // Marks what was seen before checking, so an invocation ending during the check wakes
        // the wait below.
        finished.borrow_and_update();
        if let Some(value) = check().await {
            return value;
        }
        match tokio::time::timeout_at(deadline, finished.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the twin stopped while waiting for {what}"),
            Err(_) => panic!("{what} did not happen within {within:?}"),
        }
    }
}

/// Status and JSON body of a response.
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Places an order for `customer` on `twin` through the signed generic webhook, as a
/// storefront would, and returns its Aftercare order reference. The order holds one SERUM-30
/// and two TONER-200 (the `generic-order-upserted` fixture), delivered yesterday.
pub async fn place_order_on(twin: &TestTwin, customer: &str, order_id: &str) -> String {
    place_order_with(twin, customer, order_id, |_| {}).await
}

/// [`place_order_on`] with the order's `data` changed by `edit` before it is signed and sent
/// (another currency, other prices).
pub async fn place_order_with(
    twin: &TestTwin,
    customer: &str,
    order_id: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let (reference, body) = generic_order_webhook(customer, order_id, edit);
    let (status, answer) = answer(
        http()
            .post(twin.api("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-aftercare-source", GENERIC_SOURCE)
            .header(
                "x-aftercare-signature",
                aftercare::storefront::sign(DEV_GENERIC_SECRET, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    reference
}

/// The generic webhook source of the fixture orders, and the local twin's development secret
/// for it (not a secret: the twin's template default).
pub const GENERIC_SOURCE: &str = "glow-lab-tmall";
pub const DEV_GENERIC_SECRET: &[u8] = b"dev-generic-secret";

/// The fixture's generic `order.upserted` body for `customer`'s order `order_id`, under a fresh
/// event id, delivered yesterday, then changed by `edit` (its `data`): the order reference and
/// the body, unsigned.
pub fn generic_order_webhook(
    customer: &str,
    order_id: &str,
    edit: impl FnOnce(&mut Value),
) -> (String, Vec<u8>) {
    let path = workspace().join("shared/tests/fixtures/webhooks/generic-order-upserted.json");
    let mut payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    payload["event_id"] = Value::from(unique("event"));
    payload["source"] = Value::from(GENERIC_SOURCE);
    payload["data"]["order_id"] = Value::from(order_id);
    payload["data"]["customer_id"] = Value::from(customer);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    payload["data"]["delivered_at"] = Value::from(yesterday.to_rfc3339());
    edit(&mut payload["data"]);
    (
        format!("generic:{GENERIC_SOURCE}:{order_id}"),
        serde_json::to_vec(&payload).unwrap(),
    )
}

/// The e-mails moto's SES recorded, as `(to, subject, body)`: moto keeps sent messages in
/// memory and shows them through its model dump (`/moto-api/data.json`).
pub async fn sent_emails(twin: &TestTwin) -> Vec<(String, String, String)> {
    let data: Value = http()
        .get(format!("{}/moto-api/data.json", twin.twin.moto_endpoint))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|m| {
            let to = m["destinations"]["ToAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            to.into_iter().map(|address| {
                (
                    address.as_str().unwrap_or_default().to_owned(),
                    m["subject"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

/// A case for a leaking serum bottle, opened by `customer` at `opened_at` under the default SLA
/// policy, as intake would open it: for bulk loads (backlog tests, benchmarks) that need many
/// cases at chosen instants.
pub fn synthetic_case(customer: &str, opened_at: chrono::DateTime<chrono::Utc>) -> Case {
    let description = "the serum bottle arrived broken and leaking";
    let draft = CaseDraft::parse(NewCaseRequest {
        order_id: format!("synthetic:{customer}"),
        lines: vec![NewCaseLine {
            sku: "SERUM-30".into(),
            quantity: 1,
        }],
        description: description.into(),
        opened: None,
    })
    .expect("a valid case draft");
    Case::open(
        draft,
        customer,
        Assessment::of_text(description, &Default::default(), opened_at),
        opened_at,
        &SlaPolicy::default(),
    )
}

/// Requests of one BatchWriteItem at most.
const BATCH_WRITE_LIMIT: usize = 25;
/// BatchWriteItem requests in flight at once.
const BATCH_WRITES_IN_FLIGHT: usize = 8;

/// Sends `requests` to the cases table with BatchWriteItem, 25 a request and several requests
/// in flight, resending what DynamoDB leaves unprocessed.
pub async fn batch_write_cases(twin: &TestTwin, requests: Vec<WriteRequest>) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let table = twin.name_of("CasesTable");
    let batches: Vec<Vec<WriteRequest>> = requests
        .chunks(BATCH_WRITE_LIMIT)
        .map(<[_]>::to_vec)
        .collect();
    let (dynamodb, table) = (&dynamodb, &table);
    futures_util::stream::iter(batches)
        .map(|batch| async move {
            let mut pending = HashMap::from([(table.clone(), batch)]);
            for _ in 0..100 {
                let output = dynamodb
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("BatchWriteItem: {}", DisplayErrorContext(&e)));
                pending = output.unprocessed_items.unwrap_or_default();
                pending.retain(|_, requests| !requests.is_empty());
                if pending.is_empty() {
                    return;
                }
            }
            panic!("BatchWriteItem left items unprocessed 100 times: {pending:?}");
        })
        .buffer_unordered(BATCH_WRITES_IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

/// Writes `cases` straight into the cases table, as stored by the case store (see
/// [`aftercare::store::case_item`]), with BatchWriteItem: only the case items, without the
/// timeline entry, customer history and idempotency record that opening a case writes.
pub async fn load_cases(twin: &TestTwin, cases: &[Case]) {
    let requests = cases
        .iter()
        .map(|case| {
            let item = aftercare::store::case_item(case).expect("a case item");
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("a put request"),
                )
                .build()
        })
        .collect();
    batch_write_cases(twin, requests).await;
}

/// The SLA sweep's reports summed over the runs that worked off a backlog.
#[derive(Debug, Default, Clone)]
pub struct SweepTotals {
    pub runs: usize,
    /// Cases read as due, over all runs (a case deferred by one run is read again by the next).
    pub due: u64,
    pub escalated: u64,
    pub steps: u64,
    pub conflicts: u64,
    pub nothing_due: u64,
    pub deferred: u64,
    pub failed: u64,
    pub dynamodb_calls: u64,
    pub dynamodb_writes: u64,
    pub items_read: u64,
    /// From the first fire to the end of the last run.
    pub wall_time: Duration,
    pub slowest_run: Duration,
    /// Whether the last run found nothing due.
    pub drained: bool,
    /// Why the last run failed, if it did.
    pub error: Option<String>,
}

impl SweepTotals {
    fn add(&mut self, report: &Value) {
        let field = |name: &str| {
            report[name]
                .as_u64()
                .unwrap_or_else(|| panic!("no {name} in the sweep's report: {report}"))
        };
        self.due += field("due");
        self.escalated += field("escalated");
        self.steps += field("steps");
        self.conflicts += field("conflicts");
        self.nothing_due += field("nothing_due");
        self.deferred += field("deferred");
        self.failed += field("failed");
        self.dynamodb_calls += field("dynamodb_calls");
        self.dynamodb_writes += field("dynamodb_writes");
        self.items_read += field("items_read");
    }
}

/// Fires the SLA sweep's schedule for the instant `at`, run after run, until a run finds
/// nothing due, `max_runs` runs were made or a run fails.
pub async fn sweep_until_drained(
    twin: &TestTwin,
    at: chrono::DateTime<chrono::Utc>,
    max_runs: usize,
) -> SweepTotals {
    let mut totals = SweepTotals::default();
    let started = Instant::now();
    while totals.runs < max_runs {
        let run = Instant::now();
        let report = twin.fire_schedule("SlaEscalationFunction", at).await;
        totals.runs += 1;
        totals.slowest_run = totals.slowest_run.max(run.elapsed());
        match report {
            Ok(report) => {
                totals.add(&report);
                if report["due"] == 0 {
                    totals.drained = true;
                    break;
                }
            }
            Err(error) => {
                totals.error = Some(error);
                break;
            }
        }
    }
    totals.wall_time = started.elapsed();
    totals
}

/// Every message on the template queue `logical` now, received and deleted: their bodies. Two
/// empty receives in a row end it (moto, like SQS, may answer empty while messages remain).
pub async fn drain_queue(twin: &TestTwin, logical: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let url = twin
        .twin
        .stack
        .queue(logical)
        .unwrap_or_else(|| panic!("no queue {logical} in the template"))
        .url
        .clone();
    let mut bodies = Vec::new();
    let mut empty_reads = 0;
    while empty_reads < 2 {
        let messages = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            empty_reads += 1;
            continue;
        }
        for message in messages {
            bodies.push(message.body().unwrap_or_default().to_owned());
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    bodies
}

/// The bodies on the dead-letter queue `logical` once `arrived` holds for them, left there.
/// SQS moves a message to its DLQ on a receive after its last visibility timeout ran out, and no
/// invocation follows that, so this long-polls the queue, a second at a time, for at most
/// `within` (the emulator's queue clock cannot be moved), and fails the test after it.
pub async fn dead_letters(
    twin: &TestTwin,
    logical: &str,
    within: Duration,
    arrived: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&twin.aws().await);
    let url = twin
        .twin
        .stack
        .queue(logical)
        .unwrap_or_else(|| panic!("no queue {logical} in the template"))
        .url
        .clone();
    let started = Instant::now();
    loop {
        let bodies: Vec<String> = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            // Seen, not taken: the next look sees them all again.
            .visibility_timeout(0)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
            .iter()
            .map(|m| m.body().unwrap_or_default().to_owned())
            .collect();
        if arrived(&bodies) {
            return bodies;
        }
        assert!(
            started.elapsed() < within,
            "{logical}: not there within {within:?}; it holds {bodies:?}"
        );
    }
}
