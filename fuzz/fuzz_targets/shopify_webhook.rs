//! Shopify bodies under every topic we act on (and one we ignore): parse or refuse, never panic.
#![no_main]

use aftercare::storefront::shopify;
use libfuzzer_sys::fuzz_target;

const TOPICS: [&str; 7] = [
    "orders/create",
    "orders/updated",
    "fulfillments/create",
    "fulfillments/update",
    "returns/request",
    "refunds/create",
    "customers/create",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let topic = TOPICS[usize::from(selector) % TOPICS.len()];
    let first = shopify::parse(topic, "glow-lab.myshopify.com", body);
    // Deterministic: a retried delivery must be read the same way.
    let again = shopify::parse(topic, "glow-lab.myshopify.com", body);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});
