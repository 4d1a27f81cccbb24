//! The Amazon MWS Reports lifecycle. All transitions live here; this file
//! does not know which host drives it or how bytes travel.
//!
//! Rules that shape it:
//! - every request is signed when it is built (SigV2, `Timestamp` from the
//!   job's clock) and must leave within [`SIGNED_REQUEST_LIFETIME_MS`];
//! - each operation draws from its own bucket with the official burst quota
//!   and restore rate and from a window bucket with its hourly quota;
//!   `x-mws-quota-*` headers set the hourly view; `503 RequestThrottled`
//!   empties the burst bucket for a restore interval, `QuotaExceeded` the
//!   hourly one until the quota resets;
//! - GetReport is the report body itself, checked against its `Content-MD5`
//!   as it streams; a mismatch voids the data and asks again, four
//!   GetReport calls at most (MWS's "up to three more times");
//! - credentials never enter a snapshot; the request id and report id do.

use serde::Serialize;

use super::config::{Credentials, ReportSpec, REPORTS_PATH};
use super::{sign, wire};
use crate::action::{Event, Phase, WaitReason};
use crate::calendar;
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{find_header, header_number, Body, Header};
use crate::integrity::{Charset, Compression};
use crate::http_date::parse_http_date;
use crate::providers::{excerpt, Refusal, Cx, Lifecycle, Outgoing, Protocol, Provider, ReportBody, Response, Verdict};
use crate::rate::TokenBucket;
use crate::time::Millis;

/// How long a signed request may wait before it is sent. MWS refuses a
/// `Timestamp` more than 15 minutes off its clock; a third of that leaves
/// room for the host's clock to be off too.
pub(crate) const SIGNED_REQUEST_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// GetReport calls after the first that a corrupt body may cost: "retry the
/// request up to three more times" (Reports_GetReport, [DG-MD5]).
pub(crate) const MAX_MD5_RETRIES: u32 = 3;
/// Added to a quota reset read to the second.
const RESET_SLACK_MS: u64 = 1_000;
/// A quota reset further away than this is treated as this.
const MAX_QUOTA_WAIT_MS: u64 = 60 * 60 * 1000;

/// The operations this machine calls, with their official throttling
/// (NOTES.md §1.1): `(Action, burst quota, restore interval in ms, hourly quota)`.
pub(crate) const OPERATIONS: [(&str, u32, u64, u32); 4] = [
    ("RequestReport", 15, 60_000, 60),
    ("GetReportRequestList", 10, 45_000, 80),
    ("GetReportList", 10, 60_000, 60),
    ("GetReport", 15, 60_000, 60),
];

/// An hour: the window of MWS's hourly request quota.
const HOUR_MS: u64 = 60 * 60 * 1000;

/// The job's buckets per operation, in [`OPERATIONS`] order: the burst
/// quota with its restore rate, then the hourly quota. A call takes a token
/// from both.
const BUCKETS: [[&str; 2]; 4] = [
    ["amazon-mws:RequestReport", "amazon-mws:RequestReport:hour"],
    ["amazon-mws:GetReportRequestList", "amazon-mws:GetReportRequestList:hour"],
    ["amazon-mws:GetReportList", "amazon-mws:GetReportList:hour"],
    ["amazon-mws:GetReport", "amazon-mws:GetReport:hour"],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Request,
    Poll,
    List,
    Download,
}

crate::json_fields::deserialize_names! {
    Stage;
    "request" => Request,
    "poll" => Poll,
    "list" => List,
    "download" => Download,
}

/// The calls of an MWS report, in [`OPERATIONS`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    RequestReport,
    GetReportRequestList,
    GetReportList,
    GetReport,
}

impl Call {
    /// The call's row of [`OPERATIONS`] and its buckets' names.
    const fn quota(self) -> ((&'static str, u32, u64, u32), &'static [&'static str; 2]) {
        match self {
            Self::RequestReport => (OPERATIONS[0], &BUCKETS[0]),
            Self::GetReportRequestList => (OPERATIONS[1], &BUCKETS[1]),
            Self::GetReportList => (OPERATIONS[2], &BUCKETS[2]),
            Self::GetReport => (OPERATIONS[3], &BUCKETS[3]),
        }
    }

    /// The MWS `Action`.
    pub(crate) const fn action(self) -> &'static str {
        self.quota().0 .0
    }

    /// The job's buckets of the call's quotas: burst, then hourly.
    const fn buckets(self) -> &'static [&'static str; 2] {
        self.quota().1
    }

