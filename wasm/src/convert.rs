//! Conversions across the boundary: numbers from JavaScript are validated,
//! control data goes through JSON text and serde_json,
//! bytes go as `Uint8Array`s, errors become `{ code, blame, retryable,
//! message }`.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use reportflow::{
    Action, Blame, ConfigError, Error, Event, HttpRequest, InputError, Millis, RedirectPolicy,
    RequestId, RestoreError,
};

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A failure crossing to JavaScript, before it becomes a JS value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) blame: &'static str,
    pub(crate) retryable: bool,
    pub(crate) message: String,
    /// The serde form (JSON text) of the underlying Rust error, when there
    /// is one.
    pub(crate) details: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: &'static str, blame: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            blame,
            retryable: false,
            message: message.into(),
            details: None,
        }
    }

    /// A value from the host was out of range or of the wrong shape.
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("invalid_input", "host", message)
    }

    /// A spec, config or credentials object could not be read.
    pub(crate) fn invalid_config(message: impl Into<String>) -> Self {
        Self::new("invalid_config", "config", message)
    }

    /// Something that would be a bug in reportflow.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", "library", message)
    }

    fn with_details<T: Serialize>(mut self, value: &T) -> Self {
        self.details = serde_json::to_string(value).ok();
        self
    }

    /// A job's terminal failure (also used for integrity helper failures).
    pub(crate) fn from_error(error: &Error) -> Self {
        Self {
            code: error.kind().as_str(),
            blame: blame_str(error.blame()),
            retryable: error.is_retryable(),
            message: error.to_string(),
            details: None,
        }
        .with_details(error)
    }

    pub(crate) fn from_input(error: &InputError) -> Self {
        let code = match error {
            InputError::StaleRequest { .. } => "stale_request",
            InputError::StaleSignature { .. } => "stale_signature",
            InputError::OutOfOrder { .. } => "out_of_order",
            InputError::Backpressure { .. } => "backpressure",
            InputError::Finished => "finished",
            _ => "invalid_input",
        };
        Self::new(code, "host", error.to_string()).with_details(error)
    }

    pub(crate) fn from_config(error: &ConfigError) -> Self {
        let code = match error {
            ConfigError::CredentialsMismatch { .. } => "credentials_mismatch",
            _ => "invalid_config",
        };
        Self::new(code, "config", error.to_string()).with_details(error)
    }

    pub(crate) fn from_restore(error: &RestoreError) -> Self {
        match error {
            RestoreError::Config(config) => Self::from_config(config),
            RestoreError::UnsupportedVersion { .. } => {
                Self::new("unsupported_snapshot", "host", error.to_string()).with_details(error)
            }
            RestoreError::EndpointMismatch { .. } => {
                Self::new("snapshot_mismatch", "host", error.to_string()).with_details(error)
            }
            _ => Self::new("malformed_snapshot", "host", error.to_string()).with_details(error),
        }
    }

    /// A plain object `{ code, blame, retryable, message, details }` (the
    /// payload of a `failed` action).
    pub(crate) fn to_object(&self) -> JsValue {
        let object = Object::new();
        self.fill(&object);
        object.into()
    }

    /// A JavaScript `Error` named `ReportflowError` carrying the same fields,
    /// for throwing.
    pub(crate) fn to_js_error(&self) -> JsValue {
        let error = js_sys::Error::new(&self.message);
        error.set_name("ReportflowError");
        let object: &Object = error.as_ref();
        self.fill(object);
        error.into()
    }

    fn fill(&self, object: &Object) {
        set(object, "code", &JsValue::from_str(self.code));
        set(object, "blame", &JsValue::from_str(self.blame));
        set(object, "retryable", &JsValue::from_bool(self.retryable));
        set(object, "message", &JsValue::from_str(&self.message));
        let details = self
            .details
            .as_deref()
            .and_then(|text| js_sys::JSON::parse(text).ok())
            .unwrap_or(JsValue::NULL);
        set(object, "details", &details);
    }
}

impl From<Failure> for JsValue {
    fn from(failure: Failure) -> Self {
        failure.to_js_error()
    }
}

/// The JS string of a [`Blame`].
pub(crate) fn blame_str(blame: Blame) -> &'static str {
    match blame {
        Blame::Provider => "provider",
        Blame::Network => "network",
        Blame::Config => "config",
        Blame::Data => "data",
        _ => "host",
    }
}

