//! The classifier over any text, Chinese, English or garbage: its documented invariants hold.
#![no_main]

use aftercare::classify::{ComplaintContext, classify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&earlier, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let context = ComplaintContext {
        earlier_cases_90d: u32::from(earlier % 5),
    };
    let classification = classify(&text, &context);
    assert_eq!(
        classification,
        classify(&text, &context),
        "not deterministic"
    );
    assert!(
        !classification
            .also_mentioned
            .contains(&classification.category),
        "the category is also listed as merely mentioned"
    );
    let mut flags = classification.risk_flags.clone();
    flags.sort();
    flags.dedup();
    assert_eq!(
        flags, classification.risk_flags,
        "risk flags not sorted or repeated"
    );
    let mut evidence = classification.evidence.clone();
    evidence.sort();
    evidence.dedup();
    assert_eq!(
        evidence.len(),
        classification.evidence.len(),
        "evidence repeated"
    );
});
