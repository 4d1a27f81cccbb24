//! Amazon Ads Reporting v3 simulator, under the `/amazon-ads-v3` prefix,
//! following `OfflineReport_prod_3p.json` and the v3 guide pages
//! (`shared/specs/amazon-ads-reporting-v3/`).
//!
//! | request | answer |
//! |---|---|
//! | `POST /auth/o2/token` (form) | Login with Amazon, as the SD v2 simulator's (the same credentials) |
//! | `POST /reporting/reports` | checks the bearer token, `Amazon-Advertising-API-ClientId`, a numeric `Amazon-Advertising-API-Scope`, `Content-Type: application/vnd.createasyncreportrequest.v3+json` and the `CreateAsyncReportRequest` body: the schema's required fields, types and enums, then the report type's rules (groupBy, columns, filters, range and retention; `400` with `{"code","detail"}`). An identical request (profile, dates, configuration) while the first is `PENDING`/`PROCESSING` gets `425` `"The Request is a duplicate of : <reportId>"`. Else `200` with the `AsyncReport`, `PENDING` |
//! | `GET /reporting/reports/{reportId}` | `PENDING` for the first quarter of the generation time, `PROCESSING` until it is over, then `COMPLETED` with `url` (a presigned link on the download host), `urlExpiresAt` (one hour after this answer), `fileSize` and `generatedAt`; `FAILED` with the spec's `failureReason` under the `report-failure` fault; `404 {"code":404,"detail":"Not Found"}` for an unknown id (the spec's example) |
//! | `GET /_s3/{reportId}.json.gz?X-Amz-…` | S3, as the SD v2 simulator's: `400` with an `Authorization` header, `403` for a tampered or expired link, else `200 application/x-gzip` |
//!
//! Where the docs are silent, the simulator chooses, and says so here:
//! - The duplicate check covers reports still `PENDING` or `PROCESSING`
//!   (the spec: "duplicate of a processing request"); an identical request
//!   after the first completed or failed creates a new report.
//! - The 425's `detail` is the wording observed by Airbyte (not in Amazon's
//!   docs).
//! - Each status answer mints a fresh url valid one hour (the spec's default
//!   lifetime), since a report may finish hours after it was created.
//! - Generation time is the sandbox's `generation_ms` (3 hours under the
//!   `slow-report` fault); Amazon publishes "up to 3 hours" only.
//! - No rate quota is published; the simulator throttles only under the
//!   `throttle` fault (`429`, `Retry-After: 2`).
//! - `DELETE /reporting/reports/{reportId}` is not simulated (the machine
//!   never cancels).
//!
//! A report is a JSON array of `rows` objects with the requested columns in
//! the requested order. Its bytes depend only on the sandbox seed and the
//! request's profile, dates and configuration.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::amazon_ads::{
    check_presigned, decode, entity_id, expired_link, money, presigned_url, quoted,
    s3_refuses_auth, Lwa, Rng,
};
use super::faults::{Fault, Opportunity};
use super::{
    corrupt, encode_segment, fnv1a, truncate_body, ProviderSim, SandboxConfig, SimCx, SimRequest,
    SimResponse,
};
use crate::calendar::{civil_from_days, day_of, parse_date, rfc3339};
use crate::http::Method;
use crate::providers::amazon_ads::Region;
use crate::providers::amazon_ads_v3::{ReportFilter, ReportSpec, ReportType, TimeUnit};
use crate::retry::splitmix64;
use crate::secret::Secret;
use crate::sim::gzip_compress;
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

pub use super::amazon_ads::{provider_credentials, CANARY, CLIENT_ID, PROFILE_ID};

/// Lifetime of a report url, in seconds (`urlExpiresAt`'s default).
pub const LINK_LIFETIME_S: u64 = 3_600;
/// Generation time of a report under the `slow-report` fault.
pub const SLOW_GENERATION_MS: u64 = 3 * 3_600 * 1_000;
/// Columns of [`sample_spec`] (Sponsored Display campaigns, daily).
pub const SAMPLE_COLUMNS: [&str; 8] = [
    "date",
    "campaignId",
    "campaignName",
    "impressions",
    "clicks",
    "cost",
    "purchases",
    "sales",
];
/// The media type of the create's body.
const CREATE_TYPE: &str = "application/vnd.createasyncreportrequest.v3+json";

