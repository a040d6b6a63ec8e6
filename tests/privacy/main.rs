//! No personal data or credential in any function's log.
//!
//! A twin of its own runs the flows that carry them: a Shopify order with the customer's e-mail
//! address and phone number, a generic order with an e-mail address, a case whose description and
//! reply quote both, a photo uploaded through its presigned URL and read back through presigned
//! links, a refund approved and settled, refused requests with a malformed and an expired token,
//! and a survey e-mailed and answered through its link. Then every line every function wrote is
//! searched for each secret the flows used (bearer tokens, the survey token, e-mail addresses,
//! phone numbers in the ways they were written, presigned URLs, photo object keys) and for
//! anything shaped like one (an e-mail address, a JWT, an S3 signature parameter, a photo key).
//! The functions log at the deployed level (the template's `ApplicationLogLevel`, INFO); our code
//! writes nothing below it.

use std::collections::HashMap;
use std::time::Duration;

use aftercare::photo::samples;
use aftercare::survey::SurveyToken;
use aftercare_e2e::{
    TestTwin, answer, eventually, http, place_order_with, sent_emails, twin_options, unique,
};
use chrono::Utc;
use serde_json::{Value, json};

const SURVEY_BASE_URL: &str = "https://help.glow-lab.example";

fn privacy_twin() -> TestTwin {
    TestTwin::start(twin_options(
        "debug",
        &[
            ("QueueVisibilityTimeoutSeconds", "1"),
            ("QueueMaxReceiveCount", "2"),
            ("SurveyDelayMinutes", "60"),
            ("SurveyBaseUrl", SURVEY_BASE_URL),
        ],
    ))
}

/// What the flows handed the system that must never reach a log.
#[derive(Default)]
struct Secrets {
    found: Vec<(&'static str, String)>,
}

impl Secrets {
    fn add(&mut self, kind: &'static str, value: impl Into<String>) {
        let value = value.into();
        assert!(!value.is_empty(), "an empty {kind}");
        self.found.push((kind, value));
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    answer(request.send().await.unwrap()).await
}

/// Anything in `line` shaped like an e-mail address: `local@domain.tld`.
fn email_in(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    for (at, _) in line.match_indices('@') {
        let local = bytes[..at]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(b))
            .count();
        let domain = &line[at + 1..];
        let domain_len = domain
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || b".-".contains(b))
            .count();
        let domain = domain[..domain_len].trim_end_matches('.');
        if local > 0
            && domain
                .rsplit_once('.')
                .is_some_and(|(host, tld)| !host.is_empty() && tld.len() >= 2)
        {
            return Some(&line[at - local..at + 1 + domain.len()]);
        }
    }
    None
}

/// What in `line` looks like a credential or a photo's storage place, whoever it belongs to.
fn shaped_like_a_secret(line: &str) -> Option<String> {
    if let Some(email) = email_in(line) {
        return Some(format!("an e-mail address ({email})"));
    }
    // A JWT's header is base64url JSON, so every token starts with `eyJ`.
    if let Some(at) = line.find("eyJ") {
        return Some(format!("a JWT ({}…)", &line[at..(at + 12).min(line.len())]));
    }
    for marker in ["X-Amz-Signature", "X-Amz-Credential", "x-amz-signature"] {
        if line.contains(marker) {
            return Some(format!("a presigned URL ({marker})"));
        }
    }
    for prefix in ["uploads/cases/", "photos/cases/"] {
        if line.contains(prefix) {
            return Some(format!("a photo key ({prefix}…)"));
        }
    }
    None
}

