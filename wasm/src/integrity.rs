//! The integrity helpers on their own: gzip, MD5, CRC-32.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use reportflow::integrity::{self, Crc32, IntegrityError, Limits, Md5, Md5Check, Md5Digest};

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
    out: Output,
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
            out: Output::default(),
        })
    }

    /// Decodes the next compressed chunk and returns what it yielded.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Uint8Array, JsValue> {
        let inner = self.inner.as_mut().ok_or_else(finished)?;
        self.out
            .collect(|out| inner.push(bytes, &mut |piece: &[u8]| out.extend_from_slice(piece)))
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

/// The download pipeline a job runs, on its own: MD5 of the raw bytes
/// (checked against `expectedMd5` when given), gzip detected from the bytes
/// and decoded with CRC-32 and ISIZE checks, limits. `push` each raw chunk in
/// order (it returns the decoded bytes), then `finish`.
#[wasm_bindgen(js_name = Decoder)]
pub struct DecoderStream {
    inner: Option<integrity::Decoder>,
    out: Output,
}

#[wasm_bindgen(js_class = Decoder)]
impl DecoderStream {
    /// `expectedMd5`: hex or base64 (`Content-MD5`); `fingerprint: false`
    /// skips the MD5 when there is no expected digest.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = expectedMd5)] expected_md5: Option<String>,
        #[wasm_bindgen(js_name = maxDecompressedBytes)] max_decompressed_bytes: Option<f64>,
        fingerprint: Option<bool>,
    ) -> Result<Self, JsValue> {
        let expected = expected_md5
            .map(|text| Md5Digest::parse(&text))
            .transpose()
            .map_err(|e| Failure::invalid_input(format!("expectedMd5: {e}")))?;
        let decoder = integrity::Decoder::new(limits(max_decompressed_bytes)?, expected)
            .with_fingerprint(fingerprint.unwrap_or(true));
        Ok(Self {
            inner: Some(decoder),
            out: Output::default(),
        })
    }

    /// Decodes the next raw chunk and returns what it yielded.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Uint8Array, JsValue> {
        let inner = self.inner.as_mut().ok_or_else(finished)?;
        self.out
            .collect(|out| inner.push(bytes, &mut |piece: &[u8]| out.extend_from_slice(piece)))
    }

    /// Ends the body; throws if it was truncated, failed a check or did not
    /// match `expectedMd5`.
    #[wasm_bindgen(unchecked_return_type = "DecodeStats")]
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        let inner = self.inner.take().ok_or_else(finished)?;
        let summary = inner.finish().map_err(failure)?;
        let check = match summary.md5_check {
            Md5Check::Verified => "verified",
            Md5Check::Computed => "computed",
            _ => "skipped",
        };
        Ok(convert::object(&[
            ("rawBytes", convert::number(summary.raw_bytes)),
            ("decodedBytes", convert::number(summary.decoded_bytes)),
            (
                "md5",
                summary.md5.map_or(JsValue::NULL, |md5| md5.to_hex().into()),
            ),
            ("md5Check", check.into()),
            ("gzip", summary.gzip.into()),
            ("members", JsValue::from(summary.members)),
        ]))
    }
}

/// Capacity [`Output`] keeps between pushes: a push decoding more than this
/// (a large chunk of a highly compressed body) gets its memory back after.
const OUTPUT_RETAIN_BYTES: usize = 4 << 20;

/// The decoded bytes of one `push`, gathered in wasm memory and handed to
/// JavaScript as one `Uint8Array`.
///
/// The buffer is kept between pushes (it grows once to a push's typical
/// output, about 8x the chunk), so a push allocates nothing in wasm, and
/// the bytes cross with one copy, straight into the new array. (Returning a
/// `Vec<u8>` allocated and freed a buffer per push, and the generated glue
/// copied it out through a temporary view.)
#[derive(Default)]
struct Output(Vec<u8>);

impl Output {
    /// Runs `push`, which appends decoded bytes to the (empty) buffer, then
    /// copies them into a fresh `Uint8Array`.
    fn collect(
        &mut self,
        push: impl FnOnce(&mut Vec<u8>) -> Result<(), IntegrityError>,
    ) -> Result<Uint8Array, JsValue> {
        let out = &mut self.0;
        let pushed = push(out);
        let bytes = pushed.map(|()| Uint8Array::from(out.as_slice()));
        out.clear();
        if out.capacity() > OUTPUT_RETAIN_BYTES {
            *out = Vec::new();
        }
        bytes.map_err(failure)
    }
}

// The return shape of `Decoder.finish`, beside the class (not in lib.rs's
// shared block).
#[wasm_bindgen(typescript_custom_section)]
const DECODE_STATS: &'static str = r#"
/** Totals of a body decoded by `Decoder`. */
export interface DecodeStats {
  rawBytes: number;
  decodedBytes: number;
  /** Lowercase hex MD5 of the raw bytes; null when skipped. */
  md5: string | null;
  md5Check: "verified" | "computed" | "skipped";
  gzip: boolean;
  members: number;
}
"#;

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
