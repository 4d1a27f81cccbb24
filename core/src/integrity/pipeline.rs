//! The download pipeline: MD5 over the raw bytes, gzip detection, decoding
//! and limits, in one streaming object a state machine can own.

use serde::Serialize;

use super::{Gunzip, GzipPart, IntegrityError, Limits, Md5, Md5Digest, Progress};
use crate::sticky::StickyError;

/// What the HTTP response said about the body's compression.
///
/// Labels are hints, bytes decide: see [`Decoder`] for the exact rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Compression {
    /// No label, or one that cannot be trusted: gunzip when the body starts
    /// with `1f 8b`, pass it through otherwise.
    #[default]
    Auto,
    /// Labelled gzip (`Content-Encoding: gzip` kept by the host, a `.gz`
    /// name, `compressionAlgorithm: GZIP`): the body must be gzip, else
    /// [`IntegrityError::NotGzip`].
    Gzip,
    /// Labelled uncompressed. Behaves exactly as [`Auto`](Self::Auto): a
    /// body that nevertheless starts with `1f 8b` is gunzipped, because
    /// servers and stores routinely serve gzip files without saying so.
    Identity,
}

crate::json_fields::deserialize_names! {
    Compression;
    "auto" => Auto,
    "gzip" => Gzip,
    "identity" => Identity,
}

/// What became of the MD5 of a download's raw bytes.
///
/// MD5 is verification when the provider publishes a digest (`Content-MD5`,
/// an MD5 in an API answer) and a fingerprint otherwise, which hosts may
/// compare between runs. A host that does neither can turn the fingerprint
/// off ([`Decoder::with_fingerprint`], `JobConfig::md5_fingerprint`) and
/// save the hashing, which costs about as much as the inflating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Md5Check {
    /// Computed and equal to the digest the provider published.
    Verified,
    /// Computed as a fingerprint: there was no published digest to verify.
    /// (Also what a summary written before this field existed reads as: it
    /// never claims more than was checked.)
    #[default]
    Computed,
    /// Not computed: the fingerprint was turned off and there was no
    /// published digest to verify.
    Skipped,
}

crate::json_fields::deserialize_names! {
    Md5Check;
    "verified" => Verified,
    "computed" => Computed,
    "skipped" => Skipped,
}

/// Totals of a verified download, returned by [`Decoder::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DecodeSummary {
    /// Raw bytes received (what the MD5 covers).
    pub raw_bytes: u64,
    /// Decoded bytes delivered.
    pub decoded_bytes: u64,
    /// MD5 of the raw bytes; `None` when it was not computed
    /// ([`Md5Check::Skipped`]).
    pub md5: Option<Md5Digest>,
    /// Whether the MD5 was verified, only computed, or skipped.
    pub md5_check: Md5Check,
    /// Whether the body was gzip and has been decoded.
    pub gzip: bool,
    /// Gzip members decoded (0 for an uncompressed body).
    pub members: u32,
}

crate::json_fields::deserialize_struct! {
    DecodeSummary, fields = Verbatim, unknown = Ignore;
    raw_bytes, decoded_bytes, md5, md5_check = default, gzip, members
}

#[derive(Debug)]
enum Mode {
    /// Nothing seen yet, or only a first byte `1f` (held back, already hashed).
    Undecided {
        held_1f: bool,
    },
    Identity,
    Gzip(Box<Gunzip>),
}

/// Adds raw bytes to the MD5, when one is being computed. (A function of
/// the field, not a method, so it can run while the gzip mode is borrowed.)
fn hash(md5: &mut Option<Md5>, bytes: &[u8]) {
    if let Some(md5) = md5.as_mut() {
        md5.update(bytes);
    }
}

/// Streaming decoder for one download: hashes, detects gzip, decodes, limits.
///
/// Create one per download attempt with [`Decoder::new`], feed the raw body
/// chunks in order through [`pull`](Self::pull) (decoded bytes go into your
/// buffer, bounded per call) or [`push`](Self::push) (decoded bytes go to a
/// closure), then call [`finish`](Self::finish), which checks the expected
/// MD5 and the gzip trailers. Chunks may be split anywhere, even one byte at
/// a time. The decoder works through `&mut` and can live inside a state
/// machine's enum; it performs no I/O and allocates only when gzip is first
/// detected. It is not `Clone` (nor is [`Gunzip`]).
///
/// Gzip is detected from the first two bytes (`1f 8b`) and the
/// [`Compression`] label is applied as follows:
///
/// | label | body starts `1f 8b` | body does not |
/// |---|---|---|
/// | `Auto`, `Identity` | gunzip | pass through |
/// | `Gzip` | gunzip | [`IntegrityError::NotGzip`] |
///
/// A ZIP body is passed through unchanged (open it with the ZIP reader). A
/// body of exactly the single byte `1f` ends in
/// [`IntegrityError::Truncated`], since it can only be a cut gzip stream.
///
/// Decoded bytes are provisional until `finish` returns `Ok`: a corrupted
/// body is reported there (or by an earlier error), never silently accepted.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    expected: Option<Md5Digest>,
    compression: Compression,
    /// `None` once the fingerprint was turned off with nothing to verify.
    md5: Option<Md5>,
    raw: u64,
    mode: Mode,
    failed: StickyError<IntegrityError>,
}

