//! The one error type of the integrity layer.

use serde::Serialize;

/// Where in a gzip member the input ended too early.
///
/// Carried by [`IntegrityError::Truncated`] so a host can tell a download cut
/// inside the compressed data from one cut in the 8-byte trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GzipPart {
    /// The member header (magic, flags, optional name/comment/extra fields).
    Header,
    /// The deflate-compressed data.
    Body,
    /// The CRC-32 and ISIZE trailer.
    Trailer,
}

crate::json_fields::deserialize_names! {
    GzipPart;
    "header" => Header,
    "body" => Body,
    "trailer" => Trailer,
}

impl core::fmt::Display for GzipPart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Body => "compressed data",
            Self::Trailer => "trailer",
        })
    }
}

/// Why a download failed verification or decoding.
///
/// Every variant means the bytes cannot be trusted; none of them is a bug in
/// the host. The message says what happened and what to do; [`kind`](Self::kind)
/// gives a stable snake_case code for programs (it is also the `kind` tag of
/// the serde form, e.g. `{"kind":"crc_mismatch","expected":1,"actual":2}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrityError {
    /// The data does not start with the gzip magic bytes `1f 8b`.
    ///
    /// Returned when gzip was required (a [`Gunzip`](super::Gunzip) or a
    /// [`Decoder`](super::Decoder) in [`Compression::Gzip`](super::Compression::Gzip)
    /// mode) but the body is something else, often an error page or a plain
    /// report served under a gzip label.
    #[error(
        "the data is not gzip (it does not start with 1f 8b); \
         decode it as plain data or check what the server actually sent"
    )]
    NotGzip,

    /// A gzip member header is malformed (over-long name or comment field,
    /// or a header CRC that does not match).
    #[error(
        "the gzip header is malformed: {detail}; \
         the download was corrupted; discard the data and download again"
    )]
    BadHeader {
        /// What exactly is wrong with the header.
        detail: String,
    },

    /// The gzip header names a compression method other than deflate (8).
    #[error(
        "the gzip member uses compression method {method}, but only deflate (8) exists; \
         the download was corrupted; discard the data and download again"
    )]
    UnsupportedMethod {
        /// The CM byte found in the header.
        method: u8,
    },

    /// The gzip header sets flag bits that RFC 1952 reserves.
    #[error(
        "the gzip header sets reserved flag bits ({flags:#04x}); \
         the download was corrupted; discard the data and download again"
    )]
    ReservedFlags {
        /// The whole FLG byte.
        flags: u8,
    },

    /// The deflate data cannot be decoded.
    #[error(
        "the compressed data is corrupt ({detail}); \
         the download was corrupted; discard the data and download again"
    )]
    Corrupt {
        /// The inflate status that stopped decoding.
        detail: String,
    },

    /// The input ended in the middle of a gzip member.
    #[error(
        "the gzip data ended inside the member {part}; \
         the download was truncated; discard the data and download again"
    )]
    Truncated {
        /// The part of the member that was cut.
        part: GzipPart,
    },

    /// The CRC-32 of the decoded bytes differs from the one in the member trailer.
    #[error(
        "the decoded data fails its CRC-32 check (trailer says {expected:#010x}, \
         data gives {actual:#010x}); the download was corrupted; discard the data and download again"
    )]
    CrcMismatch {
        /// CRC-32 stored in the trailer.
        expected: u32,
        /// CRC-32 of the bytes actually decoded.
        actual: u32,
    },

    /// The decoded length (mod 2^32) differs from ISIZE in the member trailer.
    #[error(
        "the decoded data has the wrong length (trailer says {expected} mod 2^32, \
         data gives {actual}); the download was corrupted; discard the data and download again"
    )]
    SizeMismatch {
        /// ISIZE stored in the trailer.
        expected: u32,
        /// Decoded length of the member mod 2^32.
        actual: u32,
    },

    /// Bytes after the last gzip member are neither another member nor zero padding.
    #[error(
        "unexpected bytes follow the gzip data at offset {offset}; \
         the download was corrupted or mixed with other data; discard it and download again"
    )]
    TrailingGarbage {
        /// Offset of the first unexpected byte in the compressed input.
        offset: u64,
    },

    /// More raw (compressed) bytes arrived than [`Limits::max_compressed_bytes`](super::Limits::max_compressed_bytes) allows.
    #[error(
        "the download is larger than the limit of {limit} bytes; \
         raise Limits::max_compressed_bytes if the report is expected to be this large"
    )]
    CompressedTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },

    /// Decoding produced more bytes than [`Limits::max_decompressed_bytes`](super::Limits::max_decompressed_bytes) allows.
    #[error(
        "the decoded report is larger than the limit of {limit} bytes (possibly a gzip bomb); \
         raise Limits::max_decompressed_bytes if the report is expected to be this large"
    )]
    DecompressedTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },

    /// The gzip body inflates more than [`Limits::max_ratio`](super::Limits::max_ratio)
    /// times its compressed size (past the grace bytes): a gzip bomb.
    #[error(
        "the gzip body inflates {ratio} times its compressed size (limit {limit}; possibly a gzip bomb); \
         raise Limits::max_ratio if such a report is expected"
    )]
    RatioExceeded {
        /// The ratio reached (decoded bytes per compressed byte).
        ratio: u64,
        /// [`Limits::max_ratio`](super::Limits::max_ratio).
        limit: u32,
    },

    /// The MD5 of the raw bytes differs from the expected digest.
    #[error(
        "the download's MD5 is {actual} but {expected} was expected; \
         the download was corrupted or truncated; discard the data and download again"
    )]
    Md5Mismatch {
        /// Expected digest, lowercase hex.
        expected: String,
        /// Digest of the bytes received, lowercase hex.
        actual: String,
    },

    /// The provider always publishes the body's MD5 (MWS's `Content-MD5`)
    /// but this answer came without one, so the bytes cannot be verified.
    #[error(
        "the download has no Content-MD5 header, so its bytes cannot be verified; \
         download it again, or accept unverified bodies in the report spec"
    )]
    MissingContentMd5,

    /// A string given as an MD5 digest is neither 32 hex digits nor 24 base64 characters.
    #[error(
        "not an MD5 digest ({detail}); \
         pass 32 hexadecimal digits or 24 base64 characters (as in Content-MD5)"
    )]
    InvalidMd5 {
        /// What was wrong, quoting at most the start of the input.
        detail: String,
    },
}

