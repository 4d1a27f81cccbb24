//! The Lingxing report-export protocol: the request of each call and the
//! verdict on each answer. Pacing, budgets, the link and the download policy
//! are the shared lifecycle's (`providers::lifecycle`).
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
//!   takes its endpoint's token when it is sent and gives it back when an
//!   answer arrives (or when it never left); a call whose fate is unknown
//!   (timeout, reset, host crash) keeps it, and it returns after the
//!   gateway's 2 minutes. The buckets are persisted, so a restored job keeps
//!   the hold.

use serde::Serialize;
use serde_json::Value;

use super::config::{Credentials, ReportSpec, API_ORIGIN};
use super::sign::{self, SignError};
use super::wire::{self, Envelope};
use crate::action::{Event, Phase, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{Body, Header, TransportFailure};
use crate::integrity::Compression;
use crate::providers::{
    excerpt, is_http_url, judge_link_status, Cx, ExchangeFailure, Lifecycle, Outgoing, Protocol,
    Provider, ReportBody, Response, Verdict,
};
use crate::rate::TokenBucket;
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

/// The client-side names of the report endpoints' capacity-1 buckets.
const CREATE_BUCKET: &str = "lingxing:/basicOpen/report/create/reportExportTask";
const QUERY_BUCKET: &str = "lingxing:/basicOpen/report/query/reportExportTask";
const RENEW_BUCKET: &str = "lingxing:/basicOpen/report/amazonReportExportTask";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    Renew,
    Download,
}

crate::json_fields::deserialize_names! {
    Stage;
    "create" => Create,
    "poll" => Poll,
    "renew" => Renew,
    "download" => Download,
}

/// The calls of a Lingxing report export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Token,
    Refresh,
    Create,
    Query,
    Renew,
    Download,
}

/// Tokens the machine holds. Never persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tokens {
    access: Option<Secret<String>>,
    access_expires_at: Option<Millis>,
    refresh: Option<Secret<String>>,
    refresh_expires_at: Option<Millis>,
}

/// The Lingxing report-export protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    report_document_id: Option<String>,
    /// `compression_algorithm` of the DONE answer, verbatim.
    compression: Option<String>,
    polls: u32,
    /// Tokens obtained since the last call that succeeded, after refusals.
    reauthorized: u32,
    // Secrets stay out of snapshots: a restored job fetches a token.
    #[serde(skip)]
    tokens: Tokens,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, report_document_id, compression, polls, reauthorized, tokens = skip
}


/// What an answer to a Lingxing call says, before the machine acts on it.
enum Answer {
    Ok(Envelope),
    /// The access token was refused: `2001003` (`refresh`), `2001005`, or
    /// the refresh token is dead (`2001008`/`2001009`).
    TokenRefused {
        refresh: bool,
        cause: Error,
    },
    /// Everything else, judged by the code table.
    Judged(Verdict),
}

