//! Deterministic sample photos that carry GPS and other metadata, for tests here and in other
//! crates (end-to-end tests, the benchmark). Compiled for tests and with the `photo-samples`
//! feature; never part of a Lambda.
//!
//! Every sample carries the same GPS position ([`SAMPLE_LATITUDE`], [`SAMPLE_LONGITUDE`]) in an
//! Exif GPS IFD, so [`has_gps_exif`] tells whether it survived a scrub, and the same XMP packet,
//! comment and trailer, so [`leaks_sample_metadata`] tells whether anything else did.

use jpeg_encoder::{ColorType, Encoder};

/// 31°13'50.4" N, as Exif rationals (numerator, denominator).
pub const SAMPLE_LATITUDE: [(u32, u32); 3] = [(31, 1), (13, 1), (504, 10)];
/// 121°28'24.6" E, as Exif rationals.
pub const SAMPLE_LONGITUDE: [(u32, u32); 3] = [(121, 1), (28, 1), (246, 10)];
/// The camera maker written in IFD0.
pub const SAMPLE_MAKE: &str = "Aftercare Sample Phone";
/// Text of the JPEG COM segment and the PNG tEXt chunk.
pub const SAMPLE_COMMENT: &str = "Taken by Jane Customer at home";
/// Bytes appended after the image's end, as phone vendors do.
pub const SAMPLE_TRAILER: &[u8] = b"VENDOR-TRAILER: serial 0042-1337";
/// The XMP packet (it repeats the GPS position as text).
pub const SAMPLE_XMP: &str = concat!(
    "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>",
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF ",
    "xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>",
    "<rdf:Description xmlns:exif='http://ns.adobe.com/exif/1.0/' ",
    "exif:GPSLatitude='31,13.84N' exif:GPSLongitude='121,28.41E'/>",
    "</rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
);
/// The size the HEIC sample's `ispe` declares.
pub const HEIC_SAMPLE_SIZE: (u32, u32) = (4032, 3024);

/// A small deterministic generator (SplitMix64) for sample pixels and property tests.
#[derive(Debug, Clone)]
pub struct SampleRng(u64);

impl SampleRng {
    pub fn new(seed: u64) -> Self {
        SampleRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound).unwrap_or(u64::MAX);
        if bound == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % bound).unwrap_or(0)
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let random = self.next_u64().to_le_bytes();
            for (byte, value) in chunk.iter_mut().zip(random) {
                *byte = value;
            }
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        self.fill(&mut bytes);
        bytes
    }
}

/// A baseline JPEG (decodable) with Exif (IFD0 Make/Model/Orientation 1 and a GPS IFD), XMP, a
/// comment and trailer bytes after EOI.
pub fn jpeg_with_gps(width: u16, height: u16) -> Vec<u8> {
    jpeg_with_gps_oriented(width, height, 1)
}

/// [`jpeg_with_gps`] whose Exif Orientation is `orientation` (6: the phone was held upright).
pub fn jpeg_with_gps_oriented(width: u16, height: u16, orientation: u16) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let plain = encode_jpeg(&gradient(width, height), width, height, 90, false);
    with_jpeg_metadata(&plain, orientation)
}

/// [`jpeg_with_gps`], progressive: tables and scans interleave after the first SOS.
pub fn progressive_jpeg_with_gps(width: u16, height: u16) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let plain = encode_jpeg(&gradient(width, height), width, height, 90, true);
    with_jpeg_metadata(&plain, 1)
}

/// A decodable JPEG of roughly `approx_bytes` (noise pixels at quality 100, so it barely
/// compresses), with the same metadata as [`jpeg_with_gps`]. For benchmarks of real-size photos.
pub fn jpeg_of_size(approx_bytes: usize) -> Vec<u8> {
    const PROBE: u16 = 128;
    let mut rng = SampleRng::new(0x5EED_0F5A);
    let probe_pixels = rng.bytes(usize::from(PROBE) * usize::from(PROBE) * 3);
    let probe = encode_jpeg(&probe_pixels, PROBE, PROBE, 100, false);
    let per_pixel = probe.len().max(1) as f64 / f64::from(PROBE).powi(2);
    let side = (approx_bytes as f64 / per_pixel).sqrt().round();
    let side = side.clamp(16.0, 8192.0) as u16;
    let pixels = rng.bytes(usize::from(side) * usize::from(side) * 3);
    with_jpeg_metadata(&encode_jpeg(&pixels, side, side, 100, false), 1)
}

