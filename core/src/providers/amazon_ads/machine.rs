//! The Sponsored Display v2 report lifecycle. All transitions live here; this
//! file does not know which host drives it or how bytes travel.

use serde::{Deserialize, Serialize};

use super::config::{Credentials, ReportSpec};
use super::wire;
use crate::action::{Event, Outcome, Phase, Summary, WaitReason};
use crate::error::{ConfigError, Error, ReportFailure};
use crate::http::{find_header, Body, Header, Method, RedirectPolicy};
use crate::integrity::Compression;
use crate::job::JobConfig;
use crate::providers::{
    encode_segment, excerpt, is_damaged_body, is_http_url, parse_json, Cx, ExchangeFailure, Finish,
    Link, LinkRefreshes, Outgoing, Pacing, Phased, Provider, Reply, ReportBody, Step,
};
use crate::rate::TokenBucket;
use crate::records::RecordFormat;
use crate::secret::Secret;
use crate::time::Millis;

const CREATE: &str = "POST /sd/{recordType}/report";
const STATUS: &str = "GET /v2/reports/{reportId}";
const RESOLVE: &str = "GET /v2/reports/{reportId}/download";
const DOWNLOAD: &str = "GET <S3 download link>";
const TOKEN: &str = "POST /auth/o2/token";

/// Presigned S3 links live 30 seconds (OpenAPI `downloadReport`).
const LINK_LIFETIME_MS: u64 = 30_000;
/// Refresh an access token this long before it expires.
const TOKEN_MARGIN_MS: u64 = 60_000;
/// Retry-After values beyond this are treated as this (a broken header must
/// not park a job for days).
const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1000;
/// The job's own pacing of Ads API calls; Amazon's limits are dynamic and
/// undocumented, so this only keeps a burst of retries polite. A 429 empties
/// it until `Retry-After`.
const API_BUCKET: &str = "amazon-ads:api";
const API_BUCKET_CAPACITY: u32 = 5;
const API_BUCKET_REFILL_MS: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    ResolveLink,
    Download,
    Finished(Finish),
}

