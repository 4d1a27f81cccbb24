//! Provider machines and the contract between them and [`crate::ReportJob`].
//!
//! A provider machine decides *what* to do next (which request, how long to
//! wait, what a status means); the job does the bookkeeping every provider
//! shares: request ids, the one request in flight, timeouts, bounded response
//! buffers, the streaming integrity pipeline, deadlines and terminal states.
//! Between the two sits the lifecycle every machine shares (pacing, budgets,
//! links, the download policy), so a provider's folder holds its protocol
//! and nothing else. `ARCHITECTURE.md` has the checklist for a new provider.

macro_rules! declare_provider_modules {
    ($($variant:ident $module:ident $name:literal $doc:literal,)*) => {
        $(#[cfg(feature = $name)] pub mod $module;)*
    };
}
// One folder per provider, from the one list in `crate::provider`; each is
// its cargo feature (named as the provider), all on by default.
crate::provider::for_each_provider!(declare_provider_modules);

#[cfg(any(feature = "amazon-ads", feature = "amazon-ads-v3"))]
mod ads_region;
#[cfg(any(
    feature = "amazon-ads",
    feature = "amazon-ads-v3",
    feature = "lingxing",
    feature = "amazon-sp-api"
))]
mod amazon_regions;
pub(crate) mod contract;
mod download;
pub(crate) mod driver;
pub(crate) mod lifecycle;
#[cfg(any(
    feature = "amazon-ads",
    feature = "amazon-ads-v3",
    feature = "amazon-sp-api"
))]
pub mod lwa;
mod pacing;
pub(crate) mod registry;
pub(crate) mod vocabulary;

pub use crate::provider::Provider;
pub(crate) use contract::{Protocol, Verdict};
pub(crate) use download::judge_link_status;
pub(crate) use lifecycle::Lifecycle;
pub(crate) use pacing::is_damaged_body;
pub(crate) use vocabulary::{
    Container, Cx, ExchangeFailure, Outgoing, Reply, ReportBody, Response, Step,
};

/// Whether a provider's link is absolute HTTP(S); anything else would send
/// the download to a place the host never meant to reach.
pub(crate) fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Refuses a credential no provider issues: control characters (a CR/LF
/// would split a header or a form) or more than 8 KiB. The value itself is
/// never quoted.
pub(crate) fn check_credential(field: &str, value: &str) -> Result<(), crate::error::ConfigError> {
    if value.chars().any(char::is_control) {
        return Err(crate::error::ConfigError::invalid(
            field,
            "contains a control character (CR, LF, tab…): copy the credential again without line breaks",
        ));
    }
    if value.len() > 8 << 10 {
        return Err(crate::error::ConfigError::invalid(
            field,
            "is longer than 8 KiB: not a credential",
        ));
    }
    Ok(())
}

/// `Retry-After` values beyond this are treated as this (a broken header
/// must not park a job for days).
const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1000;

/// The instant a `Retry-After: <seconds>` header of an answer received at
/// `now` names (capped at an hour), if it has one.
pub(crate) fn retry_after(
    now: crate::time::Millis,
    headers: &[(String, String)],
) -> Option<crate::time::Millis> {
    crate::http::find_header(headers, "retry-after")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(|seconds| now.saturating_add(seconds.saturating_mul(1000).min(MAX_RETRY_AFTER_MS)))
}

/// Percent-encodes an opaque id so it cannot change the URL's shape.
pub(crate) fn encode_segment(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A JSON answer as `T`, or `MalformedResponse` quoting the start of the body.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    provider: Provider,
    endpoint: &str,
    body: &[u8],
) -> Result<T, crate::error::Error> {
    crate::json_fields::from_slice(body).map_err(|e| crate::error::Error::MalformedResponse {
        provider,
        endpoint: endpoint.to_owned(),
        detail: format!("{e} in {}", excerpt(body, 120)),
    })
}

/// At most `max` characters of a provider's body, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A provider's non-2xx answer to a call, as the machines judge it: the same
/// facts become a retryable [`Error::UnexpectedStatus`](crate::error::Error::UnexpectedStatus)
/// (the provider's code quoted before its message) or a final
/// [`Error::Rejected`](crate::error::Error::Rejected) that says what to fix.
pub(crate) struct Refusal<'a> {
    pub(crate) provider: Provider,
    pub(crate) endpoint: &'a str,
    pub(crate) status: u16,
    /// The provider's error code, if it named one.
    pub(crate) code: Option<String>,
    /// The provider's message (or an excerpt of its body).
    pub(crate) detail: String,
}

impl Refusal<'_> {
    /// The answer as a failure worth retrying.
    pub(crate) fn unexpected(&self) -> crate::error::Error {
        crate::error::Error::UnexpectedStatus {
            provider: self.provider,
            endpoint: self.endpoint.to_owned(),
            status: self.status,
            detail: match &self.code {
                Some(code) => format!("{code}: {}", self.detail),
                None => self.detail.clone(),
            },
        }
    }

    /// The answer as the end of the job, with `remedy` for the user.
    pub(crate) fn rejected(&self, remedy: &str) -> Verdict {
        Verdict::Fatal(crate::error::Error::Rejected {
            provider: self.provider,
            endpoint: self.endpoint.to_owned(),
            status: self.status,
            code: self.code.clone(),
            detail: format!("{} — {remedy}", self.detail),
        })
    }
}
