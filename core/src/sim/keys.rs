//! The simulators' RSA key pairs (test fixtures, generated once for this
//! repository and useless anywhere else) and a deterministic RSASSA-PSS
//! signer and verifier over them.
//!
//! The signer answers [`Action::Sign`](crate::Action::Sign) for the
//! [`Harness`](super::Harness) and the demos. RSASSA-PSS is randomised by its
//! salt; here the salt is derived from the message, so the same run signs
//! the same bytes and traces stay reproducible. That is fine for a simulator
//! and wrong for production, where a host signs with a real random salt
//! (`reportflow-host`'s built-in signer, WebCrypto, a KMS).

use rsa::pkcs8::DecodePublicKey;
use rsa::pss;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};

use crate::sign::{RsaKey, SignRequest};

/// The simulated merchant's private key (PKCS#8 PEM): what the simulators
/// accept signatures from.
pub const MERCHANT_PRIVATE_KEY_PEM: &str = include_str!("fixtures/amazon_pay_merchant_key.pem");
/// The simulated merchant's public key (SPKI PEM), as registered with the
/// simulated Amazon Pay.
pub const MERCHANT_PUBLIC_KEY_PEM: &str = include_str!("fixtures/amazon_pay_merchant_public.pem");
/// Another key pair's private key: signatures made with it are refused
/// (the wrong-key tests).
pub const OTHER_PRIVATE_KEY_PEM: &str = include_str!("fixtures/amazon_pay_other_key.pem");

/// A private key that signs deterministically (see the module docs).
#[derive(Clone)]
pub struct TestSigner {
    /// `None` only if a committed fixture failed to parse (a unit test
    /// parses both): such a signer signs nothing, so the simulator refuses
    /// its requests with a 401 rather than anything panicking.
    key: Option<RsaKey>,
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestSigner(** redacted **)")
    }
}

impl TestSigner {
    /// The simulated merchant's key.
    pub fn merchant() -> Self {
        Self::fixture(MERCHANT_PRIVATE_KEY_PEM)
    }

    /// A key the simulators do not know.
    pub fn other() -> Self {
        Self::fixture(OTHER_PRIVATE_KEY_PEM)
    }

    fn fixture(pem: &str) -> Self {
        Self {
            key: RsaKey::from_pem(pem).ok(),
        }
    }

    /// A key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, crate::ConfigError> {
        RsaKey::from_pem(pem).map(|key| Self { key: Some(key) })
    }

    /// The raw signature `request` asks for (salt derived from the message).
    pub fn sign(&self, request: &SignRequest) -> Vec<u8> {
        let mut rng = DerivedRng::new(request.message.as_bytes());
        self.key
            .as_ref()
            .map_or_else(Vec::new, |key| key.sign_with(&mut rng, request))
    }
}

/// The simulated merchant's public key.
pub(crate) fn merchant_public_key() -> Option<RsaPublicKey> {
    RsaPublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY_PEM).ok()
}

/// Whether `signature` is a valid RSASSA-PSS (SHA-256, `salt_length`)
/// signature of `message` by `key`.
pub(crate) fn verify(
    key: &RsaPublicKey,
    salt_length: usize,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(signature) = pss::Signature::try_from(signature) else {
        return false;
    };
    pss::VerifyingKey::<Sha256>::new_with_salt_len(key.clone(), salt_length)
        .verify(message, &signature)
        .is_ok()
}

/// A byte stream derived from a seed with SHA-256 in counter mode: the PSS
/// salt of [`TestSigner`]. Not a source of secrets.
struct DerivedRng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl DerivedRng {
    fn new(seed: &[u8]) -> Self {
        Self {
            seed: Sha256::digest(seed).into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl rand_core::RngCore for DerivedRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.counter.to_be_bytes());
                self.block = hasher.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block.get(self.used).copied().unwrap_or_default();
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// PSS asks for a `CryptoRng`; the salt only has to differ between messages
// for this simulator's purposes.
impl rand_core::CryptoRng for DerivedRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RequestId;
    use crate::sign::SignatureAlgorithm;
    use crate::time::Millis;

    fn request(salt_length: u32) -> SignRequest {
        SignRequest {
            id: RequestId::new(1),
            key_id: "SANDBOX-KEY".into(),
            algorithm: SignatureAlgorithm::RsaPssSha256 { salt_length },
            message: "AMZN-PAY-RSASSA-PSS-V2\nabc".into(),
            sign_before: Millis(0),
        }
    }

    #[test]
    fn the_committed_fixture_keys_parse() {
        assert!(TestSigner::merchant().key.is_some());
        assert!(TestSigner::other().key.is_some());
        assert!(merchant_public_key().is_some());
    }

    #[test]
    fn signatures_verify_with_the_public_key_and_its_salt_length_only() {
        let public = merchant_public_key().unwrap();
        let message = request(32).message;
        let signature = TestSigner::merchant().sign(&request(32));
        assert_eq!(signature, TestSigner::merchant().sign(&request(32)));
        assert!(verify(&public, 32, message.as_bytes(), &signature));
        assert!(!verify(&public, 20, message.as_bytes(), &signature));
        assert!(!verify(&public, 32, b"another message", &signature));
        let legacy = TestSigner::merchant().sign(&request(20));
        assert!(verify(&public, 20, message.as_bytes(), &legacy));
        let forged = TestSigner::other().sign(&request(32));
        assert!(!verify(&public, 32, message.as_bytes(), &forged));
        assert!(!verify(&public, 32, message.as_bytes(), b"short"));
    }
}
