//! Photo evidence as it arrives: what a file really is, and the same file without its metadata.
//!
//! A customer's photo of a leaking bottle or a skin reaction can carry where it was taken (GPS),
//! the phone's serial number and the owner's name. [`PhotoScrubber`] reads the uploaded object as
//! a stream and writes a copy without that metadata, never re-encoding the image: the pixels an
//! agent judges are the pixels the customer sent. Pure: the only I/O is the `Write + Seek` output.
//!
//! # What is checked, in order
//! - Size: more than [`MAX_PHOTO_BYTES`] is [`PhotoRejection::TooLarge`] on the `push` that
//!   crosses it (or at once when S3's length already does); more bytes than S3 reported is
//!   [`PhotoRejection::SizeMismatch`] as soon as it happens, fewer at `finish`.
//! - Type: the magic number decides, never the declared type or the name. An allowed type other
//!   than the declared one is [`PhotoRejection::WrongType`]: the declared type was signed into the
//!   upload URL, so a mismatch means someone lied. A file too short to show a whole magic number
//!   is [`PhotoRejection::NotAnImage`].
//! - Structure: the headers that give the dimensions must parse ([`PhotoRejection::Unreadable`]);
//!   a file that stops before its format's end is [`PhotoRejection::Truncated`].
//!
//! Memory is bounded whatever the input: a JPEG segment (64 KiB), a HEIC `meta` box
//! ([`MAX_HEIC_META_BYTES`]), an ftyp box (4 KiB) and a few small headers are buffered; image
//! data is streamed. Any byte sequence in any chunking gives `Ok` or a rejection, never a panic.
//!
//! # Per format
//! - **JPEG**: kept: SOF, DHT, DQT, DAC, DRI, DNL, DHP, EXP, SOS and scan data (byte stuffing and
//!   RST markers pass through; markers between progressive scans are handled), APP0 `JFIF`/`JFXX`,
//!   APP2 `ICC_PROFILE`, APP14 `Adobe`. Dropped: APP1 Exif and XMP (incl. extended XMP), APP13
//!   (IPTC), COM, every other APPn (MPF, FlashPix, vendor data: `Other`) and any other marker
//!   segment (a whitelist, so unknown places to hide data go too). The first SOF (C0..CF but not
//!   C4/C8/CC) must come before the first SOS with a nonzero width and height (a height left to a
//!   DNL marker is refused). Bytes after EOI are dropped (`Trailer`: phones append depth maps and
//!   vendor blobs there); no EOI is `Truncated`. Fill bytes (`FF FF`) before markers are dropped.
//!   One exception to dropping Exif: phones record how the camera was held in the Exif
//!   Orientation tag, so when it asks for a rotation or flip (2..=8) a minimal Exif APP1 holding
//!   only that tag replaces the original; without it portrait photos would show sideways.
//! - **PNG**: IHDR first (length 13, CRC checked, nonzero dimensions). Kept: critical chunks and
//!   the ancillary chunks that change how pixels look (tRNS, cHRM, gAMA, iCCP, sBIT, sRGB, cICP,
//!   mDCV, cLLI, bKGD, hIST, pHYs, sPLT and the APNG acTL/fcTL/fdAT). Dropped: eXIf (`Exif`),
//!   tEXt/zTXt/iTXt (`Text`, or `Xmp` for the `XML:com.adobe.xmp` iTXt), tIME (`Timestamp`) and
//!   any other ancillary chunk (`Other`: ancillary chunks are by definition safe to drop, and
//!   C2PA or vendor chunks can name people). The CRC of every kept chunk is verified while it
//!   streams (a bad one is `Unreadable`); IDAT is never buffered. At least one IDAT is required;
//!   bytes after IEND are a `Trailer`.
//! - **WebP**: `RIFF` size `WEBP`, then the first chunk must be VP8X (canvas size), VP8 (key frame
//!   header) or VP8L (signature 0x2F). Kept: VP8X, VP8, VP8L, ALPH, ANIM, ANMF, ICCP; dropped:
//!   EXIF, `XMP ` and unknown chunks (`Other`). The EXIF and XMP flags of VP8X are cleared, odd
//!   chunks are padded to even sizes, and the RIFF size at offset 4 is patched at `finish`
//!   through `Seek`. At least one VP8, VP8L or ANMF chunk is required; bytes after the RIFF's
//!   declared end are a `Trailer`.
//! - **HEIC**: `ftyp` first, with heic/heix/hevc/hevx/heim/heis as major or compatible brand, or
//!   mif1/msf1 without avif/avis (that is AVIF: `NotAnImage`). Items cannot be removed without
//!   rewriting `iloc`, so Exif items and XMP items (`mime` with `application/rdf+xml`) are
//!   overwritten with zeros in place: same length, every offset stays valid, the items stay
//!   listed. File-offset extents (construction method 0) lying after `meta` are zeroed while
//!   streaming, those before it are patched through `Seek` at `finish`; `idat` extents (method 1)
//!   are zeroed inside the buffered `meta`. Exif or XMP built from other items (method 2, unseen
//!   in practice) cannot be blanked safely, so the file is `Unreadable` rather than passed on
//!   with its GPS. An extent overlapping `ftyp` or `meta` is `Unreadable`; one past the end of the
//!   file is `Truncated`, as is a box that runs past it.
//!   The size is the primary item's `ispe` (through `pitm` and `ipma`), else the largest `ispe`.
//!   No `meta`, no `ispe`, or a second top-level `meta` is `Unreadable`. Exif or XMP kept
//!   elsewhere (a `moov`, a `uuid` box) is not looked for.

