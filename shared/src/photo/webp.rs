//! WebP: RIFF chunks, EXIF and XMP dropped, VP8X flags cleared, RIFF size patched at the end.

use std::io::{Seek, Write};

use super::{
    Dimensions, MetadataKind, PhotoRejection, Sink, gather, read, split_up_to, unreadable,
};

/// VP8X flag bits for the EXIF and XMP chunks.
const EXIF_AND_XMP_FLAGS: u8 = 0x08 | 0x04;
/// The largest VP8X payload buffered (the format defines 10 bytes).
const MAX_VP8X_LEN: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `RIFF`, size, `WEBP`.
    Riff,
    /// FourCC and size of the next chunk.
    Header,
    /// The VP8X chunk, header included; `pad`: a pad byte follows in the input.
    Vp8x { len: u32, pad: bool },
    /// The first bytes of the first VP8/VP8L chunk, header included, for the frame size.
    Frame {
        fourcc: [u8; 4],
        len: u32,
        need: u32,
        pad: bool,
    },
    /// A kept chunk's payload; `odd`: a pad byte must be written after it.
    Copy {
        remaining: u64,
        odd: bool,
        pad: bool,
    },
    /// A dropped chunk, or an input pad byte.
    Skip { remaining: u64 },
    /// After the RIFF's declared end.
    Trailer,
}

pub(super) struct WebpScrubber {
    state: State,
    gathered: Vec<u8>,
    /// Bytes of the RIFF body not yet consumed by a chunk.
    riff_left: u64,
    size: Option<Dimensions>,
    started: bool,
    image_data: bool,
}

impl WebpScrubber {
    pub(super) fn new() -> Self {
        WebpScrubber {
            state: State::Riff,
            gathered: Vec::new(),
            riff_left: 0,
            size: None,
            started: false,
            image_data: false,
        }
    }

    pub(super) fn feed<W: Write + Seek>(
        &mut self,
        mut input: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        loop {
            let needs_no_input = matches!(
                self.state,
                State::Copy { remaining: 0, .. } | State::Skip { remaining: 0 }
            );
            if input.is_empty() && !needs_no_input {
                return Ok(());
            }
            match self.state {
                State::Riff => {
                    if gather(&mut self.gathered, &mut input, 12) {
                        let riff_size = read::le_u32(&self.gathered, 4).unwrap_or(0);
                        self.riff_left = u64::from(riff_size)
                            .checked_sub(4)
                            .ok_or_else(|| unreadable("the WebP container is damaged"))?;
                        sink.write(&self.gathered)?;
                        self.gathered.clear();
                        self.state = self.next_chunk();
                    }
                }
                State::Header => {
                    if gather(&mut self.gathered, &mut input, 8) {
                        let header = std::mem::take(&mut self.gathered);
                        self.header(&header, sink)?;
                    }
                }
                State::Vp8x { len, pad } => {
                    if gather(&mut self.gathered, &mut input, 8 + len as usize) {
                        let chunk = std::mem::take(&mut self.gathered);
                        self.vp8x(chunk, sink)?;
                        self.state = self.after_payload(len % 2 == 1, pad, sink)?;
                    }
                }
                State::Frame {
                    fourcc,
                    len,
                    need,
                    pad,
                } => {
                    if gather(&mut self.gathered, &mut input, 8 + need as usize) {
                        let frame = self.gathered.get(8..).unwrap_or_default();
                        self.size = Some(frame_size(&fourcc, frame)?);
                        sink.write(&self.gathered)?;
                        self.gathered.clear();
                        self.state = State::Copy {
                            remaining: u64::from(len - need),
                            odd: len % 2 == 1,
                            pad,
                        };
                    }
                }
                State::Copy {
                    remaining,
                    odd,
                    pad,
                } => {
                    let (data, remaining) = split_up_to(&mut input, remaining);
                    sink.write(data)?;
                    self.state = if remaining == 0 {
                        self.after_payload(odd, pad, sink)?
                    } else {
                        State::Copy {
                            remaining,
                            odd,
                            pad,
                        }
                    };
                }
                State::Skip { remaining } => {
                    let (_, remaining) = split_up_to(&mut input, remaining);
                    self.state = if remaining == 0 {
                        self.next_chunk()
                    } else {
                        State::Skip { remaining }
                    };
                }
                State::Trailer => {
                    sink.removed(MetadataKind::Trailer);
                    return Ok(());
                }
            }
        }
    }

    /// Checks the file ended at the RIFF's end and patches the RIFF size of the copy.
    pub(super) fn end<W: Write + Seek>(
        self,
        sink: &mut Sink<W>,
    ) -> Result<Dimensions, PhotoRejection> {
        if self.state != State::Trailer {
            return Err(PhotoRejection::Truncated);
        }
        let size = self
            .size
            .ok_or_else(|| unreadable("the WebP has no image header"))?;
        if !self.image_data {
            return Err(unreadable("the WebP has no image data"));
        }
        let riff_size = sink
            .written
            .checked_sub(8)
            .and_then(|len| u32::try_from(len).ok())
            .ok_or_else(|| unreadable("the WebP container is damaged"))?;
        sink.patch(4, &riff_size.to_le_bytes())?;
        Ok(size)
    }