    /// The bucket of the call's burst quota and restore rate.
    const fn burst_bucket(self) -> &'static str {
        self.buckets()[0]
    }

    /// The bucket of the call's hourly quota.
    const fn hourly_bucket(self) -> &'static str {
        self.buckets()[1]
    }

    /// The call's restore interval: one request comes back this often.
    const fn restore_ms(self) -> u64 {
        self.quota().0 .2
    }

    /// The endpoint name in errors, e.g. `POST /Reports/2009-01-01 RequestReport`.
    const fn endpoint(self) -> &'static str {
        match self {
            Self::RequestReport => "POST /Reports/2009-01-01 Action=RequestReport",
            Self::GetReportRequestList => "POST /Reports/2009-01-01 Action=GetReportRequestList",
            Self::GetReportList => "POST /Reports/2009-01-01 Action=GetReportList",
            Self::GetReport => "POST /Reports/2009-01-01 Action=GetReport",
        }
    }
}

/// The MWS protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    /// `ReportRequestId` from RequestReport: the job's report id (the one
    /// `ReportCreated` announced and the summary names).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// The `ReportId` GetReport downloads, once known (`GeneratedReportId`
    /// or GetReportList's); the spec's for a known report.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<String>,
    polls: u32,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, request_id, report_id, polls
}


impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonMws;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, _config: &JobConfig, _now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        let stage = if spec.report_id.is_some() {
            Stage::Download
        } else {
            Stage::Request
        };
        Ok(Self {
            spec,
            stage,
            request_id: None,
            report_id: None,
            polls: 0,
        })
    }

    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket> {
        OPERATIONS
            .iter()
            .zip(BUCKETS)
            .flat_map(|((_, burst, restore_ms, hourly), [burst_name, hourly_name])| {
                [
                    TokenBucket::new(burst_name, *burst, *restore_ms, now),
                    TokenBucket::per_window(hourly_name, *hourly, HOUR_MS, now),
                ]
            })
            .collect()
    }

    fn check_restored(&self, life: &Lifecycle<Call>) -> Result<(), RestoreError> {
        self.spec.validate()?;
        let known = |id: &Option<String>| id.as_deref().is_some_and(usable_id);
        let well_formed = |id: &Option<String>| id.is_none() || known(id);
        let stage_ok = match self.stage {
            Stage::Request => self.request_id.is_none(),
            Stage::Poll | Stage::List => known(&self.request_id) && life.report_id().is_some(),
            Stage::Download => known(&self.report_id) || self.spec.report_id.is_some(),
        };
        if stage_ok && well_formed(&self.request_id) && well_formed(&self.report_id) {
            Ok(())
        } else {
            Err(RestoreError::invalid(format!(
                "stage {:?} without the ids it needs",
                self.stage
            )))
        }
    }

    fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
        credentials.validate()
    }

    /// Nothing to take: the keys are read when a request is signed.
    fn install(&mut self, _credentials: &Credentials) {}

    /// Nothing secret is held: signatures live only in the request.
    fn forget_secrets(&mut self) {}

    fn phase(&self, _life: &Lifecycle<Call>) -> Phase {
        match self.stage {
            Stage::Request => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::List => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        match self.stage {
            Stage::Request => Call::RequestReport,
            Stage::Poll => Call::GetReportRequestList,
            Stage::List => Call::GetReportList,
            Stage::Download => {
                if life.report_id().is_none() {
                    if let Some(id) = self.spec.report_id.clone() {
                        life.report_created(cx, id);
                    }
                }
                Call::GetReport
            }
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        call.buckets()
    }

    fn authorizes(_call: Call) -> bool {
        false
    }

    fn creates(call: Call) -> bool {
        call == Call::RequestReport
    }

    fn request(
        &mut self,
        _life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let origin = cx.api_origin(self.spec.region.origin());
        let (host, prefix) = host_and_path(origin);
        let path = format!("{prefix}{REPORTS_PATH}");
        let timestamp = calendar::rfc3339(cx.now);
        let mut params: Vec<(String, String)> = vec![
            ("AWSAccessKeyId".into(), credentials.access_key_id.clone()),
            ("Action".into(), call.action().into()),
            ("SellerId".into(), credentials.seller_id.clone()),
            ("SignatureMethod".into(), "HmacSHA256".into()),
            ("SignatureVersion".into(), "2".into()),
            ("Timestamp".into(), timestamp),
            ("Version".into(), "2009-01-01".into()),
        ];
        if let Some(token) = &credentials.mws_auth_token {
            params.push(("MWSAuthToken".into(), token.expose().clone()));
        }
        match call {
            Call::RequestReport => {
                params.push(("ReportType".into(), self.spec.report_type.clone()));
                for (name, value) in [
                    ("StartDate", &self.spec.start_date),
                    ("EndDate", &self.spec.end_date),
                    ("ReportOptions", &self.spec.report_options),
                ] {
                    if let Some(value) = value {
                        params.push((name.into(), value.clone()));
                    }
                }
                if self.spec.region.takes_marketplace_list() {
                    for (i, id) in self.spec.marketplace_ids.iter().enumerate() {
                        params.push((format!("MarketplaceIdList.Id.{}", i + 1), id.clone()));
                    }
                }
            }
            Call::GetReportRequestList | Call::GetReportList => {
                let id = self
                    .request_id
                    .clone()
                    .ok_or_else(|| Error::internal(format!("{} without a ReportRequestId", call.action())))?;
                params.push(("ReportRequestIdList.Id.1".into(), id));
            }
            Call::GetReport => {
                let id = self
                    .report_id
                    .clone()
                    .or_else(|| self.spec.report_id.clone())
                    .ok_or_else(|| Error::internal("GetReport without a ReportId"))?;
                params.push(("ReportId".into(), id));
            }
        }
        let body = sign::signed_query(
            "POST",
            &host,
            &path,
            params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            credentials.secret_key.expose(),
        );
        let headers = vec![
            Header::plain("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            Header::plain("User-Agent", concat!("reportflow/", env!("CARGO_PKG_VERSION"), " (Language=Rust)")),
        ];
        // The body carries the signature (and an MWSAuthToken): secret, so
        // no `Debug` of the request shows it.
        let mut outgoing = Outgoing::post(
            call.endpoint(),
            format!("{origin}{REPORTS_PATH}"),
            headers,
            Body::Secret(crate::secret::Secret::new(body.into_bytes())),
        );
        outgoing.send_before = Some(cx.now.saturating_add(SIGNED_REQUEST_LIFETIME_MS));
        if call == Call::GetReport {
            outgoing.report_body = Some(self.report_body());
        }
        Ok(outgoing)
    }

    fn on_reply(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        response: Response,
    ) -> Verdict {
        let Response { status, headers, body } = response;
        observe_quota(life, cx, call, &headers);
        if !(200..300).contains(&status) {
            return api_failure(cx, call, status, &headers, &body);
        }
        match call {
            Call::RequestReport => self.on_requested(life, cx, &body),
            Call::GetReportRequestList => self.on_request_list(life, cx, &body),
            Call::GetReportList => self.on_report_list(cx, &body),
            // A 2xx GetReport streams and never reaches here.
            Call::GetReport => Verdict::Fatal(Error::internal("GetReport answered outside the pipeline")),
        }
    }

    fn max_link_refreshes(&self, config: &JobConfig) -> u32 {
        config.max_link_refreshes.min(MAX_MD5_RETRIES)
    }

    /// There are no links: GetReport is asked again (freshly signed).
    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Download;
    }

    fn report_body(&self) -> ReportBody {
        ReportBody {
            // `Cp1252` when Amazon says nothing; its charset header wins.
            default_charset: Some(self.spec.region.flat_file_charset())
                .filter(|charset| *charset != Charset::Utf8),
            require_md5: !self.spec.accept_unverified,
            ..ReportBody::single(Compression::Identity, self.spec.record_format())
        }
    }

    fn content_type(&self) -> String {
        self.spec.content_type().to_owned()
    }
}

impl Flow {
    /// The report to download is `id`: the host is told (a later job can
    /// fetch it again with [`ReportSpec::existing`]), GetReport comes next.
    fn report_found(&mut self, cx: &mut Cx<'_>, id: String) {
        cx.emit(Event::ReportStatus {
            status: format!("ReportId {id}"),
        });
        self.report_id = Some(id);
        self.stage = Stage::Download;
    }

    fn on_requested(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let endpoint = Call::RequestReport.endpoint();
        let info = match wire::request_infos(body, "RequestReportResponse") {
            Ok(infos) => infos.into_iter().next(),
            Err(detail) => return retry(malformed(endpoint, &detail, body)),
        };
        let Some(info) = info.filter(|i| usable_id(&i.report_request_id)) else {
            return retry(malformed(endpoint, "no usable ReportRequestId", body));
        };
        cx.emit(Event::ReportStatus {
            status: excerpt(info.status.as_bytes(), 40),
        });
        life.report_created(cx, info.report_request_id.clone());
        self.request_id = Some(info.report_request_id);
        self.stage = Stage::Poll;
        self.polls = 0;
        life.schedule(cx.now.saturating_add(self.poll_delay(cx)), WaitReason::PollBackoff);
        Verdict::Proceed
    }

    /// The host's poll pacing. GetReportRequestList's own quota (10 at
    /// once, one more every 45 s) is its bucket's: past the burst, polls
    /// come no faster than the restore rate whatever the pacing says.
    fn poll_delay(&self, cx: &Cx<'_>) -> u64 {
        cx.config.poll.delay(cx.config.seed, self.polls)
    }

    fn on_request_list(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let endpoint = Call::GetReportRequestList.endpoint();
        let infos = match wire::request_infos(body, "GetReportRequestListResponse") {
            Ok(infos) => infos,
            Err(detail) => return retry(malformed(endpoint, &detail, body)),
        };
        let ours = self.request_id.as_deref();
        let Some(info) = infos.into_iter().find(|i| Some(i.report_request_id.as_str()) == ours) else {
            return Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonMws,
                failure: ReportFailure::NotFound,
                status: "not listed".to_owned(),
                detail: "GetReportRequestList does not list the ReportRequestId (requests are kept 90 days); request the report again".to_owned(),
            });
        };
        let status = excerpt(info.status.as_bytes(), 40);
        cx.emit(Event::ReportStatus { status: status.clone() });
        match info.status.as_str() {
            "_DONE_" => match info.generated_report_id.filter(|id| usable_id(id)) {
                Some(id) => {
                    self.report_found(cx, id);
                    Verdict::Proceed
                }
                // "For most reports" the id is here; for the others,
                // GetReportList by ReportRequestId names it.
                None => {
                    self.stage = Stage::List;
                    Verdict::Proceed
                }
            },
            "_DONE_NO_DATA_" => Verdict::NoData,
            "_CANCELLED_" => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonMws,
                failure: ReportFailure::Cancelled,
                status,
                detail: "Amazon cancelled the request. MWS also cancels a request when the same report was \
                         requested too often (it then serves the most recent one instead), so this may mean \
                         'asked too often' rather than a cancellation by the seller: look for a recent report \
                         of this type with GetReportList, or request it again later"
                    .to_owned(),
            }),
            // _SUBMITTED_, _IN_PROGRESS_, and values this version does not
            // know: keep polling, up to the job's deadline.
            _ => {
                self.polls = self.polls.saturating_add(1);
                life.schedule(cx.now.saturating_add(self.poll_delay(cx)), WaitReason::PollBackoff);
                Verdict::Proceed
            }
        }
    }

    fn on_report_list(&mut self, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let endpoint = Call::GetReportList.endpoint();
        let infos = match wire::report_infos(body) {
            Ok(infos) => infos,
            Err(detail) => return retry(malformed(endpoint, &detail, body)),
        };
        let ours = self.request_id.as_deref();
        let found = infos
            .into_iter()
            .filter(|i| usable_id(&i.report_id))
            .find(|i| i.report_request_id.as_deref() == ours);
        match found {
            Some(info) => {
                self.report_found(cx, info.report_id);
                Verdict::Proceed
            }
            // Listed a moment after the request turned _DONE_: ask again.
            None => retry(malformed(endpoint, "no ReportInfo for the ReportRequestId yet", body)),
        }
    }
}

