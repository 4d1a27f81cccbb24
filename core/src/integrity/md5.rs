//! Streaming MD5 and the digest type that travels in `Content-MD5` headers.

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::IntegrityError;

/// Streaming MD5 over any number of byte slices.
///
/// MD5 is used here only to detect accidental corruption against a digest the
/// provider publishes (for example Amazon's `Content-MD5`), never for security.
#[derive(Clone, Default)]
pub struct Md5(reportflow_md5::Md5);

impl fmt::Debug for Md5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5 { .. }")
    }
}

impl Md5 {
    /// Creates an MD5 of zero bytes.
    #[must_use]
    pub fn new() -> Self {
        Self(reportflow_md5::Md5::default())
    }

    /// Adds `data`; call once per chunk, in order.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Returns the digest of all bytes added.
    #[must_use]
    pub fn finalize(self) -> Md5Digest {
        Md5Digest(self.0.finalize())
    }

    /// Returns the MD5 of `data` in one call.
    #[must_use]
    pub fn digest(data: &[u8]) -> Md5Digest {
        let mut h = Self::new();
        h.update(data);
        h.finalize()
    }
}

/// A 16-byte MD5 digest.
///
/// Displays (and serializes) as 32 lowercase hex digits. [`Md5Digest::parse`]
/// reads both forms providers publish: hex (S3 `ETag`, Amazon report
/// documents) and base64 (HTTP `Content-MD5`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Md5Digest(pub [u8; 16]);

const HEX: &[u8; 16] = b"0123456789abcdef";
/// How many characters of a rejected input an error message quotes.
const QUOTE_MAX_CHARS: usize = 40;

impl Md5Digest {
    /// Returns the digest as 32 lowercase hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            for nibble in [b >> 4, b & 0x0f] {
                let digit = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
                s.push(char::from(digit));
            }
        }
        s
    }

    /// Returns the digest in standard padded base64 (24 characters), the form
    /// of the HTTP `Content-MD5` header.
    #[must_use]
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Returns the 16 digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses a digest published by a provider.
    ///
    /// Accepts 32 hex digits in any case, or 24 characters of standard padded
    /// base64. Surrounding ASCII whitespace and one pair of surrounding double
    /// quotes (as in an `ETag` value) are ignored.
    ///
    /// # Errors
    ///
    /// [`IntegrityError::InvalidMd5`] for anything else; the message quotes at
    /// most the first 40 characters of `s`.
    pub fn parse(s: &str) -> Result<Self, IntegrityError> {
        let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let t = t
            .strip_prefix('"')
            .and_then(|u| u.strip_suffix('"'))
            .unwrap_or(t);
        if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 16];
            for (o, pair) in out.iter_mut().zip(t.as_bytes().chunks_exact(2)) {
                if let [hi, lo] = pair {
                    *o = (hex_val(*hi) << 4) | hex_val(*lo);
                }
            }
            return Ok(Self(out));
        }
        if t.len() == 24 {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(t) {
                if let Ok(arr) = <[u8; 16]>::try_from(bytes.as_slice()) {
                    return Ok(Self(arr));
                }
            }
        }
        Err(IntegrityError::InvalidMd5 {
            detail: describe_rejected(s),
        })
    }
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

fn describe_rejected(s: &str) -> String {
    let quoted: String = s.chars().take(QUOTE_MAX_CHARS).collect();
    let more = if s.chars().nth(QUOTE_MAX_CHARS).is_some() {
        "…"
    } else {
        ""
    };
    format!("got {} bytes: {quoted:?}{more}", s.len())
}

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Digest({})", self.to_hex())
    }
}

impl FromStr for Md5Digest {
    type Err = IntegrityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<[u8; 16]> for Md5Digest {
    fn from(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl Serialize for Md5Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Md5Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1321, appendix A.5.
    const RFC1321: &[(&str, &str)] = &[
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            "abcdefghijklmnopqrstuvwxyz",
            "c3fcd3d76192e4007dfb496cca67e13b",
        ),
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];

    #[test]
    fn rfc1321_vectors_hex_and_base64() {
        for (input, hex) in RFC1321 {
            let d = Md5::digest(input.as_bytes());
            assert_eq!(d.to_hex(), *hex);
            assert_eq!(d.to_string(), *hex);
            assert_eq!(Md5Digest::parse(hex).unwrap(), d);
            assert_eq!(Md5Digest::parse(&hex.to_uppercase()).unwrap(), d);
            let b64 = d.to_base64();
            assert_eq!(b64.len(), 24);
            assert_eq!(Md5Digest::parse(&b64).unwrap(), d);
        }
        // Known Content-MD5 form of md5("").
        assert_eq!(Md5::digest(b"").to_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut h = Md5::new();
        for c in data.chunks(33) {
            h.update(c);
        }
        assert_eq!(h.finalize(), Md5::digest(&data));
    }

    #[test]
    fn parse_trims_and_unquotes() {
        let d = Md5::digest(b"abc");
        assert_eq!(
            Md5Digest::parse("  \"900150983cd24fb0d6963f7d28e17f72\"\r\n").unwrap(),
            d
        );
    }

    #[test]
    fn parse_rejects_with_truncated_detail() {
        for bad in [
            "",
            "xyz",
            "900150983cd24fb0d6963f7d28e17f7",
            "900150983cd24fb0d6963f7d28e17f7g",
            "1B2M2Y8AsgTpgAmY7PhCfg=",
            "1B2M2Y8AsgTpgAmY7PhC====",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let e = Md5Digest::parse(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_md5", "{bad}");
        }
        let huge = "z".repeat(1 << 20);
        let e = Md5Digest::parse(&huge).unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
    }

    #[test]
    fn serde_is_hex_string() {
        let d = Md5::digest(b"abc");
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(s, "\"900150983cd24fb0d6963f7d28e17f72\"");
        assert_eq!(serde_json::from_str::<Md5Digest>(&s).unwrap(), d);
        assert!(serde_json::from_str::<Md5Digest>("\"nope\"").is_err());
    }
}