use std::fmt;
use std::io::{Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

mod exif;
mod heic;
mod jpeg;
mod png;
#[cfg(any(test, feature = "photo-samples"))]
pub mod samples;
#[cfg(test)]
mod tests;
mod webp;

/// The largest photo accepted, in bytes: a phone photo is 2–6 MB.
pub const MAX_PHOTO_BYTES: u64 = 10 * 1024 * 1024;

/// The largest HEIC `meta` box buffered; real ones are a few KiB, and iPhone grids under 64 KiB.
pub const MAX_HEIC_META_BYTES: usize = 1024 * 1024;

/// An image type customers may upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Webp,
    Heic,
}

impl PhotoFormat {
    pub const ALL: [PhotoFormat; 4] = [
        PhotoFormat::Jpeg,
        PhotoFormat::Png,
        PhotoFormat::Webp,
        PhotoFormat::Heic,
    ];

    /// The format a declared Content-Type names, case-insensitively. Parameters
    /// (`image/jpeg; charset=x`) and anything but the four exact types are refused: the value is
    /// signed into the upload URL and must then match the object byte for byte.
    pub fn from_content_type(raw: &str) -> Option<PhotoFormat> {
        PhotoFormat::ALL
            .into_iter()
            .find(|format| format.content_type().eq_ignore_ascii_case(raw))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
            PhotoFormat::Webp => "image/webp",
            PhotoFormat::Heic => "image/heic",
        }
    }

    /// The file extension for stored copies, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
            PhotoFormat::Webp => "webp",
            PhotoFormat::Heic => "heic",
        }
    }
}

impl fmt::Display for PhotoFormat {
    /// The name a customer knows the format by.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
            PhotoFormat::Webp => "WebP",
            PhotoFormat::Heic => "HEIC",
        })
    }
}

/// A kind of metadata found in, and removed from, a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataKind {
    Exif,
    Xmp,
    Iptc,
    Comment,
    Text,
    Timestamp,
    /// Bytes after the image's end.
    Trailer,
    Other,
}

/// What an accepted photo is, and what was taken out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectedPhoto {
    pub format: PhotoFormat,
    pub width: u32,
    pub height: u32,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Distinct, in the order first seen.
    pub metadata_removed: Vec<MetadataKind>,
}

