//! Bad input at the edge: each gets a 4xx with the documented error body, and nothing is
//! written.

use aftercare_e2e::{twin, unique};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::{answer, http};

/// How many cases the customer has in the store.
async fn cases_of(customer: &str) -> i32 {
    let twin = twin();
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    dynamodb
        .query()
        .table_name(twin.name_of("CasesTable"))
        .index_name("cases-by-customer")
        .key_condition_expression("customer_id = :c")
        .expression_attribute_values(":c", AttributeValue::S(customer.to_owned()))
        .send()
        .await
        .unwrap()
        .count
}

fn assert_error_body(
    status: u16,
    body: &serde_json::Value,
    want_status: u16,
    want_code: &str,
    what: &str,
) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["error"]["code"], want_code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.len() > 10,
        "{what}: a human sentence, got {message:?}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "{what}: only the error key"
    );
}

#[tokio::test]
async fn bad_bodies_are_refused_and_nothing_is_written() {
    let twin = twin();
    let customer = unique("c");
    let token = twin.token(&customer, "customer");
    let valid =
        json!({"order_id": "1", "lines": [{"sku": "A", "quantity": 1}], "description": "leaking"});
    let mut with_extra = valid.clone();
    with_extra["refund_me"] = json!(true);
    let too_long = json!({"order_id": "1", "lines": [{"sku": "A", "quantity": 1}], "description": "漏".repeat(2001)});
    let huge = format!(
        r#"{{"order_id":"1","lines":[{{"sku":"A","quantity":1}}],"description":"{}"}}"#,
        "a".repeat(1024 * 1024 + 1)
    );
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "malformed JSON",
            "application/json",
            "{\"order_id\": ".into(),
            400,
            "malformed_json",
        ),
        (
            "missing field",
            "application/json",
            r#"{"order_id":"1"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "unexpected field",
            "application/json",
            with_extra.to_string(),
            400,
            "invalid_request",
        ),
        (
            "wrong type",
            "application/json",
            r#"{"order_id":"1","lines":"A","description":"x"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "wrong content type",
            "text/plain",
            valid.to_string(),
            415,
            "unsupported_media_type",
        ),
        (
            "empty body",
            "application/json",
            String::new(),
            400,
            "missing_body",
        ),
        (
            "description over 2000 characters",
            "application/json",
            too_long.to_string(),
            422,
            "validation_failed",
        ),
        (
            "quantity zero",
            "application/json",
            r#"{"order_id":"1","lines":[{"sku":"A","quantity":0}],"description":"x"}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "body over 1 MiB",
            "application/json",
            huge,
            413,
            "payload_too_large",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let response = http()
            .post(twin.api("/cases"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (got, body) = answer(response).await;
        assert_error_body(got, &body, status, code, what);
    }
    assert_eq!(
        cases_of(&customer).await,
        0,
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn missing_expired_and_forged_tokens_get_401() {
    let twin = twin();
    let customer = unique("c");
    let body =
        json!({"order_id": "1", "lines": [{"sku": "A", "quantity": 1}], "description": "leaking"});
    let expired = twin.twin.token(&customer, "customer", -120).unwrap();
    let valid = twin.token(&customer, "customer");
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    // Same header and signature, claims rewritten to another role: the signature no longer fits.
    let claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"iss": "https://auth.example.com/", "aud": "aftercare-api", "sub": customer, "role": "finance",
               "exp": chrono::Utc::now().timestamp() + 600}).to_string(),
    );
    parts[1] = claims;
    let forged = parts.join(".");
    for (what, token) in [
        ("no token", None),
        ("expired", Some(expired)),
        ("forged", Some(forged)),
        ("garbage", Some("abc".to_owned())),
    ] {
        let mut request = http().post(twin.api("/cases")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{what}"
        );
        let (status, body) = answer(response).await;
        assert_error_body(status, &body, 401, "unauthorized", what);
    }
    assert_eq!(cases_of(&customer).await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_body() {
    let twin = twin();
    let token = twin.token(&unique("c"), "customer");
    let (status, body) = answer(http().get(twin.api("/nowhere")).send().await.unwrap()).await;
    assert_error_body(status, &body, 404, "route_not_found", "unknown path");
    let (status, body) = answer(
        http()
            .delete(twin.api("/cases/01KAQ5Z8W1G7M3N9P2R4T6V8X0"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error_body(status, &body, 405, "method_not_allowed", "wrong method");
    let (status, body) = answer(http().put(twin.api("/cases")).send().await.unwrap()).await;
    assert_error_body(
        status,
        &body,
        405,
        "method_not_allowed",
        "wrong method without token",
    );
    let (status, body) = answer(
        http()
            .get(twin.api("/cases/not-a-case-id"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error_body(status, &body, 404, "not_found", "malformed case id");
}

#[tokio::test]
async fn roles_are_enforced_by_the_functions() {
    let twin = twin();
    let body =
        json!({"order_id": "1", "lines": [{"sku": "A", "quantity": 1}], "description": "leaking"});
    let agent = unique("a");
    let (status, answer_body) = answer(
        http()
            .post(twin.api("/cases"))
            .bearer_auth(twin.token(&agent, "agent"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error_body(
        status,
        &answer_body,
        403,
        "forbidden",
        "agent opening a case",
    );
    for role in ["customer", "agent", "expert", "supervisor"] {
        let (status, body) = answer(
            http()
                .get(twin.api("/refunds"))
                .bearer_auth(twin.token(&unique("u"), role))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error_body(status, &body, 403, "forbidden", role);
    }
    let (status, body) = answer(
        http()
            .get(twin.api("/refunds?status=pending"))
            .bearer_auth(twin.token(&unique("f"), "finance"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refunds"].is_array());
}
