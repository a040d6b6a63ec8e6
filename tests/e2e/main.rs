//! End-to-end tests: the real function binaries behind the local twin, against moto_server.
//! One test binary, one twin (see `aftercare_e2e::twin`), modules by capability.

mod authorization;
mod edge;
mod events;
mod listings;
mod metrics;
mod photos;
mod products;
mod quality;
mod refund_requests;
mod refunds;
mod sources;
mod stack;
mod surveys;
mod walking_skeleton;
mod webhooks;
mod workflow;

pub use aftercare_e2e::{answer, http};

/// Places an order for `customer` through the signed generic webhook, as a storefront would,
/// and returns its Aftercare order reference. The order holds one SERUM-30 and two TONER-200
/// (the `generic-order-upserted` fixture), delivered yesterday.
pub async fn place_order(customer: &str) -> String {
    place_order_as(customer, &aftercare_e2e::unique("order")).await
}

/// [`place_order`] under a chosen storefront order id.
pub async fn place_order_as(customer: &str, order_id: &str) -> String {
    aftercare_e2e::place_order_on(aftercare_e2e::twin(), customer, order_id).await
}
