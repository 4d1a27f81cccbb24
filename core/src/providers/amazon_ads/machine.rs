//! The Sponsored Display v2 report lifecycle: the request of each call and
//! the verdict on each answer. Pacing, budgets, links and the download
//! policy are the shared lifecycle's (`providers::lifecycle`).

use serde::{Deserialize, Serialize};

use super::config::{Credentials, ReportSpec};
use super::wire;
use crate::action::{Event, Phase, WaitReason};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{find_header, Body, Header, RedirectPolicy};
use crate::integrity::Compression;
use crate::providers::{
    encode_segment, excerpt, is_damaged_body, is_http_url, judge_link_status, lwa, parse_json, retry_after, Cx, Lifecycle, Outgoing,
    Protocol, Provider, ReportBody, Response, Verdict,
};
use crate::providers::lwa::TOKEN;
use crate::rate::TokenBucket;
use crate::records::RecordFormat;
use crate::time::Millis;

const CREATE: &str = "POST /sd/{recordType}/report";
const STATUS: &str = "GET /v2/reports/{reportId}";
const RESOLVE: &str = "GET /v2/reports/{reportId}/download";
const DOWNLOAD: &str = "GET <S3 download link>";

/// Presigned S3 links live 30 seconds (OpenAPI `downloadReport`).
const LINK_LIFETIME_MS: u64 = 30_000;
/// The job's own pacing of Ads API calls; Amazon's limits are dynamic and
/// undocumented, so this only keeps a burst of retries polite. A 429 empties
/// it until `Retry-After`.
const API_BUCKET: &str = "amazon-ads:api";
const API_BUCKET_CAPACITY: u32 = 5;
const API_BUCKET_REFILL_MS: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    ResolveLink,
    Download,
}

/// The calls of a Sponsored Display report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Token,
    Create,
    Status,
    Resolve,
    Download,
}

/// The Amazon Ads SD v2 protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    file_size: Option<u64>,
    polls: u32,
    /// The report was requested a second time after its links kept
    /// expiring (the spec's last resort; once per job).
    recreated: bool,
    refreshed_after_401: bool,
    // A secret: a restored job refreshes its token.
    #[serde(skip)]
    lwa: lwa::Session,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, file_size, polls, recreated, refreshed_after_401, lwa = skip
}


impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonAds;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, _config: &JobConfig, _now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        Ok(Self {
            spec,
            stage: Stage::Create,
            file_size: None,
            polls: 0,
            recreated: false,
            refreshed_after_401: false,
            lwa: lwa::Session::default(),
        })
    }

    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket> {
        vec![TokenBucket::new(
            API_BUCKET,
            API_BUCKET_CAPACITY,
            API_BUCKET_REFILL_MS,
            now,
        )]
    }

    fn check_restored(&self, life: &Lifecycle<Call>) -> Result<(), RestoreError> {
        self.spec.validate()?;
        if self.stage != Stage::Create && life.report_id().is_none() {
            return Err(RestoreError::invalid(format!(
                "stage {:?} without a report id",
                self.stage
            )));
        }
        Ok(())
    }

    fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
        credentials.check()
    }

    fn install(&mut self, credentials: &Credentials) {
        self.lwa.install(credentials);
    }

    fn forget_secrets(&mut self) {
        self.lwa.forget();
    }

    fn phase(&self, life: &Lifecycle<Call>) -> Phase {
        if life.in_flight() == Some(Call::Token) {
            return Phase::Authorizing;
        }
        match self.stage {
            Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::ResolveLink => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        if self.stage == Stage::Download {
            if life.usable_link(cx.now, 0).is_some() {
                return Call::Download;
            }
            // Expired before we got to it, or lost in a restore: ask for a fresh one.
            self.stage = Stage::ResolveLink;
        }
        if self.lwa.needs_token(cx.now) {
            return Call::Token;
        }
        match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll => Call::Status,
            Stage::ResolveLink | Stage::Download => Call::Resolve,
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Create | Call::Status | Call::Resolve => &[API_BUCKET],
            Call::Token | Call::Download => &[],
        }
    }

    fn authorizes(call: Call) -> bool {
        call == Call::Token
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
        let api = cx.api_origin(self.spec.region.api_origin());
        Ok(match call {
            Call::Token => lwa::Session::request(
                cx.auth_origin(self.spec.region.auth_origin()),
                credentials,
            ),
            Call::Create => {
                let body = wire::ReportRequest {
                    report_date: &self.spec.report_date,
                    tactic: self.spec.tactic.as_str(),
                    segment: self.spec.segment.map(|s| s.as_str()),
                    metrics: self.spec.metrics.join(","),
                };
                let body = serde_json::to_vec(&body)
                    .map_err(|e| Error::internal(format!("{CREATE} body: {e}")))?;
                let mut headers = self.api_headers(credentials);
                headers.push(Header::plain("Content-Type", "application/json"));
                let url = format!("{api}/sd/{}/report", self.spec.record_type.as_str());
                Outgoing::post(CREATE, url, headers, Body::Plain(body))
            }
            Call::Status => {
                let id = encode_segment(life.require_report_id(STATUS)?);
                let url = format!("{api}/v2/reports/{id}");
                Outgoing::get(STATUS, url, self.api_headers(credentials))
            }
            Call::Resolve => {
                let id = encode_segment(life.require_report_id(RESOLVE)?);
                let url = format!("{api}/v2/reports/{id}/download");
                // Never auto-followed: the 307 carries the short-lived S3
                // link, and the token must not follow it. A browser host
                // follows anyway; the report body then arrives here.
                Outgoing {
                    redirect: RedirectPolicy::Manual,
                    report_body: Some(self.report_body()),
                    ..Outgoing::get(RESOLVE, url, self.api_headers(credentials))
                }
            }
            Call::Download => life.download(DOWNLOAD, self.report_body())?,
        })
    }

    fn on_reply(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        response: Response,
    ) -> Verdict {
        let Response {
            status,
            headers,
            body,
        } = response;
        match call {
            Call::Token => self
                .lwa
                .on_reply(Provider::AmazonAds, cx, status, &headers, &body),
            Call::Download => judge_link_status(Provider::AmazonAds, DOWNLOAD, status, &body),
            Call::Resolve => self.on_resolved(life, cx, status, &headers, &body),
            _ if !(200..300).contains(&status) => {
                self.api_failure(cx, endpoint_of(call), status, &headers, &body)
            }
            Call::Create => self.on_created(life, cx, &body),
            Call::Status => self.on_status(life, cx, &body),
        }
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::ResolveLink;
    }

    /// Links keep expiring: the spec's last resort is a new report request,
    /// once per job. A body that was damaged behind every link will not get
    /// better with a new report either.
    fn links_exhausted(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        cause: Error,
    ) -> Verdict {
        if self.recreated || is_damaged_body(&cause) {
            return Verdict::Fatal(life.link_budget_spent(cause));
        }
        self.recreated = true;
        life.forget_report();
        self.stage = Stage::Create;
        cx.emit(Event::Retrying {
            attempt: 2,
            after_ms: 0,
            cause: cause.kind(),
        });
        Verdict::Continue
    }

    fn report_body(&self) -> ReportBody {
        ReportBody {
            size_hint: self.file_size,
            ..ReportBody::single(Compression::Auto, RecordFormat::JsonArray)
        }
    }

    fn content_type(&self) -> String {
        "application/json".to_owned()
    }
}

