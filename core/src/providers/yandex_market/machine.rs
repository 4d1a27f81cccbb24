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
use crate::http_date::parse_http_date;
use super::wire;
use crate::action::{Event, Phase, WaitReason, Warning};
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{find_header, Body, Header};
use crate::integrity::Compression;
use crate::providers::{
    Refusal,
    encode_segment, excerpt, is_http_url, judge_link_status, parse_json, Container, Cx, Lifecycle, Outgoing, Protocol, Provider, ReportBody, Response, Verdict,
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

/// A quota as a token bucket: the spec's rate (the lowest tariff) until the
/// API's `X-RateLimit-*` headers say otherwise (see `Flow::observe`).
fn quota_bucket(name: &str, rate: RateLimit, now: Millis) -> TokenBucket {
    let amount = rate.amount.max(1);
    let refill = rate.period_ms.max(1) / u64::from(amount);
    TokenBucket::new(name, amount, refill.max(1), now)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Generate,
    Poll,
    Download,
}

/// The calls of a Yandex Market report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Generate,
    Info,
    Download,
}

/// The Yandex Market protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    polls: u32,
    /// The info call is for a fresh link, not for progress.
    relinking: bool,
    /// The report is partial (`DONE`/`RESOURCE_NOT_FOUND` with a file):
    /// the summary's warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    partial: Option<Warning>,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, polls, relinking, partial
}


