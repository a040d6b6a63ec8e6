//! Helpers of the end-to-end suite and the benchmarks: one local twin per test binary
//! (moto_server, the template's resources, the real function binaries), shared by every test.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aftercare_twin::lambda::LogSink;
use aftercare_twin::{Twin, TwinOptions};
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
    let path = workspace().join("shared/tests/fixtures/webhooks/generic-order-upserted.json");
    let mut payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    payload["event_id"] = Value::from(unique("event"));
    payload["data"]["order_id"] = Value::from(order_id);
    payload["data"]["customer_id"] = Value::from(customer);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    payload["data"]["delivered_at"] = Value::from(yesterday.to_rfc3339());
    let body = serde_json::to_vec(&payload).unwrap();
    let source = payload["source"].as_str().unwrap().to_owned();
    let (status, answer) = answer(
        http()
            .post(twin.api("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-aftercare-source", &source)
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
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    format!("generic:{source}:{order_id}")
}