    fn next_chunk(&self) -> State {
        if self.riff_left == 0 {
            State::Trailer
        } else {
            State::Header
        }
    }

    /// After a kept payload: the pad byte written for odd sizes, the input's pad byte skipped.
    fn after_payload<W: Write + Seek>(
        &self,
        odd: bool,
        pad: bool,
        sink: &mut Sink<W>,
    ) -> Result<State, PhotoRejection> {
        if odd {
            sink.write(&[0])?;
        }
        Ok(if pad {
            State::Skip { remaining: 1 }
        } else {
            self.next_chunk()
        })
    }

    fn header<W: Write + Seek>(
        &mut self,
        header: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let (Some(fourcc), Some(len)) = (read::array::<4>(header, 0), read::le_u32(header, 4))
        else {
            return Err(unreadable("a WebP chunk header is damaged"));
        };
        self.riff_left = self
            .riff_left
            .checked_sub(8)
            .ok_or_else(|| unreadable("a WebP chunk header is cut short"))?;
        let len64 = u64::from(len);
        if len64 > self.riff_left {
            return Err(unreadable(
                "a WebP chunk runs past the end of its container",
            ));
        }
        let odd = len % 2 == 1;
        // A last odd chunk whose pad byte the RIFF size leaves out is tolerated.
        let pad = odd && self.riff_left > len64;
        self.riff_left -= len64 + u64::from(pad);
        let first = !self.started;
        self.started = true;
        let copy = State::Copy {
            remaining: len64,
            odd,
            pad,
        };
        let skip = State::Skip {
            remaining: len64 + u64::from(pad),
        };
        self.state = match &fourcc {
            b"VP8X" if first => {
                if !(10..=MAX_VP8X_LEN).contains(&len) {
                    return Err(unreadable("the WebP extended header is damaged"));
                }
                self.gathered.extend_from_slice(header);
                State::Vp8x { len, pad }
            }
            b"VP8 " | b"VP8L" if first => {
                self.image_data = true;
                let need = if &fourcc == b"VP8 " { 10 } else { 5 };
                if len < need {
                    return Err(unreadable("the WebP image header is too short"));
                }
                self.gathered.extend_from_slice(header);
                State::Frame {
                    fourcc,
                    len,
                    need,
                    pad,
                }
            }
            _ if first => return Err(unreadable("the WebP does not start with an image header")),
            b"VP8X" => return Err(unreadable("the WebP has a second extended header")),
            b"VP8 " | b"VP8L" | b"ANMF" | b"ALPH" | b"ANIM" | b"ICCP" => {
                if matches!(&fourcc, b"VP8 " | b"VP8L" | b"ANMF") {
                    self.image_data = true;
                }
                sink.write(header)?;
                copy
            }
            b"EXIF" => {
                sink.removed(MetadataKind::Exif);
                skip
            }
            b"XMP " => {
                sink.removed(MetadataKind::Xmp);
                skip
            }
            _ => {
                sink.removed(MetadataKind::Other);
                skip
            }
        };
        Ok(())
    }

    /// `chunk`: the VP8X header and payload; written with the EXIF and XMP flags cleared.
    fn vp8x<W: Write + Seek>(
        &mut self,
        mut chunk: Vec<u8>,
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let width = read::le_u24(&chunk, 12).map(|w| w + 1);
        let height = read::le_u24(&chunk, 15).map(|h| h + 1);
        self.size = Some(
            width
                .zip(height)
                .and_then(|(width, height)| Dimensions::nonzero(width, height))
                .ok_or_else(|| unreadable("the WebP extended header is damaged"))?,
        );
        if let Some(flags) = chunk.get_mut(8) {
            *flags &= !EXIF_AND_XMP_FLAGS;
        }
        sink.write(&chunk)
    }
}

/// The size in a VP8 key frame header or a VP8L header (`frame`: the chunk's first bytes).
fn frame_size(fourcc: &[u8; 4], frame: &[u8]) -> Result<Dimensions, PhotoRejection> {
    let size = if fourcc == b"VP8 " {
        let key_frame = frame.first().is_some_and(|tag| tag & 1 == 0);
        let start_code = frame.get(3..6) == Some(&[0x9D, 0x01, 0x2A][..]);
        let width = read::le_u16(frame, 6).map(|w| u32::from(w & 0x3FFF));
        let height = read::le_u16(frame, 8).map(|h| u32::from(h & 0x3FFF));
        width
            .zip(height)
            .filter(|_| key_frame && start_code)
            .and_then(|(width, height)| Dimensions::nonzero(width, height))
    } else {
        let signature = frame.first() == Some(&0x2F);
        read::le_u32(frame, 1)
            .filter(|bits| signature && bits >> 29 == 0)
            .and_then(|bits| Dimensions::nonzero((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
    };
    size.ok_or_else(|| unreadable("the WebP image header is damaged"))
}
