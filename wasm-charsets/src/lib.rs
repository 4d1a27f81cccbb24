//! `encoding_rs`'s decoders for JavaScript, in a wasm module of their own.
//!
//! The production module of the npm package is built without the core's
//! `charsets` feature (its tables are about 120 KB gzip) and decodes a
//! report in Shift_JIS, windows-1252 or UTF-16 with a decoder the host
//! lends. Browsers lend their `TextDecoder`, which implements the same
//! WHATWG Encoding Standard; Node's does not match it (its ICU-based
//! Shift_JIS differs on control bytes and on malformed input), so the
//! package's Node entries lend these: the very decoders a native build uses.
//!
//! The core sniffs and strips a byte order mark before any byte arrives
//! here, so these decoders do no BOM handling of their own.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use encoding_rs::Encoding;
use wasm_bindgen::prelude::*;

/// One body's streaming decoder to UTF-8, malformed sequences replaced by
/// U+FFFD as the WHATWG decoders do.
#[wasm_bindgen]
pub struct CharsetDecoder {
    inner: encoding_rs::Decoder,
    /// The last part was decoded; anything after it is empty.
    finished: bool,
}

#[wasm_bindgen]
impl CharsetDecoder {
    /// A decoder for a WHATWG label (`shift_jis`, `windows-1252`, `utf-16`,
    /// `utf-16be`, `utf-8`, …).
    ///
    /// # Errors
    ///
    /// A `RangeError`-like `Error` for a label the standard does not know.
    #[wasm_bindgen(constructor)]
    pub fn new(label: &str) -> Result<Self, JsError> {
        let encoding = Encoding::for_label_no_replacement(label.as_bytes())
            .ok_or_else(|| JsError::new(&format!("no decoder for the charset label {label:?}")))?;
        Ok(Self {
            inner: encoding.new_decoder_without_bom_handling(),
            finished: false,
        })
    }

    /// Decodes the next part of the body; `last` for the final one (a
    /// character it cuts short becomes U+FFFD).
    ///
    /// # Errors
    ///
    /// When the output size of `bytes` overflows (not for any input a
    /// 32-bit memory can hold).
    pub fn decode(&mut self, bytes: &[u8], last: bool) -> Result<String, JsError> {
        if self.finished {
            return Ok(String::new());
        }
        let capacity = self
            .inner
            .max_utf8_buffer_length(bytes.len())
            .ok_or_else(|| JsError::new("input too large to decode at once"))?;
        let mut text = String::with_capacity(capacity);
        // With the worst-case capacity, one call reads everything.
        let (_, _read, _replaced) = self.inner.decode_to_string(bytes, &mut text, last);
        self.finished = last;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_across_parts_and_replaces_a_cut_character() {
        let mut d = CharsetDecoder::new("shift_jis").unwrap();
        // 注 is 92 8D; split between the parts.
        assert_eq!(d.decode(b"a\x92", false).unwrap(), "a");
        assert_eq!(d.decode(b"\x8d\x82", true).unwrap(), "注\u{FFFD}");
        assert_eq!(
            d.decode(b"x", true).unwrap(),
            "",
            "nothing after the last part"
        );
    }

    #[test]
    fn no_bom_handling_and_labels_as_the_standard() {
        let mut d = CharsetDecoder::new("utf-16").unwrap();
        assert_eq!(d.decode(b"\xff\xfeA\x00", true).unwrap(), "\u{FEFF}A");
        let mut d = CharsetDecoder::new("windows-1252").unwrap();
        assert_eq!(d.decode(b"\x80\x81", true).unwrap(), "€\u{81}");
    }
}
