//! The one error type of the record splitters.

use serde::Serialize;

/// Why a report body could not be split into records.
///
/// These errors concern the *content* of a download that already passed its
/// integrity checks: the provider sent something other than the announced
/// format, or a record exceeds a limit. Re-downloading rarely helps; check
/// the report format requested, or raise the limit named in the message.
/// [`kind`](Self::kind) gives a stable snake_case code (also the serde `kind`
/// tag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordError {
    /// The body does not start (after an optional BOM and whitespace) with `[`.
    #[error(
        "the report is not a JSON array (found {found} at byte {offset}); \
         check that the report was requested in a JSON format, or read it as opaque data"
    )]
    NotArray {
        /// Offset of the first significant byte, or of the end of the data.
        offset: u64,
        /// What was found instead, e.g. `'{'` or `end of data`.
        found: String,
    },

    /// The data ended before the array's closing `]`.
    #[error(
        "the JSON array ended after {items} complete items without its closing ']'; \
         the report is cut off: download it again"
    )]
    Unterminated {
        /// Items completed before the data ended.
        items: u64,
    },

    /// Something other than whitespace follows the array's closing `]`.
    #[error(
        "unexpected data after the JSON array's closing ']' at byte {offset}; \
         the report is not a single JSON array: read it as opaque data"
    )]
    TrailingGarbage {
        /// Offset of the first unexpected byte.
        offset: u64,
    },

    /// Bytes between items do not form an array (`[1 2]`, `[1,,2]`, `[1,]`, ...).
    #[error(
        "the JSON array is malformed at byte {offset}: {detail}; \
         the provider sent invalid JSON: report it, or read the report as opaque data"
    )]
    Malformed {
        /// Offset of the offending byte.
        offset: u64,
        /// What was expected there.
        detail: String,
    },

    /// One array item is larger than the configured maximum.
    #[error(
        "a JSON item is larger than {limit} bytes; \
         raise max_item_bytes if the report's records are expected to be this large"
    )]
    ItemTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },

    /// One item nests objects/arrays deeper than the configured maximum.
    #[error(
        "a JSON item nests deeper than {limit} levels; \
         raise max_depth if the report's records are expected to be this deep"
    )]
    TooDeep {
        /// The limit that was exceeded.
        limit: u32,
    },

    /// One delimited row is larger than the configured maximum (often an
    /// unbalanced quote that swallowed the following lines).
    #[error(
        "a row is larger than {limit} bytes (an unclosed quote may have joined many lines); \
         raise max_row_bytes if rows are expected to be this large"
    )]
    RowTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },

    /// The data ended inside a quoted field.
    #[error(
        "the data ended inside a quoted field of row {row}; \
         the report is cut off or has an unbalanced quote: download it again or read it as opaque data"
    )]
    UnterminatedQuote {
        /// 1-based number of the row that was open.
        row: u64,
    },

    /// An item's bytes are not valid JSON.
    #[error("a record is not valid JSON ({detail}); the provider sent invalid JSON: report it")]
    InvalidJson {
        /// The parser's description, with line and column inside the item.
        detail: String,
    },

    /// The report is declared in a charset other than UTF-8, and nothing
    /// here decodes it: this build of reportflow has no decoders of its own
    /// (it was built without the core's `charsets` feature, as the wasm
    /// modules are) and the host lent none, or the host's decoder failed.
    #[error(
        "the report is in {charset}, which neither this build of reportflow (built without \
         the `charsets` feature) nor the host can decode; use a build with charsets, or a \
         host whose decoders know it (the npm package lends TextDecoder in browsers and \
         encoding_rs in Node)"
    )]
    CharsetUnavailable {
        /// The charset's name, e.g. `shift_jis`.
        charset: String,
    },
}

crate::json_fields::deserialize_tagged! {
    RecordError, tag = "kind", fields = Verbatim;
    "not_array" => NotArray { offset, found },
    "unterminated" => Unterminated { items },
    "trailing_garbage" => TrailingGarbage { offset },
    "malformed" => Malformed { offset, detail },
    "item_too_large" => ItemTooLarge { limit },
    "too_deep" => TooDeep { limit },
    "row_too_large" => RowTooLarge { limit },
    "unterminated_quote" => UnterminatedQuote { row },
    "invalid_json" => InvalidJson { detail },
    "charset_unavailable" => CharsetUnavailable { charset },
}

impl RecordError {
    /// Returns a stable snake_case code for this error, for programs and JS hosts.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotArray { .. } => "not_array",
            Self::Unterminated { .. } => "unterminated",
            Self::TrailingGarbage { .. } => "trailing_garbage",
            Self::Malformed { .. } => "malformed",
            Self::ItemTooLarge { .. } => "item_too_large",
            Self::TooDeep { .. } => "too_deep",
            Self::RowTooLarge { .. } => "row_too_large",
            Self::UnterminatedQuote { .. } => "unterminated_quote",
            Self::InvalidJson { .. } => "invalid_json",
            Self::CharsetUnavailable { .. } => "charset_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_serde_tag() {
        let all = [
            RecordError::NotArray {
                offset: 0,
                found: "'{'".into(),
            },
            RecordError::Unterminated { items: 2 },
            RecordError::TrailingGarbage { offset: 9 },
            RecordError::Malformed {
                offset: 1,
                detail: "x".into(),
            },
            RecordError::ItemTooLarge { limit: 5 },
            RecordError::TooDeep { limit: 5 },
            RecordError::RowTooLarge { limit: 5 },
            RecordError::UnterminatedQuote { row: 3 },
            RecordError::InvalidJson { detail: "x".into() },
            RecordError::CharsetUnavailable {
                charset: "shift_jis".into(),
            },
        ];
        for e in all {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], e.kind());
            assert_eq!(serde_json::from_value::<RecordError>(v).unwrap(), e);
            assert!(e.to_string().contains(';'), "{e}");
        }
    }
}
