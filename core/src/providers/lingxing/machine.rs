//! The Lingxing report-export lifecycle. All transitions live here; this file
//! does not know which host drives it or how bytes travel.
//!
//! Rules that shape it:
//! - every business call is signed afresh when it is built, with the job's
//!   `now` as timestamp, and must leave within [`SIGN_SEND_WINDOW_MS`];
//! - an answer is judged by its body `code`, whatever the HTTP status;
//! - each refresh token leaves the machine once: it is dropped when the
//!   refresh request is built, so no failure can make it go out again;
//! - an expired or corrupt download is renewed through
//!   `amazonReportExportTask`; a task is never created twice by choice;
//! - each report endpoint is a capacity-1 bucket on Lingxing's side: a call
//!   holds its endpoint from the moment it is sent until its answer arrives,
//!   or, when its fate is unknown (timeout, reset, host crash), for the
//!   gateway's 2 minutes; the hold is persisted, so a restored job keeps it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{Credentials, ReportSpec, API_ORIGIN};
use super::sign::{self, SignError};
use super::wire::{self, Envelope};
use crate::action::{Event, Outcome, Phase, Summary, WaitReason};
use crate::error::{ConfigError, Error, ReportFailure};
use crate::http::{Body, Header, Method, RedirectPolicy, TransportFailure};
use crate::integrity::{Compression, Md5};
use crate::job::JobConfig;
use crate::providers::{
    excerpt, is_http_url, Attempts, Cx, ExchangeFailure, Finish, Link, LinkRefreshes, Outgoing,
    Pacing, Phased, Provider, Reply, ReportBody, Step,
};
use crate::secret::Secret;
use crate::time::Millis;

const TOKEN_PATH: &str = "/api/auth-server/oauth/access-token";
const REFRESH_PATH: &str = "/api/auth-server/oauth/refresh";
const CREATE_PATH: &str = "/basicOpen/report/create/reportExportTask";
const QUERY_PATH: &str = "/basicOpen/report/query/reportExportTask";
const RENEW_PATH: &str = "/basicOpen/report/amazonReportExportTask";

const TOKEN: &str = "POST /api/auth-server/oauth/access-token";
const REFRESH: &str = "POST /api/auth-server/oauth/refresh";
const CREATE: &str = "POST /basicOpen/report/create/reportExportTask";
const QUERY: &str = "POST /basicOpen/report/query/reportExportTask";
const RENEW: &str = "POST /basicOpen/report/amazonReportExportTask";
const DOWNLOAD: &str = "GET <report document link>";

/// Download links live 5 minutes from the answer that carried them.
pub(crate) const LINK_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// A download does not start with less than this left on its link.
const LINK_MARGIN_MS: u64 = 10_000;
/// Signs are valid 2 minutes; a signed request must leave within half of
/// that, leaving the rest for clock skew and transit.
pub(crate) const SIGN_SEND_WINDOW_MS: u64 = 60_000;
/// Renew the access token this long before it expires (covers a signed
/// request's send window and its timeout).
const TOKEN_MARGIN_MS: u64 = 5 * 60 * 1000;
/// A refresh token is valid 2 hours from issue.
const REFRESH_TOKEN_LIFETIME_MS: u64 = 2 * 60 * 60 * 1000;
/// The gateway returns a request's bucket token after at most 2 minutes.
pub(crate) const BUCKET_HOLD_MS: u64 = 120_000;
/// Multipart boundary of the token calls.
const BOUNDARY: &str = "reportflow-lingxing-7e0c9a51d3b24f18";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    Renew,
    Download,
    Finished(Finish),
}

/// Which request is in flight; not persisted (a restored job re-sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Token,
    Refresh,
    Create,
    Query,
    Renew,
    Download,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    call: Call,
    sent_at: Millis,
}

/// Tokens the machine holds. Never persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tokens {
    access: Option<Secret<String>>,
    access_expires_at: Option<Millis>,
    refresh: Option<Secret<String>>,
    refresh_expires_at: Option<Millis>,
}

/// When each capacity-1 endpoint may be called again (`0` = free).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gates {
    create: Millis,
    query: Millis,
    renew: Millis,
}

impl Gates {
    fn slot(&mut self, call: Call) -> Option<&mut Millis> {
        match call {
            Call::Create => Some(&mut self.create),
            Call::Query => Some(&mut self.query),
            Call::Renew => Some(&mut self.renew),
            Call::Token | Call::Refresh | Call::Download => None,
        }
    }

