//! Yandex Market Partner API simulator (reports), under the
//! `/yandex-market` prefix.
//!
//! | request | answer |
//! |---|---|
//! | `POST {/v2,/v1,}/reports/<kind>/generate?format=…` (every kind of the spec, `/v1/businesses/{id}/…` for marketing detalization) | checks the credentials, the kind's quota, `Content-Type`, the query (`format`, `language`, `sourceType` where the spec has them) and the body against the kind's schema (`400` with the error envelope, also for a field the schema does not declare); then `{"status":"OK","result":{"reportId","estimatedGenerationTime"}}` |
//! | `GET {/v2,}/reports/info/{reportId}` | `PENDING` for the first quarter of the generation, `PROCESSING` with the remaining `estimatedGenerationTime`, then `DONE` with a `file` link living 60 minutes (a new one on every call); `DONE`/`NO_DATA`, `DONE`/`RESOURCE_NOT_FOUND` with the `file` (partial), `FAILED`/`TOO_LARGE` or `FAILED` when a fault says so; `404` for unknown ids |
//! | `GET /_files/{reportId}/{name}?expires=…&sig=…` | the file host: `400` with any `Api-Key` or `Authorization` header, `403` for a tampered or expired link, else the file |
//!
//! Credentials: `Api-Key: `[`API_KEY`] or `Authorization: Bearer `[`OAUTH_TOKEN`]
//! (`401` "Api-Key token prefix invalid" for `Bearer <api key>`,
//! "Credentials are not specified" without any). Every API answer carries
//! `X-RateLimit-Resource-Limit`, `-Remaining` and `-Until` (RFC 1123, whole
//! seconds) of its resource: each generate kind has its own quota, the
//! one the spec's `x-resource-limit-config` gives the lowest tariff
//! ([`ReportKind::default_limit`]: 1 per 10 minutes for `shows-sales`,
//! `competitors-position` and `goods-feedback`, 1 per 2 minutes for the
//! other reports, 100 to 1 000 per hour for the documents), the info call
//! [`INFO_LIMIT`] per [`INFO_PERIOD_MS`]; a request over the quota gets a
//! `420` (counted in [`Simulator::limit_hits`]). Errors use the envelope
//! `{"status":"ERROR","errors":[{"code","message"}]}`.
//!
//! Files: `FILE` is an XLSX stand-in (a real ZIP container with the
//! workbook's parts), `CSV` and `JSON` real ZIP archives with one member per
//! sheet (stored or deflated, with or without data descriptors, by seed),
//! the documents PDF stand-ins and the closing documents a ZIP of PDFs. The
//! ground truth ([`Sandbox::report_content`](super::Sandbox::report_content))
//! is the XLSX or PDF bytes, or the members' bytes concatenated in archive
//! order. Contents depend only on the seed, the kind, the body and the
//! format.
//!
//! Faults: `throttle` answers `420` until 2 s later (not counted against
//! the quota); `server-error` `500` (odd firings) or `503` (even), both
//! with the envelope; `malformed-envelope` a cut JSON answer on `200` (odd)
//! or an HTML `503` (even); `expired-token` `401`; `reject-406`/`reject-422`
//! a `400`; `wrong-estimate` makes the report take three times longer than
//! its estimates say; `no-data`, `too-large`, `partial-report` (`DONE`
//! with sub-status `RESOURCE_NOT_FOUND` and a file) and `report-failure`
//! decide the report's end; `expired-link` refuses the link with `403`;
//! `corrupt-body` flips a byte of the first member's data, `truncated-gzip`
//! cuts the archive short, `disconnect` breaks the transfer half-way;
//! `zip-bomb` and `zip-slip` serve a hostile archive instead. A PDF carries
//! no checksum, so `corrupt-body` and `truncated-gzip` leave it alone.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::faults::{Fault, Opportunity};
use super::{
    encode_segment, fnv1a, truncate_body, ProviderSim, SandboxConfig, SimCx, SimRequest,
    SimResponse,
};
use crate::calendar::{civil_from_days, day_of, rfc3339};
use crate::http::Method;
use crate::http_date::format_http_date;
use crate::integrity::ZipMethod;
use crate::providers::yandex_market::config::Output;
use crate::providers::yandex_market::{
    Credentials, RawRequest, ReportFormat, ReportKind, ReportRequest, ReportSpec,
};
use crate::retry::splitmix64;
use crate::sim::{zip_archive, ZipMember};
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

/// The Api-Key token the simulator accepts. Contains [`CANARY`].
pub const API_KEY: &str = "ACMA:sim-CANARY-api-key:5f0c2a";
/// The OAuth token the simulator accepts. Contains [`CANARY`].
pub const OAUTH_TOKEN: &str = "y0_sim-CANARY-oauth-token-7d2e";
/// Every secret the simulator accepts contains this marker.
pub const CANARY: &str = "CANARY";
/// The cabinet of the sample reports.
pub const BUSINESS_ID: i64 = 5_551_234;
/// The store of the sample reports.
pub const CAMPAIGN_ID: i64 = 21_870_042;
/// Info calls per period.
pub const INFO_LIMIT: u32 = 100;
/// The info quota's period, in ms.
pub const INFO_PERIOD_MS: u64 = 60_000;
/// Lifetime of a file link, in ms.
pub const LINK_LIFETIME_MS: u64 = 60 * 60 * 1000;
/// How long a `throttle` fault's `420` holds, in ms.
pub const THROTTLE_MS: u64 = 2_000;