/// Checks a JavaScript number that must be a non-negative integer no larger
/// than 2^53 - 1. NaN, infinities, negatives and fractions are refused.
pub(crate) fn safe_integer(what: &str, value: f64) -> Result<u64, Failure> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 || value > MAX_SAFE_INTEGER {
        return Err(Failure::invalid_input(format!(
            "{what} must be a non-negative integer no larger than 2^53 - 1, got {value}"
        )));
    }
    // In range and integral, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(value as u64)
}

/// `now` from JavaScript (milliseconds since the Unix epoch, e.g. `Date.now()`).
pub(crate) fn millis(now: f64) -> Result<Millis, Failure> {
    safe_integer("now", now).map(Millis)
}

/// A request id from JavaScript.
pub(crate) fn request_id(id: f64) -> Result<RequestId, Failure> {
    safe_integer("request id", id).map(RequestId::new)
}

/// An HTTP status from JavaScript: an integer from 100 to 999.
pub(crate) fn status(value: f64) -> Result<u16, Failure> {
    let raw = safe_integer("status", value)?;
    u16::try_from(raw)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| {
            Failure::invalid_input(format!(
                "status must be an HTTP status code (100-999), got {value}"
            ))
        })
}

/// A JS number from a `u64`, exact below 2^53 (which every id, time and
/// size reportflow hands out is).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn number(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// Reads control data as its JSON text (`JSON.stringify`) through
/// serde_json: the deserializer the core's snapshots use anyway, so each
/// type's deserializer is compiled into the module once. (With
/// serde-wasm-bindgen as well, every spec, config and credentials type was
/// compiled twice, a good part of the module's size.)
pub(crate) fn from_js<T: DeserializeOwned>(what: &str, value: JsValue) -> Result<T, Failure> {
    let text = json_text(&value).ok_or_else(|| {
        Failure::invalid_config(format!(
            "{what}: expected a plain object (JSON.stringify refused it or gave nothing)"
        ))
    })?;
    read_json(&text).map_err(|e| Failure::invalid_config(format!("{what}: {e}")))
}

/// `T` from `JSON.stringify`'s text, through a `serde_json::Value` as the
/// core reads its snapshots: each type's deserializer is compiled into the
/// module once, for the value. (The text has no member written twice: a
/// JavaScript object cannot hold one.)
fn read_json<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_slice::<serde_json::Value>(text.as_bytes()).and_then(T::deserialize)
}

/// `JSON.stringify(value)`, or `None` when it throws (BigInt, cycles) or
/// yields `undefined` (for `undefined` or a function).
fn json_text(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

/// Reads credentials. Serde messages can quote the offending value, which
/// here may be a secret, so only "missing field" messages are passed on.
pub(crate) fn credentials_from_js(value: JsValue) -> Result<reportflow::Credentials, Failure> {
    let withheld = || {
        Failure::invalid_config(
            "credentials: not valid for any provider (expected { provider, ... } with string secrets; \
             the parser's message is withheld because it may quote a secret)",
        )
    };
    let text = json_text(&value).ok_or_else(withheld)?;
    read_json(&text).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("missing field") {
            Failure::invalid_config(format!("credentials: {text}"))
        } else {
            withheld()
        }
    })
}

/// Reads response headers, `[name, value][]` with string names and values.
pub(crate) fn header_pairs(value: &JsValue) -> Result<Vec<(String, String)>, Failure> {
    let refused = |what: String| {
        Failure::invalid_input(format!(
            "headers must be [name, value] string pairs: {what}"
        ))
    };
    if !Array::is_array(value) {
        return Err(refused("not an array".to_owned()));
    }
    let pairs: &Array = value.unchecked_ref();
    let mut out = Vec::with_capacity(pairs.length() as usize);
    for (i, pair) in pairs.iter().enumerate() {
        let name_value = Array::is_array(&pair)
            .then(|| pair.unchecked_into::<Array>())
            .filter(|p| p.length() == 2)
            .and_then(|p| Some((p.get(0).as_string()?, p.get(1).as_string()?)));
        out.push(
            name_value
                .ok_or_else(|| refused(format!("entry {i} is not a [string, string] pair")))?,
        );
    }
    Ok(out)
}

/// Writes control data as plain objects (`null` for absent values) by way
/// of serde_json's text and `JSON.parse`: one serializer for the whole
/// module (the snapshots' one). An integer above 2^53 is rounded, as
/// JavaScript numbers are.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::NULL)
}

pub(crate) fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a data property on a plain, extensible object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// Builds a plain object from key/value pairs.
pub(crate) fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        set(&object, key, value);
    }
    object.into()
}

