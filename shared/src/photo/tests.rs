use std::io::{Cursor, Seek, SeekFrom, Write};

use super::samples::{self, SampleRng};
use super::*;

type Scrubbed = Result<(InspectedPhoto, Vec<u8>), PhotoRejection>;

fn scrub_in_chunks(bytes: &[u8], declared: PhotoFormat, chunk: usize) -> Scrubbed {
    let mut scrubber = PhotoScrubber::new(declared, len64(bytes), Cursor::new(Vec::new()));
    for piece in bytes.chunks(chunk.max(1)) {
        scrubber.push(piece)?;
    }
    let (photo, out) = scrubber.finish()?;
    Ok((photo, out.into_inner()))
}

fn scrub(bytes: &[u8], declared: PhotoFormat) -> Scrubbed {
    scrub_in_chunks(bytes, declared, bytes.len())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// From the first SOS to EOI: the compressed image itself.
fn jpeg_scan(jpeg: &[u8]) -> &[u8] {
    let mut at = 2;
    while jpeg[at + 1] != 0xDA {
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    let eoi = at + find(&jpeg[at..], &[0xFF, 0xD9]).expect("an EOI");
    &jpeg[at..eoi + 2]
}

/// The marker segments before the first SOS, as (marker, payload).
fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut segments = Vec::new();
    let mut at = 2;
    loop {
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        segments.push((marker, jpeg[at + 4..at + 2 + len].to_vec()));
        if marker == 0xDA {
            return segments;
        }
        at += 2 + len;
    }
}

fn decode_jpeg(jpeg: &[u8]) -> Vec<u8> {
    jpeg_decoder::Decoder::new(Cursor::new(jpeg))
        .decode()
        .expect("the JPEG decodes")
}

/// PNG chunks as (type, data), checking every CRC.
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while chunks.last().is_none_or(|(kind, _)| kind != b"IEND") {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
        let data = png[at + 8..at + 8 + len].to_vec();
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(
            crc,
            crc32fast::hash(&png[at + 4..at + 8 + len]),
            "CRC of {kind:?}"
        );
        chunks.push((kind, data));
        at += 12 + len;
    }
    chunks
}

/// RIFF chunks after `WEBP` as (fourcc, data).
fn webp_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at < webp.len() {
        let kind: [u8; 4] = webp[at..at + 4].try_into().unwrap();
        let len = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
        chunks.push((kind, webp[at + 8..at + 8 + len].to_vec()));
        at += 8 + len + len % 2;
    }
    chunks
}

/// A writer that counts the seeks that move it somewhere (not position queries).
struct SeekCounter {
    inner: Cursor<Vec<u8>>,
    seeks: usize,
}

impl Write for SeekCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.inner.write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for SeekCounter {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        if !matches!(to, SeekFrom::Current(0)) {
            self.seeks += 1;
        }
        self.inner.seek(to)
    }
}

/// A writer whose disk is full.
struct FullDisk;

impl Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::StorageFull.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for FullDisk {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Ok(0)
    }
}

// --- JPEG ---

#[test]
fn jpeg_loses_its_metadata_and_keeps_its_pixels() {
    let input = samples::jpeg_with_gps(64, 48);
    assert!(samples::has_gps_exif(&input));
    assert!(samples::leaks_sample_metadata(&input));

    let (photo, out) = scrub(&input, PhotoFormat::Jpeg).unwrap();

    assert_eq!(
        (photo.format, photo.width, photo.height),
        (PhotoFormat::Jpeg, 64, 48)
    );
    assert_eq!(
        photo.metadata_removed,
        [
            MetadataKind::Exif,
            MetadataKind::Xmp,
            MetadataKind::Comment,
            MetadataKind::Trailer
        ]
    );
    assert_eq!(photo.bytes_in, len64(&input));
    assert_eq!(photo.bytes_out, len64(&out));
    assert!(!samples::has_gps_exif(&out));
    assert!(!samples::leaks_sample_metadata(&out));
    assert_eq!(jpeg_scan(&out), jpeg_scan(&input));
    assert!(out.ends_with(&[0xFF, 0xD9]));
    assert_eq!(jpeg_segments(&out)[0].0, 0xE0, "JFIF APP0 kept");
    assert_eq!(decode_jpeg(&out), decode_jpeg(&input));
}