/// A PNG (16x8 RGB) with pHYs (kept), tEXt, eXIf (with GPS), an XMP iTXt, tIME and trailer bytes.
pub fn png_with_text() -> Vec<u8> {
    let (width, height) = (16u32, 8u32);
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 16) as u8, (y * 32) as u8, 128]);
        }
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, not interlaced
    let mut phys = Vec::new();
    phys.extend_from_slice(&2835u32.to_be_bytes());
    phys.extend_from_slice(&2835u32.to_be_bytes());
    phys.push(1);
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(SAMPLE_XMP.as_bytes());
    let mut time = 2024u16.to_be_bytes().to_vec();
    time.extend_from_slice(&[5, 17, 10, 30, 0]);

    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"pHYs", &phys));
    png.extend(png_chunk(
        b"tEXt",
        format!("Author\0{SAMPLE_COMMENT}").as_bytes(),
    ));
    png.extend(png_chunk(b"eXIf", &exif_tiff_with_gps(1)));
    png.extend(png_chunk(b"iTXt", &itxt));
    png.extend(png_chunk(b"tIME", &time));
    png.extend(png_chunk(b"IDAT", &zlib_stored(&raw)));
    png.extend(png_chunk(b"IEND", &[]));
    png.extend_from_slice(SAMPLE_TRAILER);
    png
}