/// Copies bytes into a fresh `Uint8Array` owned by JavaScript.
pub(crate) fn bytes(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

/// A core [`Action`] as the JS `Action` union.
pub(crate) fn action(action: Action) -> JsValue {
    match action {
        Action::Send(request) => {
            object(&[("type", "send".into()), ("request", http_request(&request))])
        }
        // Plain data (no secret: hashes and public header values), so it
        // crosses as JSON like the other plain types.
        Action::Sign(request) => object(&[("type", "sign".into()), ("request", to_js(&request))]),
        Action::Wait { until, reason } => object(&[
            ("type", "wait".into()),
            ("until", number(until.as_u64())),
            ("reason", to_js(&reason)),
        ]),
        Action::Event(event) => object(&[("type", "event".into()), ("event", event_to_js(&event))]),
        Action::Done(summary) => object(&[("type", "done".into()), ("summary", to_js(&summary))]),
        Action::Failed(error) => object(&[
            ("type", "failed".into()),
            ("error", Failure::from_error(&error).to_object()),
        ]),
        // A variant added to the core but not yet mapped here: say so as a
        // typed failure rather than trapping.
        other => {
            let failure = Failure::internal(format!(
                "reportflow-wasm cannot map this action yet: {other:?}"
            ));
            object(&[("type", "failed".into()), ("error", failure.to_object())])
        }
    }
}

/// A core [`Event`] as the JS `ReportEvent` union; `data` bytes become a
/// `Uint8Array`.
pub(crate) fn event_to_js(event: &Event) -> JsValue {
    match event {
        Event::Data(chunk) => object(&[
            ("type", "data".into()),
            ("offset", number(chunk.offset)),
            ("bytes", bytes(&chunk.bytes)),
            (
                "part",
                chunk
                    .part
                    .as_deref()
                    .map_or(JsValue::NULL, JsValue::from_str),
            ),
        ]),
        other => to_js(other),
    }
}

/// The one place where credentials reach JavaScript: a request must go on
/// the wire with its `Authorization` header and its token form.
fn http_request(request: &HttpRequest) -> JsValue {
    let headers = Array::new();
    for header in &request.headers {
        let pair = Array::new();
        pair.push(&JsValue::from_str(&header.name));
        pair.push(&JsValue::from_str(header.value.expose()));
        headers.push(&pair);
    }
    let body = request.body.expose();
    let body = if body.is_empty() {
        JsValue::NULL
    } else {
        bytes(body)
    };
    let limits = object(&[
        ("maxHeaderBytes", number(request.limits.max_header_bytes)),
        ("maxBodyBytes", number(request.limits.max_body_bytes)),
    ]);
    let redirect = match request.redirect {
        RedirectPolicy::Follow => "follow",
        RedirectPolicy::Manual => "manual",
    };
    object(&[
        ("id", number(request.id.get())),
        ("method", request.method.as_str().into()),
        ("url", request.url.as_str().into()),
        ("headers", headers.into()),
        ("body", body),
        ("limits", limits),
        ("timeoutMs", number(request.timeout_ms)),
        (
            "sendBefore",
            request
                .send_before
                .map_or(JsValue::NULL, |t| number(t.as_u64())),
        ),
        ("redirect", redirect.into()),
        ("endpoint", request.endpoint.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_javascript_are_validated() {
        assert_eq!(safe_integer("now", 0.0), Ok(0));
        assert_eq!(
            safe_integer("now", 1_700_000_000_123.0),
            Ok(1_700_000_000_123)
        );
        assert_eq!(safe_integer("now", MAX_SAFE_INTEGER), Ok((1 << 53) - 1));
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            -0.5,
            1.5,
            MAX_SAFE_INTEGER + 2.0,
        ] {
            let failure = safe_integer("now", bad).expect_err("must be refused");
            assert_eq!(failure.code, "invalid_input");
            assert_eq!(failure.blame, "host");
        }
        assert_eq!(status(200.0), Ok(200));
        assert_eq!(status(307.0), Ok(307));
        for bad in [99.0, 1000.0, 70_000.0, 200.5, f64::NAN] {
            assert!(status(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_errors_keep_code_blame_and_retryability() {
        let failure = Failure::from_error(&Error::Cancelled);
        assert_eq!(
            (failure.code, failure.blame, failure.retryable),
            ("cancelled", "host", false)
        );
        let failure = Failure::from_input(&InputError::Finished);
        assert_eq!((failure.code, failure.blame), ("finished", "host"));
    }
}
