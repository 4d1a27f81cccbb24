//! The Yandex Market report lifecycle. All transitions live here; this file
//! does not know which host drives it or how bytes travel.
//!
//! Rules that shape it:
//! - a report is generated once: after a `reportId` is known, every way
//!   forward goes through the info call (a fresh link included);
//! - the job keeps its own view of the generate and info quotas, fed by the
//!   `X-RateLimit-*` headers of every answer; a request leaves only when the
//!   view says one is left, and after a `420` not before
//!   `X-RateLimit-Resource-Until`;
//! - the `file` link and the credentials never enter a snapshot.

use serde::{Deserialize, Serialize};

use super::config::{Credentials, Output, RateLimit, ReportSpec, API_ORIGIN};
use super::date::parse_http_date;
use super::wire;
use crate::action::{Event, Outcome, Phase, Summary, WaitReason};
use crate::error::{ConfigError, Error, ReportFailure};
use crate::http::{find_header, Body, Header, Method, RedirectPolicy, TransportFailure};
use crate::integrity::{Compression, Md5};
use crate::job::JobConfig;
use crate::providers::{
    encode_segment, excerpt, is_http_url, parse_json, Container, Cx, ExchangeFailure, Finish, Link,
    LinkRefreshes, Outgoing, Pacing, Phased, Provider, Reply, ReportBody, Step,
};
use crate::rate::TokenBucket;
use crate::records::RecordFormat;
use crate::time::Millis;

const GENERATE: &str = "POST /v2/reports/{kind}/generate";
const INFO: &str = "GET /v2/reports/info/{reportId}";
const DOWNLOAD: &str = "GET <report file link>";

/// The `file` link lives 60 minutes from the info answer that carried it.
pub(crate) const LINK_LIFETIME_MS: u64 = 60 * 60 * 1000;
/// A download does not start with less than this left on its link.
const LINK_MARGIN_MS: u64 = 60_000;
/// Estimates beyond this are treated as this (a broken estimate must not
/// park a job for days).
const MAX_ESTIMATE_MS: u64 = 30 * 60 * 1000;
/// `X-RateLimit-Resource-Until` values beyond this are treated as this.
const MAX_RATE_WAIT_MS: u64 = 60 * 60 * 1000;
/// The job's name for the generate quota.
pub(crate) const GENERATE_BUCKET: &str = "yandex-market:generate";
/// The job's name for the info quota.
pub(crate) const INFO_BUCKET: &str = "yandex-market:info";

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The job's view of one API quota: a static token bucket until the API's
/// `X-RateLimit-*` headers have been seen, then what they said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Quota {
    bucket: TokenBucket,
    /// Wait after a `420` that names no `-Until`.
    period_ms: u64,
    /// Whether the API's headers have been seen (they then decide).
    seen: bool,
    limit: Option<u32>,
    remaining: Option<u32>,
    until: Option<Millis>,
}

impl Quota {
    fn new(name: &str, rate: RateLimit, now: Millis) -> Self {
        let amount = rate.amount.max(1);
        let refill = rate.period_ms.max(1) / u64::from(amount);
        Self {
            bucket: TokenBucket::new(name, amount, refill.max(1), now),
            period_ms: rate.period_ms.max(1),
            seen: false,
            limit: None,
            remaining: None,
            until: None,
        }
    }

    /// When the next request may go out.
    fn ready_at(&mut self, now: Millis) -> Millis {
        if !self.seen {
            return self.bucket.ready_at(now);
        }
        match (self.remaining, self.until) {
            (Some(0), Some(until)) if now < until => until,
            _ => now,
        }
    }

    /// A request goes out now.
    fn take(&mut self, now: Millis) {
        if !self.seen {
            let _ = self.bucket.try_take(now);
            return;
        }
        match (self.remaining, self.until) {
            (Some(left), Some(until)) if now < until => {
                self.remaining = Some(left.saturating_sub(1))
            }
            // The window the API described is over; the next answer
            // describes the new one.
            _ => {
                self.remaining = self.limit.map(|limit| limit.saturating_sub(1));
                self.until = None;
            }
        }
    }

