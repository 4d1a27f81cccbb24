//! Streaming rows of delimited text (TSV, CSV) and splitting rows into fields.

use std::borrow::Cow;

use super::RecordError;
use crate::sticky::StickyError;

/// Splits delimited text (TSV by default, CSV as an option) into rows, streaming.
///
/// Feed the body in chunks split anywhere with [`push`](Self::push); each
/// row's bytes, without the line terminator (LF or CRLF), reach the callback
/// once its terminator arrives. [`finish`](Self::finish) delivers a last
/// row that lacks a terminator and returns the row count. Empty lines are
/// skipped and not counted; a header line counts as a row.
///
/// Quoting is tolerant, to survive marketplace flat files: a field that
/// *starts* with `"` may contain delimiters and line breaks up to its closing
/// quote (`""` inside it is a literal quote), while a quote anywhere else in
/// a field (`12" tablet`) is ordinary data. An unclosed quote therefore joins
/// the following lines into one row until the row exceeds
/// [`with_max_row_bytes`](Self::with_max_row_bytes) or the data ends
/// ([`RecordError::UnterminatedQuote`]). Memory is bounded by the largest
/// row; rows that lie within one chunk are handed out without copying.
///
/// Bytes are not decoded: use [`fields`] to split a row, and convert the
/// fields from the report's encoding (UTF-8, or for some marketplaces a
/// legacy code page) yourself. After the first error every call returns that
/// error again.
#[derive(Debug, Clone)]
pub struct DelimitedSplitter {
    delimiter: u8,
    max_row_bytes: usize,
    /// Start of the current row carried over from earlier chunks.
    row: Vec<u8>,
    /// The next byte starts a field.
    field_start: bool,
    /// The current field started with a quote.
    quoted: bool,
    in_quotes: bool,
    rows: u64,
    failed: StickyError<RecordError>,
}

impl Default for DelimitedSplitter {
    fn default() -> Self {
        Self::tsv()
    }
}

impl DelimitedSplitter {
    /// Default for [`with_max_row_bytes`](Self::with_max_row_bytes): 16 MiB.
    pub const DEFAULT_MAX_ROW_BYTES: usize = 16 << 20;

    /// Creates a splitter for fields separated by `delimiter`.
    #[must_use]
    pub fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            max_row_bytes: Self::DEFAULT_MAX_ROW_BYTES,
            row: Vec::new(),
            field_start: true,
            quoted: false,
            in_quotes: false,
            rows: 0,
            failed: StickyError::default(),
        }
    }

    /// Creates a splitter for tab-separated values.
    #[must_use]
    pub fn tsv() -> Self {
        Self::new(b'\t')
    }

    /// Creates a splitter for comma-separated values.
    #[must_use]
    pub fn csv() -> Self {
        Self::new(b',')
    }

    /// Sets the largest row accepted, in bytes (terminator included); larger
    /// rows fail with [`RecordError::RowTooLarge`]. This is also the most the
    /// splitter buffers.
    #[must_use]
    pub fn with_max_row_bytes(mut self, max_row_bytes: usize) -> Self {
        self.max_row_bytes = max_row_bytes;
        self
    }

    /// The field delimiter.
    #[must_use]
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Rows completed so far.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Feeds the next chunk, calling `on_row` with each row it completes.
    ///
    /// # Errors
    ///
    /// [`RecordError::RowTooLarge`], or the error that stopped splitting earlier.
    pub fn push<F: FnMut(&[u8])>(
        &mut self,
        chunk: &[u8],
        on_row: &mut F,
    ) -> Result<(), RecordError> {
        self.failed.check()?;
        let r = self.push_inner(chunk, on_row);
        self.failed.record(r)
    }

    /// Ends the data: delivers a last row without terminator to `on_row` and
    /// returns the number of rows.
    ///
    /// # Errors
    ///
    /// [`RecordError::UnterminatedQuote`] if the data ended inside a quoted
    /// field, or the error that stopped splitting earlier.
    pub fn finish<F: FnMut(&[u8])>(mut self, on_row: &mut F) -> Result<u64, RecordError> {
        self.failed.check()?;
        if self.in_quotes {
            return Err(RecordError::UnterminatedQuote {
                row: self.rows.saturating_add(1),
            });
        }
        let row = std::mem::take(&mut self.row);
        self.emit(&row, on_row);
        Ok(self.rows)
    }

    fn emit<F: FnMut(&[u8])>(&mut self, row: &[u8], on_row: &mut F) {
        let row = row.strip_suffix(b"\r").unwrap_or(row);
        if !row.is_empty() {
            self.rows = self.rows.saturating_add(1);
            on_row(row);
        }
    }

    fn too_large(&self) -> RecordError {
        RecordError::RowTooLarge {
            limit: self.max_row_bytes as u64,
        }
    }

    fn push_inner<F: FnMut(&[u8])>(
        &mut self,
        chunk: &[u8],
        on_row: &mut F,
    ) -> Result<(), RecordError> {
        let delimiter = self.delimiter;
        let mut i = 0usize;
        let mut row_start = 0usize;
        while let Some(rest) = chunk.get(i..) {
            if rest.is_empty() {
                break;
            }
            if self.in_quotes {
                match rest.iter().position(|&b| b == b'"') {
                    Some(k) => {
                        self.in_quotes = false;
                        i = i.saturating_add(k).saturating_add(1);
                    }
                    None => i = chunk.len(),
                }
                continue;
            }
            let Some(k) = rest
                .iter()
                .position(|&b| b == delimiter || b == b'\n' || b == b'"')
            else {
                self.field_start = false;
                i = chunk.len();
                continue;
            };
            let at = i.saturating_add(k);
            let starts_field = k == 0 && self.field_start;
            self.field_start = false;
            match rest.get(k) {
                Some(b'"') if delimiter != b'"' => {
                    // Only a field that began with a quote is quoted; its
                    // later quotes toggle (so `""` reads as a literal quote).
                    if starts_field {
                        self.quoted = true;
                    }
                    self.in_quotes = self.quoted;
                }
                Some(b'\n') => {
                    let piece = chunk.get(row_start..at).unwrap_or_default();
                    if self.row.len().saturating_add(piece.len()) >= self.max_row_bytes {
                        return Err(self.too_large());
                    }
                    if self.row.is_empty() {
                        self.emit(piece, on_row);
                    } else {
                        let mut row = std::mem::take(&mut self.row);
                        row.extend_from_slice(piece);
                        self.emit(&row, on_row);
                        row.clear();
                        self.row = row;
                    }
                    row_start = at.saturating_add(1);
                    self.field_start = true;
                    self.quoted = false;
                }
                _ => {
                    self.field_start = true;
                    self.quoted = false;
                }
            }
            i = at.saturating_add(1);
        }
        let piece = chunk.get(row_start..).unwrap_or_default();
        if self.row.len().saturating_add(piece.len()) >= self.max_row_bytes {
            return Err(self.too_large());
        }
        self.row.extend_from_slice(piece);
        Ok(())
    }
}

