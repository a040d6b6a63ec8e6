//! HEIC (ISO BMFF): top-level boxes streamed, `meta` buffered and read, Exif and XMP items
//! overwritten with zeros where they lie so that no offset in the file changes.

use std::io::{Seek, Write};
use std::ops::Range;

use super::read::Reader;
use super::{
    Dimensions, MAX_HEIC_META_BYTES, MetadataKind, PhotoRejection, Sink, ZEROS, gather, len64,
    read, split_up_to, unreadable,
};

/// More extents than any real file has; bounds the work a hostile `iloc` can ask for.
const MAX_EXTENTS: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Size and type of the next top-level box.
    Header,
    /// The 64-bit size that follows a size of 1.
    LargeSize,
    /// The whole `meta` box, header included.
    Meta { len: usize },
    /// The rest of a box other than `meta`.
    Copy { remaining: u64 },
    /// A box of size 0: it runs to the end of the file.
    ToEnd,
}

/// A range of file offsets, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
}

pub(super) struct HeicScrubber {
    state: State,
    gathered: Vec<u8>,
    /// The object's length, for extents of length 0 ("to the end of the file").
    file_len: u64,
    /// Offset of the next byte to write: input and output offsets are the same.
    emitted: u64,
    ftyp_end: Option<u64>,
    size: Option<Dimensions>,
    /// Item bytes after `meta`, sorted and merged: zeroed while streaming.
    blanks: Vec<Span>,
    next_blank: usize,
    /// Item bytes before `meta`, already written when it was read: zeroed through `Seek`.
    patches: Vec<Span>,
}

impl HeicScrubber {
    pub(super) fn new(file_len: u64) -> Self {
        HeicScrubber {
            state: State::Header,
            gathered: Vec::new(),
            file_len,
            emitted: 0,
            ftyp_end: None,
            size: None,
            blanks: Vec::new(),
            next_blank: 0,
            patches: Vec::new(),
        }
    }

    pub(super) fn feed<W: Write + Seek>(
        &mut self,
        mut input: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        loop {
            let needs_no_input = self.state == State::Copy { remaining: 0 };
            if input.is_empty() && !needs_no_input {
                return Ok(());
            }
            match self.state {
                State::Header => {
                    if gather(&mut self.gathered, &mut input, 8) {
                        self.header(sink)?;
                    }
                }
                State::LargeSize => {
                    if gather(&mut self.gathered, &mut input, 16) {
                        let size = read::array::<8>(&self.gathered, 8)
                            .map(u64::from_be_bytes)
                            .filter(|&size| size >= 16)
                            .ok_or_else(|| unreadable("a HEIC box is damaged"))?;
                        self.open_box(size, 16, sink)?;
                    }
                }
                State::Meta { len } => {
                    if gather(&mut self.gathered, &mut input, len) {
                        let meta = std::mem::take(&mut self.gathered);
                        self.meta(meta, sink)?;
                    }
                }
                State::Copy { remaining } => {
                    let (data, remaining) = split_up_to(&mut input, remaining);
                    self.emit(data, sink)?;
                    self.state = if remaining == 0 {
                        State::Header
                    } else {
                        State::Copy { remaining }
                    };
                }
                State::ToEnd => {
                    self.emit(input, sink)?;
                    return Ok(());
                }
            }
        }
    }

    /// Checks the file ended between boxes, then zeroes the items written before `meta`.
    pub(super) fn end<W: Write + Seek>(
        self,
        sink: &mut Sink<W>,
    ) -> Result<Dimensions, PhotoRejection> {
        let at_box_end = matches!(self.state, State::Header if self.gathered.is_empty());
        if !(at_box_end || self.state == State::ToEnd) {
            return Err(PhotoRejection::Truncated);
        }
        let size = self
            .size
            .ok_or_else(|| unreadable("the HEIC has no item information"))?;
        let spans = self.patches.iter().chain(&self.blanks);
        if spans.clone().any(|span| span.end > self.emitted) {
            return Err(PhotoRejection::Truncated);
        }
        for span in &self.patches {
            sink.patch_zeros(span.start, span.end - span.start)?;
        }
        Ok(size)
    }

