//! Amazon MWS request signing: AWS Signature Version 2 with HmacSHA256, a
//! pure function of the parameters, the request line and the secret key.
//!
//! ```text
//! params (without Signature)
//!   → RFC 3986 percent-encode names and values (unreserved A-Z a-z 0-9 - _ . ~
//!     stay; every other UTF-8 byte is %XY, upper-case hex; space is %20)
//!   → sort by encoded name in byte order → "n1=v1&n2=v2…"   (canonical query)
//!   → "POST\n" + lower-case host + "\n" + path ("/" if empty) + "\n" + query
//!   → HMAC-SHA256(secret key) → Base64 (standard, padded) = Signature
//! ```
//!
//! Checked against every vector of `shared/specs/amazon-mws/signing-test-vectors.json`
//! and the MWS-shaped vectors M1–M4 of `shared/providers/amazon.md` §2.10
//! (`core/tests/amazon_mws_spec_conformance.rs`). The simulator verifies
//! requests with these same functions over the parameters it received, so
//! the two sides agree by construction and the vectors pin both to Amazon.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Percent-encodes `text` as SigV2 wants it (RFC 3986): only the unreserved
/// characters stay as they are; a space is `%20`, never `+`.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            // `{:02X}`: upper-case hex, as SigV2 requires.
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical query of `params`: encoded pairs sorted by encoded name
/// (natural byte order, so `Id.1` < `Id.10` < `Id.2`), joined by `&`. A
/// `Signature` parameter is left out: it is what is being computed.
pub(crate) fn canonical_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(name, _)| *name != "Signature")
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    // Names are unique in a request; the value breaks ties so the order is
    // total even for a hostile parameter list.
    pairs.sort_unstable_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The string to sign: verb, lower-case host (no port for the standard
/// ones: the caller passes the host as the `Host` header carries it), the
/// path (`/` when empty) and the canonical query, joined by `\n`.
pub(crate) fn string_to_sign(method: &str, host: &str, path: &str, canonical: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        host.to_ascii_lowercase(),
        path,
        canonical
    )
}

/// `Base64(HMAC-SHA256(secret, string_to_sign))`, standard alphabet, padded.
pub(crate) fn signature(secret: &str, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length; the error arm cannot happen but must
    // not panic either.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Signs `params` for a request `method host path` and returns the wire
/// form: the canonical query with `&Signature=<encoded signature>` appended
/// (the form body of a POST, or the query of a GET).
pub(crate) fn signed_query<'a>(
    method: &str,
    host: &str,
    path: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &str,
) -> String {
    let canonical = canonical_query(params);
    let signature = signature(secret, &string_to_sign(method, host, path, &canonical));
    format!("{canonical}&Signature={}", encode(&signature))
}