#[test]
fn jpeg_keeps_only_the_orientation_of_its_exif() {
    let input = samples::jpeg_with_gps_oriented(32, 16, 6);
    let (photo, out) = scrub(&input, PhotoFormat::Jpeg).unwrap();

    assert!(photo.metadata_removed.contains(&MetadataKind::Exif));
    assert!(!samples::has_gps_exif(&out));
    assert!(!contains(&out, samples::SAMPLE_MAKE.as_bytes()));
    let exifs: Vec<_> = jpeg_segments(&out)
        .into_iter()
        .filter(|(marker, _)| *marker == 0xE1)
        .collect();
    assert_eq!(exifs.len(), 1);
    let tiff = &exifs[0].1[6..];
    assert_eq!(exif::orientation(tiff), Some(6));
    assert_eq!(tiff.len(), 8 + 2 + 12 + 4, "nothing but the orientation");
    assert_eq!(decode_jpeg(&out), decode_jpeg(&input));
}

#[test]
fn progressive_jpeg_keeps_every_scan() {
    let input = samples::progressive_jpeg_with_gps(40, 24);
    let (photo, out) = scrub_in_chunks(&input, PhotoFormat::Jpeg, 5).unwrap();

    assert_eq!((photo.width, photo.height), (40, 24));
    assert!(!samples::leaks_sample_metadata(&out));
    assert_eq!(jpeg_scan(&out), jpeg_scan(&input));
    assert_eq!(decode_jpeg(&out), decode_jpeg(&input));
}

#[test]
fn jpeg_keeps_colour_segments_and_drops_the_rest() {
    use samples::jpeg_segment;
    let icc = jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01fake profile");
    let adobe = jpeg_segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
    let segments = [
        icc.clone(),
        jpeg_segment(0xE2, b"MPF\0II*\0"),
        jpeg_segment(0xED, b"Photoshop 3.0\08BIM\x04\x04"),
        adobe.clone(),
        jpeg_segment(0xE3, b"vendor"),
        jpeg_segment(0xE0, b"AVI1\0"),
        jpeg_segment(0xF5, b"reserved"),
    ];
    let plain = samples::jpeg_with_gps(16, 16);
    let input = samples::insert_jpeg_segments(&plain, &segments);

    let (photo, out) = scrub(&input, PhotoFormat::Jpeg).unwrap();

    assert_eq!(
        photo.metadata_removed,
        [
            MetadataKind::Other,
            MetadataKind::Iptc,
            MetadataKind::Exif,
            MetadataKind::Xmp,
            MetadataKind::Comment,
            MetadataKind::Trailer
        ]
    );
    assert!(contains(&out, &icc) && contains(&out, &adobe));
    assert!(!contains(&out, b"MPF\0") && !contains(&out, b"vendor") && !contains(&out, b"AVI1"));
    assert!(!contains(&out, b"reserved"));
    // The input itself does not decode (a reserved JPGn marker); the copy does.
    assert_eq!(decode_jpeg(&out), decode_jpeg(&plain));
}

#[test]
fn jpeg_of_size_is_about_that_size_and_scrubs() {
    let input = samples::jpeg_of_size(300_000);
    assert!((200_000..450_000).contains(&input.len()), "{}", input.len());
    assert!(samples::has_gps_exif(&input));

    let (photo, out) = scrub_in_chunks(&input, PhotoFormat::Jpeg, 64 * 1024).unwrap();

    assert_eq!(photo.width, photo.height);
    assert!(!samples::leaks_sample_metadata(&out));
    assert_eq!(jpeg_scan(&out), jpeg_scan(&input));
    assert_eq!(
        decode_jpeg(&out).len(),
        photo.width as usize * photo.height as usize * 3
    );
}

