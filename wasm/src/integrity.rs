//! The integrity helpers on their own: gzip, MD5, CRC-32.

use wasm_bindgen::prelude::*;

use reportflow::integrity::{self, Crc32, IntegrityError, Limits, Md5};

use crate::convert::{self, Failure};

fn failure(error: IntegrityError) -> JsValue {
    Failure::from_error(&reportflow::Error::from(error)).into()
}

fn limits(max_decompressed_bytes: Option<f64>) -> Result<Limits, JsValue> {
    let mut limits = Limits::default();
    if let Some(max) = max_decompressed_bytes {
        limits.max_decompressed_bytes = convert::safe_integer("maxDecompressedBytes", max)?;
    }
    Ok(limits)
}

/// Decodes a whole gzip body (multi-member allowed), checking every CRC-32
/// and ISIZE. Throws a `ReportflowError` (code `gzip`) on corrupt input or
/// when the output would exceed `maxDecompressedBytes` (default 16 GiB).
#[wasm_bindgen]
pub fn gunzip(
    bytes: &[u8],
    #[wasm_bindgen(js_name = maxDecompressedBytes)] max_decompressed_bytes: Option<f64>,
) -> Result<Vec<u8>, JsValue> {
    integrity::gunzip(bytes, limits(max_decompressed_bytes)?).map_err(failure)
}

/// Streaming gzip decoder: `push` each compressed chunk in order (it
/// returns the bytes decoded so far from it), then `finish`, which checks the
/// end of the stream. Decoded bytes are provisional until `finish` returns.
#[wasm_bindgen(js_name = Gunzip)]
pub struct GunzipStream {
    inner: Option<integrity::Gunzip>,
}

#[wasm_bindgen(js_class = Gunzip)]
impl GunzipStream {
    /// A decoder that refuses to produce more than `maxDecompressedBytes`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = maxDecompressedBytes)] max_decompressed_bytes: Option<f64>,
    ) -> Result<Self, JsValue> {
        Ok(Self {
            inner: Some(integrity::Gunzip::new(limits(max_decompressed_bytes)?)),
        })
    }

    /// Decodes the next compressed chunk and returns what it yielded.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let inner = self.inner.as_mut().ok_or_else(finished)?;
        let mut out = Vec::new();
        inner
            .push(bytes, &mut |piece: &[u8]| out.extend_from_slice(piece))
            .map_err(failure)?;
        Ok(out)
    }

    /// Ends the stream; throws if it was truncated or failed a check.
    #[wasm_bindgen(unchecked_return_type = "GunzipStats")]
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        let inner = self.inner.take().ok_or_else(finished)?;
        let stats = inner.finish().map_err(failure)?;
        Ok(convert::object(&[
            ("compressedBytes", convert::number(stats.compressed_bytes)),
            (
                "decompressedBytes",
                convert::number(stats.decompressed_bytes),
            ),
            ("members", JsValue::from(stats.members)),
            ("paddingBytes", convert::number(stats.padding_bytes)),
        ]))
    }
}

fn finished() -> JsValue {
    Failure::new(
        "finished",
        "host",
        "this Gunzip has finished; create a new one",
    )
    .into()
}

/// Lowercase hex MD5 of `bytes`.
#[wasm_bindgen(js_name = md5Hex)]
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).to_hex()
}

/// Base64 MD5 of `bytes`, as in a `Content-MD5` header.
#[wasm_bindgen(js_name = md5Base64)]
pub fn md5_base64(bytes: &[u8]) -> String {
    Md5::digest(bytes).to_base64()
}

/// CRC-32 (IEEE, as in gzip and ZIP) of `bytes`, as an unsigned number.
#[wasm_bindgen]
pub fn crc32(bytes: &[u8]) -> u32 {
    Crc32::checksum(bytes)
}
