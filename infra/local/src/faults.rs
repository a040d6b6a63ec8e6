//! A fault-injecting proxy between the functions and the emulator: on a chosen share of AWS
//! calls it answers a throttling error or a 500, leaves the call unanswered until the SDK's
//! attempt timeout gives up, or drops the connection: the failures AWS itself has on a bad day.
//!
//! The twin points the functions' `AWS_ENDPOINT_URL` at the proxy when
//! [`crate::TwinOptions::faults`] is set; its own clients (provisioning, the event sources) go
//! straight to the emulator, as Lambda's own pollers are not the functions' calls. Which call
//! gets which fault follows a seeded generator, so a run can be repeated. Two faults let the
//! call reach the emulator first, because those are the ones that find bugs: a timeout is
//! answered only after the write happened, and half of the dropped connections are dropped
//! after it, so the caller retries a write that already took place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

/// How often faults strike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// The share of calls that fail, 0.0 to 1.0; the four kinds share it equally.
    pub share: f64,
    /// Seeds the choice of calls and kinds.
    pub seed: u64,
}

impl FaultPlan {
    pub fn new(share: f64, seed: u64) -> FaultPlan {
        FaultPlan { share, seed }
    }
}

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Refused before the emulator sees it: `ThrottlingException` (JSON protocols), `SlowDown`
    /// (S3) or `TooManyRequestsException` (REST-JSON), as AWS throttles.
    Throttled,
    /// Refused before the emulator sees it with a 500.
    ServerError,
    /// Forwarded, then never answered, until the caller's attempt timeout gives up on it: the
    /// write happened, the caller never hears of it.
    TimedOut,
    /// The connection closes without an answer; every other time after the call was forwarded.
    Dropped,
}

/// What the proxy saw so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Calls the functions made.
    pub attempted: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub timed_out: u64,
    pub dropped: u64,
    /// Calls forwarded and answered as the emulator answered them.
    pub passed: u64,
}

impl FaultCounts {
    pub fn faulted(&self) -> u64 {
        self.throttled + self.server_errors + self.timed_out + self.dropped
    }
}

#[derive(Default)]
struct Counters {
    attempted: AtomicU64,
    throttled: AtomicU64,
    server_errors: AtomicU64,
    timed_out: AtomicU64,
    dropped: AtomicU64,
    passed: AtomicU64,
}

struct State {
    upstream: String,
    /// The share in force (`f64` bits): the plan's, until [`FaultProxy::set_share`].
    share: AtomicU64,
    rng: Mutex<StdRng>,
    client: Client<HttpConnector, Full<Bytes>>,
    counters: Counters,
}

/// Why a connection was closed without an answer (hyper closes it when the service fails).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

