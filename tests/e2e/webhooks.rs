//! Storefront webhooks through the real intake binary: signatures, duplicates (also 20 at
//! once), stale deliveries, and what is stored. Payloads and headers are the fixtures with the
//! platforms' real shapes (`shared/tests/fixtures/webhooks`), signed here with the local
//! development secrets.

use std::collections::HashMap;

use aftercare_e2e::{twin, unique, workspace};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::{answer, http};

/// A fixture's payload and headers.
fn fixture(name: &str) -> (Value, HashMap<String, String>) {
    let dir = workspace().join("shared/tests/fixtures/webhooks");
    let payload =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let headers = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.headers.json"))).unwrap(),
    )
    .unwrap();
    (payload, headers)
}

const SECRETS: &[(&str, &str, &str)] = &[
    ("shopify", "x-shopify-hmac-sha256", "dev-shopify-secret"),
    ("woocommerce", "x-wc-webhook-signature", "dev-woo-secret"),
    ("generic", "x-aftercare-signature", "dev-generic-secret"),
];

/// Posts `payload` to `/webhooks/<platform>` with `headers`, signed unless `secret` is None.
async fn post(
    platform: &str,
    payload: &Value,
    headers: &HashMap<String, String>,
    secret: Option<&str>,
) -> (u16, Value) {
    let body = serde_json::to_vec(payload).unwrap();
    let mut request = http()
        .post(twin().api(&format!("/webhooks/{platform}")))
        .body(body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(secret) = secret {
        let header = SECRETS.iter().find(|(p, _, _)| *p == platform).unwrap().1;
        request = request.header(
            header,
            aftercare::storefront::sign(secret.as_bytes(), &body),
        );
    }
    answer(request.send().await.unwrap()).await
}

fn dev_secret(platform: &str) -> Option<&'static str> {
    SECRETS
        .iter()
        .find(|(p, _, _)| *p == platform)
        .map(|(_, _, s)| *s)
}

async fn stored_order(reference: &str) -> Option<HashMap<String, AttributeValue>> {
    let twin = twin();
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    dynamodb
        .get_item()
        .table_name(twin.name_of("OrdersTable"))
        .key("order_id", AttributeValue::S(reference.into()))
        .key("entry", AttributeValue::S("order".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn order_entries(reference: &str) -> Vec<String> {
    let twin = twin();
    let dynamodb = aws_sdk_dynamodb::Client::new(&twin.aws().await);
    let mut entries: Vec<String> = dynamodb
        .query()
        .table_name(twin.name_of("OrdersTable"))
        .key_condition_expression("order_id = :id")
        .expression_attribute_values(":id", AttributeValue::S(reference.into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| item["entry"].as_s().unwrap().clone())
        .collect();
    entries.sort();
    entries
}

/// A Shopify order fixture under a fresh order id and event id, so tests never collide.
fn fresh_shopify_order() -> (String, Value, HashMap<String, String>) {
    let (mut payload, mut headers) = fixture("shopify-orders-create");
    let id = ulid::Ulid::new().0 as u64 >> 12;
    payload["id"] = Value::from(id);
    // A customer of its own too: cases listed per customer never mix between tests.
    payload["customer"]["id"] = Value::from(id + 1);
    headers.insert("X-Shopify-Event-Id".into(), unique("event"));
    let shop = headers["X-Shopify-Shop-Domain"].clone();
    (format!("shopify:{shop}:{id}"), payload, headers)
}

#[tokio::test]
async fn a_signed_shopify_order_is_stored_with_its_lines_once() {
    let (reference, payload, headers) = fresh_shopify_order();
    let (status, body) = post("shopify", &payload, &headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("applied")),
        "{body}"
    );

    let order = stored_order(&reference).await.expect("the order is stored");
    let snapshot = order["snapshot"].as_m().unwrap();
    assert_eq!(snapshot["currency"].as_s().unwrap(), "CNY");
    let lines = snapshot["lines"].as_l().unwrap();
    assert_eq!(lines.len(), 3);
    let serum = lines[0].as_m().unwrap();
    assert_eq!(serum["sku"].as_s().unwrap(), "SERUM-30");
    assert_eq!(serum["batch"].as_s().unwrap(), "S2409A");
    assert_eq!(
        order["customer_id"].as_s().unwrap(),
        &payload["customer"]["id"].to_string()
    );
    let entries = order_entries(&reference).await;
    assert_eq!(
        entries.iter().filter(|e| e.starts_with("line#")).count(),
        3,
        "{entries:?}"
    );

    // Twenty redeliveries at once: every one answers 200, none changes anything.
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let (payload, headers) = (payload.clone(), headers.clone());
            tokio::spawn(
                async move { post("shopify", &payload, &headers, dev_secret("shopify")).await },
            )
        })
        .collect();
    for copy in copies {
        let (status, body) = copy.await.unwrap();
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("duplicate")),
            "{body}"
        );
    }
    assert_eq!(order_entries(&reference).await, entries);
}

