//! Amazon Pay API v2 reports simulator, under the `/amazon-pay` prefix.
//!
//! | request | answer |
//! |---|---|
//! | `POST {base}/reports` (`reportType`, `startTime`, `endTime`; `x-amz-pay-idempotency-key`) | `201 {"reportId"}`; the same key with the same body answers the same report, with another body `400 DuplicateIdempotencyKey` |
//! | `GET {base}/reports/{reportId}` | a `Report`: `IN_PROGRESS` for `generation_ms`, then `COMPLETED` with a `reportDocumentId` (or `FAILED`/`CANCELLED`) |
//! | `GET {base}/report-documents/{id}` | `{reportDocumentId, url, compressionAlgorithm: "N/A"}`, the `url` presigned for 30 seconds on the download host |
//! | `GET /_documents/{id}?X-Amz-…` (download host) | the flat file; `400` with any `authorization` or `x-amz-pay-*` header, `403 AccessDenied` "Request has expired" after 30 s, `403 SignatureDoesNotMatch` for a tampered link |
//!
//! | `GET {base}/reports?reportTypes&processingStatuses&createdSince&createdUntil&pageSize` | `{reports, nextToken?}`, oldest first, `pageSize` 1–100 (default 10); `nextToken` must be sent alone (`400 InvalidParameterCombination`) |
//! | `GET {base}/report-schedules[?reportTypes=A,B]` | `{"reportSchedules": [ReportSchedule]}` |
//! | `GET {base}/report-schedules/{id}` | the docs' wrapper `{"reportSchedules": [ReportSchedule]}`, `404 ResourceNotFound` if unknown |
//! | `POST {base}/report-schedules` (`reportType`, `scheduleFrequency`, `nextReportCreationTime`?, `deleteExistingSchedule` in the body as the SDKs send it, or the query as the docs say) | `201 {"reportScheduleId"}`; one schedule per report type: another of the type without `deleteExistingSchedule` is `400 InvalidRequest` naming it; idempotency keys as for reports |
//! | `DELETE {base}/report-schedules/{id}` | `200 {}`, `404 ResourceNotFound` if unknown |
//!
//! Schedules produce reports as virtual time passes: at each
//! `nextReportCreationTime` a report of the schedule's type over the period
//! before it appears, `COMPLETED` at once (the next time moves on by the
//! frequency; at most the last 90 days are produced, as Amazon keeps them).
//!
//! `{base}` is `/v2` for `LIVE-`/`SANDBOX-` key ids and `/live/v2` or
//! `/sandbox/v2` for legacy ones (a mismatch is `404`). Every API call is
//! checked before anything else, as Amazon Pay does: the five headers (six
//! on POST) present (`400 MissingHeader`), `x-amz-pay-date` within 15
//! minutes of the simulator's clock (`400 InvalidHeaderValue`), and the
//! `authorization` header's signature verified over the canonical request
//! rebuilt from what arrived, with the merchant's public key
//! ([`keys::MERCHANT_PUBLIC_KEY_PEM`](super::keys::MERCHANT_PUBLIC_KEY_PEM))
//! and the algorithm's salt length: an unknown key id, a signature by
//! another key, a header changed after signing or a required header left
//! unsigned is `401 InvalidRequestSignature`, whose message quotes the
//! string to sign the simulator expected (as Amazon's does).
//!
//! Faults (see [`Fault`]): `throttle` answers `429 TooManyRequests` with
//! `Retry-After: 2`; `server-error` `500 InternalServerError` (odd firings)
//! or `503 ServiceUnavailable` (even); `lost-answer` handles the call and
//! drops the connection before the answer; `reject-422` answers the next
//! create `400 InvalidParameterValue`; `report-failure` makes the report
//! `FAILED`, `task-cancelled` `CANCELLED` (Amazon's "no data");
//! `expired-link` and `disconnect` act on the download. The document is
//! served uncompressed (`compressionAlgorithm` `N/A`) and Amazon publishes
//! no checksum, so `corrupt-body` and `truncated-gzip` are not implemented
//! (nothing could detect them).
//!
//! A report is an Amazon flat file (TSV with a header line) of `rows` rows
//! whose bytes depend only on the sandbox seed, the report type and window.

use std::any::Any;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::calendar::{amz_date, parse_amz_date};
use super::faults::{Fault, Opportunity};
use super::keys::{merchant_public_key, verify};
use super::writers::amazon_flat_file;
use super::{
    decode_segment, encode_segment, fnv1a, s3_error, ProviderSim, SandboxConfig, SimCx, SimRequest,
    SimResponse,
};
use crate::integrity::Md5;
use crate::providers::amazon_pay::signing::{self, parse_authorization};
use crate::providers::amazon_pay::{frequency_ms, Credentials, Region, ReportSpec};
use crate::sign::SignatureAlgorithm;
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