/// The faults this simulator implements and what each answers here.
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (
        Fault::Throttle,
        "next API call: HTTP 429 {\"code\":\"429\",\"detail\":\"Too Many Requests\"} with Retry-After: 2",
    ),
    (Fault::ServerError, "next API call: HTTP 500"),
    (
        Fault::ExpiredToken,
        "access tokens revoked; next API call: HTTP 401 (refresh with LwA)",
    ),
    (
        Fault::Reject422,
        "next report creation: HTTP 422 invalid parameters",
    ),
    (
        Fault::Duplicate425,
        "next report creation: the report exists already (PENDING) and the create gets HTTP 425 \"The Request is a duplicate of : <reportId>\"",
    ),
    (
        Fault::SlowReport,
        "next report created takes 3 hours to generate",
    ),
    (
        Fault::ReportFailure,
        "next status poll: status FAILED with failureReason, for good",
    ),
    (
        Fault::ExpiredLink,
        "next S3 download: HTTP 403 AccessDenied \"Request has expired\"",
    ),
    (
        Fault::LyingGzipLabel,
        "next S3 download: plain JSON under the .json.gz name and Content-Type application/x-gzip",
    ),
    (
        Fault::CorruptBody,
        "next S3 download: one byte of the gzip body flipped",
    ),
    (
        Fault::TruncatedGzip,
        "next S3 download: the gzip body cut short, delivered as complete",
    ),
    (
        Fault::Disconnect,
        "next S3 download breaks off half-way through the body",
    ),
];

/// `Retry-After` of the `throttle` fault, in seconds.
const THROTTLE_RETRY_AFTER_S: u64 = 2;

/// [`provider_credentials`] as job credentials for this provider.
pub fn credentials() -> JobCredentials {
    JobCredentials::AmazonAdsV3(provider_credentials())
}

/// The `YYYY-MM-DD` date `days_back` days before `now` (UTC).
pub fn date_before(now: Millis, days_back: u32) -> String {
    let (year, month, day) = civil_from_days(day_of(now) - i64::from(days_back));
    format!("{year:04}-{month:02}-{day:02}")
}

/// A daily Sponsored Display campaigns report of the 7 days before `now`,
/// with [`SAMPLE_COLUMNS`], for profile [`PROFILE_ID`].
pub fn sample_report_spec(now: Millis) -> ReportSpec {
    ReportSpec::new(
        Region::Na,
        PROFILE_ID,
        "sdCampaigns",
        vec!["campaign".to_owned()],
        SAMPLE_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
        TimeUnit::Daily,
        date_before(now, 7),
        date_before(now, 1),
    )
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec(now: Millis) -> JobSpec {
    JobSpec::AmazonAdsV3(sample_report_spec(now))
}

#[derive(Debug, Clone)]
struct Report {
    /// Profile, dates and configuration: identical requests share it.
    key: String,
    /// The `AsyncReport` fields fixed at creation.
    echo: Map<String, Value>,
    created_at: Millis,
    generation_ms: u64,
    failed: bool,
    content: Arc<Content>,
}

struct Content {
    json: Vec<u8>,
    gzip: Vec<u8>,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("json_len", &self.json.len())
            .field("gzip_len", &self.gzip.len())
            .finish()
    }
}