    fn header<W: Write + Seek>(&mut self, sink: &mut Sink<W>) -> Result<(), PhotoRejection> {
        let size = read::be_u32(&self.gathered, 0).unwrap_or(0);
        match size {
            1 => self.state = State::LargeSize,
            0 if self.gathered.get(4..8) == Some(b"meta") => {
                return Err(unreadable("the HEIC meta box is damaged"));
            }
            0 => {
                let header = std::mem::take(&mut self.gathered);
                self.ftyp_end.get_or_insert(self.file_len);
                self.emit(&header, sink)?;
                self.state = State::ToEnd;
            }
            2..=7 => return Err(unreadable("a HEIC box is damaged")),
            size => self.open_box(u64::from(size), 8, sink)?,
        }
        Ok(())
    }

    /// A box whose header (`header_len` bytes, in `gathered`) says it is `size` bytes long.
    fn open_box<W: Write + Seek>(
        &mut self,
        size: u64,
        header_len: u64,
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let start = self.emitted;
        self.ftyp_end.get_or_insert(start.saturating_add(size));
        if self.gathered.get(4..8) == Some(b"meta") {
            if self.size.is_some() {
                return Err(unreadable("the HEIC has two meta boxes"));
            }
            let len = usize::try_from(size)
                .ok()
                .filter(|&len| len <= MAX_HEIC_META_BYTES)
                .ok_or_else(|| unreadable("the HEIC item information is too large"))?;
            self.state = State::Meta { len };
            return Ok(());
        }
        let header = std::mem::take(&mut self.gathered);
        self.emit(&header, sink)?;
        self.state = State::Copy {
            remaining: size - header_len,
        };
        Ok(())
    }

    /// The whole `meta` box: read, its `idat` items zeroed, written, and item spans planned.
    fn meta<W: Write + Seek>(
        &mut self,
        mut meta: Vec<u8>,
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        let meta_span = Span {
            start: self.emitted,
            end: self.emitted.saturating_add(len64(&meta)),
        };
        let info = parse_meta(&mut meta, self.file_len)?;
        let ftyp_end = self.ftyp_end.unwrap_or(0);
        for span in &info.file_spans {
            if span.start < ftyp_end || (span.start < meta_span.end && meta_span.start < span.end) {
                return Err(unreadable("an item in the HEIC overlaps its headers"));
            }
            if span.start < meta_span.start {
                self.patches.push(*span);
            } else {
                self.blanks.push(*span);
            }
        }
        self.blanks.sort_by_key(|span| span.start);
        self.blanks = merge(&self.blanks);
        self.next_blank = 0;
        for kind in info.removed {
            sink.removed(kind);
        }
        self.size = Some(info.size);
        self.emit(&meta, sink)?;
        self.state = State::Header;
        Ok(())
    }

    /// Writes `bytes` at the current offset, zeros where they fall in an item to blank.
    fn emit<W: Write + Seek>(
        &mut self,
        mut bytes: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<(), PhotoRejection> {
        while !bytes.is_empty() {
            let offset = self.emitted;
            while self
                .blanks
                .get(self.next_blank)
                .is_some_and(|span| span.end <= offset)
            {
                self.next_blank += 1;
            }
            let written = match self.blanks.get(self.next_blank) {
                Some(span) if span.start <= offset => {
                    let (now, _) = split_up_to(&mut bytes, span.end - offset);
                    write_zeros(now.len(), sink)?;
                    now.len()
                }
                Some(span) => {
                    let (now, _) = split_up_to(&mut bytes, span.start - offset);
                    sink.write(now)?;
                    now.len()
                }
                None => {
                    sink.write(bytes)?;
                    std::mem::take(&mut bytes).len()
                }
            };
            self.emitted = self.emitted.saturating_add(written as u64);
        }
        Ok(())
    }
}

fn write_zeros<W: Write + Seek>(mut len: usize, sink: &mut Sink<W>) -> Result<(), PhotoRejection> {
    while len > 0 {
        let step = len.min(ZEROS.len());
        sink.write(ZEROS.get(..step).unwrap_or_default())?;
        len -= step;
    }
    Ok(())
}

/// Sorted spans with overlapping or touching ones joined.
fn merge(sorted: &[Span]) -> Vec<Span> {
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(*span),
        }
    }
    merged
}

