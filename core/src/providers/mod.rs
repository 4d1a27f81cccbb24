//! Provider machines and the contract between them and [`crate::ReportJob`].
//!
//! A provider machine decides *what* to do next (which request, how long to
//! wait, what a status means); the job does the bookkeeping every provider
//! shares: request ids, the one request in flight, timeouts, bounded response
//! buffers, the streaming integrity pipeline, deadlines and terminal states.
//! The machine never sees a partial response: it gets a `Reply` once the
//! exchange is over.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::action::{Event, Phase, Summary, WaitReason};
use crate::error::Error;
use crate::http::{Body, Header, Method, RedirectPolicy, TransportFailure};
use crate::integrity::{Compression, DecodeSummary, IntegrityError, ZipError};
use crate::job::JobConfig;
use crate::records::{RecordError, RecordFormat};
use crate::time::Millis;

pub mod amazon_ads;
pub mod lingxing;
mod pacing;
pub mod yandex_market;

pub(crate) use pacing::{is_damaged_body, Attempts, LinkRefreshes, Pacing};

/// The providers reportflow speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Provider {
    /// Amazon Ads Sponsored Display v2 reports.
    AmazonAds,
    /// Lingxing (领星) OpenAPI Amazon report export.
    Lingxing,
    /// Yandex Market Partner API reports.
    YandexMarket,
}

impl Provider {
    /// The provider's stable name, e.g. `amazon-ads`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AmazonAds => "amazon-ads",
            Self::Lingxing => "lingxing",
            Self::YandexMarket => "yandex-market",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a machine sees of the job while it decides.
pub(crate) struct Cx<'a> {
    /// The job's clock (never goes backwards).
    pub(crate) now: Millis,
    pub(crate) config: &'a JobConfig,
    events: &'a mut VecDeque<Event>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(now: Millis, config: &'a JobConfig, events: &'a mut VecDeque<Event>) -> Self {
        Self {
            now,
            config,
            events,
        }
    }

    /// Queues an event for the host.
    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }
}

/// A machine's decision.
#[derive(Debug)]
pub(crate) enum Step {
    Send(Outgoing),
    Wait { until: Millis, reason: WaitReason },
    Done(Summary),
    Failed(Error),
}

/// A request as a machine describes it; the job adds id, limits and timeout.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Names the operation in errors, e.g. `GET /v2/reports/{reportId}`.
    pub(crate) endpoint: &'static str,
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Body,
    pub(crate) redirect: RedirectPolicy,
    /// When set, a 2xx answer is the report itself and streams through the
    /// integrity pipeline instead of being buffered.
    pub(crate) report_body: Option<ReportBody>,
    /// Signed requests and short-lived links go stale: the host must not
    /// send the request after this instant (see `HttpRequest::send_before`).
    pub(crate) send_before: Option<Millis>,
}

/// How to verify and decode a report body.
#[derive(Debug, Clone)]
pub(crate) struct ReportBody {
    pub(crate) compression: Compression,
    pub(crate) record_format: RecordFormat,
    /// Announced size of the raw body, for progress events.
    pub(crate) size_hint: Option<u64>,
    /// How the decoded body is packaged.
    pub(crate) container: Container,
}

/// How a report body is packaged, after gzip decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// One file: its bytes are the report.
    Single,
    /// One file that is itself a ZIP container (XLSX): delivered as is, and
    /// verified member by member (CRC-32, sizes, limits) on the way.
    VerifiedZip,
    /// A ZIP archive whose members are the report's parts: each is
    /// delivered as `Data` with its name, rows counted per member.
    Zip,
}

/// How an exchange ended, as the machine sees it.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A buffered (non-report) response.
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A report body that passed every check; its bytes went out as `Data`.
    Report { decoded: DecodeSummary, rows: u64 },
    /// The exchange failed before a usable answer.
    Failed(ExchangeFailure),
}

/// Why an exchange produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExchangeFailure {
    Transport(TransportFailure),
    /// The job gave up waiting (`timeout_ms`).
    TimedOut,
    TooLarge {
        limit: u64,
    },
    Integrity(IntegrityError),
    Records(RecordError),
    Zip(ZipError),
}

impl ExchangeFailure {
    pub(crate) fn into_error(self, endpoint: &str) -> Error {
        match self {
            Self::Transport(failure) => Error::Transport(failure),
            Self::TimedOut => Error::Transport(TransportFailure::Timeout),
            Self::TooLarge { limit } => Error::ResponseTooLarge {
                endpoint: endpoint.to_owned(),
                limit,
            },
            Self::Integrity(error) => Error::Integrity(error),
            Self::Records(error) => Error::Records(error),
            Self::Zip(error) => Error::Zip(error),
        }
    }
}

/// How a machine's lifecycle ended. Terminal: every later `next` repeats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finish", rename_all = "camelCase")]
pub(crate) enum Finish {
    Done { summary: Summary },
    Failed { error: Error },
}

impl Finish {
    /// The step that reports this end.
    pub(crate) fn step(&self) -> Step {
        match self {
            Self::Done { summary } => Step::Done(summary.clone()),
            Self::Failed { error } => Step::Failed(error.clone()),
        }
    }
}

/// A download link a provider handed out. It is a short-lived capability, so
/// machines keep it out of snapshots; a restored job obtains a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) url: String,
    pub(crate) expires_at: Millis,
}

impl Link {
    /// A link received now that lives `lifetime_ms`; tells the host when it lapses.
    pub(crate) fn obtained(cx: &mut Cx<'_>, url: String, lifetime_ms: u64) -> Self {
        let expires_at = cx.now.saturating_add(lifetime_ms);
        cx.emit(Event::LinkObtained {
            expires_at: Some(expires_at),
        });
        Self { url, expires_at }
    }

    /// Whether a download may start at `now`: more than `margin_ms` of its
    /// life left, so it does not lapse on the way.
    pub(crate) fn usable(&self, now: Millis, margin_ms: u64) -> bool {
        now.saturating_add(margin_ms) < self.expires_at
    }
}

/// Whether a provider's link is absolute HTTP(S); anything else would send
/// the download to a place the host never meant to reach.
pub(crate) fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
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
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::MalformedResponse {
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

/// The phase a machine is in, for `PhaseChanged` events.
pub(crate) trait Phased {
    fn phase(&self) -> Phase;
}
