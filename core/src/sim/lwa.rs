//! A simulated Login-with-Amazon token endpoint (`POST /auth/o2/token`,
//! refresh-token grant), for the simulators of APIs that take LwA access
//! tokens. It issues seeded `Atza|…` tokens valid [`TOKEN_LIFETIME_S`] and
//! checks them, as `shared/providers/amazon.md` §1.2 describes.

use std::collections::BTreeMap;

use serde_json::json;

use super::{SimRequest, SimResponse};
use crate::retry::splitmix64;
use crate::time::Millis;

/// Lifetime of an issued access token, in seconds.
pub(crate) const TOKEN_LIFETIME_S: u64 = 3_600;

/// The LwA app a simulator accepts: client id, secret and refresh token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct App {
    pub(crate) client_id: &'static str,
    pub(crate) client_secret: &'static str,
    pub(crate) refresh_token: &'static str,
}

#[derive(Debug, Clone)]
struct Token {
    expires_at: Millis,
    revoked: bool,
}

/// Issues and checks access tokens for one [`App`]. `Debug` shows how many
/// were issued, never the tokens.
#[derive(Clone)]
pub(crate) struct Issuer {
    app: App,
    seed: u64,
    tokens: BTreeMap<String, Token>,
    issued: u64,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("client_id", &self.app.client_id)
            .field("issued", &self.issued)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    pub(crate) fn new(app: App, seed: u64) -> Self {
        Self {
            app,
            seed,
            tokens: BTreeMap::new(),
            issued: 0,
        }
    }

    /// Tokens issued so far.
    pub(crate) fn issued(&self) -> u64 {
        self.issued
    }

    /// Answers the token endpoint: `200` with a fresh token, or RFC 6749's
    /// `400 unsupported_grant_type` / `401 invalid_client` / `400 invalid_grant`.
    pub(crate) fn grant(&mut self, now: Millis, request: &SimRequest) -> SimResponse {
        let form: BTreeMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("refresh_token") {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            );
        }
        if field("client_id") != Some(self.app.client_id)
            || field("client_secret") != Some(self.app.client_secret)
        {
            return oauth_error(401, "invalid_client", "Client authentication failed");
        }
        if field("refresh_token") != Some(self.app.refresh_token) {
            return oauth_error(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            );
        }
        self.issued = self.issued.saturating_add(1);
        let n = self.issued;
        let random = |salt: u64| splitmix64(self.seed ^ splitmix64(salt ^ n));
        let token = format!(
            "Atza|sim-CANARY-{:016x}{:016x}",
            random(0x746f_6b00),
            random(0x746f_6b01)
        );
        self.tokens.insert(
            token.clone(),
            Token {
                expires_at: now.saturating_add(TOKEN_LIFETIME_S * 1000),
                revoked: false,
            },
        );
        SimResponse::json(
            200,
            &json!({
                "access_token": token,
                "refresh_token": self.app.refresh_token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME_S,
            }),
        )
    }

    /// Whether `token` is one this issuer gave out, unrevoked and unexpired
    /// at `now`; else why not.
    pub(crate) fn check(&self, now: Millis, token: Option<&str>) -> Result<(), &'static str> {
        match token.and_then(|token| self.tokens.get(token)) {
            None => Err("The access token is missing or unknown"),
            Some(token) if token.revoked || now >= token.expires_at => {
                Err("The access token you provided has expired")
            }
            Some(_) => Ok(()),
        }
    }

    /// Revokes every token issued so far (the `expired-token` fault).
    pub(crate) fn revoke_all(&mut self) {
        for token in self.tokens.values_mut() {
            token.revoked = true;
        }
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    const APP: App = App {
        client_id: "client",
        client_secret: "secret",
        refresh_token: "Atzr|r",
    };

    fn grant(form: &str) -> SimRequest {
        let mut request = SimRequest::new(Method::Post, "/auth/o2/token");
        request.body = form.as_bytes().to_vec();
        request
    }

    #[test]
    fn tokens_are_issued_checked_expired_and_revoked() {
        let mut issuer = Issuer::new(APP, 7);
        let ok = issuer.grant(
            Millis(0),
            &grant("grant_type=refresh_token&refresh_token=Atzr%7Cr&client_id=client&client_secret=secret"),
        );
        assert_eq!(ok.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert!(issuer.check(Millis(1), Some(&token)).is_ok());
        assert!(issuer
            .check(Millis(TOKEN_LIFETIME_S * 1000), Some(&token))
            .is_err());
        assert!(issuer.check(Millis(1), Some("Atza|other")).is_err());
        issuer.revoke_all();
        assert!(issuer.check(Millis(1), Some(&token)).is_err());
        let bad_secret = issuer.grant(
            Millis(0),
            &grant(
                "grant_type=refresh_token&refresh_token=Atzr%7Cr&client_id=client&client_secret=x",
            ),
        );
        assert_eq!(bad_secret.status, 401);
        let bad_grant = issuer.grant(
            Millis(0),
            &grant(
                "grant_type=refresh_token&refresh_token=x&client_id=client&client_secret=secret",
            ),
        );
        assert_eq!(bad_grant.status, 400);
        assert_eq!(issuer.issued(), 1);
        assert!(!format!("{issuer:?}").contains("Atza"));
    }
}