/// Why an upload is refused. The `Display` is shown to the customer on their case timeline, so it
/// is one plain sentence and never quotes the file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PhotoRejection {
    #[error("the file is not a JPEG, PNG, WebP or HEIC photo")]
    NotAnImage,
    #[error("the file is a {found} image, not the {declared} image that was announced")]
    WrongType {
        declared: PhotoFormat,
        found: PhotoFormat,
    },
    #[error("the photo is larger than the {} MiB limit", .max / (1024 * 1024))]
    TooLarge { bytes: u64, max: u64 },
    #[error("the upload was {actual} bytes instead of the expected {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    /// The text says which header could not be read; it is fixed text, never file content.
    #[error("the image could not be read: {0}")]
    Unreadable(String),
    #[error("the photo is incomplete: the file ends too early")]
    Truncated,
    /// The output writer failed: our fault, not the customer's; retrying may help.
    #[error("the photo could not be saved, please try again")]
    WriteFailed(std::io::ErrorKind),
}

impl PhotoRejection {
    /// A stable code for logs, metrics and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoRejection::NotAnImage => "not_an_image",
            PhotoRejection::WrongType { .. } => "wrong_type",
            PhotoRejection::TooLarge { .. } => "too_large",
            PhotoRejection::SizeMismatch { .. } => "size_mismatch",
            PhotoRejection::Unreadable(_) => "unreadable_image",
            PhotoRejection::Truncated => "truncated",
            PhotoRejection::WriteFailed(_) => "write_failed",
        }
    }
}

/// `Unreadable` with a fixed reason, so no file content can reach the customer's timeline.
fn unreadable(reason: &'static str) -> PhotoRejection {
    PhotoRejection::Unreadable(reason.to_string())
}

/// Streams one uploaded file: checks what it is and writes it to `out` without metadata.
///
/// After a rejection every later call returns the same rejection; the output is then garbage and
/// must be discarded.
pub struct PhotoScrubber<W: Write + Seek> {
    declared: PhotoFormat,
    expected_len: u64,
    bytes_in: u64,
    sink: Sink<W>,
    stage: Stage,
    failed: Option<PhotoRejection>,
}

impl<W: Write + Seek> PhotoScrubber<W> {
    /// `declared`: the type the customer declared (signed into the upload URL); `expected_len`:
    /// the object's size as S3 reports it. Output positions are relative to where `out` stands
    /// when the first byte is written.
    pub fn new(declared: PhotoFormat, expected_len: u64, out: W) -> Self {
        PhotoScrubber {
            declared,
            expected_len,
            bytes_in: 0,
            sink: Sink::new(out),
            stage: Stage::Sniffing(Vec::new()),
            failed: None,
        }
    }

