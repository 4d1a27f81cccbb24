//! Download integrity: gzip decoding, checksums, limits and content sniffing.
//!
//! Everything here is pure and streaming: bytes go in as the host receives
//! them (split anywhere), decoded bytes come out in bounded pieces, and the
//! verdict comes from `finish`. Nothing is read from or written to the
//! outside world.
//!
//! ```text
//!  raw chunks ──► Decoder ──┬─► MD5 of raw bytes ───────────────┐
//!                           ├─► sniff 1f 8b ─► Gunzip ─► decoded ├─► finish()
//!                           └─► (not gzip) ──► pass through ─────┘   MD5, CRC-32,
//!                                                                    ISIZE, limits
//! ```
//!
//! * [`Decoder`] is what a download state machine owns: it combines all of
//!   the pieces below and returns a [`DecodeSummary`].
//! * [`Gunzip`] / [`gunzip`] decode gzip (RFC 1952, multi-member) with
//!   CRC-32, ISIZE and [`Limits`] checks.
//! * [`Md5`] / [`Md5Digest`] hash and parse provider digests; [`Crc32`] is
//!   shared with the ZIP reader.
//! * [`sniff`] classifies a body by its magic bytes.
//! * [`CharsetDecoder`] turns a body declared in a [`Charset`] (Shift_JIS,
//!   windows-1252, ISO-8859-1, UTF-16, UTF-8) into UTF-8 as it streams,
//!   replacing and counting malformed sequences in a [`CharsetSummary`]. It
//!   converts with `encoding_rs` (feature `charsets`, on by default) or with
//!   a [`ForeignDecoder`] the host lends (a browser's `TextDecoder`).
//! * [`ZipReader`] / [`unzip`] read ZIP archives as they stream.
//!
//! Only readers live here: a host never writes these formats. The gzip and
//! ZIP writers the simulators serve bodies with are in `sim` (the `sim`
//! feature).
//!
//! Every failure is an [`IntegrityError`]; all of them mean "do not trust
//! these bytes, download again" or "raise a limit".
//!
//! ```
//! use reportflow::integrity::{Decoder, Limits, Md5};
//! // The simulators' gzip writer (`sim` feature); a server's gzip reads the same.
//! use reportflow::sim::gzip_compress;
//!
//! let report = br#"[{"sku":"A-1","qty":3}]"#;
//! let body = gzip_compress(report, 6);
//! let mut decoder = Decoder::new(Limits::default(), Some(Md5::digest(&body)));
//! let mut out = [0u8; 64 * 1024];
//! let mut decoded = Vec::new();
//! for chunk in body.chunks(7) {
//!     let mut rest = chunk;
//!     loop {
//!         let p = decoder.pull(rest, &mut out)?;
//!         decoded.extend_from_slice(&out[..p.produced]);
//!         rest = &rest[p.consumed..];
//!         if p.is_stalled() {
//!             break;
//!         }
//!     }
//! }
//! let summary = decoder.finish()?;
//! assert_eq!(decoded, report);
//! assert!(summary.gzip);
//! # Ok::<(), reportflow::integrity::IntegrityError>(())
//! ```

mod charset;
mod crc32;
mod error;
mod foreign;
mod gzip;
mod header;
mod inflate;
mod limits;
mod md5;
mod pipeline;
mod sniff;
mod transcode;
mod zip;

#[cfg(test)]
mod tests;

pub use charset::Charset;
pub use crc32::Crc32;
pub use error::{GzipPart, IntegrityError};
pub use foreign::{ForeignDecodeFailed, ForeignDecoder, OpenForeignDecoder};
pub use gzip::{gunzip, Gunzip, GunzipStats, Progress};
pub use limits::Limits;
pub use md5::{Md5, Md5Digest};
pub use pipeline::{Compression, DecodeSummary, Decoder, Md5Check};
pub use sniff::{sniff, ContentKind};
pub use transcode::{CharsetDecoder, CharsetFinish, CharsetSummary};
pub use zip::{
    unzip, ZipEntry, ZipError, ZipLimits, ZipMethod, ZipPart, ZipProgress, ZipReader, ZipSummary,
};