impl Protocol for Flow {
    const PROVIDER: Provider = Provider::Lingxing;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, _config: &JobConfig, _now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        Ok(Self {
            spec,
            stage: Stage::Create,
            report_document_id: None,
            compression: None,
            polls: 0,
            reauthorized: 0,
            tokens: Tokens::default(),
        })
    }

    /// One capacity-1 bucket per report endpoint: its token is taken at
    /// send, given back with the answer, or comes back by itself after the
    /// gateway's hold.
    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket> {
        [CREATE_BUCKET, QUERY_BUCKET, RENEW_BUCKET]
            .into_iter()
            .map(|name| TokenBucket::new(name, 1, BUCKET_HOLD_MS, now))
            .collect()
    }

    /// The AppID is the AES key of every sign: a wrong length is caught here,
    /// not when the first request is signed.
    fn check_restored(&self, life: &Lifecycle<Call>) -> Result<(), RestoreError> {
        self.spec.validate()?;
        if self.stage != Stage::Create && life.report_id().is_none() {
            return Err(RestoreError::invalid(format!(
                "stage {:?} without a report id",
                self.stage
            )));
        }
        if self.stage == Stage::Renew && self.report_document_id.is_none() {
            return Err(RestoreError::invalid(
                "stage Renew without a report_document_id",
            ));
        }
        Ok(())
    }

    fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
        credentials.validate()
    }

    fn install(&mut self, credentials: &Credentials) {
        self.tokens = Tokens {
            access: credentials.access_token.clone(),
            access_expires_at: credentials.access_token_expires_at,
            refresh: credentials.refresh_token.clone(),
            refresh_expires_at: None,
        };
    }

    fn forget_secrets(&mut self) {
        self.tokens = Tokens::default();
    }

    fn phase(&self, life: &Lifecycle<Call>) -> Phase {
        if life.in_flight().is_some_and(Self::authorizes) {
            return Phase::Authorizing;
        }
        match self.stage {
            Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::Renew => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        if self.stage == Stage::Download {
            if life.usable_link(cx.now, LINK_MARGIN_MS).is_some() {
                return Call::Download;
            }
            // Lapsed before we got to it, or lost in a restore: renew it.
            self.stage = Stage::Renew;
        }
        if self.stage == Stage::Renew && self.report_document_id.is_none() {
            // Nothing to renew by; the task's status carries a fresh link.
            self.stage = Stage::Poll;
        }
        if let Some(call) = self.token_call(cx.now) {
            return call;
        }
        match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll => Call::Query,
            Stage::Renew | Stage::Download => Call::Renew,
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Create => &[CREATE_BUCKET],
            Call::Query => &[QUERY_BUCKET],
            Call::Renew => &[RENEW_BUCKET],
            Call::Token | Call::Refresh | Call::Download => &[],
        }
    }

    fn authorizes(call: Call) -> bool {
        matches!(call, Call::Token | Call::Refresh)
    }

    fn creates(call: Call) -> bool {
        call == Call::Create
    }

    fn request(
        &mut self,
        life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let api = cx.api_origin(API_ORIGIN);
        let auth = cx.auth_origin(api);
        let region = Value::from(self.spec.region.as_str());
        let seller = Value::from(self.spec.seller_id.as_str());
        match call {
            Call::Token => Ok(token_request(
                TOKEN,
                format!("{auth}{TOKEN_PATH}"),
                &[
                    ("appId", &credentials.app_id),
                    ("appSecret", credentials.app_secret.expose()),
                ],
            )),
            Call::Refresh => {
                // Spent the moment it leaves: whatever happens next, it is never sent again.
                let refresh =
                    self.tokens.refresh.take().ok_or_else(|| {
                        Error::internal(format!("{REFRESH} without a refresh token"))
                    })?;
                self.tokens.refresh_expires_at = None;
                Ok(token_request(
                    REFRESH,
                    format!("{auth}{REFRESH_PATH}"),
                    &[
                        ("appId", &credentials.app_id),
                        ("refreshToken", refresh.expose()),
                    ],
                ))
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
                let task = Value::from(life.require_report_id(QUERY)?);
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
                let document = self.report_document_id.as_deref().ok_or_else(|| {
                    Error::internal(format!("{RENEW} without a report_document_id"))
                })?;
                let params = vec![
                    ("region", region),
                    ("seller_id", seller),
                    ("report_document_id", Value::from(document)),
                ];
                self.signed(
                    RENEW,
                    format!("{api}{RENEW_PATH}"),
                    params,
                    cx.now,
                    credentials,
                )
            }
            Call::Download => life.download(DOWNLOAD, self.report_body()),
        }
    }

    fn on_reply(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        response: Response,
    ) -> Verdict {
        // Answered: the gateway let go of the endpoint's token.
        give_back(life, cx, call);
        let Response { status, body, .. } = response;
        match call {
            Call::Download => judge_link_status(Provider::Lingxing, DOWNLOAD, status, &body),
            Call::Token | Call::Refresh => self.on_token(cx, call, status, &body),
            Call::Create | Call::Query | Call::Renew => {
                match classify(call, status, &body, false) {
                    Answer::Ok(envelope) => self.on_success(life, cx, call, &envelope),
                    Answer::TokenRefused { refresh, cause } => self.reauthorize(refresh, cause),
                    Answer::Judged(verdict) => verdict,
                }
            }
        }
    }


    fn on_failure(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        failure: ExchangeFailure,
        endpoint: &str,
    ) -> Verdict {
        // A request that never left, or whose answer did arrive (too large
        // to keep), holds nothing on the gateway. One whose fate is unknown
        // may still hold its endpoint: its token stays taken and comes back
        // by itself BUCKET_HOLD_MS after the send.
        let released = matches!(
            failure,
            ExchangeFailure::TooLarge { .. }
                | ExchangeFailure::Transport(
                    TransportFailure::Dns | TransportFailure::Connect | TransportFailure::Expired
                )
        );
        if released {
            give_back(life, cx, call);
        }
        // A refresh lost in transit may have spent its token: it is gone
        // already, and the next try fetches a new pair.
        Verdict::retry_failure(failure, endpoint)
    }
    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        // Renew by the document id; without one the task's status carries a fresh link.
        self.stage = if self.report_document_id.is_some() {
            Stage::Renew
        } else {
            Stage::Poll
        };
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
        ReportBody::single(compression, self.spec.record_format())
    }

    fn content_type(&self) -> String {
        self.spec.content_type().to_owned()
    }
}

