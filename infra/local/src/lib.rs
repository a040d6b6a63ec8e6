//! The local twin of Aftercare's AWS stack.
//!
//! `make dev` runs it: it starts `moto_server` on loopback, creates exactly the tables, queues
//! and bucket `infra/template.yaml` declares, and runs the real compiled function binaries
//! through the Lambda Runtime API, configured only by the environment the template gives
//! them (plus region, dummy credentials and `AWS_ENDPOINT_URL`). It emulates the HTTP API
//! (routes, JWT authorizer, payload 2.0), the schedules, SQS event sources and S3
//! notifications. The end-to-end tests start the same twin in-process.

pub mod faults;
pub mod gateway;
pub mod jwt;
pub mod lambda;
pub mod moto;
mod process;
pub mod provision;
pub mod sources;
pub mod stack;
pub mod template;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::jwt::SigningKey;
use crate::lambda::{FunctionPool, Launcher, LogSink, Outcome};
use crate::moto::Moto;
use crate::stack::Stack;
use crate::template::{REGION, Template};

#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    #[error("template: {0}")]
    Template(String),
    #[error("moto_server: {0}")]
    Moto(String),
    #[error("provisioning: {0}")]
    Provision(String),
    #[error("signing key: {0}")]
    Key(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("invocation: {0}")]
    Invoke(String),
}

/// How to start a twin.
#[derive(Clone, Debug)]
pub struct TwinOptions {
    pub template: PathBuf,
    pub stack_name: String,
    pub parameter_overrides: Vec<(String, String)>,
    /// 0 picks a free port.
    pub api_port: u16,
    pub control_port: u16,
    pub moto_port: u16,
    /// The Python that has moto installed (`.venv/bin/python`).
    pub python: PathBuf,
    /// Where the compiled function binaries are (`target/debug`, `target/release`).
    pub bin_dir: PathBuf,
    /// The signing key and state file (`.local`).
    pub state_dir: PathBuf,
    pub logs: LogSink,
    /// Instances per function at most, as reserved concurrency would cap them.
    pub max_concurrency: usize,
    /// Fire `rate(...)` schedules on their timers (tests fire them by hand instead).
    pub run_schedules: bool,
    /// Put a fault-injecting proxy between the functions and the emulator.
    pub faults: Option<faults::FaultPlan>,
}

pub struct Twin {
    pub api_url: String,
    pub control_url: String,
    pub moto_endpoint: String,
    pub stack: Arc<Stack>,
    pub pools: Arc<HashMap<String, Arc<FunctionPool>>>,
    pub key: Arc<SigningKey>,
    pub aws: aws_config::SdkConfig,
    /// The proxy the functions' AWS calls go through, when faults are injected.
    pub faults: Option<faults::FaultProxy>,
    tasks: Vec<JoinHandle<()>>,
    moto: Option<Moto>,
}

/// A free loopback port (for moto, which cannot report the one it picked).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The SDK configuration for the emulator.
pub async fn emulator_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local-twin",
            "local-twin",
            None,
            None,
            "twin",
        ))
        .load()
        .await
}

