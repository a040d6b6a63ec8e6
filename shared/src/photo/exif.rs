//! Just enough TIFF/Exif to keep how a photo was held: the Orientation tag of IFD0.

use super::read;

/// Exif's signature at the start of a JPEG APP1 payload.
pub(super) const JPEG_EXIF_SIGNATURE: &[u8; 6] = b"Exif\0\0";

const ORIENTATION_TAG: u16 = 0x0112;
const SHORT: u16 = 3;

/// The Orientation of IFD0 in a TIFF structure when it asks for a rotation or flip (2..=8);
/// `None` for upright (1), absent or unreadable.
pub(super) fn orientation(tiff: &[u8]) -> Option<u16> {
    let big_endian = match tiff.get(..4)? {
        b"MM\0*" => true,
        b"II*\0" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        if big_endian {
            read::be_u16(tiff, at)
        } else {
            read::le_u16(tiff, at)
        }
    };
    let u32_at = |at: usize| {
        if big_endian {
            read::be_u32(tiff, at)
        } else {
            read::le_u32(tiff, at)
        }
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let entries = u16_at(ifd0)?;
    (0..usize::from(entries)).find_map(|index| {
        let entry = ifd0.checked_add(2)?.checked_add(index.checked_mul(12)?)?;
        let field = |offset: usize| entry.checked_add(offset);
        let is_orientation = u16_at(entry)? == ORIENTATION_TAG
            && u16_at(field(2)?)? == SHORT
            && u32_at(field(4)?)? == 1;
        if !is_orientation {
            return None;
        }
        let value = u16_at(field(8)?)?;
        (2..=8).contains(&value).then_some(value)
    })
}

/// A JPEG APP1 payload whose Exif holds nothing but `orientation`.
pub(super) fn orientation_only_app1(orientation: u16) -> Vec<u8> {
    let mut payload = JPEG_EXIF_SIGNATURE.to_vec();
    payload.extend_from_slice(b"MM\0*\0\0\0\x08"); // big-endian TIFF, IFD0 at 8
    payload.extend_from_slice(&1u16.to_be_bytes()); // one entry
    payload.extend_from_slice(&ORIENTATION_TAG.to_be_bytes());
    payload.extend_from_slice(&SHORT.to_be_bytes());
    payload.extend_from_slice(&1u32.to_be_bytes());
    payload.extend_from_slice(&orientation.to_be_bytes());
    payload.extend_from_slice(&[0, 0]); // value padding
    payload.extend_from_slice(&0u32.to_be_bytes()); // no IFD1
    payload
}
