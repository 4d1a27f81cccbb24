//! The Reporting v3 lifecycle: the request of each call and the verdict on
//! each answer. Pacing, budgets, links and the download policy are the
//! shared lifecycle's (`providers::lifecycle`); the token call is Amazon
//! Ads' (`providers::lwa`).

use serde::{Deserialize, Serialize};

use super::config::{Credentials, ReportSpec};
use super::wire;
use crate::action::{Event, Phase, WaitReason};
use crate::calendar;
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{Body, Header};
use crate::integrity::Compression;
use crate::providers::lwa::{self, TOKEN};
use crate::providers::{
    encode_segment, excerpt, is_http_url, judge_link_status, parse_json, retry_after, Cx,
    Lifecycle, Outgoing, Protocol, Provider, Refusal, ReportBody, Response, Verdict,
};
use crate::rate::TokenBucket;
use crate::records::RecordFormat;
use crate::time::Millis;

const CREATE: &str = "POST /reporting/reports";
const STATUS: &str = "GET /reporting/reports/{reportId}";
const DOWNLOAD: &str = "GET <report url>";

/// Media types of the spec: the create's body and each operation's 200.
pub(super) const CREATE_CONTENT_TYPE: &str = "application/vnd.createasyncreportrequest.v3+json";
const CREATE_ACCEPT: &str = "application/vnd.createasyncreportresponse.v3+json, application/json";
const STATUS_ACCEPT: &str = "application/vnd.getasyncreportresponse.v3+json, application/json";

/// `urlExpiresAt` "defaults to 3600 seconds" (spec); used when it is absent.
const DEFAULT_LINK_LIFETIME_MS: u64 = 3_600_000;
/// A link with less life left than this is not used: the status is asked
/// again for a fresh one.
const LINK_MARGIN_MS: u64 = 10_000;
/// The job's own pacing of API calls; Amazon publishes no number for these
/// endpoints (limits are dynamic), so this only keeps bursts polite. A 429
/// empties it until `Retry-After`.
const API_BUCKET: &str = "amazon-ads-v3:api";
const API_BUCKET_CAPACITY: u32 = 5;
const API_BUCKET_REFILL_MS: u64 = 1_000;
/// The longest report id taken from a 425's text.
const MAX_REPORT_ID_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    Download,
}

/// The calls of a Reporting v3 report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Token,
    Create,
    Status,
    Download,
}

/// The Reporting v3 protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    file_size: Option<u64>,
    polls: u32,
    /// The report id came from a 425 (`duplicate of : <id>`): its
    /// configuration is compared with the spec on the first status.
    adopted: bool,
    /// A fresh link is being fetched after one failed: its status answer
    /// does not reset the attempt budget.
    relinking: bool,
    refreshed_after_401: bool,
    // A secret: a restored job refreshes its token.
    #[serde(skip)]
    lwa: lwa::Session,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, file_size, polls, adopted, relinking, refreshed_after_401, lwa = skip
}


impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonAdsV3;
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
            adopted: false,
            relinking: false,
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
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        if self.stage == Stage::Download {
            if life.usable_link(cx.now, LINK_MARGIN_MS).is_some() {
                return Call::Download;
            }
            // Expired before we got to it, or lost in a restore: the report's
            // status carries a fresh url (never a new report).
            self.stage = Stage::Poll;
            self.relinking = true;
        }
        if self.lwa.needs_token(cx.now) {
            return Call::Token;
        }
        match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll | Stage::Download => Call::Status,
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Create | Call::Status => &[API_BUCKET],
            Call::Token | Call::Download => &[],
        }
    }

    fn authorizes(call: Call) -> bool {
        call == Call::Token
    }

    fn creates(call: Call) -> bool {
        call == Call::Create
    }

    // A lost create keeps the kit's default (`ReportMayExist`, or a second
    // create when the host's config allows one): Amazon answers a repeat
    // with 425 naming the first report only while that one is processing,
    // and one that already finished would be created twice. With
    // `allow_duplicate_reports`, the repeat's 425 is adopted like any other.

    fn request(
        &mut self,
        life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let api = cx.api_origin(self.spec.region.api_origin());
        Ok(match call {
            Call::Token => {
                lwa::Session::request(cx.auth_origin(self.spec.region.auth_origin()), credentials)
            }
            Call::Create => {
                let body = serde_json::to_vec(&self.create_body()?)
                    .map_err(|e| Error::internal(format!("{CREATE} body: {e}")))?;
                let mut headers = self.api_headers(credentials);
                headers.push(Header::plain("Accept", CREATE_ACCEPT));
                let url = format!("{api}/reporting/reports");
                Outgoing::post(CREATE, url, headers, Body::Plain(body))
            }
            Call::Status => {
                let id = encode_segment(life.require_report_id(STATUS)?);
                let mut headers = self.api_headers(credentials);
                headers.push(Header::plain("Accept", STATUS_ACCEPT));
                Outgoing::get(STATUS, format!("{api}/reporting/reports/{id}"), headers)
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
                .on_reply(Provider::AmazonAdsV3, cx, status, &headers, &body),
            Call::Download => judge_link_status(Provider::AmazonAdsV3, DOWNLOAD, status, &body),
            _ if !(200..300).contains(&status) => {
                self.api_failure(life, cx, call, status, &headers, &body)
            }
            Call::Create => self.on_created(life, cx, &body),
            Call::Status => self.on_status(life, cx, &body),
        }
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Poll;
        self.relinking = true;
    }

    fn report_body(&self) -> ReportBody {
        // `Auto`: the bytes decide (gzip magic), whatever the name or the
        // Content-Type of the S3 object says.
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
    fn create_body(&self) -> Result<wire::CreateRequest<'_>, Error> {
        let kind = self.spec.report_type().ok_or_else(|| {
            Error::internal(format!("{CREATE} for an unknown report type"))
        })?;
        Ok(wire::CreateRequest {
            name: self.spec.name.as_deref(),
            start_date: &self.spec.start_date,
            end_date: &self.spec.end_date,
            configuration: wire::Configuration {
                ad_product: kind.ad_product.as_str(),
                group_by: &self.spec.group_by,
                columns: &self.spec.columns,
                report_type_id: &self.spec.report_type_id,
                time_unit: self.spec.time_unit.as_str(),
                format: "GZIP_JSON",
                filters: &self.spec.filters,
            },
        })
    }

    /// The four headers of every call (get-started, "Headers"); the docs'
    /// GET example sends the create's `Content-Type` too.
    fn api_headers(&self, credentials: &Credentials) -> Vec<Header> {
        vec![
            Header::secret("Authorization", format!("Bearer {}", self.lwa.access_token())),
            Header::plain(
                "Amazon-Advertising-API-ClientId",
                credentials.client_id.clone(),
            ),
            Header::plain("Amazon-Advertising-API-Scope", self.spec.profile_id.clone()),
            Header::plain("Content-Type", CREATE_CONTENT_TYPE),
        ]
    }

    /// The report `id` exists at Amazon (created, or named by a 425): poll it.
    fn track(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, id: String) -> Verdict {
        self.refreshed_after_401 = false;
        life.start_polling(cx, id, None);
        self.stage = Stage::Poll;
        self.polls = 0;
        Verdict::Proceed
    }

    fn on_created(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::AsyncReport>(Provider::AmazonAdsV3, CREATE, body) {
            Ok(wire::AsyncReport {
                report_id: Some(id),
                ..
            }) if valid_report_id(&id) => self.track(life, cx, id),
            Ok(_) => retry(malformed(CREATE, "no usable reportId in the response".into())),
            Err(error) => retry(error),
        }
    }

    fn on_status(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let report = match parse_json::<wire::AsyncReport>(Provider::AmazonAdsV3, STATUS, body) {
            Ok(report) => report,
            Err(error) => return retry(error),
        };
        self.refreshed_after_401 = false;
        if self.adopted {
            if let Some(mismatch) = self.mismatch(&report) {
                return Verdict::Fatal(Error::Rejected {
                    provider: Provider::AmazonAdsV3,
                    endpoint: CREATE.to_owned(),
                    status: 425,
                    code: Some("425".to_owned()),
                    detail: format!(
                        "Amazon named report {} as the duplicate of this request, but it is another report ({mismatch}) — wait for it to finish (or DELETE it) and run the job again",
                        life.report_id().unwrap_or_default()
                    ),
                });
            }
            self.adopted = false;
        }
        let status = report.status.clone().unwrap_or_default();
        cx.emit(Event::ReportStatus {
            status: status.clone(),
        });
        match status.as_str() {
            "COMPLETED" => self.on_completed(life, cx, report),
            "FAILED" => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonAdsV3,
                failure: ReportFailure::Fatal,
                status,
                detail: report.failure_reason.map_or_else(
                    || "Amazon gave no failureReason; request the report again".to_owned(),
                    |reason| format!("{reason} — request the report again (a new job)"),
                ),
            }),
            // PENDING, PROCESSING and any status the spec may add: wait.
            // Generation "can take as long as 3 hours"; the deadline bounds it.
            _ => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                life.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
                Verdict::Proceed
            }
        }
    }

    /// What tells the adopted report apart from the spec, if anything
    /// (Airbyte saw Amazon flag DAILY and SUMMARY requests of one type as
    /// duplicates of each other).
    fn mismatch(&self, report: &wire::AsyncReport) -> Option<String> {
        let differs = |name: &str, theirs: Option<&str>, ours: &str| {
            theirs
                .filter(|theirs| *theirs != ours)
                .map(|theirs| format!("{name} {theirs}, not {ours}"))
        };
        let configuration = report.configuration.as_ref();
        differs(
            "reportTypeId",
            configuration.and_then(|c| c.report_type_id.as_deref()),
            &self.spec.report_type_id,
        )
        .or_else(|| {
            differs(
                "timeUnit",
                configuration.and_then(|c| c.time_unit.as_deref()),
                self.spec.time_unit.as_str(),
            )
        })
        .or_else(|| differs("startDate", report.start_date.as_deref(), &self.spec.start_date))
        .or_else(|| differs("endDate", report.end_date.as_deref(), &self.spec.end_date))
    }

    fn on_completed(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        report: wire::AsyncReport,
    ) -> Verdict {
        let Some(url) = report.url.filter(|url| is_http_url(url)) else {
            return retry(malformed(
                STATUS,
                "COMPLETED without an absolute url".into(),
            ));
        };
        self.file_size = report
            .file_size
            .filter(|size| size.is_finite() && *size >= 0.0)
            // Saturating float-to-int: a size past u64 is only a hint.
            .map(|size| size as u64);
        let lifetime = match report.url_expires_at.as_deref() {
            None => DEFAULT_LINK_LIFETIME_MS,
            Some(text) => match calendar::parse_rfc3339(text) {
                Some(seconds) => u64::try_from(seconds)
                    .unwrap_or(0)
                    .saturating_mul(1000)
                    .saturating_sub(cx.now.as_u64()),
                None => {
                    return retry(malformed(
                        STATUS,
                        format!("urlExpiresAt `{}` is not a date-time", excerpt(text.as_bytes(), 40)),
                    ))
                }
            },
        };
        if lifetime <= LINK_MARGIN_MS {
            // Already (nearly) expired: counts against the link budget, so a
            // clock far off cannot make the job poll forever.
            return Verdict::RefreshLink(Error::UnexpectedStatus {
                provider: Provider::AmazonAdsV3,
                endpoint: STATUS.to_owned(),
                status: 200,
                detail: format!(
                    "the report url expires at {} — check the host's clock",
                    report.url_expires_at.unwrap_or_default()
                ),
            });
        }
        life.link_obtained(cx, url, lifetime);
        self.stage = Stage::Download;
        if std::mem::take(&mut self.relinking) {
            // A fresh link does not reset the attempt budget, or a download
            // that fails every time would be retried forever.
            Verdict::Continue
        } else {
            Verdict::Proceed
        }
    }

    /// A non-2xx answer from an Ads API call (or a throttled token call).
    fn api_failure(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Verdict {
        let api_error = crate::json_fields::from_slice::<wire::ApiError>(body).ok();
        let refusal = Refusal {
            provider: Provider::AmazonAdsV3,
            endpoint: endpoint_of(call),
            status,
            code: api_error
                .as_ref()
                .and_then(|e| e.code.as_ref())
                .map(|c| match c {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
            detail: api_error
                .and_then(|e| e.detail)
                .unwrap_or_else(|| excerpt(body, 300)),
        };
        match status {
            401 if call != Call::Token && !self.refreshed_after_401 => {
                // The token was revoked or expired early: refresh once, then retry.
                self.refreshed_after_401 = true;
                self.lwa.forget();
                Verdict::Reauthorize
            }
            425 if call == Call::Create => match duplicate_of(&refusal.detail) {
                Some(id) => {
                    self.adopted = true;
                    self.track(life, cx, id)
                }
                // A duplicate Amazon does not name: wait and ask again.
                None => Verdict::Retry {
                    cause: refusal.unexpected(),
                    at_least: retry_after(cx.now, headers),
                },
            },
            429 => Verdict::Throttled {
                cause: refusal.unexpected(),
                budget: API_BUCKET,
                until: retry_after(cx.now, headers),
            },
            500..=599 => retry(refusal.unexpected()),
            404 if call == Call::Status => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonAdsV3,
                failure: ReportFailure::NotFound,
                status: "404".to_owned(),
                detail: format!(
                    "{} — the report is gone or belongs to another profile; request it again",
                    refusal.detail
                ),
            }),
            401 | 403 => refusal.rejected(
                "check the LwA grant's access to this profile (Amazon-Advertising-API-Scope) and the client id",
            ),
            _ => refusal.rejected(
                "check the report type, groupBy, columns, filters and dates against the report type's page",
            ),
        }
    }
}