/// The Reporting v3 simulator. `Debug` leaves the issued tokens out.
#[derive(Clone)]
pub struct Simulator {
    download_origin: String,
    seed: u64,
    rows: u32,
    generation_ms: u64,
    lwa: Lwa,
    reports: BTreeMap<String, Report>,
    report_order: Vec<String>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("amazon_ads_v3::Simulator")
            .field("seed", &self.seed)
            .field("rows", &self.rows)
            .field("generation_ms", &self.generation_ms)
            .field("tokens_issued", &self.lwa.issued())
            .field("reports", &self.report_order)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            download_origin: config.download_base_for(Provider::AmazonAdsV3),
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            // Tokens of their own (another salt), so a v2 token is not a v3 one here.
            lwa: Lwa::new(config.seed ^ 0x7633),
            reports: BTreeMap::new(),
            report_order: Vec::new(),
        }
    }

    /// How many reports were created (a 425 creates none).
    pub fn reports_created(&self) -> usize {
        self.report_order.len()
    }

    /// Ids of the reports created, oldest first.
    pub fn report_ids(&self) -> &[String] {
        &self.report_order
    }

    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.lwa.issued()
    }

    /// The access token issued last and its expiry.
    pub fn latest_token(&self) -> Option<(Secret<String>, Millis)> {
        self.lwa.latest()
    }

    fn random(&self, salt: u64) -> u64 {
        splitmix64(self.seed ^ splitmix64(salt ^ 0x7633))
    }

    /// Fault and token checks shared by every API call.
    fn gate(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> Result<(), SimResponse> {
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) => {
                return Err(api_error(429, "Too Many Requests - Request was rate-limited. Retry later.")
                    .with_header("Retry-After", THROTTLE_RETRY_AFTER_S.to_string()))
            }
            Some(Fault::ServerError) => {
                return Err(api_error(
                    500,
                    "Internal Server Error - Something went wrong on the server. Retry later and report an error if unresolved.",
                ))
            }
            Some(Fault::ExpiredToken) => self.lwa.revoke_all(),
            _ => {}
        }
        self.lwa
            .authorize(cx.now, request)
            .map_err(|(status, _, detail)| api_error(status, detail))
    }

    fn create(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        if let Err(response) = self.gate(cx, request) {
            return response;
        }
        if request.header("content-type").map(str::trim) != Some(CREATE_TYPE) {
            return api_error(415, &format!("Content-Type must be {CREATE_TYPE}"));
        }
        let body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(body)) => body,
            _ => {
                return api_error(
                    400,
                    "Request body must be a CreateAsyncReportRequest object",
                )
            }
        };
        let spec = match read_request(&body, request.header("amazon-advertising-api-scope")) {
            Ok(spec) => spec,
            Err(detail) => return api_error(400, &detail),
        };
        if let Err(error) = spec.validate() {
            return api_error(400, &error.to_string());
        }
        if let Some(kind) = spec.report_type() {
            let oldest = day_of(cx.now) - i64::from(kind.retention_days);
            if parse_date(&spec.start_date).is_some_and(|start| start < oldest) {
                return api_error(
                    400,
                    &format!(
                        "startDate {} is outside the {}-day data retention of {}",
                        spec.start_date, kind.retention_days, kind.id
                    ),
                );
            }
        }
        let key = report_key(&spec);
        // "Too Early - Request is a duplicate of a processing request."
        if let Some(id) = self.processing_duplicate(cx.now, &key) {
            return duplicate(&id);
        }
        let mut generation_ms = self.generation_ms;
        match cx.fault(Opportunity::Create) {
            Some(Fault::Reject422) => {
                return api_error(
                    422,
                    "Unprocessable entity - Failed due to invalid parameters.",
                )
            }
            Some(Fault::SlowReport) => generation_ms = SLOW_GENERATION_MS,
            Some(Fault::Duplicate425) => {
                // The same request was accepted earlier (its answer lost):
                // the report exists, and this create is its duplicate.
                let id = self.accept(cx.now, key, &body, &spec, generation_ms);
                return duplicate(&id);
            }
            _ => {}
        }
        let id = self.accept(cx.now, key, &body, &spec, generation_ms);
        self.status_answer(cx.now, &id)
    }

    fn processing_duplicate(&self, now: Millis, key: &str) -> Option<String> {
        self.report_order.iter().rev().find_map(|id| {
            let report = self.reports.get(id)?;
            let done =
                report.failed || now >= report.created_at.saturating_add(report.generation_ms);
            (report.key == key && !done).then(|| id.clone())
        })
    }

    fn accept(
        &mut self,
        now: Millis,
        key: String,
        body: &Map<String, Value>,
        spec: &ReportSpec,
        generation_ms: u64,
    ) -> String {
        let json = render_report(self.seed, &key, spec, self.rows);
        let gzip = gzip_compress(&json, 6);
        let n = self.report_order.len() as u64 + 1;
        let (a, b) = (self.random(0x7265_7000 ^ n), self.random(0x7265_7001 ^ n));
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        );
        let mut echo = Map::new();
        for field in ["name", "startDate", "endDate", "configuration"] {
            if let Some(value) = body.get(field) {
                echo.insert(field.to_owned(), value.clone());
            }
        }
        self.reports.insert(
            id.clone(),
            Report {
                key,
                echo,
                created_at: now,
                generation_ms,
                failed: false,
                content: Arc::new(Content { json, gzip }),
            },
        );
        self.report_order.push(id.clone());
        id
    }

    fn status(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, id: &str) -> SimResponse {
        if let Err(response) = self.gate(cx, request) {
            return response;
        }
        let Some(report) = self.reports.get_mut(id) else {
            // The spec's example: `code` as a number.
            return SimResponse::json(404, &json!({ "code": 404, "detail": "Not Found" }));
        };
        if cx.fault(Opportunity::StatusPoll) == Some(Fault::ReportFailure) {
            report.failed = true;
        }
        self.status_answer(cx.now, id)
    }

    /// The `AsyncReport` of report `id` at `now`.
    fn status_answer(&self, now: Millis, id: &str) -> SimResponse {
        let Some(report) = self.reports.get(id) else {
            return SimResponse::json(404, &json!({ "code": 404, "detail": "Not Found" }));
        };
        let mut body = report.echo.clone();
        body.insert("reportId".into(), json!(id));
        body.insert("createdAt".into(), json!(rfc3339(report.created_at)));
        let ready_at = report.created_at.saturating_add(report.generation_ms);
        let (status, updated) = if report.failed {
            ("FAILED", now)
        } else if now >= ready_at {
            ("COMPLETED", ready_at)
        } else if now.as_u64() < report.created_at.as_u64() + report.generation_ms / 4 {
            ("PENDING", report.created_at)
        } else {
            ("PROCESSING", now)
        };
        body.insert("status".into(), json!(status));
        body.insert("updatedAt".into(), json!(rfc3339(updated)));
        let mut failure = Value::Null;
        let (mut url, mut expires, mut size, mut generated) =
            (Value::Null, Value::Null, Value::Null, Value::Null);
        match status {
            "FAILED" => {
                failure = json!("Report generation failed due to an internal error. Please retry");
            }
            "COMPLETED" => {
                let object = format!("{}.json.gz", encode_segment(id));
                url = json!(presigned_url(
                    &self.download_origin,
                    self.seed,
                    "_s3",
                    &object,
                    now,
                    LINK_LIFETIME_S,
                ));
                expires = json!(rfc3339(now.saturating_add(LINK_LIFETIME_S * 1000)));
                size = json!(report.content.gzip.len());
                generated = json!(rfc3339(ready_at));
            }
            _ => {}
        }
        body.insert("failureReason".into(), failure);
        body.insert("fileSize".into(), size);
        body.insert("generatedAt".into(), generated);
        body.insert("url".into(), url);
        body.insert("urlExpiresAt".into(), expires);
        SimResponse::bytes(
            200,
            "application/vnd.getasyncreportresponse.v3+json",
            Value::Object(body).to_string().into_bytes(),
        )
    }

    fn s3(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, object: &str) -> SimResponse {
        if let Some(refusal) = s3_refuses_auth(request) {
            return refusal;
        }
        let Some(report) = object
            .strip_suffix(".json.gz")
            .map(decode)
            .and_then(|id| self.reports.get(&id))
        else {
            return SimResponse::xml(404, "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
        };
        if let Err(refusal) = check_presigned(self.seed, cx.now, request, object) {
            return refusal;
        }
        let mut body = report.content.gzip.clone();
        let mut disconnect_after = None;
        match cx.fault(Opportunity::Download) {
            Some(Fault::ExpiredLink) => return expired_link(request, cx.now),
            Some(Fault::LyingGzipLabel) => body = report.content.json.clone(),
            Some(Fault::CorruptBody) => {
                let salt = cx.corruption_salt();
                corrupt(&mut body, &report.content.json, self.random(salt));
            }
            Some(Fault::TruncatedGzip) => truncate_body(&mut body),
            Some(Fault::Disconnect) => disconnect_after = Some(body.len() / 2),
            _ => {}
        }
        let mut response = SimResponse::bytes(200, "application/x-gzip", body).with_header(
            "x-amz-request-id",
            format!("{:016X}", self.random(0x7333 ^ cx.now.as_u64())),
        );
        response.disconnect_after = disconnect_after;
        response
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::AmazonAdsV3
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method, segments.as_slice()) {
            (Method::Post, ["auth", "o2", "token"]) => self.lwa.token(cx.now, request),
            (Method::Post, ["reporting", "reports"]) => self.create(cx, request),
            (Method::Get, ["reporting", "reports", id]) => self.status(cx, request, &decode(id)),
            (Method::Get, ["_s3", object]) => self.s3(cx, request, object),
            (method, _) => api_error(
                404,
                &format!("No Amazon Ads v3 route for {} {path}", method.as_str()),
            ),
        }
    }

    fn download_prefix(&self) -> &'static str {
        "/_s3/"
    }

    fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        self.reports
            .get(report_id)
            .map(|report| report.content.json.clone())
    }

    fn fault_answers(&self) -> &'static [(Fault, &'static str)] {
        FAULT_ANSWERS
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `AsyncReportingError`, `code` a string as the schema says.
fn api_error(status: u16, detail: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({ "code": status.to_string(), "detail": detail }),
    )
}