    /// Takes the headers of an answer; returns the instant until which the
    /// view now says no request is left, if it says so.
    fn observe(&mut self, now: Millis, headers: &[(String, String)]) -> Option<Millis> {
        let number =
            |name: &str| find_header(headers, name).and_then(|v| v.trim().parse::<u64>().ok());
        let remaining = number("x-ratelimit-resource-remaining");
        let until = find_header(headers, "x-ratelimit-resource-until").and_then(parse_http_date);
        if let Some(limit) = number("x-ratelimit-resource-limit") {
            self.limit = Some(u32::try_from(limit).unwrap_or(u32::MAX));
        }
        let (Some(remaining), Some(until)) = (remaining, until) else {
            return None;
        };
        self.seen = true;
        self.remaining = Some(u32::try_from(remaining).unwrap_or(u32::MAX));
        self.until = Some(until.min(now.saturating_add(MAX_RATE_WAIT_MS)));
        self.empty_until(now)
    }

    /// The API refused a request for this quota (`420`).
    fn exhaust(&mut self, now: Millis, until: Millis) {
        self.seen = true;
        self.remaining = Some(0);
        self.until = Some(until);
        self.bucket.exhaust_until(now, until);
    }

    fn empty_until(&self, now: Millis) -> Option<Millis> {
        match (self.remaining, self.until) {
            (Some(0), Some(until)) if now < until => Some(until),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
enum Stage {
    Generate,
    Poll,
    Download,
    Finished(Finish),
}

/// Which request is in flight; not persisted (a restored job re-sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Generate,
    Info,
    Download,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Machine {
    spec: ReportSpec,
    stage: Stage,
    report_id: Option<String>,
    polls: u32,
    pacing: Pacing,
    link_refreshes: LinkRefreshes,
    /// The info call is for a fresh link, not for progress.
    relinking: bool,
    generate_quota: Quota,
    info_quota: Quota,
    // The link is a capability that lives an hour: never persisted; a
    // restored job asks the info call for a fresh one.
    #[serde(skip)]
    link: Option<Link>,
    #[serde(skip)]
    in_flight: Option<Call>,
}

impl Phased for Machine {
    fn phase(&self) -> Phase {
        match self.stage {
            Stage::Generate => Phase::Creating,
            Stage::Poll if self.relinking => Phase::ResolvingLink,
            Stage::Poll => Phase::Polling,
            Stage::Download => Phase::Downloading,
            Stage::Finished(_) => Phase::Finished,
        }
    }
}

impl Machine {
    pub(crate) fn new(
        spec: ReportSpec,
        _config: &JobConfig,
        now: Millis,
    ) -> Result<Self, ConfigError> {
        spec.validate()?;
        let generate_quota = Quota::new(GENERATE_BUCKET, spec.generate_rate(), now);
        Ok(Self {
            spec,
            stage: Stage::Generate,
            report_id: None,
            polls: 0,
            pacing: Pacing::new(now),
            link_refreshes: LinkRefreshes::default(),
            relinking: false,
            generate_quota,
            info_quota: Quota::new(INFO_BUCKET, RateLimit::INFO, now),
            link: None,
            in_flight: None,
        })
    }

    /// Nothing to take from the credentials (the token is read when a
    /// request is built); forgets the request in flight.
    pub(crate) fn install(&mut self, _credentials: &Credentials) {
        self.in_flight = None;
    }

    /// The machine without its link and in-flight bookkeeping: exactly
    /// what a snapshot holds.
    pub(crate) fn persistable(&self) -> Self {
        Self {
            link: None,
            in_flight: None,
            ..self.clone()
        }
    }

    pub(crate) fn report_id(&self) -> Option<&str> {
        self.report_id.as_deref()
    }

    pub(crate) fn next(&mut self, cx: &mut Cx<'_>, credentials: &Credentials) -> Step {
        if let Stage::Finished(finish) = &self.stage {
            return finish.step();
        }
        if let Some(wait) = self.pacing.gate(cx.now) {
            return wait;
        }
        if self.stage == Stage::Download {
            match &self.link {
                Some(link) if link.usable(cx.now, LINK_MARGIN_MS) => {
                    return self.send(Call::Download, cx, credentials)
                }
                // Lapsed before we got to it, or lost in a restore.
                _ => {
                    self.link = None;
                    self.stage = Stage::Poll;
                    self.relinking = true;
                }
            }
        }
        let (call, quota, bucket) = match self.stage {
            Stage::Generate => (Call::Generate, &mut self.generate_quota, GENERATE_BUCKET),
            _ => (Call::Info, &mut self.info_quota, INFO_BUCKET),
        };
        let ready = quota.ready_at(cx.now);
        if ready > cx.now {
            return Step::Wait {
                until: ready,
                reason: WaitReason::RateLimit {
                    bucket: bucket.to_owned(),
                },
            };
        }
        quota.take(cx.now);
        self.send(call, cx, credentials)
    }

    fn send(&mut self, call: Call, cx: &Cx<'_>, credentials: &Credentials) -> Step {
        self.in_flight = Some(call);
        let api = cx
            .config
            .base_url
            .as_deref()
            .unwrap_or(API_ORIGIN)
            .trim_end_matches('/');
        let outgoing = match call {
            Call::Generate => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for (name, value) in self.spec.generate_query() {
                    query.append_pair(name, value);
                }
                let query = query.finish();
                let url = if query.is_empty() {
                    format!("{api}{}", self.spec.generate_path())
                } else {
                    format!("{api}{}?{query}", self.spec.generate_path())
                };
                let mut headers = api_headers(credentials);
                headers.push(Header::plain("Content-Type", "application/json"));
                let body = serde_json::to_vec(&self.spec.request.body_json()).unwrap_or_default();
                Outgoing {
                    endpoint: GENERATE,
                    method: Method::Post,
                    url,
                    headers,
                    body: Body::Plain(body),
                    redirect: RedirectPolicy::Follow,
                    report_body: None,
                    send_before: None,
                }
            }
            Call::Info => {
                let id = encode_segment(self.report_id.as_deref().unwrap_or_default());
                let mut url = format!("{api}{}/reports/info/{id}", self.spec.info_prefix());
                if let Some(source) = self.spec.source_type {
                    url.push_str("?sourceType=");
                    url.push_str(source.as_str());
                }
                Outgoing {
                    endpoint: INFO,
                    method: Method::Get,
                    url,
                    headers: api_headers(credentials),
                    body: Body::Empty,
                    redirect: RedirectPolicy::Follow,
                    report_body: None,
                    send_before: None,
                }
            }
            Call::Download => {
                let (url, expires_at) = self
                    .link
                    .as_ref()
                    .map(|l| (l.url.clone(), l.expires_at))
                    .unwrap_or_default();
                Outgoing {
                    endpoint: DOWNLOAD,
                    method: Method::Get,
                    url,
                    // Deliberately nothing of the API: the link is a capability
                    // on a storage host; the token must not travel there.
                    headers: Vec::new(),
                    body: Body::Empty,
                    redirect: RedirectPolicy::Follow,
                    report_body: Some(self.report_body()),
                    send_before: Some(expires_at),
                }
            }
        };
        Step::Send(outgoing)
    }

    fn report_body(&self) -> ReportBody {
        let (record_format, container) = match self.spec.output() {
            Output::Xlsx => (RecordFormat::Opaque, Container::VerifiedZip),
            Output::Pdf | Output::Opaque => (RecordFormat::Opaque, Container::Single),
            Output::Archive { record_format, .. } => (record_format, Container::Zip),
        };
        ReportBody {
            compression: Compression::Identity,
            record_format,
            size_hint: None,
            container,
        }
    }

    fn summary(
        &self,
        outcome: Outcome,
        raw_bytes: u64,
        bytes: u64,
        md5: String,
        gzip: bool,
        rows: u64,
    ) -> Summary {
        let (content_type, record_format) = match self.spec.output() {
            Output::Xlsx => (XLSX, RecordFormat::Opaque),
            Output::Pdf => ("application/pdf", RecordFormat::Opaque),
            Output::Opaque => ("application/octet-stream", RecordFormat::Opaque),
            Output::Archive {
                record_format,
                content_type,
            } => (content_type, record_format),
        };
        Summary {
            provider: Provider::YandexMarket,
            report_id: self.report_id.clone().unwrap_or_default(),
            outcome,
            content_type: content_type.to_owned(),
            record_format,
            raw_bytes,
            bytes,
            md5,
            gzip,
            rows,
            requests: 0,
            parts: Vec::new(),
        }
    }

    pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        let Some(call) = self.in_flight.take() else {
            return;
        };
        match call {
            Call::Generate | Call::Info => self.on_api(cx, call, reply),
            Call::Download => self.on_download(cx, reply),
        }
    }

    fn on_api(&mut self, cx: &mut Cx<'_>, call: Call, reply: Reply) {
        let endpoint = endpoint_of(call);
        match reply {
            Reply::Failed(ExchangeFailure::TooLarge { limit }) => {
                self.fail(Error::ResponseTooLarge {
                    endpoint: endpoint.to_owned(),
                    limit,
                });
            }
            Reply::Failed(failure) => self.retry(cx, failure.into_error(endpoint), None),
            Reply::Report { .. } => {}
            Reply::Response {
                status,
                headers,
                body,
            } => {
                let (quota, bucket) = self.quota(call);
                let empty = quota.observe(cx.now, &headers);
                if let Some(until) = empty {
                    cx.emit(Event::Throttled {
                        bucket: bucket.to_owned(),
                        until,
                    });
                }
                if !(200..300).contains(&status) {
                    return self.api_failure(cx, call, status, &headers, &body, empty.is_some());
                }
                match call {
                    Call::Generate => self.on_generated(cx, &body),
                    _ => self.on_info(cx, &body),
                }
            }
        }
    }

    fn quota(&mut self, call: Call) -> (&mut Quota, &'static str) {
        match call {
            Call::Generate => (&mut self.generate_quota, GENERATE_BUCKET),
            _ => (&mut self.info_quota, INFO_BUCKET),
        }
    }

    fn on_generated(&mut self, cx: &mut Cx<'_>, body: &[u8]) {
        let result = match result_of::<wire::GenerateReport>(GENERATE, body) {
            Ok(result) => result,
            Err(error) => return self.retry(cx, error, None),
        };
        let id = result.report_id.unwrap_or_default();
        if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
            return self.retry(
                cx,
                malformed(GENERATE, "no usable reportId in the answer"),
                None,
            );
        }
        self.pacing.succeeded();
        cx.emit(Event::ReportCreated {
            report_id: id.clone(),
        });
        self.report_id = Some(id);
        self.stage = Stage::Poll;
        self.polls = 0;
        let delay = match wire::millis(result.estimated_generation_time.as_ref()) {
            Some(estimate) => estimate.min(MAX_ESTIMATE_MS),
            None => cx.config.poll.delay(cx.config.seed, 0),
        };
        self.pacing
            .schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
    }

