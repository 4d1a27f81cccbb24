//! Lingxing request signing: a pure function of the parameters and the AppID.
//!
//! ```text
//! params + access_token + app_key + timestamp
//!   → drop "" values → arrays/objects as compact key-sorted JSON
//!   → sort by key → "k1=v1&k2=v2…" → MD5 → 32 upper-case hex chars
//!   → AES-128-ECB, PKCS#7, key = AppID → Base64 → percent-encode once
//! ```
//!
//! Checked against `shared/specs/lingxing/signing-test-vectors.json`. The
//! same serialiser writes the JSON body, so the server re-derives exactly the
//! string that was signed.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use base64::Engine as _;
use serde_json::Value;

use crate::integrity::Md5;

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 16;

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignError {
    /// The AppID is not a 16-byte AES-128 key.
    KeyLength(usize),
    /// A parameter nests deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Renders a parameter value as it enters the canonical string; `None`
/// for an empty string, which is left out.
fn canonical_value(value: &Value) -> Result<Option<String>, SignError> {
    Ok(match value {
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Null => Some("null".to_owned()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(_) | Value::Object(_) => Some(compact_json(value)?),
    })
}

/// The canonical string: `k=v` pairs sorted by key (byte order), joined by `&`.
pub(crate) fn canonical<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<String, SignError> {
    let mut pairs = Vec::new();
    for (key, value) in params {
        if let Some(text) = canonical_value(value)? {
            pairs.push((key, text));
        }
    }
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    Ok(out)
}

/// Upper-case hex MD5 of the canonical string.
pub(crate) fn md5_upper(canonical: &str) -> String {
    Md5::digest(canonical.as_bytes())
        .to_hex()
        .to_ascii_uppercase()
}

/// Base64 of AES-128-ECB-PKCS#7(`plaintext`) under `app_id`.
pub(crate) fn encrypt(app_id: &str, plaintext: &str) -> Result<String, SignError> {
    let cipher = Aes128::new_from_slice(app_id.as_bytes())
        .map_err(|_| SignError::KeyLength(app_id.len()))?;
    let bytes = plaintext.as_bytes();
    let pad = 16 - bytes.len() % 16;
    let mut padded = Vec::with_capacity(bytes.len() + pad);
    padded.extend_from_slice(bytes);
    // `pad` is 1..=16, so the cast is exact.
    padded.resize(bytes.len() + pad, pad as u8);
    let mut out = Vec::with_capacity(padded.len());
    for chunk in padded.chunks_exact(16) {
        let mut block = Block::default();
        block.copy_from_slice(chunk);
        cipher.encrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// The `sign` value (Base64, not yet percent-encoded) of a parameter set
/// that already includes `access_token`, `app_key` and `timestamp`.
pub(crate) fn sign<'a>(
    app_id: &str,
    params: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<String, SignError> {
    encrypt(app_id, &md5_upper(&canonical(params)?))
}

/// Percent-encodes a query value (`+` → `%2B`, `/` → `%2F`, `=` → `%3D`).
pub(crate) fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Compact JSON with object keys sorted: the form Lingxing's signer and its
/// body parser agree on. Independent of serde_json's map ordering feature.
pub(crate) fn compact_json(value: &Value) -> Result<String, SignError> {
    let mut out = String::new();
    write_json(value, &mut out, 0)?;
    Ok(out)
}

fn write_json(value: &Value, out: &mut String, depth: usize) -> Result<(), SignError> {
    if depth > MAX_DEPTH {
        return Err(SignError::TooDeep);
    }
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&scalar_json(&Value::String(key.clone())));
                out.push(':');
                write_json(item, out, depth + 1)?;
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar_json(scalar)),
    }
    Ok(())
}

/// A scalar as JSON text; serde_json cannot fail on a scalar.
fn scalar_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
