//! JPEG: a whitelist of marker segments, scan data passed through untouched.

use std::io::{Seek, Write};

use super::{Dimensions, MetadataKind, PhotoRejection, Sink, exif, gather, read, unreadable};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP13: u8 = 0xED;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

const XMP_SIGNATURE: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const EXTENDED_XMP_SIGNATURE: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The two SOI bytes.
    Start,
    /// Between segments: an `FF` (then fill bytes) and a marker byte.
    Marker { after_ff: bool },
    /// The two length bytes of a marker segment.
    Length { marker: u8 },
    /// A marker segment's payload (`len` bytes, at most 65533).
    Segment { marker: u8, len: usize },
    /// Entropy-coded data after SOS, up to the next marker other than RSTn.
    Scan { after_ff: bool },
    /// After EOI.
    Trailer,
}

/// What happens to a marker segment.
enum Verdict {
    Keep,
    Drop(MetadataKind),
}

pub(super) struct JpegScrubber {
    state: State,
    gathered: Vec<u8>,
    frame: Option<Dimensions>,
    scans: u32,
    orientation_kept: bool,
}

impl JpegScrubber {
    pub(super) fn new() -> Self {
        JpegScrubber {
            state: State::Start,
            gathered: Vec::new(),
            frame: None,
            scans: 0,
            orientation_kept: false,
        }
    }

    pub(super) fn feed<W: Write + Seek>(
        &mut self,
        mut input: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        while let Some(&byte) = input.first() {
            match self.state {
                State::Start => {
                    if gather(&mut self.gathered, &mut input, 2) {
                        if self.gathered != [0xFF, SOI] {
                            return Err(unreadable("the JPEG does not start with its marker"));
                        }
                        self.gathered.clear();
                        sink.write(&[0xFF, SOI])?;
                        self.state = State::Marker { after_ff: false };
                    }
                }
                State::Marker { after_ff } => {
                    input = input.get(1..).unwrap_or_default();
                    match (after_ff, byte) {
                        (false, 0xFF) => self.state = State::Marker { after_ff: true },
                        (false, _) | (true, 0x00) => {
                            return Err(unreadable("the JPEG has stray bytes between segments"));
                        }
                        (true, 0xFF) => {} // fill byte
                        (true, marker) => self.marker(marker, sink)?,
                    }
                }
                State::Length { marker } => {
                    if gather(&mut self.gathered, &mut input, 2) {
                        let declared = read::be_u16(&self.gathered, 0).unwrap_or(0);
                        self.gathered.clear();
                        let len = usize::from(declared.checked_sub(2).ok_or_else(|| {
                            unreadable("a JPEG segment has an impossible length")
                        })?);
                        if len == 0 {
                            self.segment(marker, &[], sink)?;
                        } else {
                            self.state = State::Segment { marker, len };
                        }
                    }
                }
                State::Segment { marker, len } => {
                    if gather(&mut self.gathered, &mut input, len) {
                        let payload = std::mem::take(&mut self.gathered);
                        self.segment(marker, &payload, sink)?;
                    }
                }
                State::Scan { after_ff: true } => {
                    input = input.get(1..).unwrap_or_default();
                    match byte {
                        // Byte stuffing and restart markers belong to the scan.
                        0x00 | 0xD0..=0xD7 => {
                            sink.write(&[0xFF, byte])?;
                            self.state = State::Scan { after_ff: false };
                        }
                        0xFF => {} // the previous FF was a fill byte
                        marker => self.marker(marker, sink)?,
                    }
                }
                State::Scan { after_ff: false } => {
                    let (data, rest) = match input.iter().position(|&b| b == 0xFF) {
                        Some(at) => {
                            self.state = State::Scan { after_ff: true };
                            let (data, rest) = input.split_at(at);
                            (data, rest.get(1..).unwrap_or_default())
                        }
                        None => (input, &[][..]),
                    };
                    sink.write(data)?;
                    input = rest;
                }
                State::Trailer => {
                    sink.removed(MetadataKind::Trailer);
                    input = &[];
                }
            }
        }
        Ok(())
    }

    /// The frame size, once the file has ended at EOI.
    pub(super) fn end(self) -> Result<Dimensions, PhotoRejection> {
        match (self.state, self.frame) {
            (State::Trailer, Some(frame)) => Ok(frame),
            (State::Trailer, None) => Err(unreadable("the JPEG has no frame header")),
            _ => Err(PhotoRejection::Truncated),
        }
    }