#[tokio::test]
async fn twenty_first_deliveries_at_once_store_the_order_once() {
    let (reference, payload, headers) = fresh_shopify_order();
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let (payload, headers) = (payload.clone(), headers.clone());
            tokio::spawn(
                async move { post("shopify", &payload, &headers, dev_secret("shopify")).await },
            )
        })
        .collect();
    let mut applied = 0;
    for copy in copies {
        let (status, body) = copy.await.unwrap();
        assert_eq!(status, 200, "{body}");
        match body["status"].as_str() {
            Some("applied") => applied += 1,
            Some("duplicate") => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1, "exactly one delivery wrote the order");
    assert!(stored_order(&reference).await.is_some());
}

#[tokio::test]
async fn an_older_delivery_never_overwrites_newer_data() {
    let (reference, created, created_headers) = fresh_shopify_order();
    let (mut updated, mut updated_headers) = fixture("shopify-orders-updated");
    updated["id"] = created["id"].clone();
    updated_headers.insert("X-Shopify-Event-Id".into(), unique("event"));

    // The update (newer) arrives first; the creation (older) after it is stale.
    let (status, body) = post("shopify", &updated, &updated_headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    let (status, body) = post("shopify", &created, &created_headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("stale")),
        "{body}"
    );
    let order = stored_order(&reference).await.unwrap();
    assert_eq!(
        order["source_updated_at"].as_s().unwrap(),
        "2026-11-14T07:25:02.000Z"
    );
}

#[tokio::test]
async fn bad_signatures_get_401_and_write_nothing() {
    let (reference, payload, headers) = fresh_shopify_order();
    for secret in [None, Some("someone-elses-secret")] {
        let (status, body) = post("shopify", &payload, &headers, secret).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_signature")),
            "{body}"
        );
    }
    // Signed, then altered in transit.
    let body = serde_json::to_vec(&payload).unwrap();
    let signature = aftercare::storefront::sign(b"dev-shopify-secret", &body);
    let mut tampered = payload.clone();
    tampered["total_price"] = Value::from("0.01");
    let mut request = http()
        .post(twin().api("/webhooks/shopify"))
        .body(serde_json::to_vec(&tampered).unwrap());
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let (status, _) = answer(
        request
            .header("x-shopify-hmac-sha256", signature)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        order_entries(&reference).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn deliveries_and_refunds_are_kept_on_the_order_in_whatever_order_they_arrive() {
    let (reference, order, headers) = fresh_shopify_order();
    // The delivery and the refund overtake the order itself.
    for name in [
        "shopify-fulfillments-update-delivered",
        "shopify-refunds-create",
    ] {
        let (mut payload, mut headers) = fixture(name);
        payload["order_id"] = order["id"].clone();
        headers.insert("X-Shopify-Event-Id".into(), unique("event"));
        let (status, body) = post("shopify", &payload, &headers, dev_secret("shopify")).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("applied")),
            "{name}: {body}"
        );
    }
    assert_eq!(
        post("shopify", &order, &headers, dev_secret("shopify"))
            .await
            .0,
        200
    );
    let item = stored_order(&reference).await.expect("the order item");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert!(item.contains_key("snapshot"), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("delivery:2026-11-14T07:20:41")),
        "{names:?}"
    );
    assert!(names.contains(&"refund:1017625346135"), "{names:?}");
}