/// An extended WebP: VP8X (alpha, EXIF and XMP flags), a 1x1 lossless VP8L image, an EXIF chunk
/// with GPS and an `XMP ` chunk.
pub fn webp_with_exif() -> Vec<u8> {
    let vp8x = [0x1C, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // flags; canvas 1x1 (stored minus one)
    // A valid 1x1 lossless bitstream (the one browsers' WebP feature tests use).
    let vp8l = [
        0x2F, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07,
    ];
    let mut body = b"WEBP".to_vec();
    body.extend(webp_chunk(b"VP8X", &vp8x));
    body.extend(webp_chunk(b"VP8L", &vp8l));
    body.extend(webp_chunk(b"EXIF", &exif_tiff_with_gps(1)));
    body.extend(webp_chunk(b"XMP ", SAMPLE_XMP.as_bytes()));
    riff(&body)
}

/// A HEIC: `ftyp` heic, `meta` (hdlr, pitm, iinf, iloc, iprp with ispe and ipma), then `mdat`
/// holding a fake HEVC payload, an Exif item with GPS and an XMP item.
pub fn heic_with_exif() -> Vec<u8> {
    heic(HeicLayout::MetaFirst)
}

/// [`heic_with_exif`] with `mdat` before `meta`: the items lie before the box that locates them.
pub fn heic_with_exif_before_meta() -> Vec<u8> {
    heic(HeicLayout::MdatFirst)
}

/// [`heic_with_exif`] with the Exif item inside `meta`'s `idat` (construction method 1).
pub fn heic_with_exif_in_idat() -> Vec<u8> {
    heic(HeicLayout::ExifInIdat)
}

/// Whether an Exif structure with a GPS IFD, or the samples' GPS position, is in `bytes`.
pub fn has_gps_exif(bytes: &[u8]) -> bool {
    let tiff_with_gps = (0..bytes.len()).any(|at| {
        bytes
            .get(at..)
            .is_some_and(|tiff| ifd0_tags(tiff).contains(&GPS_IFD_TAG))
    });
    let coordinates = [
        rationals_be(&SAMPLE_LATITUDE),
        rationals_le(&SAMPLE_LATITUDE),
    ];
    tiff_with_gps || coordinates.iter().any(|needle| contains(bytes, needle))
}

/// Whether any of the samples' metadata (GPS, XMP, comment, maker, trailer) is in `bytes`.
pub fn leaks_sample_metadata(bytes: &[u8]) -> bool {
    has_gps_exif(bytes)
        || [
            b"x:xmpmeta".as_slice(),
            SAMPLE_COMMENT.as_bytes(),
            SAMPLE_MAKE.as_bytes(),
            SAMPLE_TRAILER,
        ]
        .iter()
        .any(|needle| contains(bytes, needle))
}

/// A big-endian TIFF structure: IFD0 with Make, Model, Orientation and a GPS IFD pointer; the
/// GPS IFD with version, latitude and longitude.
pub fn exif_tiff_with_gps(orientation: u16) -> Vec<u8> {
    let make = format!("{SAMPLE_MAKE}\0").into_bytes();
    let model = b"Model S1\0".to_vec();
    let ifd0_at = 8u32;
    let make_at = ifd0_at + 2 + 4 * 12 + 4;
    let model_at = make_at + make.len() as u32;
    let gps_at = (model_at + model.len() as u32 + 1) & !1;
    let latitude_at = gps_at + 2 + 5 * 12 + 4;
    let longitude_at = latitude_at + 24;

    let mut tiff = b"MM\0*".to_vec();
    tiff.extend_from_slice(&ifd0_at.to_be_bytes());
    tiff.extend_from_slice(&4u16.to_be_bytes());
    ifd_entry(
        &mut tiff,
        0x010F,
        ASCII,
        make.len() as u32,
        make_at.to_be_bytes(),
    );
    ifd_entry(
        &mut tiff,
        0x0110,
        ASCII,
        model.len() as u32,
        model_at.to_be_bytes(),
    );
    let [high, low] = orientation.to_be_bytes();
    ifd_entry(&mut tiff, 0x0112, SHORT, 1, [high, low, 0, 0]);
    ifd_entry(&mut tiff, GPS_IFD_TAG, LONG, 1, gps_at.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&make);
    tiff.extend_from_slice(&model);
    tiff.resize(gps_at as usize, 0);
    tiff.extend_from_slice(&5u16.to_be_bytes());
    ifd_entry(&mut tiff, 0x0000, BYTE, 4, [2, 3, 0, 0]);
    ifd_entry(&mut tiff, 0x0001, ASCII, 2, *b"N\0\0\0");
    ifd_entry(&mut tiff, 0x0002, RATIONAL, 3, latitude_at.to_be_bytes());
    ifd_entry(&mut tiff, 0x0003, ASCII, 2, *b"E\0\0\0");
    ifd_entry(&mut tiff, 0x0004, RATIONAL, 3, longitude_at.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend(rationals_be(&SAMPLE_LATITUDE));
    tiff.extend(rationals_be(&SAMPLE_LONGITUDE));
    tiff
}

/// A JPEG marker segment: `FF marker`, length, payload.
pub fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap_or(u16::MAX);
    let mut segment = vec![0xFF, marker];
    segment.extend_from_slice(&len.to_be_bytes());
    segment.extend_from_slice(payload);
    segment
}

/// `jpeg` with `segments` inserted after SOI and the JFIF APP0, if there is one.
pub fn insert_jpeg_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut at = 2;
    if jpeg.get(2..4) == Some(&[0xFF, 0xE0]) {
        let len = jpeg
            .get(4..6)
            .map_or(0, |len| usize::from(u16::from_be_bytes([len[0], len[1]])));
        at = 4 + len;
    }
    let at = at.min(jpeg.len());
    let mut out = jpeg.get(..at).unwrap_or_default().to_vec();
    out.extend(segments.iter().flatten());
    out.extend_from_slice(jpeg.get(at..).unwrap_or_default());
    out
}

/// A PNG chunk: length, type, data, CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// A RIFF chunk, padded to an even size.
pub fn webp_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = fourcc.to_vec();
    chunk.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    chunk.extend_from_slice(data);
    if data.len() % 2 == 1 {
        chunk.push(0);
    }
    chunk
}

/// `RIFF`, the size of `body`, `body` (which starts with `WEBP`).
pub fn riff(body: &[u8]) -> Vec<u8> {
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    file.extend_from_slice(body);
    file
}

/// An ISO BMFF box.
pub fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let size = u32::try_from(body.len() + 8).unwrap_or(u32::MAX);
    let mut boxed = size.to_be_bytes().to_vec();
    boxed.extend_from_slice(kind);
    boxed.extend_from_slice(body);
    boxed
}

/// An ISO BMFF full box (version and flags before the body).
pub fn bmff_full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut full = flags.to_be_bytes().to_vec();
    full[0] = version;
    full.extend_from_slice(body);
    bmff_box(kind, &full)
}

const GPS_IFD_TAG: u16 = 0x8825;
const BYTE: u16 = 1;
const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