impl Protocol for Flow {
    const PROVIDER: Provider = Provider::YandexMarket;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, _config: &JobConfig, _now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        Ok(Self {
            spec,
            stage: Stage::Generate,
            polls: 0,
            relinking: false,
            partial: None,
        })
    }

    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket> {
        vec![
            quota_bucket(GENERATE_BUCKET, self.spec.generate_rate(), now),
            quota_bucket(INFO_BUCKET, RateLimit::INFO, now),
        ]
    }

    fn check_restored(&self, life: &Lifecycle<Call>) -> Result<(), RestoreError> {
        self.spec.validate()?;
        if self.stage != Stage::Generate && life.report_id().is_none() {
            return Err(RestoreError::invalid(format!(
                "stage {:?} without a report id",
                self.stage
            )));
        }
        Ok(())
    }

    fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
        credentials.validate()
    }

    /// Nothing to take: the token is read when a request is built.
    fn install(&mut self, _credentials: &Credentials) {}

    /// Nothing secret is held (the link is the lifecycle's).
    fn forget_secrets(&mut self) {}

    fn phase(&self, _life: &Lifecycle<Call>) -> Phase {
        match self.stage {
            Stage::Generate => Phase::Creating,
            Stage::Poll if self.relinking => Phase::ResolvingLink,
            Stage::Poll => Phase::Polling,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        match self.stage {
            Stage::Generate => Call::Generate,
            Stage::Download if life.usable_link(cx.now, LINK_MARGIN_MS).is_some() => {
                Call::Download
            }
            // Lapsed before we got to it, or lost in a restore: the info
            // call carries a fresh one.
            Stage::Download => {
                self.relink(life);
                Call::Info
            }
            Stage::Poll => Call::Info,
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Generate => &[GENERATE_BUCKET],
            Call::Info => &[INFO_BUCKET],
            Call::Download => &[],
        }
    }

    fn authorizes(_call: Call) -> bool {
        false
    }

    fn creates(call: Call) -> bool {
        call == Call::Generate
    }

    fn request(
        &mut self,
        life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let api = cx.api_origin(API_ORIGIN);
        Ok(match call {
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
                let body = serde_json::to_vec(&self.spec.generate_body())
                    .map_err(|e| Error::internal(format!("{GENERATE} body: {e}")))?;
                Outgoing::post(GENERATE, url, headers, Body::Plain(body))
            }
            Call::Info => {
                let id = encode_segment(life.require_report_id(INFO)?);
                let mut url = format!("{api}{}/reports/info/{id}", self.spec.info_prefix());
                if let Some(source) = self.spec.source_type {
                    url.push_str("?sourceType=");
                    url.push_str(source.as_str());
                }
                Outgoing::get(INFO, url, api_headers(credentials))
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
        if call == Call::Download {
            return judge_link_status(Provider::YandexMarket, DOWNLOAD, status, &body);
        }
        if status != 420 {
            self.observe(life, cx, call, &headers);
        }
        if !(200..300).contains(&status) {
            return self.api_failure(cx, call, status, &headers, &body);
        }
        match call {
            Call::Generate => self.on_generated(life, cx, &body),
            _ => self.on_info(life, cx, &body),
        }
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Poll;
        self.relinking = true;
    }

    fn report_body(&self) -> ReportBody {
        let (record_format, container) = match self.spec.output() {
            Output::Xlsx => (RecordFormat::Opaque, Container::VerifiedZip),
            Output::Pdf | Output::Opaque => (RecordFormat::Opaque, Container::Single),
            Output::Archive { record_format, .. } => (record_format, Container::Zip),
        };
        ReportBody {
            container,
            ..ReportBody::single(Compression::Identity, record_format)
        }
    }

    fn warnings(&self) -> Vec<Warning> {
        self.partial.iter().cloned().collect()
    }

    fn content_type(&self) -> String {
        match self.spec.output() {
            Output::Xlsx => XLSX,
            Output::Pdf => "application/pdf",
            Output::Opaque => "application/octet-stream",
            Output::Archive { content_type, .. } => content_type,
        }
        .to_owned()
    }
}

impl Flow {
    /// Takes the `X-RateLimit-Resource-*` headers of an answer into the
    /// call's bucket, and tells the host when they say none is left.
    fn observe(
        &self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        headers: &[(String, String)],
    ) {
        let Some(&name) = Self::budgets(call).first() else {
            return;
        };
        let remaining = find_header(headers, "x-ratelimit-resource-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let until = find_header(headers, "x-ratelimit-resource-until").and_then(parse_http_date);
        let (Some(remaining), Some(until), Some(bucket)) = (remaining, until, life.budget(name))
        else {
            return;
        };
        let until = until.min(cx.now.saturating_add(MAX_RATE_WAIT_MS));
        bucket.observe(cx.now, remaining, until);
        if remaining == 0 && until > cx.now {
            cx.emit(Event::Throttled {
                bucket: name.to_owned(),
                until,
            });
        }
    }

    fn on_generated(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let result = match result_of::<wire::GenerateReport>(GENERATE, body) {
            Ok(result) => result,
            Err(error) => return retry(error),
        };
        let id = result.report_id.unwrap_or_default();
        if id.is_empty() || id.len() > 255 || id.chars().any(char::is_control) {
            return retry(malformed(GENERATE, "no usable reportId in the answer"));
        }
        let estimate = wire::millis(result.estimated_generation_time.as_ref());
        life.start_polling(cx, id, estimate.map(|ms| ms.min(MAX_ESTIMATE_MS)));
        self.stage = Stage::Poll;
        self.polls = 0;
        Verdict::Proceed
    }

    fn on_info(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let info = match result_of::<wire::ReportInfo>(INFO, body) {
            Ok(info) => info,
            Err(error) => return retry(error),
        };
        let status = info.status.unwrap_or_default();
        if status.is_empty() {
            return retry(malformed(INFO, "no status in the report info"));
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
        let failed = |failure, detail: &str| {
            Verdict::Fatal(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure,
                status: verbatim.clone(),
                detail: detail.to_owned(),
            })
        };
        let file = info.file.filter(|f| is_http_url(f));
        match (status.as_str(), sub.as_deref()) {
            (_, Some("NO_DATA")) => Verdict::NoData,
            (_, Some("TOO_LARGE")) => failed(
                ReportFailure::TooLarge,
                "the report exceeds Yandex's size limit; request a shorter period or narrower filters \
                 (fewer campaigns, categories or offers) and generate it again",
            ),
            // A partial report: what was found is in the file.
            ("DONE", Some("RESOURCE_NOT_FOUND")) if file.is_some() => {
                self.partial = Some(Warning::PartialReport {
                    status: verbatim.clone(),
                    missing: self.missing_entities(),
                });
                self.download_from(life, cx, file)
            }
            (_, Some("RESOURCE_NOT_FOUND")) => failed(
                ReportFailure::ResourceNotFound,
                "Yandex could not find some of the entities the request names; check businessId, \
                 campaignId and the other ids in the body",
            ),
            ("FAILED", _) => failed(
                ReportFailure::Fatal,
                "Yandex failed to generate the report; check the request (campaign, period, payment \
                 order), then generate it again later",
            ),
            ("DONE", _) => self.download_from(life, cx, file),
            // PENDING, PROCESSING, and values this version does not know
            // (Yandex asks integrations to tolerate new ones): keep waiting,
            // up to the job's deadline.
            _ => {
                self.polls = self.polls.saturating_add(1);
                let backoff = cx.config.poll.delay(cx.config.seed, self.polls);
                let estimate = wire::millis(info.estimated_generation_time.as_ref())
                    .unwrap_or(0)
                    .min(MAX_ESTIMATE_MS);
                life.schedule(
                    cx.now.saturating_add(estimate.max(backoff)),
                    WaitReason::PollBackoff,
                );
                Verdict::Proceed
            }
        }
    }

    /// A `DONE` report: download its file.
    fn download_from(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        file: Option<String>,
    ) -> Verdict {
        match file {
            Some(url) => {
                self.relinking = false;
                life.link_obtained(cx, url, LINK_LIFETIME_MS);
                self.stage = Stage::Download;
                // Not `Proceed`: a fresh link does not reset the attempt
                // budget, or a download that fails every time would be
                // retried forever.
                Verdict::Continue
            }
            None => retry(malformed(INFO, "status DONE without a file link")),
        }
    }

    /// What a `RESOURCE_NOT_FOUND` report lacks. Yandex says only that
    /// some entities of the request were not found, so this names the
    /// request's id fields, where they must be.
    fn missing_entities(&self) -> String {
        let body = self.spec.generate_body();
        let ids: Vec<&str> = body
            .as_object()
            .map(|fields| {
                fields
                    .keys()
                    .map(String::as_str)
                    .filter(|name| name.ends_with("Id") || name.ends_with("Ids"))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            "entities of the request that Yandex could not find (it does not say which)".to_owned()
        } else {
            format!(
                "entities named by {} that Yandex could not find (it does not say which)",
                ids.join(", ")
            )
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
    ) -> Verdict {
        let endpoint = endpoint_of(call);
        let (code, message) = envelope(body);
        let detail = match (&code, &message) {
            (_, Some(message)) => message.clone(),
            (Some(code), None) => code.clone(),
            (None, None) => excerpt(body, 300),
        };
        let refusal = Refusal {
            provider: Provider::YandexMarket,
            endpoint,
            status,
            code: code.clone(),
            detail: detail.clone(),
        };
        let unexpected = refusal.unexpected();
        let rejected = |remedy: &str| refusal.rejected(remedy);
        match status {
            420 => {
                let now = cx.now;
                let period = match call {
                    Call::Generate => self.spec.generate_rate().period_ms,
                    _ => RateLimit::INFO.period_ms,
                };
                let until = find_header(headers, "x-ratelimit-resource-until")
                    .and_then(parse_http_date)
                    .filter(|until| *until > now)
                    .map_or_else(
                        || now.saturating_add(period.max(1)),
                        |until| until.min(now.saturating_add(MAX_RATE_WAIT_MS)),
                    );
                Verdict::Throttled {
                    cause: unexpected,
                    budget: Self::budgets(call).first().copied().unwrap_or(INFO_BUCKET),
                    until: Some(until),
                }
            }
            400 => rejected("fix the report body or parameters (the period, ids, format)"),
            401 => rejected(
                "check the Api-Key token (sent without a Bearer prefix) or the OAuth token; a revoked token needs a new one",
            ),
            403 => rejected(
                "the token lacks a scope for this report, or the business or campaign is not active",
            ),
            404 if call == Call::Info => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure: ReportFailure::NotFound,
                status: format!("404 {}", code.as_deref().unwrap_or("NOT_FOUND")),
                detail: format!("{detail} — the report is unknown to Yandex (or the path prefix is wrong); generate it again"),
            }),
            404 => rejected("check the report kind, the path prefix and the business or campaign id"),
            // 423: the business or campaign is locked for a migration.
            423 | 499 | 500..=599 => retry(unexpected),
            _ => rejected("Yandex refused the request"),
        }
    }
}

fn retry(cause: Error) -> Verdict {
    Verdict::Retry {
        cause,
        at_least: None,
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
    let Ok(parsed) = crate::json_fields::from_slice::<wire::ErrorResponse>(body) else {
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