    fn on_info(&mut self, cx: &mut Cx<'_>, body: &[u8]) {
        let info = match result_of::<wire::ReportInfo>(INFO, body) {
            Ok(info) => info,
            Err(error) => return self.retry(cx, error, None),
        };
        let status = info.status.unwrap_or_default();
        if status.is_empty() {
            return self.retry(cx, malformed(INFO, "no status in the report info"), None);
        }
        let sub = info.sub_status.filter(|s| !s.is_empty());
        let verbatim = match &sub {
            Some(sub) => format!(
                "{}/{}",
                excerpt(status.as_bytes(), 40),
                excerpt(sub.as_bytes(), 40)
            ),
            None => excerpt(status.as_bytes(), 40),
        };
        cx.emit(Event::ReportStatus {
            status: verbatim.clone(),
        });
        match (status.as_str(), sub.as_deref()) {
            (_, Some("NO_DATA")) => {
                let summary = self.summary(Outcome::NoData, 0, 0, Md5::digest(b"").to_hex(), false, 0);
                self.stage = Stage::Finished(Finish::Done { summary });
            }
            (_, Some("TOO_LARGE")) => self.fail(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure: ReportFailure::TooLarge,
                status: verbatim,
                detail: "the report exceeds Yandex's size limit; request a shorter period or narrower filters \
                         (fewer campaigns, categories or offers) and generate it again"
                    .to_owned(),
            }),
            (_, Some("RESOURCE_NOT_FOUND")) => self.fail(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure: ReportFailure::ResourceNotFound,
                status: verbatim,
                detail: "Yandex could not find some of the entities the request names; check businessId, \
                         campaignId and the other ids in the body"
                    .to_owned(),
            }),
            ("FAILED", _) => self.fail(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure: ReportFailure::Fatal,
                status: verbatim,
                detail: "Yandex failed to generate the report; check the request (campaign, period, payment \
                         order), then generate it again later"
                    .to_owned(),
            }),
            ("DONE", _) => match info.file.filter(|f| is_http_url(f)) {
                Some(url) => {
                    // Not `succeeded()`: a fresh link does not reset the
                    // attempt budget, or a download that fails every time
                    // would be retried forever.
                    self.relinking = false;
                    self.link = Some(Link::obtained(cx, url, LINK_LIFETIME_MS));
                    self.stage = Stage::Download;
                }
                None => self.retry(cx, malformed(INFO, "status DONE without a file link"), None),
            },
            // PENDING, PROCESSING, and values this version does not know
            // (Yandex asks integrations to tolerate new ones): keep waiting,
            // up to the job's deadline.
            _ => {
                self.pacing.succeeded();
                self.polls = self.polls.saturating_add(1);
                let backoff = cx.config.poll.delay(cx.config.seed, self.polls);
                let estimate = wire::millis(info.estimated_generation_time.as_ref()).unwrap_or(0).min(MAX_ESTIMATE_MS);
                self.pacing.schedule(cx.now.saturating_add(estimate.max(backoff)), WaitReason::PollBackoff);
            }
        }
    }

    /// A non-2xx answer from the API.
    fn api_failure(
        &mut self,
        cx: &mut Cx<'_>,
        call: Call,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        announced: bool,
    ) {
        let endpoint = endpoint_of(call);
        let (code, message) = envelope(body);
        let detail = match (&code, &message) {
            (_, Some(message)) => message.clone(),
            (Some(code), None) => code.clone(),
            (None, None) => excerpt(body, 300),
        };
        let quoted = match &code {
            Some(code) => format!("{code}: {detail}"),
            None => detail.clone(),
        };
        let unexpected = Error::UnexpectedStatus {
            provider: Provider::YandexMarket,
            endpoint: endpoint.to_owned(),
            status,
            detail: quoted,
        };
        let rejected = |remedy: &str| Error::Rejected {
            provider: Provider::YandexMarket,
            endpoint: endpoint.to_owned(),
            status,
            code: code.clone(),
            detail: format!("{detail} — {remedy}"),
        };
        match status {
            420 => {
                let now = cx.now;
                let (quota, bucket) = self.quota(call);
                let until = find_header(headers, "x-ratelimit-resource-until")
                    .and_then(parse_http_date)
                    .filter(|until| *until > now)
                    .map_or_else(|| now.saturating_add(quota.period_ms), |until| until.min(now.saturating_add(MAX_RATE_WAIT_MS)));
                quota.exhaust(now, until);
                if !announced {
                    cx.emit(Event::Throttled { bucket: bucket.to_owned(), until });
                }
                if let Some(retry_at) = self.retry_until(cx, unexpected, Some(until)) {
                    self.pacing.schedule(retry_at, WaitReason::RateLimit { bucket: bucket.to_owned() });
                }
            }
            400 => self.fail(rejected("fix the report body or parameters (the period, ids, format)")),
            401 => self.fail(rejected(
                "check the Api-Key token (sent without a Bearer prefix) or the OAuth token; a revoked token needs a new one",
            )),
            403 => self.fail(rejected(
                "the token lacks a scope for this report, or the business or campaign is not active",
            )),
            404 if call == Call::Info => self.fail(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure: ReportFailure::NotFound,
                status: format!("404 {}", code.as_deref().unwrap_or("NOT_FOUND")),
                detail: format!("{detail} — the report is unknown to Yandex (or the path prefix is wrong); generate it again"),
            }),
            404 => self.fail(rejected("check the report kind, the path prefix and the business or campaign id")),
            // 423: the business or campaign is locked for a migration.
            423 | 499 | 500..=599 => self.retry(cx, unexpected, None),
            _ => self.fail(rejected("Yandex refused the request")),
        }
    }

    fn on_download(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        match reply {
            Reply::Report { decoded, rows } => {
                let summary = self.summary(
                    Outcome::Complete,
                    decoded.raw_bytes,
                    decoded.decoded_bytes,
                    decoded.md5.to_hex(),
                    decoded.gzip,
                    rows,
                );
                self.stage = Stage::Finished(Finish::Done { summary });
            }
            Reply::Response { status, body, .. } => {
                let cause = Error::UnexpectedStatus {
                    provider: Provider::YandexMarket,
                    endpoint: DOWNLOAD.to_owned(),
                    status,
                    detail: excerpt(&body, 300),
                };
                if status >= 500 {
                    self.retry(cx, cause, None);
                } else {
                    // 403/404/410: the link expired or was refused.
                    self.refresh_link(cx, cause);
                }
            }
            Reply::Failed(ExchangeFailure::Zip(error)) if error.is_corruption() => {
                self.refresh_link(cx, Error::Zip(error))
            }
            Reply::Failed(ExchangeFailure::Zip(error)) => self.fail(Error::Zip(error)),
            Reply::Failed(ExchangeFailure::Integrity(error)) => {
                self.refresh_link(cx, Error::Integrity(error))
            }
            Reply::Failed(ExchangeFailure::Records(error)) => self.fail(Error::Records(error)),
            Reply::Failed(ExchangeFailure::TooLarge { limit }) => {
                self.fail(Error::ResponseTooLarge {
                    endpoint: DOWNLOAD.to_owned(),
                    limit,
                });
            }
            Reply::Failed(ExchangeFailure::Transport(TransportFailure::Expired)) => {
                // The host held the request past the link's life.
                self.refresh_link(cx, Error::Transport(TransportFailure::Expired));
            }
            Reply::Failed(failure) => self.retry(cx, failure.into_error(DOWNLOAD), None),
        }
    }

    /// The link expired or its archive was damaged: ask the info call for a
    /// fresh link, a bounded number of times; never generate again.
    fn refresh_link(&mut self, cx: &mut Cx<'_>, cause: Error) {
        self.link = None;
        if self.link_refreshes.allow(cx, &cause) {
            self.stage = Stage::Poll;
            self.relinking = true;
        } else {
            self.fail(self.link_refreshes.exhausted(cause));
        }
    }

    fn retry(&mut self, cx: &mut Cx<'_>, cause: Error, at_least: Option<Millis>) {
        let _ = self.retry_until(cx, cause, at_least);
    }

    /// Schedules a retry; `None` once the attempts are spent (the job failed).
    fn retry_until(
        &mut self,
        cx: &mut Cx<'_>,
        cause: Error,
        at_least: Option<Millis>,
    ) -> Option<Millis> {
        self.pacing
            .retry(cx, cause, at_least)
            .map_err(|error| self.fail(error))
            .ok()
    }

    fn fail(&mut self, error: Error) {
        self.stage = Stage::Finished(Finish::Failed { error });
    }
}