    /// Feed the next chunk (any size, including 0 or 1 byte). Bounded internal buffering only.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), PhotoRejection> {
        if let Some(rejection) = &self.failed {
            return Err(rejection.clone());
        }
        let result = self.accept(chunk);
        if let Err(rejection) = &result {
            self.failed = Some(rejection.clone());
        }
        result
    }

    /// After the last chunk: final checks, patches (e.g. a RIFF size) via Seek, returns the
    /// result and the writer (positioned at the end of the scrubbed copy).
    pub fn finish(mut self) -> Result<(InspectedPhoto, W), PhotoRejection> {
        if let Some(rejection) = self.failed {
            return Err(rejection);
        }
        self.check_announced_size()?;
        if self.bytes_in != self.expected_len {
            return Err(PhotoRejection::SizeMismatch {
                expected: self.expected_len,
                actual: self.bytes_in,
            });
        }
        let (format, size) = match self.stage {
            Stage::Sniffing(_) => return Err(PhotoRejection::NotAnImage),
            Stage::Scrubbing(scrubber) => (scrubber.format(), scrubber.end(&mut self.sink)?),
        };
        self.sink.out.flush().map_err(write_failed)?;
        let photo = InspectedPhoto {
            format,
            width: size.width,
            height: size.height,
            bytes_in: self.bytes_in,
            bytes_out: self.sink.written,
            metadata_removed: self.sink.removed,
        };
        Ok((photo, self.sink.out))
    }

    fn check_announced_size(&self) -> Result<(), PhotoRejection> {
        if self.expected_len > MAX_PHOTO_BYTES {
            return Err(PhotoRejection::TooLarge {
                bytes: self.expected_len,
                max: MAX_PHOTO_BYTES,
            });
        }
        Ok(())
    }

    fn accept(&mut self, chunk: &[u8]) -> Result<(), PhotoRejection> {
        self.check_announced_size()?;
        let total = self
            .bytes_in
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if total > MAX_PHOTO_BYTES {
            return Err(PhotoRejection::TooLarge {
                bytes: total,
                max: MAX_PHOTO_BYTES,
            });
        }
        if total > self.expected_len {
            return Err(PhotoRejection::SizeMismatch {
                expected: self.expected_len,
                actual: total,
            });
        }
        self.bytes_in = total;
        match &mut self.stage {
            Stage::Scrubbing(scrubber) => scrubber.feed(chunk, &mut self.sink),
            Stage::Sniffing(head) => {
                let mut input = chunk;
                let format = loop {
                    match identify(head) {
                        Identify::Found(format) => break format,
                        Identify::NotAnImage => return Err(PhotoRejection::NotAnImage),
                        // Identify again after every byte gathered, so that where the
                        // chunks end never changes the verdict.
                        Identify::NeedMore(want) if want > head.len() => {
                            if input.is_empty() {
                                return Ok(());
                            }
                            gather(head, &mut input, want);
                        }
                        Identify::NeedMore(_) => return Err(PhotoRejection::NotAnImage),
                    }
                };
                if format != self.declared {
                    return Err(PhotoRejection::WrongType {
                        declared: self.declared,
                        found: format,
                    });
                }
                let head = std::mem::take(head);
                let mut scrubber = Scrubber::new(format, self.expected_len);
                scrubber.feed(&head, &mut self.sink)?;
                scrubber.feed(input, &mut self.sink)?;
                self.stage = Stage::Scrubbing(Box::new(scrubber));
                Ok(())
            }
        }
    }
}

/// Where the stream is: still reading the magic number, or inside a known format.
enum Stage {
    Sniffing(Vec<u8>),
    Scrubbing(Box<Scrubber>),
}

enum Scrubber {
    Jpeg(jpeg::JpegScrubber),
    Png(png::PngScrubber),
    Webp(webp::WebpScrubber),
    Heic(heic::HeicScrubber),
}

impl Scrubber {
    fn new(format: PhotoFormat, file_len: u64) -> Scrubber {
        match format {
            PhotoFormat::Jpeg => Scrubber::Jpeg(jpeg::JpegScrubber::new()),
            PhotoFormat::Png => Scrubber::Png(png::PngScrubber::new()),
            PhotoFormat::Webp => Scrubber::Webp(webp::WebpScrubber::new()),
            PhotoFormat::Heic => Scrubber::Heic(heic::HeicScrubber::new(file_len)),
        }
    }

    fn format(&self) -> PhotoFormat {
        match self {
            Scrubber::Jpeg(_) => PhotoFormat::Jpeg,
            Scrubber::Png(_) => PhotoFormat::Png,
            Scrubber::Webp(_) => PhotoFormat::Webp,
            Scrubber::Heic(_) => PhotoFormat::Heic,
        }
    }

    fn feed<W: Write + Seek>(
        &mut self,
        input: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        match self {
            Scrubber::Jpeg(jpeg) => jpeg.feed(input, sink),
            Scrubber::Png(png) => png.feed(input, sink),
            Scrubber::Webp(webp) => webp.feed(input, sink),
            Scrubber::Heic(heic) => heic.feed(input, sink),
        }
    }

    fn end<W: Write + Seek>(self, sink: &mut Sink<W>) -> Result<Dimensions, PhotoRejection> {
        match self {
            Scrubber::Jpeg(jpeg) => jpeg.end(),
            Scrubber::Png(png) => png.end(),
            Scrubber::Webp(webp) => webp.end(sink),
            Scrubber::Heic(heic) => heic.end(sink),
        }
    }
}

/// Width and height in pixels, both nonzero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dimensions {
    width: u32,
    height: u32,
}

impl Dimensions {
    fn nonzero(width: u32, height: u32) -> Option<Dimensions> {
        (width > 0 && height > 0).then_some(Dimensions { width, height })
    }
}

