//! A small single-member gzip encoder for simulators and tests.

use super::Crc32;

/// Compresses `data` into one gzip member (RFC 1952) at `level`.
///
/// Meant for simulators and tests that must serve gzip bodies, not for
/// large production payloads: the whole output is built in memory.
/// `level` follows miniz_oxide: 0 stores, 1 is fastest, 6 is the usual
/// default, 9 is best and 10 is miniz's slowest "uber" mode; larger values
/// act as 10. The header carries no name, no timestamp (MTIME 0) and OS
/// 255 ("unknown"), so the output depends on `data` and `level` only.
#[must_use]
pub fn gzip_compress(data: &[u8], level: u8) -> Vec<u8> {
    let level = level.min(10);
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let xfl = match level {
        0..=1 => 4,
        9.. => 2,
        _ => 0,
    };
    let mut out = Vec::with_capacity(deflated.len().saturating_add(18));
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&Crc32::checksum(data).to_le_bytes());
    // ISIZE is the length mod 2^32 by definition, so truncation is intended.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}