impl Decoder {
    /// Creates a decoder that enforces `limits` and, when `expected_md5` is
    /// given, checks it against the MD5 of the raw (still compressed) bytes.
    #[must_use]
    pub fn new(limits: Limits, expected_md5: Option<Md5Digest>) -> Self {
        Self {
            limits,
            expected: expected_md5,
            compression: Compression::Auto,
            md5: Some(Md5::new()),
            raw: 0,
            mode: Mode::Undecided { held_1f: false },
            failed: StickyError::default(),
        }
    }

    /// Applies the compression label from the response (default
    /// [`Compression::Auto`]). Call before feeding any data.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Whether to compute the MD5 of the raw bytes when there is no expected
    /// digest to check it against (default on: the summary's MD5 is a
    /// fingerprint hosts compare). With an expected digest the MD5 is always
    /// computed and checked, whatever this says. Call before feeding any
    /// data.
    #[must_use]
    pub fn with_fingerprint(mut self, fingerprint: bool) -> Self {
        if !fingerprint && self.expected.is_none() {
            self.md5 = None;
        }
        self
    }

    /// Raw bytes consumed so far.
    #[must_use]
    pub fn raw_bytes(&self) -> u64 {
        self.raw
    }

    /// Decoded bytes produced so far.
    #[must_use]
    pub fn decoded_bytes(&self) -> u64 {
        match &self.mode {
            Mode::Undecided { .. } => 0,
            Mode::Identity => self.raw,
            Mode::Gzip(g) => g.decompressed_bytes(),
        }
    }

    /// `Some(true)` once the body is known to be gzip, `Some(false)` once it
    /// is known not to be, `None` before its first two bytes arrived.
    #[must_use]
    pub fn is_gzip(&self) -> Option<bool> {
        match self.mode {
            Mode::Undecided { .. } => None,
            Mode::Identity => Some(false),
            Mode::Gzip(_) => Some(true),
        }
    }

    /// Decodes from the raw chunk `input` into `out`.
    ///
    /// Same contract as [`Gunzip::pull`]: call again with
    /// `&input[progress.consumed..]` while the call is not
    /// [stalled](Progress::is_stalled), then feed the next chunk. The MD5
    /// covers exactly the consumed bytes. No call writes more than
    /// `out.len()` bytes or allocates (except once, when gzip is detected).
    ///
    /// # Errors
    ///
    /// Any [`IntegrityError`]; the decoder then returns the same error from
    /// every call.
    pub fn pull(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, IntegrityError> {
        self.failed.check()?;
        let r = self.pull_inner(input, out);
        self.failed.record(r)
    }

    /// Decodes all of the raw chunk `input`, handing decoded bytes to `sink`.
    ///
    /// Uncompressed bodies reach `sink` as the very slices passed in; gzip
    /// bodies as slices of the decoder's buffer. Call once per chunk, in
    /// order, then [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// As [`pull`](Self::pull).
    pub fn push<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        sink: &mut F,
    ) -> Result<(), IntegrityError> {
        self.failed.check()?;
        let r = self.push_inner(input, sink);
        self.failed.record(r)
    }

    /// Ends the download and returns its totals once every check passed.
    ///
    /// Call after the last chunk was fed (and, with `pull`, the last call
    /// stalled). The MD5 is checked first, so a body that is both cut and
    /// mismatched reports [`IntegrityError::Md5Mismatch`].
    ///
    /// # Errors
    ///
    /// [`IntegrityError::Md5Mismatch`] if an expected digest was given and
    /// differs; [`IntegrityError::Truncated`] for an unfinished gzip stream
    /// (or an empty body labelled [`Compression::Gzip`]); or the error that
    /// stopped decoding earlier.
    pub fn finish(self) -> Result<DecodeSummary, IntegrityError> {
        self.failed.into_result()?;
        let md5 = self.md5.map(Md5::finalize);
        let md5_check = match (self.expected, md5) {
            (Some(expected), Some(actual)) if expected != actual => {
                return Err(IntegrityError::Md5Mismatch {
                    expected: expected.to_hex(),
                    actual: actual.to_hex(),
                });
            }
            (Some(_), Some(_)) => Md5Check::Verified,
            (None, Some(_)) => Md5Check::Computed,
            // `with_fingerprint` drops the hasher only without an expected
            // digest, so `(Some(_), None)` cannot happen.
            (_, None) => Md5Check::Skipped,
        };
        let (decoded_bytes, gzip, members) = match self.mode {
            Mode::Undecided { held_1f: true } => {
                return Err(IntegrityError::Truncated {
                    part: GzipPart::Header,
                })
            }
            Mode::Undecided { held_1f: false } if self.compression == Compression::Gzip => {
                return Err(IntegrityError::Truncated {
                    part: GzipPart::Header,
                })
            }
            Mode::Undecided { held_1f: false } | Mode::Identity => (self.raw, false, 0),
            Mode::Gzip(g) => {
                let stats = g.finish()?;
                (stats.decompressed_bytes, true, stats.members)
            }
        };
        Ok(DecodeSummary {
            raw_bytes: self.raw,
            decoded_bytes,
            md5,
            md5_check,
            gzip,
            members,
        })
    }

