//! The API contract: `infra/openapi.yaml` lists exactly the template's routes, with the
//! template's authorisation, and the running functions keep to it under generated input.
//!
//! The schemathesis run writes random cases, replies and refunds, so it has a twin of its own.
//! `SCHEMATHESIS_MAX_EXAMPLES` sets the examples per operation and role (default 25, which
//! keeps `make test` within its budget; `make fuzz-api` runs 500).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use aftercare_e2e::{SUITE_PARAMETERS, TestTwin, answer, http, place_order_on, twin_options};
use serde_json::{Value, json};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
const DEFAULT_EXAMPLES: u32 = 25;

fn contract_twin() -> &'static TestTwin {
    static TWIN: OnceLock<TestTwin> = OnceLock::new();
    TWIN.get_or_init(|| TestTwin::start(twin_options("debug", SUITE_PARAMETERS)))
}

async fn document(twin: &TestTwin) -> Value {
    let (status, document) =
        answer(http().get(twin.api("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{document}");
    document
}

/// Every operation of the document: `METHOD /path` → the operation.
fn operations(document: &Value) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                found.insert(
                    format!("{} {path}", method.to_uppercase()),
                    operation.clone(),
                );
            }
        }
    }
    found
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

/// Every `$ref` anywhere under `value`.
fn references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => into.push(target.clone()),
                    _ => references(child, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_template_routes_with_their_authorisation() {
    let twin = contract_twin();
    let document = document(twin).await;
    assert_eq!(document["openapi"], "3.1.0");
    let operations = operations(&document);

    let template: BTreeMap<String, bool> = twin
        .twin
        .stack
        .routes
        .iter()
        .filter(|route| route.path.is_some())
        .map(|route| (route.key(), route.authorized))
        .collect();
    let in_template: BTreeSet<&String> = template.keys().collect();
    let in_document: BTreeSet<&String> = operations.keys().collect();
    assert_eq!(
        in_template.difference(&in_document).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "routes of the template missing from infra/openapi.yaml"
    );
    assert_eq!(
        in_document.difference(&in_template).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "operations of infra/openapi.yaml the template does not route"
    );

    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for (route, operation) in &operations {
        // An operation's own `security` replaces the document's default (the bearer JWT).
        let security = operation
            .get("security")
            .unwrap_or(&document["security"])
            .as_array()
            .unwrap_or_else(|| panic!("{route}: security is a list"));
        let names: BTreeSet<&str> = security
            .iter()
            .flat_map(|requirement| requirement.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        for name in &names {
            assert!(
                schemes.contains_key(*name),
                "{route}: no security scheme {name}"
            );
        }
        assert_eq!(
            names.contains("bearerAuth"),
            template[route],
            "{route}: the document's bearer requirement and the template's JWT authorizer disagree"
        );
        if route.starts_with("POST /webhooks/") {
            assert_eq!(
                names.len(),
                1,
                "{route}: a webhook is signed by its storefront"
            );
        }

        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{route}: responses"));
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{route}: no success response"
        );
        assert!(
            responses.contains_key("default"),
            "{route}: every other answer is the error body"
        );
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') || status == "default" {
                let response = match response.get("$ref") {
                    Some(Value::String(target)) => resolve(&document, target).unwrap(),
                    _ => response,
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{route} {status}: refusals have the error body"
                );
            }
        }
    }

    let mut targets = Vec::new();
    references(&document, &mut targets);
    for target in targets {
        assert!(
            resolve(&document, &target).is_some(),
            "{target} does not resolve"
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_yaml_with_the_twin_as_its_server() {
    let twin = contract_twin();
    let served = document(twin).await;
    let mut source: Value = serde_json::to_value(
        serde_norway::from_str::<Value>(
            &std::fs::read_to_string(aftercare_e2e::workspace().join("infra/openapi.yaml"))
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    source["servers"] = json!([{"url": twin.twin.api_url, "description": "this local twin"}]);
    assert_eq!(served, source);
}

/// Data the generated requests can reach: a case of `customer` and a refund waiting for
/// finance, so the operations on `/cases/{id}` and `/refunds/{id}` get past "not found".
async fn seed(twin: &TestTwin, customer: &str) -> (String, String) {
    let order = place_order_on(twin, customer, &aftercare_e2e::unique("contract")).await;
    let open =
        |description: &'static str| {
            let order = order.clone();
            async move {
                let (status, case) = answer(
                http()
                    .post(twin.api("/cases"))
                    .bearer_auth(twin.token(customer, "customer"))
                    .json(&json!({"order_id": order, "lines": [{"sku": "SERUM-30", "quantity": 1}],
                                  "description": description}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
                assert_eq!(status, 201, "{case}");
                case["id"].as_str().unwrap().to_owned()
            }
        };
    let case = open("the serum bottle arrived cracked and leaking").await;
    let refunded = open("the pump of the serum is broken and leaking").await;
    let (status, resolved) = answer(
        http()
            .post(twin.api(&format!("/cases/{refunded}/resolve")))
            .bearer_auth(twin.token("agent-contract", "agent"))
            .json(&json!({"remedy": "partial_refund", "amount_minor": 5_000}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    let refund = resolved["resolution"]["refund_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (case, refund)
}

#[tokio::test]
async fn generated_requests_get_no_server_error_and_answers_match_the_document() {
    let twin = contract_twin();
    let customer = "customer-contract";
    let (case, refund) = seed(twin, customer).await;
    let examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES")
        .ok()
        .and_then(|raw| raw.parse::<u32>().ok())
        .unwrap_or(DEFAULT_EXAMPLES);

    // schemathesis keeps its reports and example database out of the repository.
    let run_dir = aftercare_e2e::workspace()
        .join(".local/schemathesis")
        .join(ulid::Ulid::new().to_string());
    std::fs::create_dir_all(&run_dir).unwrap();
    let config = run_dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[operations]]
include-path-regex = "^/cases/\\{{id\\}}"
parameters = {{ "path.id" = "{case}" }}

[[operations]]
include-path-regex = "^/refunds/\\{{id\\}}"
parameters = {{ "path.id" = "{refund}" }}

[[operations]]
include-path = "/products/{{sku}}"
parameters = {{ "path.sku" = "SERUM-30" }}
"#
        ),
    )
    .unwrap();

    let callers: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("customer", Some(twin.token(customer, "customer"))),
        ("agent", Some(twin.token("agent-contract", "agent"))),
        ("expert", Some(twin.token("expert-contract", "expert"))),
        (
            "supervisor",
            Some(twin.token("supervisor-contract", "supervisor")),
        ),
        ("finance", Some(twin.token("finance-contract", "finance"))),
        (
            "payment_integration",
            Some(twin.token("payments-contract", "payment_integration")),
        ),
    ];
    let schemathesis = aftercare_e2e::python().with_file_name("schemathesis");
    let mut failed = Vec::new();
    for (caller, token) in callers {
        let mut command = tokio::process::Command::new(&schemathesis);
        command
            .current_dir(&run_dir)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(twin.api("/openapi.json"))
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", &examples.to_string()])
            .args(["--seed", "20261111"])
            .args(["--generation-database", "none"])
            // One worker: with two threads, Python 3.11's `ast` (hypothesis parses its own
            // source with it) now and then fails with "AST constructor recursion depth
            // mismatch", a CPython race (python/cpython#106905), not a finding.
            .args(["--warnings", "off", "--no-color", "--workers", "1"])
            .env("NO_COLOR", "1");
        if let Some(token) = &token {
            command.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        let output = command
            .output()
            .await
            .unwrap_or_else(|e| panic!("{}: {e} (make setup installs it)", schemathesis.display()));
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let summary = report.lines().last().unwrap_or_default().to_owned();
        println!("schemathesis as {caller}: {summary}");
        if !output.status.success() {
            failed.push(format!("── as {caller} ──\n{report}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
