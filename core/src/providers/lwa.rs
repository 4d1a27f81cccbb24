//! Login with Amazon (LwA): the refresh-token grant every Amazon API that
//! takes an LwA access token shares (Amazon Ads, the Selling Partner API).
//!
//! Facts (`shared/providers/amazon.md` §1.2): `POST {auth}/auth/o2/token`
//! with a form body `grant_type=refresh_token`, `refresh_token`,
//! `client_id`, `client_secret`; `200 {"access_token": "Atza|…",
//! "expires_in": 3600, …}`; errors are RFC 6749 §5.2 `{"error",
//! "error_description"}`. Access tokens are global (a token from any of the
//! three LwA hosts works everywhere); they are refreshed a minute before
//! they expire and never persisted (a restored job fetches one).

use super::{check_credential, excerpt, retry_after, Cx, Outgoing, Verdict};
use crate::error::{ConfigError, Error};
use crate::http::{Body, Header};
use crate::provider::Provider;
use crate::secret::Secret;
use crate::time::Millis;

/// The token call, as errors and hosts name it.
pub(crate) const TOKEN: &str = "POST /auth/o2/token";
/// Refresh an access token this long before it expires.
const TOKEN_MARGIN_MS: u64 = 60_000;

/// Login-with-Amazon credentials. `Debug` redacts the secrets; they are never
/// serialized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// LwA client id (`amzn1.application-oa2-client.…`); Amazon Ads also
    /// sends it as `Amazon-Advertising-API-ClientId`.
    pub client_id: String,
    /// LwA client secret.
    pub client_secret: Secret<String>,
    /// LwA refresh token (`Atzr|…`).
    pub refresh_token: Secret<String>,
    /// A current access token (`Atza|…`), if the host has one.
    pub access_token: Option<Secret<String>>,
    /// When `access_token` expires; without it the token is used until refused.
    pub access_token_expires_at: Option<Millis>,
}

crate::json_fields::deserialize_struct! {
    Credentials, fields = Camel, unknown = Ignore;
    client_id, client_secret, refresh_token, access_token, access_token_expires_at
}

impl Credentials {
    /// Credentials that obtain access tokens with the refresh token.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret.into()),
            refresh_token: Secret::new(refresh_token.into()),
            access_token: None,
            access_token_expires_at: None,
        }
    }

    /// The same credentials with a current access token.
    #[must_use]
    pub fn with_access_token(
        mut self,
        token: impl Into<String>,
        expires_at: Option<Millis>,
    ) -> Self {
        self.access_token = Some(Secret::new(token.into()));
        self.access_token_expires_at = expires_at;
        self
    }

    /// Refuses credentials no LwA server issues, before anything is sent.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        check_credential("clientId", &self.client_id)?;
        check_credential("clientSecret", self.client_secret.expose())?;
        check_credential("refreshToken", self.refresh_token.expose())?;
        if let Some(token) = &self.access_token {
            check_credential("accessToken", token.expose())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AccessToken {
    value: Secret<String>,
    expires_at: Option<Millis>,
}

/// The access token a machine holds: a secret, never persisted (machines
/// keep it `#[serde(skip)]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Session {
    token: Option<AccessToken>,
}

impl Session {
    /// Takes the host's current access token, if it supplied one.
    pub(crate) fn install(&mut self, credentials: &Credentials) {
        self.token = credentials.access_token.clone().map(|value| AccessToken {
            value,
            expires_at: credentials.access_token_expires_at,
        });
    }

    /// Drops the token (refused, or the machine is being persisted).
    pub(crate) fn forget(&mut self) {
        self.token = None;
    }

    /// Whether a token must be fetched before the next API call: none held,
    /// or it expires within a minute.
    pub(crate) fn needs_token(&self, now: Millis) -> bool {
        self.token.as_ref().map_or(true, |token| {
            token
                .expires_at
                .is_some_and(|at| now.saturating_add(TOKEN_MARGIN_MS) >= at)
        })
    }

    /// The access token to send (empty if none is held: the API refuses it
    /// and the machine fetches one).
    pub(crate) fn access_token(&self) -> &str {
        self.token
            .as_ref()
            .map(|t| t.value.expose().as_str())
            .unwrap_or_default()
    }

    /// The refresh-token grant, to `{auth_origin}/auth/o2/token`. The form
    /// holds the client secret and refresh token: a secret body.
    pub(crate) fn request(auth_origin: &str, credentials: &Credentials) -> Outgoing {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", credentials.refresh_token.expose())
            .append_pair("client_id", &credentials.client_id)
            .append_pair("client_secret", credentials.client_secret.expose())
            .finish();
        Outgoing::post(
            TOKEN,
            format!("{auth_origin}/auth/o2/token"),
            vec![
                Header::plain(
                    "Content-Type",
                    "application/x-www-form-urlencoded;charset=UTF-8",
                ),
                Header::plain("Accept", "application/json"),
            ],
            Body::Secret(Secret::new(form.into_bytes())),
        )
    }

