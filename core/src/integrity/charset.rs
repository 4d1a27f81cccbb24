//! The character sets a report body may come in, and their labels.
//!
//! Marketplace reports are not always UTF-8: Amazon's Japanese marketplace
//! serves flat files in Shift_JIS, European flat files come in windows-1252
//! or ISO-8859-1, and spreadsheet exports are often UTF-16 with a BOM.
//! [`Charset`] names them (from `Content-Type` labels); the decoder that
//! turns such a body into UTF-8 is in `transcode.rs` (feature `charsets`).

use core::fmt;

use serde::Serialize;

/// A character set a report body may be declared in.
///
/// Build one from a label with [`Charset::from_label`] or from a
/// `Content-Type` header with [`Charset::from_content_type`]; decode with
/// `CharsetDecoder` (feature `charsets`). Serialized as the name [`as_str`](Self::as_str)
/// returns (`"shift_jis"`, `"windows-1252"`, …), which is also a label
/// `from_label` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
// Every variant is renamed to its `as_str` name so that snapshots, JS and
// logs see one spelling; `rename_all` covers variants added later.
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Charset {
    /// UTF-8. Invalid sequences become U+FFFD and are counted.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Shift_JIS as Windows writes it: Windows-31J, also called CP932 or
    /// MS932.
    ///
    /// `encoding_rs` implements the WHATWG Shift_JIS, which *is* Windows-31J:
    /// JIS X 0208 plus the NEC and IBM extensions (①, ㈱, Ⅰ, 髙, …) that
    /// Japanese Windows and Excel produce. Byte `5C` decodes to `\` and `7E`
    /// to `~`, as Windows does (not ¥ and ‾ as in strict JIS X 0201).
    #[serde(rename = "shift_jis")]
    ShiftJis,
    /// windows-1252 (CP1252), the Western European Windows code page:
    /// Latin-1 plus `€ – — ‘ ’ “ ” …` and friends in `80`–`9F`.
    #[serde(rename = "windows-1252")]
    Windows1252,
    /// ISO-8859-1 (Latin-1), decoded exactly: byte `XX` becomes U+00XX.
    ///
    /// The WHATWG Encoding Standard and `encoding_rs` treat the label
    /// `iso-8859-1` as windows-1252, which is right for web pages that say
    /// Latin-1 but mean CP1252. A report declared ISO-8859-1 is a different
    /// case: its `80`–`9F` bytes are C1 control characters, and turning them
    /// into `€` or `”` would invent text. So this decodes Latin-1 exactly
    /// (never replacing anything); declare [`Windows1252`](Self::Windows1252)
    /// for CP1252 files.
    #[serde(rename = "iso-8859-1")]
    Iso8859_1,
    /// UTF-16, byte order from the BOM; little-endian when there is no BOM.
    ///
    /// Little-endian is what Windows tools write (Excel's "Unicode Text") and
    /// what the WHATWG standard assumes for the label `utf-16`. The label
    /// `utf-16le` maps here too; use [`Utf16Be`](Self::Utf16Be) for a body
    /// declared big-endian.
    #[serde(rename = "utf-16")]
    Utf16,
    /// UTF-16 big-endian, as declared by the label `utf-16be`. A BOM still
    /// wins, so a body starting `FF FE` is decoded little-endian.
    #[serde(rename = "utf-16be")]
    Utf16Be,
}

crate::json_fields::deserialize_names! {
    Charset;
    "utf-8" => Utf8,
    "shift_jis" => ShiftJis,
    "windows-1252" => Windows1252,
    "iso-8859-1" => Iso8859_1,
    "utf-16" => Utf16,
    "utf-16be" => Utf16Be,
}

/// Labels accepted by [`Charset::from_label`], compared ASCII
/// case-insensitively. Covers the WHATWG labels of these encodings that
/// reports use, plus Java/IANA aliases seen in `Content-Type` headers.
const LABELS: &[(&str, Charset)] = &[
    ("utf-8", Charset::Utf8),
    ("utf8", Charset::Utf8),
    ("unicode-1-1-utf-8", Charset::Utf8),
    ("shift_jis", Charset::ShiftJis),
    ("shift-jis", Charset::ShiftJis),
    ("sjis", Charset::ShiftJis),
    ("s-jis", Charset::ShiftJis),
    ("x-sjis", Charset::ShiftJis),
    ("windows-31j", Charset::ShiftJis),
    ("cswindows31j", Charset::ShiftJis),
    ("cp932", Charset::ShiftJis),
    ("ms932", Charset::ShiftJis),
    ("x-ms-cp932", Charset::ShiftJis),
    ("windows-932", Charset::ShiftJis),
    ("ms_kanji", Charset::ShiftJis),
    ("csshiftjis", Charset::ShiftJis),
    ("windows-1252", Charset::Windows1252),
    ("cp1252", Charset::Windows1252),
    ("x-cp1252", Charset::Windows1252),
    // WHATWG decodes ASCII labels as windows-1252: a body declared ASCII
    // that nevertheless holds high bytes is far more likely CP1252 than
    // anything else, and 1252 agrees with ASCII on 00–7F.
    ("us-ascii", Charset::Windows1252),
    ("ascii", Charset::Windows1252),
    ("iso-8859-1", Charset::Iso8859_1),
    ("iso8859-1", Charset::Iso8859_1),
    ("iso_8859-1", Charset::Iso8859_1),
    ("iso88591", Charset::Iso8859_1),
    ("iso_8859-1:1987", Charset::Iso8859_1),
    ("iso-ir-100", Charset::Iso8859_1),
    ("latin1", Charset::Iso8859_1),
    ("latin-1", Charset::Iso8859_1),
    ("l1", Charset::Iso8859_1),
    ("cp819", Charset::Iso8859_1),
    ("ibm819", Charset::Iso8859_1),
    ("csisolatin1", Charset::Iso8859_1),
    ("utf-16", Charset::Utf16),
    ("utf16", Charset::Utf16),
    ("utf-16le", Charset::Utf16),
    ("utf16le", Charset::Utf16),
    ("unicode", Charset::Utf16),
    ("unicodefeff", Charset::Utf16),
    ("csunicode", Charset::Utf16),
    ("ucs-2", Charset::Utf16),
    ("iso-10646-ucs-2", Charset::Utf16),
    ("utf-16be", Charset::Utf16Be),
    ("utf16be", Charset::Utf16Be),
    ("unicodefffe", Charset::Utf16Be),
];