#[test]
fn jpeg_structure_is_checked() {
    let good = samples::jpeg_with_gps(16, 16);
    let scan_at = find(&good, &[0xFF, 0xDA]).unwrap();
    let eoi_at = find(&good, &[0xFF, 0xD9]).unwrap();

    let sos_first = [&[0xFF, 0xD8][..], &good[scan_at..]].concat();
    assert_eq!(
        scrub(&sos_first, PhotoFormat::Jpeg).unwrap_err().code(),
        "unreadable_image"
    );

    let tables_only = [
        &[0xFF, 0xD8][..],
        &samples::jpeg_segment(0xFE, b"x"),
        &[0xFF, 0xD9],
    ]
    .concat();
    assert_eq!(
        scrub(&tables_only, PhotoFormat::Jpeg).unwrap_err().code(),
        "unreadable_image"
    );

    let sof_at = find(&good, &[0xFF, 0xC0]).unwrap();
    let mut no_height = good.clone();
    no_height[sof_at + 5..sof_at + 7].copy_from_slice(&[0, 0]);
    assert_eq!(
        scrub(&no_height, PhotoFormat::Jpeg).unwrap_err(),
        PhotoRejection::Unreadable("the JPEG frame header has no size".into())
    );

    assert_eq!(
        scrub(&good[..eoi_at], PhotoFormat::Jpeg).unwrap_err(),
        PhotoRejection::Truncated
    );

    let mut stray = good.clone();
    stray.insert(20, 0x42); // after SOI and the JFIF APP0
    assert_eq!(
        scrub(&stray, PhotoFormat::Jpeg).unwrap_err().code(),
        "unreadable_image"
    );
}

// --- PNG ---

#[test]
fn png_loses_its_text_and_keeps_its_pixels() {
    let input = samples::png_with_text();
    assert!(samples::has_gps_exif(&input));

    let (photo, out) = scrub(&input, PhotoFormat::Png).unwrap();

    assert_eq!(
        (photo.format, photo.width, photo.height),
        (PhotoFormat::Png, 16, 8)
    );
    assert_eq!(
        photo.metadata_removed,
        [
            MetadataKind::Text,
            MetadataKind::Exif,
            MetadataKind::Xmp,
            MetadataKind::Timestamp,
            MetadataKind::Trailer
        ]
    );
    assert!(!samples::leaks_sample_metadata(&out));
    let kinds: Vec<[u8; 4]> = png_chunks(&out).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds, [*b"IHDR", *b"pHYs", *b"IDAT", *b"IEND"]);
    let idat = |png: &[u8]| {
        png_chunks(png)
            .into_iter()
            .find(|(kind, _)| kind == b"IDAT")
            .unwrap()
    };
    assert_eq!(idat(&out), idat(&input));
    assert_eq!(photo.bytes_out, len64(&out));
}

#[test]
fn png_damage_is_refused() {
    let good = samples::png_with_text();
    let idat_at = find(&good, b"IDAT").unwrap();
    let mut bad_idat = good.clone();
    bad_idat[idat_at + 6] ^= 0x01;
    assert_eq!(
        scrub(&bad_idat, PhotoFormat::Png).unwrap_err(),
        PhotoRejection::Unreadable("a PNG chunk is damaged".into())
    );

    let mut bad_ihdr = good.clone();
    bad_ihdr[18] ^= 0x01;
    assert_eq!(
        scrub(&bad_ihdr, PhotoFormat::Png).unwrap_err().code(),
        "unreadable_image"
    );

    let text_first = [
        &good[..8],
        &samples::png_chunk(b"tEXt", b"a\0b"),
        &good[8..],
    ]
    .concat();
    assert_eq!(
        scrub(&text_first, PhotoFormat::Png).unwrap_err().code(),
        "unreadable_image"
    );

    let iend_at = find(&good, b"IEND").unwrap() - 4;
    assert_eq!(
        scrub(&good[..iend_at], PhotoFormat::Png).unwrap_err(),
        PhotoRejection::Truncated
    );
}

// --- WebP ---

#[test]
fn webp_loses_exif_and_xmp_and_gets_a_new_riff_size() {
    let input = samples::webp_with_exif();
    assert!(samples::has_gps_exif(&input));

    let (photo, out) = scrub(&input, PhotoFormat::Webp).unwrap();

    assert_eq!(
        (photo.format, photo.width, photo.height),
        (PhotoFormat::Webp, 1, 1)
    );
    assert_eq!(
        photo.metadata_removed,
        [MetadataKind::Exif, MetadataKind::Xmp]
    );
    assert!(!samples::leaks_sample_metadata(&out));
    assert_eq!(
        u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
        out.len() - 8
    );
    let chunks = webp_chunks(&out);
    let kinds: Vec<[u8; 4]> = chunks.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, [*b"VP8X", *b"VP8L"]);
    assert_eq!(chunks[0].1[0], 0x10, "only the alpha flag is left");
    assert_eq!(chunks[1], webp_chunks(&input)[1], "image data unchanged");
}

