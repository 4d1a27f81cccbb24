//! Selling Partner API Reports 2021-06-30 simulator, under the
//! `/amazon-sp-api` prefix, following Amazon's model
//! (`shared/specs/amazon-sp-api/reports_2021-06-30.json`).
//!
//! | request | answer |
//! |---|---|
//! | `POST /auth/o2/token` (form) | LwA (`sim::lwa`, shared): an `Atza|…` token for [`credentials`] |
//! | `GET /reports/2021-06-30/reports?reportTypes&processingStatuses&marketplaceIds&createdSince&pageSize` | `GetReportsResponse`, newest first, filtered as the model says, `pageSize` (default 10) at a time; `nextToken` when more match |
//! | `GET /reports/2021-06-30/reports?nextToken` | the next page; `400 InvalidInput` with any other parameter (the model: "include this token as the only parameter") or a token it did not issue |
//! | `POST /reports/2021-06-30/reports` (`CreateReportSpecification`) | `202 {"reportId"}`; `400 InvalidInput` for a body the model refuses, `415` without `content-type: application/json` |
//! | `GET /reports/2021-06-30/reports/{reportId}` | a `Report`: `IN_QUEUE` for the first third of its generation, `IN_PROGRESS`, then `DONE` with a `reportDocumentId` (or `CANCELLED`, or `FATAL` with an error document's id); `404 NotFound` for an unknown id |
//! | `GET /reports/2021-06-30/documents/{id}` | `{reportDocumentId, url, compressionAlgorithm}`, the `url` presigned for 5 minutes on the download host |
//! | `GET /_documents/{id}?X-Amz-…` (download host) | the document; `400` with any `x-amz-access-token` or `authorization` header, `403 AccessDenied` "Request has expired" after 5 minutes, `403 SignatureDoesNotMatch` for a tampered link |
//!
//! Every API call needs a current `x-amz-access-token` (`403 Unauthorized`
//! otherwise, as SP-API answers a refused token) and draws from its
//! operation's usage plan, the model's rate and burst, kept per seller as a
//! [`TokenBucket`]: an empty bucket answers `429 QuotaExceeded`. Every
//! answer but a 429 carries `x-amzn-RateLimit-Limit` (the rate applied) and
//! `x-amzn-RequestId`. Errors are the model's `{"errors": [{code, message,
//! details}]}`.
//!
//! Generation takes the sandbox's `generation_ms` times 1 to 3 (from the
//! seed); the `wrong-estimate` fault makes a report take three hours of
//! virtual time, as real ones sometimes do. Documents are gzip and
//! labelled `GZIP`, except when `mislabelled-gzip` makes the label lie.
//! Flat files for the Japanese marketplace are Windows-31J, served as
//! `text/plain` without a charset (the client must know); others UTF-8.
//!
//! Where Amazon's docs are silent, the simulator chooses: every report type
//! yields a listings flat file; the error document of a FATAL report is a
//! short gzip text; `getReports` answers one page; and CANCELLED here always
//! means "no data" (the docs allow either reading).

use std::any::Any;
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::calendar::{amz_date, parse_amz_date};
use super::faults::{Fault, Opportunity};
use super::lwa::{App, Issuer};
use super::writers::{listings_flat_file, Language};
use super::{
    corrupt, decode_segment, encode_segment, fnv1a, gzip_compress, s3_error, truncate_body,
    ProviderSim, SandboxConfig, SimCx, SimRequest, SimResponse,
};
use crate::calendar::{parse_rfc3339, rfc3339};
use crate::http::Method;
use crate::integrity::Md5;
use crate::providers::amazon_sp_api::{Credentials, Region, ReportSpec, BUCKETS, JP_MARKETPLACE};
use crate::rate::TokenBucket;
use crate::retry::splitmix64;
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

/// The LwA client id the simulator accepts.
pub const CLIENT_ID: &str = "amzn1.application-oa2-client.5a1d0c0ffee04a6b8e1f0000005bab1";
/// The LwA client secret the simulator accepts. Contains `CANARY`.
pub const CLIENT_SECRET: &str = "sim-CANARY-spapi-client-secret-91c2";
/// The LwA refresh token the simulator accepts. Contains `CANARY`.
pub const REFRESH_TOKEN: &str = "Atzr|sim-CANARY-spapi-refresh-token-5e7d";
/// The report type of [`sample_spec`].
pub const SAMPLE_REPORT_TYPE: &str = "GET_MERCHANT_LISTINGS_ALL_DATA";
/// Lifetime of a report document URL, in seconds.
pub const LINK_LIFETIME_S: u64 = 300;
/// How long the `wrong-estimate` fault makes a report take.
pub const SLOW_REPORT_MS: u64 = 3 * 3600 * 1000;

