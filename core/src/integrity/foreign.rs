//! Charset decoders the host lends to a build without the feature
//! `charsets`.
//!
//! `encoding_rs` decodes Shift_JIS, windows-1252 and UTF-16 exactly, but its
//! tables are about 120 KB of a gzipped wasm module. A host that already has
//! a decoder implementing the same standard (a browser's `TextDecoder`, which
//! is the WHATWG Encoding Standard that `encoding_rs` implements) can lend it
//! instead: [`CharsetDecoder::foreign`](super::CharsetDecoder::foreign) and
//! [`ReportJob::with_foreign_charsets`](crate::ReportJob::with_foreign_charsets)
//! take an [`OpenForeignDecoder`].
//!
//! The core keeps everything but the conversion itself: the byte order mark
//! (sniffed and stripped by the core, so the host decoder gets the body
//! without it and must not strip one itself), ISO-8859-1 (exact Latin-1,
//! which WHATWG decoders do not offer), bounded buffering, and what is
//! counted. The host owns the exactness of its decoder: the npm package
//! checks its browser decoders against `encoding_rs` on every one- and
//! two-byte input.

use core::fmt;

use super::Charset;

/// A streaming decoder the host lends for one body in one charset.
///
/// Made for one body: the bytes arrive in order, split anywhere (inside a
/// multi-byte character too), and the last call has `last` set. Malformed
/// sequences must become U+FFFD as the WHATWG Encoding Standard's decoders
/// do ("replacement" error mode), never an error and never nothing.
pub trait ForeignDecoder: Send + Sync + fmt::Debug {
    /// Decodes `bytes`, the next part of the body, and appends the UTF-8 to
    /// `out`. With `last`, nothing follows: a character the body cut short
    /// is flushed as U+FFFD.
    ///
    /// # Errors
    ///
    /// [`ForeignDecodeFailed`] when the host cannot decode this charset at
    /// all (its platform lacks the decoder); the report then fails with
    /// [`RecordError::CharsetUnavailable`](crate::records::RecordError::CharsetUnavailable).
    fn decode(
        &mut self,
        bytes: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ForeignDecodeFailed>;
}

/// Opens the host's decoder for a charset: one of [`Charset::Utf8`],
/// [`Charset::Utf16`], [`Charset::Utf16Be`], [`Charset::ShiftJis`] and
/// [`Charset::Windows1252`] (the core decodes ISO-8859-1 itself).
/// [`Charset::as_str`] is a label every WHATWG decoder knows.
pub type OpenForeignDecoder = fn(Charset) -> Box<dyn ForeignDecoder>;

/// A host decoder could not decode its charset at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignDecodeFailed;

impl fmt::Display for ForeignDecodeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host has no decoder for this charset")
    }
}

impl std::error::Error for ForeignDecodeFailed {}
