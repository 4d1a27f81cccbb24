//! Lingxing's JSON, as serde types. Tolerant: unknown fields are ignored, both
//! envelope shapes parse, and codes are normalised to text.

use serde_json::Value;

/// Both envelopes in one type: business (`code` int, `message`, `data`) and
/// gateway/token (`code` string, `msg`, `data`). The WAF's
/// `{"message": "Your IP address is not allowed"}` parses too, without a code.
#[derive(Debug)]
struct RawEnvelope {
    /// An int in the business envelope, a string in the gateway one (read
    /// as a `Value`: serde's untagged enums cost a buffered copy of the
    /// whole body's deserializer in the wasm module).
    code: Option<Value>,
    message: Option<Value>,
    msg: Option<Value>,
    data: Option<Value>,
    success: Option<bool>,
}

crate::json_fields::deserialize_struct! {
    RawEnvelope, fields = Verbatim, unknown = Ignore;
    code, message, msg, data, success
}


/// A parsed envelope.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Envelope {
    /// `code` as text (`"0"`, `"200"`, `"2001003"`), if there was one.
    pub(super) code: Option<String>,
    /// `message` or `msg`, whichever is present (trimmed).
    pub(super) message: String,
    /// `data`, when present and not null.
    pub(super) data: Option<Value>,
    /// An explicit `success: false`.
    pub(super) failed: bool,
}

impl Envelope {
    /// Parses a response body. `None` when it is not a JSON object (HTML,
    /// truncated text).
    pub(super) fn parse(body: &[u8]) -> Option<Self> {
        let raw: RawEnvelope = crate::json_fields::from_slice(body).ok()?;
        let code = raw.code.and_then(|code| match code {
            Value::Number(n) => n.as_i64().map(|n| n.to_string()),
            Value::String(text) => Some(text.trim().to_owned()),
            _ => None,
        });
        let text = |value: Option<Value>| match value {
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            _ => None,
        };
        let message = text(raw.message)
            .or_else(|| text(raw.msg))
            .unwrap_or_default();
        Some(Self {
            code,
            message,
            data: raw.data.filter(|d| !d.is_null()),
            failed: raw.success == Some(false),
        })
    }

    /// Whether the code means success (`0` business, `"200"` token calls).
    pub(super) fn is_success(&self) -> bool {
        matches!(self.code.as_deref(), Some("0" | "200")) && !self.failed
    }

    /// `data` as a typed value; `None` when absent or of another shape.
    pub(super) fn data_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.data
            .clone()
            .and_then(|data| serde_json::from_value(data).ok())
    }
}

/// `data` of the token calls. No `Debug`: it holds the tokens.
#[derive()]
pub(super) struct TokenData {
    pub(super) access_token: Option<String>,
    pub(super) refresh_token: Option<String>,
    pub(super) expires_in: Option<Value>,
}

crate::json_fields::deserialize_struct! {
    TokenData, fields = Verbatim, unknown = Ignore;
    access_token, refresh_token, expires_in
}


/// `data` of `create/reportExportTask`.
#[derive(Debug)]
pub(super) struct TaskCreated {
    pub(super) task_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    TaskCreated, fields = Verbatim, unknown = Ignore;
    task_id
}


/// `data` of `query/reportExportTask`.
#[derive(Debug)]
pub(super) struct TaskStatus {
    pub(super) report_document_id: Option<String>,
    pub(super) progress_status: Option<String>,
    pub(super) compression_algorithm: Option<String>,
    pub(super) url: Option<String>,
}

crate::json_fields::deserialize_struct! {
    TaskStatus, fields = Verbatim, unknown = Ignore;
    report_document_id, progress_status, compression_algorithm, url
}


/// `data` of `amazonReportExportTask` (link renewal).
#[derive(Debug)]
pub(super) struct Renewed {
    pub(super) url: Option<String>,
    pub(super) report_document_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Renewed, fields = Verbatim, unknown = Ignore;
    url, report_document_id
}


/// `expires_in` as seconds, whether sent as a number or as text.
pub(super) fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}