/// What each fault answers here, for help texts ([`Fault::answer`]).
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (Fault::Throttle, "next API call: HTTP 420 LIMIT_EXCEEDED with X-RateLimit-Resource-* headers, until 2 s later"),
    (Fault::ServerError, "next API call: HTTP 500 INTERNAL_ERROR (odd firings) or 503 SERVICE_UNAVAILABLE (even), with the error envelope"),
    (Fault::MalformedEnvelope, "next API call: a cut JSON answer on HTTP 200 (odd firings) or an HTML 503 (even)"),
    (Fault::ExpiredToken, "next API call: HTTP 401 UNAUTHORIZED"),
    (Fault::Reject406, "next generate: HTTP 400 BAD_REQUEST (period too long)"),
    (Fault::Reject422, "next generate: HTTP 400 BAD_REQUEST (period too long)"),
    (Fault::WrongEstimate, "next report takes 3x longer than its estimatedGenerationTime says"),
    (Fault::NoData, "next report ends DONE with subStatus NO_DATA and no file"),
    (Fault::TooLarge, "next report ends FAILED with subStatus TOO_LARGE"),
    (Fault::ReportFailure, "next info call: status FAILED, for good"),
    (Fault::ExpiredLink, "next file download: HTTP 403 (link expired)"),
    (Fault::CorruptBody, "next archive: one byte of the first member flipped (its CRC-32 fails; a PDF is left alone)"),
    (Fault::TruncatedGzip, "next archive cut short, delivered as complete (a PDF is left alone)"),
    (Fault::Disconnect, "next file download breaks off half-way through the body"),
    (Fault::ZipBomb, "next archive holds a member that inflates a thousandfold"),
    (Fault::ZipSlip, "next archive holds a member named ../../evil.csv"),
    (Fault::PartialReport, "next report ends DONE with subStatus RESOURCE_NOT_FOUND and a file (a partial report)"),
];

/// The Api-Key credentials the simulator accepts.
pub fn provider_credentials() -> Credentials {
    Credentials::api_key(API_KEY)
}

/// [`provider_credentials`] as job credentials, ready for
/// [`ReportJob::new`](crate::ReportJob::new).
pub fn credentials() -> JobCredentials {
    JobCredentials::YandexMarket(provider_credentials())
}

/// `YYYY-MM-DD` of the day `days_back` days before `now` (UTC).
pub fn date(now: Millis, days_back: u32) -> String {
    let (y, m, d) = civil_from_days(day_of(now) - i64::from(days_back));
    format!("{y:04}-{m:02}-{d:02}")
}

/// A valid request of `kind` for the 30 days before `now` (or the month
/// before it), with [`BUSINESS_ID`] and [`CAMPAIGN_ID`].
pub fn sample_request(kind: ReportKind, now: Millis) -> ReportRequest {
    let (from, to) = (date(now, 30), date(now, 1));
    let (y, m, _) = civil_from_days(day_of(now) - 31);
    let month = json!({ "year": y, "month": m });
    let (b, c) = (BUSINESS_ID, CAMPAIGN_ID);
    let body = match kind {
        ReportKind::UnitedNetting => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "placementPrograms": ["FBS", "FBY"] })
        }
        ReportKind::UnitedMarketplaceServices => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "campaignIds": [c] })
        }
        ReportKind::UnitedOrders => json!({ "businessId": b, "dateFrom": from, "dateTo": to }),
        ReportKind::UnitedReturns => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "returnType": "RETURN", "returnStatusTypes": ["PICKED", "LOST"] })
        }
        ReportKind::GoodsRealization => json!({ "campaignId": c, "year": y, "month": m }),
        ReportKind::StocksOnWarehouses => {
            json!({ "businessId": b, "campaignIds": [c], "hasStocks": true, "categoryIds": [91_491] })
        }
        ReportKind::GoodsMovement => {
            json!({ "campaignId": c, "dateFrom": from, "dateTo": to, "shopSku": "SKU-000001" })
        }
        ReportKind::ShowsSales => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "grouping": "OFFERS" })
        }
        ReportKind::CompetitorsPosition => {
            json!({ "businessId": b, "categoryId": 91_491, "dateFrom": from, "dateTo": to })
        }
        ReportKind::GoodsPrices => json!({ "businessId": b, "categoryIds": [91_491, 90_401] }),
        ReportKind::GoodsTurnover => json!({ "campaignId": c, "date": to }),
        ReportKind::BoostConsolidated | ReportKind::BannersStatistics => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to })
        }
        ReportKind::ShipmentList => json!({ "campaignId": c, "orderIds": [100_001, 100_002] }),
        ReportKind::ShelfStatistics | ReportKind::ShowsBoost => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "attributionType": "CLICKS" })
        }
        ReportKind::Labels => {
            json!({ "businessId": b, "orderIds": [100_001, 100_002, 100_003], "sortingType": "SORT_BY_GIVEN_ORDER" })
        }
        ReportKind::GoodsFeedback => json!({ "businessId": b }),
        ReportKind::ClosureDocuments => {
            json!({ "campaignId": c, "monthOfYear": month, "contractTypes": ["INCOME", "OUTCOME"] })
        }
        ReportKind::JewelryFiscal => json!({ "campaignId": c, "dateFrom": from, "dateTo": to }),
        ReportKind::SalesGeography => {
            json!({ "businessId": b, "dateFrom": from, "dateTo": to, "offerIds": ["SKU-000001", "SKU-000002"] })
        }
        ReportKind::KeyIndicators => json!({ "businessId": b, "detalizationLevel": "WEEK" }),
        ReportKind::ClosureDocumentsDetalization => {
            json!({ "campaignId": c, "monthOfYear": month, "contractType": "INCOME" })
        }
        ReportKind::MarketingDetalization => json!({ "businessId": b, "monthOfYear": month }),
        ReportKind::Barcodes => {
            json!({ "campaignId": c, "barcodeFormat": "F_43_25", "barcodeOfferInfos": [{ "offerId": "SKU-000001", "barcodeCount": 2 }] })
        }
    };
    ReportSpec::request_from_json(kind.name(), body.clone())
        .unwrap_or_else(|_| ReportRequest::Raw(RawRequest::new(kind.spec_path(), body)))
}

