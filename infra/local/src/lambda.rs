//! The Lambda Runtime API, served to the real function binaries, and a pool of their
//! instances per function: spawn on demand (cold start), reuse while warm, replace after a
//! crash or timeout, as Lambda does.
//!
//! Each instance gets its own Runtime API endpoint (`AWS_LAMBDA_RUNTIME_API`), so an
//! invocation can only ever reach the process it was given to.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
/// Event and response payloads.
pub use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot, watch};

use crate::process::die_with_parent;
use crate::stack::FunctionSpec;
use crate::template::{ACCOUNT, REGION};

/// Lambda's limit on a synchronous invocation's payload.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Lambda gives an instance this long to reach its first `/next`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an invocation came to.
#[derive(Debug)]
pub enum Outcome {
    /// The handler's response payload.
    Response(Bytes),
    /// The handler reported an error (`/error`); the instance stays warm.
    FunctionError(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function failed to initialise: {0}")]
    Init(String),
    #[error("the function timed out after {0:?}")]
    Timeout(Duration),
    #[error("the function's process exited during the invocation: {0}")]
    Crashed(String),
    #[error("the request payload of {0} bytes exceeds Lambda's 6 MB limit")]
    PayloadTooLarge(usize),
}

struct Invocation {
    request_id: String,
    payload: Bytes,
    deadline_ms: u128,
    reply: oneshot::Sender<Outcome>,
}

struct RuntimeState {
    function_arn: String,
    next: Mutex<mpsc::Receiver<Invocation>>,
    pending: std::sync::Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    ready: watch::Sender<Option<Instant>>,
    init_error: std::sync::Mutex<Option<String>>,
}

/// One instance's Runtime API endpoint.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    invocations: mpsc::Sender<Invocation>,
    ready: watch::Receiver<Option<Instant>>,
    state: Arc<RuntimeState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_arn: String) -> std::io::Result<RuntimeApi> {
        let (invocations, next) = mpsc::channel(1);
        let (ready_tx, ready) = watch::channel(None);
        let state = Arc::new(RuntimeState {
            function_arn,
            next: Mutex::new(next),
            pending: Default::default(),
            ready: ready_tx,
            init_error: Default::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            invocations,
            ready,
            state,
            server,
        })
    }

    /// When the runtime first asked for work: the end of its init phase.
    pub async fn first_poll(&mut self) -> Instant {
        loop {
            if let Some(at) = *self.ready.borrow() {
                return at;
            }
            if self.ready.changed().await.is_err() {
                // The sender lives in `state`, which we hold: unreachable, but never hang.
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.init_error.lock().expect("lock").clone()
    }
}

async fn next_invocation(State(state): State<Arc<RuntimeState>>) -> Response {
    state.ready.send_if_modified(|ready| {
        if ready.is_none() {
            *ready = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let invocation = state.next.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    state
        .pending
        .lock()
        .expect("lock")
        .insert(invocation.request_id.clone(), invocation.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(
        "lambda-runtime-aws-request-id",
        invocation.request_id.clone(),
    );
    set(
        "lambda-runtime-deadline-ms",
        invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        state.function_arn.clone(),
    );
    let random: String = invocation
        .request_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(24)
        .collect();
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{random};Parent={};Sampled=0",
            chrono::Utc::now().timestamp(),
            &random[..16]
        ),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, invocation.payload).into_response()
}

fn settle(state: &RuntimeState, id: &str, outcome: Outcome) -> StatusCode {
    match state.pending.lock().expect("lock").remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn invocation_response(
    State(state): State<Arc<RuntimeState>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    settle(&state, &id, Outcome::Response(body))
}

async fn invocation_error(
    State(state): State<Arc<RuntimeState>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let error = serde_json::from_slice(&body).unwrap_or_else(
        |_| json!({"errorType": "Unknown", "errorMessage": String::from_utf8_lossy(&body)}),
    );
    settle(&state, &id, Outcome::FunctionError(error))
}

async fn init_error(State(state): State<Arc<RuntimeState>>, body: Bytes) -> StatusCode {
    *state.init_error.lock().expect("lock") = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

/// Where function output goes: the console with a prefix, or a log file per function.
#[derive(Clone, Debug)]
pub enum LogSink {
    Console,
    Directory(PathBuf),
}

impl LogSink {
    /// Where the child's stdout and stderr go. A log file is handed to the child itself, so a
    /// line is in the file the moment the function writes it: whoever reads the log after the
    /// function answered sees every line of that answer.
    fn outputs(&self, function: &str) -> (Stdio, Stdio) {
        let file = match self {
            LogSink::Directory(dir) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{function}.log")))
                .ok(),
            LogSink::Console => None,
        };
        match file.and_then(|f| f.try_clone().ok().map(|g| (f, g))) {
            Some((out, err)) => (Stdio::from(out), Stdio::from(err)),
            None => (Stdio::piped(), Stdio::piped()),
        }
    }

    /// Copies piped output to the console, each line prefixed with the function.
    fn attach(&self, function: &str, child: &mut Child) {
        let streams: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for stream in streams {
            let function = function.to_owned();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("[{function}] {line}");
                }
            });
        }
    }
}

/// A running instance of a function binary.
pub struct Instance {
    api: RuntimeApi,
    child: Child,
    /// Spawn to first `/next`: the cold start.
    pub init_duration: Duration,
}

/// How a function's processes are started.
#[derive(Clone)]
pub struct Launcher {
    pub spec: FunctionSpec,
    pub executable: PathBuf,
    /// What the twin adds to the template's variables: region, credentials, endpoint.
    pub platform_env: Vec<(String, String)>,
    pub logs: LogSink,
}

impl Launcher {
    pub fn new(spec: FunctionSpec, bin_dir: &Path, endpoint: &str, logs: LogSink) -> Launcher {
        let executable = bin_dir.join(&spec.binary);
        let platform_env = vec![
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            // The emulator accepts any credentials; these are not secrets.
            ("AWS_ACCESS_KEY_ID".into(), "local-twin".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local-twin".into()),
            ("AWS_ENDPOINT_URL".into(), endpoint.into()),
        ];
        Launcher {
            spec,
            executable,
            platform_env,
            logs,
        }
    }

    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
            self.spec.name
        )
    }

    /// Starts a process and waits for its first `/next`.
    pub async fn spawn(&self) -> Result<Instance, InvokeError> {
        let mut api = RuntimeApi::start(self.function_arn())
            .await
            .map_err(|e| InvokeError::Init(format!("runtime API: {e}")))?;
        let spec = &self.spec;
        let (stdout, stderr) = self.logs.outputs(&spec.logical);
        let mut command = Command::new(&self.executable);
        command
            .env_clear()
            .envs(&spec.environment)
            .envs(self.platform_env.iter().map(|(k, v)| (k, v)))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", ulid::Ulid::new().to_string())
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", &spec.log_level)
            .env(
                "LAMBDA_TASK_ROOT",
                self.executable.parent().unwrap_or(Path::new(".")),
            )
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            InvokeError::Init(format!(
                "cannot start {} ({e}); build the functions first (`cargo build --workspace`)",
                self.executable.display()
            ))
        })?;
        self.logs.attach(&spec.logical, &mut child);
        tokio::select! {
            ready = api.first_poll() => Ok(Instance { init_duration: ready - started, api, child }),
            status = child.wait() => Err(InvokeError::Init(format!(
                "exited with {} before asking for work{}",
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                api.init_error().map(|e| format!(": {e}")).unwrap_or_default()
            ))),
            _ = tokio::time::sleep(INIT_TIMEOUT) => Err(InvokeError::Init("no /next within 10 s".into())),
        }
    }
}

