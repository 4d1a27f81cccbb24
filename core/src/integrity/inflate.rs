//! The raw-deflate (RFC 1951) backend behind [`Gunzip`](super::Gunzip).
//!
//! Two implementations of one small contract, chosen at build time:
//!
//! * **zlib-rs** (through `flate2`'s safe `Decompress`), the default on
//!   every target: about 1.25× miniz_oxide's throughput natively and 1.5×
//!   in wasm on the benchmark machine (README, "Performance"), for 17 KB
//!   more gzip in the wasm module. It keeps its own 32 KiB window.
//! * **miniz_oxide** with the feature `miniz-inflate`, which the tests and
//!   the bench use to cover and compare that backend.
//!
//! Either way the caller owns the output buffer (history plus fresh output,
//! non-wrapping, see `gzip.rs`), gzip framing, CRC-32, ISIZE and limits stay
//! in `Gunzip`, and the memory per decoder is fixed at construction.

/// How an [`Inflater::inflate`] call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// The deflate stream's final block ended.
    Done,
    /// More input (or output room) is needed to go on.
    More,
}

#[cfg(not(feature = "miniz-inflate"))]
pub(super) use zlib_rs::Inflater;

#[cfg(feature = "miniz-inflate")]
pub(super) use miniz::Inflater;

#[cfg(not(feature = "miniz-inflate"))]
mod zlib_rs {
    use flate2::{Decompress, FlushDecompress, Status};

    use super::Flow;

    /// zlib-rs inflate state (raw deflate, no zlib header).
    pub(in crate::integrity) struct Inflater(Decompress);

    impl Default for Inflater {
        fn default() -> Self {
            Self(Decompress::new(false))
        }
    }

    impl Inflater {
        /// Starts a new deflate stream (the next gzip member).
        pub(in crate::integrity) fn reset(&mut self) {
            self.0.reset(false);
        }

        /// Inflates from `input` into `buf[write..]` (`buf[..write]` is the
        /// history the caller keeps). Returns the flow, bytes consumed and
        /// bytes produced, or what was wrong with the data.
        pub(in crate::integrity) fn inflate(
            &mut self,
            input: &[u8],
            buf: &mut [u8],
            write: usize,
        ) -> Result<(Flow, usize, usize), String> {
            let out = buf.get_mut(write..).unwrap_or_default();
            let (in0, out0) = (self.0.total_in(), self.0.total_out());
            // zlib-rs's message is not the damage's own: when its fast
            // path meets the damage, the next turn of its loop replaces
            // the cause ("invalid distance too far back") with "repeated
            // call with bad state", so the text would depend on how the
            // body was chunked, and a restored job would fail unlike the
            // original. Say what both backends can say alike.
            let status = self
                .0
                .decompress(input, out, FlushDecompress::None)
                .map_err(|_| "invalid deflate data".to_owned())?;
            let consumed = usize::try_from(self.0.total_in().saturating_sub(in0)).unwrap_or(0);
            let produced = usize::try_from(self.0.total_out().saturating_sub(out0)).unwrap_or(0);
            let flow = match status {
                Status::StreamEnd => Flow::Done,
                Status::Ok | Status::BufError => Flow::More,
            };
            Ok((flow, consumed, produced))
        }
    }
}

#[cfg(feature = "miniz-inflate")]
mod miniz {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;

    use super::Flow;

    /// miniz_oxide's low-level decompressor, in non-wrapping mode (its
    /// fastest path), reading history from the caller's buffer.
    #[derive(Default)]
    pub(in crate::integrity) struct Inflater(Box<DecompressorOxide>);

    impl Inflater {
        /// Starts a new deflate stream (the next gzip member).
        pub(in crate::integrity) fn reset(&mut self) {
            self.0.init();
        }

        /// Inflates from `input` into `buf[write..]` (`buf[..write]` is the
        /// history deflate may refer back to). Returns the flow, bytes
        /// consumed and bytes produced, or what was wrong with the data.
        pub(in crate::integrity) fn inflate(
            &mut self,
            input: &[u8],
            buf: &mut [u8],
            write: usize,
        ) -> Result<(Flow, usize, usize), String> {
            let flags = inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
                | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
            let (status, consumed, produced) = decompress(&mut self.0, input, buf, write, flags);
            match status {
                TINFLStatus::Done => Ok((Flow::Done, consumed, produced)),
                TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => {
                    Ok((Flow::More, consumed, produced))
                }
                TINFLStatus::Failed => Err("invalid deflate data".to_owned()),
                other => Err(format!("inflate stopped with status {other:?}")),
            }
        }
    }
}