/// An orders report of [`BUSINESS_ID`] for the 30 days before `now`, as CSV.
pub fn sample_report_spec(now: Millis) -> ReportSpec {
    ReportSpec::new(
        sample_request(ReportKind::UnitedOrders, now),
        ReportFormat::Csv,
    )
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec(now: Millis) -> JobSpec {
    JobSpec::YandexMarket(sample_report_spec(now))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Failed,
    NoData,
    TooLarge,
    /// `DONE`/`RESOURCE_NOT_FOUND` with a file: what was found.
    Partial,
}

/// What the file host serves for a report, and the ground truth.
struct Content {
    file: Vec<u8>,
    truth: Vec<u8>,
    name: &'static str,
    content_type: &'static str,
    /// A ZIP container (damage is detectable).
    zip: bool,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("file_len", &self.file.len())
            .field("name", &self.name)
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Report {
    created_at: Millis,
    /// How long it really takes.
    actual_ms: u64,
    /// How long its estimates say it takes.
    estimate_ms: u64,
    fate: Fate,
    content: Arc<Content>,
}

/// Response headers.
type Headers = Vec<(String, String)>;

/// One quota window of a resource.
#[derive(Debug, Clone, Copy)]
struct Window {
    until: Millis,
    used: u32,
}

/// The Yandex Market simulator. Reach it through a
/// [`Sandbox`](super::Sandbox); [`Sandbox::simulator`](super::Sandbox::simulator)
/// gives read access to its counters.
#[derive(Clone)]
pub struct Simulator {
    /// Where the download links point: the sandbox's download host.
    download_origin: String,
    seed: u64,
    rows: u32,
    generation_ms: u64,
    reports: BTreeMap<String, Report>,
    order: Vec<String>,
    windows: BTreeMap<String, Window>,
    limit_hits: u32,
    downloads: u32,
    info_calls: u32,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("yandex_market::Simulator")
            .field("download_origin", &self.download_origin)
            .field("seed", &self.seed)
            .field("reports", &self.order)
            .field("limit_hits", &self.limit_hits)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            download_origin: config.download_base_for(Provider::YandexMarket),
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            reports: BTreeMap::new(),
            order: Vec::new(),
            windows: BTreeMap::new(),
            limit_hits: 0,
            downloads: 0,
            info_calls: 0,
        }
    }

    /// Reports generated (generate calls answered `200`).
    pub fn reports_created(&self) -> usize {
        self.order.len()
    }

    /// Ids of the reports generated, oldest first.
    pub fn report_ids(&self) -> &[String] {
        &self.order
    }

    /// Requests refused with `420` because their quota was used up (not
    /// counting the `throttle` fault): a client that follows the
    /// `X-RateLimit-*` headers never causes one.
    pub fn limit_hits(&self) -> u32 {
        self.limit_hits
    }

    /// Files served (`200` from the file host).
    pub fn downloads(&self) -> u32 {
        self.downloads
    }

    /// Info calls answered.
    pub fn info_calls(&self) -> u32 {
        self.info_calls
    }

    fn random(&self, salt: u64) -> u64 {
        splitmix64(self.seed ^ splitmix64(salt))
    }

    /// Faults and credentials shared by every API call.
    fn gate(&mut self, cx: &mut SimCx<'_>, request: &SimRequest) -> Result<(), SimResponse> {
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) => {
                let until = ceil_second(cx.now.saturating_add(THROTTLE_MS));
                return Err(error(
                    420,
                    "LIMIT_EXCEEDED",
                    "Hit rate limit of '1' requests per 'MINUTE' for resource 'reports'",
                )
                .with_header("X-RateLimit-Resource-Limit", "1")
                .with_header("X-RateLimit-Resource-Remaining", "0")
                .with_header("X-RateLimit-Resource-Until", format_http_date(until)));
            }
            Some(Fault::ServerError) => {
                return Err(if cx.fired(Fault::ServerError) % 2 == 1 {
                    error(
                        500,
                        "INTERNAL_ERROR",
                        "Internal server error, try again later",
                    )
                } else {
                    error(
                        503,
                        "SERVICE_UNAVAILABLE",
                        "The service is overloaded, try again later",
                    )
                })
            }
            Some(Fault::MalformedEnvelope) => {
                return Err(if cx.fired(Fault::MalformedEnvelope) % 2 == 1 {
                    SimResponse::bytes(
                        200,
                        "application/json",
                        br#"{"status":"OK","result":{"reportId":"#.to_vec(),
                    )
                } else {
                    SimResponse::bytes(
                        503,
                        "text/html",
                        b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
                            .to_vec(),
                    )
                })
            }
            Some(Fault::ExpiredToken) => {
                return Err(error(
                    401,
                    "UNAUTHORIZED",
                    "OAuth token is expired or Api-Key token is revoked",
                ))
            }
            _ => {}
        }
        let api_key = request.header("api-key");
        let bearer = request.header("authorization").map(str::trim);
        match (api_key, bearer) {
            (Some(key), None) if key == API_KEY => Ok(()),
            (None, Some(auth)) if auth.strip_prefix("Bearer ") == Some(OAUTH_TOKEN) => Ok(()),
            (None, Some(auth)) if auth.strip_prefix("Bearer ") == Some(API_KEY) => {
                Err(error(401, "UNAUTHORIZED", "Api-Key token prefix invalid"))
            }
            (None, None) => Err(error(401, "UNAUTHORIZED", "Credentials are not specified")),
            (Some(_), Some(_)) => Err(error(
                401,
                "UNAUTHORIZED",
                "Specify either Api-Key or OAuth token, not both",
            )),
            (Some(_), None) => Err(error(401, "UNAUTHORIZED", "Api-Key token is invalid")),
            (None, Some(_)) => Err(error(403, "FORBIDDEN", "OAuth token is invalid")),
        }
    }

    /// Counts a request against `resource`; `Err` with a `420` when its
    /// quota is used up. Returns the headers to add either way.
    fn quota(
        &mut self,
        now: Millis,
        resource: &str,
        limit: u32,
        period_ms: u64,
    ) -> Result<Headers, Headers> {
        let window = self.windows.entry(resource.to_owned()).or_insert(Window {
            until: Millis::ZERO,
            used: 0,
        });
        if now >= window.until {
            *window = Window {
                until: ceil_second(now.saturating_add(period_ms)),
                used: 0,
            };
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        let headers = vec![
            ("X-RateLimit-Resource-Limit".to_owned(), limit.to_string()),
            (
                "X-RateLimit-Resource-Remaining".to_owned(),
                limit.saturating_sub(window.used).to_string(),
            ),
            (
                "X-RateLimit-Resource-Until".to_owned(),
                format_http_date(window.until),
            ),
        ];
        if allowed {
            Ok(headers)
        } else {
            self.limit_hits = self.limit_hits.saturating_add(1);
            Err(headers)
        }
    }

    fn generate(
        &mut self,
        cx: &mut SimCx<'_>,
        request: &SimRequest,
        kind: ReportKind,
        path_business: Option<i64>,
    ) -> SimResponse {
        if let Err(response) = self.gate(cx, request) {
            return response;
        }
        let limit = kind.default_limit();
        let headers = match self.quota(cx.now, kind.name(), limit.amount, limit.period_ms) {
            Ok(headers) => headers,
            Err(headers) => {
                let message = format!(
                    "Hit rate limit of '{}' requests per '{}' for resource '{}'",
                    limit.amount,
                    limit.period_ms / 1000,
                    kind.operation_id()
                );
                return with_headers(error(420, "LIMIT_EXCEEDED", &message), headers);
            }
        };
        let answer = self.generate_checked(cx, request, kind, path_business);
        with_headers(answer, headers)
    }

    fn generate_checked(
        &mut self,
        cx: &mut SimCx<'_>,
        request: &SimRequest,
        kind: ReportKind,
        path_business: Option<i64>,
    ) -> SimResponse {
        if !request
            .header("content-type")
            .is_some_and(|v| v.trim_start().starts_with("application/json"))
        {
            return error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json",
            );
        }
        let mut spec_query: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(request.query().unwrap_or_default().as_bytes())
        {
            spec_query.push((name.into_owned(), value.into_owned()));
        }
        let mut body = match serde_json::from_slice::<Value>(&request.body) {
            Ok(body @ Value::Object(_)) => body,
            _ => return error(400, "BAD_REQUEST", "The request body must be a JSON object"),
        };
        if let (Some(business), Value::Object(map)) = (path_business, &mut body) {
            map.insert("businessId".to_owned(), json!(business));
        }
        // The kind's typed body declares exactly the fields of the spec's
        // request schema (the spec conformance test checks it), so this
        // accepts every field the schema allows, set by the modelled body
        // or sent as an extra field, checks each against its rules, and
        // answers 400 for a field the schema does not declare. The spec sets
        // no `additionalProperties` and Yandex does not document what the
        // API does with an undeclared field; refusing it makes a misspelt
        // field fail in tests instead of being dropped in silence.
        let request_body = match ReportSpec::request_from_json(kind.name(), body.clone()) {
            Ok(parsed) => parsed,
            Err(e) => return error(400, "BAD_REQUEST", &e.to_string()),
        };
        let mut spec = ReportSpec::new(request_body, ReportFormat::File);
        for (name, value) in &spec_query {
            let parsed = match name.as_str() {
                "format" if kind == ReportKind::Labels => serde_json::from_value(json!(value))
                    .map(|v| spec.page_format = Some(v))
                    .map_err(|_| ()),
                // The spec's enum exactly: no aliases on the wire.
                "format" if matches!(value.as_str(), "FILE" | "CSV" | "JSON") => {
                    ReportFormat::parse(value)
                        .map(|f| spec.format = f)
                        .map_err(|_| ())
                }
                "language" => serde_json::from_value(json!(value))
                    .map(|v| spec.language = Some(v))
                    .map_err(|_| ()),
                "sourceType" => serde_json::from_value(json!(value))
                    .map(|v| spec.source_type = Some(v))
                    .map_err(|_| ()),
                _ => Err(()),
            };
            if parsed.is_err() {
                return error(
                    400,
                    "BAD_REQUEST",
                    &format!("Invalid query parameter {name}={value}"),
                );
            }
        }
        if let Err(e) = spec.validate() {
            return error(400, "BAD_REQUEST", &e.to_string());
        }
        let (mut fate, mut wrong) = (Fate::Normal, false);
        match cx.fault(Opportunity::Create) {
            Some(Fault::Reject406 | Fault::Reject422) => {
                return error(
                    400,
                    "BAD_REQUEST",
                    "The period is too long: at most 3 months are allowed for this report",
                )
            }
            Some(Fault::WrongEstimate) => wrong = true,
            Some(Fault::NoData) => fate = Fate::NoData,
            Some(Fault::TooLarge) => fate = Fate::TooLarge,
            Some(Fault::PartialReport) => fate = Fate::Partial,
            _ => {}
        }
        let n = self.order.len() as u64;
        let id = format!(
            "{:08x}{:016x}",
            self.random(0x7265_7000 ^ n) as u32,
            self.random(0x7265_7001 ^ n)
        );
        // The canonical body (serde_json sorts object keys) keys the content.
        let key = format!(
            "{}|{}|{}",
            kind.name(),
            spec.format.as_str(),
            spec.request.body_json()
        );
        let content = Arc::new(self.render(&spec, &key));
        let estimate_ms = self.generation_ms;
        let actual_ms = if wrong {
            self.generation_ms.saturating_mul(3).saturating_add(1_000)
        } else {
            self.generation_ms
        };
        self.reports.insert(
            id.clone(),
            Report {
                created_at: cx.now,
                actual_ms,
                estimate_ms,
                fate,
                content,
            },
        );
        self.order.push(id.clone());
        SimResponse::json(
            200,
            &json!({ "status": "OK", "result": { "reportId": id, "estimatedGenerationTime": estimate_ms } }),
        )
    }

    fn info(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, id: &str) -> SimResponse {
        if let Err(response) = self.gate(cx, request) {
            return response;
        }
        let headers = match self.quota(cx.now, "info", INFO_LIMIT, INFO_PERIOD_MS) {
            Ok(headers) => headers,
            Err(headers) => {
                let message = format!("Hit rate limit of '{INFO_LIMIT}' requests per '60' for resource 'getReportInfo'");
                return with_headers(error(420, "LIMIT_EXCEEDED", &message), headers);
            }
        };
        if let Some(source) = request.query_param("sourceType") {
            if !matches!(source.as_str(), "SELLER" | "ADVERTISER") {
                return with_headers(error(400, "BAD_REQUEST", "Invalid sourceType"), headers);
            }
        }
        let id = decode(id);
        let fault = cx.fault(Opportunity::StatusPoll);
        let Some(report) = self.reports.get_mut(&id) else {
            return with_headers(error(404, "NOT_FOUND", "Report not found"), headers);
        };
        if fault == Some(Fault::ReportFailure) {
            report.fate = Fate::Failed;
        }
        self.info_calls = self.info_calls.saturating_add(1);
        let report = report.clone();
        let elapsed = cx.now.saturating_since(report.created_at);
        let requested = rfc3339(report.created_at);
        let finished = rfc3339(report.created_at.saturating_add(report.actual_ms));
        let result = if elapsed < report.actual_ms {
            let status = if elapsed < report.actual_ms / 4 {
                "PENDING"
            } else {
                "PROCESSING"
            };
            let remaining = report.estimate_ms.saturating_sub(elapsed);
            json!({ "status": status, "generationRequestedAt": requested, "estimatedGenerationTime": remaining })
        } else {
            match report.fate {
                Fate::Normal | Fate::Partial => {
                    let expires = cx.now.saturating_add(LINK_LIFETIME_MS).as_u64();
                    let link = format!(
                        "{}/_files/{}/{}?expires={expires}&sig={}",
                        self.download_origin,
                        encode_segment(&id),
                        report.content.name,
                        self.signature(&id, expires)
                    );
                    let mut result = json!({ "status": "DONE", "generationRequestedAt": requested, "generationFinishedAt": finished, "file": link });
                    if let (Fate::Partial, Some(fields)) = (report.fate, result.as_object_mut()) {
                        fields.insert("subStatus".into(), json!("RESOURCE_NOT_FOUND"));
                    }
                    result
                }
                Fate::NoData => {
                    json!({ "status": "DONE", "subStatus": "NO_DATA", "generationRequestedAt": requested, "generationFinishedAt": finished })
                }
                Fate::TooLarge => {
                    json!({ "status": "FAILED", "subStatus": "TOO_LARGE", "generationRequestedAt": requested, "generationFinishedAt": finished })
                }
                Fate::Failed => {
                    json!({ "status": "FAILED", "generationRequestedAt": requested, "generationFinishedAt": finished })
                }
            }
        };
        with_headers(
            SimResponse::json(200, &json!({ "status": "OK", "result": result })),
            headers,
        )
    }

    fn signature(&self, id: &str, expires: u64) -> String {
        format!("{:016x}", self.random(fnv1a(id) ^ expires.rotate_left(17)))
    }

    fn file(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, rest: &str) -> SimResponse {
        if request.header("api-key").is_some() || request.header("authorization").is_some() {
            return SimResponse::bytes(
                400,
                "text/plain",
                b"API credentials are not accepted by the file host".to_vec(),
            );
        }
        let Some((id, _name)) = rest.split_once('/') else {
            return SimResponse::bytes(404, "text/plain", b"Not Found".to_vec());
        };
        let id = decode(id);
        let Some(report) = self.reports.get(&id) else {
            return SimResponse::bytes(404, "text/plain", b"Not Found".to_vec());
        };
        let expires = request
            .query_param("expires")
            .and_then(|e| e.parse::<u64>().ok())
            .unwrap_or(0);
        if request.query_param("sig").as_deref() != Some(self.signature(&id, expires).as_str()) {
            return SimResponse::bytes(403, "text/plain", b"SignatureDoesNotMatch".to_vec());
        }
        let expired = || {
            SimResponse::bytes(
                403,
                "text/plain",
                b"Link expired; request a new one with GET /v2/reports/info/{reportId}".to_vec(),
            )
        };
        if cx.now.as_u64() > expires {
            return expired();
        }
        let content = Arc::clone(&report.content);
        let mut body = content.file.clone();
        let mut disconnect_after = None;
        match cx.fault(Opportunity::Download) {
            Some(Fault::ExpiredLink) => return expired(),
            Some(Fault::CorruptBody) if content.zip => {
                // Inside the first member's data, which its CRC-32 covers.
                let name_len = usize::from(u16::from_le_bytes([
                    body.get(26).copied().unwrap_or(0),
                    body.get(27).copied().unwrap_or(0),
                ]));
                let extra = usize::from(u16::from_le_bytes([
                    body.get(28).copied().unwrap_or(0),
                    body.get(29).copied().unwrap_or(0),
                ]));
                let size = u32::from_le_bytes([
                    body.get(18).copied().unwrap_or(0),
                    body.get(19).copied().unwrap_or(0),
                    body.get(20).copied().unwrap_or(0),
                    body.get(21).copied().unwrap_or(0),
                ]);
                let span = u64::from(size.max(1));
                let at =
                    30 + name_len + extra + (self.random(cx.corruption_salt()) % span) as usize;
                if let Some(byte) = body.get_mut(at) {
                    *byte ^= 0xff;
                }
            }
            Some(Fault::TruncatedGzip) if content.zip => {
                truncate_body(&mut body);
            }
            Some(Fault::ZipBomb) if content.zip => body = bomb(),
            Some(Fault::ZipSlip) if content.zip => {
                body = zip_archive(&[ZipMember::new(
                    "../../evil.csv",
                    b"ID\n1\n",
                    ZipMethod::Deflated,
                )]);
            }
            Some(Fault::Disconnect) => disconnect_after = Some(body.len() / 2),
            _ => {}
        }
        self.downloads = self.downloads.saturating_add(1);
        let mut response = SimResponse::bytes(200, content.content_type, body).with_header(
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", content.name),
        );
        response.disconnect_after = disconnect_after;
        response
    }

    /// The file of a report: deterministic in `(seed, key)`.
    fn render(&self, spec: &ReportSpec, key: &str) -> Content {
        let mut rng = Rng(splitmix64(self.seed ^ fnv1a(key)));
        let kind = spec.request.kind();
        let stem = kind.map_or_else(
            || "report".to_owned(),
            |k| k.name().replace(['-', '/'], "_"),
        );
        let sheets: Vec<String> = match kind {
            Some(ReportKind::KeyIndicators) => {
                vec![format!("{stem}_summary"), format!("{stem}_revenue")]
            }
            Some(ReportKind::UnitedNetting | ReportKind::ClosureDocumentsDetalization) => {
                vec![format!("{stem}_transactions"), format!("{stem}_summary")]
            }
            _ => vec![stem],
        };
        let tables: Vec<(String, Vec<Vec<String>>)> = sheets
            .iter()
            .enumerate()
            .map(|(i, sheet)| {
                let rows = if i == 0 { self.rows } else { self.rows / 4 + 1 };
                (sheet.clone(), table(&mut rng, rows))
            })
            .collect();
        let shape = rng.next();
        match spec.output() {
            Output::Archive {
                record_format: crate::records::RecordFormat::Opaque,
                ..
            } => {
                // Closing documents: one PDF per contract type.
                let pdfs: Vec<(String, Vec<u8>)> = ["INCOME", "OUTCOME"]
                    .iter()
                    .map(|t| {
                        (
                            format!("{t}.pdf"),
                            pdf(&format!("closing documents {t}"), self.rows),
                        )
                    })
                    .collect();
                archive(pdfs, shape, "documents.zip")
            }
            Output::Archive { .. } => {
                let json = spec.format == ReportFormat::Json;
                let members: Vec<(String, Vec<u8>)> = tables
                    .iter()
                    .map(|(sheet, rows)| {
                        if json {
                            (format!("{sheet}.json"), to_json(rows))
                        } else {
                            (format!("{sheet}.csv"), to_csv(rows))
                        }
                    })
                    .collect();
                archive(members, shape, "report.zip")
            }
            Output::Xlsx => {
                let file = xlsx(&tables);
                Content {
                    truth: file.clone(),
                    file,
                    name: "report.xlsx",
                    content_type: XLSX,
                    zip: true,
                }
            }
            Output::Pdf | Output::Opaque => {
                let file = pdf(kind.map_or("report", ReportKind::name), self.rows);
                Content {
                    truth: file.clone(),
                    file,
                    name: "document.pdf",
                    content_type: "application/pdf",
                    zip: false,
                }
            }
        }
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::YandexMarket
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        if let Some(rest) = path.strip_prefix("/_files/") {
            return match request.method {
                Method::Get => self.file(cx, request, rest),
                _ => SimResponse::bytes(405, "text/plain", b"Method Not Allowed".to_vec()),
            };
        }
        // `/v2/…`, `/v1/…` and the legacy unprefixed paths.
        let (version, rest) = match path.get(..3) {
            Some("/v1" | "/v2") => (
                path.get(..3).unwrap_or_default(),
                path.get(3..).unwrap_or_default(),
            ),
            _ => ("", path),
        };
        match request.method {
            Method::Get => {
                if let Some(id) = rest
                    .strip_prefix("/reports/info/")
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                {
                    if version != "/v1" {
                        return self.info(cx, request, id);
                    }
                }
            }
            Method::Post => {
                if let Some((kind, business)) = route_generate(version, rest) {
                    return self.generate(cx, request, kind, business);
                }
            }
            _ => {}
        }
        error(
            404,
            "NOT_FOUND",
            &format!("Unknown method {} {path}", request.method.as_str()),
        )
    }

    fn fault_answers(&self) -> &'static [(Fault, &'static str)] {
        FAULT_ANSWERS
    }

    fn download_prefix(&self) -> &'static str {
        "/_files/"
    }

    fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        let report = self.reports.get(report_id)?;
        Some(match report.fate {
            Fate::Normal | Fate::Partial => report.content.truth.clone(),
            _ => Vec::new(),
        })
    }

    fn quota_violations(&self) -> u32 {
        self.limit_hits
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The kind a generate path names (and a `businessId` path parameter).
fn route_generate(version: &str, rest: &str) -> Option<(ReportKind, Option<i64>)> {
    ReportKind::ALL.iter().find_map(|kind| {
        let spec = kind.spec_path();
        let (spec_version, spec_rest) = (spec.get(..3)?, spec.get(3..)?);
        if !version.is_empty() && version != spec_version {
            return None;
        }
        match spec_rest.split_once("{businessId}") {
            None => (rest == spec_rest).then_some((*kind, None)),
            Some((before, after)) => {
                let id = rest.strip_prefix(before)?.strip_suffix(after)?;
                let id = id
                    .parse::<i64>()
                    .ok()
                    .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))?;
                Some((*kind, Some(id)))
            }
        }
    })
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The error envelope.
fn error(status: u16, code: &str, message: &str) -> SimResponse {
    SimResponse::json(
        status,
        &json!({ "status": "ERROR", "errors": [{ "code": code, "message": message }] }),
    )
}