const APP: App = App {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    refresh_token: REFRESH_TOKEN,
};
const API: &str = "/reports/2021-06-30";
const DOCUMENTS: &str = "/_documents/";
const STATUSES: [&str; 5] = ["CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"];

/// What each fault answers here, for help texts ([`Fault::answer`]).
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (Fault::Throttle, "next API call: HTTP 429 QuotaExceeded (no Retry-After, as SP-API)"),
    (Fault::ServerError, "next API call: HTTP 500 InternalFailure (odd firings) or 503 ServiceUnavailable (even)"),
    (Fault::ExpiredToken, "every access token revoked; next API call: HTTP 403 Unauthorized \"The access token you provided has expired\""),
    (Fault::LostAnswer, "next API call handled, connection dropped before the answer"),
    (Fault::Reject422, "next report creation: HTTP 400 InvalidInput"),
    (Fault::Reject406, "next report creation: HTTP 400 InvalidInput, dataStartTime too far in the past (SP-API has no 406)"),
    (Fault::WrongEstimate, "next report creation: the report stays IN_QUEUE/IN_PROGRESS for 3 hours of virtual time"),
    (Fault::MislabelledGzip, "next report creation: its document is labelled GZIP but plain (odd firings), or gzip without a label (even)"),
    (Fault::ReportFailure, "next status poll: processingStatus FATAL, with an error document"),
    (Fault::TaskCancelled, "next status poll: processingStatus CANCELLED (no data)"),
    (Fault::ExpiredLink, "next document download: HTTP 403 AccessDenied \"Request has expired\""),
    (Fault::Disconnect, "next document download breaks off half-way through the body"),
    (Fault::TruncatedGzip, "next document download: the gzip body cut short, delivered as complete"),
    (Fault::CorruptBody, "next document download: one byte of the gzip body flipped"),
];

/// The LwA credentials the simulator accepts.
pub fn provider_credentials() -> Credentials {
    Credentials::new(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
}

/// [`provider_credentials`] as job credentials.
pub fn credentials() -> JobCredentials {
    JobCredentials::AmazonSpApi(provider_credentials())
}

/// All listings of the Japanese marketplace over the week before `now`
/// (a Windows-31J flat file).
pub fn sample_report_spec(now: Millis) -> ReportSpec {
    let week = 7 * 24 * 3600 * 1000;
    let day = |at: u64| Millis(at / 86_400_000 * 86_400_000);
    ReportSpec::new(Region::Fe, SAMPLE_REPORT_TYPE, [JP_MARKETPLACE]).with_window(
        rfc3339(day(now.as_u64().saturating_sub(week))),
        rfc3339(day(now.as_u64())),
    )
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec(now: Millis) -> JobSpec {
    JobSpec::AmazonSpApi(sample_report_spec(now))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Fatal,
    Cancelled,
}

/// How a document's `compressionAlgorithm` relates to its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// Gzip, labelled `GZIP`.
    Honest,
    /// Plain, labelled `GZIP`.
    PlainSaysGzip,
    /// Gzip, unlabelled.
    GzipSaysNothing,
}

#[derive(Debug, Clone)]
struct Report {
    created_at: Millis,
    generation_ms: u64,
    report_type: String,
    marketplaces: Vec<String>,
    start: Option<String>,
    end: Option<String>,
    fate: Fate,
    label: Label,
    document_id: String,
    error_document_id: String,
}

impl Report {
    fn status(&self, now: Millis) -> &'static str {
        let elapsed = now.saturating_since(self.created_at);
        match self.fate {
            Fate::Fatal => "FATAL",
            Fate::Cancelled => "CANCELLED",
            Fate::Normal if elapsed >= self.generation_ms => "DONE",
            Fate::Normal if elapsed >= self.generation_ms / 3 => "IN_PROGRESS",
            Fate::Normal => "IN_QUEUE",
        }
    }

    fn japanese(&self) -> bool {
        self.marketplaces.iter().any(|id| id == JP_MARKETPLACE)
    }
}