/// The 425 of a duplicate create, naming the report it duplicates.
fn duplicate(id: &str) -> SimResponse {
    api_error(425, &format!("The Request is a duplicate of : {id}"))
}

/// Reads a `CreateAsyncReportRequest` as the schema describes it (required
/// fields, types, enums); the report type's own rules are checked after.
fn read_request(body: &Map<String, Value>, scope: Option<&str>) -> Result<ReportSpec, String> {
    let text = |object: &Map<String, Value>, name: &str| -> Result<String, String> {
        match object.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(format!("{name} is required")),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let strings = |object: &Map<String, Value>, name: &str| -> Result<Vec<String>, String> {
        match object.get(name) {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{name} must hold strings"))
                })
                .collect(),
            Some(Value::Array(_)) | None | Some(Value::Null) => {
                Err(format!("{name} cannot be null or empty"))
            }
            Some(_) => Err(format!("{name} must be an array")),
        }
    };
    let configuration = match body.get("configuration") {
        Some(Value::Object(c)) => c,
        _ => return Err("configuration is required".to_owned()),
    };
    let type_id = text(configuration, "reportTypeId")?;
    let kind =
        ReportType::find(&type_id).ok_or_else(|| format!("Invalid reportTypeId `{type_id}`"))?;
    let product = text(configuration, "adProduct")?;
    if product != kind.ad_product.as_str() {
        return Err(format!(
            "adProduct {product} does not match reportTypeId {type_id}"
        ));
    }
    let format = text(configuration, "format")?;
    if format != "GZIP_JSON" {
        return Err(format!("Invalid format `{format}`; expected GZIP_JSON"));
    }
    let time_unit = TimeUnit::parse(&text(configuration, "timeUnit")?)
        .map_err(|e| e.to_string())
        .and_then(|unit| {
            // The enum is upper case on the wire.
            let raw = text(configuration, "timeUnit")?;
            (raw == unit.as_str())
                .then_some(unit)
                .ok_or(format!("Invalid timeUnit `{raw}`"))
        })?;
    let filters = match configuration.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let Value::Object(item) = item else {
                    return Err("filters must hold objects".to_owned());
                };
                Ok(ReportFilter::new(
                    text(item, "field")?,
                    strings(item, "values")?,
                ))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("filters must be an array".to_owned()),
    };
    let mut spec = ReportSpec::new(
        Region::Na,
        scope.unwrap_or_default(),
        type_id,
        strings(configuration, "groupBy")?,
        strings(configuration, "columns")?,
        time_unit,
        text(body, "startDate")?,
        text(body, "endDate")?,
    )
    .with_filters(filters);
    match body.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => spec = spec.with_name(name.clone()),
        Some(_) => return Err("name must be a string".to_owned()),
    }
    Ok(spec)
}