enum Identify {
    Found(PhotoFormat),
    NeedMore(usize),
    NotAnImage,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const MAX_FTYP_BYTES: usize = 4096;

/// Brands that mean HEVC-coded HEIF.
const HEIC_BRANDS: [&[u8; 4]; 6] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"];
/// Generic HEIF brands, shared with AVIF.
const HEIF_BRANDS: [&[u8; 4]; 2] = [b"mif1", b"msf1"];
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// What the first bytes say the file is, or how many bytes are needed to tell.
fn identify(head: &[u8]) -> Identify {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Identify::Found(PhotoFormat::Jpeg);
    }
    if head.starts_with(&PNG_SIGNATURE) {
        return Identify::Found(PhotoFormat::Png);
    }
    if head.len() < 8 {
        return Identify::NeedMore(8);
    }
    if head.starts_with(b"RIFF") {
        return match head.get(8..12) {
            None => Identify::NeedMore(12),
            Some(b"WEBP") => Identify::Found(PhotoFormat::Webp),
            Some(_) => Identify::NotAnImage,
        };
    }
    if head.get(4..8) == Some(b"ftyp") {
        let Some(size) = read::be_u32(head, 0).and_then(|size| usize::try_from(size).ok()) else {
            return Identify::NotAnImage;
        };
        if !(16..=MAX_FTYP_BYTES).contains(&size) {
            return Identify::NotAnImage;
        }
        return match head.get(8..size) {
            None => Identify::NeedMore(size),
            Some(body) if is_heic_ftyp(body) => Identify::Found(PhotoFormat::Heic),
            Some(_) => Identify::NotAnImage,
        };
    }
    Identify::NotAnImage
}

/// `body`: the ftyp box after its header (major brand, minor version, compatible brands).
fn is_heic_ftyp(body: &[u8]) -> bool {
    let brands: Vec<&[u8]> = body
        .chunks_exact(4)
        .enumerate()
        .filter(|(index, _)| *index != 1)
        .map(|(_, brand)| brand)
        .collect();
    let has = |set: &[&[u8; 4]]| {
        brands
            .iter()
            .any(|brand| set.iter().any(|s| &s[..] == *brand))
    };
    has(&HEIC_BRANDS) || (!has(&AVIF_BRANDS) && has(&HEIF_BRANDS))
}

/// Moves bytes from `input` into `buf` until it holds `want`; true once it does.
fn gather(buf: &mut Vec<u8>, input: &mut &[u8], want: usize) -> bool {
    let missing = want.saturating_sub(buf.len());
    let (now, rest) = input.split_at(missing.min(input.len()));
    buf.extend_from_slice(now);
    *input = rest;
    buf.len() >= want
}

/// Splits off at most `limit` bytes of `input`; returns them and how much of `limit` is left.
fn split_up_to<'a>(input: &mut &'a [u8], limit: u64) -> (&'a [u8], u64) {
    let take = usize::try_from(limit).map_or(input.len(), |limit| limit.min(input.len()));
    let (now, rest) = input.split_at(take);
    *input = rest;
    (now, limit.saturating_sub(len64(now)))
}

fn write_failed(error: std::io::Error) -> PhotoRejection {
    PhotoRejection::WriteFailed(error.kind())
}

/// The scrubbed copy being written, and what was removed on the way.
struct Sink<W> {
    out: W,
    /// Where `out` stood at the first byte written; positions are relative to it.
    start: Option<u64>,
    written: u64,
    removed: Vec<MetadataKind>,
}