/// The SP-API Reports simulator. Reach it through a
/// [`Sandbox`](super::Sandbox); [`Sandbox::simulator`](super::Sandbox::simulator)
/// gives read access to its counters.
#[derive(Debug, Clone)]
pub struct Simulator {
    download_origin: String,
    seed: u64,
    rows: u32,
    generation_ms: u64,
    lwa: Issuer,
    /// The seller's usage plans, one bucket per operation.
    buckets: Vec<TokenBucket>,
    reports: BTreeMap<String, Report>,
    /// Document id → (report id, is the error document).
    documents: BTreeMap<String, (String, bool)>,
    error_documents_served: u32,
    throttled: u32,
}

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            download_origin: config.download_base_for(Provider::AmazonSpApi),
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            lwa: Issuer::new(APP, config.seed),
            buckets: Vec::new(),
            reports: BTreeMap::new(),
            documents: BTreeMap::new(),
            error_documents_served: 0,
            throttled: 0,
        }
    }

    /// Reports created (createReport answered 202).
    pub fn reports_created(&self) -> usize {
        self.reports.len()
    }

    /// Error documents downloaded.
    pub fn error_documents_served(&self) -> u32 {
        self.error_documents_served
    }

    /// Calls refused because their operation's quota was spent (not
    /// counting the `throttle` fault).
    pub fn quota_refusals(&self) -> u32 {
        self.throttled
    }

    /// LwA tokens issued.
    pub fn tokens_issued(&self) -> u64 {
        self.lwa.issued()
    }

    fn random(&self, salt: u64) -> u64 {
        splitmix64(self.seed ^ splitmix64(salt))
    }

    /// Takes a token of `operation`'s usage plan; its rate for the header.
    fn quota(&mut self, now: Millis, operation: &str) -> Result<String, SimResponse> {
        if self.buckets.is_empty() {
            self.buckets = BUCKETS
                .iter()
                .map(|(name, burst, refill)| TokenBucket::new(name, *burst, *refill, now))
                .collect();
        }
        let name = format!("amazon-sp-api:{operation}");
        let Some(bucket) = self.buckets.iter_mut().find(|b| b.name() == name) else {
            return Ok(String::new());
        };
        let rate = format!("{:.4}", 1000.0 / bucket.refill_every_ms() as f64);
        match bucket.try_take(now) {
            Ok(()) => Ok(rate),
            Err(_) => {
                self.throttled = self.throttled.saturating_add(1);
                Err(quota_exceeded())
            }
        }
    }

    fn list(&self, now: Millis, request: &SimRequest) -> SimResponse {
        let Some(token) = request.query_param("nextToken") else {
            return self.list_page(now, request, 0);
        };
        let others = request
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|pair| !pair.is_empty() && !pair.starts_with("nextToken="));
        if others {
            return error(
                400,
                "InvalidInput",
                "nextToken must be the only parameter of getReports",
            );
        }
        match PageToken::decode(&token) {
            Some(page) => {
                let first =
                    SimRequest::new(Method::Get, format!("{}?{}", request.path(), page.query));
                self.list_page(now, &first, page.offset)
            }
            None => error(400, "InvalidInput", "nextToken is not valid"),
        }
    }

    /// One page of getReports: the reports `request`'s filters select,
    /// newest first, from `offset`.
    fn list_page(&self, now: Millis, request: &SimRequest, offset: usize) -> SimResponse {
        let list = |name: &str| -> Vec<String> {
            request
                .query_param(name)
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let types = list("reportTypes");
        let statuses = list("processingStatuses");
        let marketplaces = list("marketplaceIds");
        if statuses.iter().any(|s| !STATUSES.contains(&s.as_str())) {
            return error(400, "InvalidInput", "Invalid input in processing status");
        }
        if types.len() > 10 || marketplaces.len() > 10 {
            return error(
                400,
                "InvalidInput",
                "reportTypes and marketplaceIds take 1 to 10 values",
            );
        }
        let since = match request.query_param("createdSince") {
            Some(text) => match parse_rfc3339(&text) {
                Some(seconds) => Millis(seconds.unsigned_abs().saturating_mul(1000)),
                None => {
                    return error(
                        400,
                        "InvalidInput",
                        "createdSince is not an ISO 8601 date-time",
                    )
                }
            },
            None => Millis(now.as_u64().saturating_sub(90 * 86_400_000)),
        };
        let page = request.query_param("pageSize").map_or(Some(10), |v| {
            v.parse::<usize>().ok().filter(|n| (1..=100).contains(n))
        });
        let Some(page) = page else {
            return error(400, "InvalidInput", "pageSize must be 1 to 100");
        };
        let mut found: Vec<(&String, &Report)> = self
            .reports
            .iter()
            .filter(|(_, r)| r.created_at >= since)
            .filter(|(_, r)| types.is_empty() || types.contains(&r.report_type))
            .filter(|(_, r)| statuses.is_empty() || statuses.iter().any(|s| s == r.status(now)))
            .filter(|(_, r)| {
                marketplaces.is_empty() || r.marketplaces.iter().any(|m| marketplaces.contains(m))
            })
            .collect();
        found.sort_by_key(|(_, r)| std::cmp::Reverse(r.created_at));
        let more = found.len() > offset.saturating_add(page);
        let reports: Vec<Value> = found
            .into_iter()
            .skip(offset)
            .take(page)
            .map(|(id, report)| self.report_json(now, id, report))
            .collect();
        let body = if more {
            let next = PageToken {
                offset: offset + page,
                query: request.query().unwrap_or_default().to_owned(),
            };
            json!({ "reports": reports, "nextToken": next.encode() })
        } else {
            json!({ "reports": reports })
        };
        SimResponse::json(200, &body)
    }

    fn report_json(&self, now: Millis, id: &str, report: &Report) -> Value {
        let status = report.status(now);
        let mut body = json!({
            "reportId": id,
            "reportType": report.report_type,
            "marketplaceIds": report.marketplaces,
            "createdTime": rfc3339(report.created_at),
            "processingStatus": status,
        });
        if let Some(fields) = body.as_object_mut() {
            for (name, value) in [
                ("dataStartTime", &report.start),
                ("dataEndTime", &report.end),
            ] {
                if let Some(value) = value {
                    fields.insert(name.into(), json!(value));
                }
            }
            if status != "IN_QUEUE" {
                fields.insert(
                    "processingStartTime".into(),
                    json!(rfc3339(report.created_at)),
                );
            }
            match status {
                "DONE" => {
                    fields.insert("reportDocumentId".into(), json!(report.document_id));
                }
                "FATAL" => {
                    fields.insert("reportDocumentId".into(), json!(report.error_document_id));
                }
                _ => {}
            }
        }
        body
    }

    fn create(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> SimResponse {
        let json_body = request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !json_body {
            return error(
                415,
                "Unsupported Media Type",
                "content-type must be application/json",
            );
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return error(400, "InvalidInput", "The body is not JSON");
        };
        let Some(report_type) = body
            .get("reportType")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return error(400, "InvalidInput", "reportType is required");
        };
        let marketplaces: Option<Vec<String>> = body
            .get("marketplaceIds")
            .and_then(Value::as_array)
            .and_then(|ids| ids.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        let Some(marketplaces) = marketplaces.filter(|m| (1..=25).contains(&m.len())) else {
            return error(
                400,
                "InvalidInput",
                "marketplaceIds must list 1 to 25 marketplace ids",
            );
        };
        let time = |name: &str| -> Result<Option<String>, SimResponse> {
            match body.get(name) {
                None => Ok(None),
                Some(Value::String(text)) if parse_rfc3339(text).is_some() => {
                    Ok(Some(text.clone()))
                }
                Some(_) => Err(error(
                    400,
                    "InvalidInput",
                    &format!("{name} is not an ISO 8601 date-time"),
                )),
            }
        };
        let (start, end) = match (time("dataStartTime"), time("dataEndTime")) {
            (Ok(start), Ok(end)) => (start, end),
            (Err(refused), _) | (_, Err(refused)) => return refused,
        };
        let order_ok = match (&start, &end) {
            (Some(a), Some(b)) => parse_rfc3339(a) <= parse_rfc3339(b),
            _ => true,
        };
        let options_ok = body.get("reportOptions").map_or(true, |options| {
            options
                .as_object()
                .is_some_and(|o| o.values().all(Value::is_string))
        });
        let known = [
            "reportType",
            "marketplaceIds",
            "dataStartTime",
            "dataEndTime",
            "reportOptions",
        ];
        let fields_ok = body
            .as_object()
            .is_some_and(|o| o.keys().all(|k| known.contains(&k.as_str())));
        let type_ok = !report_type.is_empty()
            && report_type
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !(order_ok && options_ok && fields_ok && type_ok) {
            return error(400, "InvalidInput", "Invalid input");
        }
        let mut generation_ms = self
            .generation_ms
            .saturating_mul(1 + self.random(self.reports.len() as u64) % 3);
        let mut label = Label::Honest;
        match cx.fault(Opportunity::Create) {
            // SP-API has no 406: a window it cannot serve is a 400.
            Some(Fault::Reject406) => {
                return error(
                    400,
                    "InvalidInput",
                    "dataStartTime is too far in the past for this report type",
                )
            }
            Some(Fault::Reject422) => {
                return error(
                    400,
                    "InvalidInput",
                    "The requested data window is not available for this report type",
                )
            }
            Some(Fault::WrongEstimate) => generation_ms = SLOW_REPORT_MS,
            Some(Fault::MislabelledGzip) if cx.fired(Fault::MislabelledGzip) % 2 == 1 => {
                label = Label::PlainSaysGzip
            }
            Some(Fault::MislabelledGzip) => label = Label::GzipSaysNothing,
            _ => {}
        }
        let n = self.reports.len() as u64 + 1;
        let id = format!("{}", 50_000_000_000 + self.random(n) % 1_000_000_000);
        let document_id = format!("amzn1.spdoc.1.4.na.{:016x}.T{n}", self.random(n ^ 0xd0c));
        let error_document_id = format!("amzn1.spdoc.1.4.na.{:016x}.E{n}", self.random(n ^ 0xe77));
        self.documents
            .insert(document_id.clone(), (id.clone(), false));
        self.documents
            .insert(error_document_id.clone(), (id.clone(), true));
        self.reports.insert(
            id.clone(),
            Report {
                created_at: cx.now,
                generation_ms,
                report_type,
                marketplaces,
                start,
                end,
                fate: Fate::Normal,
                label,
                document_id,
                error_document_id,
            },
        );
        SimResponse::json(202, &json!({ "reportId": id }))
    }

    fn status(&mut self, cx: &mut SimCx<'_>, id: &str) -> SimResponse {
        if !self.reports.contains_key(id) {
            return error(404, "NotFound", "The report does not exist");
        }
        let fate = match cx.fault(Opportunity::StatusPoll) {
            Some(Fault::ReportFailure) => Some(Fate::Fatal),
            Some(Fault::TaskCancelled) => Some(Fate::Cancelled),
            _ => None,
        };
        let Some(report) = self.reports.get_mut(id) else {
            return error(404, "NotFound", "The report does not exist");
        };
        if let (Some(fate), "IN_QUEUE" | "IN_PROGRESS") = (fate, report.status(cx.now)) {
            report.fate = fate;
        }
        let Some(report) = self.reports.get(id) else {
            return error(404, "NotFound", "The report does not exist");
        };
        SimResponse::json(200, &self.report_json(cx.now, id, report))
    }

    fn document(&self, now: Millis, id: &str) -> SimResponse {
        let ready = self.documents.get(id).and_then(|(report, error_document)| {
            let status = self.reports.get(report)?.status(now);
            let ready = if *error_document {
                status == "FATAL"
            } else {
                status == "DONE"
            };
            ready.then(|| self.reports.get(report)).flatten()
        });
        let Some(report) = ready else {
            return error(404, "NotFound", "The report document does not exist");
        };
        let date = amz_date(now);
        let url = format!(
            "{}{DOCUMENTS}{}?X-Amz-Date={date}&X-Amz-Expires={LINK_LIFETIME_S}&X-Amz-Signature={}",
            self.download_origin,
            encode_segment(id),
            self.link_signature(id, &date)
        );
        let mut body = json!({ "reportDocumentId": id, "url": url });
        let error_document = self.documents.get(id).is_some_and(|(_, e)| *e);
        if error_document || report.label != Label::GzipSaysNothing {
            if let Some(fields) = body.as_object_mut() {
                fields.insert("compressionAlgorithm".into(), json!("GZIP"));
            }
        }
        SimResponse::json(200, &body)
    }

    fn link_signature(&self, id: &str, date: &str) -> String {
        Md5::digest(format!("{}\n{id}\n{date}", self.seed).as_bytes()).to_hex()
    }

    fn download(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, object: &str) -> SimResponse {
        let leaked = request.headers.iter().any(|(name, _)| {
            name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("x-amz-access-token")
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
        let Some((report_id, error_document)) = self.documents.get(&id).cloned() else {
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", "");
        };
        let expired = || s3_error(403, "AccessDenied", "Request has expired", "");
        if cx.now > issued.saturating_add(LINK_LIFETIME_S * 1000) {
            return expired();
        }
        let (content_type, plain, label) = if error_document {
            self.error_documents_served = self.error_documents_served.saturating_add(1);
            let text = format!(
                "Report {report_id} could not be generated: the seller is not registered in one of the marketplaces requested. Request the report for marketplaces the seller sells in."
            );
            ("text/plain", text.into_bytes(), Label::Honest)
        } else {
            let Some(report) = self.reports.get(&report_id) else {
                return s3_error(404, "NoSuchKey", "The specified key does not exist.", "");
            };
            let text = self.render(report);
            if report.japanese() {
                let encoded = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
                ("text/plain", encoded, report.label)
            } else {
                ("text/plain;charset=UTF-8", text.into_bytes(), report.label)
            }
        };
        let gzip = || gzip_compress(&plain, 6);
        let mut body = match label {
            Label::PlainSaysGzip => plain.clone(),
            Label::Honest | Label::GzipSaysNothing => gzip(),
        };
        let mut disconnect = None;
        match cx.fault(Opportunity::Download) {
            Some(Fault::ExpiredLink) => return expired(),
            Some(Fault::Disconnect) => disconnect = Some(body.len() / 2),
            // A damaged plain body could not be noticed by anyone: the
            // damage is always done to the gzip form.
            Some(Fault::TruncatedGzip) => {
                body = gzip();
                truncate_body(&mut body);
            }
            Some(Fault::CorruptBody) => {
                body = gzip();
                let salt = cx.corruption_salt();
                corrupt(&mut body, &plain, self.random(salt));
            }
            _ => {}
        }
        let mut response = SimResponse::bytes(200, content_type, body);
        response.disconnect_after = disconnect;
        response
    }

    /// The report's text (before its marketplace's encoding): a listings
    /// flat file whose rows depend on the seed, type, marketplaces and window.
    fn render(&self, report: &Report) -> String {
        let key = format!(
            "{}|{}|{}|{}",
            report.report_type,
            report.marketplaces.join(","),
            report.start.as_deref().unwrap_or_default(),
            report.end.as_deref().unwrap_or_default()
        );
        let language = if report.japanese() {
            Language::Japanese
        } else {
            Language::Latin
        };
        listings_flat_file(self.seed ^ fnv1a("sp-api"), &key, language, self.rows)
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::AmazonSpApi
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        if let Some(object) = path.strip_prefix(DOCUMENTS) {
            return self.download(cx, request, object);
        }
        if path == "/auth/o2/token" && request.method == Method::Post {
            return self.lwa.grant(cx.now, request);
        }
        let Some(rest) = path.strip_prefix(API) else {
            return error(404, "NotFound", "No such operation");
        };
        let operation = match (request.method, rest) {
            (Method::Get, "/reports") => "getReports",
            (Method::Post, "/reports") => "createReport",
            (Method::Get, _) if rest.starts_with("/reports/") => "getReport",
            (Method::Get, _) if rest.starts_with("/documents/") => "getReportDocument",
            _ => return error(404, "NotFound", "No such operation"),
        };
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) => return quota_exceeded(),
            Some(Fault::ServerError) if cx.fired(Fault::ServerError) % 2 == 0 => {
                return error(503, "ServiceUnavailable", "Service temporarily unavailable")
            }
            Some(Fault::ServerError) => {
                return error(
                    500,
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                )
            }
            Some(Fault::ExpiredToken) => self.lwa.revoke_all(),
            _ => {}
        }
        if let Err(why) = self.lwa.check(cx.now, request.header("x-amz-access-token")) {
            return error(
                403,
                "Unauthorized",
                &format!("Access to requested resource is denied. {why}"),
            );
        }
        let rate = match self.quota(cx.now, operation) {
            Ok(rate) => rate,
            Err(refused) => return refused,
        };
        let mut response = match operation {
            "getReports" => self.list(cx.now, request),
            "createReport" => self.create(cx, request),
            "getReport" => {
                let id = decode_segment(rest.trim_start_matches("/reports/"));
                self.status(cx, &id)
            }
            _ => {
                let id = decode_segment(rest.trim_start_matches("/documents/"));
                self.document(cx.now, &id)
            }
        };
        response = response.with_header("x-amzn-RateLimit-Limit", rate);
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
            Fate::Cancelled | Fate::Fatal => Vec::new(),
            Fate::Normal => self.render(report).into_bytes(),
        })
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The model's error body, with `x-amzn-RequestId`.
fn error(status: u16, code: &str, message: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({ "errors": [{ "code": code, "message": message, "details": "" }] }),
    )
    .with_header("x-amzn-RequestId", "sim-0f3c2a")
}

