//! Streaming character-set decoding of report bodies to UTF-8, with the
//! built-in decoders (feature `charsets`) or ones the host lends
//! ([`super::foreign`]).
//!
//! [`CharsetDecoder`] turns a body declared in a [`Charset`] into UTF-8 as
//! it streams, after the integrity pipeline has verified and gunzipped it.
//!
//! ```text
//!  decoded bytes ──► BOM sniff ──► encoding_rs, a host decoder ──► UTF-8 ──► finish()
//!                    (stripped)     or Latin-1 (malformed ─► U+FFFD)        CharsetSummary
//! ```
//!
//! Design: the public rules (BOM wins, nothing dropped silently, bounded
//! memory) are on [`CharsetDecoder`], since this module is private. Inside,
//! the BOM is sniffed here rather than by `encoding_rs`, so it works the
//! same for exact Latin-1 (which `encoding_rs` has no decoder for) and so
//! `bom_stripped` is known exactly. `encoding_rs`'s decode-without-replacement
//! is used so that every U+FFFD is written, and counted, here; a host decoder
//! writes its own, and they are counted in its output.

use core::fmt;

#[cfg(feature = "charsets")]
use encoding_rs::{DecoderResult, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use serde::Serialize;

use super::foreign::{ForeignDecoder, OpenForeignDecoder};
use super::{Charset, Progress};

/// Totals of a decoded body, from [`CharsetDecoder::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CharsetSummary {
    /// The charset the decoder was created with.
    pub declared: Charset,
    /// The charset the body was decoded as: `declared`, unless a BOM named
    /// another one ([`Charset::Utf8`] for `EF BB BF`, [`Charset::Utf16`]
    /// for `FF FE`, [`Charset::Utf16Be`] for `FE FF`).
    pub charset: Charset,
    /// Whether a byte order mark was found at the start and removed.
    pub bom_stripped: bool,
    /// Malformed or truncated sequences, each replaced by one U+FFFD.
    /// Zero for a clean body; [`Charset::Iso8859_1`] never replaces. With a
    /// host decoder, the U+FFFD in its output (so a U+FFFD that a UTF-8 or
    /// UTF-16 body itself contains counts too).
    pub replacements: u64,
    /// Bytes taken in, BOM included.
    pub input_bytes: u64,
    /// UTF-8 bytes handed out, the tail from `finish` included.
    pub output_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    CharsetSummary, fields = Verbatim, unknown = Ignore;
    declared, charset, bom_stripped, replacements, input_bytes, output_bytes
}

/// What [`CharsetDecoder::finish`] returns: the last UTF-8 bytes and the
/// totals.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CharsetFinish {
    tail: [u8; TAIL_BYTES],
    tail_len: usize,
    failed: bool,
    /// Totals of the whole body.
    pub summary: CharsetSummary,
}

impl CharsetFinish {
    /// The UTF-8 bytes that end the output: anything still held back, and
    /// the U+FFFD for a sequence the input cut short. Append them after
    /// everything [`CharsetDecoder::pull`] produced. At most 64 bytes, and
    /// empty for a body that ended cleanly and was fully pulled.
    #[must_use]
    pub fn tail(&self) -> &[u8] {
        self.tail.get(..self.tail_len).unwrap_or_default()
    }

    /// Whether a host decoder failed (see [`CharsetDecoder::failed`]): the
    /// output is then incomplete and must not be used.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failed
    }
}

/// Below this much room in `out`, `pull` decodes into its own buffer and
/// copies, so that a character never has to fit in what is left of `out`
/// (`encoding_rs` makes no progress when its output cannot hold one
/// character, and may want more than that).
const DIRECT_MIN: usize = 32;
/// Size of that internal buffer: at least one worst-case character.
const STASH_BYTES: usize = 32;
/// Held-back output: one stash plus the U+FFFD a malformed sequence after
/// it adds.
const PENDING_BYTES: usize = STASH_BYTES + REPLACEMENT.len();
/// `finish` output: held-back output (≤ 35), the three sniffed bytes
/// replayed (≤ 9) and the flush of a cut sequence (≤ 2 × U+FFFD).
const TAIL_BYTES: usize = 64;
/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
const REPLACEMENT: [u8; 3] = [0xEF, 0xBF, 0xBD];

/// The longest BOM (UTF-8's); bytes are held until they cannot start one.
const BOM_MAX: usize = 3;

/// What the first bytes say about a BOM.
enum Sniff {
    /// They are a proper prefix of a BOM: wait for more.
    NeedMore,
    /// A complete BOM naming this charset.
    Bom(Charset),
    /// No BOM: decode them as data.
    NoBom,
}

fn sniff(head: &[u8]) -> Sniff {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => Sniff::Bom(Charset::Utf8),
        [0xFF, 0xFE, ..] => Sniff::Bom(Charset::Utf16),
        [0xFE, 0xFF, ..] => Sniff::Bom(Charset::Utf16Be),
        [] | [0xEF] | [0xEF, 0xBB] | [0xFF] | [0xFE] => Sniff::NeedMore,
        _ => Sniff::NoBom,
    }
}

/// The converter behind a decided charset.
enum Engine {
    #[cfg(feature = "charsets")]
    Rs(encoding_rs::Decoder),
    /// Exact ISO-8859-1; stateless, so nothing to hold.
    Latin1,
    /// The host's decoder, and its UTF-8 not yet handed on
    /// (`out[at..]`).
    Foreign {
        decoder: Box<dyn ForeignDecoder>,
        out: Vec<u8>,
        at: usize,
        /// U+FFFD in its output so far.
        replaced: u64,
    },
}