/// What `meta` says about the photo and where its metadata items lie.
struct MetaInfo {
    size: Dimensions,
    /// File-offset extents (construction method 0) of Exif and XMP items.
    file_spans: Vec<Span>,
    removed: Vec<MetadataKind>,
}

/// A child box: its type and the range of its body (after the header) in the buffer.
#[derive(Debug, Clone)]
struct BoxRef {
    kind: [u8; 4],
    body: Range<usize>,
}

/// An `iloc` entry.
struct Location {
    item: u32,
    construction_method: u8,
    data_reference: u16,
    base_offset: u64,
    extents: Vec<(u64, u64)>,
}

/// Exif or XMP the scrubber cannot blank: refused rather than passed on with its GPS.
fn unremovable() -> PhotoRejection {
    unreadable("the HEIC stores its metadata in a way that cannot be removed")
}

fn damaged() -> PhotoRejection {
    unreadable("the HEIC item information is damaged")
}

/// Reads `meta` (the whole box), zeroing Exif and XMP items stored in its `idat`.
fn parse_meta(meta: &mut [u8], file_len: u64) -> Result<MetaInfo, PhotoRejection> {
    let header_len = if read::be_u32(meta, 0) == Some(1) {
        16
    } else {
        8
    };
    // `meta` is a full box: version and flags before its children.
    let children = boxes(meta, header_len + 4..meta.len())?;
    let find = |kind: &[u8; 4]| children.iter().find(|child| &child.kind == kind);

    let primary = match find(b"pitm") {
        Some(pitm) => Some(parse_pitm(body(meta, pitm)).ok_or_else(damaged)?),
        None => None,
    };
    let items = match find(b"iinf") {
        Some(iinf) => parse_iinf(meta, iinf)?,
        None => Vec::new(),
    };
    let locations = match find(b"iloc") {
        Some(iloc) => parse_iloc(body(meta, iloc)).ok_or_else(damaged)?,
        None => Vec::new(),
    };
    let size = match find(b"iprp") {
        Some(iprp) => image_size(meta, iprp, primary)?,
        None => None,
    }
    .ok_or_else(|| unreadable("the HEIC has no image size"))?;
    let idat = find(b"idat").map(|idat| idat.body.clone());

    let mut info = MetaInfo {
        size,
        file_spans: Vec::new(),
        removed: Vec::new(),
    };
    for (item, kind) in items {
        let Some(location) = locations.iter().find(|location| location.item == item) else {
            continue;
        };
        if location.data_reference != 0 || location.extents.is_empty() {
            continue; // stored in another file, or no data at all: nothing here to blank
        }
        match location.construction_method {
            0 => {
                for &(offset, length) in &location.extents {
                    let start = location
                        .base_offset
                        .checked_add(offset)
                        .ok_or_else(damaged)?;
                    let end = if length == 0 {
                        file_len.max(start)
                    } else {
                        start.checked_add(length).ok_or_else(damaged)?
                    };
                    if start < end {
                        info.file_spans.push(Span { start, end });
                    }
                }
            }
            1 => {
                let idat = idat
                    .clone()
                    .ok_or_else(|| unreadable("an item in the HEIC lies outside its data box"))?;
                for &(offset, length) in &location.extents {
                    zero_in_idat(meta, &idat, location.base_offset, offset, length)?;
                }
            }
            _ => return Err(unremovable()),
        }
        push_distinct(&mut info.removed, kind);
    }
    Ok(info)
}

fn push_distinct(kinds: &mut Vec<MetadataKind>, kind: MetadataKind) {
    if !kinds.contains(&kind) {
        kinds.push(kind);
    }
}

fn body<'a>(meta: &'a [u8], child: &BoxRef) -> &'a [u8] {
    meta.get(child.body.clone()).unwrap_or_default()
}