/// The running proxy; dropping it stops it.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> std::io::Result<FaultProxy> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            share: AtomicU64::new(plan.share.to_bits()),
            rng: Mutex::new(StdRng::seed_from_u64(plan.seed)),
            client: Client::builder(TokioExecutor::new()).build_http(),
            counters: Counters::default(),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy {
            endpoint,
            state,
            task,
        })
    }

    /// Changes the share of calls that fail from now on (a storm, then calm again).
    pub fn set_share(&self, share: f64) {
        self.state
            .share
            .store(share.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.state.counters;
        FaultCounts {
            attempted: c.attempted.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            passed: c.passed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fault for the next call, if any, and for a dropped connection whether it is dropped
/// after forwarding.
fn choose(rng: &mut StdRng, share: f64) -> (Option<Fault>, bool) {
    if !rng.gen_bool(share.clamp(0.0, 1.0)) {
        return (None, false);
    }
    let fault = match rng.gen_range(0..4) {
        0 => Fault::Throttled,
        1 => Fault::ServerError,
        2 => Fault::TimedOut,
        _ => Fault::Dropped,
    };
    (Some(fault), rng.gen_bool(0.5))
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let counters = &state.counters;
    counters.attempted.fetch_add(1, Ordering::Relaxed);
    let (fault, after_forwarding) = {
        let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
        choose(
            &mut rng,
            f64::from_bits(state.share.load(Ordering::Relaxed)),
        )
    };
    match fault {
        None => {
            let answer = forward(&state, request).await;
            if answer.is_ok() {
                counters.passed.fetch_add(1, Ordering::Relaxed);
            }
            answer
        }
        Some(Fault::Throttled) => {
            counters.throttled.fetch_add(1, Ordering::Relaxed);
            Ok(throttled(&request))
        }
        Some(Fault::ServerError) => {
            counters.server_errors.fetch_add(1, Ordering::Relaxed);
            Ok(server_error(&request))
        }
        Some(Fault::TimedOut) => {
            counters.timed_out.fetch_add(1, Ordering::Relaxed);
            let _ = forward(&state, request).await;
            // Never answered: the caller's own attempt timeout ends the call, and hyper drops
            // this future with the connection. No timer here decides how long that takes.
            std::future::pending::<()>().await;
            Err(DropConnection)
        }
        Some(Fault::Dropped) => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            if after_forwarding {
                let _ = forward(&state, request).await;
            }
            Err(DropConnection)
        }
    }
}

/// Sends the call on to the emulator as it came and answers what the emulator answered.
async fn forward(
    state: &State,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri: hyper::Uri = format!("{}{path}", state.upstream)
        .parse()
        .map_err(|_| DropConnection)?;
    let mut upstream = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let upstream = upstream.body(Full::new(body)).map_err(|_| DropConnection)?;
    let answer = state
        .client
        .request(upstream)
        .await
        .map_err(|_| DropConnection)?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Which wire protocol the call speaks, so the error is one its SDK client parses.
enum Protocol {
    /// `X-Amz-Target` and an `application/x-amz-json` body: DynamoDB, SQS.
    Json,
    /// SES v2: REST with JSON errors named by `x-amzn-ErrorType`.
    RestJson,
    /// S3: REST with XML errors.
    RestXml,
}

fn protocol(request: &Request<Incoming>) -> Protocol {
    if request.headers().contains_key("x-amz-target") {
        Protocol::Json
    } else if request.uri().path().starts_with("/v2/email") {
        Protocol::RestJson
    } else {
        Protocol::RestXml
    }
}

fn error(
    status: StatusCode,
    content_type: &str,
    error_type: &str,
    body: String,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-errortype", error_type)
        .header("x-amzn-requestid", ulid::Ulid::new().to_string())
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn throttled(request: &Request<Incoming>) -> Response<Full<Bytes>> {
    match protocol(request) {
        Protocol::Json => error(
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            "ThrottlingException",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#.into(),
        ),
        Protocol::RestJson => error(
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            "TooManyRequestsException",
            r#"{"message":"Too many requests."}"#.into(),
        ),
        Protocol::RestXml => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/xml",
            "SlowDown",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into(),
        ),
    }
}

fn server_error(request: &Request<Incoming>) -> Response<Full<Bytes>> {
    match protocol(request) {
        Protocol::Json => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/x-amz-json-1.0",
            "InternalServerError",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#.into(),
        ),
        Protocol::RestJson => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            "InternalFailure",
            r#"{"message":"Internal failure."}"#.into(),
        ),
        Protocol::RestXml => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/xml",
            "InternalError",
            "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_faults_is_what_was_asked_and_every_kind_occurs() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut kinds = std::collections::HashMap::new();
        let calls = 20_000;
        for _ in 0..calls {
            if let (Some(fault), _) = choose(&mut rng, 0.2) {
                *kinds.entry(fault).or_insert(0u32) += 1;
            }
        }
        let faulted: u32 = kinds.values().sum();
        let share = f64::from(faulted) / f64::from(calls);
        assert!((0.18..0.22).contains(&share), "{share}");
        assert_eq!(kinds.len(), 4, "{kinds:?}");
        assert_eq!(choose(&mut rng, 0.0), (None, false));
    }
}
