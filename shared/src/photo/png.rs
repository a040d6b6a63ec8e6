//! PNG: critical chunks and the ancillary chunks that change how pixels look, CRCs verified.

use std::io::{Seek, Write};

use super::{
    Dimensions, MetadataKind, PNG_SIGNATURE, PhotoRejection, Sink, gather, read, split_up_to,
    unreadable,
};

/// Ancillary chunks kept because they change how the pixels are shown (colour, transparency,
/// pixel aspect, animation). Both spellings of the HDR chunks seen in drafts are accepted.
const KEPT_ANCILLARY: [&[u8; 4]; 18] = [
    b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"mDCv", b"cLLI",
    b"cLLi", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

/// The keyword of the iTXt chunk that holds XMP, with its NUL.
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp\0";

const MAX_CHUNK_LEN: u32 = 0x7FFF_FFFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Signature,
    /// Length and type of the next chunk.
    Header,
    /// IHDR's 13 bytes and CRC, after its header.
    Ihdr,
    /// A kept chunk's data, streamed.
    Data {
        remaining: u64,
    },
    /// A kept chunk's CRC; `last` for IEND.
    Crc {
        last: bool,
    },
    /// The start of a dropped iTXt, to tell XMP from text.
    Keyword {
        len: u32,
    },
    /// A dropped chunk's remaining data and CRC.
    Skip {
        remaining: u64,
    },
    /// After IEND.
    Trailer,
}

pub(super) struct PngScrubber {
    state: State,
    gathered: Vec<u8>,
    size: Option<Dimensions>,
    image_data: bool,
    crc: crc32fast::Hasher,
}

impl PngScrubber {
    pub(super) fn new() -> Self {
        PngScrubber {
            state: State::Signature,
            gathered: Vec::new(),
            size: None,
            image_data: false,
            crc: crc32fast::Hasher::new(),
        }
    }

    pub(super) fn feed<W: Write + Seek>(
        &mut self,
        mut input: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        while !input.is_empty() {
            match self.state {
                State::Signature => {
                    if gather(&mut self.gathered, &mut input, PNG_SIGNATURE.len()) {
                        if self.gathered != PNG_SIGNATURE {
                            return Err(unreadable("the PNG signature is damaged"));
                        }
                        self.gathered.clear();
                        sink.write(&PNG_SIGNATURE)?;
                        self.state = State::Header;
                    }
                }
                State::Header => {
                    if gather(&mut self.gathered, &mut input, 8) {
                        let header = std::mem::take(&mut self.gathered);
                        self.header(&header, sink)?;
                    }
                }
                State::Ihdr => {
                    if gather(&mut self.gathered, &mut input, 8 + 13 + 4) {
                        let body = std::mem::take(&mut self.gathered);
                        self.ihdr(&body, sink)?;
                    }
                }
                State::Data { remaining } => {
                    let (data, remaining) = split_up_to(&mut input, remaining);
                    self.crc.update(data);
                    sink.write(data)?;
                    self.state = if remaining == 0 {
                        State::Crc { last: false }
                    } else {
                        State::Data { remaining }
                    };
                }
                State::Crc { last } => {
                    if gather(&mut self.gathered, &mut input, 4) {
                        let stored = read::be_u32(&self.gathered, 0);
                        let computed = std::mem::take(&mut self.crc).finalize();
                        if stored != Some(computed) {
                            return Err(unreadable("a PNG chunk is damaged"));
                        }
                        self.gathered.clear();
                        sink.write(&computed.to_be_bytes())?;
                        self.state = if last { State::Trailer } else { State::Header };
                    }
                }
                State::Keyword { len } => {
                    let want = XMP_KEYWORD
                        .len()
                        .min(usize::try_from(len).unwrap_or(usize::MAX));
                    if gather(&mut self.gathered, &mut input, want) {
                        let kind = if self.gathered == XMP_KEYWORD {
                            MetadataKind::Xmp
                        } else {
                            MetadataKind::Text
                        };
                        sink.removed(kind);
                        let seen = super::len64(&self.gathered);
                        self.gathered.clear();
                        self.state = State::Skip {
                            remaining: u64::from(len).saturating_sub(seen) + 4,
                        };
                    }
                }
                State::Skip { remaining } => {
                    let (_, remaining) = split_up_to(&mut input, remaining);
                    self.state = if remaining == 0 {
                        State::Header
                    } else {
                        State::Skip { remaining }
                    };
                }
                State::Trailer => {
                    sink.removed(MetadataKind::Trailer);
                    input = &[];
                }
            }
        }
        Ok(())
    }

