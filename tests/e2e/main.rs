//! End-to-end tests: the real function binaries behind the local twin, against moto_server.
//! One test binary, one twin (see `aftercare_e2e::twin`), modules by capability.

mod edge;
mod events;
mod products;
mod sources;
mod stack;
mod walking_skeleton;
mod webhooks;

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
