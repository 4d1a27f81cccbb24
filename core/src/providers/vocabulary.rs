//! The words a provider machine and the job speak: what a machine sees
//! ([`Cx`]), what it decides ([`Step`], [`Outgoing`], [`ReportBody`]), what
//! it is answered ([`Reply`]) and the link it may hold ([`Link`]).

use std::collections::VecDeque;

use crate::action::{Event, Outcome, Summary, WaitReason};
use crate::config::JobConfig;
use crate::error::{Error, ErrorKind};
use crate::http::{Body, Header, Method, RedirectPolicy, TransportFailure};
use crate::integrity::{Charset, Compression, DecodeSummary, IntegrityError, Md5Digest, ZipError};
use crate::records::{RecordError, RecordFormat};
use crate::sign::SignatureAlgorithm;
use crate::time::Millis;

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
    /// The request still lacks its signature header: the job asks the host
    /// to sign (`Action::Sign`) and sends it once the signature is in.
    pub(crate) signing: Option<Signing>,
}

/// What the host must sign for a request, and where the signature goes.
#[derive(Debug)]
pub(crate) struct Signing {
    /// The provider's name for the key.
    pub(crate) key_id: String,
    pub(crate) algorithm: SignatureAlgorithm,
    /// The exact text to sign.
    pub(crate) message: String,
    /// The header that carries the signature…
    pub(crate) header: &'static str,
    /// …as `prefix` followed by the base64 (standard alphabet) signature.
    pub(crate) prefix: String,
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
            signing: None,
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
    /// The charset to assume when the download's `Content-Type` declares
    /// none (a provider whose charset depends on the marketplace, MWS);
    /// unlike [`charset`](Self::charset), a declared charset wins over it.
    pub(crate) default_charset: Option<Charset>,
    /// A download without a digest to verify (`expected_md5` or a
    /// `Content-MD5` header) is damaged: `IntegrityError::MissingContentMd5`.
    pub(crate) require_md5: bool,
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
            default_charset: None,
            require_md5: false,
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
        /// `NoData` for an archive of parts that holds no file.
        outcome: Outcome,
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

/// An HTTP answer of an API call (or a non-2xx answer of a download), kept
/// whole within its limits: what a protocol judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
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

    /// Whether the request may have reached the provider and been acted
    /// on although no answer was seen: everything but a failure before the
    /// request was sent (DNS, connect, TLS, a request the host let lapse).
    pub(crate) fn may_have_reached(&self) -> bool {
        !matches!(
            self,
            Self::Transport(
                TransportFailure::Dns
                    | TransportFailure::Connect
                    | TransportFailure::Tls
                    | TransportFailure::Expired
            )
        )
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
