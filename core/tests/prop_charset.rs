//! Property tests for `reportflow::integrity::CharsetDecoder`: decoding a
//! report is independent of how its bytes are split and of the output
//! buffer size, a clean report round-trips exactly with no replacements,
//! and decoders a host lends (`CharsetDecoder::foreign`) give what the
//! built-in ones give.
//!
//! Case count follows `PROPTEST_CASES` (proptest's default config).

use encoding_rs::{Encoding, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use proptest::prelude::*;
use reportflow::integrity::{
    Charset, CharsetDecoder, CharsetSummary, ForeignDecodeFailed, ForeignDecoder,
};

/// What a host lends: `encoding_rs` with replacement, the WHATWG decoders
/// (a browser's `TextDecoder`).
struct Lent(encoding_rs::Decoder);

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lent")
    }
}

impl ForeignDecoder for Lent {
    fn decode(
        &mut self,
        bytes: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ForeignDecodeFailed> {
        let capacity = self
            .0
            .max_utf8_buffer_length(bytes.len())
            .ok_or(ForeignDecodeFailed)?;
        let mut text = String::with_capacity(capacity);
        let _ = self.0.decode_to_string(bytes, &mut text, last);
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
        _ => UTF_8,
    };
    Box::new(Lent(encoding.new_decoder_without_bom_handling()))
}

/// Characters a Shift_JIS (Windows-31J) report uses besides ASCII:
/// hiragana, katakana, half-width katakana, full-width letters and digits,
/// punctuation and kanji common in order reports.
fn japanese_chars() -> Vec<char> {
    let mut chars: Vec<char> = Vec::new();
    chars.extend('\u{3041}'..='\u{3093}'); // hiragana
    chars.extend('\u{30A1}'..='\u{30F6}'); // katakana
    chars.extend('\u{FF61}'..='\u{FF9F}'); // half-width katakana (single byte)
    chars.extend('\u{FF10}'..='\u{FF19}'); // full-width digits
    chars.extend('\u{FF21}'..='\u{FF3A}'); // full-width capitals
    chars
        .extend("注文番号商品名価格数量発送日本東京大阪円税込合計在庫倉庫出荷返品送料配達".chars());
    chars.extend("【】「」・ー、。①②㈱髙".chars());
    round_trippable(SHIFT_JIS, chars)
}

/// Characters a windows-1252 report uses besides ASCII.
fn western_chars() -> Vec<char> {
    round_trippable(
        WINDOWS_1252,
        "éèêëàâäçüöÄÖÜßñÑøØåÅæœŒ€–—‘’“”…™©®°±×÷¿¡ÿ"
            .chars()
            .collect(),
    )
}

/// Keeps the characters `encoding` encodes and decodes back unchanged, so
/// the generated reports are exactly representable.
fn round_trippable(encoding: &'static Encoding, chars: Vec<char>) -> Vec<char> {
    let kept: Vec<char> = chars
        .into_iter()
        .filter(|&c| {
            let s = c.to_string();
            let (bytes, _, unmappable) = encoding.encode(&s);
            !unmappable && encoding.decode_without_bom_handling(&bytes).0 == s
        })
        .collect();
    assert!(kept.len() > 10, "too few {} characters", encoding.name());
    kept
}

/// Printable ASCII except the TSV separators.
fn ascii_chars() -> Vec<char> {
    (' '..='~').collect()
}

/// A TSV report: a header and rows of fields drawn from `extra` and ASCII,
/// the rows repeated to reach past 64 KiB now and then.
fn report(extra: Vec<char>) -> impl Strategy<Value = String> {
    let mut alphabet = ascii_chars();
    alphabet.extend(extra.iter().copied());
    alphabet.extend(extra); // weight non-ASCII as much as ASCII
    let field = prop::collection::vec(prop::sample::select(alphabet), 0..24)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    let row = prop::collection::vec(field, 1..8);
    (prop::collection::vec(row, 0..120), 1usize..6).prop_map(|(rows, reps)| {
        let mut text = String::from("id\tname\tprice\n");
        for _ in 0..reps {
            for row in &rows {
                text.push_str(&row.join("\t"));
                text.push('\n');
            }
        }
        text
    })
}

/// Split points for `len` bytes from arbitrary cut positions.
fn chunk_bounds(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    points.push(0);
    points.push(len);
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Decodes `body` split at `bounds` through an `out` of `out_len` bytes.
fn decode(
    charset: Charset,
    body: &[u8],
    bounds: &[(usize, usize)],
    out_len: usize,
) -> (Vec<u8>, CharsetSummary) {
    decode_with(CharsetDecoder::new(charset), body, bounds, out_len)
}

/// `decode` with a decoder made already.
fn decode_with(
    mut d: CharsetDecoder,
    body: &[u8],
    bounds: &[(usize, usize)],
    out_len: usize,
) -> (Vec<u8>, CharsetSummary) {
    let mut out = vec![0u8; out_len];
    let mut text = Vec::new();
    for &(from, to) in bounds {
        let mut rest = &body[from..to];
        loop {
            let p = d.pull(rest, &mut out);
            let piece = &out[..p.produced];
            if out_len >= 4 {
                // Documented: from 4 bytes on, every piece is whole characters.
                assert!(std::str::from_utf8(piece).is_ok(), "split character");
            }
            text.extend_from_slice(piece);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
        assert!(rest.is_empty(), "stalled with input left");
    }
    let end = d.finish();
    text.extend_from_slice(end.tail());
    (text, end.summary)
}

fn even(len: usize, size: usize) -> Vec<(usize, usize)> {
    (0..len)
        .step_by(size)
        .map(|from| (from, (from + size).min(len)))
        .collect()
}

/// Every chunking gives exactly `text`, with no replacement.
fn check_chunkings(
    charset: Charset,
    text: &str,
    body: &[u8],
    cuts: &[usize],
    out_len: usize,
) -> Result<(), TestCaseError> {
    let runs = [
        ("1-byte chunks", even(body.len(), 1), 64 * 1024),
        ("1-byte chunks, 1-byte out", even(body.len(), 1), 1),
        ("64 KiB chunks", even(body.len(), 64 * 1024), 64 * 1024),
        (
            "64 KiB chunks, random out",
            even(body.len(), 64 * 1024),
            out_len,
        ),
        ("random chunks", chunk_bounds(body.len(), cuts), out_len),
    ];
    for (name, bounds, out) in runs {
        let (decoded, summary) = decode(charset, body, &bounds, out);
        prop_assert!(decoded == text.as_bytes(), "{name} (out {out}) differs");
        prop_assert_eq!(summary.replacements, 0, "{}", name);
        prop_assert_eq!(summary.input_bytes, body.len() as u64);
        prop_assert_eq!(summary.output_bytes, text.len() as u64);
        prop_assert_eq!(summary.charset, charset);
        prop_assert!(!summary.bom_stripped);
    }
    Ok(())
}

/// Output sizes: tiny (characters split across calls), around the internal
/// 32-byte threshold, and ordinary.
fn out_len() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..8, 28usize..40, 40usize..70_000]
}

/// Every charset a body can be declared in.
fn any_charset() -> impl Strategy<Value = Charset> {
    prop::sample::select(vec![
        Charset::Utf8,
        Charset::ShiftJis,
        Charset::Windows1252,
        Charset::Iso8859_1,
        Charset::Utf16,
        Charset::Utf16Be,
    ])
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..200)
}

