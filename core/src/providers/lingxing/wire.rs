//! Lingxing's JSON, as serde types. Tolerant: unknown fields are ignored, both
//! envelope shapes parse, and codes are normalised to text.

use serde::Deserialize;
use serde_json::Value;

/// Both envelopes in one type: business (`code` int, `message`, `data`) and
/// gateway/token (`code` string, `msg`, `data`). The WAF's
/// `{"message": "Your IP address is not allowed"}` parses too, without a code.
#[derive(Debug, Deserialize)]
struct RawEnvelope {
    /// An int in the business envelope, a string in the gateway one (read
    /// as a `Value`: serde's untagged enums cost a buffered copy of the
    /// whole body's deserializer in the wasm module).
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    msg: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    success: Option<bool>,
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
#[derive(Deserialize)]
pub(super) struct TokenData {
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) expires_in: Option<Value>,
}

/// `data` of `create/reportExportTask`.
#[derive(Debug, Deserialize)]
pub(super) struct TaskCreated {
    #[serde(default)]
    pub(super) task_id: Option<String>,
}

/// `data` of `query/reportExportTask`.
#[derive(Debug, Deserialize)]
pub(super) struct TaskStatus {
    #[serde(default)]
    pub(super) report_document_id: Option<String>,
    #[serde(default)]
    pub(super) progress_status: Option<String>,
    #[serde(default)]
    pub(super) compression_algorithm: Option<String>,
    #[serde(default)]
    pub(super) url: Option<String>,
}

/// `data` of `amazonReportExportTask` (link renewal).
#[derive(Debug, Deserialize)]
pub(super) struct Renewed {
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) report_document_id: Option<String>,
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