    fn free_at(&mut self, call: Call) -> Millis {
        self.slot(call).map_or(Millis::ZERO, |at| *at)
    }

    fn set(&mut self, call: Call, at: Millis) {
        if let Some(slot) = self.slot(call) {
            *slot = at;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Machine {
    spec: ReportSpec,
    stage: Stage,
    task_id: Option<String>,
    report_document_id: Option<String>,
    /// `compression_algorithm` of the DONE answer, verbatim.
    compression: Option<String>,
    polls: u32,
    pacing: Pacing,
    /// Token calls count their own failures, so fetching a token (as every
    /// restored job does) never changes the budget of the step it serves.
    #[serde(default)]
    token_attempts: Attempts,
    link_renewals: LinkRefreshes,
    /// Tokens obtained since the last call that succeeded, after refusals.
    reauthorized: u32,
    gates: Gates,
    // Secrets and short-lived capabilities stay out of snapshots: a restored
    // job fetches a token and renews the link.
    #[serde(skip)]
    tokens: Tokens,
    #[serde(skip)]
    link: Option<Link>,
    #[serde(skip)]
    in_flight: Option<InFlight>,
}

impl Phased for Machine {
    fn phase(&self) -> Phase {
        if matches!(
            self.in_flight,
            Some(InFlight {
                call: Call::Token | Call::Refresh,
                ..
            })
        ) {
            return Phase::Authorizing;
        }
        match self.stage {
            Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::Renew => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
            Stage::Finished(_) => Phase::Finished,
        }
    }
}

/// How an answer to a Lingxing API call is to be handled.
enum Verdict {
    Ok(Envelope),
    /// `2001003` (refresh) or `2001005` (fetch anew), then replay.
    Reauthorize {
        refresh: bool,
        cause: Error,
    },
    /// `2001008`/`2001009`: the refresh token is dead; fetch anew.
    RefreshRefused(Error),
    /// `3001008`, `103`, HTTP 429.
    Throttled(Error),
    /// `2001007`: the sign expired; a re-signed replay.
    Resign(Error),
    /// Server trouble or an unreadable answer.
    Retry(Error),
    /// Only the user can fix it.
    Fatal(Error),
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
            task_id: None,
            report_document_id: None,
            compression: None,
            polls: 0,
            pacing: Pacing::new(now),
            token_attempts: Attempts::default(),
            link_renewals: LinkRefreshes::default(),
            reauthorized: 0,
            gates: Gates::default(),
            tokens: Tokens::default(),
            link: None,
            in_flight: None,
        })
    }

    /// Takes the host's current tokens, if it gave any.
    pub(crate) fn install(&mut self, credentials: &Credentials) {
        self.in_flight = None;
        self.tokens = Tokens {
            access: credentials.access_token.clone(),
            access_expires_at: credentials.access_token_expires_at,
            refresh: credentials.refresh_token.clone(),
            refresh_expires_at: None,
        };
    }

    /// The machine without its secrets and in-flight bookkeeping: exactly
    /// what a snapshot holds.
    pub(crate) fn persistable(&self) -> Self {
        Self {
            tokens: Tokens::default(),
            link: None,
            in_flight: None,
            ..self.clone()
        }
    }

