//! The provider contract: what a provider machine implements, and the
//! vocabulary it shares with the job ([`Cx`], [`Step`], [`Outgoing`],
//! [`Reply`], [`Verdict`]).
//!
//! A provider's `machine.rs` reads as its protocol: the request it builds for
//! each call ([`Protocol::request`]) and a classification of each answer
//! ([`Protocol::on_reply`] → [`Verdict`]). Everything every provider repeats
//! — the finished state, pacing and retry budgets, rate budgets, the download
//! link and its refresh budget, the call in flight, the report id, the
//! download policy and the summary — lives once in
//! [`lifecycle`](super::lifecycle).

use std::collections::VecDeque;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::lifecycle::Lifecycle;
use crate::action::{Event, Phase, Summary, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::http::{Body, Header, Method, RedirectPolicy, TransportFailure};
use crate::integrity::{Charset, Compression, DecodeSummary, IntegrityError, Md5Digest, ZipError};
use crate::provider::Provider;
use crate::rate::TokenBucket;
use crate::records::{RecordError, RecordFormat};
use crate::time::Millis;

/// What every provider machine implements. The job drives it through
/// [`Machine`](super::lifecycle::Machine), which runs the shared prologue
/// and applies the verdicts.
pub(crate) trait Protocol:
    Sized + Clone + PartialEq + Eq + fmt::Debug + Serialize + DeserializeOwned
{
    /// The provider this machine speaks to.
    const PROVIDER: Provider;
    /// Which report to fetch.
    type Spec;
    /// How the machine authenticates. Held beside the machine, never
    /// persisted; a machine can only be paired with its own credentials.
    type Credentials: Clone + fmt::Debug;
    /// The requests the machine makes. Not persisted: a restored job
    /// re-sends the request that was in flight.
    type Call: Copy + Eq + fmt::Debug;

    /// A machine for `spec`, validated; nothing is sent yet.
    fn create(spec: Self::Spec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError>;

    /// The rate budgets the machine's calls draw from (see
    /// [`budget`](Self::budget)), full at `now`.
    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket>;

    /// Refuses credentials that cannot work, before anything is sent.
    fn check_credentials(credentials: &Self::Credentials) -> Result<(), ConfigError>;

    /// Takes what the host supplied beside the long-lived credentials (a
    /// current access token), when the job is created or restored.
    fn install(&mut self, credentials: &Self::Credentials);

    /// Drops secrets and short-lived capabilities (tokens, links): what is
    /// left is exactly what a snapshot holds.
    fn forget_secrets(&mut self);

    /// The phase of an unfinished machine.
    fn phase(&self, life: &Lifecycle<Self::Call>) -> Phase;

    /// The call to make now. Runs after the shared prologue: the machine is
    /// not finished, not paced, and nothing is in flight.
    fn next_call(&mut self, life: &mut Lifecycle<Self::Call>, cx: &mut Cx<'_>) -> Self::Call;

    /// The rate budget (by [`TokenBucket::name`]) `call` draws a token from;
    /// `None` for calls no quota counts.
    fn budget(call: Self::Call) -> Option<&'static str>;

    /// The complete request for `call`. An `Err` ends the job (a request
    /// that cannot be built will not build later).
    fn request(
        &mut self,
        life: &Lifecycle<Self::Call>,
        call: Self::Call,
        cx: &Cx<'_>,
        credentials: &Self::Credentials,
    ) -> Result<Outgoing, Error>;

    /// Judges the answer to `call`. A report body that streamed (verified
    /// or failed) is judged by the shared download policy and never reaches
    /// this method; a non-2xx answer of a download call does.
    fn on_reply(
        &mut self,
        life: &mut Lifecycle<Self::Call>,
        cx: &mut Cx<'_>,
        call: Self::Call,
        reply: Reply,
    ) -> Verdict;

    /// A fresh download link is wanted (and the budget allows it): move to
    /// the call that obtains one.
    fn relink(&mut self, life: &mut Lifecycle<Self::Call>);

    /// The link budget is spent. By default the job fails with the cause;
    /// a provider with a costlier fallback (request the report again) takes
    /// it here.
    fn links_exhausted(
        &mut self,
        life: &mut Lifecycle<Self::Call>,
        cx: &mut Cx<'_>,
        cause: Error,
    ) -> Verdict {
        let _ = cx;
        Verdict::Fatal(life.link_budget_spent(cause))
    }

    /// Whether `call` obtains credentials (a token call): its failures
    /// count apart, and the machine is `Authorizing` while it is in flight.
    fn authorizes(call: Self::Call) -> bool;

    /// How the machine's report body is verified and decoded.
    fn report_body(&self) -> ReportBody;

    /// The media type of the decoded report, for the summary.
    fn content_type(&self) -> String;
}

/// How a reply is to be handled: the one vocabulary every provider
/// classifies its answers into; [`Machine`](super::lifecycle::Machine)
/// applies it.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The step succeeded and the machine moved on: the next failure starts
    /// a fresh attempt budget.
    Proceed,
    /// The machine moved on, but the step it serves is not over (a download
    /// link was obtained; the download may still fail): the attempt budget
    /// carries on, so a link that fails every time is not retried forever.
    Continue,
    /// The access token was refused; the machine dropped it and replays the
    /// call after fetching a new one (the machine bounds how often).
    Reauthorize,
    /// A transient failure: try the same step again after the backoff, and
    /// not before `at_least` (a provider hint); fails the job once the
    /// attempts are spent.
    Retry {
        /// What failed.
        cause: Error,
        /// The provider's earliest retry instant, if it named one.
        at_least: Option<Millis>,
    },
    /// The provider throttled the call: its rate budget is empty until
    /// `until` (or the backoff, if later), and the host is told.
    Throttled {
        /// The refusal.
        cause: Error,
        /// The budget the refused call drew from.
        budget: &'static str,
        /// When the provider said its quota returns.
        until: Option<Millis>,
    },
    /// The link expired or its body was damaged: fetch a fresh link within
    /// the job's `max_link_refreshes`.
    RefreshLink(Error),
    /// The provider says there is no report data: `Done` with
    /// `Outcome::NoData` and zero bytes.
    NoData,
    /// Only the host can fix it (or it will not get better): the job fails.
    Fatal(Error),
}

impl Verdict {
    /// A retry of a failed exchange (transport, timeout, oversized answer).
    pub(crate) fn retry_failure(failure: ExchangeFailure, endpoint: &str) -> Self {
        Self::Retry {
            cause: failure.into_error(endpoint),
            at_least: None,
        }
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

    /// The API origin: the host's `base_url` or the provider's own.
    pub(crate) fn api_origin<'o>(&'o self, default: &'o str) -> &'o str {
        self.config
            .base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
    }

    /// The auth origin: the host's `auth_base_url` or the provider's own.
    pub(crate) fn auth_origin<'o>(&'o self, default: &'o str) -> &'o str {
        self.config
            .auth_base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
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

impl Outgoing {
    /// A bodiless request to an API.
    pub(crate) fn get(endpoint: &'static str, url: String, headers: Vec<Header>) -> Self {
        Self {
            endpoint,
            method: Method::Get,
            url,
            headers,
            body: Body::Empty,
            redirect: RedirectPolicy::Follow,
            report_body: None,
            send_before: None,
        }
    }

    /// A request that sends `body`.
    pub(crate) fn post(
        endpoint: &'static str,
        url: String,
        headers: Vec<Header>,
        body: Body,
    ) -> Self {
        Self {
            method: Method::Post,
            body,
            ..Self::get(endpoint, url, headers)
        }
    }

    /// The download of a report from a link: no header of the API (the
    /// link is a capability on a storage host; credentials must not travel
    /// there), and not after the link lapses.
    pub(crate) fn download(endpoint: &'static str, link: &Link, report_body: ReportBody) -> Self {
        Self {
            report_body: Some(report_body),
            send_before: Some(link.expires_at),
            ..Self::get(endpoint, link.url.clone(), Vec::new())
        }
    }
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
    /// The MD5 the provider published for the raw body in an earlier
    /// answer. A `Content-MD5` header on the download itself is checked
    /// too (see `ExpectedDigest`).
    pub(crate) expected_md5: Option<Md5Digest>,
    /// The charset of the decoded text when it is not UTF-8: decoded to
    /// UTF-8 on the way out. `None`: delivered as is.
    pub(crate) charset: Option<Charset>,
}

impl ReportBody {
    /// A single-file body in `record_format`, compression decided by the bytes.
    pub(crate) fn single(compression: Compression, record_format: RecordFormat) -> Self {
        Self {
            compression,
            record_format,
            size_hint: None,
            container: Container::Single,
            expected_md5: None,
            charset: None,
        }
    }
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
    Report {
        decoded: DecodeSummary,
        rows: u64,
        charset: Option<Charset>,
    },
    /// The exchange failed before a usable answer.
    Failed(ExchangeFailure),
}

impl Reply {
    /// The kind of failure a reply that voids delivered data stands for.
    pub(crate) fn failure_kind(&self) -> ErrorKind {
        match self {
            Self::Failed(failure) => failure.kind(),
            // Only a streamed 2xx delivers data; anything else is unexpected.
            Self::Response { .. } | Self::Report { .. } => ErrorKind::UnexpectedStatus,
        }
    }
}

/// Why an exchange produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExchangeFailure {
    Transport(TransportFailure),
    /// The job gave up waiting (`timeout_ms`).
    TimedOut,
    /// The answer (headers or body) outgrew its limit.
    TooLarge {
        limit: u64,
    },
    Integrity(IntegrityError),
    Records(RecordError),
    Zip(ZipError),
}

impl ExchangeFailure {
    /// The kind of error this failure becomes.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Self::Transport(_) | Self::TimedOut => ErrorKind::Transport,
            Self::TooLarge { .. } => ErrorKind::ResponseTooLarge,
            Self::Integrity(error) => Error::Integrity(error.clone()).kind(),
            Self::Records(_) => ErrorKind::Records,
            Self::Zip(_) => ErrorKind::Zip,
        }
    }

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
