//! Streaming framing of one top-level JSON array into its items.

use serde::de::DeserializeOwned;

use super::RecordError;
use crate::sticky::StickyError;

const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Matching a leading UTF-8 byte-order mark; the number is bytes matched.
    Bom(u8),
    /// Before the opening `[`.
    Start,
    /// After `[`: an item or `]`.
    First,
    /// After `,`: an item.
    Next,
    /// Inside an item.
    Item,
    /// After an item: `,` or `]`.
    After,
    /// After the closing `]`: whitespace only.
    Done,
}

/// Splits the bytes of one top-level JSON array into its items, streaming.
///
/// Feed the body in chunks split anywhere (inside strings, escapes or
/// multi-byte UTF-8 characters) with [`push`](Self::push); each item's exact
/// bytes, without surrounding whitespace, reach the callback as soon as the
/// item is complete. Call [`finish`](Self::finish) at the end of the data
/// for the item count. A leading UTF-8 byte-order mark is skipped; `[]` has
/// zero items.
///
/// The splitter *frames* items; it does not validate them. It tracks
/// strings, escapes and nesting depth (a counter, no recursion) well enough
/// to find where each item ends and checks the array's own punctuation, but
/// an item such as `{"a":]` is passed on as-is: validate with
/// [`parse_item`]. Memory is bounded by the largest item
/// ([`with_max_item_bytes`](Self::with_max_item_bytes)); items that lie
/// within one chunk are handed out without copying.
///
/// After the first error every call returns that error again.
#[derive(Debug, Clone)]
pub struct JsonArraySplitter {
    max_item_bytes: usize,
    max_depth: u32,
    state: State,
    depth: u32,
    in_string: bool,
    escape: bool,
    /// The current item is a bare scalar (number, literal) ending at a delimiter.
    scalar: bool,
    /// Start of the current item carried over from earlier chunks.
    item: Vec<u8>,
    items: u64,
    /// Bytes consumed before the current chunk.
    offset: u64,
    failed: StickyError<RecordError>,
}

impl Default for JsonArraySplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonArraySplitter {
    /// Default for [`with_max_item_bytes`](Self::with_max_item_bytes): 16 MiB.
    pub const DEFAULT_MAX_ITEM_BYTES: usize = 16 << 20;
    /// Default for [`with_max_depth`](Self::with_max_depth): 128, the depth
    /// `serde_json` itself accepts.
    pub const DEFAULT_MAX_DEPTH: u32 = 128;