    /// The export task id, once created.
    pub(crate) fn report_id(&self) -> Option<&str> {
        self.task_id.as_deref()
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
                // Lapsed before we got to it, or lost in a restore: renew it.
                _ => {
                    self.link = None;
                    self.stage = Stage::Renew;
                }
            }
        }
        if self.stage == Stage::Renew && self.report_document_id.is_none() {
            // Nothing to renew by; the task's status carries a fresh link.
            self.stage = Stage::Poll;
        }
        if let Some(call) = self.token_call(cx.now) {
            return self.send(call, cx, credentials);
        }
        let call = match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll => Call::Query,
            _ => Call::Renew,
        };
        let free_at = self.gates.free_at(call);
        if cx.now < free_at {
            return Step::Wait {
                until: free_at,
                reason: WaitReason::RateLimit {
                    bucket: bucket(call),
                },
            };
        }
        self.send(call, cx, credentials)
    }

    /// The token call due now, if the access token is missing or about to expire.
    fn token_call(&self, now: Millis) -> Option<Call> {
        let fresh =
            |at: Option<Millis>| at.map_or(true, |at| now.saturating_add(TOKEN_MARGIN_MS) < at);
        if self.tokens.access.is_some() && fresh(self.tokens.access_expires_at) {
            return None;
        }
        if self.tokens.refresh.is_some() && fresh(self.tokens.refresh_expires_at) {
            Some(Call::Refresh)
        } else {
            Some(Call::Token)
        }
    }

    fn send(&mut self, call: Call, cx: &Cx<'_>, credentials: &Credentials) -> Step {
        let api = cx
            .config
            .base_url
            .as_deref()
            .unwrap_or(API_ORIGIN)
            .trim_end_matches('/');
        let auth = cx
            .config
            .auth_base_url
            .as_deref()
            .unwrap_or(api)
            .trim_end_matches('/');
        let region = Value::from(self.spec.region.as_str());
        let seller = Value::from(self.spec.seller_id.as_str());
        let outgoing = match call {
            Call::Token => token_request(
                TOKEN,
                format!("{auth}{TOKEN_PATH}"),
                &[
                    ("appId", &credentials.app_id),
                    ("appSecret", credentials.app_secret.expose()),
                ],
            ),
            Call::Refresh => {
                // Spent the moment it leaves: whatever happens next, it is never sent again.
                let refresh = self
                    .tokens
                    .refresh
                    .take()
                    .map(|t| t.expose().clone())
                    .unwrap_or_default();
                self.tokens.refresh_expires_at = None;
                token_request(
                    REFRESH,
                    format!("{auth}{REFRESH_PATH}"),
                    &[("appId", &credentials.app_id), ("refreshToken", &refresh)],
                )
            }
            Call::Create => {
                let mut params = vec![
                    ("seller_id", seller),
                    ("report_type", Value::from(self.spec.report_type.as_str())),
                    (
                        "marketplace_ids",
                        Value::from(self.spec.marketplace_ids.clone()),
                    ),
                    ("region", region),
                ];
                if let Some(start) = &self.spec.data_start_time {
                    params.push(("data_start_time", Value::from(start.as_str())));
                }
                if let Some(end) = &self.spec.data_end_time {
                    params.push(("data_end_time", Value::from(end.as_str())));
                }
                if !self.spec.report_options.is_empty() {
                    let options = self
                        .spec
                        .report_options
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect();
                    params.push(("report_options", Value::Object(options)));
                }
                self.signed(
                    CREATE,
                    format!("{api}{CREATE_PATH}"),
                    params,
                    cx.now,
                    credentials,
                )
            }
            Call::Query => {
                let task = Value::from(self.task_id.as_deref().unwrap_or_default());
                let params = vec![("seller_id", seller), ("task_id", task), ("region", region)];
                self.signed(
                    QUERY,
                    format!("{api}{QUERY_PATH}"),
                    params,
                    cx.now,
                    credentials,
                )
            }
            Call::Renew => {
                let document = Value::from(self.report_document_id.as_deref().unwrap_or_default());
                let params = vec![
                    ("region", region),
                    ("seller_id", seller),
                    ("report_document_id", document),
                ];
                self.signed(
                    RENEW,
                    format!("{api}{RENEW_PATH}"),
                    params,
                    cx.now,
                    credentials,
                )
            }
            Call::Download => {
                let (url, expires_at) = self
                    .link
                    .as_ref()
                    .map(|l| (l.url.clone(), l.expires_at))
                    .unwrap_or_default();
                Ok(Outgoing {
                    endpoint: DOWNLOAD,
                    method: Method::Get,
                    url,
                    // Deliberately nothing of Lingxing: the link is a presigned
                    // Amazon URL; tokens and signs must not travel there.
                    headers: Vec::new(),
                    body: Body::Empty,
                    redirect: RedirectPolicy::Follow,
                    report_body: Some(self.report_body()),
                    send_before: Some(expires_at),
                })
            }
        };
        match outgoing {
            Ok(outgoing) => {
                self.in_flight = Some(InFlight {
                    call,
                    sent_at: cx.now,
                });
                // Taken on arrival, returned with the answer or after the gateway's timeout.
                self.gates.set(call, cx.now.saturating_add(BUCKET_HOLD_MS));
                Step::Send(outgoing)
            }
            Err(error) => {
                self.fail(error.clone());
                Step::Failed(error)
            }
        }
    }

    /// A business call: JSON body of `params`, signed query.
    fn signed(
        &self,
        endpoint: &'static str,
        url: String,
        params: Vec<(&'static str, Value)>,
        now: Millis,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let token = self
            .tokens
            .access
            .as_ref()
            .map(|t| t.expose().as_str())
            .unwrap_or_default();
        let timestamp = now.as_u64() / 1000;
        let common = [
            ("access_token", Value::from(token)),
            ("app_key", Value::from(credentials.app_id.as_str())),
            ("timestamp", Value::from(timestamp)),
        ];
        let signature = sign::sign(
            &credentials.app_id,
            params.iter().chain(common.iter()).map(|(k, v)| (*k, v)),
        )
        .map_err(|e| sign_error(endpoint, &e))?;
        let body = sign::compact_json(&Value::Object(
            params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .map_err(|e| sign_error(endpoint, &e))?;
        let query = format!(
            "access_token={}&app_key={}&timestamp={timestamp}&sign={}",
            sign::encode(token),
            sign::encode(&credentials.app_id),
            sign::encode(&signature)
        );
        Ok(Outgoing {
            endpoint,
            method: Method::Post,
            url: format!("{url}?{query}"),
            headers: vec![
                Header::plain("Content-Type", "application/json"),
                Header::plain("Accept", "application/json"),
            ],
            body: Body::Plain(body.into_bytes()),
            redirect: RedirectPolicy::Follow,
            report_body: None,
            send_before: Some(
                Millis(timestamp.saturating_mul(1000)).saturating_add(SIGN_SEND_WINDOW_MS),
            ),
        })
    }

    fn report_body(&self) -> ReportBody {
        let labelled_gzip = self
            .compression
            .as_deref()
            .is_some_and(|label| label.trim().eq_ignore_ascii_case("GZIP"));
        // A GZIP label makes gzip mandatory (a body without the magic is corrupt);
        // without it the bytes decide.
        let compression = if labelled_gzip {
            Compression::Gzip
        } else {
            Compression::Identity
        };
        ReportBody {
            compression,
            record_format: self.spec.record_format(),
            size_hint: None,
            container: crate::providers::Container::Single,
        }
    }

    pub(crate) fn on_reply(&mut self, cx: &mut Cx<'_>, reply: Reply) {
        let Some(InFlight { call, sent_at }) = self.in_flight.take() else {
            return;
        };
        match call {
            Call::Token | Call::Refresh => self.on_token(cx, call, reply),
            Call::Download => self.on_download(cx, reply),
            Call::Create | Call::Query | Call::Renew => self.on_business(cx, call, sent_at, reply),
        }
    }

    fn on_business(&mut self, cx: &mut Cx<'_>, call: Call, sent_at: Millis, reply: Reply) {
        let endpoint = endpoint_of(call);
        match reply {
            Reply::Failed(failure) => {
                // A request that may have reached the gateway keeps holding its
                // endpoint's only token (set when it was sent) until the gateway
                // lets go of it; one that never left frees it.
                let never_left = matches!(
                    failure,
                    ExchangeFailure::Transport(
                        TransportFailure::Dns
                            | TransportFailure::Connect
                            | TransportFailure::Expired
                    )
                );
                if never_left {
                    self.gates.set(call, Millis::ZERO);
                } else {
                    self.gates.set(call, sent_at.saturating_add(BUCKET_HOLD_MS));
                }
                match failure {
                    ExchangeFailure::TooLarge { limit } => {
                        self.fail(Error::ResponseTooLarge {
                            endpoint: endpoint.to_owned(),
                            limit,
                        });
                    }
                    failure => self.retry(cx, failure.into_error(endpoint)),
                }
            }
            Reply::Report { .. } => {}
            Reply::Response { status, body, .. } => {
                // The request completed, so its bucket token is back.
                self.gates.set(call, Millis::ZERO);
                match classify(endpoint, status, &body, false) {
                    Verdict::Ok(envelope) => self.on_success(cx, call, &envelope),
                    Verdict::Reauthorize { refresh, cause } => self.reauthorize(refresh, cause),
                    Verdict::RefreshRefused(cause) => self.reauthorize(false, cause),
                    Verdict::Throttled(cause) => {
                        if let Some(until) = self.retry_until(cx, cause) {
                            self.gates.set(call, until);
                            self.pacing.schedule(
                                until,
                                WaitReason::RateLimit {
                                    bucket: bucket(call),
                                },
                            );
                            cx.emit(Event::Throttled {
                                bucket: bucket(call),
                                until,
                            });
                        }
                    }
                    Verdict::Resign(cause) | Verdict::Retry(cause) => self.retry(cx, cause),
                    Verdict::Fatal(error) => self.fail(error),
                }
            }
        }
    }

    /// The token was refused: refresh it (`2001003`), then, refused again,
    /// fetch a new pair with the AppSecret; refused a third time, give up.
    fn reauthorize(&mut self, refresh: bool, cause: Error) {
        if self.reauthorized >= 2 {
            return self.fail(cause);
        }
        self.reauthorized += 1;
        self.tokens.access = None;
        self.tokens.access_expires_at = None;
        if !refresh || self.reauthorized > 1 {
            self.tokens.refresh = None;
        }
    }

    fn on_success(&mut self, cx: &mut Cx<'_>, call: Call, envelope: &Envelope) {
        match call {
            Call::Create => match envelope
                .data_as::<wire::TaskCreated>()
                .and_then(|d| d.task_id)
                .filter(|id| !id.is_empty())
            {
                Some(task_id) => {
                    self.succeeded();
                    cx.emit(Event::ReportCreated {
                        report_id: task_id.clone(),
                    });
                    self.task_id = Some(task_id);
                    self.stage = Stage::Poll;
                    self.polls = 0;
                    self.pacing.schedule(
                        cx.now
                            .saturating_add(cx.config.poll.delay(cx.config.seed, 0)),
                        WaitReason::PollBackoff,
                    );
                }
                None => self.retry(
                    cx,
                    malformed(CREATE, "no data.task_id in a successful answer"),
                ),
            },
            Call::Query => match envelope.data_as::<wire::TaskStatus>() {
                Some(status) => self.on_status(cx, status),
                None => self.retry(cx, malformed(QUERY, "no task status in data")),
            },
            Call::Renew => {
                let renewed = envelope.data_as::<wire::Renewed>();
                let url = renewed
                    .as_ref()
                    .and_then(|r| r.url.clone())
                    .filter(|u| is_http_url(u));
                match url {
                    Some(url) => {
                        // A renewal serves the download step, whose retry budget
                        // runs on until the document has arrived.
                        self.reauthorized = 0;
                        if let Some(id) = renewed
                            .and_then(|r| r.report_document_id)
                            .filter(|id| !id.is_empty())
                        {
                            self.report_document_id = Some(id);
                        }
                        self.take_link(cx, url);
                    }
                    None => self.retry(
                        cx,
                        malformed(RENEW, "no download url in a successful renewal"),
                    ),
                }
            }
            Call::Token | Call::Refresh | Call::Download => {}
        }
    }

    fn on_status(&mut self, cx: &mut Cx<'_>, report: wire::TaskStatus) {
        let status = report.progress_status.unwrap_or_default();
        if status.is_empty() {
            return self.retry(cx, malformed(QUERY, "no progress_status in data"));
        }
        self.succeeded();
        cx.emit(Event::ReportStatus {
            status: status.clone(),
        });
        match status.as_str() {
            "IN_QUEUE" | "IN_PROGRESS" | "UNKNOWN" => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                self.pacing
                    .schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
            }
            "DONE" => {
                if let Some(id) = report.report_document_id.filter(|id| !id.is_empty()) {
                    self.report_document_id = Some(id);
                }
                self.compression = report.compression_algorithm;
                match report.url.filter(|u| is_http_url(u)) {
                    Some(url) => self.take_link(cx, url),
                    None if self.report_document_id.is_some() => self.stage = Stage::Renew,
                    None => self.retry(cx, malformed(QUERY, "DONE without url or report_document_id")),
                }
            }
            "CANCELLED" => {
                let summary = self.summary(Outcome::NoData, 0, 0, Md5::digest(b"").to_hex(), false, 0);
                self.stage = Stage::Finished(Finish::Done { summary });
            }
            "FATAL" => self.fail(Error::ReportFailed {
                provider: Provider::Lingxing,
                failure: ReportFailure::Fatal,
                status,
                detail: "Amazon could not generate the report; check the report type, marketplaces and period, then export again later"
                    .to_owned(),
            }),
            other => self.fail(malformed(QUERY, &format!("unknown progress_status `{}`", excerpt(other.as_bytes(), 40)))),
        }
    }

    fn take_link(&mut self, cx: &mut Cx<'_>, url: String) {
        self.link = Some(Link::obtained(cx, url, LINK_LIFETIME_MS));
        self.stage = Stage::Download;
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
                    provider: Provider::Lingxing,
                    endpoint: DOWNLOAD.to_owned(),
                    status,
                    detail: excerpt(&body, 300),
                };
                if status >= 500 {
                    self.retry(cx, cause);
                } else {
                    // 403 "Request has expired" and kin: the link is no good.
                    self.renew_link(cx, cause);
                }
            }
            Reply::Failed(ExchangeFailure::Integrity(error)) => {
                self.renew_link(cx, Error::Integrity(error))
            }
            Reply::Failed(ExchangeFailure::Records(error)) => self.fail(Error::Records(error)),
            Reply::Failed(ExchangeFailure::TooLarge { limit }) => {
                self.fail(Error::ResponseTooLarge {
                    endpoint: DOWNLOAD.to_owned(),
                    limit,
                });
            }
            Reply::Failed(failure) => {
                if failure == ExchangeFailure::Transport(TransportFailure::Expired) {
                    // The host held the request past the link's life.
                    self.link = None;
                }
                self.retry(cx, failure.into_error(DOWNLOAD));
            }
        }
    }

    /// The link expired or its body was corrupt: renew it, a bounded number
    /// of times; never create a new task.
    fn renew_link(&mut self, cx: &mut Cx<'_>, cause: Error) {
        self.link = None;
        if self.link_renewals.allow(cx, &cause) {
            self.stage = Stage::Renew;
        } else {
            self.fail(self.link_renewals.exhausted(cause));
        }
    }

    fn on_token(&mut self, cx: &mut Cx<'_>, call: Call, reply: Reply) {
        let endpoint = endpoint_of(call);
        match reply {
            Reply::Failed(ExchangeFailure::TooLarge { limit }) => {
                self.fail(Error::ResponseTooLarge {
                    endpoint: endpoint.to_owned(),
                    limit,
                });
            }
            // A refresh lost in transit may have spent its token: it is gone
            // already, and the next try fetches a new pair.
            Reply::Failed(failure) => self.retry_token(cx, failure.into_error(endpoint)),
            Reply::Report { .. } => {}
            Reply::Response { status, body, .. } => match classify(endpoint, status, &body, true) {
                Verdict::Ok(envelope) => match envelope.data_as::<wire::TokenData>() {
                    Some(wire::TokenData {
                        access_token: Some(access),
                        refresh_token,
                        expires_in,
                    }) if !access.is_empty() => {
                        self.token_attempts.reset();
                        let expires_at = wire::seconds(expires_in.as_ref())
                            .map(|s| cx.now.saturating_add(s.saturating_mul(1000)));
                        self.tokens = Tokens {
                            access: Some(Secret::new(access)),
                            access_expires_at: expires_at,
                            refresh: refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
                            refresh_expires_at: Some(
                                cx.now.saturating_add(REFRESH_TOKEN_LIFETIME_MS),
                            ),
                        };
                    }
                    // Say only what was wrong: the body may hold a token.
                    _ => self.retry_token(
                        cx,
                        malformed(endpoint, "not a token answer (data.access_token missing)"),
                    ),
                },
                // The refresh token is dead (or the call is confused): fetch a new pair.
                Verdict::RefreshRefused(cause) | Verdict::Reauthorize { cause, .. }
                    if call == Call::Refresh =>
                {
                    self.tokens.refresh = None;
                    self.retry_token(cx, cause);
                }
                Verdict::RefreshRefused(cause)
                | Verdict::Reauthorize { cause, .. }
                | Verdict::Throttled(cause)
                | Verdict::Resign(cause)
                | Verdict::Retry(cause) => self.retry_token(cx, cause),
                Verdict::Fatal(error) => self.fail(error),
            },
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
        Summary {
            provider: Provider::Lingxing,
            report_id: self.task_id.clone().unwrap_or_default(),
            outcome,
            content_type: self.spec.content_type().to_owned(),
            record_format: self.spec.record_format(),
            raw_bytes,
            bytes,
            md5,
            gzip,
            rows,
            requests: 0,
            parts: Vec::new(),
        }
    }

    fn retry(&mut self, cx: &mut Cx<'_>, cause: Error) {
        let _ = self.retry_until(cx, cause);
    }

    fn retry_token(&mut self, cx: &mut Cx<'_>, cause: Error) {
        match self.token_attempts.retry(cx, cause, None) {
            Ok(until) => self.pacing.schedule(until, WaitReason::RetryBackoff),
            Err(error) => self.fail(error),
        }
    }

    /// Schedules a retry; `None` once the attempts are spent (the job failed).
    fn retry_until(&mut self, cx: &mut Cx<'_>, cause: Error) -> Option<Millis> {
        self.pacing
            .retry(cx, cause, None)
            .map_err(|error| self.fail(error))
            .ok()
    }

    fn succeeded(&mut self) {
        self.pacing.succeeded();
        self.reauthorized = 0;
    }

    fn fail(&mut self, error: Error) {
        self.stage = Stage::Finished(Finish::Failed { error });
    }
}

