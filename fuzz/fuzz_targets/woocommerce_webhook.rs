//! WooCommerce bodies, and the ping check that runs before any parsing.
#![no_main]

use aftercare::storefront::woocommerce;
use libfuzzer_sys::fuzz_target;

const TOPICS: [&str; 3] = ["order.created", "order.updated", "order.deleted"];
const CONTENT_TYPES: [Option<&str>; 3] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let topic = TOPICS[usize::from(selector) % TOPICS.len()];
    let content_type = CONTENT_TYPES[usize::from(selector / 4) % CONTENT_TYPES.len()];
    let _ = woocommerce::is_ping(content_type, body);
    let first = woocommerce::parse(topic, "https://shop.example", body);
    let again = woocommerce::parse(topic, "https://shop.example", body);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});
