//! `twin`: the local twin's command line. See `make help`.
//!
//! - `twin up [--params "Name=Value ..."]`: moto_server, the stack, the API on `PORT` (3000).
//! - `twin token --role ROLE --sub ID [--ttl SECONDS]`: a bearer token the twin accepts.
//! - `twin sweep`: fires the SLA escalation schedule of the running twin once, now.
//! - `twin invoke FUNCTION EVENT.json`: invokes a function of the running twin with an event.
//! - `twin status`: what the running twin emulates.
//! - `twin seed`: loads the product catalogue and demo orders into the running twin.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use aftercare_twin::lambda::LogSink;
use aftercare_twin::stack::Stack;
use aftercare_twin::template::Template;
use aftercare_twin::{Twin, TwinOptions};
use serde_json::{Value, json};

const STATE_FILE: &str = "twin.json";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn state_dir() -> PathBuf {
    PathBuf::from(env_or("TWIN_STATE_DIR", ".local"))
}

fn template_path() -> PathBuf {
    PathBuf::from(env_or("TWIN_TEMPLATE", "infra/template.yaml"))
}

fn port(name: &str, default: u16) -> Result<u16, String> {
    env_or(name, &default.to_string())
        .parse()
        .map_err(|_| format!("{name} must be a port number"))
}

/// `TWIN_FAULT_SHARE=0.2` puts the fault-injecting proxy between the functions and the emulator,
/// failing that share of their AWS calls (`TWIN_FAULT_SEED` picks which).
fn fault_plan() -> Result<Option<aftercare_twin::faults::FaultPlan>, String> {
    let share: f64 = env_or("TWIN_FAULT_SHARE", "0")
        .parse()
        .map_err(|_| "TWIN_FAULT_SHARE must be a share between 0 and 1")?;
    if !(0.0..=1.0).contains(&share) {
        return Err("TWIN_FAULT_SHARE must be a share between 0 and 1".into());
    }
    let seed = env_or("TWIN_FAULT_SEED", "1")
        .parse()
        .map_err(|_| "TWIN_FAULT_SEED must be a number")?;
    Ok((share > 0.0).then(|| aftercare_twin::faults::FaultPlan::new(share, seed)))
}

/// `Name=Value` pairs separated by spaces, as `sam deploy --parameter-overrides` takes them.
fn parse_params(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split_whitespace()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("parameter override {pair:?} is not Name=Value"))
        })
        .collect()
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn params(args: &[String]) -> Result<Vec<(String, String)>, String> {
    parse_params(&flag(args, "--params").unwrap_or_else(|| env_or("PARAMS", "")))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(&args).await,
        Some("token") => token(&args),
        Some("sweep") => control("POST", "/schedules/SlaEscalationFunction/fire", None),
        Some("invoke") => invoke(&args),
        Some("status") => control("GET", "/status", None),
        Some("seed") => seed().await,
        _ => Err("usage: twin up [--params \"Name=Value ...\"] | token --role ROLE --sub ID [--ttl SECONDS] | sweep | invoke FUNCTION EVENT.json | status | seed".into()),
    };
    if let Err(message) = result {
        eprintln!("twin: {message}");
        std::process::exit(1);
    }
}

