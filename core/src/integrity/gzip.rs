//! Streaming gzip (RFC 1952) decoding with CRC-32, ISIZE and size limits.
//!
//! Design: the deflate data is inflated (zlib-rs, or miniz_oxide with the
//! feature `miniz-inflate`; see `inflate.rs`) into one fixed internal buffer of
//! [`WINDOW_BYTES`] history plus [`SPAN_BYTES`] fresh output, non-wrapping
//! (miniz_oxide's fastest path; zlib-rs keeps its own window and just gets a
//! large output span). When the buffer is full and fully delivered, the last
//! 32 KiB slide to the front and inflating continues. The CRC-32 is taken as
//! bytes are produced, while they are still in cache. Memory per decoder is
//! therefore constant (about 300 KiB, plus zlib-rs's 40 KiB state), whatever
//! the report size and chunking.

use serde::Serialize;

use super::header::HeaderParser;
use super::inflate::{Flow, Inflater};
use super::{Crc32, GzipPart, IntegrityError, Limits};
use crate::sticky::StickyError;

/// History deflate may refer back to (RFC 1951: 32 KiB).
const WINDOW_BYTES: usize = 32 * 1024;
/// Fresh output produced per refill of the internal buffer.
const SPAN_BYTES: usize = 224 * 1024;
const BUF_BYTES: usize = WINDOW_BYTES + SPAN_BYTES;
/// Slide the window once less than this much room is left; below it
/// miniz_oxide leaves its fast path (which needs 259 bytes) too often.
const MIN_ROOM_BYTES: usize = 4 * 1024;

/// How much a [`Gunzip::pull`] or [`Decoder::pull`](super::Decoder::pull) call did.
///
/// A call that returns [`is_stalled`](Self::is_stalled) has delivered every
/// decoded byte it could and needs more input (or, at the end of the data,
/// a call to `finish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct Progress {
    /// Input bytes consumed from the front of the slice passed in.
    pub consumed: usize,
    /// Decoded bytes written to the front of the output buffer.
    pub produced: usize,
}

impl Progress {
    /// True when the call neither consumed nor produced anything.
    ///
    /// With a non-empty output buffer this happens only once the input given
    /// is exhausted and all decoded bytes were delivered: stop pulling, feed
    /// the next chunk or call `finish`.
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.consumed == 0 && self.produced == 0
    }
}

/// Totals of a completely decoded gzip stream, returned by [`Gunzip::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct GunzipStats {
    /// Compressed bytes consumed, headers, trailers and padding included.
    pub compressed_bytes: u64,
    /// Decoded bytes produced.
    pub decompressed_bytes: u64,
    /// Gzip members decoded (more than one for concatenated gzip files).
    pub members: u32,
    /// Zero bytes that followed the last member (tolerated, see [`Gunzip`]).
    pub padding_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    GunzipStats, fields = Verbatim, unknown = Ignore;
    compressed_bytes, decompressed_bytes, members, padding_bytes
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body,
    Trailer,
    BetweenMembers,
    Padding,
}

/// Streaming gzip decoder with integrity checks and size limits.
///
/// Feed the compressed bytes in order, split anywhere, through either
/// [`pull`](Self::pull) (writes decoded bytes into a buffer you own, so you
/// bound memory per call) or [`push`](Self::push) (hands decoded bytes to a
/// closure without copying), then call [`finish`](Self::finish) once the input
/// has ended. Every member's header is parsed per RFC 1952 (FEXTRA, FNAME,
/// FCOMMENT and FHCRC; reserved flags rejected) and its CRC-32 and ISIZE are
/// checked, so a flipped or missing byte ends in an error, never in wrong
/// output being reported as complete.
///
/// Decoded bytes are handed out as soon as they are inflated, before the
/// member's CRC-32 is checked: treat them as provisional until `finish`
/// returns `Ok`.
///
/// Concatenated members (as `cat a.gz b.gz` makes) decode as one stream.
/// After a member, only another member or zero bytes may follow: zero
/// padding (written by some tape and block-based tools, and accepted by GNU
/// gzip) is skipped and counted in [`GunzipStats::padding_bytes`]; anything
/// else is [`IntegrityError::TrailingGarbage`].
///
/// After the first error every call returns that error again.
///
/// Not `Clone`: the native inflate state (zlib-rs) cannot be copied.
pub struct Gunzip {
    limits: Limits,
    state: State,
    header: HeaderParser,
    trailer: [u8; 8],
    trailer_len: u8,
    inflater: Inflater,
    /// Inflate output: bytes `..read` are delivered history, `read..write`
    /// are pending delivery, `write..` is free.
    buf: Box<[u8]>,
    read: usize,
    write: usize,
    inflate_done: bool,
    crc: Crc32,
    member_len: u32,
    total_in: u64,
    total_out: u64,
    /// Offset of the current member's first byte in the compressed input.
    member_offset: u64,
    members: u32,
    padding: u64,
    failed: StickyError<IntegrityError>,
}