impl Twin {
    pub async fn start(options: TwinOptions) -> Result<Twin, TwinError> {
        let moto_port = if options.moto_port == 0 {
            free_port()?
        } else {
            options.moto_port
        };
        let moto_log = match &options.logs {
            LogSink::Directory(dir) => {
                std::fs::create_dir_all(dir)?;
                Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("moto.log"))?,
                )
            }
            LogSink::Console => Stdio::null(),
        };
        let launcher = options
            .template
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("local/moto_serial.py");
        let moto = Moto::start(&options.python, &launcher, moto_port, moto_log).await?;
        let template = Template::load(
            &options.template,
            &options.stack_name,
            &options.parameter_overrides,
            &moto.endpoint,
        )?;
        let stack = Arc::new(Stack::from_template(template)?);
        let aws = emulator_config(&moto.endpoint).await;
        provision::provision(&stack, &aws).await?;
        let key = Arc::new(SigningKey::load_or_create(&options.state_dir)?);
        let faults = match options.faults {
            Some(plan) => Some(faults::FaultProxy::start(&moto.endpoint, plan).await?),
            None => None,
        };
        let functions_endpoint = faults
            .as_ref()
            .map_or(moto.endpoint.clone(), |proxy| proxy.endpoint.clone());

        let pools: HashMap<String, Arc<FunctionPool>> = stack
            .functions
            .iter()
            .map(|spec| {
                let launcher = Launcher::new(
                    spec.clone(),
                    &options.bin_dir,
                    &functions_endpoint,
                    options.logs.clone(),
                );
                (
                    spec.logical.clone(),
                    Arc::new(FunctionPool::new(launcher, options.max_concurrency)),
                )
            })
            .collect();
        let pools = Arc::new(pools);
        let mut tasks = Vec::new();

        // Event sources.
        let sqs = aws_sdk_sqs::Client::new(&aws);
        for source in &stack.queue_sources {
            let queue = stack.queue(&source.queue).ok_or_else(|| {
                TwinError::Template(format!("{}: no queue {}", source.function, source.queue))
            })?;
            let arn = format!("arn:aws:sqs:{REGION}:{}:{}", template::ACCOUNT, queue.name);
            tasks.push(tokio::spawn(sources::run_queue_source(
                sqs.clone(),
                queue.url.clone(),
                arn,
                source.into(),
                pools[&source.function].clone(),
            )));
        }
        for (function, relay) in sources::configure_s3_notifications(&stack, &aws).await? {
            tasks.push(tokio::spawn(sources::run_s3_relay(
                sqs.clone(),
                relay,
                pools[&function].clone(),
            )));
        }
        if options.run_schedules {
            for schedule in stack.schedules.iter().filter(|s| s.enabled) {
                match sources::rate_interval(&schedule.expression) {
                    Some(interval) => tasks.push(tokio::spawn(sources::run_schedule(
                        schedule.name.clone(),
                        interval,
                        pools[&schedule.function].clone(),
                    ))),
                    None => {
                        tracing::warn!(schedule = %schedule.name, expression = %schedule.expression,
                        "only rate(...) schedules run on a timer locally; fire it with `make sweep`")
                    }
                }
            }
        }

        // The HTTP API.
        let gateway = Arc::new(gateway::Gateway {
            routes: stack.routes.clone(),
            authorizer: stack.authorizer.clone(),
            key: key.clone(),
            pools: pools.clone(),
        });
        let api = tokio::net::TcpListener::bind(("127.0.0.1", options.api_port)).await?;
        let api_url = format!("http://{}", api.local_addr()?);
        // The API's description for app developers and schemathesis. It is the twin's own
        // route, not one of the template's: a deployed stack publishes the document with the app.
        let document = Arc::new(api_document(&options.template, &api_url)?);
        let app = Router::new()
            .route(
                "/openapi.json",
                get(move || {
                    let document = document.clone();
                    async move { axum::Json(document.as_ref().clone()) }
                }),
            )
            .fallback(gateway::serve)
            .with_state(gateway);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(api, app).await;
        }));

        // The control endpoint (`make sweep`, `make invoke`).
        let control = tokio::net::TcpListener::bind(("127.0.0.1", options.control_port)).await?;
        let control_url = format!("http://{}", control.local_addr()?);
        let control_state = Arc::new(ControlState {
            stack: stack.clone(),
            pools: pools.clone(),
        });
        let control_app = Router::new()
            .route("/status", get(status))
            .route("/schedules/{name}/fire", post(fire))
            .route("/functions/{name}/invoke", post(invoke))
            .with_state(control_state);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(control, control_app).await;
        }));

        Ok(Twin {
            api_url,
            control_url,
            moto_endpoint: moto.endpoint.clone(),
            stack,
            pools,
            key,
            aws,
            faults,
            tasks,
            moto: Some(moto),
        })
    }

    /// A bearer token the twin's authorizer accepts.
    pub fn token(&self, sub: &str, role: &str, ttl_secs: i64) -> Result<String, TwinError> {
        let authorizer = self
            .stack
            .authorizer
            .as_ref()
            .ok_or_else(|| TwinError::Template("the HTTP API has no JWT authorizer".into()))?;
        self.key.token(authorizer, sub, role, ttl_secs)
    }

    /// Invokes a function directly with an event, as `aws lambda invoke` would.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, TwinError> {
        invoke_pool(&self.pools, function, event).await
    }

    /// Fires a schedule now, or at `at` (the event's `time`), and returns the function's answer.
    pub async fn fire_schedule(
        &self,
        name: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Value, TwinError> {
        fire_schedule(&self.stack, &self.pools, name, at).await
    }

    /// Stops everything the twin started.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for pool in self.pools.values() {
            pool.shutdown().await;
        }
        if let Some(moto) = self.moto.take() {
            moto.stop().await;
        }
    }
}

