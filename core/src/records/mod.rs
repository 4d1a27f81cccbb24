//! Record splitting: turning a decoded report body into records, streaming.
//!
//! Reports arrive as one JSON array (Amazon's JSON reports), or as TSV/CSV
//! flat files. The splitters here take the decoded bytes in chunks split
//! anywhere and hand out each record's exact bytes as soon as it is
//! complete, with memory bounded by the largest record:
//!
//! ```text
//!  decoded chunks ──► JsonArraySplitter ──► item bytes ──► parse_item ──► serde_json::Value
//!                 └─► DelimitedSplitter ──► row bytes  ──► fields     ──► field bytes
//!  RowCounter = either of them (or nothing, for opaque formats) + a count
//! ```
//!
//! The splitters frame records; they do not validate them (see
//! [`JsonArraySplitter`]). Errors are [`RecordError`]s.
//!
//! ```
//! use reportflow::records::{parse_item, JsonArraySplitter};
//!
//! let mut split = JsonArraySplitter::new();
//! let mut items = Vec::new();
//! for chunk in [&b"[{\"orderId\":12345678901234567"[..], b"89},\n {\"orderId\":7}]"] {
//!     split.push(chunk, &mut |item: &[u8]| items.push(item.to_vec()))?;
//! }
//! assert_eq!(split.finish()?, 2);
//! let mut ids = Vec::new();
//! for item in &items {
//!     ids.push(parse_item(item)?["orderId"].as_u64());
//! }
//! assert_eq!(ids, [Some(1234567890123456789), Some(7)]);
//! # Ok::<(), reportflow::records::RecordError>(())
//! ```

mod counter;
mod delimited;
mod error;
mod json;

#[cfg(test)]
mod tests;

pub use counter::{RecordFormat, RowCounter};
pub use delimited::{fields, DelimitedSplitter, Fields};
pub use error::RecordError;
pub use json::{parse_item, parse_item_as, JsonArraySplitter};