#[test]
fn simple_webp_gets_its_size_from_the_frame_header() {
    let mut vp8 = vec![0x50, 0x01, 0x00, 0x9D, 0x01, 0x2A];
    vp8.extend_from_slice(&640u16.to_le_bytes());
    vp8.extend_from_slice(&480u16.to_le_bytes());
    vp8.extend_from_slice(&[7; 21]); // odd: padded
    let body = [
        &b"WEBP"[..],
        &samples::webp_chunk(b"VP8 ", &vp8),
        &samples::webp_chunk(b"EXIF", &samples::exif_tiff_with_gps(1)),
    ]
    .concat();
    let input = samples::riff(&body);

    let (photo, out) = scrub_in_chunks(&input, PhotoFormat::Webp, 3).unwrap();

    assert_eq!((photo.width, photo.height), (640, 480));
    assert_eq!(photo.metadata_removed, [MetadataKind::Exif]);
    assert_eq!(
        out,
        samples::riff(&[&b"WEBP"[..], &samples::webp_chunk(b"VP8 ", &vp8)].concat())
    );

    let mut lossy_interframe = input.clone();
    lossy_interframe[20] |= 1;
    assert_eq!(
        scrub(&lossy_interframe, PhotoFormat::Webp)
            .unwrap_err()
            .code(),
        "unreadable_image"
    );
}

#[test]
fn webp_riff_size_is_patched_relative_to_where_the_writer_started() {
    let input = samples::webp_with_exif();
    let mut out = Cursor::new(vec![0xAB; 100]);
    out.seek(SeekFrom::End(0)).unwrap();
    let mut scrubber = PhotoScrubber::new(PhotoFormat::Webp, len64(&input), out);
    scrubber.push(&input).unwrap();
    let (photo, out) = scrubber.finish().unwrap();
    let out = out.into_inner();

    assert!(out[..100].iter().all(|&byte| byte == 0xAB));
    let riff_size = u32::from_le_bytes(out[104..108].try_into().unwrap()) as u64;
    assert_eq!(riff_size, photo.bytes_out - 8);
    assert_eq!(len64(&out), 100 + photo.bytes_out);
}

#[test]
fn webp_bytes_after_the_riff_are_a_trailer() {
    let input = [samples::webp_with_exif(), b"junk".to_vec()].concat();
    let (photo, out) = scrub(&input, PhotoFormat::Webp).unwrap();
    assert_eq!(photo.metadata_removed.last(), Some(&MetadataKind::Trailer));
    assert!(!contains(&out, b"junk"));

    let cut = &input[..input.len() - 40];
    assert_eq!(
        scrub(cut, PhotoFormat::Webp).unwrap_err(),
        PhotoRejection::Truncated
    );
}

// --- HEIC ---

/// Asserts that `out` differs from `input` only by zeros, that the HEVC payload is untouched and
/// that neither the Exif nor the XMP item survived.
fn assert_heic_blanked(input: &[u8], out: &[u8]) {
    assert_eq!(input.len(), out.len());
    for (at, (before, after)) in input.iter().zip(out).enumerate() {
        assert!(
            before == after || *after == 0,
            "byte {at} changed to nonzero"
        );
    }
    let hevc_at = find(input, b"fake HEVC payload").unwrap();
    assert_eq!(input[hevc_at..hevc_at + 3018], out[hevc_at..hevc_at + 3018]);
    assert!(samples::has_gps_exif(input));
    assert!(!samples::has_gps_exif(out));
    assert!(!samples::leaks_sample_metadata(out));
}

#[test]
fn heic_items_are_blanked_in_place() {
    let input = samples::heic_with_exif();
    let (photo, out) = scrub_in_chunks(&input, PhotoFormat::Heic, 1).unwrap();

    assert_eq!(photo.format, PhotoFormat::Heic);
    assert_eq!((photo.width, photo.height), samples::HEIC_SAMPLE_SIZE);
    assert_eq!(
        photo.metadata_removed,
        [MetadataKind::Exif, MetadataKind::Xmp]
    );
    assert_heic_blanked(&input, &out);
    // The copy is still a HEIC that reads the same.
    let (again, _) = scrub(&out, PhotoFormat::Heic).unwrap();
    assert_eq!((again.width, again.height), samples::HEIC_SAMPLE_SIZE);
}