/// The OpenAPI document beside the template (`infra/openapi.yaml`) as JSON, its server the
/// twin's own address.
pub fn api_document(template: &std::path::Path, api_url: &str) -> Result<Value, TwinError> {
    let path = template
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("openapi.yaml");
    let raw = std::fs::read_to_string(&path)
        .map_err(|e| TwinError::Template(format!("{}: {e}", path.display())))?;
    let mut document: Value = serde_norway::from_str(&raw)
        .map_err(|e| TwinError::Template(format!("{}: {e}", path.display())))?;
    document["servers"] = json!([{"url": api_url, "description": "this local twin"}]);
    Ok(document)
}

async fn invoke_pool(
    pools: &HashMap<String, Arc<FunctionPool>>,
    function: &str,
    event: &Value,
) -> Result<Value, TwinError> {
    let pool = pools
        .get(function)
        .ok_or_else(|| TwinError::Invoke(format!("no function {function} in the template")))?;
    match pool.invoke(Bytes::from(event.to_string())).await {
        Ok(Outcome::Response(body)) => {
            serde_json::from_slice(&body).map_err(|e| TwinError::Invoke(e.to_string()))
        }
        Ok(Outcome::FunctionError(error)) => {
            Err(TwinError::Invoke(format!("function error: {error}")))
        }
        Err(err) => Err(TwinError::Invoke(err.to_string())),
    }
}

async fn fire_schedule(
    stack: &Stack,
    pools: &HashMap<String, Arc<FunctionPool>>,
    name: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Value, TwinError> {
    let schedule = sources::schedule_by_name(stack, name).ok_or_else(|| {
        TwinError::Invoke(format!("no schedule or scheduled function named {name}"))
    })?;
    let event = sources::scheduled_event(&schedule.name, at.unwrap_or_else(chrono::Utc::now));
    invoke_pool(pools, &schedule.function, &event).await
}

struct ControlState {
    stack: Arc<Stack>,
    pools: Arc<HashMap<String, Arc<FunctionPool>>>,
}

fn control_answer(result: Result<Value, TwinError>) -> Response {
    match result {
        Ok(value) => (StatusCode::OK, axum::Json(value)).into_response(),
        Err(err) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": err.to_string()})),
        )
            .into_response(),
    }
}

async fn status(State(state): State<Arc<ControlState>>) -> Response {
    let stack = &state.stack;
    axum::Json(json!({
        "functions": stack.functions.iter().map(|f| &f.logical).collect::<Vec<_>>(),
        "routes": stack.routes.iter().map(|r| r.key()).collect::<Vec<_>>(),
        "schedules": stack.schedules.iter().map(|s| json!({"name": s.name, "expression": s.expression})).collect::<Vec<_>>(),
        "tables": stack.tables.iter().map(|t| &t.name).collect::<Vec<_>>(),
        "queues": stack.queues.iter().map(|q| &q.url).collect::<Vec<_>>(),
        "buckets": stack.buckets.iter().map(|b| &b.name).collect::<Vec<_>>(),
        "not_emulated": stack.not_emulated,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct FireQuery {
    time: Option<chrono::DateTime<chrono::Utc>>,
}

async fn fire(
    State(state): State<Arc<ControlState>>,
    Path(name): Path<String>,
    Query(query): Query<FireQuery>,
) -> Response {
    control_answer(fire_schedule(&state.stack, &state.pools, &name, query.time).await)
}

async fn invoke(
    State(state): State<Arc<ControlState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(event) => control_answer(invoke_pool(&state.pools, &name, &event).await),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": format!("the event is not JSON: {e}")})),
        )
            .into_response(),
    }
}