    fn pull_inner(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, IntegrityError> {
        let mut p = Progress::default();
        if let Mode::Undecided { .. } = self.mode {
            let (consumed, release_1f) = self.decide(input, !out.is_empty())?;
            p.consumed = consumed;
            if release_1f {
                if let Some(first) = out.first_mut() {
                    *first = 0x1f;
                    p.produced = 1;
                }
            }
        }
        let rest = input.get(p.consumed..).unwrap_or_default();
        let dst = out.get_mut(p.produced..).unwrap_or_default();
        match &mut self.mode {
            Mode::Undecided { .. } => Ok(p),
            Mode::Identity => {
                let n = rest.len().min(dst.len());
                let (take, _) = rest.split_at(n);
                self.admit_identity(take.len())?;
                if let Some(d) = dst.get_mut(..n) {
                    d.copy_from_slice(take);
                }
                hash(&mut self.md5, take);
                self.raw = self.raw.saturating_add(n as u64);
                p.consumed = p.consumed.saturating_add(n);
                p.produced = p.produced.saturating_add(n);
                Ok(p)
            }
            Mode::Gzip(g) => {
                let q = g.pull(rest, dst)?;
                let (used, _) = rest.split_at(q.consumed.min(rest.len()));
                hash(&mut self.md5, used);
                self.raw = self.raw.saturating_add(used.len() as u64);
                p.consumed = p.consumed.saturating_add(q.consumed);
                p.produced = p.produced.saturating_add(q.produced);
                Ok(p)
            }
        }
    }

    fn push_inner<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        sink: &mut F,
    ) -> Result<(), IntegrityError> {
        let mut rest = input;
        if let Mode::Undecided { .. } = self.mode {
            let (c, release_1f) = self.decide(rest, true)?;
            rest = rest.get(c..).unwrap_or_default();
            if release_1f {
                sink(&[0x1f]);
            }
        }
        match &mut self.mode {
            Mode::Undecided { .. } => Ok(()),
            Mode::Identity => {
                self.admit_identity(rest.len())?;
                hash(&mut self.md5, rest);
                self.raw = self.raw.saturating_add(rest.len() as u64);
                if !rest.is_empty() {
                    sink(rest);
                }
                Ok(())
            }
            Mode::Gzip(g) => {
                g.push(rest, sink)?;
                hash(&mut self.md5, rest);
                self.raw = self.raw.saturating_add(rest.len() as u64);
                Ok(())
            }
        }
    }

    /// Looks at the first bytes and leaves `Undecided` when it can.
    ///
    /// Consumes (and hashes) at most one byte, a leading `1f`, which is then
    /// held. Returns the bytes consumed and whether a held `1f` turned out to
    /// be plain data that the caller must emit before anything else; that
    /// switch happens only when the caller can emit (`can_emit`).
    fn decide(&mut self, input: &[u8], can_emit: bool) -> Result<(usize, bool), IntegrityError> {
        let Mode::Undecided { held_1f } = self.mode else {
            return Ok((0, false));
        };
        let Some(&b) = input.first() else {
            return Ok((0, false));
        };
        if !held_1f {
            if b == 0x1f {
                if self.limits.max_compressed_bytes == 0 {
                    return Err(IntegrityError::CompressedTooLarge { limit: 0 });
                }
                hash(&mut self.md5, &[b]);
                self.raw = 1;
                self.mode = Mode::Undecided { held_1f: true };
                // Decide on the second byte, if it is already here.
                let next = input.get(1..).unwrap_or_default();
                let (c, release) = self.decide(next, can_emit)?;
                return Ok((c.saturating_add(1), release));
            }
            if self.compression == Compression::Gzip {
                return Err(IntegrityError::NotGzip);
            }
            self.mode = Mode::Identity;
            return Ok((0, false));
        }
        if b == 0x8b {
            let mut g = Gunzip::new(self.limits);
            g.push(&[0x1f], &mut |_: &[u8]| {})?;
            self.mode = Mode::Gzip(Box::new(g));
            return Ok((0, false));
        }
        if self.compression == Compression::Gzip {
            return Err(IntegrityError::NotGzip);
        }
        if !can_emit {
            return Ok((0, false));
        }
        // The held byte becomes identity data; check it against the limits.
        self.admit_identity(0)?;
        self.mode = Mode::Identity;
        Ok((0, true))
    }

    /// Checks that `n` more identity bytes stay within both limits.
    fn admit_identity(&self, n: usize) -> Result<(), IntegrityError> {
        let total = self.raw.saturating_add(n as u64);
        if total > self.limits.max_compressed_bytes {
            return Err(IntegrityError::CompressedTooLarge {
                limit: self.limits.max_compressed_bytes,
            });
        }
        if total > self.limits.max_decompressed_bytes {
            return Err(IntegrityError::DecompressedTooLarge {
                limit: self.limits.max_decompressed_bytes,
            });
        }
        Ok(())
    }
}