fn ifd_entry(tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
    tiff.extend_from_slice(&tag.to_be_bytes());
    tiff.extend_from_slice(&kind.to_be_bytes());
    tiff.extend_from_slice(&count.to_be_bytes());
    tiff.extend_from_slice(&value);
}

fn rationals_be(values: &[(u32, u32)]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|(n, d)| [n.to_be_bytes(), d.to_be_bytes()])
        .flatten()
        .collect()
}

fn rationals_le(values: &[(u32, u32)]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|(n, d)| [n.to_le_bytes(), d.to_le_bytes()])
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The tags of IFD0 when `tiff` starts with a TIFF header; empty otherwise.
fn ifd0_tags(tiff: &[u8]) -> Vec<u16> {
    let big_endian = match tiff.get(..4) {
        Some(b"MM\0*") => true,
        Some(b"II*\0") => false,
        _ => return Vec::new(),
    };
    let u16_at = |at: usize| {
        let bytes: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(bytes)
        } else {
            u16::from_le_bytes(bytes)
        })
    };
    let u32_at = |at: usize| {
        let bytes: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    };
    let Some(ifd0) = u32_at(4).and_then(|at| usize::try_from(at).ok()) else {
        return Vec::new();
    };
    let count = u16_at(ifd0).unwrap_or(0);
    (0..usize::from(count))
        .map_while(|index| u16_at(ifd0.checked_add(2 + index * 12)?))
        .collect()
}

fn gradient(width: u16, height: u16) -> Vec<u8> {
    let mut rng = SampleRng::new(u64::from(width) << 16 | u64::from(height));
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..usize::from(height) {
        for x in 0..usize::from(width) {
            let grain = (rng.next_u64() % 16) as u8;
            pixels.push(((x * 255) / usize::from(width)) as u8 ^ grain);
            pixels.push(((y * 255) / usize::from(height)) as u8);
            pixels.push((((x + y) * 4) % 256) as u8);
        }
    }
    pixels
}

/// The encoded image, or empty if the encoder refuses (it does not for sizes of at least 1x1).
fn encode_jpeg(pixels: &[u8], width: u16, height: u16, quality: u8, progressive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_progressive(progressive);
    if encoder
        .encode(pixels, width, height, ColorType::Rgb)
        .is_err()
    {
        return Vec::new();
    }
    out
}