    /// Judges the token endpoint's answer for `provider`: a token kept
    /// (`Proceed`); 429 and 5xx retried (after `Retry-After` when given);
    /// anything else a typed rejection naming what to check.
    pub(crate) fn on_reply(
        &mut self,
        provider: Provider,
        cx: &mut Cx<'_>,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Verdict {
        if (200..300).contains(&status) {
            return match crate::json_fields::from_slice::<TokenResponse>(body) {
                Ok(token) if !token.access_token.is_empty() => {
                    let expires_at = token
                        .expires_in
                        .map(|s| cx.now.saturating_add(s.saturating_mul(1000)));
                    self.token = Some(AccessToken {
                        value: Secret::new(token.access_token),
                        expires_at,
                    });
                    Verdict::Proceed
                }
                // serde's message could quote the token; say only what was wrong.
                _ => Verdict::Retry {
                    cause: Error::MalformedResponse {
                        provider,
                        endpoint: TOKEN.to_owned(),
                        detail: "not a token response (access_token missing)".to_owned(),
                    },
                    at_least: None,
                },
            };
        }
        let parsed = crate::json_fields::from_slice::<TokenError>(body).ok();
        let code = parsed.as_ref().and_then(|e| e.error.clone());
        let description = parsed
            .and_then(|e| e.error_description)
            .unwrap_or_else(|| excerpt(body, 200));
        if status == 429 || status >= 500 {
            return Verdict::Retry {
                cause: Error::UnexpectedStatus {
                    provider,
                    endpoint: TOKEN.to_owned(),
                    status,
                    detail: description,
                },
                at_least: retry_after(cx.now, headers),
            };
        }
        Verdict::Fatal(Error::Rejected {
            provider,
            endpoint: TOKEN.to_owned(),
            status,
            code,
            detail: description
                + " — check the LwA client id, client secret and refresh token (a revoked grant needs a new authorization)",
        })
    }
}

/// LwA token response (RFC 6749 §5.1).
#[derive()]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

crate::json_fields::deserialize_struct! {
    TokenResponse, fields = Verbatim, unknown = Ignore;
    access_token, expires_in
}

/// LwA error response (RFC 6749 §5.2).
#[derive(Debug)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

crate::json_fields::deserialize_struct! {
    TokenError, fields = Verbatim, unknown = Ignore;
    error, error_description
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::JobConfig;
    use std::collections::VecDeque;

    #[test]
    fn credentials_debug_is_redacted() {
        let credentials = Credentials::new("client", "canary-secret", "Atzr|canary")
            .with_access_token("Atza|canary", None);
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(credentials.check().is_ok());
        assert!(Credentials::new("c", "s\r\n", "r").check().is_err());
    }

    #[test]
    fn the_grant_is_a_secret_form_and_the_answer_sets_the_expiry() {
        let request = Session::request(
            "https://api.amazon.com",
            &Credentials::new("c", "s", "Atzr|r"),
        );
        assert_eq!(request.url, "https://api.amazon.com/auth/o2/token");
        assert!(matches!(request.body, Body::Secret(_)));
        assert!(!format!("{request:?}").contains("Atzr"));

        let config = JobConfig::default();
        let mut events = VecDeque::new();
        let mut cx = Cx::new(Millis(1_000), &config, &mut events);
        let mut session = Session::default();
        assert!(session.needs_token(Millis(0)));
        let body = br#"{"access_token":"Atza|x","expires_in":3600}"#;
        let verdict = session.on_reply(Provider::AmazonAds, &mut cx, 200, &[], body);
        assert!(matches!(verdict, Verdict::Proceed));
        assert_eq!(session.access_token(), "Atza|x");
        assert!(!session.needs_token(Millis(1_000 + 3_539_000)));
        assert!(session.needs_token(Millis(1_000 + 3_540_000)));

        let refused = br#"{"error":"invalid_grant","error_description":"revoked"}"#;
        match session.on_reply(Provider::AmazonAds, &mut cx, 400, &[], refused) {
            Verdict::Fatal(Error::Rejected { code, detail, .. }) => {
                assert_eq!(code.as_deref(), Some("invalid_grant"));
                assert!(detail.contains("revoked"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let busy = session.on_reply(
            Provider::AmazonAds,
            &mut cx,
            429,
            &[("Retry-After".into(), "3".into())],
            b"",
        );
        assert!(
            matches!(busy, Verdict::Retry { at_least: Some(at), .. } if at == Millis(4_000)),
            "{busy:?}"
        );
        let garbled = session.on_reply(
            Provider::AmazonAds,
            &mut cx,
            200,
            &[],
            b"{\"access_token\":\"\"}",
        );
        assert!(matches!(garbled, Verdict::Retry { .. }));
    }
}
