//! Amazon Pay request signing (`AMZN-PAY-RSASSA-PSS-V2` and the legacy
//! `AMZN-PAY-RSASSA-PSS`): the canonical request and the string to sign, as
//! pure functions. The signature itself is the host's (`Action::Sign`).
//!
//! ```text
//! METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(SHA-256(payload))
//!   → "<algorithm>\n" + hex(SHA-256(canonical request))
//!   → RSASSA-PSS, SHA-256/MGF1-SHA-256, salt 32 (V2) or 20 (legacy), by the host
//!   → authorization: <algorithm> PublicKeyId=<id>, SignedHeaders=<names>, Signature=<base64>
//! ```
//!
//! Checked against the 34 vectors of Amazon's Java SDK
//! (`shared/specs/amazon-pay/signing-test-vectors.json`,
//! `tests/amazon_pay_spec_conformance.rs`).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sign::SignatureAlgorithm;

/// Amazon Pay's signing algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// `AMZN-PAY-RSASSA-PSS-V2` (salt 32): the current one.
    #[default]
    #[serde(rename = "AMZN-PAY-RSASSA-PSS-V2")]
    V2,
    /// `AMZN-PAY-RSASSA-PSS` (salt 20): the legacy one.
    #[serde(rename = "AMZN-PAY-RSASSA-PSS")]
    Legacy,
}

crate::json_fields::deserialize_names! {
    SigningAlgorithm;
    "AMZN-PAY-RSASSA-PSS-V2" => V2,
    "AMZN-PAY-RSASSA-PSS" => Legacy,
}

impl SigningAlgorithm {
    /// The name on the first line of the string to sign and in the
    /// `authorization` header.
    pub const fn name(self) -> &'static str {
        match self {
            Self::V2 => "AMZN-PAY-RSASSA-PSS-V2",
            Self::Legacy => "AMZN-PAY-RSASSA-PSS",
        }
    }

    /// The signature the host must make.
    pub const fn signature(self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPssSha256 {
            salt_length: match self {
                Self::V2 => 32,
                Self::Legacy => 20,
            },
        }
    }

    /// The algorithm named `name`, as the first line of a string to sign
    /// or an `authorization` header starts.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::V2, Self::Legacy]
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }
}

/// RFC 3986 percent-encoding over UTF-8: unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) as they are, every other byte `%XY` in upper
/// case; `/` too unless `keep_slash`.
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical URI of `path` (the URL's path, decoded): `/` when empty,
/// repeated `/` collapsed, each segment percent-encoded.
pub fn canonical_uri(path: &str) -> String {
    let mut collapsed = String::with_capacity(path.len() + 1);
    for c in std::iter::once('/').chain(path.chars()) {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    encode(&collapsed, true)
}

/// The canonical query of decoded `(name, value)` pairs: each encoded,
/// sorted by encoded name and then value (byte order), joined with `&`.
pub fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .map(|(name, value)| (encode(name, false), encode(value, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A canonical header value: trimmed, inner whitespace runs as one space.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case hex of SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A canonical request and the header names it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    /// The six lines Amazon Pay hashes.
    pub text: String,
    /// The signed header names, lower case, sorted, joined with `;`.
    pub signed_headers: String,
}

/// The canonical request of a call: `method`, the URL's decoded `path` and
/// query pairs, the headers to sign (any case; values of one name are
/// joined with `,`), and the exact body bytes.
pub fn canonical_request<'a>(
    method: &str,
    path: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    payload: &[u8],
) -> CanonicalRequest {
    let mut named: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = canonical_value(value);
        match named.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => {
                values.push(',');
                values.push_str(&value);
            }
            None => named.push((name, value)),
        }
    }
    named.sort();
    let block: String = named
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = named
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let text = format!(
        "{}\n{}\n{}\n{block}\n{signed_headers}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
        sha256_hex(payload)
    );
    CanonicalRequest {
        text,
        signed_headers,
    }
}

/// The string to sign: the algorithm's name, a line break, and the hex
/// SHA-256 of the canonical request.
pub fn string_to_sign(algorithm: SigningAlgorithm, canonical: &CanonicalRequest) -> String {
    format!(
        "{}\n{}",
        algorithm.name(),
        sha256_hex(canonical.text.as_bytes())
    )
}

/// The `authorization` header's value up to the signature (which the job
/// appends in base64).
pub(crate) fn authorization_prefix(
    algorithm: SigningAlgorithm,
    public_key_id: &str,
    signed_headers: &str,
) -> String {
    format!(
        "{} PublicKeyId={public_key_id}, SignedHeaders={signed_headers}, Signature=",
        algorithm.name()
    )
}

/// The parts of an `authorization` header, as a server reads them.
#[cfg(feature = "sim")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) public_key_id: String,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: Vec<u8>,
}