/// How one conversion step ended.
enum Step {
    InputEmpty,
    OutputFull,
    Malformed,
    /// The host decoder could not decode at all.
    Failed,
}

/// Where a decoder's engines come from.
#[derive(Clone, Copy)]
enum Source {
    #[cfg(feature = "charsets")]
    BuiltIn,
    Foreign(OpenForeignDecoder),
}

/// Input bytes a host decoder is given per call, at most. A call crosses
/// into the host (from wasm, into JavaScript), so calls must be few; its
/// output waits in the engine until pulled, at most 3 bytes of UTF-8 per
/// input byte and a character more, so this also bounds that buffer.
const FOREIGN_SLICE: usize = 64 * 1024;

impl Engine {
    fn new(charset: Charset, source: Source) -> Self {
        if charset == Charset::Iso8859_1 {
            return Self::Latin1;
        }
        match source {
            #[cfg(feature = "charsets")]
            Source::BuiltIn => {
                let encoding = match charset {
                    Charset::Utf8 | Charset::Iso8859_1 => UTF_8,
                    Charset::ShiftJis => SHIFT_JIS,
                    Charset::Windows1252 => WINDOWS_1252,
                    Charset::Utf16 => UTF_16LE,
                    Charset::Utf16Be => UTF_16BE,
                };
                // BOMs are handled before the engine exists (see `sniff`),
                // so that they work the same for every charset, Latin-1
                // included.
                Self::Rs(encoding.new_decoder_without_bom_handling())
            }
            Source::Foreign(open) => Self::Foreign {
                decoder: open(charset),
                out: Vec::new(),
                at: 0,
                replaced: 0,
            },
        }
    }

    /// Converts from `src` into `dst`; returns (step, read, written).
    ///
    /// `dst` must hold at least `STASH_BYTES` for guaranteed progress.
    fn convert(&mut self, src: &[u8], dst: &mut [u8], last: bool) -> (Step, usize, usize) {
        match self {
            #[cfg(feature = "charsets")]
            Self::Rs(d) => {
                let (r, read, written) = d.decode_to_utf8_without_replacement(src, dst, last);
                let step = match r {
                    DecoderResult::InputEmpty => Step::InputEmpty,
                    DecoderResult::OutputFull => Step::OutputFull,
                    // The bad bytes were consumed (now or earlier); the
                    // caller writes the U+FFFD and counts it.
                    DecoderResult::Malformed(..) => Step::Malformed,
                };
                (step, read, written)
            }
            Self::Latin1 => {
                let (read, written) = latin1_to_utf8(src, dst);
                let step = if read == src.len() {
                    Step::InputEmpty
                } else {
                    Step::OutputFull
                };
                (step, read, written)
            }
            Self::Foreign {
                decoder,
                out,
                at,
                replaced,
            } => {
                // What the host gave last time goes first.
                let mut written = hand_on(out, at, dst);
                if *at < out.len() {
                    return (Step::OutputFull, 0, written);
                }
                out.clear();
                *at = 0;
                if src.is_empty() && !last {
                    return (Step::InputEmpty, 0, written);
                }
                let read = src.len().min(FOREIGN_SLICE);
                let input = src.get(..read).unwrap_or_default();
                if decoder
                    .decode(input, last && read == src.len(), out)
                    .is_err()
                {
                    return (Step::Failed, read, written);
                }
                let fffd = out.windows(REPLACEMENT.len()).filter(|w| *w == REPLACEMENT);
                *replaced = replaced.saturating_add(fffd.count() as u64);
                written += hand_on(out, at, dst.get_mut(written..).unwrap_or_default());
                let step = if read == src.len() && *at == out.len() {
                    Step::InputEmpty
                } else {
                    Step::OutputFull
                };
                (step, read, written)
            }
        }
    }
}

impl Engine {
    /// Whether converted output waits in the engine (a host decoder's
    /// answer larger than the caller's buffer), to be handed on even when no
    /// input is left.
    fn holds_output(&self) -> bool {
        matches!(self, Self::Foreign { out, at, .. } if *at < out.len())
    }
}

/// Exact ISO-8859-1: each byte is the code point of the same value. Stops
/// before a character that does not fit; returns (read, written).
fn latin1_to_utf8(src: &[u8], dst: &mut [u8]) -> (usize, usize) {
    let mut written = 0;
    for (read, &byte) in src.iter().enumerate() {
        let mut utf8 = [0u8; 2];
        let encoded = char::from(byte).encode_utf8(&mut utf8).as_bytes();
        let end = written + encoded.len();
        let Some(d) = dst.get_mut(written..end) else {
            return (read, written);
        };
        d.copy_from_slice(encoded);
        written = end;
    }
    (src.len(), written)
}

/// Copies UTF-8 from `out[at..]` into `dst`, whole characters only;
/// returns the bytes copied.
fn hand_on(out: &[u8], at: &mut usize, dst: &mut [u8]) -> usize {
    let rest = out.get(*at..).unwrap_or_default();
    let n = whole_characters(rest, dst.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), rest.get(..n)) {
        d.copy_from_slice(s);
    }
    *at += n;
    n
}