fn with_headers(mut response: SimResponse, headers: Vec<(String, String)>) -> SimResponse {
    response.headers.extend(headers);
    response
}

/// Rounds up to a whole second (HTTP dates have no milliseconds).
fn ceil_second(at: Millis) -> Millis {
    Millis(at.as_u64().div_ceil(1000).saturating_mul(1000))
}

/// A ZIP of `members`, stored or deflated and with or without descriptors
/// by `shape`.
fn archive(members: Vec<(String, Vec<u8>)>, shape: u64, name: &'static str) -> Content {
    let zipped: Vec<ZipMember<'_>> = members
        .iter()
        .enumerate()
        .map(|(i, (member, data))| {
            let bits = shape.rotate_right(2 * i as u32);
            let method = if bits % 3 == 0 {
                ZipMethod::Stored
            } else {
                ZipMethod::Deflated
            };
            let entry = ZipMember::new(member, data, method);
            if (bits >> 1) % 2 == 0 {
                entry.with_descriptor()
            } else {
                entry
            }
        })
        .collect();
    let file = zip_archive(&zipped);
    let truth = members
        .iter()
        .flat_map(|(_, data)| data.iter().copied())
        .collect();
    let content_type = "application/zip";
    Content {
        file,
        truth,
        name,
        content_type,
        zip: true,
    }
}

