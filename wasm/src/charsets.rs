//! The charset decoders JavaScript lends to the jobs of a module built
//! without the core's `charsets` feature (the npm package's production and
//! one-provider modules, which leave `encoding_rs` out).
//!
//! The decoders live in JavaScript (`bindings/src/charsets-hook.ts`): a
//! browser's `TextDecoder`, or in Node the `encoding_rs` module
//! `reportflow-wasm-charsets`. This side holds a numbered handle, so the
//! Rust decoder stays `Send` as the core asks; JavaScript keeps the decoder
//! and closes it when the handle is dropped.

use reportflow::integrity::{Charset, ForeignDecodeFailed, ForeignDecoder};
use wasm_bindgen::prelude::*;

// Resolved from the glue (`bindings/wasm/reportflow_wasm.js`) to the
// compiled facade next to it.
#[wasm_bindgen(raw_module = "../dist/charsets-hook.js")]
extern "C" {
    #[wasm_bindgen(js_name = openCharsetDecoder)]
    fn open_charset_decoder(label: &str) -> u32;
    #[wasm_bindgen(js_name = decodeCharset, catch)]
    fn decode_charset(handle: u32, bytes: &[u8], last: bool) -> Result<String, JsValue>;
    #[wasm_bindgen(js_name = closeCharsetDecoder)]
    fn close_charset_decoder(handle: u32);
}

/// A JavaScript decoder for one body.
#[derive(Debug)]
struct Lent {
    handle: u32,
}

/// Opens JavaScript's decoder for `charset`: what the module lends its jobs
/// (`ReportJob::with_foreign_charsets`).
pub(crate) fn open(charset: Charset) -> Box<dyn ForeignDecoder> {
    Box::new(Lent {
        handle: open_charset_decoder(charset.as_str()),
    })
}

impl ForeignDecoder for Lent {
    fn decode(
        &mut self,
        bytes: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ForeignDecodeFailed> {
        // The hook throws when the platform has no decoder for the label;
        // the job then fails the report with `charset_unavailable`.
        let text = decode_charset(self.handle, bytes, last).map_err(|_| ForeignDecodeFailed)?;
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        close_charset_decoder(self.handle);
    }
}
