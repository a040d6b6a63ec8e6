//! End-to-end tests: the real function binaries behind the local twin, against moto_server.
//! One test binary, one twin (see `aftercare_e2e::twin`), modules by capability.

mod edge;
mod events;
mod listings;
mod products;
mod sources;
mod stack;
mod walking_skeleton;
mod webhooks;
mod workflow;

use serde_json::Value;

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

/// Places an order for `customer` through the signed generic webhook, as a storefront would,
/// and returns its Aftercare order reference. The order holds one SERUM-30 and two TONER-200
/// (the `generic-order-upserted` fixture), delivered yesterday.
pub async fn place_order(customer: &str) -> String {
    place_order_as(customer, &aftercare_e2e::unique("order")).await
}

/// [`place_order`] under a chosen storefront order id.
pub async fn place_order_as(customer: &str, order_id: &str) -> String {
    let twin = aftercare_e2e::twin();
    let path = aftercare_e2e::workspace()
        .join("shared/tests/fixtures/webhooks/generic-order-upserted.json");
    let mut payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    payload["event_id"] = Value::from(aftercare_e2e::unique("event"));
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