/// A ZIP whose only member inflates about a thousandfold.
fn bomb() -> Vec<u8> {
    let zeros = vec![b'0'; 3 << 20];
    zip_archive(&[ZipMember::new("orders.csv", &zeros, ZipMethod::Deflated).with_descriptor()])
}

const COLUMNS: [&str; 7] = [
    "ORDER_ID",
    "ORDER_CREATION_DATE",
    "SHOP_SKU",
    "OFFER_NAME",
    "COUNT",
    "PRICE",
    "STATUS",
];
const OFFERS: [&str; 6] = [
    "Чайник электрический, 1.7 л",
    "Кабель \"USB-C\" 1 м",
    "Lamp",
    "Наушники",
    "Чехол; синий",
    "Подушка 50×70",
];
const STATUSES: [&str; 4] = [
    "DELIVERED",
    "CANCELLED_IN_DELIVERY",
    "RETURNED",
    "PROCESSING",
];

/// A table with a header row and `rows` rows.
fn table(rng: &mut Rng, rows: u32) -> Vec<Vec<String>> {
    let mut out = vec![COLUMNS.iter().map(|c| (*c).to_owned()).collect()];
    for _ in 0..rows {
        out.push(vec![
            (40_000_000_000 + rng.below(9_999_999_999)).to_string(),
            format!("2025-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            format!("SKU-{:06}", rng.below(1_000_000)),
            OFFERS
                .get(rng.below(OFFERS.len() as u64) as usize)
                .copied()
                .unwrap_or("Lamp")
                .to_owned(),
            (1 + rng.below(9)).to_string(),
            format!("{}.{:02}", 100 + rng.below(90_000), rng.below(100)),
            STATUSES
                .get(rng.below(STATUSES.len() as u64) as usize)
                .copied()
                .unwrap_or("DELIVERED")
                .to_owned(),
        ]);
    }
    out
}

fn to_csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| {
                if cell.contains([',', '"', '\n']) {
                    format!("\"{}\"", cell.replace('"', "\"\""))
                } else {
                    cell.clone()
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// `ORDER_CREATION_DATE` → `orderCreationDate`.
fn camel(column: &str) -> String {
    let mut out = String::new();
    for (i, word) in column.split('_').enumerate() {
        let lower = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

fn to_json(rows: &[Vec<String>]) -> Vec<u8> {
    let Some((header, body)) = rows.split_first() else {
        return b"[]".to_vec();
    };
    let keys: Vec<String> = header.iter().map(|h| camel(h)).collect();
    let items: Vec<Value> = body
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, Value> = keys
                .iter()
                .zip(row)
                .map(|(key, cell)| {
                    let value = match key.as_str() {
                        "orderId" | "count" => cell
                            .parse::<u64>()
                            .map_or_else(|_| json!(cell), |n| json!(n)),
                        _ => json!(cell),
                    };
                    (key.clone(), value)
                })
                .collect();
            Value::Object(object)
        })
        .collect();
    serde_json::to_vec(&items).unwrap_or_default()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stand-in XLSX: a real OOXML ZIP container with one worksheet per sheet
/// (inline strings, no styles).
fn xlsx(tables: &[(String, Vec<Vec<String>>)]) -> Vec<u8> {
    let mut types = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let mut workbook = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>"#,
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    let mut sheets = Vec::new();
    for (i, (name, rows)) in tables.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(
            r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
        ));
        workbook.push_str(&format!(
            r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#,
            xml_escape(name)
        ));
        rels.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in rows.iter().enumerate() {
            sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for cell in row {
                sheet.push_str(&format!(
                    r#"<c t="inlineStr"><is><t>{}</t></is></c>"#,
                    xml_escape(cell)
                ));
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        sheets.push((format!("xl/worksheets/sheet{n}.xml"), sheet.into_bytes()));
    }
    types.push_str("</Types>");
    workbook.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    let root_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let mut members = vec![
        ZipMember::new("[Content_Types].xml", types.as_bytes(), ZipMethod::Deflated),
        ZipMember::new("_rels/.rels", root_rels.as_bytes(), ZipMethod::Stored),
        ZipMember::new("xl/workbook.xml", workbook.as_bytes(), ZipMethod::Deflated),
        ZipMember::new(
            "xl/_rels/workbook.xml.rels",
            rels.as_bytes(),
            ZipMethod::Deflated,
        ),
    ];
    for (name, data) in &sheets {
        members.push(ZipMember::new(name, data, ZipMethod::Deflated).with_descriptor());
    }
    zip_archive(&members)
}

/// A stand-in PDF (a valid header and trailer around a text line).
fn pdf(title: &str, rows: u32) -> Vec<u8> {
    format!(
        "%PDF-1.4\n%\u{e2}\u{e3}\u{cf}\u{d3}\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% reportflow stand-in: {title}, {rows} rows\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// A tiny seeded generator (SplitMix64 stream).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{unzip, ZipLimits};
    use crate::sim::{FaultPlan, Sandbox};

    const NOW: Millis = Millis(1_709_294_645_000); // 2024-03-01T12:04:05Z

    fn sandbox(faults: &str) -> Sandbox {
        Sandbox::new(
            SandboxConfig::default()
                .with_rows(25)
                .with_faults(FaultPlan::parse(faults).unwrap()),
        )
    }

    fn api(method: Method, target: &str, body: &Value) -> SimRequest {
        let mut request = SimRequest::new(method, target);
        request.headers = vec![
            ("Api-Key".into(), API_KEY.into()),
            ("Content-Type".into(), "application/json".into()),
        ];
        request.body = body.to_string().into_bytes();
        request
    }

    fn orders() -> Value {
        sample_request(ReportKind::UnitedOrders, NOW).body_json()
    }

    /// Generates `kind`'s sample at `at`: the status and the quota headers.
    fn generate_at(sandbox: &mut Sandbox, kind: ReportKind, at: Millis) -> (u16, u32, Millis) {
        let target = format!("/yandex-market{}", kind.path(None, BUSINESS_ID));
        let body = sample_request(kind, NOW).body_json();
        let answer = sandbox.handle(at, &api(Method::Post, &target, &body));
        let limit = answer
            .header("x-ratelimit-resource-limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let until = answer
            .header("x-ratelimit-resource-until")
            .and_then(crate::http_date::parse_http_date)
            .unwrap_or(Millis::ZERO);
        (answer.status, limit, until)
    }

    #[test]
    fn each_generate_kind_has_the_quota_the_spec_gives_it() {
        let mut sandbox = sandbox("");
        // 1 per 10 minutes: a second generate within them gets a 420 that
        // says when the window ends; after it, a 200.
        let (first, limit, until) = generate_at(&mut sandbox, ReportKind::ShowsSales, NOW);
        assert_eq!((first, limit), (200, 1));
        assert_eq!(until, ceil_second(NOW.saturating_add(10 * 60_000)));
        let nine_minutes = NOW.saturating_add(9 * 60_000);
        let (second, _, second_until) =
            generate_at(&mut sandbox, ReportKind::ShowsSales, nine_minutes);
        assert_eq!((second, second_until), (420, until));
        assert_eq!(
            generate_at(&mut sandbox, ReportKind::ShowsSales, until).0,
            200
        );
        // Another kind has a window of its own: 1 per 2 minutes.
        let (orders, limit, until) = generate_at(&mut sandbox, ReportKind::UnitedOrders, NOW);
        assert_eq!((orders, limit), (200, 1));
        assert_eq!(until, ceil_second(NOW.saturating_add(2 * 60_000)));
        assert_eq!(
            generate_at(&mut sandbox, ReportKind::UnitedOrders, until).0,
            200
        );
        // Documents: hundreds per hour, back to back.
        for n in 0..200 {
            let (status, limit, _) = generate_at(&mut sandbox, ReportKind::ShipmentList, NOW);
            assert_eq!((status, limit), (200, 200), "shipment list #{n}");
        }
        assert_eq!(
            generate_at(&mut sandbox, ReportKind::ShipmentList, NOW).0,
            420
        );
        let labels = generate_at(&mut sandbox, ReportKind::Labels, NOW);
        assert_eq!((labels.0, labels.1), (200, 1_000));
        assert_eq!(sandbox.simulator::<Simulator>().unwrap().limit_hits(), 2);
        assert_eq!(sandbox.quota_violations(), 2, "the sandbox counts them");
    }

    #[test]
    fn full_lifecycle_by_hand() {
        let mut sandbox = sandbox("");
        let generated = sandbox.handle(
            NOW,
            &api(
                Method::Post,
                "/yandex-market/v2/reports/united-orders/generate?format=CSV",
                &orders(),
            ),
        );
        assert_eq!(
            generated.status,
            200,
            "{}",
            String::from_utf8_lossy(&generated.body)
        );
        assert_eq!(
            generated.header("x-ratelimit-resource-remaining"),
            Some("0")
        );
        let body: Value = serde_json::from_slice(&generated.body).unwrap();
        let id = body["result"]["reportId"].as_str().unwrap().to_owned();
        assert_eq!(body["result"]["estimatedGenerationTime"], 2_000);
        let info = |sandbox: &mut Sandbox, at: Millis| {
            let response = sandbox.handle(
                at,
                &api(
                    Method::Get,
                    &format!("/yandex-market/v2/reports/info/{id}"),
                    &Value::Null,
                ),
            );
            serde_json::from_slice::<Value>(&response.body).unwrap()["result"].clone()
        };
        assert_eq!(info(&mut sandbox, NOW)["status"], "PENDING");
        assert_eq!(
            info(&mut sandbox, NOW.saturating_add(1_000))["status"],
            "PROCESSING"
        );
        let done = info(&mut sandbox, NOW.saturating_add(2_000));
        assert_eq!(done["status"], "DONE");
        let link = done["file"]
            .as_str()
            .unwrap()
            .strip_prefix("http://downloads.sandbox.reportflow.test")
            .unwrap()
            .to_owned();
        // The API's credentials are refused by the file host.
        assert_eq!(
            sandbox
                .handle(NOW, &api(Method::Get, &link, &Value::Null))
                .status,
            400
        );
        let file = sandbox.handle(
            NOW.saturating_add(2_000),
            &SimRequest::new(Method::Get, &link),
        );
        assert_eq!(file.status, 200);
        let members = unzip(&file.body, ZipLimits::default()).unwrap();
        assert_eq!(members[0].0.name, "united_orders.csv");
        let truth: Vec<u8> = members.iter().flat_map(|(_, d)| d.clone()).collect();
        assert_eq!(sandbox.report_content(&id), Some(truth.clone()));
        assert_eq!(String::from_utf8(truth).unwrap().lines().count(), 26);
        // Links expire after an hour.
        let late = sandbox.handle(
            NOW.saturating_add(2_000 + LINK_LIFETIME_MS + 1),
            &SimRequest::new(Method::Get, &link),
        );
        assert_eq!(late.status, 403);
    }

    #[test]
    fn quotas_and_auth_follow_the_docs() {
        let mut sandbox = sandbox("");
        let target = "/yandex-market/v2/reports/united-orders/generate?format=CSV";
        assert_eq!(
            sandbox
                .handle(NOW, &api(Method::Post, target, &orders()))
                .status,
            200
        );
        let second = sandbox.handle(
            NOW.saturating_add(1_000),
            &api(Method::Post, target, &orders()),
        );
        assert_eq!(second.status, 420);
        assert_eq!(sandbox.simulator::<Simulator>().unwrap().limit_hits(), 1);
        let until =
            crate::http_date::parse_http_date(second.header("x-ratelimit-resource-until").unwrap())
                .unwrap();
        let period = ReportKind::UnitedOrders.default_limit().period_ms;
        assert_eq!(until, ceil_second(NOW.saturating_add(period)));
        assert_eq!(
            sandbox
                .handle(until, &api(Method::Post, target, &orders()))
                .status,
            200
        );
        let mut bearer = api(Method::Post, target, &orders());
        bearer.headers[0] = ("Authorization".into(), format!("Bearer {API_KEY}"));
        let refused = sandbox.handle(NOW, &bearer);
        assert_eq!(refused.status, 401);
        assert!(String::from_utf8_lossy(&refused.body).contains("prefix invalid"));
        let bad = sandbox.handle(
            NOW.saturating_add(10 * period),
            &api(
                Method::Post,
                "/yandex-market/v2/reports/united-orders/generate?format=XLS",
                &orders(),
            ),
        );
        assert_eq!(bad.status, 400);
        let missing = sandbox.handle(
            NOW,
            &api(
                Method::Post,
                "/yandex-market/v2/reports/goods-feedback/generate",
                &json!({}),
            ),
        );
        assert_eq!(missing.status, 400);
    }

    #[test]
    fn every_kind_routes_and_generates() {
        for kind in ReportKind::ALL {
            let mut sandbox = sandbox("");
            let spec = ReportSpec::new(sample_request(*kind, NOW), ReportFormat::File);
            let mut query = spec
                .generate_query()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            if !query.is_empty() {
                query.insert(0, '?');
            }
            let target = format!("/yandex-market{}{query}", spec.generate_path());
            let response =
                sandbox.handle(NOW, &api(Method::Post, &target, &spec.request.body_json()));
            assert_eq!(
                response.status,
                200,
                "{}: {}",
                kind.name(),
                String::from_utf8_lossy(&response.body)
            );
        }
    }

    #[test]
    fn content_depends_on_the_request_not_on_time_or_order() {
        let mut a = sandbox("");
        let mut b = sandbox("");
        let json = "/yandex-market/v2/reports/united-orders/generate?format=JSON";
        let first = b.handle(NOW, &api(Method::Post, json, &orders()));
        assert_eq!(first.status, 200);
        let target = "/yandex-market/reports/united-orders/generate?format=CSV";
        let ra = a.handle(NOW, &api(Method::Post, target, &orders()));
        let rb = b.handle(
            NOW.saturating_add(500_000),
            &api(Method::Post, target, &orders()),
        );
        let id = |r: &SimResponse| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["result"]["reportId"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_ne!(id(&ra), id(&rb));
        assert_eq!(a.report_content(&id(&ra)), b.report_content(&id(&rb)));
        let json_truth: Vec<Value> =
            serde_json::from_slice(&b.report_content(&id(&first)).unwrap()).unwrap();
        assert_eq!(json_truth.len(), 25);
    }
}