#[tokio::test]
async fn woocommerce_pings_orders_and_redeliveries() {
    let ping = std::fs::read_to_string(
        workspace().join("shared/tests/fixtures/webhooks/woocommerce-ping.txt"),
    )
    .unwrap();
    let response = http()
        .post(twin().api("/webhooks/woocommerce"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-wc-webhook-source", "https://shop.example.com/")
        .body(ping.trim().to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the creation ping is answered unsigned"
    );

    let (mut payload, headers) = fixture("woocommerce-order-created");
    let id = (ulid::Ulid::new().0 as u64) >> 20;
    payload["id"] = Value::from(id);
    let (status, body) = post("woocommerce", &payload, &headers, dev_secret("woocommerce")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    // WooCommerce gives every delivery a new delivery id: the same order version is still a duplicate.
    let mut again = headers.clone();
    again.insert("X-WC-Webhook-Delivery-ID".into(), unique("delivery"));
    let (status, body) = post("woocommerce", &payload, &again, dev_secret("woocommerce")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("duplicate")),
        "{body}"
    );
    assert!(
        stored_order(&format!("woocommerce:shop.example.com:{id}"))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_generic_format_is_signed_per_source() {
    let (mut payload, headers) = fixture("generic-order-upserted");
    payload["event_id"] = Value::from(unique("event"));
    let order_id = unique("order");
    payload["data"]["order_id"] = Value::from(order_id.clone());
    let (status, body) = post("generic", &payload, &headers, dev_secret("generic")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    let source = headers["X-Aftercare-Source"].clone();
    assert!(
        stored_order(&format!("generic:{source}:{order_id}"))
            .await
            .is_some()
    );

    let mut malformed = payload.clone();
    malformed["event_id"] = Value::from(unique("event"));
    malformed["data"]["currency"] = Value::from("not-a-currency");
    let (status, body) = post("generic", &malformed, &headers, dev_secret("generic")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_webhook")),
        "{body}"
    );
}

#[tokio::test]
async fn a_shopify_return_request_opens_a_case_for_the_order_s_customer_once() {
    let (_, order, order_headers) = fresh_shopify_order();
    let (mut request, mut headers) = fixture("shopify-returns-request");
    request["order"]["id"] = order["id"].clone();
    headers.insert("X-Shopify-Event-Id".into(), unique("event"));

    // Before the order itself has arrived the storefront is asked to retry.
    let (status, body) = post("shopify", &request, &headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("order_not_yet_known")),
        "{body}"
    );

    assert_eq!(
        post("shopify", &order, &order_headers, dev_secret("shopify"))
            .await
            .0,
        200
    );
    let (status, body) = post("shopify", &request, &headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    let (status, body) = post("shopify", &request, &headers, dev_secret("shopify")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("duplicate")),
        "{body}"
    );

    let customer = order["customer"]["id"].to_string();
    let (status, cases) = answer(
        http()
            .get(twin().api("/cases"))
            .bearer_auth(twin().token(&customer, "customer"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{cases}");
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        1,
        "one case for one return, however often it is delivered"
    );
    let id = cases[0]["id"].as_str().unwrap();
    let (_, case) = answer(
        http()
            .get(twin().api(&format!("/cases/{id}")))
            .bearer_auth(twin().token(&customer, "customer"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(case["lines"].as_array().unwrap().len(), 2, "{case}");
    assert_eq!(case["timeline"][0]["actor"], "storefront:shopify");
    assert_eq!(
        case["classification"]["category"], "quality_defect",
        "{case}"
    );
}