/// How many bytes of the UTF-8 in `utf8` fit in `room` without splitting
/// a character: all of it if it fits, else up to the start of the
/// character that does not (0 when not even the first one fits).
fn whole_characters(utf8: &[u8], room: usize) -> usize {
    let mut n = utf8.len().min(room);
    if n < utf8.len() {
        while n > 0 && utf8.get(n).is_some_and(|&b| b & 0xC0 == 0x80) {
            n -= 1;
        }
    }
    n
}

/// Streaming decoder from a declared [`Charset`] to UTF-8.
///
/// Create one per body with [`CharsetDecoder::new`], feed the bytes in order
/// through [`pull`](Self::pull) — split anywhere, even one byte at a time,
/// inside a multi-byte character or a BOM — then call
/// [`finish`](Self::finish) and append its [`tail`](CharsetFinish::tail).
/// The concatenated output is the body in UTF-8.
///
/// * **Nothing is dropped silently.** A malformed or truncated sequence
///   becomes one U+FFFD REPLACEMENT CHARACTER and is counted in
///   [`CharsetSummary::replacements`], so a host can refuse a report whose
///   count is not zero.
/// * **A byte order mark wins over the label.** A UTF-8 BOM (`EF BB BF`) or
///   a UTF-16 BOM (`FF FE`, `FE FF`) at the very start is stripped and
///   selects the charset, whatever was declared (the WHATWG "decode" rule):
///   a file with a BOM was written by a tool that knew its encoding, while
///   labels are often server defaults. [`CharsetSummary::charset`] says
///   what was used. Only the first bytes are looked at; a U+FEFF later in
///   the body is kept.
/// * **Bounded memory.** The multi-byte decoding is `encoding_rs` (Firefox's
///   implementation of the WHATWG Encoding Standard); between calls the
///   decoder holds at most a few dozen bytes, whatever the body size and
///   however it is split. A decoder made with [`foreign`](Self::foreign)
///   converts with the host's decoder instead, 64 KiB of input per call,
///   and holds the UTF-8 of one such call at most.
///
/// Output buffers of any non-zero size work. With `out.len() >= 4` every
/// `pull` ends on a character boundary, so each piece is valid UTF-8 on its
/// own; smaller buffers receive characters split across calls. Buffers of at
/// least 32 bytes are written directly; smaller ones go through a 32-byte
/// internal buffer.
///
/// The decoder performs no I/O, never panics, allocates nothing (with the
/// built-in decoders), and works
/// through `&mut`, so a state machine can own it. It is not
/// `Clone`: the underlying `encoding_rs` decoder is not.
///
/// ```
/// use reportflow::integrity::{Charset, CharsetDecoder};
///
/// let body = b"SKU\tName\nA-1\tCaf\xe9 \x96 \x80"; // windows-1252
/// let mut decoder = CharsetDecoder::new(Charset::Windows1252);
/// let mut out = [0u8; 16];
/// let mut text = Vec::new();
/// for chunk in body.chunks(5) {
///     let mut rest = chunk;
///     loop {
///         let p = decoder.pull(rest, &mut out);
///         text.extend_from_slice(&out[..p.produced]);
///         rest = &rest[p.consumed..];
///         if p.is_stalled() {
///             break;
///         }
///     }
/// }
/// let end = decoder.finish();
/// text.extend_from_slice(end.tail());
/// assert_eq!(String::from_utf8(text)?, "SKU\tName\nA-1\tCafé – €");
/// assert_eq!(end.summary.replacements, 0);
/// # Ok::<(), std::string::FromUtf8Error>(())
/// ```
pub struct CharsetDecoder {
    declared: Charset,
    /// The charset in use: `declared` until a BOM says otherwise.
    charset: Charset,
    /// `None` while the first bytes are being sniffed for a BOM.
    engine: Option<Engine>,
    /// Sniffed bytes; once the engine exists, `held[held_pos..held_len]`
    /// are data still to be decoded before any new input.
    held: [u8; BOM_MAX],
    held_len: usize,
    held_pos: usize,
    /// Decoded UTF-8 that did not fit in the caller's buffer yet:
    /// `pending[pending_pos..pending_len]`.
    pending: [u8; PENDING_BYTES],
    pending_len: usize,
    pending_pos: usize,
    bom_stripped: bool,
    replacements: u64,
    input_bytes: u64,
    output_bytes: u64,
    source: Source,
    /// A host decoder failed; nothing more is decoded.
    failed: bool,
}

impl fmt::Debug for CharsetDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CharsetDecoder")
            .field("declared", &self.declared)
            .field("charset", &self.charset)
            .field("sniffing", &self.engine.is_none())
            .field("bom_stripped", &self.bom_stripped)
            .field("replacements", &self.replacements)
            .field("input_bytes", &self.input_bytes)
            .field("output_bytes", &self.output_bytes)
            .field("failed", &self.failed)
            .field(
                "pending_bytes",
                &self.pending_len.saturating_sub(self.pending_pos),
            )
            .finish_non_exhaustive()
    }
}

impl CharsetDecoder {
    /// Creates a decoder for a body declared in `charset`, with the
    /// built-in decoders.
    #[cfg(feature = "charsets")]
    #[must_use]
    pub fn new(charset: Charset) -> Self {
        Self::with_source(charset, Source::BuiltIn)
    }