/// The report id a 425's text names: `… duplicate of : <reportId>` (the
/// observed wording; the spec only says "duplicate of a processing request").
fn duplicate_of(detail: &str) -> Option<String> {
    const MARK: &str = "duplicate of";
    let lower = detail.to_ascii_lowercase();
    let at = lower.find(MARK)? + MARK.len();
    let rest = detail.get(at..)?.trim_start();
    // The colon is required: the spec's own text "a duplicate of a
    // processing request" names no report.
    let rest = rest.strip_prefix(':')?.trim_start();
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    valid_report_id(&id).then_some(id)
}

/// Whether `id` can be a report id: not empty, bounded, printable ASCII
/// without spaces (it is put in a URL path, encoded).
fn valid_report_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REPORT_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
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
        Call::Download => DOWNLOAD,
    }
}

fn malformed(endpoint: &str, detail: String) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonAdsV3,
        endpoint: endpoint.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_425_names_the_report_it_duplicates() {
        for (detail, id) in [
            ("The Request is a duplicate of : 8adca409-44d8-4be2-a5c3-2e4bd0c0ea4b", Some("8adca409-44d8-4be2-a5c3-2e4bd0c0ea4b")),
            ("the request is a DUPLICATE OF:abc-1.", Some("abc-1")),
            ("Duplicate of  :  x", Some("x")),
            ("Too Early - Request is a duplicate of a processing request.", None),
            ("Too Early", None),
            ("duplicate of : ", None),
            ("duplicate of : \u{202e}evil", None),
        ] {
            assert_eq!(duplicate_of(detail).as_deref(), id, "{detail}");
        }
        let long = format!("duplicate of : {}", "a".repeat(MAX_REPORT_ID_LEN + 1));
        assert_eq!(duplicate_of(&long), None);
    }
}