    pub(super) fn end(self) -> Result<Dimensions, PhotoRejection> {
        match (self.state, self.size) {
            (State::Trailer, Some(size)) => Ok(size),
            (State::Trailer, None) => Err(unreadable("the PNG has no header chunk")),
            _ => Err(PhotoRejection::Truncated),
        }
    }

    fn header<W: Write + Seek>(
        &mut self,
        header: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let (Some(len), Some(kind)) = (read::be_u32(header, 0), read::array::<4>(header, 4)) else {
            return Err(unreadable("a PNG chunk header is damaged"));
        };
        if len > MAX_CHUNK_LEN || !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(unreadable("a PNG chunk header is damaged"));
        }
        if self.size.is_none() {
            if &kind != b"IHDR" || len != 13 {
                return Err(unreadable("the PNG does not start with its header chunk"));
            }
            self.gathered.extend_from_slice(header);
            self.state = State::Ihdr;
            return Ok(());
        }
        let kept = kind[0].is_ascii_uppercase() || KEPT_ANCILLARY.contains(&&kind);
        match &kind {
            b"IHDR" => return Err(unreadable("the PNG has a second header chunk")),
            b"IEND" if len != 0 => return Err(unreadable("the PNG end chunk is damaged")),
            b"IEND" if !self.image_data => return Err(unreadable("the PNG has no image data")),
            b"IDAT" => self.image_data = true,
            _ => {}
        }
        if kept {
            sink.write(header)?;
            self.crc = crc32fast::Hasher::new();
            self.crc.update(&kind);
            self.state = match (&kind, len) {
                (b"IEND", _) => State::Crc { last: true },
                (_, 0) => State::Crc { last: false },
                (_, remaining) => State::Data {
                    remaining: u64::from(remaining),
                },
            };
            return Ok(());
        }
        self.state = match &kind {
            b"iTXt" if len > 0 => State::Keyword { len },
            _ => {
                sink.removed(match &kind {
                    b"eXIf" => MetadataKind::Exif,
                    b"tEXt" | b"zTXt" | b"iTXt" => MetadataKind::Text,
                    b"tIME" => MetadataKind::Timestamp,
                    _ => MetadataKind::Other,
                });
                State::Skip {
                    remaining: u64::from(len) + 4,
                }
            }
        };
        Ok(())
    }

    /// `chunk`: IHDR's length, type, 13 bytes of data and CRC.
    fn ihdr<W: Write + Seek>(
        &mut self,
        chunk: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let checked = chunk.get(4..21).unwrap_or_default();
        if read::be_u32(chunk, 21) != Some(crc32fast::hash(checked)) {
            return Err(unreadable("the PNG header chunk is damaged"));
        }
        let width = read::be_u32(chunk, 8).filter(|&w| w <= MAX_CHUNK_LEN);
        let height = read::be_u32(chunk, 12).filter(|&h| h <= MAX_CHUNK_LEN);
        let size = width
            .zip(height)
            .and_then(|(width, height)| Dimensions::nonzero(width, height))
            .ok_or_else(|| unreadable("the PNG header chunk has no valid size"))?;
        self.size = Some(size);
        sink.write(chunk)?;
        self.state = State::Header;
        Ok(())
    }
}
