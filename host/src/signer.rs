//! Answers to [`Action::Sign`](reportflow::Action::Sign): the [`Signer`] a
//! [`Transport`](crate::blocking::Transport) consults, and, with the
//! `rsa-signer` feature, `RsaSigner` for hosts that hold the private key
//! themselves.
//!
//! A host whose key lives in a KMS or an HSM implements [`Signer`] over its
//! client; the job only ever sees the signature.

use reportflow::SignRequest;

/// Signs what a job asks to be signed.
pub trait Signer: std::fmt::Debug + Send + Sync {
    /// The raw signature of `request.message` with the key `request.key_id`
    /// names, as `request.algorithm` says; `Err` with a one-line reason when
    /// it cannot (unknown key, KMS unreachable). The reason must not quote
    /// key material.
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String>;
}

/// A private key held by this process: RSASSA-PSS over SHA-256 with a salt
/// from the operating system's random source.
#[cfg(feature = "rsa-signer")]
#[derive(Debug, Clone)]
pub struct RsaSigner {
    key: reportflow::RsaKey,
    /// The key id this key answers for; `None`: any.
    key_id: Option<String>,
}

#[cfg(feature = "rsa-signer")]
impl RsaSigner {
    /// A signer from PEM text (PKCS#8 or PKCS#1) that signs for any key id.
    pub fn from_pem(pem: &str) -> Result<Self, reportflow::ConfigError> {
        reportflow::RsaKey::from_pem(pem).map(|key| Self { key, key_id: None })
    }

    /// The same signer, refusing requests for other key ids (a host with
    /// several keys must not sign with the wrong one).
    #[must_use]
    pub fn for_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }
}

#[cfg(feature = "rsa-signer")]
impl Signer for RsaSigner {
    fn sign(&self, request: &SignRequest) -> Result<Vec<u8>, String> {
        if let Some(key_id) = self.key_id.as_deref().filter(|id| *id != request.key_id) {
            return Err(format!(
                "the job asks for key {} but this signer holds the key of {key_id}",
                request.key_id
            ));
        }
        Ok(self.key.sign_with(&mut rand_core::OsRng, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow::sim::amazon_pay::{self, PUBLIC_KEY_ID};
    use reportflow::sim::keys::MERCHANT_PRIVATE_KEY_PEM;
    use reportflow::sim::{Sandbox, SandboxConfig};
    use reportflow::{Action, Input, Millis, Provider, ReportJob};

    #[test]
    fn the_rsa_signer_signs_what_the_simulator_verifies_and_only_for_its_key() {
        let start = Millis(1_709_251_200_000);
        let mut sandbox = Sandbox::new(SandboxConfig::default().with_rows(5));
        let config = sandbox.job_config(Provider::AmazonPay);
        let mut job = ReportJob::new(
            amazon_pay::sample_spec(start),
            config,
            amazon_pay::credentials(),
            start,
        )
        .unwrap();
        let signer = RsaSigner::from_pem(MERCHANT_PRIVATE_KEY_PEM)
            .unwrap()
            .for_key_id(PUBLIC_KEY_ID);
        let request = loop {
            match job.poll(start) {
                Action::Sign(request) => break request,
                Action::Event(_) => {}
                other => panic!("{other:?}"),
            }
        };
        let first = signer.sign(&request).unwrap();
        assert_ne!(
            first,
            signer.sign(&request).unwrap(),
            "a random salt each time"
        );
        job.handle(
            start,
            Input::Signature {
                id: request.id,
                signature: &first,
            },
        )
        .unwrap();
        // The simulator verifies it: the create is accepted.
        let Action::Send(create) = job.poll(start) else {
            panic!()
        };
        let answer = sandbox.handle(start, &reportflow::sim::SimRequest::from_http(&create));
        assert_eq!(answer.status, 201);

        let other = RsaSigner::from_pem(MERCHANT_PRIVATE_KEY_PEM)
            .unwrap()
            .for_key_id("LIVE-SOMEONEELSE");
        assert!(other
            .sign(&request)
            .unwrap_err()
            .contains("LIVE-SOMEONEELSE"));
        assert!(RsaSigner::from_pem("-----BEGIN PRIVATE KEY-----\nnope\n").is_err());
        assert!(!format!("{signer:?}").contains("BEGIN"));
    }
}