/// The public key id the simulated merchant registered (an
/// environment-prefixed key: the unified `/v2` base path).
pub const PUBLIC_KEY_ID: &str = "LIVE-AHSIMULATEDMERCHANTKEY01";
/// The report type of [`sample_spec`].
pub const SAMPLE_REPORT_TYPE: &str = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_";
/// Lifetime of a report document URL, in seconds.
pub const LINK_LIFETIME_S: u64 = 30;
/// How far `x-amz-pay-date` may be from the simulator's clock.
pub const MAX_SKEW_MS: u64 = 15 * 60 * 1000;
/// How long Amazon keeps reports: the oldest a schedule produces.
const RETENTION_MS: u64 = 90 * 86_400_000;

const DOCUMENTS: &str = "/_documents/";
/// The headers every call must carry and sign; POST adds the idempotency key.
const REQUIRED: [&str; 5] = [
    "accept",
    "content-type",
    "x-amz-pay-date",
    "x-amz-pay-host",
    "x-amz-pay-region",
];
const IDEMPOTENCY: &str = "x-amz-pay-idempotency-key";

/// What each fault answers here, for help texts ([`Fault::answer`]).
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (Fault::Throttle, "next API call: HTTP 429 TooManyRequests, Retry-After: 2"),
    (Fault::ServerError, "next API call: HTTP 500 InternalServerError (odd firings) or 503 ServiceUnavailable (even)"),
    (Fault::LostAnswer, "next API call handled, connection dropped before the answer (a create keeps its report: same idempotency key, same report)"),
    (Fault::Reject422, "next report creation: HTTP 400 InvalidParameterValue"),
    (Fault::ReportFailure, "next status poll: processingStatus FAILED, for good"),
    (Fault::TaskCancelled, "next status poll: processingStatus CANCELLED (no data)"),
    (Fault::ExpiredLink, "next document download: HTTP 403 AccessDenied \"Request has expired\""),
    (Fault::Disconnect, "next document download breaks off half-way through the body"),
];

/// No credentials: the host signs (the harness with
/// [`TestSigner::merchant`](super::keys::TestSigner::merchant)).
pub fn credentials() -> JobCredentials {
    JobCredentials::AmazonPay(Credentials::host_signed())
}

/// Order-reference data of the week before `now`, with [`PUBLIC_KEY_ID`].
pub fn sample_report_spec(now: Millis) -> ReportSpec {
    let week = 7 * 24 * 3600 * 1000;
    let day = |at: Millis| Millis(at.as_u64() / 86_400_000 * 86_400_000);
    ReportSpec::new(
        Region::Na,
        PUBLIC_KEY_ID,
        SAMPLE_REPORT_TYPE,
        amz_date(day(Millis(now.as_u64().saturating_sub(week)))),
        amz_date(day(now)),
    )
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec(now: Millis) -> JobSpec {
    JobSpec::AmazonPay(sample_report_spec(now))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone)]
struct Report {
    created_at: Millis,
    /// When it is `COMPLETED` (scheduled reports: at once).
    ready_at: Millis,
    report_type: String,
    start: String,
    end: String,
    fate: Fate,
    document_id: String,
}

/// The Amazon Pay simulator. Reach it through a [`Sandbox`](super::Sandbox);
/// [`Sandbox::simulator`](super::Sandbox::simulator) gives read access to
/// its counters.
#[derive(Debug, Clone)]
pub struct Simulator {
    download_origin: String,
    seed: u64,
    rows: u32,
    generation_ms: u64,
    reports: BTreeMap<String, Report>,
    documents: BTreeMap<String, String>,
    /// Idempotency key → (fingerprint of the body, report or schedule id).
    idempotency: BTreeMap<String, (u64, String)>,
    schedules: BTreeMap<String, Schedule>,
    /// Paging tokens of Get Reports → (the matching report ids, offset,
    /// page size).
    pages: BTreeMap<String, (Vec<String>, usize, usize)>,
    schedule_writes: u32,
    /// Schedules ever made: ids never repeat, even after a cancel.
    schedules_made: u64,
    verified: u32,
    refused: u32,
}

impl Report {
    fn status(&self, now: Millis) -> &'static str {
        match (self.fate, now >= self.ready_at) {
            (Fate::Failed, _) => "FAILED",
            (Fate::Cancelled, _) => "CANCELLED",
            (Fate::Normal, false) => "IN_PROGRESS",
            (Fate::Normal, true) => "COMPLETED",
        }
    }
}

/// A report schedule.
#[derive(Debug, Clone)]
struct Schedule {
    report_type: String,
    frequency: String,
    period_ms: u64,
    next: Millis,
}

