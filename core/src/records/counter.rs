//! One object that counts (and optionally hands out) the records of a download.

use serde::Serialize;

use super::{DelimitedSplitter, JsonArraySplitter, RecordError};

/// The record layout of a report body, as the provider documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordFormat {
    /// One top-level JSON array; each item is a record.
    JsonArray,
    /// Tab-separated rows (the header line counts as a row).
    Tsv,
    /// Comma-separated rows (the header line counts as a row).
    Csv,
    /// No record structure known (XML, PDF, ZIP, ...): nothing is counted.
    #[default]
    Opaque,
}

crate::json_fields::deserialize_names! {
    RecordFormat;
    "json_array" => JsonArray,
    "tsv" => Tsv,
    "csv" => Csv,
    "opaque" => Opaque,
}

#[derive(Debug, Clone)]
enum Inner {
    Json(JsonArraySplitter),
    Delimited(DelimitedSplitter),
    Opaque,
}

/// Counts the records of a decoded report as its bytes stream by.
///
/// A download state machine creates one per attempt from the provider's
/// [`RecordFormat`], feeds every decoded chunk to [`push`](Self::push) (or
/// [`push_with`](Self::push_with) to also receive each record's bytes) and
/// reads the total from [`finish`](Self::finish). Splitting rules are those
/// of [`JsonArraySplitter`] and [`DelimitedSplitter`].
#[derive(Debug, Clone)]
pub struct RowCounter {
    format: RecordFormat,
    inner: Inner,
}

impl RowCounter {
    /// Creates a counter for `format` with default limits.
    #[must_use]
    pub fn new(format: RecordFormat) -> Self {
        let inner = match format {
            RecordFormat::JsonArray => Inner::Json(JsonArraySplitter::new()),
            RecordFormat::Tsv => Inner::Delimited(DelimitedSplitter::tsv()),
            RecordFormat::Csv => Inner::Delimited(DelimitedSplitter::csv()),
            RecordFormat::Opaque => Inner::Opaque,
        };
        Self { format, inner }
    }

    /// Sets the largest record (JSON item or row) accepted, in bytes.
    #[must_use]
    pub fn with_max_record_bytes(mut self, max_record_bytes: usize) -> Self {
        self.inner = match self.inner {
            Inner::Json(s) => Inner::Json(s.with_max_item_bytes(max_record_bytes)),
            Inner::Delimited(s) => Inner::Delimited(s.with_max_row_bytes(max_record_bytes)),
            Inner::Opaque => Inner::Opaque,
        };
        self
    }

    /// The format being counted.
    #[must_use]
    pub fn format(&self) -> RecordFormat {
        self.format
    }

    /// Records completed so far (always 0 for [`RecordFormat::Opaque`]).
    #[must_use]
    pub fn records(&self) -> u64 {
        match &self.inner {
            Inner::Json(s) => s.items(),
            Inner::Delimited(s) => s.rows(),
            Inner::Opaque => 0,
        }
    }

    /// Feeds the next decoded chunk.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] of the underlying splitter.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), RecordError> {
        self.push_with(chunk, &mut |_: &[u8]| {})
    }

    /// Feeds the next decoded chunk, calling `on_record` with each complete record.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] of the underlying splitter.
    pub fn push_with<F: FnMut(&[u8])>(
        &mut self,
        chunk: &[u8],
        on_record: &mut F,
    ) -> Result<(), RecordError> {
        match &mut self.inner {
            Inner::Json(s) => s.push(chunk, on_record),
            Inner::Delimited(s) => s.push(chunk, on_record),
            Inner::Opaque => Ok(()),
        }
    }

    /// Ends the data and returns the record count, or `None` for
    /// [`RecordFormat::Opaque`].
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] of the underlying splitter's `finish`.
    pub fn finish(self) -> Result<Option<u64>, RecordError> {
        self.finish_with(&mut |_: &[u8]| {})
    }

    /// As [`finish`](Self::finish), handing a last unterminated row to `on_record`.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] of the underlying splitter's `finish`.
    pub fn finish_with<F: FnMut(&[u8])>(
        self,
        on_record: &mut F,
    ) -> Result<Option<u64>, RecordError> {
        match self.inner {
            Inner::Json(s) => s.finish().map(Some),
            Inner::Delimited(s) => s.finish(on_record).map(Some),
            Inner::Opaque => Ok(None),
        }
    }
}