impl Flow {
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
            .ok_or_else(|| Error::internal(format!("{endpoint} without an access token")))?
            .expose()
            .as_str();
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
            send_before: Some(
                Millis(timestamp.saturating_mul(1000)).saturating_add(SIGN_SEND_WINDOW_MS),
            ),
            ..Outgoing::post(
                endpoint,
                format!("{url}?{query}"),
                vec![
                    Header::plain("Content-Type", "application/json"),
                    Header::plain("Accept", "application/json"),
                ],
                Body::Plain(body.into_bytes()),
            )
        })
    }

    fn on_token(&mut self, cx: &mut Cx<'_>, call: Call, status: u16, body: &[u8]) -> Verdict {
        let endpoint = endpoint_of(call);
        match classify(call, status, body, true) {
            Answer::Ok(envelope) => match envelope.data_as::<wire::TokenData>() {
                Some(wire::TokenData {
                    access_token: Some(access),
                    refresh_token,
                    expires_in,
                }) if !access.is_empty() => {
                    let expires_at = wire::seconds(expires_in.as_ref())
                        .map(|s| cx.now.saturating_add(s.saturating_mul(1000)));
                    self.tokens = Tokens {
                        access: Some(Secret::new(access)),
                        access_expires_at: expires_at,
                        refresh: refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
                        refresh_expires_at: Some(cx.now.saturating_add(REFRESH_TOKEN_LIFETIME_MS)),
                    };
                    Verdict::Proceed
                }
                // Say only what was wrong: the body may hold a token.
                _ => retry(malformed(
                    endpoint,
                    "not a token answer (data.access_token missing)",
                )),
            },
            // The refresh token is dead (it left with the request anyway), or
            // the call is confused: the next try fetches a new pair.
            Answer::TokenRefused { cause, .. } => retry(cause),
            Answer::Judged(verdict) => verdict,
        }
    }

    /// The token was refused: refresh it (`2001003`), then, refused again,
    /// fetch a new pair with the AppSecret; refused a third time, give up.
    fn reauthorize(&mut self, refresh: bool, cause: Error) -> Verdict {
        if self.reauthorized >= 2 {
            return Verdict::Fatal(cause);
        }
        self.reauthorized += 1;
        self.tokens.access = None;
        self.tokens.access_expires_at = None;
        if !refresh || self.reauthorized > 1 {
            self.tokens.refresh = None;
        }
        Verdict::Reauthorize
    }

    fn on_success(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        envelope: &Envelope,
    ) -> Verdict {
        match call {
            Call::Create => match envelope
                .data_as::<wire::TaskCreated>()
                .and_then(|d| d.task_id)
                .filter(|id| !id.is_empty())
            {
                Some(task_id) => {
                    self.reauthorized = 0;
                    life.start_polling(cx, task_id, None);
                    self.stage = Stage::Poll;
                    self.polls = 0;
                    Verdict::Proceed
                }
                None => retry(malformed(CREATE, "no data.task_id in a successful answer")),
            },
            Call::Query => match envelope.data_as::<wire::TaskStatus>() {
                Some(status) => self.on_status(life, cx, status),
                None => retry(malformed(QUERY, "no task status in data")),
            },
            Call::Renew => {
                let renewed = envelope.data_as::<wire::Renewed>();
                let url = renewed
                    .as_ref()
                    .and_then(|r| r.url.clone())
                    .filter(|u| is_http_url(u));
                let Some(url) = url else {
                    return retry(malformed(RENEW, "no download url in a successful renewal"));
                };
                self.reauthorized = 0;
                if let Some(id) = renewed
                    .and_then(|r| r.report_document_id)
                    .filter(|id| !id.is_empty())
                {
                    self.report_document_id = Some(id);
                }
                self.take_link(life, cx, url);
                // Not `Proceed`: a renewal serves the download step, whose
                // attempt budget runs on until the document has arrived.
                Verdict::Continue
            }
            Call::Token | Call::Refresh | Call::Download => Verdict::Fatal(Error::internal(
                format!("{} judged as a report call", endpoint_of(call)),
            )),
        }
    }

    fn on_status(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        report: wire::TaskStatus,
    ) -> Verdict {
        let status = report.progress_status.unwrap_or_default();
        if status.is_empty() {
            return retry(malformed(QUERY, "no progress_status in data"));
        }
        self.reauthorized = 0;
        cx.emit(Event::ReportStatus {
            status: status.clone(),
        });
        match status.as_str() {
            "IN_QUEUE" | "IN_PROGRESS" | "UNKNOWN" => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                life.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
                Verdict::Proceed
            }
            "DONE" => {
                if let Some(id) = report.report_document_id.filter(|id| !id.is_empty()) {
                    self.report_document_id = Some(id);
                }
                self.compression = report.compression_algorithm;
                match report.url.filter(|u| is_http_url(u)) {
                    Some(url) => self.take_link(life, cx, url),
                    None if self.report_document_id.is_some() => self.stage = Stage::Renew,
                    None => return retry(malformed(QUERY, "DONE without url or report_document_id")),
                }
                Verdict::Proceed
            }
            "CANCELLED" => Verdict::NoData,
            "FATAL" => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::Lingxing,
                failure: ReportFailure::Fatal,
                status,
                detail: "Amazon could not generate the report; check the report type, marketplaces and period, then export again later"
                    .to_owned(),
            }),
            other => Verdict::Fatal(malformed(
                QUERY,
                &format!("unknown progress_status `{}`", excerpt(other.as_bytes(), 40)),
            )),
        }
    }

    fn take_link(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, url: String) {
        life.link_obtained(cx, url, LINK_LIFETIME_MS);
        self.stage = Stage::Download;
    }
}