/// A multipart/form-data token request; its body carries a credential.
fn token_request(
    endpoint: &'static str,
    url: String,
    fields: &[(&str, &str)],
) -> Result<Outgoing, Error> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str("--");
        body.push_str(BOUNDARY);
        body.push_str("\r\nContent-Disposition: form-data; name=\"");
        body.push_str(name);
        body.push_str("\"\r\n\r\n");
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str("--");
    body.push_str(BOUNDARY);
    body.push_str("--\r\n");
    Ok(Outgoing {
        endpoint,
        method: Method::Post,
        url,
        headers: vec![
            Header::plain(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            Header::plain("Accept", "application/json"),
        ],
        body: Body::Secret(Secret::new(body.into_bytes())),
        redirect: RedirectPolicy::Follow,
        report_body: None,
        send_before: None,
    })
}

/// Judges an answer by its body code first, then by its HTTP status.
/// `sensitive` answers (token calls) never have their body quoted.
fn classify(endpoint: &'static str, status: u16, body: &[u8], sensitive: bool) -> Verdict {
    let envelope = Envelope::parse(body);
    if let Some(envelope) = envelope.as_ref() {
        if envelope.is_success() && (200..300).contains(&status) {
            return Verdict::Ok(envelope.clone());
        }
        if let Some(code) = envelope.code.as_deref().filter(|_| !envelope.is_success()) {
            return classify_code(endpoint, status, code, &envelope.message);
        }
    }
    let quoted = || match envelope
        .as_ref()
        .map(|e| e.message.as_str())
        .filter(|m| !m.is_empty())
    {
        Some(message) => message.to_owned(),
        None if sensitive && (200..300).contains(&status) => "(body withheld)".to_owned(),
        None => excerpt(body, 200),
    };
    match status {
        200..=299 => {
            let what = if envelope.is_some() {
                "a JSON answer without a code"
            } else {
                "not a JSON envelope (HTML or truncated?)"
            };
            Verdict::Retry(malformed(endpoint, &format!("{what}: {}", quoted())))
        }
        401 | 403 => {
            let detail = quoted();
            let remedy = if detail.contains("IP address is not allowed") {
                "the gateway's firewall refused the caller: add this host's public IP to the app's white list; if it is listed, use a mainstream HTTP client and User-Agent"
            } else {
                "the app's authorization is disabled, expired or lacks this API: check it in ERP (设置 > 业务配置 > 全局 > 开放接口)"
            };
            Verdict::Fatal(rejected(endpoint, status, None, &detail, remedy))
        }
        429 => Verdict::Throttled(unexpected(endpoint, status, &quoted())),
        500..=599 => Verdict::Retry(unexpected(endpoint, status, &quoted())),
        _ => Verdict::Fatal(rejected(
            endpoint,
            status,
            None,
            &quoted(),
            "check base_url: the path does not exist on this host",
        )),
    }
}