    /// Creates a splitter with the default limits.
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_item_bytes: Self::DEFAULT_MAX_ITEM_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            state: State::Bom(0),
            depth: 0,
            in_string: false,
            escape: false,
            scalar: false,
            item: Vec::new(),
            items: 0,
            offset: 0,
            failed: StickyError::default(),
        }
    }

    /// Sets the largest item accepted, in bytes; larger items fail with
    /// [`RecordError::ItemTooLarge`]. This is also the most the splitter buffers.
    #[must_use]
    pub fn with_max_item_bytes(mut self, max_item_bytes: usize) -> Self {
        self.max_item_bytes = max_item_bytes;
        self
    }

    /// Sets the deepest nesting of objects and arrays inside one item (the
    /// item's own brackets count as 1); deeper items fail with
    /// [`RecordError::TooDeep`].
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: u32) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Items completed so far.
    #[must_use]
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Feeds the next chunk, calling `on_item` with each item it completes.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] about the array's framing or the limits.
    pub fn push<F: FnMut(&[u8])>(
        &mut self,
        chunk: &[u8],
        on_item: &mut F,
    ) -> Result<(), RecordError> {
        self.failed.check()?;
        let r = self.push_inner(chunk, on_item);
        if r.is_ok() {
            self.offset = self.offset.saturating_add(chunk.len() as u64);
        }
        self.failed.record(r)
    }

    /// Ends the data and returns the number of items.
    ///
    /// # Errors
    ///
    /// [`RecordError::Unterminated`] if the closing `]` is missing,
    /// [`RecordError::NotArray`] if there was no array at all (also for empty
    /// data), or the error that stopped splitting earlier.
    pub fn finish(self) -> Result<u64, RecordError> {
        self.failed.into_result()?;
        match self.state {
            State::Done => Ok(self.items),
            State::Bom(_) | State::Start => Err(RecordError::NotArray {
                offset: self.offset,
                found: "end of data".into(),
            }),
            State::First | State::Next | State::Item | State::After => {
                Err(RecordError::Unterminated { items: self.items })
            }
        }
    }

    fn at(&self, i: usize) -> u64 {
        self.offset.saturating_add(i as u64)
    }

    fn push_inner<F: FnMut(&[u8])>(
        &mut self,
        chunk: &[u8],
        on_item: &mut F,
    ) -> Result<(), RecordError> {
        let mut i = 0usize;
        // Where the current item starts in this chunk (0 if it began earlier).
        let mut item_start = 0usize;
        while let Some(&b) = chunk.get(i) {
            match self.state {
                State::Bom(got) => {
                    if BOM.get(usize::from(got)) == Some(&b) {
                        i = i.saturating_add(1);
                        self.state = if got >= 2 {
                            State::Start
                        } else {
                            State::Bom(got.saturating_add(1))
                        };
                    } else if got == 0 {
                        self.state = State::Start;
                    } else {
                        return Err(RecordError::NotArray {
                            offset: self.at(i),
                            found: "an incomplete byte-order mark".into(),
                        });
                    }
                }
                State::Start => {
                    if b == b'[' {
                        self.state = State::First;
                    } else if !is_ws(b) {
                        return Err(RecordError::NotArray {
                            offset: self.at(i),
                            found: describe(b),
                        });
                    }
                    i = i.saturating_add(1);
                }
                State::First | State::Next => {
                    if is_ws(b) {
                        i = i.saturating_add(1);
                        continue;
                    }
                    if b == b']' && self.state == State::First {
                        self.state = State::Done;
                        i = i.saturating_add(1);
                        continue;
                    }
                    if matches!(b, b']' | b',' | b'}' | b':') {
                        return Err(RecordError::Malformed {
                            offset: self.at(i),
                            detail: format!("expected an item, found {}", describe(b)),
                        });
                    }
                    item_start = i;
                    self.begin_item(b)?;
                    i = i.saturating_add(1);
                }
                State::Item => match self.scan(chunk, i)? {
                    Some(end) => {
                        let piece = chunk.get(item_start..end).unwrap_or_default();
                        let size = self.item.len().saturating_add(piece.len());
                        if size > self.max_item_bytes {
                            return Err(self.too_large());
                        }
                        if self.item.is_empty() {
                            on_item(piece);
                        } else {
                            self.item.extend_from_slice(piece);
                            on_item(&self.item);
                            self.item.clear();
                        }
                        self.items = self.items.saturating_add(1);
                        self.state = State::After;
                        i = end;
                    }
                    None => i = chunk.len(),
                },
                State::After => {
                    match b {
                        b',' => self.state = State::Next,
                        b']' => self.state = State::Done,
                        _ if is_ws(b) => {}
                        _ => {
                            return Err(RecordError::Malformed {
                                offset: self.at(i),
                                detail: format!(
                                    "expected ',' or ']' after an item, found {}",
                                    describe(b)
                                ),
                            })
                        }
                    }
                    i = i.saturating_add(1);
                }
                State::Done => {
                    if !is_ws(b) {
                        return Err(RecordError::TrailingGarbage { offset: self.at(i) });
                    }
                    i = i.saturating_add(1);
                }
            }
        }
        if self.state == State::Item {
            // The item continues in the next chunk: keep what we have.
            let piece = chunk.get(item_start..).unwrap_or_default();
            if self.item.len().saturating_add(piece.len()) > self.max_item_bytes {
                return Err(self.too_large());
            }
            self.item.extend_from_slice(piece);
        }
        Ok(())
    }

    fn too_large(&self) -> RecordError {
        RecordError::ItemTooLarge {
            limit: self.max_item_bytes as u64,
        }
    }

    fn begin_item(&mut self, first: u8) -> Result<(), RecordError> {
        self.state = State::Item;
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        self.scalar = false;
        self.item.clear();
        match first {
            b'{' | b'[' => {
                self.depth = 1;
                if self.max_depth == 0 {
                    return Err(RecordError::TooDeep {
                        limit: self.max_depth,
                    });
                }
            }
            b'"' => self.in_string = true,
            _ => self.scalar = true,
        }
        Ok(())
    }

    /// Scans `chunk[from..]` for the end of the current item; returns the
    /// index just past it, or `None` if the item continues in the next chunk.
    fn scan(&mut self, chunk: &[u8], from: usize) -> Result<Option<usize>, RecordError> {
        let mut j = from;
        while let Some(rest) = chunk.get(j..) {
            if rest.is_empty() {
                break;
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    j = j.saturating_add(1);
                    continue;
                }
                let Some(k) = rest.iter().position(|&b| b == b'"' || b == b'\\') else {
                    return Ok(None);
                };
                j = j.saturating_add(k).saturating_add(1);
                if rest.get(k) == Some(&b'\\') {
                    self.escape = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Ok(Some(j));
                    }
                }
                continue;
            }
            if self.scalar {
                let Some(k) = rest.iter().position(|&b| {
                    is_ws(b) || matches!(b, b',' | b']' | b'"' | b'{' | b'[' | b'}' | b':')
                }) else {
                    return Ok(None);
                };
                let end = j.saturating_add(k);
                return match rest.get(k) {
                    Some(&b) if is_ws(b) || b == b',' || b == b']' => Ok(Some(end)),
                    Some(&b) => Err(RecordError::Malformed {
                        offset: self.at(end),
                        detail: format!("unexpected {} inside a bare value", describe(b)),
                    }),
                    None => Ok(None),
                };
            }
            let Some(k) = rest
                .iter()
                .position(|&b| matches!(b, b'"' | b'{' | b'[' | b'}' | b']'))
            else {
                return Ok(None);
            };
            j = j.saturating_add(k).saturating_add(1);
            match rest.get(k) {
                Some(b'"') => self.in_string = true,
                Some(b'{' | b'[') => {
                    self.depth = self.depth.saturating_add(1);
                    if self.depth > self.max_depth {
                        return Err(RecordError::TooDeep {
                            limit: self.max_depth,
                        });
                    }
                }
                _ => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Ok(Some(j));
                    }
                }
            }
        }
        Ok(None)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", char::from(b))
    } else {
        format!("byte {b:#04x}")
    }
}

/// Parses one item's bytes (as given by [`JsonArraySplitter`]) into a JSON value.
///
/// Integers stay exact: `serde_json` keeps any integer that fits `u64` or
/// `i64` as an integer (a 19-digit order id survives), and only larger ones
/// or those with a fraction/exponent become `f64`.
///
/// # Errors
///
/// [`RecordError::InvalidJson`] when the bytes are not one valid JSON value
/// (including nesting deeper than 128 levels).
pub fn parse_item(bytes: &[u8]) -> Result<serde_json::Value, RecordError> {
    parse_item_as(bytes)
}

/// Parses one item's bytes straight into `T` (a record struct, a map, ...).
///
/// # Errors
///
/// [`RecordError::InvalidJson`] when the bytes are not valid JSON or do not
/// fit `T`.
pub fn parse_item_as<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RecordError> {
    serde_json::from_slice(bytes).map_err(|e| RecordError::InvalidJson {
        detail: e.to_string(),
    })
}
