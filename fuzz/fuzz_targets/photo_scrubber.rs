//! The photo sniffer and metadata scrubber over any bytes, fed in any chunking: it accepts or
//! refuses, never panics, and the chunking never changes the outcome.
#![no_main]

use std::io::Cursor;

use aftercare::photo::{PhotoFormat, PhotoScrubber};
use libfuzzer_sys::fuzz_target;

fn scrub(
    declared: PhotoFormat,
    bytes: &[u8],
    chunk: usize,
) -> Result<(aftercare::photo::InspectedPhoto, Vec<u8>), aftercare::photo::PhotoRejection> {
    let len = u64::try_from(bytes.len()).expect("fits");
    let mut scrubber = PhotoScrubber::new(declared, len, Cursor::new(Vec::new()));
    for piece in bytes.chunks(chunk.max(1)) {
        scrubber.push(piece)?;
    }
    let (photo, out) = scrubber.finish()?;
    Ok((photo, out.into_inner()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let declared = PhotoFormat::ALL[usize::from(selector) % PhotoFormat::ALL.len()];
    let chunk = usize::from(selector >> 2) + 1;
    let whole = scrub(declared, bytes, bytes.len());
    let chunked = scrub(declared, bytes, chunk);
    assert_eq!(whole, chunked, "the outcome depends on the chunking");
    if let Ok((photo, out)) = whole {
        assert_eq!(
            photo.format, declared,
            "accepted as another format than declared"
        );
        assert_eq!(photo.bytes_out, u64::try_from(out.len()).expect("fits"));
        assert!(photo.bytes_out <= photo.bytes_in, "scrubbing added bytes");
        assert!(
            photo.width > 0 && photo.height > 0,
            "an image without pixels"
        );
    }
});