    /// Creates a decoder for a body declared in `charset` that converts
    /// with decoders the host lends (see [`ForeignDecoder`]): for a build
    /// without the feature `charsets`, or a host with decoders of its own.
    /// The BOM rule, ISO-8859-1 and the buffering are this decoder's, as
    /// with [`CharsetDecoder::new`].
    #[must_use]
    pub fn foreign(charset: Charset, open: OpenForeignDecoder) -> Self {
        Self::with_source(charset, Source::Foreign(open))
    }

    fn with_source(charset: Charset, source: Source) -> Self {
        Self {
            declared: charset,
            charset,
            engine: None,
            held: [0; BOM_MAX],
            held_len: 0,
            held_pos: 0,
            pending: [0; PENDING_BYTES],
            pending_len: 0,
            pending_pos: 0,
            bom_stripped: false,
            replacements: 0,
            input_bytes: 0,
            output_bytes: 0,
            source,
            failed: false,
        }
    }

    /// The charset the body is being decoded as: the declared one until a
    /// BOM at the start named another.
    #[must_use]
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// Replacements (U+FFFD) made so far.
    #[must_use]
    pub fn replacements(&self) -> u64 {
        match &self.engine {
            Some(Engine::Foreign { replaced, .. }) => self.replacements.saturating_add(*replaced),
            _ => self.replacements,
        }
    }

    /// Whether the host's decoder failed (it has none for the charset). The
    /// decoder then takes no more input, and the output is incomplete:
    /// treat the body as undecodable.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Decodes from `input` into `out` (UTF-8).
    ///
    /// Same contract as [`Decoder::pull`](super::Decoder::pull): call again
    /// with `&input[progress.consumed..]` while the call is not
    /// [stalled](Progress::is_stalled), then feed the next chunk; after the
    /// last chunk, call [`finish`](Self::finish). Only the first
    /// `progress.produced` bytes of `out` are meaningful. With an empty `out`
    /// nothing happens.
    ///
    /// A call may consume input without producing output (a BOM, the first
    /// byte of a multi-byte character) and may produce output without
    /// consuming input (UTF-8 held back from an earlier call).
    pub fn pull(&mut self, input: &[u8], out: &mut [u8]) -> Progress {
        let mut p = Progress::default();
        if out.is_empty() || self.failed {
            return p;
        }
        loop {
            // Held-back output goes first, so the order is kept.
            let dst = out.get_mut(p.produced..).unwrap_or_default();
            let n = self.drain_pending(dst, p.produced == 0);
            p.produced = p.produced.saturating_add(n);
            if self.pending_pos < self.pending_len {
                return p; // `out` is full (up to a character boundary).
            }
            let room = out.len().saturating_sub(p.produced);
            if room == 0 {
                return p;
            }
            let Some(engine) = self.engine.as_mut() else {
                let rest = input.get(p.consumed..).unwrap_or_default();
                let n = self.sniff_bom(rest);
                p.consumed = p.consumed.saturating_add(n);
                self.input_bytes = self.input_bytes.saturating_add(n as u64);
                if self.engine.is_none() {
                    return p; // Input ran out inside what may be a BOM.
                }
                continue;
            };
            // Bytes sniffed for a BOM that turned out to be data come
            // before the rest of the input.
            let replay = self.held_pos < self.held_len;
            let src = if replay {
                self.held.get(self.held_pos..self.held_len)
            } else {
                input.get(p.consumed..)
            }
            .unwrap_or_default();
            if src.is_empty() && !engine.holds_output() {
                return p;
            }
            let direct = room >= DIRECT_MIN;
            let dst = if direct {
                out.get_mut(p.produced..).unwrap_or_default()
            } else {
                // Nothing is pending here (checked above), so the stash is
                // free; what it receives is drained on the next turn.
                self.pending.get_mut(..STASH_BYTES).unwrap_or_default()
            };
            let (step, read, written) = engine.convert(src, dst, false);
            if replay {
                self.held_pos = self.held_pos.saturating_add(read);
            } else {
                p.consumed = p.consumed.saturating_add(read);
                self.input_bytes = self.input_bytes.saturating_add(read as u64);
            }
            if direct {
                p.produced = p.produced.saturating_add(written);
                self.output_bytes = self.output_bytes.saturating_add(written as u64);
            } else {
                self.pending_pos = 0;
                self.pending_len = written;
            }
            match step {
                Step::InputEmpty => {}
                Step::Failed => {
                    self.failed = true;
                    return p;
                }
                Step::Malformed => {
                    self.replacements = self.replacements.saturating_add(1);
                    let dst = out.get_mut(p.produced..).unwrap_or_default();
                    let n = self.emit_replacement(dst);
                    p.produced = p.produced.saturating_add(n);
                }
                Step::OutputFull => {
                    // Defensive: a converter that neither read nor wrote
                    // with this much room would loop forever; stop instead
                    // (the caller sees a stall with input left).
                    if read == 0 && written == 0 {
                        return p;
                    }
                }
            }
        }
    }