fn classify_code(endpoint: &'static str, status: u16, code: &str, message: &str) -> Verdict {
    let retry = || unexpected(endpoint, status, &format!("code {code}: {message}"));
    let fatal =
        |remedy: &str| Verdict::Fatal(rejected(endpoint, status, Some(code), message, remedy));
    match code {
        "2001003" => Verdict::Reauthorize {
            refresh: true,
            cause: rejected(endpoint, status, Some(code), message, "fresh access tokens were refused too: check that no other process resets this app's tokens and that the API is granted"),
        },
        "2001005" => Verdict::Reauthorize {
            refresh: false,
            cause: rejected(
                endpoint,
                status,
                Some(code),
                message,
                "another process keeps replacing this app's token: let one process hold the AppID's tokens",
            ),
        },
        "2001008" | "2001009" => Verdict::RefreshRefused(retry()),
        "2001007" => Verdict::Resign(rejected(
            endpoint,
            status,
            Some(code),
            message,
            "signs kept expiring: check the host clock (signs live 2 minutes) and send requests before send_before",
        )),
        "3001008" | "103" => Verdict::Throttled(retry()),
        "1" | "100" | "104" => Verdict::Retry(retry()),
        "500" if !message.contains("NOT_FOUND") => Verdict::Retry(retry()),
        "500" | "400" => fatal("the path does not exist: check base_url (no doubled '/')"),
        "2001001" => fatal("the AppID is unknown: check appId (ERP: 设置 > 业务配置 > 全局 > 开放接口)"),
        "2001002" => fatal("the AppSecret is wrong: check appSecret (resetting it in ERP invalidates the old one)"),
        "0001001" => fatal("the gateway could not decrypt the AppSecret: check that appSecret is copied exactly"),
        "2001004" => fatal("this API is not granted to the app: ask Lingxing to authorize the report-export APIs"),
        "2001006" => fatal("the signature was refused: appId must be the app's exact AppID, which is also the signing key"),
        "3001001" => fatal("a signing parameter was missing: this is a reportflow bug, please report it"),
        "3001002" => fatal("this host's public IP is not on the app's white list: add it in ERP"),
        "102" => fatal("a parameter is invalid: check seller_id, report_type, marketplace ids, period and options"),
        "401" => fatal("the app's authorization is disabled: re-enable it in ERP"),
        "403" => fatal("the app's authorization expired or lacks this API: renew or extend it in ERP"),
        _ => fatal("Lingxing refused the request"),
    }
}