/// Host (lower-cased, standard port dropped) and path prefix of `origin`,
/// as the string to sign wants them.
fn host_and_path(origin: &str) -> (String, &str) {
    let (scheme, rest) = origin.split_once("://").unwrap_or(("https", origin));
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let authority = authority.to_ascii_lowercase();
    let standard = if scheme.eq_ignore_ascii_case("http") { ":80" } else { ":443" };
    let host = authority.strip_suffix(standard).map_or(authority.clone(), str::to_owned);
    (host, path.trim_end_matches('/'))
}

fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit())
}

/// `x-mws-quota-remaining` / `-resetsOn` (either case; ISO 8601 or RFC 1123)
/// count the hourly quota: they set the call's hourly bucket (and the end of
/// its hour); none left empties it until the reset.
fn observe_quota(life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, call: Call, headers: &[(String, String)]) {
    let Some(remaining) = header_number(headers, "x-mws-quota-remaining").filter(|v| *v >= 0.0) else {
        return;
    };
    // Whole requests left; the float form (`58.0`) is Amazon's.
    let remaining = remaining.floor().min(1e9) as u64;
    let reset = quota_reset(cx.now, headers);
    let name = call.hourly_bucket();
    let Some(bucket) = life.budget(name) else {
        return;
    };
    match reset {
        Some(until) if until > cx.now => bucket.observe(cx.now, remaining, until),
        // No reset named (or one already past): the hour counts from now.
        _ => bucket.at_most(cx.now, remaining),
    }
    let until = bucket.ready_at(cx.now);
    if remaining == 0 {
        cx.emit(Event::Throttled {
            bucket: name.to_owned(),
            until,
        });
    }
}

