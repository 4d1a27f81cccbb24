//! Complete HTTP requests the core asks the host to perform, and the ways a
//! transport can fail. Transports know nothing of providers: everything they
//! need (URL, headers, body, limits, redirect rule) is in [`HttpRequest`].

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::time::Millis;

/// Correlates a response with the request it answers.
///
/// Issued by the job, strictly increasing, always below 2^53 so it survives a
/// round trip through a JavaScript number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(u64);

impl RequestId {
    /// The largest id a job issues (2^53 - 1).
    pub const MAX: u64 = (1 << 53) - 1;

    /// Wraps a raw id, as received back from a host (e.g. from JavaScript).
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

crate::json_fields::deserialize_names! {
    Method;
    "GET" => Get,
    "POST" => Post,
    "PUT" => Put,
    "DELETE" => Delete,
}

impl Method {
    /// The method as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

/// A header value, marked when it carries a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    /// An ordinary value, safe to log.
    Plain(String),
    /// A credential (e.g. `Authorization`); `Debug` redacts it.
    Secret(Secret<String>),
}

impl HeaderValue {
    /// The value to put on the wire. Transports call this; loggers must not.
    pub fn expose(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(value) => value.expose(),
        }
    }

    /// Whether the value is a credential.
    pub const fn is_secret(&self) -> bool {
        matches!(self, Self::Secret(_))
    }
}

/// One request header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header name, as sent.
    pub name: String,
    /// Header value.
    pub value: HeaderValue,
}

impl Header {
    /// A header safe to log.
    pub fn plain(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: HeaderValue::Plain(value.into()),
        }
    }

    /// A header that carries a credential.
    pub fn secret(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: HeaderValue::Secret(Secret::new(value.into())),
        }
    }
}

/// A request body, marked when it carries a credential (e.g. an OAuth form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// A body safe to log.
    Plain(Vec<u8>),
    /// A body containing credentials; `Debug` redacts it.
    Secret(Secret<Vec<u8>>),
}

impl Body {
    /// The bytes to put on the wire. Transports call this; loggers must not.
    pub fn expose(&self) -> &[u8] {
        match self {
            Self::Empty => &[],
            Self::Plain(bytes) => bytes,
            Self::Secret(bytes) => bytes.expose(),
        }
    }
}

/// Bounds the host should enforce on the response; the job enforces them too
/// and fails the exchange with a typed error when they are exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseLimits {
    /// Largest total size of the response headers (names + values).
    pub max_header_bytes: u64,
    /// Largest response body, as transferred (before decompression).
    pub max_body_bytes: u64,
}

crate::json_fields::deserialize_struct! {
    ResponseLimits, fields = Camel, unknown = Ignore;
    max_header_bytes, max_body_bytes
}

/// Whether the transport may follow redirects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RedirectPolicy {
    /// Follow redirects (the job does not care where the answer came from).
    Follow,
    /// Do not follow; hand the 3xx head to the job. Used where the next hop
    /// (a presigned S3 URL) must be fetched *without* the provider's
    /// credentials. A host that cannot avoid following (browser `fetch`) may
    /// follow, provided it drops credentials across origins as browsers do;
    /// the job then accepts the final response in place of the 3xx.
    Manual,
}

crate::json_fields::deserialize_names! {
    RedirectPolicy;
    "follow" => Follow,
    "manual" => Manual,
}

/// A complete HTTP request: the transport adds nothing but bytes on a wire.
///
/// `Debug` redacts credential headers and bodies, and the URL's query: it
/// can carry tokens and signatures (Lingxing) or a presigned capability (S3).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Feed the answer back with this id.
    pub id: RequestId,
    /// HTTP method.
    pub method: Method,
    /// Absolute URL, already percent-encoded.
    pub url: String,
    /// Headers in the order they should be sent.
    pub headers: Vec<Header>,
    /// Request body.
    pub body: Body,
    /// Bounds on the response.
    pub limits: ResponseLimits,
    /// The host should abort the exchange after this long; the job also stops
    /// waiting then and treats the request as timed out.
    pub timeout_ms: u64,
    /// Signed requests go stale: past this instant the host must not send the
    /// request but report [`TransportFailure::Expired`] and poll again.
    pub send_before: Option<Millis>,
    /// Redirect rule.
    pub redirect: RedirectPolicy,
    /// The operation, as its method and path template (e.g.
    /// `GET /v2/reports/{reportId}`): what a host that shares rate budgets
    /// between jobs (one account's quota) keys them by, with the provider
    /// and the account. It names no credential and no id.
    pub endpoint: &'static str,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?** redacted **"),
            None => self.url.clone(),
        };
        f.debug_struct("HttpRequest")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("limits", &self.limits)
            .field("timeout_ms", &self.timeout_ms)
            .field("send_before", &self.send_before)
            .field("redirect", &self.redirect)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl HttpRequest {
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }
}