impl Schedule {
    fn json(&self, id: &str) -> Value {
        json!({
            "reportScheduleId": id,
            "reportType": self.report_type,
            "scheduleFrequency": self.frequency,
            "nextReportCreationTime": amz_date(self.next),
        })
    }
}

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            download_origin: config.download_base_for(Provider::AmazonPay),
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            reports: BTreeMap::new(),
            documents: BTreeMap::new(),
            idempotency: BTreeMap::new(),
            schedules: BTreeMap::new(),
            pages: BTreeMap::new(),
            schedule_writes: 0,
            schedules_made: 0,
            verified: 0,
            refused: 0,
        }
    }

    /// Reports created (an idempotent repeat creates none).
    pub fn reports_created(&self) -> usize {
        self.reports.len()
    }

    /// Schedule writes that changed what the merchant has (creates that
    /// were not idempotent repeats, cancels).
    pub fn schedule_writes(&self) -> u32 {
        self.schedule_writes
    }

    /// The schedules, as `(reportScheduleId, reportType, scheduleFrequency)`.
    pub fn schedules(&self) -> Vec<(String, String, String)> {
        self.schedules
            .iter()
            .map(|(id, s)| (id.clone(), s.report_type.clone(), s.frequency.clone()))
            .collect()
    }

    /// Installs a schedule as if the merchant had created it (tests start
    /// from any set of schedules; several of one type are allowed here,
    /// which Amazon would not).
    pub fn seed_schedule(&mut self, report_type: &str, frequency: &str, next: Millis) -> String {
        self.schedules_made = self.schedules_made.saturating_add(1);
        let n = self.schedules_made;
        let id = format!("{:011}{n}", self.random(n ^ 0x5c4e) % 100_000_000_000);
        self.schedules.insert(
            id.clone(),
            Schedule {
                report_type: report_type.to_owned(),
                frequency: frequency.to_owned(),
                period_ms: frequency_ms(frequency).unwrap_or(86_400_000).max(60_000),
                next,
            },
        );
        id
    }

    /// Reports that schedules produced up to `now`.
    fn run_schedules(&mut self, now: Millis) {
        let oldest = Millis(now.as_u64().saturating_sub(RETENTION_MS));
        let mut due = Vec::new();
        for schedule in self.schedules.values_mut() {
            if schedule.next < oldest {
                let behind = oldest.as_u64() - schedule.next.as_u64();
                let skip = behind.div_ceil(schedule.period_ms);
                schedule.next = schedule
                    .next
                    .saturating_add(skip.saturating_mul(schedule.period_ms));
            }
            while schedule.next <= now {
                let start = Millis(schedule.next.as_u64().saturating_sub(schedule.period_ms));
                due.push((schedule.report_type.clone(), start, schedule.next));
                schedule.next = schedule.next.saturating_add(schedule.period_ms);
            }
        }
        for (report_type, start, at) in due {
            self.add_report(at, at, report_type, amz_date(start), amz_date(at));
        }
    }

    fn add_report(
        &mut self,
        created_at: Millis,
        ready_at: Millis,
        report_type: String,
        start: String,
        end: String,
    ) -> String {
        let n = self.reports.len() as u64 + 1;
        let id = format!("amzn1.tortuga.3.{:016x}.T{n}", self.random(n));
        let document_id = format!("amzn1.tortuga.3.{:016x}.D{n}", self.random(n ^ 0xd0c));
        self.documents.insert(document_id.clone(), id.clone());
        self.reports.insert(
            id.clone(),
            Report {
                created_at,
                ready_at,
                report_type,
                start,
                end,
                fate: Fate::Normal,
                document_id,
            },
        );
        id
    }

    fn report_json(&self, now: Millis, id: &str, report: &Report) -> Value {
        let status = report.status(now);
        let mut body = json!({
            "reportId": id,
            "reportType": report.report_type,
            "startTime": report.start,
            "endTime": report.end,
            "createdTime": amz_date(report.created_at),
            "processingStatus": status,
            "processingStartTime": amz_date(report.created_at),
        });
        if let (true, Some(fields)) = (status == "COMPLETED", body.as_object_mut()) {
            fields.insert("processingEndTime".into(), json!(amz_date(report.ready_at)));
            fields.insert("reportDocumentId".into(), json!(report.document_id));
        }
        body
    }

    /// Get Reports: filtered, oldest first, paged.
    fn list_reports(&mut self, now: Millis, request: &SimRequest) -> SimResponse {
        let params: Vec<(String, String)> = request
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(token) = param("nextToken") {
            if params.len() > 1 {
                return error(
                    400,
                    "InvalidParameterCombination",
                    "nextToken must be the only parameter",
                );
            }
            let Some((ids, offset, size)) = self.pages.remove(&token) else {
                return error(400, "InvalidParameterValue", "The nextToken is not valid");
            };
            return self.page(now, ids, offset, size);
        }
        let list = |name: &str| -> Vec<String> {
            param(name)
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let (types, statuses) = (list("reportTypes"), list("processingStatuses"));
        let time = |name: &str, default: Millis| match param(name) {
            None => Some(default),
            Some(text) => crate::calendar::parse_iso8601(&text)
                .filter(|s| *s >= 0)
                .map(|s| Millis(s.unsigned_abs().saturating_mul(1000))),
        };
        let since = time(
            "createdSince",
            Millis(now.as_u64().saturating_sub(RETENTION_MS)),
        );
        let until = time("createdUntil", now);
        let size = param("pageSize").map_or(Some(10), |v| v.parse::<usize>().ok());
        let (Some(since), Some(until), Some(size @ 1..=100)) = (since, until, size) else {
            return error(
                400,
                "InvalidParameterValue",
                "createdSince/createdUntil must be ISO 8601, pageSize 1 to 100",
            );
        };
        let mut ids: Vec<(Millis, String)> = self
            .reports
            .iter()
            .filter(|(_, r)| {
                (types.is_empty() || types.contains(&r.report_type))
                    && (statuses.is_empty() || statuses.iter().any(|s| s == r.status(now)))
                    && r.created_at >= since
                    && r.created_at <= until
            })
            .map(|(id, r)| (r.created_at, id.clone()))
            .collect();
        ids.sort();
        self.page(now, ids.into_iter().map(|(_, id)| id).collect(), 0, size)
    }

    fn page(&mut self, now: Millis, ids: Vec<String>, offset: usize, size: usize) -> SimResponse {
        let end = offset.saturating_add(size).min(ids.len());
        let reports: Vec<Value> = ids
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.reports.get(id).map(|r| self.report_json(now, id, r)))
            .collect();
        let mut body = json!({ "reports": reports });
        if end < ids.len() {
            let token = format!(
                "nt{:016x}",
                self.random(0x70c ^ self.pages.len() as u64 ^ now.as_u64())
            );
            self.pages.insert(token.clone(), (ids, end, size));
            if let Some(fields) = body.as_object_mut() {
                fields.insert("nextToken".into(), json!(token));
            }
        }
        SimResponse::json(200, &body)
    }

    fn list_schedules(&self, request: &SimRequest) -> SimResponse {
        let types: Vec<String> = request
            .query_param("reportTypes")
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let schedules: Vec<Value> = self
            .schedules
            .iter()
            .filter(|(_, s)| types.is_empty() || types.contains(&s.report_type))
            .map(|(id, s)| s.json(id))
            .collect();
        SimResponse::json(200, &json!({ "reportSchedules": schedules }))
    }

    fn get_schedule(&self, id: &str) -> SimResponse {
        match self.schedules.get(id) {
            Some(schedule) => {
                SimResponse::json(200, &json!({ "reportSchedules": [schedule.json(id)] }))
            }
            None => error(
                404,
                "ResourceNotFound",
                "The report schedule does not exist",
            ),
        }
    }

    fn cancel_schedule(&mut self, id: &str) -> SimResponse {
        match self.schedules.remove(id) {
            Some(_) => {
                self.schedule_writes = self.schedule_writes.saturating_add(1);
                SimResponse::json(200, &json!({}))
            }
            None => error(
                404,
                "ResourceNotFound",
                "The report schedule does not exist",
            ),
        }
    }

    fn create_schedule(&mut self, now: Millis, request: &SimRequest) -> SimResponse {
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return error(400, "InvalidRequestFormat", "The body is not JSON"),
        };
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(report_type), Some(frequency)) =
            (field("reportType"), field("scheduleFrequency"))
        else {
            return error(
                400,
                "MissingParameterValue",
                "reportType and scheduleFrequency are required",
            );
        };
        let Ok(period_ms) = frequency_ms(&frequency) else {
            return error(
                400,
                "InvalidParameterValue",
                "scheduleFrequency is not a ScheduleFrequency",
            );
        };
        let next = match field("nextReportCreationTime") {
            None => Some(now.saturating_add(period_ms)),
            Some(text) => crate::calendar::parse_iso8601(&text)
                .filter(|s| *s >= 0)
                .map(|s| Millis(s.unsigned_abs().saturating_mul(1000))),
        };
        let Some(next) = next else {
            return error(
                400,
                "InvalidParameterValue",
                "nextReportCreationTime is not ISO 8601",
            );
        };
        // Body (the SDKs: a boolean, or Java's string) or query (the docs).
        let delete = match body.get("deleteExistingSchedule") {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => text == "true",
            _ => request.query_param("deleteExistingSchedule").as_deref() == Some("true"),
        };
        if !report_type.starts_with('_') || report_type.contains("MULTI_CURRENCY") {
            return error(
                400,
                "InvalidParameterValue",
                "This reportType cannot be scheduled",
            );
        }
        let key = request.header(IDEMPOTENCY).unwrap_or_default().to_owned();
        let fingerprint = fnv1a(&String::from_utf8_lossy(&request.body));
        if let Some((seen, id)) = self.idempotency.get(&key) {
            return if *seen == fingerprint {
                SimResponse::json(201, &json!({ "reportScheduleId": id }))
            } else {
                error(
                    400,
                    "DuplicateIdempotencyKey",
                    "The idempotency key was used with other values",
                )
            };
        }
        let existing: Vec<String> = self
            .schedules
            .iter()
            .filter(|(_, s)| s.report_type == report_type)
            .map(|(id, _)| id.clone())
            .collect();
        if !existing.is_empty() && !delete {
            return error(
                400,
                "InvalidRequest",
                &format!(
                    "A report schedule for {report_type} already exists ({}): set deleteExistingSchedule to true to replace it",
                    existing.join(", ")
                ),
            );
        }
        for id in existing {
            self.schedules.remove(&id);
        }
        self.schedule_writes = self.schedule_writes.saturating_add(1);
        let id = self.seed_schedule(&report_type, &frequency, next);
        self.idempotency.insert(key, (fingerprint, id.clone()));
        SimResponse::json(201, &json!({ "reportScheduleId": id }))
    }

    /// API calls whose signature verified.
    pub fn signatures_verified(&self) -> u32 {
        self.verified
    }

    /// API calls refused for their signature (or a missing, stale or
    /// unsigned header).
    pub fn signatures_refused(&self) -> u32 {
        self.refused
    }

    /// The checks every API call passes before it is served.
    fn authenticate(&mut self, now: Millis, request: &SimRequest) -> Result<(), SimResponse> {
        let result = self.check_signature(now, request);
        match &result {
            Ok(()) => self.verified = self.verified.saturating_add(1),
            Err(_) => self.refused = self.refused.saturating_add(1),
        }
        result
    }

    fn check_signature(&self, now: Millis, request: &SimRequest) -> Result<(), SimResponse> {
        let post = request.method == crate::http::Method::Post;
        for name in REQUIRED.iter().copied().chain(post.then_some(IDEMPOTENCY)) {
            if request.header(name).map_or(true, str::is_empty) {
                return Err(error(
                    400,
                    "MissingHeader",
                    &format!("The {name} header is missing"),
                ));
            }
        }
        let date = request.header("x-amz-pay-date").unwrap_or_default();
        let skewed = parse_amz_date(date)
            .map_or(true, |at| at.as_u64().abs_diff(now.as_u64()) > MAX_SKEW_MS);
        if skewed {
            return Err(error(
                400,
                "InvalidHeaderValue",
                &format!("x-amz-pay-date `{date}` is not a basic ISO 8601 UTC time within 15 minutes of the server's"),
            ));
        }
        let refused = |message: String| error(401, "InvalidRequestSignature", &message);
        let Some(auth) = request
            .header("authorization")
            .and_then(parse_authorization)
        else {
            return Err(error(
                401,
                "UnauthorizedAccess",
                "The authorization header is missing or not AMZN-PAY-RSASSA-PSS(-V2)",
            ));
        };
        let key = (auth.public_key_id == PUBLIC_KEY_ID)
            .then(merchant_public_key)
            .flatten();
        let Some(key) = key else {
            return Err(refused(format!(
                "Unknown public key id {}",
                auth.public_key_id
            )));
        };
        for name in REQUIRED.iter().copied().chain(post.then_some(IDEMPOTENCY)) {
            if !auth.signed_headers.iter().any(|signed| signed == name) {
                return Err(refused(format!("The {name} header must be signed")));
            }
        }
        let mut headers = Vec::new();
        for name in &auth.signed_headers {
            for (sent, value) in &request.headers {
                if sent.eq_ignore_ascii_case(name) {
                    headers.push((name.as_str(), value.as_str()));
                }
            }
        }
        let path = decode_path(request.path());
        let query: Vec<(String, String)> = request
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let canonical = signing::canonical_request(
            request.method.as_str(),
            &path,
            query.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            headers,
            &request.body,
        );
        let expected = signing::string_to_sign(auth.algorithm, &canonical);
        let SignatureAlgorithm::RsaPssSha256 { salt_length } = auth.algorithm.signature();
        if verify(
            &key,
            salt_length as usize,
            expected.as_bytes(),
            &auth.signature,
        ) {
            Ok(())
        } else {
            Err(refused(format!(
                "The signature does not match. The String-to-Sign should have been '{}'",
                expected.replace('\n', "\\n")
            )))
        }
    }

    fn random(&self, salt: u64) -> u64 {
        crate::retry::splitmix64(self.seed ^ crate::retry::splitmix64(salt))
    }

    fn create(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return error(400, "InvalidRequestFormat", "The body is not JSON"),
        };
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(report_type), Some(start), Some(end)) =
            (field("reportType"), field("startTime"), field("endTime"))
        else {
            return error(
                400,
                "MissingParameterValue",
                "reportType, startTime and endTime are required",
            );
        };
        let window = (
            crate::calendar::parse_iso8601(&start),
            crate::calendar::parse_iso8601(&end),
        );
        if !matches!(window, (Some(a), Some(b)) if a <= b) || !report_type.starts_with('_') {
            return error(
                400,
                "InvalidParameterValue",
                "reportType, startTime or endTime is invalid",
            );
        }
        let key = request.header(IDEMPOTENCY).unwrap_or_default().to_owned();
        let key_ok = key.len() <= 32
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !key_ok {
            return error(
                400,
                "InvalidHeaderValue",
                "x-amz-pay-idempotency-key: at most 32 of a-z A-Z 0-9 - _",
            );
        }
        let fingerprint = fnv1a(&String::from_utf8_lossy(&request.body));
        if let Some((seen, id)) = self.idempotency.get(&key) {
            return if *seen == fingerprint {
                SimResponse::json(201, &json!({ "reportId": id }))
            } else {
                error(
                    400,
                    "DuplicateIdempotencyKey",
                    "The idempotency key was used with other values",
                )
            };
        }
        if cx.fault(Opportunity::Create) == Some(Fault::Reject422) {
            return error(
                400,
                "InvalidParameterValue",
                "The requested window is not available for this report type",
            );
        }
        let ready_at = cx.now.saturating_add(self.generation_ms);
        let id = self.add_report(cx.now, ready_at, report_type, start, end);
        self.idempotency.insert(key, (fingerprint, id.clone()));
        SimResponse::json(201, &json!({ "reportId": id }))
    }

    fn status(&mut self, cx: &mut SimCx<'_>, id: &str) -> SimResponse {
        let Some(report) = self.reports.get_mut(id) else {
            return error(404, "ResourceNotFound", "The report does not exist");
        };
        match cx.fault(Opportunity::StatusPoll) {
            Some(Fault::ReportFailure) => report.fate = Fate::Failed,
            Some(Fault::TaskCancelled) => report.fate = Fate::Cancelled,
            _ => {}
        }
        match self.reports.get(id) {
            Some(report) => SimResponse::json(200, &self.report_json(cx.now, id, report)),
            None => error(404, "ResourceNotFound", "The report does not exist"),
        }
    }

    fn document(&self, now: Millis, id: &str) -> SimResponse {
        let completed = self
            .documents
            .get(id)
            .and_then(|report| self.reports.get(report))
            .is_some_and(|r| r.fate == Fate::Normal && now >= r.ready_at);
        if !completed {
            return error(
                404,
                "ResourceNotFound",
                "The report document does not exist",
            );
        }
        let date = amz_date(now);
        let url = format!(
            "{}{DOCUMENTS}{}?X-Amz-Date={date}&X-Amz-Expires={LINK_LIFETIME_S}&X-Amz-Signature={}",
            self.download_origin,
            encode_segment(id),
            self.link_signature(id, &date)
        );
        SimResponse::json(
            200,
            &json!({ "reportDocumentId": id, "url": url, "compressionAlgorithm": "N/A" }),
        )
    }

    fn link_signature(&self, id: &str, date: &str) -> String {
        Md5::digest(format!("{}\n{id}\n{date}", self.seed).as_bytes()).to_hex()
    }

    fn download(&self, cx: &mut SimCx<'_>, request: &SimRequest, object: &str) -> SimResponse {
        let leaked = request.headers.iter().any(|(name, _)| {
            name.eq_ignore_ascii_case("authorization")
                || name.to_ascii_lowercase().starts_with("x-amz-pay-")
        });
        if leaked {
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; the link is presigned",
                "",
            );
        }
        let id = decode_segment(object);
        let date = request.query_param("X-Amz-Date").unwrap_or_default();
        let genuine = request.query_param("X-Amz-Signature").as_deref()
            == Some(self.link_signature(&id, &date).as_str());
        let (Some(issued), true) = (parse_amz_date(&date), genuine) else {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                "",
            );
        };
        let Some(content) = self
            .documents
            .get(&id)
            .and_then(|report| self.report_content(report))
        else {
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", "");
        };
        let expired = || s3_error(403, "AccessDenied", "Request has expired", "");
        if cx.now > issued.saturating_add(LINK_LIFETIME_S * 1000) {
            return expired();
        }
        let mut response = SimResponse::bytes(200, "text/tab-separated-values", content);
        match cx.fault(Opportunity::Download) {
            Some(Fault::ExpiredLink) => return expired(),
            Some(Fault::Disconnect) => response.disconnect_after = Some(response.body.len() / 2),
            _ => {}
        }
        response
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::AmazonPay
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        if let Some(object) = path.strip_prefix(DOCUMENTS) {
            return self.download(cx, request, object);
        }
        if let Err(refused) = self.authenticate(cx.now, request) {
            return refused;
        }
        self.run_schedules(cx.now);
        let key_id = request
            .header("authorization")
            .and_then(parse_authorization)
            .map(|auth| auth.public_key_id)
            .unwrap_or_default();
        let spec = ReportSpec::new(Region::Na, key_id, "_", "", "");
        let Some(rest) = path.strip_prefix(spec.base_path()) else {
            return error(
                404,
                "ResourceNotFound",
                "No such path for this key's environment",
            );
        };
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) => {
                return error(429, "TooManyRequests", "The request was throttled")
                    .with_header("Retry-After", "2")
            }
            Some(Fault::ServerError) if cx.fired(Fault::ServerError) % 2 == 0 => {
                return error(503, "ServiceUnavailable", "Service unavailable")
            }
            Some(Fault::ServerError) => {
                return error(500, "InternalServerError", "Internal server error")
            }
            _ => {}
        }
        use crate::http::Method;
        let schedule_id = rest.strip_prefix("/report-schedules/").map(decode_segment);
        let mut response = match (request.method, rest) {
            (Method::Post, "/reports") => self.create(cx, request),
            (Method::Get, "/reports") => self.list_reports(cx.now, request),
            (Method::Get, "/report-schedules") => self.list_schedules(request),
            (Method::Post, "/report-schedules") => self.create_schedule(cx.now, request),
            (Method::Get, _) if schedule_id.is_some() => {
                self.get_schedule(schedule_id.as_deref().unwrap_or_default())
            }
            (Method::Delete, _) if schedule_id.is_some() => {
                self.cancel_schedule(schedule_id.as_deref().unwrap_or_default())
            }
            (crate::http::Method::Get, _) if rest.starts_with("/reports/") => {
                let id = decode_segment(rest.trim_start_matches("/reports/"));
                self.status(cx, &id)
            }
            (crate::http::Method::Get, _) if rest.starts_with("/report-documents/") => {
                let id = decode_segment(rest.trim_start_matches("/report-documents/"));
                self.document(cx.now, &id)
            }
            _ => error(404, "ResourceNotFound", "No such operation"),
        };
        if cx.fired == Some(Fault::LostAnswer) {
            response.disconnect_after = Some(0);
        }
        response
    }

    fn fault_answers(&self) -> &'static [(Fault, &'static str)] {
        FAULT_ANSWERS
    }

    fn download_prefix(&self) -> &'static str {
        DOCUMENTS
    }

    fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        let report = self.reports.get(report_id)?;
        Some(match report.fate {
            Fate::Cancelled | Fate::Failed => Vec::new(),
            Fate::Normal => amazon_flat_file(
                self.seed,
                &format!("{}/{}", report.start, report.end),
                &report.report_type,
                self.rows,
            ),
        })
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn Any> {
        Some(self)
    }
}