/// When the hourly quota is back: `x-mws-quota-resetsOn` plus one second,
/// as both of its forms are read to the second and Amazon's own reset may
/// fall anywhere in that second.
fn quota_reset(now: Millis, headers: &[(String, String)]) -> Option<Millis> {
    let text = find_header(headers, "x-mws-quota-resetson")?.trim();
    let at = calendar::parse_rfc3339(text)
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(|seconds| Millis(seconds.saturating_mul(1000)))
        .or_else(|| parse_http_date(text))?
        .saturating_add(RESET_SLACK_MS);
    Some(at.max(now).min(now.saturating_add(MAX_QUOTA_WAIT_MS)))
}

/// A non-2xx answer: MWS's `ErrorResponse` classified by code, else by status.
fn api_failure(
    cx: &mut Cx<'_>,
    call: Call,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Verdict {
    let endpoint = call.endpoint();
    let error = wire::error_response(body).unwrap_or_default();
    let code = error.code.as_deref().map(|c| excerpt(c.as_bytes(), 80));
    let mut detail = match (&error.message, &code) {
        (Some(message), _) => excerpt(message.as_bytes(), 300),
        (None, Some(code)) => code.clone(),
        (None, None) => excerpt(body, 300),
    };
    if let Some(id) = &error.request_id {
        detail.push_str(&format!(" (RequestId {})", excerpt(id.as_bytes(), 64)));
    }
    let refusal = Refusal {
        provider: Provider::AmazonMws,
        endpoint,
        status,
        code: code.clone(),
        detail: detail.clone(),
    };
    let unexpected = refusal.unexpected();
    let rejected = |remedy: &str| refusal.rejected(remedy);
    let restore = call.restore_ms();
    match (status, code.as_deref()) {
        (_, Some("RequestThrottled")) => Verdict::Throttled {
            cause: unexpected,
            budget: call.burst_bucket(),
            until: Some(cx.now.saturating_add(restore)),
        },
        (_, Some("QuotaExceeded")) => Verdict::Throttled {
            cause: unexpected,
            budget: call.hourly_bucket(),
            until: Some(quota_reset(cx.now, headers).unwrap_or_else(|| cx.now.saturating_add(restore))),
        },
        (_, Some("InternalError" | "ServiceUnavailable")) => retry(unexpected),
        (_, Some("SignatureDoesNotMatch")) => rejected(
            "the request's signature does not match: check the secret key (and that nothing between you and Amazon rewrites the request)",
        ),
        (_, Some("InvalidAccessKeyId")) => rejected("check the AWSAccessKeyId: MWS does not know it"),
        (_, Some("AccessDenied")) => rejected(
            "the keys may not act for this SellerId: check the SellerId and, for a third party, the MWSAuthToken",
        ),
        (_, Some("InvalidParameterValue")) => rejected(
            "a parameter was refused (ReportType, dates, marketplace), or the Timestamp was more than 15 minutes off Amazon's clock: check the host's clock",
        ),
        (_, Some("InvalidReportId" | "InvalidReportRequestId" | "ReportNoLongerAvailable")) => {
            Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonMws,
                failure: ReportFailure::NotFound,
                status: format!("{status} {}", code.as_deref().unwrap_or_default()),
                detail: format!("{detail} — reports are kept 90 days; request the report again"),
            })
        }
        (500..=599, _) => retry(unexpected),
        _ => rejected("MWS refused the request"),
    }
}