impl core::fmt::Debug for Gunzip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gunzip")
            .field("state", &self.state)
            .field("compressed_bytes", &self.total_in)
            .field("decompressed_bytes", &self.total_out)
            .field("members", &self.members)
            .field("pending", &self.write.saturating_sub(self.read))
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Gunzip {
    /// Creates a decoder that enforces `limits`.
    ///
    /// Allocates its fixed working memory (about 300 KiB) once, here.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Header,
            header: HeaderParser::new(),
            trailer: [0; 8],
            trailer_len: 0,
            inflater: Inflater::default(),
            buf: vec![0u8; BUF_BYTES].into_boxed_slice(),
            read: 0,
            write: 0,
            inflate_done: false,
            crc: Crc32::new(),
            member_len: 0,
            total_in: 0,
            total_out: 0,
            member_offset: 0,
            members: 0,
            padding: 0,
            failed: StickyError::default(),
        }
    }

    /// Compressed bytes consumed so far.
    #[must_use]
    pub fn compressed_bytes(&self) -> u64 {
        self.total_in
    }

    /// Decoded bytes produced so far (including any not yet pulled).
    #[must_use]
    pub fn decompressed_bytes(&self) -> u64 {
        self.total_out
    }

    /// Members whose trailer has been verified so far.
    #[must_use]
    pub fn members(&self) -> u32 {
        self.members
    }

    /// Decodes from `input` into `out`, reporting how much of each was used.
    ///
    /// Call with the next chunk of compressed data, then again with the
    /// unconsumed rest (`&input[progress.consumed..]`) and a fresh or drained
    /// `out`, until the call [stalls](Progress::is_stalled); then feed the
    /// next chunk. No call writes more than `out.len()` bytes and no call
    /// allocates. With an empty `out` only header bytes are consumed.
    ///
    /// # Errors
    ///
    /// Any [`IntegrityError`] about the gzip format or the limits; the
    /// decoder is then unusable and returns the same error from every call.
    pub fn pull(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, IntegrityError> {
        self.failed.check()?;
        let r = self.pull_inner(input, out);
        self.failed.record(r)
    }

    /// Decodes all of `input`, handing each run of decoded bytes to `sink`.
    ///
    /// The slices passed to `sink` borrow the decoder's internal buffer (no
    /// copy) and are at most 224 KiB each. Call once per chunk of compressed
    /// data, in order, then [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// As [`pull`](Self::pull); bytes already given to `sink` stay delivered.
    pub fn push<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        sink: &mut F,
    ) -> Result<(), IntegrityError> {
        self.failed.check()?;
        let r = self.push_inner(input, sink);
        self.failed.record(r)
    }

    /// Ends the stream and returns its totals once every check has passed.
    ///
    /// Call after the last input was fed and the last [`pull`](Self::pull)
    /// stalled (or the last [`push`](Self::push) returned).
    ///
    /// # Errors
    ///
    /// [`IntegrityError::Truncated`] if the input ended inside a member (or
    /// was empty), or the error that stopped decoding earlier.
    pub fn finish(self) -> Result<GunzipStats, IntegrityError> {
        self.failed.into_result()?;
        let part = match self.state {
            State::BetweenMembers | State::Padding => {
                return Ok(GunzipStats {
                    compressed_bytes: self.total_in,
                    decompressed_bytes: self.total_out,
                    members: self.members,
                    padding_bytes: self.padding,
                })
            }
            State::Header => GzipPart::Header,
            State::Body if self.inflate_done && self.read == self.write => GzipPart::Trailer,
            State::Body => GzipPart::Body,
            State::Trailer => GzipPart::Trailer,
        };
        Err(IntegrityError::Truncated { part })
    }

    fn pull_inner(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, IntegrityError> {
        let mut p = Progress::default();
        loop {
            let dst = out.get_mut(p.produced..).unwrap_or_default();
            p.produced = p.produced.saturating_add(self.copy_pending(dst));
            if self.read != self.write {
                return Ok(p);
            }
            let rest = input.get(p.consumed..).unwrap_or_default();
            let allowed = self.within_limit(rest)?;
            let c = self.advance(allowed)?;
            p.consumed = p.consumed.saturating_add(c);
            self.total_in = self.total_in.saturating_add(c as u64);
            if c == 0 && self.read == self.write {
                return Ok(p);
            }
        }
    }

    fn push_inner<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        sink: &mut F,
    ) -> Result<(), IntegrityError> {
        let mut rest = input;
        loop {
            if self.read != self.write {
                if let Some(pending) = self.buf.get(self.read..self.write) {
                    sink(pending);
                }
                self.read = self.write;
            }
            let allowed = self.within_limit(rest)?;
            let c = self.advance(allowed)?;
            self.total_in = self.total_in.saturating_add(c as u64);
            rest = rest.get(c..).unwrap_or_default();
            if c == 0 && self.read == self.write {
                return Ok(());
            }
        }
    }

    /// Copies pending decoded bytes into `dst`; returns how many.
    fn copy_pending(&mut self, dst: &mut [u8]) -> usize {
        let pending = self.buf.get(self.read..self.write).unwrap_or_default();
        let n = pending.len().min(dst.len());
        if let (Some(d), Some(s)) = (dst.get_mut(..n), pending.get(..n)) {
            d.copy_from_slice(s);
        }
        self.read = self.read.saturating_add(n);
        n
    }

    /// The part of `input` that may be consumed without passing the
    /// compressed-size limit.
    fn within_limit<'a>(&self, input: &'a [u8]) -> Result<&'a [u8], IntegrityError> {
        let room = self
            .limits
            .max_compressed_bytes
            .saturating_sub(self.total_in);
        if room == 0 && !input.is_empty() {
            return Err(IntegrityError::CompressedTooLarge {
                limit: self.limits.max_compressed_bytes,
            });
        }
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(input.len());
        Ok(input.get(..n).unwrap_or_default())
    }

    /// Runs the member state machine over `input` while nothing is pending.
    ///
    /// Returns the bytes consumed. Returns early as soon as decoded bytes are
    /// pending; otherwise consumes all of `input`, so a return of 0 with
    /// nothing pending means `input` was empty.
    fn advance(&mut self, input: &[u8]) -> Result<usize, IntegrityError> {
        let mut pos = 0usize;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.state {
                State::Header => {
                    let (n, done) =
                        self.header
                            .feed(rest, self.members == 0, self.member_offset)?;
                    pos = pos.saturating_add(n);
                    if !done {
                        return Ok(pos);
                    }
                    self.begin_member();
                }
                State::Body => {
                    if self.inflate_done {
                        self.state = State::Trailer;
                        continue;
                    }
                    let (n, produced) = self.inflate(rest)?;
                    pos = pos.saturating_add(n);
                    if produced > 0 || !self.inflate_done {
                        return Ok(pos);
                    }
                }
                State::Trailer => {
                    let have = usize::from(self.trailer_len);
                    let dst = self.trailer.get_mut(have..).unwrap_or_default();
                    let n = dst.len().min(rest.len());
                    if let (Some(d), Some(s)) = (dst.get_mut(..n), rest.get(..n)) {
                        d.copy_from_slice(s);
                    }
                    pos = pos.saturating_add(n);
                    self.trailer_len = self.trailer_len.saturating_add(n as u8);
                    if usize::from(self.trailer_len) < self.trailer.len() {
                        return Ok(pos);
                    }
                    self.check_trailer()?;
                    self.members = self.members.saturating_add(1);
                    self.state = State::BetweenMembers;
                }
                State::BetweenMembers => match rest.first() {
                    None => return Ok(pos),
                    Some(0) => self.state = State::Padding,
                    Some(0x1f) => {
                        self.header = HeaderParser::new();
                        self.member_offset = self.total_in.saturating_add(pos as u64);
                        self.state = State::Header;
                    }
                    Some(_) => {
                        return Err(IntegrityError::TrailingGarbage {
                            offset: self.total_in.saturating_add(pos as u64),
                        })
                    }
                },
                State::Padding => {
                    if let Some(i) = rest.iter().position(|&b| b != 0) {
                        let at = pos.saturating_add(i) as u64;
                        return Err(IntegrityError::TrailingGarbage {
                            offset: self.total_in.saturating_add(at),
                        });
                    }
                    self.padding = self.padding.saturating_add(rest.len() as u64);
                    return Ok(pos.saturating_add(rest.len()));
                }
            }
        }
    }

    fn begin_member(&mut self) {
        self.state = State::Body;
        self.inflater.reset();
        self.crc.reset();
        self.member_len = 0;
        self.inflate_done = false;
        self.trailer_len = 0;
        // A new member may not refer back into the previous one's output.
        self.read = 0;
        self.write = 0;
    }

    /// Inflates from `input` into the internal buffer (nothing is pending).
    /// Returns (consumed, produced).
    fn inflate(&mut self, input: &[u8]) -> Result<(usize, usize), IntegrityError> {
        if BUF_BYTES.saturating_sub(self.write) < MIN_ROOM_BYTES && self.write >= WINDOW_BYTES {
            let from = self.write.saturating_sub(WINDOW_BYTES);
            self.buf.copy_within(from..self.write, 0);
            self.read = WINDOW_BYTES;
            self.write = WINDOW_BYTES;
        }
        let (flow, consumed, produced) = self
            .inflater
            .inflate(input, &mut self.buf, self.write)
            .map_err(|detail| IntegrityError::Corrupt { detail })?;
        let start = self.write;
        let end = start.saturating_add(produced).min(self.buf.len());
        let fresh = self.buf.get(start..end).unwrap_or_default();
        let total = self.total_out.saturating_add(fresh.len() as u64);
        if total > self.limits.max_decompressed_bytes {
            return Err(IntegrityError::DecompressedTooLarge {
                limit: self.limits.max_decompressed_bytes,
            });
        }
        // The expansion ratio so far: a bomb trips it within its first
        // megabytes, long before the byte limit.
        let compressed = self.total_in.saturating_add(consumed as u64).max(1);
        if total > self.limits.ratio_grace_bytes
            && total / compressed > u64::from(self.limits.max_ratio)
        {
            return Err(IntegrityError::RatioExceeded {
                ratio: total / compressed,
                limit: self.limits.max_ratio,
            });
        }
        self.crc.update(fresh);
        self.member_len = self.member_len.wrapping_add(fresh.len() as u32);
        self.total_out = total;
        self.write = end;
        if flow == Flow::Done {
            self.inflate_done = true;
        }
        Ok((consumed, produced))
    }

    fn check_trailer(&self) -> Result<(), IntegrityError> {
        let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer;
        let expected = u32::from_le_bytes([c0, c1, c2, c3]);
        let actual = self.crc.value();
        if expected != actual {
            return Err(IntegrityError::CrcMismatch { expected, actual });
        }
        let expected = u32::from_le_bytes([s0, s1, s2, s3]);
        if expected != self.member_len {
            return Err(IntegrityError::SizeMismatch {
                expected,
                actual: self.member_len,
            });
        }
        Ok(())
    }
}

/// Decodes a complete gzip stream held in memory.
///
/// Use for small bodies (API responses, test fixtures); stream large
/// downloads through [`Gunzip`] or [`Decoder`](super::Decoder) instead.
///
/// # Errors
///
/// Any [`IntegrityError`] [`Gunzip`] reports, including
/// [`IntegrityError::Truncated`] for incomplete input.
pub fn gunzip(bytes: &[u8], limits: Limits) -> Result<Vec<u8>, IntegrityError> {
    let mut g = Gunzip::new(limits);
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(1 << 24));
    g.push(bytes, &mut |chunk: &[u8]| out.extend_from_slice(chunk))?;
    g.finish()?;
    Ok(out)
}
