//! Byte limits that bound a download and its decoded size.

use serde::Serialize;

/// Upper bounds on the bytes a download may carry, as a gzip-bomb defence.
///
/// Checked by [`Gunzip`](super::Gunzip), [`gunzip`](super::gunzip) and
/// [`Decoder`](super::Decoder) while data flows: the first byte past a limit
/// stops decoding with [`IntegrityError::CompressedTooLarge`](super::IntegrityError::CompressedTooLarge)
/// or [`IntegrityError::DecompressedTooLarge`](super::IntegrityError::DecompressedTooLarge),
/// and no byte beyond the limit is ever handed to the caller.
///
/// The defaults (4 GiB raw, 16 GiB decoded) admit any realistic marketplace
/// report; lower them when the host keeps decoded data in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Limits {
    /// Most raw bytes (as received, compressed or not) accepted.
    pub max_compressed_bytes: u64,
    /// Most decoded bytes produced (equal to raw bytes for uncompressed bodies).
    pub max_decompressed_bytes: u64,
    /// Most decoded bytes per compressed byte of a gzip body, checked as it
    /// inflates once [`ratio_grace_bytes`](Self::ratio_grace_bytes) were
    /// decoded (as ZIP members have `ZipLimits::max_ratio`). Deflate cannot
    /// exceed about 1032; real reports stay far below the default, 250.
    pub max_ratio: u32,
    /// Decoded bytes of a gzip body before `max_ratio` applies (a tiny body
    /// may compress extremely well).
    pub ratio_grace_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    Limits, fields = Camel, unknown = Deny, default;
    max_compressed_bytes, max_decompressed_bytes, max_ratio, ratio_grace_bytes
}

impl Limits {
    /// Default for [`max_compressed_bytes`](Self::max_compressed_bytes): 4 GiB.
    pub const DEFAULT_MAX_COMPRESSED_BYTES: u64 = 4 << 30;
    /// Default for [`max_decompressed_bytes`](Self::max_decompressed_bytes): 16 GiB.
    pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 16 << 30;

    /// Default for [`max_ratio`](Self::max_ratio): 250, as ZIP's.
    pub const DEFAULT_MAX_RATIO: u32 = 250;
    /// Default for [`ratio_grace_bytes`](Self::ratio_grace_bytes): 1 MiB.
    pub const DEFAULT_RATIO_GRACE_BYTES: u64 = 1 << 20;

    /// Creates limits of `max_compressed_bytes` raw and `max_decompressed_bytes` decoded bytes.
    #[must_use]
    pub const fn new(max_compressed_bytes: u64, max_decompressed_bytes: u64) -> Self {
        Self {
            max_compressed_bytes,
            max_decompressed_bytes,
            max_ratio: Self::DEFAULT_MAX_RATIO,
            ratio_grace_bytes: Self::DEFAULT_RATIO_GRACE_BYTES,
        }
    }

    /// The same limits with another gzip ratio limit and grace.
    #[must_use]
    pub const fn with_ratio(mut self, max_ratio: u32, grace_bytes: u64) -> Self {
        self.max_ratio = max_ratio;
        self.ratio_grace_bytes = grace_bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(
            Self::DEFAULT_MAX_COMPRESSED_BYTES,
            Self::DEFAULT_MAX_DECOMPRESSED_BYTES,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_fills_missing_fields_with_defaults() {
        let l: Limits = serde_json::from_str(r#"{"maxCompressedBytes":5}"#).unwrap();
        assert_eq!(l, Limits::new(5, Limits::DEFAULT_MAX_DECOMPRESSED_BYTES));
        let s = serde_json::to_string(&Limits::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<Limits>(&s).unwrap(),
            Limits::default()
        );
    }
}