impl<W: Write + Seek> Sink<W> {
    fn new(out: W) -> Self {
        Sink {
            out,
            start: None,
            written: 0,
            removed: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PhotoRejection> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.start.is_none() {
            self.start = Some(self.out.stream_position().map_err(write_failed)?);
        }
        self.out.write_all(bytes).map_err(write_failed)?;
        self.written = self.written.saturating_add(len64(bytes));
        Ok(())
    }

    /// Overwrites bytes already written at `at`, then returns to the end.
    fn patch(&mut self, at: u64, bytes: &[u8]) -> Result<(), PhotoRejection> {
        let start = self.start.unwrap_or(0);
        let fits = at
            .checked_add(len64(bytes))
            .is_some_and(|end| end <= self.written);
        if !fits {
            return Err(PhotoRejection::WriteFailed(
                std::io::ErrorKind::InvalidInput,
            ));
        }
        let to_start = SeekFrom::Start(start.saturating_add(at));
        self.out.seek(to_start).map_err(write_failed)?;
        self.out.write_all(bytes).map_err(write_failed)?;
        let to_end = SeekFrom::Start(start.saturating_add(self.written));
        self.out.seek(to_end).map_err(write_failed)?;
        Ok(())
    }

    /// Overwrites `len` bytes already written at `at` with zeros.
    fn patch_zeros(&mut self, at: u64, len: u64) -> Result<(), PhotoRejection> {
        let mut done = 0;
        while done < len {
            let step = (len - done).min(len64(&ZEROS));
            let step_len = usize::try_from(step).unwrap_or(ZEROS.len());
            self.patch(
                at.saturating_add(done),
                ZEROS.get(..step_len).unwrap_or(&ZEROS),
            )?;
            done += step;
        }
        Ok(())
    }

    fn removed(&mut self, kind: MetadataKind) {
        if !self.removed.contains(&kind) {
            self.removed.push(kind);
        }
    }
}

const ZEROS: [u8; 4096] = [0; 4096];

fn len64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

/// Bounds-checked big- and little-endian reads: `None` instead of a panic past the end.
mod read {
    pub(super) fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
        bytes.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    pub(super) fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
        array(bytes, at).map(u16::from_be_bytes)
    }

    pub(super) fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
        array(bytes, at).map(u32::from_be_bytes)
    }

    pub(super) fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
        array(bytes, at).map(u16::from_le_bytes)
    }

    pub(super) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
        array(bytes, at).map(u32::from_le_bytes)
    }

    pub(super) fn le_u24(bytes: &[u8], at: usize) -> Option<u32> {
        let [a, b, c] = array::<3>(bytes, at)?;
        Some(u32::from_le_bytes([a, b, c, 0]))
    }

    /// A cursor over a buffered box or segment.
    #[derive(Debug, Clone)]
    pub(super) struct Reader<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        pub(super) fn new(data: &'a [u8]) -> Self {
            Reader { data, pos: 0 }
        }

        pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let end = self.pos.checked_add(n)?;
            let bytes = self.data.get(self.pos..end)?;
            self.pos = end;
            Some(bytes)
        }

        pub(super) fn skip(&mut self, n: usize) -> Option<()> {
            self.take(n).map(|_| ())
        }

        fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
            self.take(N)?.try_into().ok()
        }

        pub(super) fn u8(&mut self) -> Option<u8> {
            self.array::<1>().map(|[byte]| byte)
        }

        pub(super) fn be_u16(&mut self) -> Option<u16> {
            self.array().map(u16::from_be_bytes)
        }

        pub(super) fn be_u32(&mut self) -> Option<u32> {
            self.array().map(u32::from_be_bytes)
        }

        pub(super) fn be_u64(&mut self) -> Option<u64> {
            self.array().map(u64::from_be_bytes)
        }

        pub(super) fn fourcc(&mut self) -> Option<[u8; 4]> {
            self.array()
        }

        /// A big-endian unsigned integer of 0, 4 or 8 bytes (ISO BMFF field sizes).
        pub(super) fn be_uint(&mut self, size: u8) -> Option<u64> {
            match size {
                0 => Some(0),
                4 => self.be_u32().map(u64::from),
                8 => self.be_u64(),
                _ => None,
            }
        }

        /// A NUL-terminated string, without the NUL.
        pub(super) fn c_string(&mut self) -> Option<&'a [u8]> {
            let rest = self.data.get(self.pos..)?;
            let nul = rest.iter().position(|&byte| byte == 0)?;
            let text = rest.get(..nul)?;
            self.pos = self.pos.checked_add(nul)?.checked_add(1)?;
            Some(text)
        }
    }
}
