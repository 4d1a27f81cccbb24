//! Login with Amazon (LwA): the access-token call every Amazon Ads API
//! (Sponsored Display v2 and Reporting v3) makes first. RFC 6749's refresh
//! token grant against the region's LwA host; the token is a secret and
//! never enters a snapshot (a restored job fetches a new one).

use super::config::Credentials;
use super::wire;
use crate::error::{ConfigError, Error};
use crate::http::{Body, Header};
use crate::providers::{check_credential, excerpt, Outgoing, Provider, Verdict};
use crate::secret::Secret;
use crate::time::Millis;

/// The token call's endpoint name.
pub(crate) const TOKEN: &str = "POST /auth/o2/token";

/// Refresh an access token this long before it expires.
const TOKEN_MARGIN_MS: u64 = 60_000;

/// An LwA access token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    value: Secret<String>,
    expires_at: Option<Millis>,
}

impl AccessToken {
    /// The current token the host supplied with the credentials, if any.
    pub(crate) fn supplied(credentials: &Credentials) -> Option<Self> {
        credentials.access_token.clone().map(|value| Self {
            value,
            expires_at: credentials.access_token_expires_at,
        })
    }

    /// Whether a token call must come first: no token, or one about to expire.
    pub(crate) fn needed(token: Option<&Self>, now: Millis) -> bool {
        token.map_or(true, |token| {
            token
                .expires_at
                .is_some_and(|at| now.saturating_add(TOKEN_MARGIN_MS) >= at)
        })
    }

    /// The `Authorization: Bearer …` header (secret) of an API call.
    pub(crate) fn bearer(token: Option<&Self>) -> Header {
        let value = token.map(|t| t.value.expose().as_str()).unwrap_or_default();
        Header::secret("Authorization", format!("Bearer {value}"))
    }
}

/// Refuses LwA credentials that cannot work, before anything is sent.
pub(crate) fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
    check_credential("clientId", &credentials.client_id)?;
    check_credential("clientSecret", credentials.client_secret.expose())?;
    check_credential("refreshToken", credentials.refresh_token.expose())?;
    if let Some(token) = &credentials.access_token {
        check_credential("accessToken", token.expose())?;
    }
    Ok(())
}

/// The refresh-token grant to `{auth}/auth/o2/token` (the form body, which
/// holds the client secret and refresh token, is secret).
pub(crate) fn token_request(auth: &str, credentials: &Credentials) -> Outgoing {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", credentials.refresh_token.expose())
        .append_pair("client_id", &credentials.client_id)
        .append_pair("client_secret", credentials.client_secret.expose())
        .finish();
    Outgoing::post(
        TOKEN,
        format!("{auth}/auth/o2/token"),
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

/// What an answer of the token call means.
pub(crate) enum TokenReply {
    /// A token, valid from `now`.
    Issued(AccessToken),
    /// Throttled or a server error: the caller judges it as any API call's
    /// (its rate bucket, its retry).
    Transient,
    /// Anything else, judged.
    Judged(Verdict),
}

/// Judges the token call's answer, received at `now`.
pub(crate) fn judge_token(provider: Provider, now: Millis, status: u16, body: &[u8]) -> TokenReply {
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<wire::TokenResponse>(body) {
            Ok(token) if !token.access_token.is_empty() => TokenReply::Issued(AccessToken {
                value: Secret::new(token.access_token),
                expires_at: token
                    .expires_in
                    .map(|s| now.saturating_add(s.saturating_mul(1000))),
            }),
            // serde's message could quote the token; say only what was wrong.
            _ => TokenReply::Judged(Verdict::Retry {
                cause: Error::MalformedResponse {
                    provider,
                    endpoint: TOKEN.to_owned(),
                    detail: "not a token response (access_token missing)".to_owned(),
                },
                at_least: None,
            }),
        };
    }
    if status == 429 || status >= 500 {
        return TokenReply::Transient;
    }
    let parsed = serde_json::from_slice::<wire::TokenError>(body).ok();
    let code = parsed.as_ref().and_then(|e| e.error.clone());
    let detail = parsed
        .and_then(|e| e.error_description)
        .unwrap_or_else(|| excerpt(body, 200))
        + " — check the LwA client id, client secret and refresh token (a revoked grant needs a new authorization)";
    TokenReply::Judged(Verdict::Fatal(Error::Rejected {
        provider,
        endpoint: TOKEN.to_owned(),
        status,
        code,
        detail,
    }))
}
