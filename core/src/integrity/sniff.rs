//! Content detection by magic bytes, whatever the HTTP labels say.

use serde::Serialize;

/// What the first bytes of a body look like.
///
/// Providers label downloads inconsistently (gzip served as
/// `application/octet-stream`, `Content-Encoding: gzip` already undone by a
/// browser's `fetch`), so decisions are made from the bytes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentKind {
    /// Starts with the gzip magic `1f 8b`.
    Gzip,
    /// Starts with a ZIP local file header `PK\x03\x04`, or is an empty
    /// archive (`PK\x05\x06`).
    Zip,
    /// Text whose first non-blank character (after an optional UTF-8 BOM) is
    /// `{` or `[`.
    Json,
    /// Valid UTF-8 without control characters other than tab, CR and LF
    /// (TSV, CSV, XML, plain text).
    Text,
    /// Anything else, including a prefix too short to tell.
    Unknown,
}

crate::json_fields::deserialize_names! {
    ContentKind;
    "gzip" => Gzip,
    "zip" => Zip,
    "json" => Json,
    "text" => Text,
    "unknown" => Unknown,
}

/// Classifies a body by its first bytes.
///
/// Pass at least the first 4 bytes (more makes [`ContentKind::Text`] more
/// reliable; 512 is plenty). A multi-byte UTF-8 character cut at the end of
/// `prefix` does not count against `Text`.
#[must_use]
pub fn sniff(prefix: &[u8]) -> ContentKind {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return ContentKind::Gzip;
    }
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
        return ContentKind::Zip;
    }
    let body = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    let text = match core::str::from_utf8(body) {
        Ok(_) => true,
        // Only an incomplete character at the very end is acceptable.
        Err(e) => e.error_len().is_none(),
    };
    let clean = body
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\r' | b'\n'));
    if !text || !clean || body.is_empty() {
        return ContentKind::Unknown;
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => ContentKind::Json,
        _ => ContentKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), ContentKind::Gzip);
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), ContentKind::Zip);
        assert_eq!(sniff(b"PK\x05\x06\0\0"), ContentKind::Zip);
        assert_eq!(sniff(b"  \n[{\"a\":1}]"), ContentKind::Json);
        assert_eq!(sniff(b"\xef\xbb\xbf{\"a\":1}"), ContentKind::Json);
        assert_eq!(sniff(b"sku\tasin\tqty\r\nA\tB\t1\r\n"), ContentKind::Text);
        assert_eq!(sniff("caf\u{e9}".as_bytes()), ContentKind::Text);
        // A UTF-8 character cut by the prefix end is still text.
        assert_eq!(sniff(&"caf\u{e9}".as_bytes()[..4]), ContentKind::Text);
        assert_eq!(sniff(b"\x00\x01\x02"), ContentKind::Unknown);
        assert_eq!(sniff(b"\xff\xfe"), ContentKind::Unknown);
        assert_eq!(sniff(b""), ContentKind::Unknown);
        assert_eq!(sniff(&[0x1f]), ContentKind::Unknown);
        assert_eq!(sniff(b"PK"), ContentKind::Text);
    }
}