impl Charset {
    /// The stable name of this charset: `"utf-8"`, `"shift_jis"`,
    /// `"windows-1252"`, `"iso-8859-1"`, `"utf-16"` or `"utf-16be"`.
    ///
    /// It is also the serde form and is accepted by
    /// [`from_label`](Self::from_label).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::ShiftJis => "shift_jis",
            Self::Windows1252 => "windows-1252",
            Self::Iso8859_1 => "iso-8859-1",
            Self::Utf16 => "utf-16",
            Self::Utf16Be => "utf-16be",
        }
    }

    /// The charset a label names, or `None` for a label not supported.
    ///
    /// Case-insensitive; surrounding ASCII whitespace is ignored. Accepts
    /// among others `UTF-8`, `utf8`, `Shift_JIS`, `Windows-31J`, `cp932`,
    /// `MS932`, `x-sjis`, `sjis`, `windows-1252`, `cp1252`, `ISO-8859-1`,
    /// `latin1`, `UTF-16`, `UTF-16LE` and `UTF-16BE`. Note the deliberate
    /// mappings: the Latin-1 labels give [`Iso8859_1`](Self::Iso8859_1) (not
    /// windows-1252 as in browsers), `us-ascii` gives
    /// [`Windows1252`](Self::Windows1252), `utf-16le` gives
    /// [`Utf16`](Self::Utf16).
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        let label = label.trim_matches(|c: char| c.is_ascii_whitespace());
        LABELS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(label))
            .map(|&(_, charset)| charset)
    }

    /// The charset named by the `charset` parameter of a `Content-Type`
    /// header value, e.g. `text/tab-separated-values; charset="Shift_JIS"`.
    ///
    /// `None` when there is no `charset` parameter or its value is not a
    /// label [`from_label`](Self::from_label) knows; the caller then picks
    /// its default (usually UTF-8, or what the provider documents).
    #[must_use]
    pub fn from_content_type(value: &str) -> Option<Self> {
        // The media type comes first; parameters follow, each after a `;`.
        value.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("charset") {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            // The first charset parameter decides, even if unknown: a second
            // one would be malformed, not a fallback.
            Some(Self::from_label(value))
        })?
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let cases = [
            ("Shift_JIS", Charset::ShiftJis),
            ("Windows-31J", Charset::ShiftJis),
            ("cp932", Charset::ShiftJis),
            ("MS932", Charset::ShiftJis),
            ("x-sjis", Charset::ShiftJis),
            ("sjis", Charset::ShiftJis),
            ("windows-1252", Charset::Windows1252),
            ("CP1252", Charset::Windows1252),
            ("ISO-8859-1", Charset::Iso8859_1),
            ("latin1", Charset::Iso8859_1),
            ("UTF-16", Charset::Utf16),
            ("UTF-16LE", Charset::Utf16),
            ("UTF-16BE", Charset::Utf16Be),
            ("utf8", Charset::Utf8),
            (" UTF-8 ", Charset::Utf8),
        ];
        for (label, charset) in cases {
            assert_eq!(Charset::from_label(label), Some(charset), "{label}");
        }
        assert_eq!(Charset::from_label("euc-jp"), None);
        assert_eq!(Charset::from_label(""), None);
        for &(_, charset) in LABELS {
            assert_eq!(Charset::from_label(charset.as_str()), Some(charset));
            assert_eq!(charset.to_string(), charset.as_str());
        }
    }

    #[test]
    fn content_type() {
        let ct = Charset::from_content_type;
        assert_eq!(
            ct("text/tab-separated-values; charset=Shift_JIS"),
            Some(Charset::ShiftJis)
        );
        assert_eq!(
            ct("text/csv;CHARSET=\"windows-1252\""),
            Some(Charset::Windows1252)
        );
        assert_eq!(
            ct("text/plain; format=flowed; charset = utf-16le"),
            Some(Charset::Utf16)
        );
        assert_eq!(ct("text/plain"), None);
        assert_eq!(ct("text/plain; charset=klingon"), None);
        assert_eq!(ct("charset=utf-8"), None); // no media type
        assert_eq!(ct(""), None);
    }

    #[test]
    fn serde_uses_the_stable_names() {
        for &(_, charset) in LABELS {
            let json = serde_json::to_string(&charset).unwrap();
            assert_eq!(json, format!("\"{}\"", charset.as_str()));
            let back: Charset = serde_json::from_str(&json).unwrap();
            assert_eq!(back, charset);
        }
    }
}