/// Amazon Pay's error body.
fn error(status: u16, reason: &str, message: &str) -> SimResponse {
    SimResponse::json(status, &json!({ "reasonCode": reason, "message": message }))
}

/// The decoded path, segment by segment.
fn decode_path(path: &str) -> String {
    path.split('/')
        .map(decode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::amazon_pay::SigningAlgorithm;
    use crate::sim::keys::TestSigner;
    use crate::sim::{Harness, Sandbox};
    use crate::{JobConfig, ReportJob};

    const START: Millis = Millis(1_709_251_200_000);

    #[test]
    fn the_sample_report_ends_done_with_every_call_signed() {
        let sandbox = Sandbox::new(SandboxConfig::default().with_rows(30));
        let config = sandbox.job_config(Provider::AmazonPay);
        let job = ReportJob::new(sample_spec(START), config, credentials(), START).unwrap();
        let mut harness = Harness::new(job, sandbox, START);
        let run = harness.drive().unwrap();
        let summary = run.summary().expect("Done");
        assert_eq!(summary.rows, 30);
        run.check_data_matches(harness.sandbox()).unwrap();
        let sim = harness.sandbox().simulator::<Simulator>().unwrap();
        assert_eq!(sim.reports_created(), 1);
        assert_eq!(sim.signatures_refused(), 0);
        assert!(sim.signatures_verified() >= 3);
        let download = harness
            .sandbox()
            .requests()
            .iter()
            .find(|r| r.path.contains(DOCUMENTS))
            .unwrap();
        assert!(!download.has_header("authorization"));
        assert!(download
            .header_names
            .iter()
            .all(|n| !n.starts_with("x-amz-pay-")));
    }

    #[test]
    fn a_signature_by_another_key_is_refused_with_amazons_error_body() {
        let sandbox = Sandbox::new(SandboxConfig::default().with_rows(3));
        let config = sandbox.job_config(Provider::AmazonPay);
        let job = ReportJob::new(sample_spec(START), config, credentials(), START).unwrap();
        let mut harness = Harness::new(job, sandbox, START).with_signer(TestSigner::other());
        let run = harness.drive().unwrap();
        let error = run.error().expect("refused");
        assert_eq!(error.kind(), crate::ErrorKind::Rejected);
        assert!(
            error.to_string().contains("InvalidRequestSignature"),
            "{error}"
        );
        let sim = harness.sandbox().simulator::<Simulator>().unwrap();
        assert_eq!((sim.signatures_verified(), sim.reports_created()), (0, 0));
    }

    /// A request signed by the merchant's key, as the machine builds it.
    fn signed_create(now: Millis, key: &str, body: &str) -> SimRequest {
        let path = "/amazon-pay/v2/reports";
        let mut headers = vec![
            ("accept".to_owned(), "application/json".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amz-pay-date".to_owned(), amz_date(now)),
            (
                "x-amz-pay-host".to_owned(),
                "sandbox.reportflow.test".to_owned(),
            ),
            ("x-amz-pay-idempotency-key".to_owned(), key.to_owned()),
            ("x-amz-pay-region".to_owned(), "na".to_owned()),
        ];
        let canonical = signing::canonical_request(
            "POST",
            path,
            [],
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body.as_bytes(),
        );
        let message = signing::string_to_sign(SigningAlgorithm::V2, &canonical);
        let signature = TestSigner::merchant().sign(&crate::SignRequest {
            id: crate::RequestId::new(1),
            key_id: PUBLIC_KEY_ID.into(),
            algorithm: SigningAlgorithm::V2.signature(),
            message,
            sign_before: now,
        });
        use base64::Engine as _;
        headers.push((
            "authorization".to_owned(),
            format!(
                "{}{}",
                signing::authorization_prefix(
                    SigningAlgorithm::V2,
                    PUBLIC_KEY_ID,
                    &canonical.signed_headers
                ),
                base64::engine::general_purpose::STANDARD.encode(signature)
            ),
        ));
        SimRequest {
            origin: None,
            method: crate::http::Method::Post,
            target: path.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    const BODY: &str = r#"{"reportType":"_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_","startTime":"20240201T000000Z","endTime":"20240301T000000Z"}"#;

    fn reason(response: &SimResponse) -> String {
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        body["reasonCode"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn changed_headers_stale_dates_and_reused_keys_are_refused() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let good = signed_create(START, "key1", BODY);
        let first = sandbox.handle(START, &good);
        assert_eq!(first.status, 201);
        let again = sandbox.handle(START, &good);
        assert_eq!(again.body, first.body, "same key, same report");

        let mut changed = good.clone();
        if let Some(region) = changed
            .headers
            .iter_mut()
            .find(|(n, _)| n == "x-amz-pay-region")
        {
            region.1 = "eu".into();
        }
        let refused = sandbox.handle(START, &changed);
        assert_eq!(
            (refused.status, reason(&refused)),
            (401, "InvalidRequestSignature".into())
        );
        assert!(String::from_utf8_lossy(&refused.body).contains("String-to-Sign"));

        let mut tampered = good.clone();
        tampered.body = BODY.replace("20240201", "20240202").into_bytes();
        assert_eq!(sandbox.handle(START, &tampered).status, 401);

        let late = sandbox.handle(START.saturating_add(MAX_SKEW_MS + 1_000), &good);
        assert_eq!(
            (late.status, reason(&late)),
            (400, "InvalidHeaderValue".into())
        );

        let reused = signed_create(START, "key1", &BODY.replace("ORDER_REFERENCE", "REFUND"));
        let reused = sandbox.handle(START, &reused);
        assert_eq!(
            (reused.status, reason(&reused)),
            (400, "DuplicateIdempotencyKey".into())
        );

        let mut missing = good;
        missing.headers.retain(|(n, _)| n != "x-amz-pay-host");
        assert_eq!(reason(&sandbox.handle(START, &missing)), "MissingHeader");
        let sim = sandbox.simulator::<Simulator>().unwrap();
        assert_eq!(sim.reports_created(), 1);
        let _ = JobConfig::default();
    }
}