/// Whether `given` is the signature of `params` (everything but
/// `Signature`) under `secret`; the simulator's check. Compared in constant
/// time through the MAC, so the check leaks nothing about the right value.
pub(crate) fn verify<'a>(
    method: &str,
    host: &str,
    path: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    secret: &str,
    given: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    let canonical = canonical_query(params);
    mac.update(string_to_sign(method, host, path, &canonical).as_bytes());
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b~c*d+e/f=g&hé"), "a%20b~c%2Ad%2Be%2Ff%3Dg%26h%C3%A9");
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn names_sort_in_byte_order_and_signature_is_left_out() {
        let query = canonical_query([
            ("ReportRequestIdList.Id.2", "2"),
            ("Signature", "x"),
            ("ReportRequestIdList.Id.10", "10"),
            ("ReportRequestIdList.Id.1", "1"),
            ("Action", ""),
        ]);
        assert_eq!(
            query,
            "Action=&ReportRequestIdList.Id.1=1&ReportRequestIdList.Id.10=10&ReportRequestIdList.Id.2=2"
        );
    }

    #[test]
    fn host_is_lower_cased_and_an_empty_path_is_a_slash() {
        assert_eq!(string_to_sign("get", "MWS-EU.amazonservices.com", "", "a=b"), "GET\nmws-eu.amazonservices.com\n/\na=b");
    }

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/amazon-mws/signing-test-vectors.json"
    ));

    /// Every published vector: the canonical query rebuilt from the
    /// parameters, the string to sign and the signature (plain and
    /// URL-encoded) all equal the documented ones.
    #[test]
    fn every_published_sigv2_vector_reproduces() {
        let file: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = file["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 4, "every vector in the file is checked");
        for vector in vectors {
            let name = vector["name"].as_str().unwrap();
            let field = |key: &str| vector[key].as_str().unwrap_or_else(|| panic!("{name}: {key}"));
            let params: Vec<(&str, &str)> = vector["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let canonical = canonical_query(params.iter().copied());
            assert_eq!(canonical, field("canonical_query"), "{name}");
            let to_sign = string_to_sign(field("http_method"), field("host"), field("path"), &canonical);
            assert_eq!(to_sign, field("string_to_sign"), "{name}");
            let signed = signature(field("secret_key"), &to_sign);
            assert_eq!(signed, field("expected_signature"), "{name}");
            assert_eq!(encode(&signed), field("expected_signature_urlencoded"), "{name}");
            let query = signed_query(field("http_method"), field("host"), field("path"), params.iter().copied(), field("secret_key"));
            assert!(query.ends_with(&format!("&Signature={}", field("expected_signature_urlencoded"))), "{name}");
            assert!(verify(field("http_method"), field("host"), field("path"), params.iter().copied(), field("secret_key"), &signed));
        }
    }

    /// The MWS-shaped vectors M1–M4 of `shared/providers/amazon.md` §2.10
    /// (M1 is the AWS General Reference example; M2–M4 were computed there
    /// with an independent implementation).
    #[test]
    fn the_mws_shaped_vectors_of_the_provider_notes_reproduce() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let common = |action: &'static str, merchant: bool, stamp: &'static str, version: &'static str| {
            let mut params = vec![
                ("AWSAccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
                ("Action", action),
                ("SignatureMethod", "HmacSHA256"),
                ("SignatureVersion", "2"),
                ("Timestamp", stamp),
                ("Version", version),
            ];
            if merchant {
                params.push(("Merchant", "A1BCDEFGHIJKL"));
            }
            params
        };
        let m1 = common("DescribeJobFlows", false, "2011-10-03T15:19:30", "2009-03-31");
        let mut m2 = common("RequestReport", true, "2009-01-26T23:12:31.390Z", "2009-01-01");
        m2.extend([
            ("MWSAuthToken", "amzn.mws.4ea38b7b-f563-7709-4bae-87aeaEXAMPLE"),
            ("MarketplaceIdList.Id.1", "ATVPDKIKX0DER"),
            ("ReportType", "_GET_MERCHANT_LISTINGS_DATA_"),
            ("StartDate", "2009-01-01T00:00:00Z"),
        ]);
        let mut m3 = common("GetReportRequestList", true, "2020-01-02T03:04:05Z", "2009-01-01");
        m3.extend([
            ("ReportOptions", "a b~c*d+e/f=g&hé"),
            ("ReportRequestIdList.Id.2", "2"),
            ("ReportRequestIdList.Id.10", "10"),
            ("ReportRequestIdList.Id.1", "1"),
        ]);
        let mut m4 = common("GetReport", true, "2011-02-17T23:50:00Z", "2009-01-01");
        m4.push(("ReportId", "3538561173"));
        let cases = [
            ("M1", "GET", "elasticmapreduce.amazonaws.com", "/", m1, "i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf/Mj6vPxyYIs="),
            ("M2", "POST", "mws.amazonservices.com", "/Reports/2009-01-01", m2, "Afyy3sPZXzsqXLpCYzjzs0MDprFAHjN/lo2QZMHbmC0="),
            ("M3", "GET", "MWS-EU.amazonservices.com", "", m3, "6+/6Z17N7GPBJnmK9Ad5HPUo5fm8iqic0ORI1fxgvx4="),
            ("M4", "POST", "mws.amazonservices.com", "/", m4, "zzlHD4pc7Z/RBpPggGrZB9rwDGZMOrv8Y0kbKkdV0KA="),
        ];
        for (name, method, host, path, params, expected) in cases {
            let to_sign = string_to_sign(method, host, path, &canonical_query(params.iter().copied()));
            assert_eq!(signature(key, &to_sign), expected, "{name}: {to_sign}");
        }
    }

    /// The Content-MD5 vectors M5–M7 of `shared/providers/amazon.md` §2.10,
    /// M7 being the recorded settlement body and its live header.
    #[test]
    fn the_content_md5_vectors_reproduce() {
        use crate::integrity::Md5;
        assert_eq!(Md5::digest(b"").to_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(Md5::digest(b"abc\tdef").to_base64(), "Zj+Bh1BJ8HzBb9ToK28qFQ==");
        let body = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/specs/amazon-mws/examples/get-report-settlement-body.recorded.tsv"
        ));
        assert_eq!(body.len(), 959);
        assert_eq!(Md5::digest(body).to_base64(), "VPyhpBI0FbLNyCCD+fmo/Q==");
    }

    #[test]
    fn verify_accepts_its_own_signature_and_nothing_else() {
        let params = [("Action", "GetReport"), ("ReportId", "1")];
        let query = signed_query("POST", "h", "/", params, "secret");
        let given = query.rsplit("Signature=").next().unwrap_or_default();
        let given = given.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
        assert!(verify("POST", "h", "/", params, "secret", &given));
        assert!(!verify("POST", "h", "/", params, "secre7", &given));
        assert!(!verify("POST", "h", "/x", params, "secret", &given));
        assert!(!verify("POST", "h", "/", params, "secret", "not base64!"));
    }
}