fn retry(cause: Error) -> Verdict {
    Verdict::Retry {
        cause,
        at_least: None,
    }
}

fn malformed(endpoint: &str, detail: &str, body: &[u8]) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonMws,
        endpoint: endpoint.to_owned(),
        detail: format!("{detail} in {}", excerpt(body, 120)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const NOW: Millis = Millis(1_591_862_400_000); // 2020-06-11T08:00:00Z

    fn error_body(code: &str) -> Vec<u8> {
        format!(
            "<ErrorResponse xmlns=\"http://mws.amazonaws.com/doc/2009-01-01/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>m</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        )
        .into_bytes()
    }

    fn judge(call: Call, status: u16, code: &str, headers: &[(String, String)]) -> Verdict {
        let config = JobConfig::default();
        let mut events = VecDeque::new();
        let mut cx = Cx::new(NOW, &config, &mut events);
        api_failure(&mut cx, call, status, headers, &error_body(code))
    }

    #[test]
    fn error_responses_are_classified_by_code() {
        for (status, code) in [(500, "InternalError"), (503, "ServiceUnavailable"), (502, "Whatever")] {
            assert!(matches!(judge(Call::GetReportRequestList, status, code, &[]), Verdict::Retry { .. }), "{code}");
        }
        for (status, code) in [
            (400, "InvalidParameterValue"),
            (401, "AccessDenied"),
            (403, "InvalidAccessKeyId"),
            (403, "SignatureDoesNotMatch"),
            (400, "InvalidReportType"),
        ] {
            match judge(Call::RequestReport, status, code, &[]) {
                Verdict::Fatal(error @ Error::Rejected { .. }) => {
                    assert_eq!(error.blame(), crate::error::Blame::Config, "{code}");
                    let text = error.to_string();
                    assert!(text.contains(code) || code == "InvalidReportType", "{text}");
                    assert!(text.contains("RequestId r-1"), "{text}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        for code in ["InvalidReportId", "InvalidReportRequestId", "ReportNoLongerAvailable"] {
            assert!(matches!(
                judge(Call::GetReport, 400, code, &[]),
                Verdict::Fatal(Error::ReportFailed { failure: ReportFailure::NotFound, .. })
            ));
        }
    }

    #[test]
    fn throttles_wait_a_restore_interval_or_for_the_quota_reset() {
        match judge(Call::GetReportRequestList, 503, "RequestThrottled", &[]) {
            Verdict::Throttled { budget, until, .. } => {
                assert_eq!(budget, "amazon-mws:GetReportRequestList");
                assert_eq!(until, Some(NOW.saturating_add(45_000)));
            }
            other => panic!("{other:?}"),
        }
        let reset = vec![("x-mws-quota-resetsOn".to_owned(), "2020-06-11T08:20:00Z".to_owned())];
        match judge(Call::RequestReport, 503, "QuotaExceeded", &reset) {
            Verdict::Throttled { budget, until, .. } => {
                assert_eq!(budget, "amazon-mws:RequestReport:hour");
                assert_eq!(until, Some(NOW.saturating_add(20 * 60_000 + RESET_SLACK_MS)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quota_headers_lower_the_bucket_and_none_left_empties_it_until_the_reset() {
        let flow = Flow::create(
            ReportSpec::new(super::super::Region::Na, "_GET_MERCHANT_LISTINGS_DATA_"),
            &JobConfig::default(),
            NOW,
        )
        .unwrap();
        let mut life = Lifecycle::new(NOW, flow.rate_budgets(NOW));
        let config = JobConfig::default();
        let mut events = VecDeque::new();
        let mut cx = Cx::new(NOW, &config, &mut events);
        let headers = |remaining: &str| {
            vec![
                ("x-mws-quota-max".to_owned(), "60.0".to_owned()),
                ("x-mws-quota-remaining".to_owned(), remaining.to_owned()),
                ("x-mws-quota-resetson".to_owned(), "2020-06-11T08:30:00.000Z".to_owned()),
            ]
        };
        // Two left of the hour: two requests now, the third waits.
        observe_quota(&mut life, &mut cx, Call::GetReport, &headers("2.0"));
        let bucket = life.budget("amazon-mws:GetReport:hour").unwrap();
        assert!(bucket.try_take(NOW).is_ok() && bucket.try_take(NOW).is_ok());
        // Nothing more until the hour Amazon named is over.
        assert_eq!(bucket.try_take(NOW), Err(Millis(1_591_864_201_000)));
        assert!(life.budget("amazon-mws:GetReport").unwrap().try_take(NOW).is_ok());
        // None left: nothing before the reset, and the host is told.
        observe_quota(&mut life, &mut cx, Call::RequestReport, &headers("0.0"));
        let bucket = life.budget("amazon-mws:RequestReport:hour").unwrap();
        assert_eq!(bucket.try_take(NOW), Err(Millis(1_591_864_201_000)));
        assert!(events.iter().any(|e| matches!(e, Event::Throttled { .. })));
        // Hostile values change nothing.
        let mut cx = Cx::new(NOW, &config, &mut events);
        for value in ["-1", "NaN", "inf", "lots"] {
            observe_quota(&mut life, &mut cx, Call::GetReportList, &headers(value));
        }
        assert!(life.budget("amazon-mws:GetReportList:hour").unwrap().try_take(NOW).is_ok());
    }

    #[test]
    fn the_signed_host_drops_standard_ports_and_keeps_a_path_prefix() {
        assert_eq!(host_and_path("https://MWS.amazonservices.com"), ("mws.amazonservices.com".into(), ""));
        assert_eq!(host_and_path("https://mws.amazonservices.jp:443"), ("mws.amazonservices.jp".into(), ""));
        assert_eq!(
            host_and_path("http://127.0.0.1:8080/amazon-mws"),
            ("127.0.0.1:8080".into(), "/amazon-mws")
        );
    }

    #[test]
    fn quota_resets_read_both_date_forms_and_are_bounded() {
        let now = Millis(1_591_862_400_000); // 2020-06-11T08:00:00Z
        let iso = vec![("x-mws-quota-resetsOn".to_owned(), "2020-06-11T08:30:00.000Z".to_owned())];
        assert_eq!(quota_reset(now, &iso), Some(Millis(1_591_864_201_000)));
        let rfc = vec![("X-MWS-Quota-ResetsOn".to_owned(), "Thu, 11 Jun 2020 08:30:00 GMT".to_owned())];
        assert_eq!(quota_reset(now, &rfc), Some(Millis(1_591_864_201_000)));
        let far = vec![("x-mws-quota-resetson".to_owned(), "2030-01-01T00:00:00Z".to_owned())];
        assert_eq!(quota_reset(now, &far), Some(now.saturating_add(MAX_QUOTA_WAIT_MS)));
        assert_eq!(quota_reset(now, &[]), None);
    }
}