/// Zeroes one `idat` extent (construction method 1: offsets within the `idat` body).
fn zero_in_idat(
    meta: &mut [u8],
    idat: &Range<usize>,
    base: u64,
    offset: u64,
    length: u64,
) -> Result<(), PhotoRejection> {
    let outside = || unreadable("an item in the HEIC lies outside its data box");
    let idat_len = u64::try_from(idat.len()).map_err(|_| outside())?;
    let start = base.checked_add(offset).ok_or_else(outside)?;
    let end = if length == 0 {
        idat_len
    } else {
        start.checked_add(length).ok_or_else(outside)?
    };
    if start > end || end > idat_len {
        return Err(outside());
    }
    let to_index = |at: u64| {
        usize::try_from(at)
            .ok()
            .and_then(|at| idat.start.checked_add(at))
    };
    let (Some(from), Some(to)) = (to_index(start), to_index(end)) else {
        return Err(outside());
    };
    meta.get_mut(from..to).ok_or_else(outside)?.fill(0);
    Ok(())
}

/// The boxes laid end to end in `range` of `data`.
fn boxes(data: &[u8], range: Range<usize>) -> Result<Vec<BoxRef>, PhotoRejection> {
    let mut found = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let parsed = (|| {
            let size = read::be_u32(data, at)?;
            let kind = read::array::<4>(data, at.checked_add(4)?)?;
            let (size, mut header) = match size {
                0 => (range.end - at, 8),
                1 => (
                    usize::try_from(u64::from_be_bytes(read::array(data, at.checked_add(8)?)?))
                        .ok()?,
                    16,
                ),
                size => (usize::try_from(size).ok()?, 8),
            };
            if &kind == b"uuid" {
                header += 16;
            }
            let end = at.checked_add(size).filter(|&end| end <= range.end)?;
            let body_start = at.checked_add(header).filter(|&start| start <= end)?;
            Some(BoxRef {
                kind,
                body: body_start..end,
            })
        })()
        .ok_or_else(damaged)?;
        at = parsed.body.end;
        found.push(parsed);
    }
    Ok(found)
}

fn parse_pitm(body: &[u8]) -> Option<u32> {
    let mut reader = Reader::new(body);
    let version = reader.u8()?;
    reader.skip(3)?;
    if version == 0 {
        reader.be_u16().map(u32::from)
    } else {
        reader.be_u32()
    }
}

/// Items that are Exif or XMP, by item id.
fn parse_iinf(meta: &[u8], iinf: &BoxRef) -> Result<Vec<(u32, MetadataKind)>, PhotoRejection> {
    let version = meta.get(iinf.body.start).copied().ok_or_else(damaged)?;
    let count_len = if version == 0 { 2 } else { 4 };
    let entries_start = iinf.body.start.saturating_add(4 + count_len);
    if entries_start > iinf.body.end {
        return Err(damaged());
    }
    let mut items = Vec::new();
    for entry in boxes(meta, entries_start..iinf.body.end)? {
        if &entry.kind != b"infe" {
            continue;
        }
        let (item, kind) = parse_infe(body(meta, &entry)).ok_or_else(damaged)?;
        if let Some(kind) = kind {
            items.push((item, kind));
        }
    }
    Ok(items)
}

/// An item id and, for Exif and XMP items, their kind.
fn parse_infe(body: &[u8]) -> Option<(u32, Option<MetadataKind>)> {
    let mut reader = Reader::new(body);
    let version = reader.u8()?;
    reader.skip(3)?;
    match version {
        0 | 1 => {
            let item = u32::from(reader.be_u16()?);
            reader.skip(2)?; // protection index
            reader.c_string()?; // name
            let content_type = reader.c_string()?;
            Some((item, is_xmp(content_type).then_some(MetadataKind::Xmp)))
        }
        2 | 3 => {
            let item = if version == 2 {
                u32::from(reader.be_u16()?)
            } else {
                reader.be_u32()?
            };
            reader.skip(2)?; // protection index
            let item_type = reader.fourcc()?;
            let _name = reader.c_string();
            let kind = match &item_type {
                b"Exif" => Some(MetadataKind::Exif),
                b"mime" => reader
                    .c_string()
                    .filter(|content_type| is_xmp(content_type))
                    .map(|_| MetadataKind::Xmp),
                _ => None,
            };
            Some((item, kind))
        }
        _ => None,
    }
}

fn is_xmp(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/rdf+xml")
}