/// Why the host could not complete an exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TransportFailure {
    /// The host name did not resolve.
    Dns,
    /// The connection could not be established.
    Connect,
    /// TLS handshake or certificate failure.
    Tls,
    /// The connection broke mid-exchange (including mid-body).
    Reset,
    /// The exchange took longer than `timeout_ms`.
    Timeout,
    /// The host aborted the exchange (e.g. shutting down).
    Aborted,
    /// The request was past `send_before` and was not sent.
    Expired,
    /// Any other failure, described by the host.
    Other(String),
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dns => f.write_str("DNS lookup failed"),
            Self::Connect => f.write_str("connection failed"),
            Self::Tls => f.write_str("TLS failed"),
            Self::Reset => f.write_str("connection reset mid-exchange"),
            Self::Timeout => f.write_str("request timed out"),
            Self::Aborted => f.write_str("request aborted by the host"),
            Self::Expired => f.write_str("signed request expired before it was sent"),
            Self::Other(detail) => write!(f, "transport failed: {detail}"),
        }
    }
}

/// Case-insensitive lookup in a response header list.
pub(crate) fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A response header whose value is a finite decimal number (`58.0`,
/// `0.0167`, `2e1`), such as Amazon's quota and rate-limit headers.
///
/// Read with JSON's number grammar (serde_json, which the crate carries
/// anyway) rather than `str::parse::<f64>`: the latter links core's
/// float-parsing tables, over 10 KB of the wasm module, for two headers.
/// The grammars differ only in forms no server sends (`+1`, `.5`, `inf`),
/// which are refused.
pub(crate) fn header_number(headers: &[(String, String)], name: &str) -> Option<f64> {
    let text = find_header(headers, name)?.trim();
    serde_json::from_slice::<f64>(text.as_bytes())
        .ok()
        .filter(|value| value.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_numbers_are_finite_decimals() {
        let headers = |value: &str| vec![("X-Amzn-RateLimit-Limit".to_owned(), value.to_owned())];
        let read = |value: &str| header_number(&headers(value), "x-amzn-ratelimit-limit");
        assert_eq!(read(" 0.0167 "), Some(0.0167));
        assert_eq!(read("58.0"), Some(58.0));
        assert_eq!(read("2e1"), Some(20.0));
        assert_eq!(read("-3"), Some(-3.0));
        for refused in ["", "fast", "1e999", "NaN", "inf", "1,5", "0x10", "1 2"] {
            assert_eq!(read(refused), None, "{refused:?}");
        }
        assert_eq!(header_number(&headers("1"), "x-other"), None);
    }

    #[test]
    fn debug_of_a_request_redacts_credentials() {
        let request = HttpRequest {
            id: RequestId::new(1),
            method: Method::Post,
            url: "https://api.amazon.com/auth/o2/token".into(),
            headers: vec![Header::secret("Authorization", "Bearer Atza|canary")],
            body: Body::Secret(Secret::new(b"refresh_token=Atzr|canary".to_vec())),
            limits: ResponseLimits {
                max_header_bytes: 1,
                max_body_bytes: 1,
            },
            timeout_ms: 1,
            send_before: None,
            redirect: RedirectPolicy::Follow,
            endpoint: "POST /auth/o2/token",
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert_eq!(
            request.header("authorization").map(HeaderValue::expose),
            Some("Bearer Atza|canary")
        );
    }
}