/// What makes two requests identical: profile, dates and configuration.
fn report_key(spec: &ReportSpec) -> String {
    let filters: Vec<String> = spec
        .filters
        .iter()
        .map(|f| format!("{}={}", f.field, f.values.join("+")))
        .collect();
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        spec.profile_id,
        spec.report_type_id,
        spec.time_unit.as_str(),
        spec.start_date,
        spec.end_date,
        spec.group_by.join(","),
        spec.columns.join(","),
        filters.join(";")
    )
}

/// Renders the report a request describes: deterministic in `(seed, key)`.
fn render_report(seed: u64, key: &str, spec: &ReportSpec, rows: u32) -> Vec<u8> {
    let mut rng = Rng(splitmix64(seed ^ fnv1a(key)));
    let first = parse_date(&spec.start_date).unwrap_or_default();
    let days = parse_date(&spec.end_date).unwrap_or(first) - first + 1;
    let mut out = String::from("[");
    for row in 0..rows {
        let impressions = rng.below(50_000);
        let clicks = impressions / (20 + rng.below(180));
        let cost_cents = clicks * (20 + rng.below(280));
        let purchases = clicks / (5 + rng.below(20));
        let sales_cents = purchases * (999 + rng.below(9_000));
        if row > 0 {
            out.push(',');
        }
        out.push('{');
        for (i, column) in spec.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let day = |offset: i64| {
                let (y, m, d) = civil_from_days(first + offset);
                quoted(&format!("{y:04}-{m:02}-{d:02}"))
            };
            let value = match column.as_str() {
                "date" => day(i64::from(row) % days.max(1)),
                "startDate" => quoted(&spec.start_date),
                "endDate" => quoted(&spec.end_date),
                "campaignId" | "portfolioId" => entity_id(&mut rng, 2, 18).to_string(),
                "adGroupId" => entity_id(&mut rng, 1, 17).to_string(),
                "adId" => entity_id(&mut rng, 3, 19).to_string(),
                "targetingId" | "keywordId" => entity_id(&mut rng, 4, 15).to_string(),
                "campaignName" => quoted(&format!(
                    "SD campaign {} - {}",
                    rng.below(400) + 1,
                    rng.pick(&["contextual", "audiences", "remarketing"])
                )),
                "adGroupName" => quoted(&format!("Ad group {}", rng.below(2_000) + 1)),
                "campaignStatus" => quoted(rng.pick(&["ENABLED", "ENABLED", "PAUSED", "ARCHIVED"])),
                "costType" => quoted(rng.pick(&["CPC", "VCPM"])),
                "campaignBudgetCurrencyCode" => quoted("USD"),
                c if c.contains("Asin") || c == "asin" => quoted(&rng.asin()),
                c if c.contains("Sku") || c == "sku" => {
                    quoted(&format!("SKU-{:06}", rng.below(1_000_000)))
                }
                "impressions" | "grossImpressions" => impressions.to_string(),
                "impressionsViews" => {
                    (impressions / 2 + rng.below(impressions / 2 + 1)).to_string()
                }
                "clicks" | "grossClickThroughs" => clicks.to_string(),
                "cost" => money(cost_cents),
                c if c.contains("Rate") || c.contains("ROAS") => {
                    format!("0.{:04}", rng.below(10_000))
                }
                c if c.starts_with("sales")
                    || c.ends_with("Sales")
                    || c.contains("SalesClicks") =>
                {
                    money(sales_cents / 2 + rng.below(sales_cents / 2 + 1))
                }
                c if c.contains("urchases")
                    || c.contains("UnitsSold")
                    || c.contains("unitsSold") =>
                {
                    (purchases / 2 + rng.below(purchases / 2 + 1)).to_string()
                }
                c if c.contains("Name") || c.contains("Expression") || c.contains("Text") => {
                    quoted(&format!("{c} {}", rng.below(1_000)))
                }
                _ => rng.below(clicks + 1).to_string(),
            };
            out.push('"');
            out.push_str(column);
            out.push_str("\":");
            out.push_str(&value);
        }
        out.push('}');
    }
    out.push(']');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{FaultPlan, Sandbox};

    const NOW: Millis = Millis(1_709_294_645_000); // 2024-03-01T12:04:05Z

    fn sandbox(faults: &str) -> Sandbox {
        Sandbox::new(
            SandboxConfig::default()
                .with_rows(5)
                .with_faults(FaultPlan::parse(faults).unwrap()),
        )
    }

    fn token(sandbox: &mut Sandbox) -> String {
        let mut request = SimRequest::new(Method::Post, "/amazon-ads-v3/auth/o2/token");
        request.body = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={CLIENT_ID}&client_secret={}",
            encode_segment(super::super::amazon_ads::REFRESH_TOKEN),
            super::super::amazon_ads::CLIENT_SECRET
        )
        .into_bytes();
        let response = sandbox.handle(NOW, &request);
        assert_eq!(response.status, 200);
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn call(method: Method, target: &str, token: &str, body: &Value) -> SimRequest {
        let mut request = SimRequest::new(method, target);
        request.headers = vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Amazon-Advertising-API-ClientId".into(), CLIENT_ID.into()),
            ("Amazon-Advertising-API-Scope".into(), PROFILE_ID.into()),
            ("Content-Type".into(), CREATE_TYPE.into()),
        ];
        if !body.is_null() {
            request.body = body.to_string().into_bytes();
        }
        request
    }

    fn create_body() -> Value {
        json!({
            "startDate": "2024-02-20", "endDate": "2024-02-29",
            "configuration": {
                "adProduct": "SPONSORED_DISPLAY", "groupBy": ["campaign"],
                "columns": ["date", "campaignId", "impressions"], "reportTypeId": "sdCampaigns",
                "timeUnit": "DAILY", "format": "GZIP_JSON"
            }
        })
    }

    fn json_of(response: &SimResponse) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn a_report_goes_pending_processing_completed_and_identical_requests_get_425() {
        let mut sandbox = sandbox("");
        let token = token(&mut sandbox);
        let create = call(
            Method::Post,
            "/amazon-ads-v3/reporting/reports",
            &token,
            &create_body(),
        );
        let created = sandbox.handle(NOW, &create);
        assert_eq!(created.status, 200);
        let id = json_of(&created)["reportId"].as_str().unwrap().to_owned();
        assert_eq!(json_of(&created)["status"], "PENDING");
        // An identical request while the first is processing.
        let duplicate = sandbox.handle(NOW.saturating_add(100), &create);
        assert_eq!(duplicate.status, 425);
        assert_eq!(
            json_of(&duplicate)["detail"],
            format!("The Request is a duplicate of : {id}")
        );
        let status = |at: u64, sandbox: &mut Sandbox| {
            let get = call(
                Method::Get,
                &format!("/amazon-ads-v3/reporting/reports/{id}"),
                &token,
                &Value::Null,
            );
            json_of(&sandbox.handle(NOW.saturating_add(at), &get))
        };
        assert_eq!(status(100, &mut sandbox)["status"], "PENDING");
        assert_eq!(status(1_000, &mut sandbox)["status"], "PROCESSING");
        let done = status(2_000, &mut sandbox);
        assert_eq!(done["status"], "COMPLETED");
        assert_eq!(done["configuration"]["reportTypeId"], "sdCampaigns");
        let url = done["url"].as_str().unwrap();
        assert!(url.starts_with("http://downloads.sandbox.reportflow.test/amazon-ads-v3/_s3/"));
        // Finished: the same request now makes a new report.
        assert_eq!(
            sandbox.handle(NOW.saturating_add(3_000), &create).status,
            200
        );
        let sim = sandbox.simulator::<Simulator>().unwrap();
        assert_eq!(sim.reports_created(), 2);
    }

    #[test]
    fn requests_are_checked_as_the_spec_and_the_report_type_say() {
        let mut sandbox = sandbox("");
        let token = token(&mut sandbox);
        let refused = |sandbox: &mut Sandbox, body: &Value, content_type: &str| {
            let mut request = call(
                Method::Post,
                "/amazon-ads-v3/reporting/reports",
                &token,
                body,
            );
            request.headers[3].1 = content_type.to_owned();
            let response = sandbox.handle(NOW, &request);
            (
                response.status,
                json_of(&response)["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        assert_eq!(
            refused(&mut sandbox, &create_body(), "application/json").0,
            415
        );
        for (pointer, value, needle) in [
            ("/configuration/format", json!("CSV"), "GZIP_JSON"),
            (
                "/configuration/adProduct",
                json!("SPONSORED_PRODUCTS"),
                "adProduct",
            ),
            ("/configuration/timeUnit", json!("daily"), "timeUnit"),
            ("/configuration/groupBy", json!([]), "groupBy"),
            ("/configuration/columns", json!(["nope"]), "nope"),
            ("/endDate", json!("2024-04-01"), "31 days"),
            ("/startDate", json!("2023-12-01"), "retention"),
        ] {
            let mut body = create_body();
            *body.pointer_mut(pointer).unwrap() = value;
            if needle == "retention" {
                body["endDate"] = json!("2023-12-05");
            }
            let (status, detail) = refused(&mut sandbox, &body, CREATE_TYPE);
            assert_eq!(status, 400, "{pointer}");
            assert!(detail.contains(needle), "{pointer}: {detail}");
        }
        let mut body = create_body();
        body.as_object_mut().unwrap().remove("startDate");
        assert_eq!(refused(&mut sandbox, &body, CREATE_TYPE).0, 400);
        let unknown = call(
            Method::Get,
            "/amazon-ads-v3/reporting/reports/nope",
            &token,
            &Value::Null,
        );
        let response = sandbox.handle(NOW, &unknown);
        assert_eq!(
            (response.status, json_of(&response)),
            (404, json!({"code": 404, "detail": "Not Found"}))
        );
        assert_eq!(
            sandbox.simulator::<Simulator>().unwrap().reports_created(),
            0
        );
    }
}