fn with_jpeg_metadata(plain: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(exif_tiff_with_gps(orientation));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(SAMPLE_XMP.as_bytes());
    let segments = [
        jpeg_segment(0xE1, &exif),
        jpeg_segment(0xE1, &xmp),
        jpeg_segment(0xFE, SAMPLE_COMMENT.as_bytes()),
    ];
    let mut jpeg = insert_jpeg_segments(plain, &segments);
    jpeg.extend_from_slice(SAMPLE_TRAILER);
    jpeg
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    if blocks.is_empty() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xFF, 0xFF]);
    }
    for (index, block) in blocks.iter().enumerate() {
        out.push(u8::from(index + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeicLayout {
    MetaFirst,
    MdatFirst,
    ExifInIdat,
}

/// Where an item's bytes are: construction method, offset, length.
type ItemPlace = (u16, u32, u32);

fn heic(layout: HeicLayout) -> Vec<u8> {
    let mut rng = SampleRng::new(0x4E1C);
    let mut hevc = b"fake HEVC payload ".to_vec();
    hevc.extend(rng.bytes(3000));
    let mut exif = 6u32.to_be_bytes().to_vec(); // offset of the TIFF header after it
    exif.extend_from_slice(b"Exif\0\0");
    exif.extend(exif_tiff_with_gps(1));
    let xmp = SAMPLE_XMP.as_bytes();

    let ftyp = bmff_box(b"ftyp", b"heic\0\0\0\0mif1heic");
    let in_idat = layout == HeicLayout::ExifInIdat;
    let mut payload = hevc.clone();
    if !in_idat {
        payload.extend_from_slice(&exif);
    }
    payload.extend_from_slice(xmp);
    let mdat = bmff_box(b"mdat", &payload);

    let place = |start: usize, data: &[u8]| (0, start as u32, data.len() as u32);
    let placeholder = [(0, 0, 0); 3];
    let meta_len = heic_meta(placeholder, in_idat.then_some(exif.as_slice())).len();
    let mdat_at = match layout {
        HeicLayout::MdatFirst => ftyp.len(),
        HeicLayout::MetaFirst | HeicLayout::ExifInIdat => ftyp.len() + meta_len,
    };
    let hevc_at = mdat_at + 8;
    let exif_place = if in_idat {
        (1, 0, exif.len() as u32)
    } else {
        place(hevc_at + hevc.len(), &exif)
    };
    let xmp_at = hevc_at + hevc.len() + if in_idat { 0 } else { exif.len() };
    let places = [place(hevc_at, &hevc), exif_place, place(xmp_at, xmp)];
    let meta = heic_meta(places, in_idat.then_some(exif.as_slice()));

    let mut file = ftyp;
    match layout {
        HeicLayout::MdatFirst => {
            file.extend(mdat);
            file.extend(meta);
        }
        HeicLayout::MetaFirst | HeicLayout::ExifInIdat => {
            file.extend(meta);
            file.extend(mdat);
        }
    }
    file
}

/// `meta` for items 1 (hvc1, primary), 2 (Exif) and 3 (XMP) at `places`, with an `idat` when
/// given.
fn heic_meta(places: [ItemPlace; 3], idat: Option<&[u8]>) -> Vec<u8> {
    let mut hdlr = 0u32.to_be_bytes().to_vec();
    hdlr.extend_from_slice(b"pict");
    hdlr.extend_from_slice(&[0; 12]);
    hdlr.push(0);
    let infe = |item: u16, kind: &[u8; 4], extra: &[u8]| {
        let mut body = item.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(kind);
        body.push(0);
        body.extend_from_slice(extra);
        bmff_full_box(b"infe", 2, 0, &body)
    };
    let mut iinf = 3u16.to_be_bytes().to_vec();
    iinf.extend(infe(1, b"hvc1", &[]));
    iinf.extend(infe(2, b"Exif", &[]));
    iinf.extend(infe(3, b"mime", b"application/rdf+xml\0"));
    let mut iloc = vec![0x44, 0x00]; // 4-byte offsets and lengths, no base offset, no index
    iloc.extend_from_slice(&3u16.to_be_bytes());
    for (item, (method, offset, length)) in (1u16..).zip(places) {
        iloc.extend_from_slice(&item.to_be_bytes());
        iloc.extend_from_slice(&method.to_be_bytes());
        iloc.extend_from_slice(&0u16.to_be_bytes()); // data reference: this file
        iloc.extend_from_slice(&1u16.to_be_bytes()); // one extent
        iloc.extend_from_slice(&offset.to_be_bytes());
        iloc.extend_from_slice(&length.to_be_bytes());
    }
    let mut ispe = HEIC_SAMPLE_SIZE.0.to_be_bytes().to_vec();
    ispe.extend_from_slice(&HEIC_SAMPLE_SIZE.1.to_be_bytes());
    let mut ipco = bmff_box(b"hvcC", &[1, 1, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 0x5D]);
    ipco.extend(bmff_full_box(b"ispe", 0, 0, &ispe));
    // An ispe no item uses, larger than the primary's: the primary's must still win.
    ipco.extend(bmff_full_box(
        b"ispe",
        0,
        0,
        &[0, 0, 0x1F, 0x40, 0, 0, 0x17, 0x70],
    ));
    let mut ipma = 1u32.to_be_bytes().to_vec();
    ipma.extend_from_slice(&1u16.to_be_bytes());
    ipma.extend_from_slice(&[2, 0x81, 0x02]); // item 1: hvcC (essential), ispe
    let mut iprp = bmff_box(b"ipco", &ipco);
    iprp.extend(bmff_full_box(b"ipma", 0, 0, &ipma));

    let mut meta = bmff_full_box(b"hdlr", 0, 0, &hdlr);
    meta.extend(bmff_full_box(b"pitm", 0, 0, &1u16.to_be_bytes()));
    meta.extend(bmff_full_box(b"iinf", 0, 0, &iinf));
    meta.extend(bmff_full_box(b"iloc", 1, 0, &iloc));
    meta.extend(bmff_box(b"iprp", &iprp));
    if let Some(idat) = idat {
        meta.extend(bmff_box(b"idat", idat));
    }
    bmff_full_box(b"meta", 0, 0, &meta)
}
