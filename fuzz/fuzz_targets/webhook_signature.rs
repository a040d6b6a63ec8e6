//! The HMAC check every webhook passes before its body is read.
#![no_main]

use aftercare::storefront::{sign, verify_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [secret length][secret][signature length][claimed signature][body]
    let Some((&secret_len, rest)) = data.split_first() else {
        return;
    };
    let (secret, rest) = rest.split_at(usize::from(secret_len).min(rest.len()));
    let Some((&claim_len, rest)) = rest.split_first() else {
        return;
    };
    let (claim, body) = rest.split_at(usize::from(claim_len).min(rest.len()));
    let claim = String::from_utf8_lossy(claim);

    let genuine = sign(secret, body);
    assert!(verify_signature(secret, body, &genuine));
    assert!(verify_signature(secret, body, &format!(" {genuine}\n")));
    // A claimed signature passes only if it is the genuine one (surrounding whitespace aside;
    // base64 has one encoding of 32 bytes, so no other spelling decodes to the same MAC).
    if verify_signature(secret, body, &claim) {
        assert_eq!(claim.trim(), genuine);
    }
    // The same signature over a different body never passes.
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(!verify_signature(secret, &other, &genuine));
});