fn api_headers(credentials: &Credentials) -> Vec<Header> {
    let mut headers = Vec::with_capacity(2);
    match (&credentials.api_key, &credentials.oauth_token) {
        (Some(key), _) => headers.push(Header::secret("Api-Key", key.expose().clone())),
        (None, Some(token)) => headers.push(Header::secret(
            "Authorization",
            format!("Bearer {}", token.expose()),
        )),
        (None, None) => {}
    }
    headers.push(Header::plain("Accept", "application/json"));
    headers
}

/// The first error's code and every error's message, from an error envelope.
fn envelope(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(parsed) = serde_json::from_slice::<wire::ErrorResponse>(body) else {
        return (None, None);
    };
    let errors = parsed.errors.unwrap_or_default();
    let code = errors
        .iter()
        .find_map(|e| e.code.clone())
        .filter(|c| !c.is_empty())
        .map(|c| excerpt(c.as_bytes(), 80));
    let messages: Vec<String> = errors
        .iter()
        .take(3)
        .filter_map(|e| {
            e.message
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| excerpt(m.as_bytes(), 200))
        })
        .collect();
    let message = (!messages.is_empty()).then(|| messages.join("; "));
    (code, message)
}

/// The `result` of an answer whose `status` is `OK` (or absent); anything
/// else is malformed, quoting the body's start.
fn result_of<T: serde::de::DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, Error> {
    match parse_json::<wire::Answer<T>>(Provider::YandexMarket, endpoint, body)? {
        wire::Answer {
            status,
            result: Some(result),
        } if status.as_deref().map_or(true, |s| s == "OK") => Ok(result),
        _ => Err(malformed(
            endpoint,
            &format!("no result in {}", excerpt(body, 120)),
        )),
    }
}

fn endpoint_of(call: Call) -> &'static str {
    match call {
        Call::Generate => GENERATE,
        Call::Info => INFO,
        Call::Download => DOWNLOAD,
    }
}

fn malformed(endpoint: &str, detail: &str) -> Error {
    Error::MalformedResponse {
        provider: Provider::YandexMarket,
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}
