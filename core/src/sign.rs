//! Signing through the host: what a job asks to be signed
//! ([`SignRequest`], from [`crate::Action::Sign`]) and how
//! ([`SignatureAlgorithm`]). The host answers with
//! [`crate::Input::Signature`].
//!
//! Some providers sign requests with a private key that merchants keep out of
//! every process they can (a KMS, an HSM, a browser's non-extractable
//! WebCrypto key). The job therefore never holds such a key: it builds the
//! exact bytes to sign, names the key and the algorithm, and the host signs
//! them wherever the key lives.

use serde::Serialize;

use crate::http::RequestId;
use crate::time::Millis;

/// Largest signature a host may hand back (an 8192-bit RSA signature).
pub const MAX_SIGNATURE_BYTES: usize = 1024;

/// How the host must sign [`SignRequest::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "name", rename_all = "camelCase")]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PSS (RFC 8017) with SHA-256 as the digest and in MGF1, trailer
    /// field 1, and a salt of `salt_length` bytes. WebCrypto:
    /// `{ name: "RSA-PSS", saltLength }` with a key imported for
    /// `{ name: "RSA-PSS", hash: "SHA-256" }`.
    RsaPssSha256 {
        /// Salt length in bytes (Amazon Pay: 32 for `AMZN-PAY-RSASSA-PSS-V2`,
        /// 20 for the legacy `AMZN-PAY-RSASSA-PSS`).
        #[serde(rename = "saltLength")]
        salt_length: u32,
    },
}

crate::json_fields::deserialize_tagged! {
    SignatureAlgorithm, tag = "name", fields = Camel;
    "rsaPssSha256" => RsaPssSha256 { salt_length },
}

/// A request for a signature, from [`crate::Action::Sign`].
///
/// The host signs `message` (its UTF-8 bytes) with the private key named by
/// `key_id` using `algorithm`, and feeds the raw signature bytes back with
/// [`crate::Input::Signature`] and this `id` before `sign_before`. The job
/// then emits the signed request as a `Send`. A signature that arrives later,
/// or for an id the job no longer waits for, is refused with
/// [`crate::InputError::StaleSignature`]; the job builds and asks anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SignRequest {
    /// Feed the signature back with this id. Ids of sign requests and HTTP
    /// requests come from one sequence, so they never collide.
    pub id: RequestId,
    /// Which key signs: the provider's name for it (Amazon Pay: the public
    /// key id registered in Seller Central).
    pub key_id: String,
    /// How to sign.
    pub algorithm: SignatureAlgorithm,
    /// The exact text to sign (Amazon Pay: the string to sign). Not a
    /// secret: it holds hashes and public header values only.
    pub message: String,
    /// The signed request goes stale at this instant (its date header ages);
    /// a signature fed later is refused and the job signs again.
    pub sign_before: Millis,
}

crate::json_fields::deserialize_struct! {
    SignRequest, fields = Camel, unknown = Ignore;
    id, key_id, algorithm, message, sign_before
}

/// An RSA private key that answers [`SignRequest`]s (the `rsa` feature), for
/// hosts that hold the key themselves. The randomness of the RSASSA-PSS salt
/// comes from the caller, so the core still does no I/O: a host passes its
/// OS random source (`reportflow-host`'s `RsaSigner` does), the simulators a
/// seeded one.
#[cfg(feature = "rsa")]
#[derive(Clone)]
pub struct RsaKey {
    key: rsa::RsaPrivateKey,
}

#[cfg(feature = "rsa")]
impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(** redacted **)")
    }
}

#[cfg(feature = "rsa")]
impl RsaKey {
    /// A key from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`), as Amazon Pay's SDKs accept.
    pub fn from_pem(pem: &str) -> Result<Self, crate::error::ConfigError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
            .map(|key| Self { key })
            // The parser's message could quote the key: say only what to do.
            .map_err(|_| {
                crate::error::ConfigError::invalid(
                    "privateKey",
                    "is not an RSA private key in PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
                )
            })
    }

    /// The raw signature `request` asks for, its salt drawn from `rng`.
    pub fn sign_with<R>(&self, rng: &mut R, request: &SignRequest) -> Vec<u8>
    where
        R: rand_core::RngCore + rand_core::CryptoRng,
    {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let SignatureAlgorithm::RsaPssSha256 { salt_length } = request.algorithm;
        rsa::pss::SigningKey::<sha2::Sha256>::new_with_salt_len(
            self.key.clone(),
            salt_length as usize,
        )
        .sign_with_rng(rng, request.message.as_bytes())
        .to_vec()
    }
}