async fn up(args: &[String]) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(env_or("TWIN_LOG", "info"))
        .with_target(false)
        .init();
    let options = TwinOptions {
        template: template_path(),
        stack_name: "aftercare-local".into(),
        parameter_overrides: params(args)?,
        api_port: port("PORT", 3000)?,
        control_port: port("TWIN_CONTROL_PORT", 3001)?,
        moto_port: port("MOTO_PORT", 0)?,
        python: PathBuf::from(env_or("TWIN_PYTHON", ".venv/bin/python")),
        bin_dir: PathBuf::from(env_or("TWIN_BIN_DIR", "target/debug")),
        state_dir: state_dir(),
        logs: LogSink::Console,
        max_concurrency: env_or("TWIN_CONCURRENCY", "8")
            .parse()
            .map_err(|_| "TWIN_CONCURRENCY must be a number")?,
        run_schedules: true,
        faults: fault_plan()?,
    };
    let twin = Twin::start(options).await.map_err(|e| e.to_string())?;
    let state = json!({"api_url": twin.api_url, "control_url": twin.control_url, "moto_endpoint": twin.moto_endpoint, "pid": std::process::id()});
    std::fs::write(state_dir().join(STATE_FILE), state.to_string()).map_err(|e| e.to_string())?;
    let stack = &twin.stack;
    eprintln!("\nAftercare local twin");
    eprintln!(
        "  API        {}   (routes: {})",
        twin.api_url,
        stack
            .routes
            .iter()
            .map(|r| r.key())
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!("  OpenAPI    {}/openapi.json", twin.api_url);
    if let Some(proxy) = &twin.faults {
        eprintln!(
            "  faults     the functions' AWS calls go through {} (TWIN_FAULT_SHARE)",
            proxy.endpoint
        );
    }
    eprintln!(
        "  emulator   {}   (moto_server: {} tables, {} queues, {} bucket)",
        twin.moto_endpoint,
        stack.tables.len(),
        stack.queues.len(),
        stack.buckets.len()
    );
    for s in &stack.schedules {
        eprintln!(
            "  schedule   {} {} -> {}   (`make sweep` fires it now)",
            s.name, s.expression, s.function
        );
    }
    eprintln!("  not emulated: {}", stack.not_emulated.join(", "));
    eprintln!("  token      make token ROLE=customer SUB=c-1\nCtrl-C stops everything.\n");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("twin: stopping");
    let _ = std::fs::remove_file(state_dir().join(STATE_FILE));
    twin.stop().await;
    Ok(())
}

fn token(args: &[String]) -> Result<(), String> {
    let roles: Vec<&str> = aftercare::auth::Role::ALL
        .iter()
        .map(|role| role.as_str())
        .collect();
    let role =
        flag(args, "--role").ok_or_else(|| format!("--role is required ({})", roles.join(", ")))?;
    if !roles.contains(&role.as_str()) {
        return Err(format!(
            "unknown role {role:?}: use one of {}",
            roles.join(", ")
        ));
    }
    let sub = flag(args, "--sub")
        .filter(|s| !s.is_empty())
        .ok_or("--sub is required (the customer or staff id)")?;
    let ttl: i64 = flag(args, "--ttl")
        .unwrap_or_else(|| "3600".into())
        .parse()
        .map_err(|_| "--ttl takes seconds")?;
    let template = Template::load(
        &template_path(),
        "aftercare-local",
        &params(args)?,
        "http://127.0.0.1",
    )
    .map_err(|e| e.to_string())?;
    let stack = Stack::from_template(template).map_err(|e| e.to_string())?;
    let authorizer = stack
        .authorizer
        .ok_or("the template's HTTP API has no JWT authorizer")?;
    let key =
        aftercare_twin::jwt::SigningKey::load_or_create(&state_dir()).map_err(|e| e.to_string())?;
    println!(
        "{}",
        key.token(&authorizer, &sub, &role, ttl)
            .map_err(|e| e.to_string())?
    );
    Ok(())
}

fn invoke(args: &[String]) -> Result<(), String> {
    let (Some(function), Some(file)) = (args.get(1), args.get(2)) else {
        return Err("usage: twin invoke FUNCTION EVENT.json (FUNCTION as the template names it, e.g. IntakeFunction)".into());
    };
    let event = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    control(
        "POST",
        &format!("/functions/{function}/invoke"),
        Some(&event),
    )
}

/// The running twin's state file: its URLs.
fn running_twin() -> Result<Value, String> {
    let state = std::fs::read_to_string(state_dir().join(STATE_FILE))
        .map_err(|_| "no twin is running here: start one with `make dev`".to_owned())?;
    serde_json::from_str(&state).map_err(|e| e.to_string())
}

/// One HTTP/1.1 request to a loopback URL; the status line and the body.
fn request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)
        .map_err(|_| "the twin is not answering: is `make dev` still running?".to_owned())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (status_line, payload) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, payload.to_owned()))
}

/// Calls the running twin's control endpoint and prints its JSON answer.
fn control(method: &str, path: &str, body: Option<&str>) -> Result<(), String> {
    let state = running_twin()?;
    let url = state["control_url"]
        .as_str()
        .ok_or("the state file names no control URL")?;
    let headers = [("Content-Type", "application/json".to_owned())];
    let (status, payload) = request(url, method, path, &headers, body.unwrap_or("").as_bytes())?;
    let pretty = serde_json::from_str::<Value>(&payload)
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or(payload);
    if (200..300).contains(&status) {
        println!("{pretty}");
        Ok(())
    } else {
        Err(pretty)
    }
}