#[test]
fn heic_items_before_meta_are_patched_through_seek() {
    let input = samples::heic_with_exif_before_meta();
    let out = SeekCounter {
        inner: Cursor::new(Vec::new()),
        seeks: 0,
    };
    let mut scrubber = PhotoScrubber::new(PhotoFormat::Heic, len64(&input), out);
    for piece in input.chunks(7) {
        scrubber.push(piece).unwrap();
    }
    let (photo, out) = scrubber.finish().unwrap();

    assert!(out.seeks >= 2, "patched and returned to the end");
    assert_eq!(out.inner.position(), len64(&input));
    assert_eq!(
        photo.metadata_removed,
        [MetadataKind::Exif, MetadataKind::Xmp]
    );
    assert_eq!((photo.width, photo.height), samples::HEIC_SAMPLE_SIZE);
    assert_heic_blanked(&input, &out.inner.into_inner());
}

#[test]
fn heic_exif_in_idat_is_blanked_inside_meta() {
    let input = samples::heic_with_exif_in_idat();
    let (photo, out) = scrub(&input, PhotoFormat::Heic).unwrap();
    assert_eq!(
        photo.metadata_removed,
        [MetadataKind::Exif, MetadataKind::Xmp]
    );
    assert_heic_blanked(&input, &out);
}