fn quota_exceeded() -> SimResponse {
    error(
        429,
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
    )
}

/// A getReports `nextToken`: the first page's query and where the next
/// page starts. Amazon's tokens are opaque and the docs say nothing of
/// their lifetime; the simulator's carry their own state (URL-safe
/// base64) and never expire. A report created
/// between two pages shifts the list by one, as an offset-paged listing
/// does; whether Amazon's does is not documented.
struct PageToken {
    offset: usize,
    query: String,
}

impl PageToken {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.offset, self.query))
    }

    fn decode(token: &str) -> Option<Self> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let (offset, query) = text.split_once(':')?;
        Some(Self {
            offset: offset.parse().ok()?,
            query: query.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Harness, Sandbox};
    use crate::ReportJob;

    const START: Millis = Millis(1_709_251_200_000);

    fn run(faults: &str) -> (crate::sim::Run, Sandbox) {
        let sandbox = Sandbox::new(
            SandboxConfig::default()
                .with_rows(25)
                .with_faults(faults.parse().unwrap()),
        );
        let config = sandbox.job_config(Provider::AmazonSpApi);
        let job = ReportJob::new(sample_spec(START), config, credentials(), START).unwrap();
        let mut harness = Harness::new(job, sandbox, START);
        let run = harness.drive().unwrap();
        (run, harness.sandbox().clone())
    }

    #[test]
    fn the_sample_report_ends_done_in_utf8_with_one_create() {
        let (run, sandbox) = run("");
        let summary = run.summary().expect("Done");
        assert_eq!(summary.rows, 25);
        assert!(summary.charset.is_some(), "decoded from Windows-31J");
        run.check_data_matches(&sandbox).unwrap();
        let sim = sandbox.simulator::<Simulator>().unwrap();
        assert_eq!((sim.reports_created(), sim.quota_refusals()), (1, 0));
        let download = sandbox
            .requests()
            .iter()
            .find(|r| r.path.contains(DOCUMENTS))
            .unwrap();
        assert!(!download.has_header("x-amz-access-token"));
        assert!(!download.has_header("authorization"));
    }

    #[test]
    fn a_fatal_report_ends_with_its_error_document_read_once() {
        let (run, sandbox) = run("report-failure");
        let error = run.error().expect("failed").to_string();
        assert!(
            error.contains("not registered in one of the marketplaces"),
            "{error}"
        );
        let sim = sandbox.simulator::<Simulator>().unwrap();
        assert_eq!(sim.error_documents_served(), 1);
    }

    #[test]
    fn labels_that_lie_either_way_change_nothing() {
        let (clean, _) = run("");
        for faults in [
            "mislabelled-gzip",
            "mislabelled-gzip:2,throttle,expired-link",
        ] {
            let (run, sandbox) = run(faults);
            // The bytes as transferred differ (plain or gzip); the
            // report delivered does not.
            assert_eq!(
                run.summary().map(|s| (s.bytes, s.rows)),
                clean.summary().map(|s| (s.bytes, s.rows)),
                "{faults}"
            );
            run.check_data_matches(&sandbox).unwrap();
        }
    }
}