fn rejected(endpoint: &str, status: u16, code: Option<&str>, message: &str, remedy: &str) -> Error {
    let detail = if message.is_empty() {
        remedy.to_owned()
    } else {
        format!("{} — {remedy}", excerpt(message.as_bytes(), 200))
    };
    Error::Rejected {
        provider: Provider::Lingxing,
        endpoint: endpoint.to_owned(),
        status,
        code: code.map(str::to_owned),
        detail,
    }
}

fn unexpected(endpoint: &str, status: u16, detail: &str) -> Error {
    Error::UnexpectedStatus {
        provider: Provider::Lingxing,
        endpoint: endpoint.to_owned(),
        status,
        detail: excerpt(detail.as_bytes(), 300),
    }
}

fn malformed(endpoint: &str, detail: &str) -> Error {
    Error::MalformedResponse {
        provider: Provider::Lingxing,
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

fn sign_error(endpoint: &str, error: &SignError) -> Error {
    let detail = match error {
        SignError::KeyLength(n) => {
            format!("the AppID is {n} bytes; the signing key must be the 16-character AppID")
        }
        SignError::TooDeep => "a parameter nests too deeply to sign".to_owned(),
    };
    Error::Rejected {
        provider: Provider::Lingxing,
        endpoint: endpoint.to_owned(),
        status: 0,
        code: None,
        detail,
    }
}

fn endpoint_of(call: Call) -> &'static str {
    match call {
        Call::Token => TOKEN,
        Call::Refresh => REFRESH,
        Call::Create => CREATE,
        Call::Query => QUERY,
        Call::Renew => RENEW,
        Call::Download => DOWNLOAD,
    }
}

/// The client-side name of an endpoint's capacity-1 bucket.
fn bucket(call: Call) -> String {
    let path = match call {
        Call::Create => CREATE_PATH,
        Call::Query => QUERY_PATH,
        Call::Renew => RENEW_PATH,
        Call::Token => TOKEN_PATH,
        Call::Refresh => REFRESH_PATH,
        Call::Download => "download",
    };
    format!("lingxing:{path}")
}