/// Every `iloc` entry (versions 0, 1 and 2).
fn parse_iloc(body: &[u8]) -> Option<Vec<Location>> {
    let mut reader = Reader::new(body);
    let version = reader.u8()?;
    reader.skip(3)?;
    if version > 2 {
        return None;
    }
    let sizes = reader.u8()?;
    let more_sizes = reader.u8()?;
    let offset_size = sizes >> 4;
    let length_size = sizes & 0x0F;
    let base_offset_size = more_sizes >> 4;
    let index_size = if version == 0 { 0 } else { more_sizes & 0x0F };
    let valid = |size: u8| matches!(size, 0 | 4 | 8);
    if ![offset_size, length_size, base_offset_size, index_size]
        .into_iter()
        .all(valid)
    {
        return None;
    }
    let count = if version < 2 {
        u32::from(reader.be_u16()?)
    } else {
        reader.be_u32()?
    };
    let mut locations = Vec::new();
    let mut extents_seen = 0usize;
    for _ in 0..count {
        let item = if version < 2 {
            u32::from(reader.be_u16()?)
        } else {
            reader.be_u32()?
        };
        let construction_method = if version == 0 {
            0
        } else {
            (reader.be_u16()? & 0x0F) as u8
        };
        let data_reference = reader.be_u16()?;
        let base_offset = reader.be_uint(base_offset_size)?;
        let extent_count = reader.be_u16()?;
        extents_seen = extents_seen.saturating_add(usize::from(extent_count));
        if extents_seen > MAX_EXTENTS {
            return None;
        }
        let mut extents = Vec::with_capacity(usize::from(extent_count));
        for _ in 0..extent_count {
            reader.be_uint(index_size)?;
            let offset = reader.be_uint(offset_size)?;
            let length = reader.be_uint(length_size)?;
            extents.push((offset, length));
        }
        locations.push(Location {
            item,
            construction_method,
            data_reference,
            base_offset,
            extents,
        });
    }
    Some(locations)
}

/// The primary item's `ispe`, else the largest `ispe` in `ipco`.
fn image_size(
    meta: &[u8],
    iprp: &BoxRef,
    primary: Option<u32>,
) -> Result<Option<Dimensions>, PhotoRejection> {
    let children = boxes(meta, iprp.body.clone())?;
    let properties = match children.iter().find(|child| &child.kind == b"ipco") {
        Some(ipco) => boxes(meta, ipco.body.clone())?,
        None => return Ok(None),
    };
    let ispe = |index: usize| {
        let property = properties.get(index)?;
        (&property.kind == b"ispe")
            .then(|| {
                let body = body(meta, property);
                let width = read::be_u32(body, 4)?;
                let height = read::be_u32(body, 8)?;
                Dimensions::nonzero(width, height)
            })
            .flatten()
    };
    let primary_size = match (primary, children.iter().find(|c| &c.kind == b"ipma")) {
        (Some(primary), Some(ipma)) => primary_properties(body(meta, ipma), primary)
            .ok_or_else(damaged)?
            .into_iter()
            .find_map(|index| ispe(usize::from(index).checked_sub(1)?)),
        _ => None,
    };
    Ok(primary_size.or_else(|| {
        (0..properties.len())
            .filter_map(ispe)
            .max_by_key(|size| u64::from(size.width) * u64::from(size.height))
    }))
}

/// The property indices (1-based) `ipma` associates with `item`.
fn primary_properties(body: &[u8], item: u32) -> Option<Vec<u16>> {
    let mut reader = Reader::new(body);
    let version = reader.u8()?;
    reader.skip(2)?;
    let flags = reader.u8()?;
    let count = reader.be_u32()?;
    for _ in 0..count {
        let entry_item = if version < 1 {
            u32::from(reader.be_u16()?)
        } else {
            reader.be_u32()?
        };
        let associations = reader.u8()?;
        let mut indices = Vec::with_capacity(usize::from(associations));
        for _ in 0..associations {
            let index = if flags & 1 == 1 {
                reader.be_u16()? & 0x7FFF
            } else {
                u16::from(reader.u8()? & 0x7F)
            };
            indices.push(index);
        }
        if entry_item == item {
            return Some(indices);
        }
    }
    Some(Vec::new())
}
