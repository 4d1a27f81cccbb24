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
use crate::retry::RetryPolicy;
use crate::time::Millis;

pub mod amazon_ads;
pub mod lingxing;
pub mod yandex_market;

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
        Self { now, config, events }
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
    Response { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
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
    TooLarge { limit: u64 },
    Integrity(IntegrityError),
    Records(RecordError),
    Zip(ZipError),
}

impl ExchangeFailure {
    pub(crate) fn into_error(self, endpoint: &str) -> Error {
        match self {
            Self::Transport(failure) => Error::Transport(failure),
            Self::TimedOut => Error::Transport(TransportFailure::Timeout),
            Self::TooLarge { limit } => Error::ResponseTooLarge { endpoint: endpoint.to_owned(), limit },
            Self::Integrity(error) => Error::Integrity(error),
            Self::Records(error) => Error::Records(error),
            Self::Zip(error) => Error::Zip(error),
        }
    }
}

/// Counts attempts of one step and schedules its retries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attempts {
    failures: u32,
}

impl Attempts {
    /// Records a retryable failure. Returns when to try again, or the
    /// terminal error once the policy's attempts are spent. `at_least` is a
    /// provider hint (e.g. `Retry-After`) the delay never undercuts.
    pub(crate) fn retry(
        &mut self,
        cx: &mut Cx<'_>,
        policy: &RetryPolicy,
        cause: Error,
        at_least: Option<Millis>,
    ) -> Result<Millis, Error> {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= policy.max_attempts.max(1) {
            return Err(Error::RetriesExhausted { attempts: self.failures, last: Box::new(cause) });
        }
        let backoff = cx.now.saturating_add(policy.delay(cx.config.seed, self.failures - 1));
        let until = at_least.map_or(backoff, |hint| hint.max(backoff));
        cx.emit(Event::Retrying {
            attempt: self.failures.saturating_add(1),
            after_ms: until.saturating_since(cx.now),
            cause: cause.kind(),
        });
        Ok(until)
    }

    /// The step succeeded: the next failure starts a fresh budget.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
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