    /// A marker byte just read after `FF`.
    fn marker<W: Write + Seek>(
        &mut self,
        marker: u8,
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        match marker {
            SOI => {
                return Err(unreadable(
                    "the JPEG starts a second image inside the first",
                ));
            }
            EOI => {
                if self.scans == 0 {
                    return Err(unreadable("the JPEG has no image data"));
                }
                sink.write(&[0xFF, EOI])?;
                self.state = State::Trailer;
            }
            // TEM and RSTn stand alone, without a length.
            0x01 | 0xD0..=0xD7 => {
                sink.write(&[0xFF, marker])?;
                self.state = State::Marker { after_ff: false };
            }
            _ => self.state = State::Length { marker },
        }
        Ok(())
    }

    /// A whole marker segment: kept, dropped, or (SOS) the start of a scan.
    fn segment<W: Write + Seek>(
        &mut self,
        marker: u8,
        payload: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        self.state = State::Marker { after_ff: false };
        let verdict = match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = read::be_u16(payload, 1);
                let width = read::be_u16(payload, 3);
                let (Some(height), Some(width)) = (height, width) else {
                    return Err(unreadable("the JPEG frame header is too short"));
                };
                let frame = Dimensions::nonzero(u32::from(width), u32::from(height))
                    .ok_or_else(|| unreadable("the JPEG frame header has no size"))?;
                self.frame.get_or_insert(frame);
                Verdict::Keep
            }
            SOS => {
                if self.frame.is_none() {
                    return Err(unreadable(
                        "the JPEG has image data before its frame header",
                    ));
                }
                self.scans = self.scans.saturating_add(1);
                self.state = State::Scan { after_ff: false };
                Verdict::Keep
            }
            // DHT, DAC, DNL, DQT, DRI, DHP, EXP: tables the decoder needs.
            0xC4 | 0xCC | 0xDB..=0xDF => Verdict::Keep,
            APP0 if payload.starts_with(b"JFIF\0") || payload.starts_with(b"JFXX\0") => {
                Verdict::Keep
            }
            APP1 if payload.starts_with(exif::JPEG_EXIF_SIGNATURE) => {
                self.keep_orientation(payload, sink)?;
                Verdict::Drop(MetadataKind::Exif)
            }
            APP1 if payload.starts_with(XMP_SIGNATURE)
                || payload.starts_with(EXTENDED_XMP_SIGNATURE) =>
            {
                Verdict::Drop(MetadataKind::Xmp)
            }
            APP2 if payload.starts_with(b"ICC_PROFILE\0") => Verdict::Keep,
            APP13 => Verdict::Drop(MetadataKind::Iptc),
            APP14 if payload.starts_with(b"Adobe") => Verdict::Keep,
            COM => Verdict::Drop(MetadataKind::Comment),
            _ => Verdict::Drop(MetadataKind::Other),
        };
        match verdict {
            Verdict::Keep => write_segment(marker, payload, sink),
            Verdict::Drop(kind) => {
                sink.removed(kind);
                Ok(())
            }
        }
    }

    /// Writes an orientation-only Exif segment in place of the first Exif that asks for a turn.
    fn keep_orientation<W: Write + Seek>(
        &mut self,
        payload: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        if self.orientation_kept {
            return Ok(());
        }
        let tiff = payload
            .get(exif::JPEG_EXIF_SIGNATURE.len()..)
            .unwrap_or_default();
        if let Some(orientation) = exif::orientation(tiff) {
            write_segment(APP1, &exif::orientation_only_app1(orientation), sink)?;
            self.orientation_kept = true;
        }
        Ok(())
    }
}

fn write_segment<W: Write + Seek>(
    marker: u8,
    payload: &[u8],
    sink: &mut Sink<W>,
) -> Result<(), PhotoRejection> {
    let len = payload
        .len()
        .checked_add(2)
        .and_then(|len| u16::try_from(len).ok())
        .ok_or_else(|| unreadable("a JPEG segment is too long"))?;
    let [high, low] = len.to_be_bytes();
    sink.write(&[0xFF, marker, high, low])?;
    sink.write(payload)
}