    /// Ends the body: flushes what is held back and turns a sequence cut
    /// short by the end of the input into U+FFFD (counted).
    ///
    /// Call after the last [`pull`](Self::pull) stalled, and append
    /// [`CharsetFinish::tail`] to the output. A body that ends inside what
    /// could still be a BOM (say the lone byte `EF`) is decoded as data.
    pub fn finish(mut self) -> CharsetFinish {
        let mut tail = [0u8; TAIL_BYTES];
        // `drain_pending` counts what it copies; the rest is counted below.
        let drained = self.drain_pending(&mut tail, true);
        let mut len = drained;
        if self.engine.is_none() {
            self.decide(Sniff::NoBom);
        }
        let src = self.held.get(self.held_pos..self.held_len);
        let mut src = src.unwrap_or_default();
        let engine = self.engine.as_mut().filter(|_| !self.failed);
        if let Some(engine) = engine {
            loop {
                let dst = tail.get_mut(len..).unwrap_or_default();
                let (step, read, written) = engine.convert(src, dst, true);
                src = src.get(read..).unwrap_or_default();
                len = len.saturating_add(written);
                match step {
                    Step::InputEmpty => break,
                    Step::Failed => {
                        self.failed = true;
                        break;
                    }
                    Step::Malformed => {
                        self.replacements = self.replacements.saturating_add(1);
                        if let Some(d) = tail.get_mut(len..len.saturating_add(REPLACEMENT.len())) {
                            d.copy_from_slice(&REPLACEMENT);
                            len = len.saturating_add(REPLACEMENT.len());
                        }
                    }
                    Step::OutputFull => {
                        // Cannot happen: TAIL_BYTES covers the worst case.
                        // Were it to, count the loss rather than hide it.
                        self.replacements = self.replacements.saturating_add(1);
                        break;
                    }
                }
            }
        }
        let flushed = len.saturating_sub(drained);
        self.output_bytes = self.output_bytes.saturating_add(flushed as u64);
        CharsetFinish {
            tail,
            tail_len: len,
            failed: self.failed,
            summary: CharsetSummary {
                declared: self.declared,
                charset: self.charset,
                bom_stripped: self.bom_stripped,
                replacements: self.replacements(),
                input_bytes: self.input_bytes,
                output_bytes: self.output_bytes,
            },
        }
    }

    /// Takes bytes from `input` into the BOM sniffer until the question is
    /// settled or `input` runs out; returns how many were taken.
    fn sniff_bom(&mut self, input: &[u8]) -> usize {
        let mut taken = 0usize;
        for &b in input {
            let Some(slot) = self.held.get_mut(self.held_len) else {
                break; // Unreachable: `sniff` settles within BOM_MAX bytes.
            };
            *slot = b;
            self.held_len = self.held_len.saturating_add(1);
            taken = taken.saturating_add(1);
            match sniff(self.held.get(..self.held_len).unwrap_or_default()) {
                Sniff::NeedMore => {}
                verdict => {
                    self.decide(verdict);
                    break;
                }
            }
        }
        taken
    }

    /// Leaves the sniffing state: strips a BOM or keeps the held bytes as
    /// data, and creates the engine.
    fn decide(&mut self, verdict: Sniff) {
        if let Sniff::Bom(charset) = verdict {
            self.charset = charset;
            self.bom_stripped = true;
            self.held_len = 0;
        }
        self.held_pos = 0;
        self.engine = Some(Engine::new(self.charset, self.source));
    }

    /// Copies held-back output into `dst`, stopping at a character boundary
    /// unless `may_split` and not even one character fits (a tiny `out`);
    /// returns the bytes copied.
    fn drain_pending(&mut self, dst: &mut [u8], may_split: bool) -> usize {
        let pending = self
            .pending
            .get(self.pending_pos..self.pending_len)
            .unwrap_or_default();
        let mut n = whole_characters(pending, dst.len());
        if n == 0 && may_split {
            n = pending.len().min(dst.len());
        }
        if let (Some(d), Some(s)) = (dst.get_mut(..n), pending.get(..n)) {
            d.copy_from_slice(s);
        }
        self.pending_pos = self.pending_pos.saturating_add(n);
        if self.pending_pos >= self.pending_len {
            self.pending_pos = 0;
            self.pending_len = 0;
        }
        self.output_bytes = self.output_bytes.saturating_add(n as u64);
        n
    }

    /// Writes U+FFFD into `dst` if nothing is held back and it fits, else
    /// holds it back; returns the bytes written to `dst`.
    fn emit_replacement(&mut self, dst: &mut [u8]) -> usize {
        if self.pending_pos == self.pending_len {
            if let Some(d) = dst.get_mut(..REPLACEMENT.len()) {
                d.copy_from_slice(&REPLACEMENT);
                self.output_bytes = self.output_bytes.saturating_add(REPLACEMENT.len() as u64);
                return REPLACEMENT.len();
            }
        }
        // Pending holds at most one stash here, so the character fits.
        let end = self.pending_len.saturating_add(REPLACEMENT.len());
        if let Some(d) = self.pending.get_mut(self.pending_len..end) {
            d.copy_from_slice(&REPLACEMENT);
            self.pending_len = end;
        }
        0
    }
}

#[cfg(test)]
#[cfg(feature = "charsets")]
mod tests {
    use super::*;

    /// Decodes `body` fed in chunks of `chunk` bytes into an `out` of
    /// `out_len` bytes; returns the text and the summary.
    fn decode(
        charset: Charset,
        body: &[u8],
        chunk: usize,
        out_len: usize,
    ) -> (String, CharsetSummary) {
        let (text, summary, _) = decode_with(CharsetDecoder::new(charset), body, chunk, out_len);
        (text, summary)
    }