/// Which request is in flight; not persisted (a restored job re-sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Token,
    Create,
    Status,
    Resolve,
    Download,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AccessToken {
    value: Secret<String>,
    expires_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Machine {
    spec: ReportSpec,
    stage: Stage,
    report_id: Option<String>,
    file_size: Option<u64>,
    polls: u32,
    pacing: Pacing,
    link_refreshes: LinkRefreshes,
    recreated: bool,
    refreshed_after_401: bool,
    bucket: TokenBucket,
    // Secrets and short-lived capabilities stay out of snapshots: a restored
    // job refreshes its token and resolves a fresh link.
    #[serde(skip)]
    token: Option<AccessToken>,
    #[serde(skip)]
    link: Option<Link>,
    #[serde(skip)]
    in_flight: Option<Call>,
}

impl Phased for Machine {
    fn phase(&self) -> Phase {
        if self.in_flight == Some(Call::Token) {
            return Phase::Authorizing;
        }
        match self.stage {
            Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::ResolveLink => Phase::ResolvingLink,
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
        Ok(Self {
            spec,
            stage: Stage::Create,
            report_id: None,
            file_size: None,
            polls: 0,
            pacing: Pacing::new(now),
            link_refreshes: LinkRefreshes::default(),
            recreated: false,
            refreshed_after_401: false,
            bucket: TokenBucket::new(API_BUCKET, API_BUCKET_CAPACITY, API_BUCKET_REFILL_MS, now),
            token: None,
            link: None,
            in_flight: None,
        })
    }

    /// Takes the host's current access token, if it gave one.
    pub(crate) fn install(&mut self, credentials: &Credentials) {
        self.in_flight = None;
        self.token = credentials.access_token.clone().map(|value| AccessToken {
            value,
            expires_at: credentials.access_token_expires_at,
        });
    }

    /// The machine without its secrets and in-flight bookkeeping: exactly
    /// what a snapshot holds.
    pub(crate) fn persistable(&self) -> Self {
        Self {
            token: None,
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
                Some(link) if link.usable(cx.now, 0) => {
                    return self.send(Call::Download, cx, credentials)
                }
                // Expired before we got to it, or lost in a restore: ask for a fresh one.
                _ => self.stage = Stage::ResolveLink,
            }
        }
        let needs_token = match &self.token {
            None => true,
            Some(token) => token
                .expires_at
                .is_some_and(|at| cx.now.saturating_add(TOKEN_MARGIN_MS) >= at),
        };
        if needs_token {
            return self.send(Call::Token, cx, credentials);
        }
        if let Err(ready) = self.bucket.try_take(cx.now) {
            return Step::Wait {
                until: ready,
                reason: WaitReason::RateLimit {
                    bucket: API_BUCKET.to_owned(),
                },
            };
        }
        let call = match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll => Call::Status,
            _ => Call::Resolve,
        };
        self.send(call, cx, credentials)
    }

    fn send(&mut self, call: Call, cx: &Cx<'_>, credentials: &Credentials) -> Step {
        self.in_flight = Some(call);
        let api = cx
            .config
            .base_url
            .as_deref()
            .unwrap_or(self.spec.region.api_origin())
            .trim_end_matches('/');
        let report_id = self.report_id.as_deref().unwrap_or_default();
        let outgoing = match call {
            Call::Token => {
                let auth = cx
                    .config
                    .auth_base_url
                    .as_deref()
                    .unwrap_or(self.spec.region.auth_origin())
                    .trim_end_matches('/');
                let form = form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", credentials.refresh_token.expose())
                    .append_pair("client_id", &credentials.client_id)
                    .append_pair("client_secret", credentials.client_secret.expose())
                    .finish();
                Outgoing {
                    endpoint: TOKEN,
                    method: Method::Post,
                    url: format!("{auth}/auth/o2/token"),
                    headers: vec![
                        Header::plain(
                            "Content-Type",
                            "application/x-www-form-urlencoded;charset=UTF-8",
                        ),
                        Header::plain("Accept", "application/json"),
                    ],
                    body: Body::Secret(Secret::new(form.into_bytes())),
                    redirect: RedirectPolicy::Follow,
                    report_body: None,
                    send_before: None,
                }
            }
            Call::Create => {
                let body = wire::ReportRequest {
                    report_date: &self.spec.report_date,
                    tactic: self.spec.tactic.as_str(),
                    segment: self.spec.segment.map(|s| s.as_str()),
                    metrics: self.spec.metrics.join(","),
                };
                let mut headers = self.api_headers(credentials);
                headers.push(Header::plain("Content-Type", "application/json"));
                Outgoing {
                    endpoint: CREATE,
                    method: Method::Post,
                    url: format!("{api}/sd/{}/report", self.spec.record_type.as_str()),
                    headers,
                    body: Body::Plain(serde_json::to_vec(&body).unwrap_or_default()),
                    redirect: RedirectPolicy::Follow,
                    report_body: None,
                    send_before: None,
                }
            }
            Call::Status => Outgoing {
                endpoint: STATUS,
                method: Method::Get,
                url: format!("{api}/v2/reports/{}", encode_segment(report_id)),
                headers: self.api_headers(credentials),
                body: Body::Empty,
                redirect: RedirectPolicy::Follow,
                report_body: None,
                send_before: None,
            },
            Call::Resolve => Outgoing {
                endpoint: RESOLVE,
                method: Method::Get,
                url: format!("{api}/v2/reports/{}/download", encode_segment(report_id)),
                headers: self.api_headers(credentials),
                body: Body::Empty,
                redirect: RedirectPolicy::Manual,
                report_body: Some(self.report_body()),
                send_before: None,
            },
            Call::Download => Outgoing {
                endpoint: DOWNLOAD,
                method: Method::Get,
                url: self
                    .link
                    .as_ref()
                    .map(|l| l.url.clone())
                    .unwrap_or_default(),
                // Deliberately nothing of the Ads API: S3 authenticates by the
                // presigned query, and the token must not leave Amazon Ads.
                headers: Vec::new(),
                body: Body::Empty,
                redirect: RedirectPolicy::Follow,
                report_body: Some(self.report_body()),
                send_before: None,
            },
        };
        Step::Send(outgoing)
    }

    fn api_headers(&self, credentials: &Credentials) -> Vec<Header> {
        let token = self
            .token
            .as_ref()
            .map(|t| t.value.expose().as_str())
            .unwrap_or_default();
        vec![
            Header::secret("Authorization", format!("Bearer {token}")),
            Header::plain(
                "Amazon-Advertising-API-ClientId",
                credentials.client_id.clone(),
            ),
            Header::plain("Amazon-Advertising-API-Scope", self.spec.profile_id.clone()),
            Header::plain("Accept", "application/json"),
        ]
    }

    fn report_body(&self) -> ReportBody {
        ReportBody {
            compression: Compression::Auto,
            record_format: RecordFormat::JsonArray,
            size_hint: self.file_size,
            container: crate::providers::Container::Single,
        }
    }

    pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        let Some(call) = self.in_flight.take() else {
            return;
        };
        match (call, reply) {
            (Call::Token, reply) => self.on_token(cx, reply),
            (Call::Resolve | Call::Download, Reply::Report { decoded, rows, .. }) => {
                let summary = Summary {
                    provider: Provider::AmazonAds,
                    report_id: self.report_id.clone().unwrap_or_default(),
                    outcome: Outcome::Complete,
                    content_type: "application/json".to_owned(),
                    record_format: RecordFormat::JsonArray,
                    raw_bytes: decoded.raw_bytes,
                    bytes: decoded.decoded_bytes,
                    md5: decoded.md5.to_hex(),
                    gzip: decoded.gzip,
                    rows,
                    requests: 0,
                    parts: Vec::new(),
                };
                self.stage = Stage::Finished(Finish::Done { summary });
            }
            (Call::Download, Reply::Response { status, body, .. }) => {
                // S3 answers 403 "Request has expired" for a stale presigned URL.
                let cause = Error::UnexpectedStatus {
                    provider: Provider::AmazonAds,
                    endpoint: DOWNLOAD.to_owned(),
                    status,
                    detail: excerpt(&body, 300),
                };
                if status >= 500 {
                    // Only when a retry is due: once attempts are spent, the
                    // stage is `Failed` and must stay so.
                    if self.retry_until(cx, cause, None).is_some() {
                        self.stage = Stage::ResolveLink;
                    }
                } else {
                    self.refresh_link(cx, cause);
                }
            }
            (Call::Download | Call::Resolve, Reply::Failed(ExchangeFailure::Integrity(error))) => {
                self.refresh_link(cx, Error::Integrity(error));
            }
            (call, Reply::Failed(failure)) => {
                let endpoint = endpoint_of(call);
                if self
                    .retry_until(cx, failure.into_error(endpoint), None)
                    .is_some()
                    && call == Call::Download
                {
                    self.stage = Stage::ResolveLink;
                }
            }
            (
                Call::Create,
                Reply::Response {
                    status,
                    headers,
                    body,
                },
            ) => {
                if !(200..300).contains(&status) {
                    return self.api_failure(cx, CREATE, status, &headers, &body);
                }
                match parse_json::<wire::ReportResponse>(Provider::AmazonAds, CREATE, &body) {
                    Ok(wire::ReportResponse {
                        report_id: Some(id),
                        ..
                    }) if !id.is_empty() => {
                        self.succeeded();
                        cx.emit(Event::ReportCreated {
                            report_id: id.clone(),
                        });
                        self.report_id = Some(id);
                        self.stage = Stage::Poll;
                        self.polls = 0;
                        self.pacing.schedule(
                            cx.now
                                .saturating_add(cx.config.poll.delay(cx.config.seed, 0)),
                            WaitReason::PollBackoff,
                        );
                    }
                    Ok(_) => self.retry(
                        cx,
                        malformed(CREATE, "no reportId in the response".into()),
                        None,
                    ),
                    Err(error) => self.retry(cx, error, None),
                }
            }
            (
                Call::Status,
                Reply::Response {
                    status,
                    headers,
                    body,
                },
            ) => {
                if !(200..300).contains(&status) {
                    return self.api_failure(cx, STATUS, status, &headers, &body);
                }
                match parse_json::<wire::ReportResponse>(Provider::AmazonAds, STATUS, &body) {
                    Ok(report) => self.on_status(cx, report),
                    Err(error) => self.retry(cx, error, None),
                }
            }
            (
                Call::Resolve,
                Reply::Response {
                    status,
                    headers,
                    body,
                },
            ) => {
                if (300..400).contains(&status) {
                    match find_header(&headers, "location").filter(|l| is_http_url(l)) {
                        Some(location) => {
                            // Not `succeeded()`: a fresh link does not reset the
                            // attempt budget, or a download that fails every
                            // time would be retried forever.
                            self.refreshed_after_401 = false;
                            self.link =
                                Some(Link::obtained(cx, location.to_owned(), LINK_LIFETIME_MS));
                            self.stage = Stage::Download;
                        }
                        None => self.retry(
                            cx,
                            malformed(
                                RESOLVE,
                                format!("HTTP {status} without an absolute Location header"),
                            ),
                            None,
                        ),
                    }
                } else {
                    self.api_failure(cx, RESOLVE, status, &headers, &body);
                }
            }
            (Call::Create | Call::Status, Reply::Report { .. }) => {}
        }
    }

    fn on_status(&mut self, cx: &mut Cx<'_>, report: wire::ReportResponse) {
        self.succeeded();
        let status = report.status.unwrap_or_default();
        cx.emit(Event::ReportStatus {
            status: status.clone(),
        });
        match status.as_str() {
            "IN_PROGRESS" | "PENDING" => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                self.pacing
                    .schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
            }
            "SUCCESS" => {
                self.file_size = report.file_size;
                self.stage = Stage::ResolveLink;
            }
            "FAILURE" => {
                self.fail(Error::ReportFailed {
                    provider: Provider::AmazonAds,
                    failure: ReportFailure::Fatal,
                    status,
                    detail: report.status_details.unwrap_or_else(|| {
                        "Amazon gave no details; request the report again later".to_owned()
                    }),
                });
            }
            other => self.fail(malformed(
                STATUS,
                format!("unknown report status `{}`", excerpt(other.as_bytes(), 40)),
            )),
        }
    }

    fn on_token(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        match reply {
            Reply::Response {
                status: 200..=299,
                body,
                ..
            } => match serde_json::from_slice::<wire::TokenResponse>(&body) {
                Ok(token) if !token.access_token.is_empty() => {
                    self.pacing.succeeded();
                    let expires_at = token
                        .expires_in
                        .map(|s| cx.now.saturating_add(s.saturating_mul(1000)));
                    self.token = Some(AccessToken {
                        value: Secret::new(token.access_token),
                        expires_at,
                    });
                }
                // serde's message could quote the token; say only what was wrong.
                _ => self.retry(
                    cx,
                    malformed(TOKEN, "not a token response (access_token missing)".into()),
                    None,
                ),
            },
            Reply::Response {
                status,
                headers,
                body,
            } => {
                if status == 429 || status >= 500 {
                    return self.api_failure(cx, TOKEN, status, &headers, &body);
                }
                let parsed = serde_json::from_slice::<wire::TokenError>(&body).ok();
                let code = parsed.as_ref().and_then(|e| e.error.clone());
                let detail = parsed
                    .and_then(|e| e.error_description)
                    .unwrap_or_else(|| excerpt(&body, 200))
                    + " — check the LwA client id, client secret and refresh token (a revoked grant needs a new authorization)";
                self.fail(Error::Rejected {
                    provider: Provider::AmazonAds,
                    endpoint: TOKEN.to_owned(),
                    status,
                    code,
                    detail,
                });
            }
            Reply::Failed(failure) => self.retry(cx, failure.into_error(TOKEN), None),
            Reply::Report { .. } => {}
        }
    }

    /// A non-2xx answer from an Ads API call.
    fn api_failure(
        &mut self,
        cx: &mut Cx<'_>,
        endpoint: &'static str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) {
        let api_error = serde_json::from_slice::<wire::ApiError>(body).ok();
        let code = api_error
            .as_ref()
            .and_then(|e| e.code.as_ref())
            .map(|c| match c {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        let detail = api_error
            .and_then(|e| e.details)
            .unwrap_or_else(|| excerpt(body, 300));
        match status {
            401 if endpoint != TOKEN && !self.refreshed_after_401 => {
                // The token was revoked or expired early: refresh once, then retry.
                self.refreshed_after_401 = true;
                self.token = None;
            }
            429 => {
                let hint = find_header(headers, "retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| {
                        cx.now
                            .saturating_add(s.saturating_mul(1000).min(MAX_RETRY_AFTER_MS))
                    });
                let cause = Error::UnexpectedStatus {
                    provider: Provider::AmazonAds,
                    endpoint: endpoint.to_owned(),
                    status,
                    detail,
                };
                if let Some(until) = self.retry_until(cx, cause, hint) {
                    self.bucket.exhaust_until(cx.now, until);
                    self.pacing.schedule(until, WaitReason::RetryAfter);
                    cx.emit(Event::Throttled {
                        bucket: API_BUCKET.to_owned(),
                        until,
                    });
                }
            }
            500..=599 => {
                let cause = Error::UnexpectedStatus {
                    provider: Provider::AmazonAds,
                    endpoint: endpoint.to_owned(),
                    status,
                    detail,
                };
                self.retry(cx, cause, None);
            }
            404 if endpoint != CREATE => self.fail(Error::ReportFailed {
                provider: Provider::AmazonAds,
                failure: ReportFailure::NotFound,
                status: "404".to_owned(),
                detail: format!(
                    "{detail} — the report is gone or belongs to another profile; request it again"
                ),
            }),
            _ => self.fail(Error::Rejected {
                provider: Provider::AmazonAds,
                endpoint: endpoint.to_owned(),
                status,
                code,
                detail,
            }),
        }
    }

    /// The link expired or its body was corrupt: get a fresh link, a bounded
    /// number of times; then, for expiry only, re-request the report once.
    fn refresh_link(&mut self, cx: &mut Cx<'_>, cause: Error) {
        self.link = None;
        if self.link_refreshes.allow(cx, &cause) {
            self.stage = Stage::ResolveLink;
            return;
        }
        if self.recreated || is_damaged_body(&cause) {
            self.fail(self.link_refreshes.exhausted(cause));
            return;
        }
        self.recreated = true;
        self.link_refreshes = LinkRefreshes::default();
        self.report_id = None;
        self.stage = Stage::Create;
        cx.emit(Event::Retrying {
            attempt: 2,
            after_ms: 0,
            cause: cause.kind(),
        });
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

    fn succeeded(&mut self) {
        self.pacing.succeeded();
        self.refreshed_after_401 = false;
    }

    fn fail(&mut self, error: Error) {
        self.stage = Stage::Finished(Finish::Failed { error });
    }
}

fn endpoint_of(call: Call) -> &'static str {
    match call {
        Call::Token => TOKEN,
        Call::Create => CREATE,
        Call::Status => STATUS,
        Call::Resolve => RESOLVE,
        Call::Download => DOWNLOAD,
    }
}

fn malformed(endpoint: &str, detail: String) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonAds,
        endpoint: endpoint.to_owned(),
        detail,
    }
}