impl Instance {
    /// Hands one event to this instance and waits for its outcome.
    pub async fn invoke(
        &mut self,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Outcome, InvokeError> {
        let (reply, outcome) = oneshot::channel();
        let request_id = uuid_like();
        let deadline_ms = (std::time::SystemTime::now() + timeout)
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        self.api
            .invocations
            .send(Invocation {
                request_id,
                payload,
                deadline_ms,
                reply,
            })
            .await
            .map_err(|_| InvokeError::Crashed("runtime API closed".into()))?;
        tokio::select! {
            outcome = outcome => outcome.map_err(|_| InvokeError::Crashed("no outcome".into())),
            status = self.child.wait() => Err(InvokeError::Crashed(
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            )),
            _ = tokio::time::sleep(timeout) => Err(InvokeError::Timeout(timeout)),
        }
    }

    /// Peak resident memory of the process so far (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A request id in the UUID format Lambda uses.
fn uuid_like() -> String {
    let bytes = ulid::Ulid::new().to_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The instances of one function: as many as run at once, up to a concurrency limit.
pub struct FunctionPool {
    pub launcher: Launcher,
    idle: std::sync::Mutex<Vec<Instance>>,
    concurrency: Semaphore,
    /// How many invocations have ended (answered, failed or timed out): what a test waiting
    /// for an event source's delivery awaits, instead of polling on a timer.
    finished: watch::Sender<u64>,
}

impl FunctionPool {
    pub fn new(launcher: Launcher, max_concurrency: usize) -> FunctionPool {
        FunctionPool {
            launcher,
            idle: Default::default(),
            concurrency: Semaphore::new(max_concurrency),
            finished: watch::Sender::new(0),
        }
    }

    /// Changes each time an invocation of this function ends.
    pub fn invocations_finished(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// Invokes the function with `payload`, on a warm instance when one is free.
    pub async fn invoke(&self, payload: Bytes) -> Result<Outcome, InvokeError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::PayloadTooLarge(payload.len()));
        }
        let _permit = self
            .concurrency
            .acquire()
            .await
            .expect("pool semaphore never closes");
        let warm = self.idle.lock().expect("lock").pop();
        let mut instance = match warm {
            Some(instance) => instance,
            None => self.launcher.spawn().await?,
        };
        let timeout = Duration::from_secs(self.launcher.spec.timeout_secs);
        let result = match instance.invoke(payload, timeout).await {
            Ok(outcome) => {
                self.idle.lock().expect("lock").push(instance);
                Ok(outcome)
            }
            // A timed-out or crashed instance is discarded; the next call starts a fresh one.
            Err(err) => {
                instance.stop().await;
                Err(err)
            }
        };
        self.finished.send_modify(|n| *n += 1);
        result
    }

    /// Stops every idle instance.
    pub async fn shutdown(&self) {
        let idle: Vec<Instance> = std::mem::take(&mut *self.idle.lock().expect("lock"));
        for instance in idle {
            instance.stop().await;
        }
    }
}