    /// `decode` with a decoder made already; also whether it failed.
    fn decode_with(
        mut d: CharsetDecoder,
        body: &[u8],
        chunk: usize,
        out_len: usize,
    ) -> (String, CharsetSummary, bool) {
        let mut out = vec![0u8; out_len];
        let mut text = Vec::new();
        for c in body.chunks(chunk.max(1)) {
            let mut rest = c;
            loop {
                let p = d.pull(rest, &mut out);
                text.extend_from_slice(&out[..p.produced]);
                if out_len >= 4 {
                    assert!(std::str::from_utf8(&out[..p.produced]).is_ok());
                }
                rest = &rest[p.consumed..];
                if p.is_stalled() {
                    break;
                }
            }
            assert!(rest.is_empty());
        }
        let end = d.finish();
        text.extend_from_slice(end.tail());
        let failed = end.failed();
        (String::from_utf8(text).unwrap(), end.summary, failed)
    }

    /// Every chunking and output size we care about gives `expected`.
    fn check_all(charset: Charset, body: &[u8], expected: &str) -> CharsetSummary {
        let mut first = None;
        for chunk in [1, 2, 3, 5, 64 * 1024] {
            for out_len in [1, 2, 3, 4, 5, 31, 32, 33, 4096] {
                let (text, summary) = decode(charset, body, chunk, out_len);
                assert_eq!(text, expected, "chunk {chunk}, out {out_len}");
                assert_eq!(summary.output_bytes, expected.len() as u64);
                assert_eq!(summary.input_bytes, body.len() as u64);
                match first {
                    None => first = Some(summary),
                    Some(s) => assert_eq!(s, summary, "chunk {chunk}, out {out_len}"),
                }
            }
        }
        first.unwrap()
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut units: Vec<u16> = Vec::new();
        if bom {
            units.push(0xFEFF);
        }
        units.extend(text.encode_utf16());
        units
            .iter()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn shift_jis_report_decodes_exactly() {
        let text = "注文番号\t商品名\n123\tテスト商品\n";
        let (body, _, unmappable) = SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert_ne!(&body[..], text.as_bytes());
        let s = check_all(Charset::ShiftJis, &body, text);
        assert_eq!(s.replacements, 0);
        assert!(!s.bom_stripped);
        assert_eq!(s.charset, Charset::ShiftJis);
    }

    #[test]
    fn shift_jis_is_windows_31j() {
        // NEC row 13 (①, ㈱), IBM extension (髙), half-width katakana (ｱ),
        // and 5C as backslash: what Japanese Windows writes.
        let body = b"\x87\x40\x87\x8a\xfb\xfc\xb1\x5c";
        let s = check_all(Charset::ShiftJis, body, "①㈱髙ｱ\\");
        assert_eq!(s.replacements, 0);
    }

    #[test]
    fn windows_1252_decodes_exactly() {
        let text = "Café – €5\n";
        let (body, _, unmappable) = WINDOWS_1252.encode(text);
        assert!(!unmappable);
        assert_eq!(&body[..], b"Caf\xe9 \x96 \x805\n");
        let s = check_all(Charset::Windows1252, &body, text);
        assert_eq!(s.replacements, 0);
    }

    #[test]
    fn iso_8859_1_is_exact_latin1() {
        let body: Vec<u8> = (0u8..=255).collect();
        let expected: String = (0u32..=255).filter_map(char::from_u32).collect();
        let s = check_all(Charset::Iso8859_1, &body, &expected);
        assert_eq!(s.replacements, 0);
        // windows-1252 differs exactly in 80–9F.
        let (cp1252, _) = decode(Charset::Windows1252, b"\x80\x93", 1, 64);
        let (latin1, _) = decode(Charset::Iso8859_1, b"\x80\x93", 1, 64);
        assert_eq!(cp1252, "€“");
        assert_eq!(latin1, "\u{80}\u{93}");
    }

    #[test]
    fn utf16_with_bom_both_byte_orders() {
        let text = "SKU\t名前\n😀 é\n";
        for declared in [Charset::Utf16, Charset::Utf16Be] {
            let s = check_all(declared, &utf16(text, false, true), text);
            assert!(s.bom_stripped);
            assert_eq!(s.charset, Charset::Utf16);
            assert_eq!(s.replacements, 0);
            let s = check_all(declared, &utf16(text, true, true), text);
            assert!(s.bom_stripped);
            assert_eq!(s.charset, Charset::Utf16Be);
            assert_eq!(s.replacements, 0);
        }
    }

    #[test]
    fn utf16_without_bom_follows_the_label() {
        let text = "A-1\t€\n";
        let s = check_all(Charset::Utf16, &utf16(text, false, false), text);
        assert!(!s.bom_stripped);
        assert_eq!(s.charset, Charset::Utf16);
        let s = check_all(Charset::Utf16Be, &utf16(text, true, false), text);
        assert!(!s.bom_stripped);
        assert_eq!(s.charset, Charset::Utf16Be);
    }

    #[test]
    fn utf8_bom_is_stripped_for_any_label() {
        let text = "sku\tnaïve 注文\n";
        let mut body = vec![0xEF, 0xBB, 0xBF];
        body.extend_from_slice(text.as_bytes());
        for declared in [
            Charset::Utf8,
            Charset::ShiftJis,
            Charset::Windows1252,
            Charset::Iso8859_1,
            Charset::Utf16,
        ] {
            let s = check_all(declared, &body, text);
            assert!(s.bom_stripped, "{declared}");
            assert_eq!(s.declared, declared);
            assert_eq!(s.charset, Charset::Utf8);
            assert_eq!(s.replacements, 0);
        }
        // Only a BOM at the very start is removed.
        let mid = "a\u{FEFF}b";
        let s = check_all(Charset::Utf8, mid.as_bytes(), mid);
        assert!(!s.bom_stripped);
    }

    #[test]
    fn bom_split_across_chunks() {
        let mut d = CharsetDecoder::new(Charset::Utf8);
        let mut out = [0u8; 64];
        let mut text = Vec::new();
        for piece in [&[0xEFu8][..], &[0xBB], &[0xBF, b'o'], b"k"] {
            let p = d.pull(piece, &mut out);
            assert_eq!(p.consumed, piece.len());
            text.extend_from_slice(&out[..p.produced]);
            assert!(d.pull(&[], &mut out).is_stalled());
        }
        let end = d.finish();
        text.extend_from_slice(end.tail());
        assert_eq!(text, b"ok");
        assert!(end.summary.bom_stripped);
    }

    #[test]
    fn bom_prefix_that_is_data_is_kept() {
        // EF BB then not BF: in windows-1252 these are "ï»" plus data.
        let s = check_all(Charset::Windows1252, b"\xEF\xBBx", "ï»x");
        assert!(!s.bom_stripped);
        // A body that ends inside a possible BOM is data too.
        check_all(Charset::Windows1252, b"\xEF\xBB", "ï»");
        check_all(Charset::Iso8859_1, b"\xFE", "þ");
        let s = check_all(Charset::Utf8, b"\xEF\xBB", "\u{FFFD}");
        assert_eq!(s.replacements, 1);
        let s = check_all(Charset::Utf8, b"", "");
        assert_eq!(s.replacements, 0);
        assert!(!s.bom_stripped);
    }

    #[test]
    fn truncated_trailing_sequence_is_replaced_and_counted() {
        // "注" in UTF-8 is E6 B3 A8; cut after two bytes.
        let s = check_all(Charset::Utf8, b"ab\xE6\xB3", "ab\u{FFFD}");
        assert_eq!(s.replacements, 1);
        // A Shift_JIS lead byte with no trail byte.
        let s = check_all(Charset::ShiftJis, b"ab\x92", "ab\u{FFFD}");
        assert_eq!(s.replacements, 1);
        // An odd trailing byte in UTF-16.
        let mut body = utf16("ok", false, true);
        body.push(0x41);
        let s = check_all(Charset::Utf16, &body, "ok\u{FFFD}");
        assert_eq!(s.replacements, 1);
    }

    #[test]
    fn malformed_utf8_is_replaced_and_counted() {
        let s = check_all(
            Charset::Utf8,
            b"a\xFFb\xC3(c\xED\xA0\x80d",
            "a\u{FFFD}b\u{FFFD}(c\u{FFFD}\u{FFFD}\u{FFFD}d",
        );
        assert_eq!(s.replacements, 5);
        // Shift_JIS: a lead byte followed by an ASCII byte that cannot
        // trail; the ASCII byte survives.
        let s = check_all(Charset::ShiftJis, b"\x81\x20x", "\u{FFFD} x");
        assert_eq!(s.replacements, 1);
    }

    #[test]
    fn one_byte_output_buffers_work() {
        let text = "注文€😀x";
        let (text_out, s) = decode(Charset::Utf8, text.as_bytes(), 1, 1);
        assert_eq!(text_out, text);
        assert_eq!(s.replacements, 0);
        let (body, _, _) = SHIFT_JIS.encode("注文番号ｱ");
        let (text_out, _) = decode(Charset::ShiftJis, &body, 64 * 1024, 1);
        assert_eq!(text_out, "注文番号ｱ");
    }

    #[test]
    fn pieces_end_on_character_boundaries_from_four_bytes() {
        // "€" is three bytes: a 4-byte buffer takes one at a time.
        let mut d = CharsetDecoder::new(Charset::Windows1252);
        let mut out = [0u8; 4];
        let p = d.pull(b"\x80\x80\x80", &mut out);
        assert_eq!(p.produced, 3);
        assert_eq!(&out[..3], "€".as_bytes());
    }

    #[test]
    fn empty_output_does_nothing() {
        let mut d = CharsetDecoder::new(Charset::Utf8);
        assert!(d.pull(b"abc", &mut []).is_stalled());
        let end = d.finish();
        assert_eq!(end.tail(), b"");
        assert_eq!(end.summary.input_bytes, 0);
    }

    #[test]
    fn finish_flushes_what_was_not_pulled() {
        // The caller stops pulling while output is held back: `finish`
        // still delivers it.
        let mut d = CharsetDecoder::new(Charset::Windows1252);
        let mut out = [0u8; 1];
        let p = d.pull(b"\x80", &mut out);
        assert_eq!((p.consumed, p.produced), (1, 1));
        let end = d.finish();
        let mut text = out.to_vec();
        text.extend_from_slice(end.tail());
        assert_eq!(text, "€".as_bytes());
        assert_eq!(end.summary.output_bytes, 3);
    }

    #[test]
    fn the_summary_uses_the_charsets_stable_names() {
        let summary = decode(Charset::ShiftJis, b"a", 1, 8).1;
        let json = serde_json::to_value(summary).unwrap();
        assert_eq!(json["declared"], "shift_jis");
        assert_eq!(json["replacements"], 0);
    }

    /// A host decoder for the tests: `encoding_rs` with replacement, the
    /// WHATWG decoders a browser's `TextDecoder` implements.
    struct Lent(encoding_rs::Decoder);

    impl fmt::Debug for Lent {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Lent")
        }
    }

