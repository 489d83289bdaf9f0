//! The bundle's frame: magic `DA3DMODL` · format version u32 · header length u64 · header (JSON) ·
//! weights length u64 · weights (burnpack) · FNV-1a 64 checksum of all before, little endian.
//! Every length comes from the file: it is checked against the bytes there before use.

use super::FORMAT_VERSION;
use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"DA3DMODL";
const MIN_LEN: usize = 8 + 4 + 8 + 8 + 8;

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The bundle bytes around a serialised header and weights: magic, format version, lengths and
/// the checksum (the inverse of `split`).
pub(crate) fn frame(version: u32, header: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MIN_LEN + header.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(weights);
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Check framing, version and checksum; return (format version, header, weights).
pub(crate) fn split(bytes: &[u8]) -> Result<(u32, &[u8], &[u8])> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        if bytes.len() < 8 && MAGIC.starts_with(bytes) {
            return Err(Error::Bundle(format!("truncated: {} bytes", bytes.len())));
        }
        return Err(Error::Bundle("not a da3d model file (wrong magic number)".into()));
    }
    if bytes.len() < MIN_LEN {
        return Err(Error::Bundle(format!("truncated: {} bytes", bytes.len())));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(Error::Bundle(format!(
            "made by a newer da3d (bundle format {version}); this build reads format {FORMAT_VERSION}"
        )));
    }
    if version == 0 {
        return Err(Error::Bundle("bundle format 0 is not valid".into()));
    }
    // Lengths come from the file: arithmetic on them is checked (a length near usize::MAX overflowed).
    let truncated = |need: Option<usize>| match need {
        Some(n) => Error::Bundle(format!("truncated: expected {n} bytes, found {}", bytes.len())),
        None => Error::Bundle("corrupted: a stored length is impossibly large".into()),
    };
    let header_len = usize::try_from(read_u64(bytes, 12)).unwrap_or(usize::MAX);
    let weights_at = 20usize.checked_add(header_len);
    let weights_start = weights_at.and_then(|w| w.checked_add(8));
    let (Some(weights_at), Some(weights_start)) = (weights_at, weights_start) else {
        return Err(truncated(None));
    };
    if weights_start > bytes.len() {
        return Err(Error::Bundle(format!("truncated: header of {header_len} bytes does not fit in {} bytes", bytes.len())));
    }
    let weights_len = usize::try_from(read_u64(bytes, weights_at)).unwrap_or(usize::MAX);
    let end = weights_start.checked_add(weights_len);
    let total = end.and_then(|e| e.checked_add(8));
    let (Some(end), Some(total)) = (end, total) else {
        return Err(truncated(None));
    };
    if total > bytes.len() {
        return Err(truncated(Some(total)));
    }
    if total < bytes.len() {
        return Err(Error::Bundle("corrupted: trailing bytes after the checksum".into()));
    }
    if read_u64(bytes, end) != fnv1a(&bytes[..end]) {
        return Err(Error::Bundle("corrupted: checksum mismatch".into()));
    }
    Ok((version, &bytes[20..weights_at], &bytes[weights_start..end]))
}