/// Returns the token `call` took from its endpoint's bucket.
fn give_back(life: &mut Lifecycle<Call>, cx: &Cx<'_>, call: Call) {
    for name in Flow::budgets(call) {
        if let Some(bucket) = life.budget(name) {
            bucket.give_back(cx.now);
        }
    }
}

/// A multipart/form-data token request; its body carries a credential.
fn token_request(endpoint: &'static str, url: String, fields: &[(&str, &str)]) -> Outgoing {
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
    Outgoing::post(
        endpoint,
        url,
        vec![
            Header::plain(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            Header::plain("Accept", "application/json"),
        ],
        Body::Secret(Secret::new(body.into_bytes())),
    )
}

/// Judges an answer to `call` by its body code first, then by its HTTP
/// status. `sensitive` answers (token calls) never have their body quoted.
fn classify(call: Call, status: u16, body: &[u8], sensitive: bool) -> Answer {
    let endpoint = endpoint_of(call);
    let envelope = Envelope::parse(body);
    if let Some(envelope) = envelope.as_ref() {
        if envelope.is_success() && (200..300).contains(&status) {
            return Answer::Ok(envelope.clone());
        }
        if let Some(code) = envelope.code.as_deref().filter(|_| !envelope.is_success()) {
            return classify_code(call, status, code, &envelope.message);
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
    Answer::Judged(match status {
        200..=299 => {
            let what = if envelope.is_some() {
                "a JSON answer without a code"
            } else {
                "not a JSON envelope (HTML or truncated?)"
            };
            retry(malformed(endpoint, &format!("{what}: {}", quoted())))
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
        429 => throttled(call, unexpected(endpoint, status, &quoted())),
        500..=599 => retry(unexpected(endpoint, status, &quoted())),
        _ => Verdict::Fatal(rejected(
            endpoint,
            status,
            None,
            &quoted(),
            "check base_url: the path does not exist on this host",
        )),
    })
}

/// Lingxing's code table: what each body code means and what to fix.
fn classify_code(call: Call, status: u16, code: &str, message: &str) -> Answer {
    let endpoint = endpoint_of(call);
    let transient = || unexpected(endpoint, status, &format!("code {code}: {message}"));
    let fatal = |remedy: &str| {
        Answer::Judged(Verdict::Fatal(rejected(
            endpoint,
            status,
            Some(code),
            message,
            remedy,
        )))
    };
    match code {
        "2001003" => Answer::TokenRefused {
            refresh: true,
            cause: rejected(endpoint, status, Some(code), message, "fresh access tokens were refused too: check that no other process resets this app's tokens and that the API is granted"),
        },
        "2001005" => Answer::TokenRefused {
            refresh: false,
            cause: rejected(
                endpoint,
                status,
                Some(code),
                message,
                "another process keeps replacing this app's token: let one process hold the AppID's tokens",
            ),
        },
        "2001008" | "2001009" => Answer::TokenRefused {
            refresh: false,
            cause: transient(),
        },
        "2001007" => Answer::Judged(retry(rejected(
            endpoint,
            status,
            Some(code),
            message,
            "signs kept expiring: check the host clock (signs live 2 minutes) and send requests before send_before",
        ))),
        "3001008" | "103" => Answer::Judged(throttled(call, transient())),
        "1" | "100" | "104" => Answer::Judged(retry(transient())),
        "500" if !message.contains("NOT_FOUND") => Answer::Judged(retry(transient())),
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

/// The endpoint's bucket is empty until the retry: Lingxing names no instant.
/// Token calls draw from no bucket of ours: a plain retry.
fn throttled(call: Call, cause: Error) -> Verdict {
    match Flow::budgets(call).first() {
        Some(&budget) => Verdict::Throttled {
            cause,
            budget,
            until: None,
        },
        None => retry(cause),
    }
}

fn retry(cause: Error) -> Verdict {
    Verdict::Retry {
        cause,
        at_least: None,
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

/// A request that cannot be signed. The AppID's length is checked with the
/// credentials, and the parameters nest two levels deep at most, so this is
/// a bug, not something the host can fix.
fn sign_error(endpoint: &str, error: &SignError) -> Error {
    let what = match error {
        SignError::KeyLength(n) => format!("an AppID of {n} bytes passed the credential check"),
        SignError::TooDeep => "a parameter nests too deeply to sign".to_owned(),
    };
    Error::internal(format!("{endpoint}: {what}"))
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