/// Splits one row into fields, honouring quotes as [`DelimitedSplitter`] does.
///
/// Yields the fields' bytes: borrowed from `row` when nothing needs
/// unquoting (the common case), owned when a quoted field contains `""` or
/// text outside its quotes. A field that starts with `"` loses its
/// surrounding quotes and has `""` turned into `"`; quotes elsewhere are
/// kept as data. An empty row yields one empty field.
///
/// ```
/// use reportflow::records::fields;
///
/// let row = b"B00X\t\"Mug, large \"\"12oz\"\"\"\t12\" tablet";
/// let f: Vec<_> = fields(row, b'\t').collect();
/// assert_eq!(f[0].as_ref(), b"B00X");
/// assert_eq!(f[1].as_ref(), br#"Mug, large "12oz""#);
/// assert_eq!(f[2].as_ref(), br#"12" tablet"#);
/// ```
#[must_use]
pub fn fields(row: &[u8], delimiter: u8) -> Fields<'_> {
    Fields {
        rest: Some(row),
        delimiter,
    }
}

/// Iterator over the fields of one row; see [`fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: Option<&'a [u8]>,
    delimiter: u8,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Cow<'a, [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let d = self.delimiter;
        let Some(inner) = rest.strip_prefix(b"\"") else {
            return Some(match rest.iter().position(|&b| b == d) {
                Some(k) => {
                    let (field, tail) = rest.split_at(k);
                    self.rest = tail.get(1..);
                    Cow::Borrowed(field)
                }
                None => {
                    self.rest = None;
                    Cow::Borrowed(rest)
                }
            });
        };
        // Fast path: `"text"` directly followed by the delimiter or the end.
        if let Some(p) = inner.iter().position(|&b| b == b'"') {
            let (text, tail) = inner.split_at(p);
            let after = tail.get(1..).unwrap_or_default();
            match after.first() {
                None => {
                    self.rest = None;
                    return Some(Cow::Borrowed(text));
                }
                Some(&b) if b == d => {
                    self.rest = after.get(1..);
                    return Some(Cow::Borrowed(text));
                }
                _ => {}
            }
        }
        let mut out = Vec::with_capacity(rest.len());
        let mut in_quotes = true;
        let mut j = 0usize;
        while let Some(&b) = inner.get(j) {
            j = j.saturating_add(1);
            if in_quotes {
                if b == b'"' {
                    if inner.get(j) == Some(&b'"') {
                        out.push(b'"');
                        j = j.saturating_add(1);
                    } else {
                        in_quotes = false;
                    }
                } else {
                    out.push(b);
                }
            } else if b == d {
                self.rest = inner.get(j..);
                return Some(Cow::Owned(out));
            } else if b == b'"' {
                in_quotes = true;
            } else {
                out.push(b);
            }
        }
        self.rest = None;
        Some(Cow::Owned(out))
    }
}