    impl ForeignDecoder for Lent {
        fn decode(
            &mut self,
            bytes: &[u8],
            last: bool,
            out: &mut Vec<u8>,
        ) -> Result<(), crate::integrity::ForeignDecodeFailed> {
            let mut text = String::with_capacity(bytes.len() * 3 + 8);
            let (_, read, _) = self.0.decode_to_string(bytes, &mut text, last);
            assert_eq!(read, bytes.len(), "capacity suffices");
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }

    fn lend(charset: Charset) -> Box<dyn ForeignDecoder> {
        let encoding = match charset {
            Charset::ShiftJis => SHIFT_JIS,
            Charset::Windows1252 => WINDOWS_1252,
            Charset::Utf16 => UTF_16LE,
            Charset::Utf16Be => UTF_16BE,
            Charset::Utf8 => UTF_8,
            Charset::Iso8859_1 => panic!("Latin-1 is never lent"),
        };
        Box::new(Lent(encoding.new_decoder_without_bom_handling()))
    }

    /// `decode` with the lent decoders.
    fn decode_lent(
        charset: Charset,
        body: &[u8],
        chunk: usize,
        out_len: usize,
    ) -> (String, CharsetSummary, bool) {
        decode_with(CharsetDecoder::foreign(charset, lend), body, chunk, out_len)
    }