/// A Shopify order webhook from the fixture, with the customer's contact details.
async fn shopify_order(twin: &TestTwin, email: &str, phone: &str) {
    let fixtures = aftercare_e2e::workspace().join("shared/tests/fixtures/webhooks");
    let mut payload: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("shopify-orders-create.json")).unwrap(),
    )
    .unwrap();
    let headers: HashMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("shopify-orders-create.headers.json")).unwrap(),
    )
    .unwrap();
    let id = ulid::Ulid::new().0 as u64 >> 12;
    payload["id"] = json!(id);
    payload["email"] = json!(email);
    payload["contact_email"] = json!(email);
    payload["phone"] = json!(phone);
    payload["customer"]["id"] = json!(id + 1);
    payload["customer"]["email"] = json!(email);
    payload["customer"]["phone"] = json!(phone);
    let body = serde_json::to_vec(&payload).unwrap();
    let mut request = http()
        .post(twin.api("/webhooks/shopify"))
        .body(body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request = request
        .header("X-Shopify-Event-Id", unique("event"))
        .header(
            "x-shopify-hmac-sha256",
            aftercare::storefront::sign(b"dev-shopify-secret", &body),
        );
    let (status, answer) = send(request).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn no_log_line_holds_a_token_an_address_a_phone_number_a_presigned_url_or_a_photo_key() {
    let twin = privacy_twin();
    let mut secrets = Secrets::default();
    let customer = unique("c");
    let email = format!("{}@glow-lab-customers.example", unique("mei.lin"));
    let phone = "+86 139 1234 5678";
    let phone_digits = "13912345678";
    secrets.add("e-mail address", &email);
    secrets.add("phone number", phone);
    secrets.add("phone number", phone_digits);

    // Orders carrying contact details, through both webhook parsers.
    shopify_order(&twin, &email, phone).await;
    let mail = email.clone();
    let order = place_order_with(&twin, &customer, &unique("order"), move |data| {
        data["customer_email"] = json!(mail);
    })
    .await;

    // A case whose text quotes them, answered and resolved with a refund.
    let me = twin.token(&customer, "customer");
    let agent = twin.token("agent-privacy", "agent");
    let finance = twin.token("finance-privacy", "finance");
    let payments = twin.token("payments-privacy", "payment_integration");
    for token in [&me, &agent, &finance, &payments] {
        secrets.add("bearer token", token.clone());
    }
    let (status, case) = send(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(&me)
            .header("Idempotency-Key", unique("key"))
            .json(&json!({
                "order_id": order,
                "lines": [{"sku": "SERUM-30", "quantity": 1}],
                "description": format!(
                    "The serum bottle arrived cracked and leaking. Call me on {phone_digits} or \
                     write to {email}."
                ),
            })),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();

    // A photo: the upload grant, the PUT to the presigned URL, the verified photo's links.
    let photo = samples::jpeg_with_gps(64, 48);
    let (status, grant) = send(
        http()
            .post(twin.api(&format!("/cases/{case}/photos")))
            .bearer_auth(&me)
            .json(&json!({"content_type": "image/jpeg", "content_length": photo.len()})),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    let upload_url = grant["upload_url"].as_str().unwrap().to_owned();
    secrets.add("presigned URL", &upload_url);
    let key = reqwest::Url::parse(&upload_url).unwrap().path().to_owned();
    secrets.add(
        "photo key",
        key.trim_start_matches('/').split_once('/').unwrap().1,
    );
    let mut put = http().put(&upload_url);
    for (name, value) in grant["headers"].as_object().unwrap() {
        if name != "content-length" {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    assert!(put.body(photo).send().await.unwrap().status().is_success());
    let photos = eventually(
        &twin,
        "PhotoUploadFunction",
        "the photo attached",
        Duration::from_secs(30),
        || async {
            let (_, listed) = send(
                http()
                    .get(twin.api(&format!("/cases/{case}/photos")))
                    .bearer_auth(&me),
            )
            .await;
            listed["photos"]
                .as_array()
                .filter(|photos| !photos.is_empty())
                .cloned()
        },
    )
    .await;
    for photo in &photos {
        let url = photo["url"].as_str().unwrap();
        secrets.add("presigned URL", url);
        let key = reqwest::Url::parse(url).unwrap().path().to_owned();
        secrets.add(
            "photo key",
            key.trim_start_matches('/').split_once('/').unwrap().1,
        );
    }

    let (status, body) = send(
        http()
            .post(twin.api(&format!("/cases/{case}/replies")))
            .bearer_auth(&agent)
            .json(&json!({"message": format!("We will call you on {phone} today.")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, resolved) = send(
        http()
            .post(twin.api(&format!("/cases/{case}/resolve")))
            .bearer_auth(&agent)
            .json(&json!({"remedy": "partial_refund", "amount_minor": 5_000,
                          "note": format!("Refund agreed with {email}.")})),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    let refund = resolved["resolution"]["refund_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // With its photo the claim may have been approved without finance already.
    if resolved["resolution"]["refund_status"] != "approved" {
        let (status, body) = send(
            http()
                .post(twin.api(&format!("/refunds/{refund}/approve")))
                .bearer_auth(&finance)
                .json(&json!({})),
        )
        .await;
        assert!(status == 200 || status == 409, "{body}");
    }
    let (status, body) = send(
        http()
            .get(twin.api(&format!("/refunds/{refund}")))
            .bearer_auth(&finance),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let (status, body) = send(
        http()
            .post(twin.api(&format!("/refunds/{refund}/settlement")))
            .bearer_auth(&payments)
            .json(&json!({"outcome": "paid", "provider_reference": unique("pay")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Refused callers: a token that is not one, an expired one.
    let expired = twin.twin.token(&customer, "customer", -120).unwrap();
    secrets.add("bearer token", &expired);
    let forged = format!("{}x", &me[..me.len() - 1]);
    secrets.add("bearer token", &forged);
    for token in [&expired, &forged, &"not-a-jwt".to_owned()] {
        let (status, body) = send(
            http()
                .get(twin.api(&format!("/cases/{case}")))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(status, 401, "{body}");
    }

    // Refusals the functions themselves make: a case of someone else, a webhook signed wrongly.
    let stranger = twin.token(&unique("c"), "customer");
    secrets.add("bearer token", &stranger);
    let (status, body) = send(
        http()
            .get(twin.api(&format!("/cases/{case}")))
            .bearer_auth(&stranger),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let forged_hook =
        serde_json::to_vec(&json!({"event_id": unique("e"), "type": "order.upserted",
        "source": "glow-lab-tmall", "occurred_at": Utc::now().to_rfc3339(),
        "data": {"customer_email": email, "phone": phone}}))
        .unwrap();
    let (status, body) = send(
        http()
            .post(twin.api("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-aftercare-source", "glow-lab-tmall")
            .header(
                "x-aftercare-signature",
                aftercare::storefront::sign(b"wrong", &forged_hook),
            )
            .body(forged_hook),
    )
    .await;
    assert_eq!(status, 401, "{body}");

    // The survey, sent once it is due, answered through its link.
    let (status, body) = send(
        http()
            .post(twin.api(&format!("/cases/{case}/close")))
            .bearer_auth(&me)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    twin.fire_schedule(
        "SurveyDispatchFunction",
        Utc::now() + chrono::Duration::minutes(61),
    )
    .await
    .expect("the survey sweep runs");
    let body = eventually(
        &twin,
        "SurveyDispatchFunction",
        "the survey e-mail",
        Duration::from_secs(30),
        || async {
            sent_emails(&twin)
                .await
                .into_iter()
                .find(|(to, _, _)| *to == email)
                .map(|(_, _, body)| body)
        },
    )
    .await;
    let start = body.find("/surveys/").expect("a survey link") + "/surveys/".len();
    let survey = body[start..start + SurveyToken::CHARS].to_owned();
    secrets.add("survey token", &survey);
    let (status, form) = send(http().get(twin.api(&format!("/surveys/{survey}")))).await;
    assert_eq!(status, 200, "{form}");
    let (status, body) = send(
        http()
            .post(twin.api(&format!("/surveys/{survey}")))
            .json(&json!({"csat": 5, "comment": format!("Reach me at {email}")})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");

    // Every line of every function's log.
    let mut lines = 0;
    let mut leaks = Vec::new();
    for function in &twin.twin.stack.functions {
        let function = &function.logical;
        let log = twin.function_log(function);
        for line in log.lines() {
            lines += 1;
            for (kind, value) in &secrets.found {
                if line.contains(value.as_str()) {
                    leaks.push(format!("{function}: {kind} in: {line}"));
                }
            }
            if let Some(what) = shaped_like_a_secret(line) {
                leaks.push(format!("{function}: {what} in: {line}"));
            }
        }
    }
    println!(
        "{lines} log lines of {} functions searched for {} secrets",
        twin.twin.stack.functions.len(),
        secrets.found.len()
    );
    for function in [
        "IntakeFunction",
        "PhotoUploadFunction",
        "RefundApprovalFunction",
        "SurveyDispatchFunction",
    ] {
        assert!(
            !twin.function_log(function).trim().is_empty(),
            "{function} ran but logged nothing: is its log captured?"
        );
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn the_shape_checks_find_what_they_look_for_and_nothing_else() {
    assert_eq!(
        email_in(r#"{"to":"mei.lin@example.com"}"#),
        Some("mei.lin@example.com")
    );
    assert_eq!(email_in("owner@ host"), None);
    assert_eq!(email_in("case 01JD… at 2026-12-06T10:00:00Z"), None);
    assert!(shaped_like_a_secret("token eyJhbGciOiJSUzI1NiJ9.x.y").is_some());
    assert!(shaped_like_a_secret("GET /b/k?X-Amz-Signature=abc").is_some());
    assert!(shaped_like_a_secret("key uploads/cases/01J/01K").is_some());
    assert!(
        shaped_like_a_secret(r#"{"level":"INFO","fields":{"message":"case opened"}}"#).is_none()
    );
}
