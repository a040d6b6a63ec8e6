//! Aftercare's own webhook format: the envelope and every event type.
#![no_main]

use aftercare::storefront::generic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let delivery = generic::parse_delivery(data);
    let parsed = generic::parse(data);
    // `parse` is `parse_delivery` without the envelope: both accept or refuse together.
    assert_eq!(delivery.is_ok(), parsed.is_ok());
    if let (Ok(delivery), Ok((source, event))) = (delivery, parsed) {
        assert_eq!(delivery.source, source);
        assert_eq!(delivery.event, event);
        assert!(
            !delivery.event_id.is_empty(),
            "an empty event id cannot deduplicate"
        );
    }
});