/// Reads an `authorization` header; `None` if it is not Amazon Pay's.
#[cfg(feature = "sim")]
pub(crate) fn parse_authorization(value: &str) -> Option<Authorization> {
    use base64::Engine as _;
    let (name, rest) = value.split_once(' ')?;
    let algorithm = SigningAlgorithm::from_name(name)?;
    let mut key = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(", ") {
        let (field, content) = part.split_once('=')?;
        match field {
            "PublicKeyId" => key = Some(content.to_owned()),
            "SignedHeaders" => signed = Some(content.split(';').map(str::to_owned).collect()),
            // Base64 ends in `=` padding: everything after the first `=`.
            "Signature" => {
                signature = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .ok()
            }
            _ => return None,
        }
    }
    Some(Authorization {
        algorithm,
        public_key_id: key?,
        signed_headers: signed?,
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_collapse_slashes_and_encode_segments() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/live/v2/reports"), "/live/v2/reports");
        assert_eq!(canonical_uri("/foo//bar/"), "/foo/bar/");
        assert_eq!(canonical_uri("/\u{1234}"), "/%E1%88%B4");
        assert_eq!(canonical_uri("/a b"), "/a%20b");
    }

    #[test]
    fn queries_sort_by_encoded_name_then_value() {
        let query = canonical_query([("foo", "b"), ("foo", "a"), ("A.10", "x"), ("A.2", "y")]);
        assert_eq!(query, "A.10=x&A.2=y&foo=a&foo=b");
        assert_eq!(canonical_query([("reportTypes", "A,B")]), "reportTypes=A%2CB");
        assert_eq!(canonical_query([]), "");
    }

    /// P37 of `shared/providers/amazon.md` §3.9: a create report request.
    #[test]
    fn a_create_report_request_hashes_as_computed_in_the_facts() {
        let body = br#"{"reportType":"_GET_FLAT_FILE_OFFAMAZONPAYMENTS_AUTHORIZATION_DATA_","startTime":"20221114T074550Z","endTime":"20221114T074550Z"}"#;
        let canonical = canonical_request(
            "POST",
            "/live/v2/reports",
            [],
            [
                ("accept", "application/json"),
                ("content-type", "application/json"),
                ("x-amz-pay-date", "20221114T074550Z"),
                ("x-amz-pay-host", "pay-api.amazon.com"),
                (
                    "x-amz-pay-idempotency-key",
                    "2f0e6e1c8b0a4d3f9a7b5c1d2e3f4a5b",
                ),
                ("x-amz-pay-region", "na"),
            ],
            body,
        );
        assert!(canonical.text.ends_with(
            "6865012f4c6f7dcb41785f56dedfadad2bfbab5b612b86c0eb601672e25b18d4"
        ));
        assert_eq!(
            canonical.signed_headers,
            "accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region"
        );
        assert_eq!(
            string_to_sign(SigningAlgorithm::V2, &canonical),
            "AMZN-PAY-RSASSA-PSS-V2\na31b90ff8a4b6e079f46dba2821ab36147ada7a7a0f885833ce267d3e963b0d2"
        );
    }

    #[test]
    fn authorization_headers_read_back() {
        let prefix = authorization_prefix(SigningAlgorithm::Legacy, "KEY1", "accept;x-amz-pay-date");
        let parsed = parse_authorization(&format!("{prefix}AQID")).unwrap();
        assert_eq!(parsed.algorithm, SigningAlgorithm::Legacy);
        assert_eq!(parsed.public_key_id, "KEY1");
        assert_eq!(parsed.signed_headers, ["accept", "x-amz-pay-date"]);
        assert_eq!(parsed.signature, [1, 2, 3]);
        assert_eq!(parse_authorization("Bearer abc"), None);
    }
}