proptest! {
    #[test]
    fn shift_jis_reports_decode_exactly_under_any_chunking(
        text in report(japanese_chars()),
        cuts in cuts(),
        out in out_len(),
    ) {
        let (body, _, unmappable) = SHIFT_JIS.encode(&text);
        prop_assert!(!unmappable);
        check_chunkings(Charset::ShiftJis, &text, &body, &cuts, out)?;
    }

    #[test]
    fn windows_1252_reports_decode_exactly_under_any_chunking(
        text in report(western_chars()),
        cuts in cuts(),
        out in out_len(),
    ) {
        let (body, _, unmappable) = WINDOWS_1252.encode(&text);
        prop_assert!(!unmappable);
        check_chunkings(Charset::Windows1252, &text, &body, &cuts, out)?;
    }

    /// Any Unicode text survives UTF-16 (either byte order, with a BOM) and
    /// UTF-8 (with a BOM), the BOM being stripped.
    #[test]
    fn unicode_with_bom_round_trips(
        text in any::<String>(),
        cuts in cuts(),
        out in out_len(),
        form in 0u8..3,
    ) {
        let (body, charset) = match form {
            0 => {
                let mut b = vec![0xEF, 0xBB, 0xBF];
                b.extend_from_slice(text.as_bytes());
                (b, Charset::Utf8)
            }
            1 => {
                let b = std::iter::once(0xFEFF).chain(text.encode_utf16());
                (b.flat_map(u16::to_le_bytes).collect(), Charset::Utf16)
            }
            _ => {
                let b = std::iter::once(0xFEFF).chain(text.encode_utf16());
                (b.flat_map(u16::to_be_bytes).collect(), Charset::Utf16Be)
            }
        };
        let (decoded, summary) = decode(Charset::Utf8, &body, &chunk_bounds(body.len(), &cuts), out);
        prop_assert!(decoded == text.as_bytes());
        prop_assert_eq!(summary.replacements, 0);
        prop_assert!(summary.bom_stripped);
        prop_assert_eq!(summary.charset, charset);
    }

    /// Arbitrary bytes never break the decoder: the output is valid UTF-8,
    /// does not depend on chunking, and clean input needs no replacement.
    #[test]
    fn arbitrary_bytes_decode_the_same_under_any_chunking(
        body in prop::collection::vec(any::<u8>(), 0..600),
        cuts in cuts(),
        out in out_len(),
        charset in any_charset(),
    ) {
        let whole = decode(charset, &body, &even(body.len(), body.len().max(1)), 64 * 1024);
        let split = decode(charset, &body, &chunk_bounds(body.len(), &cuts), out);
        prop_assert!(std::str::from_utf8(&whole.0).is_ok());
        prop_assert_eq!(&whole, &split);
        let fffd = String::from_utf8_lossy(&whole.0).matches('\u{FFFD}').count() as u64;
        // Every U+FFFD in the output is a counted replacement (the input
        // itself may hold some in UTF-8 or UTF-16).
        prop_assert!(whole.1.replacements <= fffd);
        if charset == Charset::Iso8859_1 && !body.starts_with(&[0xEF, 0xBB, 0xBF])
            && !body.starts_with(&[0xFF, 0xFE]) && !body.starts_with(&[0xFE, 0xFF])
        {
            prop_assert_eq!(whole.1.replacements, 0);
        }
    }

    /// A lent decoder, split anyhow, gives the built-in decoder's output
    /// and summary; its replacement count is the U+FFFD in its output, so
    /// it equals the built-in count whenever the body holds none itself.
    #[test]
    fn lent_decoders_give_what_the_built_in_ones_give(
        body in prop::collection::vec(any::<u8>(), 0..600),
        cuts in cuts(),
        out in out_len(),
        charset in any_charset(),
    ) {
        let bounds = chunk_bounds(body.len(), &cuts);
        let built_in = decode(charset, &body, &bounds, out);
        let lent = decode_with(CharsetDecoder::foreign(charset, lend), &body, &bounds, out);
        prop_assert_eq!(&lent.0, &built_in.0);
        let fffd = String::from_utf8_lossy(&built_in.0).matches('\u{FFFD}').count() as u64;
        prop_assert_eq!(lent.1.replacements, fffd);
        if built_in.1.replacements == fffd {
            prop_assert_eq!(&lent.1, &built_in.1);
        }
    }
}