impl Flow {
    fn api_headers(&self, credentials: &Credentials) -> Vec<Header> {
        let token = self.lwa.access_token();
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

    fn on_created(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::ReportResponse>(Provider::AmazonAds, CREATE, body) {
            Ok(wire::ReportResponse {
                report_id: Some(id),
                ..
            }) if !id.is_empty() => {
                self.refreshed_after_401 = false;
                life.start_polling(cx, id, None);
                self.stage = Stage::Poll;
                self.polls = 0;
                Verdict::Proceed
            }
            Ok(_) => retry(malformed(CREATE, "no reportId in the response".into())),
            Err(error) => retry(error),
        }
    }

    fn on_status(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let report = match parse_json::<wire::ReportResponse>(Provider::AmazonAds, STATUS, body) {
            Ok(report) => report,
            Err(error) => return retry(error),
        };
        self.refreshed_after_401 = false;
        let status = report.status.unwrap_or_default();
        cx.emit(Event::ReportStatus {
            status: status.clone(),
        });
        match status.as_str() {
            "IN_PROGRESS" | "PENDING" => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                life.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
                Verdict::Proceed
            }
            "SUCCESS" => {
                self.file_size = report.file_size;
                self.stage = Stage::ResolveLink;
                Verdict::Proceed
            }
            "FAILURE" => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonAds,
                failure: ReportFailure::Fatal,
                status,
                detail: report.status_details.unwrap_or_else(|| {
                    "Amazon gave no details; request the report again later".to_owned()
                }),
            }),
            other => Verdict::Fatal(malformed(
                STATUS,
                format!("unknown report status `{}`", excerpt(other.as_bytes(), 40)),
            )),
        }
    }

    fn on_resolved(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Verdict {
        if !(300..400).contains(&status) {
            return self.api_failure(cx, RESOLVE, status, headers, body);
        }
        match find_header(headers, "location").filter(|l| is_http_url(l)) {
            Some(location) => {
                self.refreshed_after_401 = false;
                life.link_obtained(cx, location.to_owned(), LINK_LIFETIME_MS);
                self.stage = Stage::Download;
                // Not `Proceed`: a fresh link does not reset the attempt
                // budget, or a download that fails every time would be
                // retried forever.
                Verdict::Continue
            }
            None => retry(malformed(
                RESOLVE,
                format!("HTTP {status} without an absolute Location header"),
            )),
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
    ) -> Verdict {
        let api_error = crate::json_fields::from_slice::<wire::ApiError>(body).ok();
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
        let unexpected = |detail: String| Error::UnexpectedStatus {
            provider: Provider::AmazonAds,
            endpoint: endpoint.to_owned(),
            status,
            detail,
        };
        match status {
            401 if endpoint != TOKEN && !self.refreshed_after_401 => {
                // The token was revoked or expired early: refresh once, then retry.
                self.refreshed_after_401 = true;
                self.lwa.forget();
                Verdict::Reauthorize
            }
            429 => {
                let until = retry_after(cx.now, headers);
                Verdict::Throttled {
                    cause: unexpected(detail),
                    budget: API_BUCKET,
                    until,
                }
            }
            500..=599 => retry(unexpected(detail)),
            404 if endpoint != CREATE => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonAds,
                failure: ReportFailure::NotFound,
                status: "404".to_owned(),
                detail: format!(
                    "{detail} — the report is gone or belongs to another profile; request it again"
                ),
            }),
            _ => Verdict::Fatal(Error::Rejected {
                provider: Provider::AmazonAds,
                endpoint: endpoint.to_owned(),
                status,
                code,
                detail,
            }),
        }
    }
}

fn retry(cause: Error) -> Verdict {
    Verdict::Retry {
        cause,
        at_least: None,
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
