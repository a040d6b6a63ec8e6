//! Decimal amounts as storefronts send them: parse to minor units or refuse, never overflow.
#![no_main]

use aftercare::money::{Currency, parse_amount};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let currency = ["CNY", "USD", "JPY", "KWD", "EUR"][usize::from(selector) % 5];
    let Ok(currency) = currency.parse::<Currency>() else {
        return;
    };
    let _ = parse_amount(text, currency);
});