crate::json_fields::deserialize_tagged! {
    IntegrityError, tag = "kind", fields = Verbatim;
    "not_gzip" => NotGzip,
    "bad_header" => BadHeader { detail },
    "unsupported_method" => UnsupportedMethod { method },
    "reserved_flags" => ReservedFlags { flags },
    "corrupt" => Corrupt { detail },
    "truncated" => Truncated { part },
    "crc_mismatch" => CrcMismatch { expected, actual },
    "size_mismatch" => SizeMismatch { expected, actual },
    "trailing_garbage" => TrailingGarbage { offset },
    "compressed_too_large" => CompressedTooLarge { limit },
    "decompressed_too_large" => DecompressedTooLarge { limit },
    "ratio_exceeded" => RatioExceeded { ratio, limit },
    "md5_mismatch" => Md5Mismatch { expected, actual },
    "missing_content_md5" => MissingContentMd5,
    "invalid_md5" => InvalidMd5 { detail },
}

impl IntegrityError {
    /// Returns a stable snake_case code for this error, for programs and JS hosts.
    ///
    /// The code equals the `kind` tag of the serde form and never changes for
    /// an existing variant.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotGzip => "not_gzip",
            Self::BadHeader { .. } => "bad_header",
            Self::UnsupportedMethod { .. } => "unsupported_method",
            Self::ReservedFlags { .. } => "reserved_flags",
            Self::Corrupt { .. } => "corrupt",
            Self::Truncated { .. } => "truncated",
            Self::CrcMismatch { .. } => "crc_mismatch",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::TrailingGarbage { .. } => "trailing_garbage",
            Self::CompressedTooLarge { .. } => "compressed_too_large",
            Self::DecompressedTooLarge { .. } => "decompressed_too_large",
            Self::RatioExceeded { .. } => "ratio_exceeded",
            Self::Md5Mismatch { .. } => "md5_mismatch",
            Self::InvalidMd5 { .. } => "invalid_md5",
            Self::MissingContentMd5 => "missing_content_md5",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_serde_tag() {
        let all = [
            IntegrityError::NotGzip,
            IntegrityError::BadHeader { detail: "x".into() },
            IntegrityError::UnsupportedMethod { method: 7 },
            IntegrityError::ReservedFlags { flags: 0xe0 },
            IntegrityError::Corrupt { detail: "x".into() },
            IntegrityError::Truncated {
                part: GzipPart::Trailer,
            },
            IntegrityError::CrcMismatch {
                expected: 1,
                actual: 2,
            },
            IntegrityError::SizeMismatch {
                expected: 1,
                actual: 2,
            },
            IntegrityError::TrailingGarbage { offset: 3 },
            IntegrityError::CompressedTooLarge { limit: 1 },
            IntegrityError::DecompressedTooLarge { limit: 1 },
            IntegrityError::RatioExceeded { ratio: 2, limit: 1 },
            IntegrityError::Md5Mismatch {
                expected: "a".into(),
                actual: "b".into(),
            },
            IntegrityError::InvalidMd5 { detail: "x".into() },
            IntegrityError::MissingContentMd5,
        ];
        for e in all {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], e.kind());
            let back: IntegrityError = serde_json::from_value(v).unwrap();
            assert_eq!(back, e);
            assert!(e.to_string().contains(';'), "{e}");
        }
    }
}