#[test]
fn heic_structure_is_checked() {
    let ftyp = samples::bmff_box(b"ftyp", b"heic\0\0\0\0mif1heic");
    let only_ftyp = [ftyp.clone(), samples::bmff_box(b"mdat", b"data")].concat();
    assert_eq!(
        scrub(&only_ftyp, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::Unreadable("the HEIC has no item information".into())
    );

    let mut huge_meta = ftyp.clone();
    huge_meta.extend_from_slice(&(2u32 << 20).to_be_bytes());
    huge_meta.extend_from_slice(b"meta");
    let mut scrubber = PhotoScrubber::new(PhotoFormat::Heic, 3 << 20, Cursor::new(Vec::new()));
    assert_eq!(
        scrubber.push(&huge_meta).unwrap_err(),
        PhotoRejection::Unreadable("the HEIC item information is too large".into())
    );

    let input = samples::heic_with_exif();
    let cut = &input[..input.len() - 100];
    assert_eq!(
        scrub(cut, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::Truncated
    );

    let twice = [input.clone(), input[ftyp.len()..].to_vec()].concat();
    assert_eq!(
        scrub(&twice, PhotoFormat::Heic).unwrap_err().code(),
        "unreadable_image"
    );
}

/// The sample's iloc entry for item 2 (Exif): method, data reference, count, offset, length.
fn heic_exif_location(heic: &mut [u8]) -> &mut [u8] {
    let iloc = find(heic, b"iloc").unwrap();
    let item2 = iloc + 4 + 4 + 2 + 2 + 16;
    &mut heic[item2 + 2..item2 + 16]
}

#[test]
fn heic_exif_that_cannot_be_blanked_is_refused() {
    let input = samples::heic_with_exif();

    let mut by_reference = input.clone();
    heic_exif_location(&mut by_reference)[1] = 2; // construction method 2
    assert_eq!(
        scrub(&by_reference, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::Unreadable(
            "the HEIC stores its metadata in a way that cannot be removed".into()
        )
    );

    let mut over_header = input.clone();
    heic_exif_location(&mut over_header)[6..10].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(
        scrub(&over_header, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::Unreadable("an item in the HEIC overlaps its headers".into())
    );

    let mut past_the_end = input.clone();
    let beyond = u32::try_from(input.len()).unwrap() + 10;
    heic_exif_location(&mut past_the_end)[6..10].copy_from_slice(&beyond.to_be_bytes());
    assert_eq!(
        scrub(&past_the_end, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::Truncated
    );
}

#[test]
fn avif_is_not_heic_but_plain_mif1_is() {
    let mdat = samples::bmff_box(b"mdat", b"data");
    let avif = [
        samples::bmff_box(b"ftyp", b"avif\0\0\0\0mif1avif"),
        mdat.clone(),
    ]
    .concat();
    assert_eq!(
        scrub(&avif, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::NotAnImage
    );
    let mp4 = [
        samples::bmff_box(b"ftyp", b"isom\0\0\0\0isomavc1"),
        mdat.clone(),
    ]
    .concat();
    assert_eq!(
        scrub(&mp4, PhotoFormat::Heic).unwrap_err(),
        PhotoRejection::NotAnImage
    );

    let heif = [samples::bmff_box(b"ftyp", b"mif1\0\0\0\0mif1"), mdat].concat();
    assert_eq!(
        scrub(&heif, PhotoFormat::Jpeg).unwrap_err(),
        PhotoRejection::WrongType {
            declared: PhotoFormat::Jpeg,
            found: PhotoFormat::Heic
        }
    );
}

// --- All formats ---

fn all_samples() -> Vec<(PhotoFormat, Vec<u8>)> {
    vec![
        (PhotoFormat::Jpeg, samples::jpeg_with_gps(48, 32)),
        (
            PhotoFormat::Jpeg,
            samples::jpeg_with_gps_oriented(24, 24, 8),
        ),
        (
            PhotoFormat::Jpeg,
            samples::progressive_jpeg_with_gps(24, 16),
        ),
        (PhotoFormat::Png, samples::png_with_text()),
        (PhotoFormat::Webp, samples::webp_with_exif()),
        (PhotoFormat::Heic, samples::heic_with_exif()),
        (PhotoFormat::Heic, samples::heic_with_exif_before_meta()),
        (PhotoFormat::Heic, samples::heic_with_exif_in_idat()),
    ]
}

#[test]
fn chunk_sizes_do_not_change_the_result() {
    for (format, input) in all_samples() {
        let whole = scrub(&input, format).unwrap();
        assert!(!samples::has_gps_exif(&whole.1), "{format}");
        for chunk in [1, 2, 7, 4096] {
            assert_eq!(
                scrub_in_chunks(&input, format, chunk).unwrap(),
                whole,
                "{format} by {chunk}"
            );
        }
        let mut scrubber = PhotoScrubber::new(format, len64(&input), Cursor::new(Vec::new()));
        scrubber.push(&[]).unwrap();
        scrubber.push(&input).unwrap();
        scrubber.push(&[]).unwrap();
        let (photo, out) = scrubber.finish().unwrap();
        assert_eq!((photo, out.into_inner()), whole);
    }
}

#[test]
fn files_that_are_not_photos_are_refused() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04".to_vec();
    let refused: [&[u8]; 8] = [
        b"this is my receipt, renamed to photo.jpg\n",
        &gif,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"",
        b"\xFF\xD8",
        b"RIFF\x04\x00\x00\x00WAVEfmt ",
        b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    ];
    for bytes in refused {
        assert_eq!(
            scrub(bytes, PhotoFormat::Jpeg).unwrap_err(),
            PhotoRejection::NotAnImage,
            "{bytes:?}"
        );
    }
}

#[test]
fn the_magic_number_must_match_the_declared_type() {
    assert_eq!(
        scrub(&samples::png_with_text(), PhotoFormat::Jpeg).unwrap_err(),
        PhotoRejection::WrongType {
            declared: PhotoFormat::Jpeg,
            found: PhotoFormat::Png
        }
    );
    assert_eq!(
        scrub(&samples::jpeg_with_gps(8, 8), PhotoFormat::Webp)
            .unwrap_err()
            .code(),
        "wrong_type"
    );
}

#[test]
fn oversize_is_refused_without_buffering() {
    let mut announced = PhotoScrubber::new(
        PhotoFormat::Jpeg,
        MAX_PHOTO_BYTES + 1,
        Cursor::new(Vec::new()),
    );
    assert_eq!(
        announced.push(&[]).unwrap_err(),
        PhotoRejection::TooLarge {
            bytes: MAX_PHOTO_BYTES + 1,
            max: MAX_PHOTO_BYTES
        }
    );

    // S3 says 10 MiB; the stream goes on past that: refused on the push that crosses the limit.
    let jpeg = samples::jpeg_with_gps(8, 8);
    let mut streamed =
        PhotoScrubber::new(PhotoFormat::Jpeg, MAX_PHOTO_BYTES, Cursor::new(Vec::new()));
    streamed.push(&jpeg).unwrap();
    let filler = vec![0u8; 1 << 20];
    let mut sent = len64(&jpeg);
    let rejection = loop {
        match streamed.push(&filler) {
            Ok(()) => sent += len64(&filler),
            Err(rejection) => break rejection,
        }
    };
    assert_eq!(
        rejection,
        PhotoRejection::TooLarge {
            bytes: sent + len64(&filler),
            max: MAX_PHOTO_BYTES
        }
    );
    assert_eq!(
        streamed.push(&[1]).unwrap_err(),
        rejection,
        "the rejection sticks"
    );
    assert_eq!(streamed.finish().unwrap_err(), rejection);
}

#[test]
fn the_size_must_be_the_one_s3_reported() {
    let input = samples::png_with_text();
    let len = len64(&input);

    let mut short = PhotoScrubber::new(PhotoFormat::Png, len + 10, Cursor::new(Vec::new()));
    short.push(&input).unwrap();
    assert_eq!(
        short.finish().unwrap_err(),
        PhotoRejection::SizeMismatch {
            expected: len + 10,
            actual: len
        }
    );

    let mut long = PhotoScrubber::new(PhotoFormat::Png, len - 10, Cursor::new(Vec::new()));
    assert_eq!(
        long.push(&input).unwrap_err(),
        PhotoRejection::SizeMismatch {
            expected: len - 10,
            actual: len
        }
    );
}

#[test]
fn every_cut_before_the_end_is_refused() {
    for (format, input) in all_samples() {
        let last_needed = match format {
            PhotoFormat::Jpeg | PhotoFormat::Png => input.len() - samples::SAMPLE_TRAILER.len(),
            PhotoFormat::Webp | PhotoFormat::Heic => input.len(),
        };
        for cut in (0..last_needed).step_by(3).chain([last_needed - 1]) {
            let rejection = scrub(&input[..cut], format).unwrap_err();
            assert!(
                matches!(
                    rejection,
                    PhotoRejection::Truncated
                        | PhotoRejection::NotAnImage
                        | PhotoRejection::Unreadable(_)
                ),
                "{format} cut at {cut}: {rejection:?}"
            );
        }
        assert_eq!(
            scrub(&input[..input.len() / 2], format).unwrap_err(),
            PhotoRejection::Truncated,
            "{format} cut in half"
        );
    }
}

#[test]
fn a_failing_writer_is_not_the_customers_fault() {
    let input = samples::png_with_text();
    let mut scrubber = PhotoScrubber::new(PhotoFormat::Png, len64(&input), FullDisk);
    let rejection = scrubber.push(&input).unwrap_err();
    assert_eq!(
        rejection,
        PhotoRejection::WriteFailed(std::io::ErrorKind::StorageFull)
    );
    assert_eq!(rejection.code(), "write_failed");
}

/// Random bytes, random magic numbers with random bodies, and mutated samples, pushed in random
/// chunk sizes: every one ends in `Ok` or a rejection, the same one as when pushed whole, and the
/// output never outgrows the input.
#[test]
fn no_input_makes_it_panic_and_chunks_never_change_the_verdict() {
    let samples = all_samples();
    let magic: [&[u8]; 5] = [
        &[0xFF, 0xD8, 0xFF],
        &PNG_SIGNATURE,
        b"RIFF\x40\x00\x00\x00WEBP",
        b"\x00\x00\x00\x14ftypheic\x00\x00\x00\x00mif1",
        b"",
    ];
    let mut rng = SampleRng::new(20_240_517);
    let mut accepted = 0;
    for round in 0..4000 {
        let (format, input) = match round % 4 {
            0 => {
                let mut bytes = magic[rng.below(magic.len())].to_vec();
                let len = rng.below(400);
                bytes.extend(rng.bytes(len));
                (PhotoFormat::ALL[rng.below(4)], bytes)
            }
            _ => {
                let (format, sample) = &samples[rng.below(samples.len())];
                (*format, mutate(sample, &mut rng))
            }
        };
        let expected = match rng.below(20) {
            0 => len64(&input) + 1,
            1 => len64(&input).saturating_sub(1),
            _ => len64(&input),
        };
        let mut scrubber = PhotoScrubber::new(format, expected, Cursor::new(Vec::new()));
        let mut rest = &input[..];
        let mut pushed = Ok(());
        while !rest.is_empty() && pushed.is_ok() {
            let large = rng.below(4) == 0;
            let size = 1 + rng.below(if large { 4096 } else { 64 });
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            pushed = scrubber.push(chunk);
            rest = tail;
        }
        let result = pushed.and_then(|()| {
            let (photo, out) = scrubber.finish()?;
            Ok((photo, out.into_inner()))
        });
        if expected == len64(&input) {
            assert_eq!(result, scrub(&input, format), "round {round}");
        }
        if let Ok((photo, out)) = result {
            accepted += 1;
            assert_eq!(photo.bytes_out, len64(&out));
            assert!(out.len() <= input.len() + 64, "round {round}");
            assert!(photo.width > 0 && photo.height > 0);
        }
    }
    assert!(
        accepted > 100,
        "mutations should leave many files readable: {accepted}"
    );
}

fn mutate(sample: &[u8], rng: &mut SampleRng) -> Vec<u8> {
    let mut bytes = sample.to_vec();
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let hot = rng.below(bytes.len().min(600));
        let at = if rng.below(2) == 0 {
            hot
        } else {
            rng.below(bytes.len())
        };
        match rng.below(8) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = 0xFF,
            2 => bytes[at] = 0x00,
            3 => bytes.truncate(at),
            4 => {
                let len = rng.below(16);
                let insert = rng.bytes(len);
                bytes.splice(at..at, insert);
            }
            5 => {
                let end = (at + rng.below(64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            6 if at + 4 <= bytes.len() => {
                // Sizes, counts and offsets are 32-bit: give one an extreme value.
                let value = [0, 1, u32::MAX, 0x7FFF_FFFF][rng.below(4)];
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
            _ => {} // some samples stay whole
        }
    }
    bytes
}

// --- Types ---

#[test]
fn content_types_are_exact() {
    for format in PhotoFormat::ALL {
        assert_eq!(
            PhotoFormat::from_content_type(format.content_type()),
            Some(format)
        );
        assert_eq!(
            PhotoFormat::from_content_type(&format.content_type().to_uppercase()),
            Some(format)
        );
    }
    assert_eq!(
        PhotoFormat::from_content_type("Image/JPEG"),
        Some(PhotoFormat::Jpeg)
    );
    for refused in [
        "image/jpeg; charset=utf-8",
        "image/jpg",
        "image/gif",
        "",
        "image/heif",
        " image/png",
    ] {
        assert_eq!(PhotoFormat::from_content_type(refused), None, "{refused}");
    }
    let extensions: Vec<_> = PhotoFormat::ALL.iter().map(|f| f.extension()).collect();
    assert_eq!(extensions, ["jpg", "png", "webp", "heic"]);
}

#[test]
fn types_serialize_as_documented() {
    assert_eq!(serde_json::to_value(PhotoFormat::Webp).unwrap(), "webp");
    assert_eq!(
        serde_json::from_value::<PhotoFormat>("heic".into()).unwrap(),
        PhotoFormat::Heic
    );
    assert_eq!(
        serde_json::to_value(MetadataKind::Trailer).unwrap(),
        "trailer"
    );
    let (photo, _) = scrub(&samples::webp_with_exif(), PhotoFormat::Webp).unwrap();
    let json = serde_json::to_value(&photo).unwrap();
    assert_eq!(json["format"], "webp");
    assert_eq!(json["metadata_removed"], serde_json::json!(["exif", "xmp"]));
}

#[test]
fn rejections_read_as_one_short_sentence() {
    let rejections = [
        (PhotoRejection::NotAnImage, "not_an_image"),
        (
            PhotoRejection::WrongType {
                declared: PhotoFormat::Jpeg,
                found: PhotoFormat::Png,
            },
            "wrong_type",
        ),
        (
            PhotoRejection::TooLarge {
                bytes: MAX_PHOTO_BYTES + 1,
                max: MAX_PHOTO_BYTES,
            },
            "too_large",
        ),
        (
            PhotoRejection::SizeMismatch {
                expected: 10,
                actual: 9,
            },
            "size_mismatch",
        ),
        (
            unreadable("the JPEG has no frame header"),
            "unreadable_image",
        ),
        (PhotoRejection::Truncated, "truncated"),
        (
            PhotoRejection::WriteFailed(std::io::ErrorKind::Other),
            "write_failed",
        ),
    ];
    for (rejection, code) in rejections {
        let text = rejection.to_string();
        assert_eq!(rejection.code(), code);
        assert!(text.len() < 90 && !text.contains('\n'), "{text}");
        assert!(text.starts_with("the "), "{text}");
    }
    assert_eq!(
        PhotoRejection::TooLarge {
            bytes: 1,
            max: MAX_PHOTO_BYTES
        }
        .to_string(),
        "the photo is larger than the 10 MiB limit"
    );
    assert_eq!(
        PhotoRejection::WrongType {
            declared: PhotoFormat::Jpeg,
            found: PhotoFormat::Png
        }
        .to_string(),
        "the file is a PNG image, not the JPEG image that was announced"
    );
}