/// Loads `infra/local/seed/catalogue.json` into the catalogue table and sends the demo orders
/// of `infra/local/seed/demo-orders.json` through the generic webhook, signed with the local
/// development secret, so they take the same path as a storefront's.
async fn seed() -> Result<(), String> {
    let state = running_twin()?;
    let api = state["api_url"]
        .as_str()
        .ok_or("the state file names no API URL")?
        .to_owned();
    let moto = state["moto_endpoint"]
        .as_str()
        .ok_or("the state file names no emulator")?
        .to_owned();
    let template = Template::load(&template_path(), "aftercare-local", &[], &moto)
        .map_err(|e| e.to_string())?;

    let seed_dir = template_path()
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("local/seed");
    let text = std::fs::read_to_string(seed_dir.join("catalogue.json"))
        .map_err(|e| format!("catalogue.json: {e}"))?;
    let catalogue: aftercare::catalogue::Catalogue =
        serde_json::from_str(&text).map_err(|e| format!("catalogue.json: {e}"))?;
    catalogue
        .validate()
        .map_err(|e| format!("catalogue.json: {e}"))?;
    let aws = aftercare_twin::emulator_config(&moto).await;
    let store = aftercare::store::DynamoCatalogueStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        template.physical_name("CatalogueTable"),
    );
    use aftercare::store::CatalogueStore;
    let written = store.load(&catalogue).await.map_err(|e| e.to_string())?;
    println!(
        "catalogue: {} products, {} batches ({written} items)",
        catalogue.products.len(),
        catalogue.batches.len()
    );

    let demo: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_dir.join("demo-orders.json"))
            .map_err(|e| format!("demo-orders.json: {e}"))?,
    )
    .map_err(|e| format!("demo-orders.json: {e}"))?;
    let source = demo["source"].as_str().unwrap_or("demo-store");
    let secrets: Value = serde_json::from_str(
        &std::fs::read_to_string(aftercare_twin::template::local_secrets_path(
            &template_path(),
        ))
        .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let secret = secrets["aftercare/webhook-secrets"]["generic"]["*"]
        .as_str()
        .ok_or("no local generic webhook secret")?;
    let now = chrono::Utc::now();
    let days_ago = |v: &Value| {
        v.as_i64().map(|d| {
            (now - chrono::Duration::days(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    };
    for order in demo["orders"].as_array().into_iter().flatten() {
        let mut data = order.clone();
        let data_object = data.as_object_mut().ok_or("each demo order is an object")?;
        let placed = days_ago(&order["placed_days_ago"]);
        data_object.remove("placed_days_ago");
        data_object.remove("delivered_days_ago");
        data_object.insert("placed_at".into(), json!(placed));
        data_object.insert(
            "updated_at".into(),
            json!(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        data_object.insert(
            "delivered_at".into(),
            json!(days_ago(&order["delivered_days_ago"])),
        );
        let envelope = json!({
            "event_id": format!("seed-{}-{}", order["order_id"].as_str().unwrap_or(""), now.timestamp()),
            "type": "order.upserted",
            "source": source,
            "occurred_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "data": data,
        });
        let body = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            ("X-Aftercare-Source", source.to_owned()),
            (
                "X-Aftercare-Signature",
                aftercare::storefront::sign(secret.as_bytes(), &body),
            ),
        ];
        let (status, answer) = request(&api, "POST", "/webhooks/generic", &headers, &body)?;
        if status != 200 {
            return Err(format!(
                "demo order {}: {status} {answer}",
                order["order_id"]
            ));
        }
        println!(
            "order generic:{source}:{} for {} ({})",
            order["order_id"].as_str().unwrap_or(""),
            order["customer_id"].as_str().unwrap_or(""),
            answer.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameter_overrides_like_sam() {
        assert_eq!(
            parse_params("SlaNormalFirstResponseMinutes=1  QueueMaxReceiveCount=2").unwrap(),
            vec![
                ("SlaNormalFirstResponseMinutes".into(), "1".into()),
                ("QueueMaxReceiveCount".into(), "2".into())
            ]
        );
        assert!(parse_params("").unwrap().is_empty());
        assert!(parse_params("NoEquals").is_err());
        assert!(parse_params("=1").is_err());
    }
}