    #[test]
    fn lent_decoders_give_what_the_built_in_ones_give() {
        let sjis = SHIFT_JIS.encode("注文番号\tｱｲｳ①髙\n").0.into_owned();
        let utf16le = utf16("SKU\t😀 名前\n", false, false);
        let utf16be_bom = utf16("é😀", true, true);
        let cases: [(Charset, &[u8]); 10] = [
            (Charset::ShiftJis, &sjis),
            (Charset::ShiftJis, b"a\x81\x20b\x82\xfd\x80\xa0\xe0"),
            (Charset::Windows1252, b"Caf\xe9 \x96 \x80\x81\x9d"),
            (Charset::Iso8859_1, b"\x80\xe9\xff"),
            (Charset::Utf16, &utf16le),
            (Charset::Utf16, b"\x3d\xd8a\x00\x00"),
            (Charset::Utf16Be, &utf16be_bom),
            (Charset::Utf8, b"\xef\xbb\xbfok\xe2\x82"),
            (Charset::ShiftJis, b"\xef\xbb\xbf\xe6\xb3\xa8"),
            (Charset::Windows1252, b"\xff\xfeA\x00"),
        ];
        for (charset, body) in cases {
            for chunk in [1, 2, 3, 7, 64] {
                for out_len in [1, 3, 4, 31, 32, 200] {
                    let built_in = decode(charset, body, chunk, out_len);
                    let (text, summary, failed) = decode_lent(charset, body, chunk, out_len);
                    assert!(!failed);
                    assert_eq!(text, built_in.0, "{charset:?} {body:x?} {chunk} {out_len}");
                    assert_eq!(
                        summary, built_in.1,
                        "{charset:?} {body:x?} {chunk} {out_len}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_large_body_crosses_to_the_host_in_few_calls() {
        #[derive(Debug)]
        struct Counting;
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        impl ForeignDecoder for Counting {
            fn decode(
                &mut self,
                bytes: &[u8],
                _last: bool,
                out: &mut Vec<u8>,
            ) -> Result<(), crate::integrity::ForeignDecodeFailed> {
                CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
        let body = vec![b'x'; 1 << 20];
        let mut d = CharsetDecoder::foreign(Charset::Windows1252, |_| Box::new(Counting));
        let mut out = vec![0u8; 1 << 20];
        let p = d.pull(&body, &mut out);
        assert_eq!((p.consumed, p.produced), (body.len(), body.len()));
        assert!(d.finish().tail().is_empty());
        // The three bytes sniffed for a BOM, then 64 KiB a call (17 for
        // the rest), and the flush.
        let calls = CALLS.load(std::sync::atomic::Ordering::Relaxed);
        assert!(calls <= 19, "{calls} calls");
    }

    #[test]
    fn a_host_without_the_decoder_fails_the_body() {
        #[derive(Debug)]
        struct Missing;
        impl ForeignDecoder for Missing {
            fn decode(
                &mut self,
                _bytes: &[u8],
                _last: bool,
                _out: &mut Vec<u8>,
            ) -> Result<(), crate::integrity::ForeignDecodeFailed> {
                Err(crate::integrity::ForeignDecodeFailed)
            }
        }
        let mut d = CharsetDecoder::foreign(Charset::ShiftJis, |_| Box::new(Missing));
        let mut out = [0u8; 64];
        let p = d.pull(b"abcdef", &mut out);
        assert!(d.failed());
        assert_eq!(p.produced, 0);
        assert!(
            d.pull(b"abcdef", &mut out).is_stalled(),
            "takes nothing more"
        );
        let end = d.finish();
        assert!(end.failed());
        assert!(end.tail().is_empty());
        // Latin-1 is the core's own: no host decoder is asked for it.
        let (text, _, failed) = {
            let mut d = CharsetDecoder::foreign(Charset::Iso8859_1, |_| Box::new(Missing));
            let p = d.pull(b"\xe9", &mut out);
            let produced = out[..p.produced].to_vec();
            let end = d.finish();
            (produced, end.summary, end.failed())
        };
        assert_eq!(text, "é".as_bytes());
        assert!(!failed);
    }
}
