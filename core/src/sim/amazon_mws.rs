//! Amazon MWS Reports simulator, under the `/amazon-mws` prefix.
//!
//! | request (`POST /Reports/2009-01-01` or `/`, parameters in a form body or the query) | answer |
//! |---|---|
//! | any | SigV2 checked first: `403 InvalidAccessKeyId` for an unknown key, `403 SignatureDoesNotMatch` for a wrong signature (a wrong secret, any changed byte), `400 InvalidParameterValue` for a `Timestamp` more than 15 minutes off, `401 AccessDenied` for another `SellerId`; then the operation's quota for the seller |
//! | `Action=RequestReport` | `RequestReportResponse` with a `ReportRequestInfo`, `_SUBMITTED_`; `400 InvalidParameterValue` for a bad `ReportType`, date or marketplace |
//! | `Action=GetReportRequestList` | the seller's requests (those of `ReportRequestIdList.Id.N`; `400 InvalidReportRequestId` for an unknown one): `_SUBMITTED_` for the first half of `generation_ms`, `_IN_PROGRESS_` until it ends, then `_DONE_` with `GeneratedReportId` (or without, `no-generated-id`), `_DONE_NO_DATA_` (`no-data`) or `_CANCELLED_` (`report-failure`) |
//! | `Action=GetReportList` | `ReportInfo`s of the seller's generated reports (those of `ReportRequestIdList.Id.N`) |
//! | `Action=GetReport` | the flat file in the marketplace's charset with its `Content-MD5`: Windows-31J in Japan (`text/plain`, no charset: the client must know), UTF-8 in China, `Cp1252` elsewhere (declared as Amazon does, `text/plain;charset=Cp1252`); `400 InvalidReportId` for an unknown id |
//!
//! MWS has no presigned report links: GetReport is a signed call on the API
//! host itself, so this simulator serves nothing on the download host.
//!
//! Quotas are the official table's (NOTES.md §1.1), kept per seller and
//! operation: past the burst quota (refilled at the restore rate) `503
//! RequestThrottled`, past the hourly quota `503 QuotaExceeded`. Every
//! answer of an operation carries `x-mws-quota-max`, `x-mws-quota-remaining`
//! and `x-mws-quota-resetsOn` (ISO 8601, as recorded in 2020).
//!
//! A report body depends only on the sandbox seed and the request's
//! parameters, so a run with faults ends with exactly the bytes of a run
//! without them. Its rows name products in the marketplace's language
//! (Japanese with NEC extensions such as ①, accented Latin with `€ – “ ”`),
//! so a wrong charset shows.

use std::any::Any;
use std::collections::BTreeMap;

use super::faults::{Fault, Opportunity};
use super::writers::{listings_flat_file, Language};
use super::{fnv1a, ProviderSim, SandboxConfig, SimCx, SimRequest, SimResponse};
use crate::calendar::{parse_rfc3339, rfc3339, DAY_MS};
use crate::integrity::Md5;
use crate::providers::amazon_mws::{
    sign, Credentials, Region, ReportSpec, MARKETPLACES, OPERATIONS,
};
use crate::retry::splitmix64;
use crate::time::Millis;
use crate::Provider;
use crate::{Credentials as JobCredentials, JobSpec};

/// The simulator's developer access key.
pub const ACCESS_KEY_ID: &str = "AKIASIMULATOR0EXAMPLE";
/// The secret key that signs; contains `CANARY` for leak checks.
pub const SECRET_KEY: &str = "sim-CANARY-mws-secret-9f2b4c";
/// The seller the keys act for.
pub const SELLER_ID: &str = "A1SIMSELLER0MWS";
/// The report type of the sample spec.
pub const SAMPLE_REPORT_TYPE: &str = "_GET_MERCHANT_LISTINGS_DATA_";
/// How far a `Timestamp` may be off the simulator's clock.
pub const TIMESTAMP_WINDOW_MS: u64 = 15 * 60 * 1000;
const HOUR_MS: u64 = 60 * 60 * 1000;

/// What each fault answers here, for help texts ([`Fault::answer`]).
pub const FAULT_ANSWERS: &[(Fault, &str)] = &[
    (
        Fault::Throttle,
        "next API call: HTTP 503 ErrorResponse RequestThrottled",
    ),
    (
        Fault::ServerError,
        "next API call: HTTP 500 InternalError (odd firings) or 503 ServiceUnavailable (even)",
    ),
    (
        Fault::MalformedEnvelope,
        "next API call: a cut XML answer on 200 (GetReport: an HTML 502 page)",
    ),
    (
        Fault::Reject406,
        "next RequestReport: HTTP 400 InvalidParameterValue (StartDate too far in the past)",
    ),
    (
        Fault::Reject422,
        "next RequestReport: HTTP 400 InvalidParameterValue (invalid ReportOptions)",
    ),
    (
        Fault::NoData,
        "next report request ends _DONE_NO_DATA_ (no GeneratedReportId)",
    ),
    (
        Fault::NoGeneratedId,
        "next report request ends _DONE_ without GeneratedReportId",
    ),
    (
        Fault::ReportFailure,
        "next GetReportRequestList: the request is _CANCELLED_, for good",
    ),
    (
        Fault::CorruptBody,
        "next GetReport: one byte of the body flipped, Content-MD5 of the original",
    ),
    (
        Fault::MissingMd5,
        "next GetReport: the body without its Content-MD5 header",
    ),
    (
        Fault::Disconnect,
        "next GetReport breaks off half-way through the body",
    ),
];

/// The seller's keys as the simulator knows them.
pub fn provider_credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_KEY, SELLER_ID)
}

/// [`provider_credentials`] as job credentials.
pub fn credentials() -> JobCredentials {
    JobCredentials::AmazonMws(provider_credentials())
}

/// A listings report of the US marketplace for the seven whole days (UTC)
/// before the day of `now`: the same all day long, so two runs on one day
/// ask for (and get) the same report.
pub fn sample_report_spec(now: Millis) -> ReportSpec {
    let today = Millis((now.as_u64() / DAY_MS).saturating_mul(DAY_MS));
    ReportSpec::new(Region::Na, SAMPLE_REPORT_TYPE)
        .with_marketplaces(["ATVPDKIKX0DER"])
        .with_period(
            rfc3339(Millis(today.as_u64().saturating_sub(7 * DAY_MS))),
            rfc3339(Millis(today.as_u64().saturating_sub(1000))),
        )
}

/// [`sample_report_spec`] as a job spec.
pub fn sample_spec(now: Millis) -> JobSpec {
    JobSpec::AmazonMws(sample_report_spec(now))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Done,
    NoGeneratedId,
    NoData,
    Cancelled,
}

#[derive(Debug, Clone)]
struct ReportRequest {
    seller: String,
    report_type: String,
    region: Region,
    start: String,
    end: String,
    submitted: Millis,
    fate: Fate,
    report_id: String,
}

#[derive(Debug, Clone)]
struct Report {
    request_id: String,
    region: Region,
    text: String,
    available: Millis,
}

/// One operation's quota for one seller: the burst bucket and the hour.
#[derive(Debug, Clone)]
struct Quota {
    milli_tokens: u64,
    updated: Millis,
    hour_start: Millis,
    hour_count: u32,
}

/// The MWS simulator. Reach it through a [`Sandbox`](super::Sandbox).
#[derive(Debug, Clone)]
pub struct Simulator {
    seed: u64,
    rows: u32,
    generation_ms: u64,
    requests: BTreeMap<String, ReportRequest>,
    request_order: Vec<String>,
    reports: BTreeMap<String, Report>,
    quotas: BTreeMap<(String, &'static str), Quota>,
    signature_failures: u32,
    throttled: u32,
    get_report_calls: u32,
}

impl Simulator {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            seed: config.seed,
            rows: config.rows,
            generation_ms: config.generation_ms,
            requests: BTreeMap::new(),
            request_order: Vec::new(),
            reports: BTreeMap::new(),
            quotas: BTreeMap::new(),
            signature_failures: 0,
            throttled: 0,
            get_report_calls: 0,
        }
    }

    /// How many report requests were accepted.
    pub fn requests_accepted(&self) -> usize {
        self.request_order.len()
    }

    /// Requests refused with `SignatureDoesNotMatch`.
    pub fn signature_failures(&self) -> u32 {
        self.signature_failures
    }

    /// Requests refused with `RequestThrottled` or `QuotaExceeded` because a
    /// quota was spent (faults not counted).
    pub fn throttled(&self) -> u32 {
        self.throttled
    }

    /// GetReport calls that got past the signature and quota checks.
    pub fn get_report_calls(&self) -> u32 {
        self.get_report_calls
    }

    fn params(request: &SimRequest) -> (BTreeMap<String, String>, &'static str) {
        let form = request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if form && !request.body.is_empty() {
            (
                form_urlencoded::parse(&request.body).into_owned().collect(),
                "form",
            )
        } else {
            let query = request.query().unwrap_or_default();
            (
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                "query",
            )
        }
    }

    /// SigV2, timestamp and seller: the answer refusing the request, if any.
    fn authenticate(
        &mut self,
        now: Millis,
        request: &SimRequest,
        params: &BTreeMap<String, String>,
    ) -> Result<(), SimResponse> {
        for name in [
            "AWSAccessKeyId",
            "Action",
            "SignatureMethod",
            "SignatureVersion",
            "Timestamp",
            "Version",
            "Signature",
        ] {
            if !params.contains_key(name) {
                return Err(error(
                    400,
                    "Sender",
                    "MissingParameter",
                    &format!("The request must contain the parameter {name}."),
                ));
            }
        }
        if params.get("AWSAccessKeyId").map(String::as_str) != Some(ACCESS_KEY_ID) {
            return Err(error(
                403,
                "Sender",
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ));
        }
        if params.get("SignatureVersion").map(String::as_str) != Some("2")
            || params.get("SignatureMethod").map(String::as_str) != Some("HmacSHA256")
        {
            return Err(error(
                400,
                "Sender",
                "InvalidParameterValue",
                "Only SignatureVersion 2 with HmacSHA256 is supported by this simulator.",
            ));
        }
        let host = host_of(request);
        let signed = params
            .iter()
            .filter(|(name, _)| *name != "Signature")
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let given = params
            .get("Signature")
            .map(String::as_str)
            .unwrap_or_default();
        let method = request.method.as_str();
        if !sign::verify(method, &host, request.path(), signed, SECRET_KEY, given) {
            self.signature_failures = self.signature_failures.saturating_add(1);
            return Err(error(
                403,
                "Sender",
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        let stamp = params
            .get("Timestamp")
            .map(String::as_str)
            .unwrap_or_default();
        let fresh = parse_rfc3339(stamp)
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| s.saturating_mul(1000))
            .is_some_and(|at| at.abs_diff(now.as_u64()) <= TIMESTAMP_WINDOW_MS);
        if !fresh {
            return Err(error(400, "Sender", "InvalidParameterValue", &format!("Timestamp {stamp} must be in ISO8601 format and within 15 minutes of the server time.")));
        }
        let seller = params.get("SellerId").or_else(|| params.get("Merchant"));
        if seller.map(String::as_str) != Some(SELLER_ID) {
            return Err(error(
                401,
                "Sender",
                "AccessDenied",
                "Access to the seller is denied for these keys.",
            ));
        }
        Ok(())
    }

    /// Takes a token of `operation`'s quota for `seller`; the refusal and
    /// the quota headers either way.
    fn take_quota(
        &mut self,
        now: Millis,
        seller: &str,
        operation: &'static str,
    ) -> (Result<(), SimResponse>, Vec<(String, String)>) {
        let Some(&(_, burst, restore_ms, hourly)) =
            OPERATIONS.iter().find(|(name, ..)| *name == operation)
        else {
            return (Ok(()), Vec::new());
        };
        let quota = self
            .quotas
            .entry((seller.to_owned(), operation))
            .or_insert(Quota {
                milli_tokens: u64::from(burst) * 1000,
                updated: now,
                hour_start: now,
                hour_count: 0,
            });
        let elapsed = now.saturating_since(quota.updated);
        quota.milli_tokens = quota
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(1000) / restore_ms.max(1))
            .min(u64::from(burst) * 1000);
        quota.updated = now;
        if now.saturating_since(quota.hour_start) >= HOUR_MS {
            quota.hour_start = now;
            quota.hour_count = 0;
        }
        let resets = quota.hour_start.saturating_add(HOUR_MS);
        let verdict = if quota.hour_count >= hourly {
            Err(error(
                503,
                "Sender",
                "QuotaExceeded",
                "You exceeded your quota of requests per hour.",
            ))
        } else if quota.milli_tokens < 1000 {
            Err(error(
                503,
                "Sender",
                "RequestThrottled",
                "Request is throttled",
            ))
        } else {
            quota.milli_tokens -= 1000;
            quota.hour_count += 1;
            Ok(())
        };
        let headers = vec![
            ("x-mws-quota-max".to_owned(), format!("{hourly}.0")),
            (
                "x-mws-quota-remaining".to_owned(),
                format!("{}.0", hourly.saturating_sub(quota.hour_count)),
            ),
            ("x-mws-quota-resetsOn".to_owned(), rfc3339(resets)),
        ];
        if verdict.is_err() {
            self.throttled = self.throttled.saturating_add(1);
        }
        (verdict, headers)
    }

    fn status(&self, request: &ReportRequest, now: Millis) -> &'static str {
        let age = now.saturating_since(request.submitted);
        if request.fate == Fate::Cancelled {
            "_CANCELLED_"
        } else if age < self.generation_ms / 2 {
            "_SUBMITTED_"
        } else if age < self.generation_ms {
            "_IN_PROGRESS_"
        } else if request.fate == Fate::NoData {
            "_DONE_NO_DATA_"
        } else {
            "_DONE_"
        }
    }

    fn request_report(
        &mut self,
        cx: &mut SimCx<'_>,
        params: &BTreeMap<String, String>,
    ) -> SimResponse {
        let report_type = params.get("ReportType").cloned().unwrap_or_default();
        let type_ok = report_type.len() > 2
            && report_type.starts_with('_')
            && report_type.ends_with('_')
            && report_type
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !type_ok {
            return error(
                400,
                "Sender",
                "InvalidParameterValue",
                &format!("Invalid ReportType {report_type}."),
            );
        }
        for name in ["StartDate", "EndDate"] {
            if let Some(date) = params.get(name) {
                if parse_rfc3339(date).is_none() {
                    return error(
                        400,
                        "Sender",
                        "InvalidParameterValue",
                        &format!("{name} {date} is not a valid ISO8601 date."),
                    );
                }
            }
        }
        let mut region = None;
        for (name, id) in params.range("MarketplaceIdList.Id.".to_owned()..) {
            if !name.starts_with("MarketplaceIdList.Id.") {
                break;
            }
            match MARKETPLACES.iter().find(|(_, known, _)| known == id) {
                Some((_, _, r)) => region = region.or(Some(*r)),
                None => {
                    return error(
                        400,
                        "Sender",
                        "InvalidParameterValue",
                        &format!("Invalid MarketplaceId {id}."),
                    )
                }
            }
        }
        // No list: the seller's home marketplace. Japan takes no list, so the
        // simulated seller is at home there.
        let region = region.unwrap_or(Region::Jp);
        match cx.fault(Opportunity::Create) {
            Some(Fault::Reject406) => {
                return error(
                    400,
                    "Sender",
                    "InvalidParameterValue",
                    "StartDate is too far in the past.",
                )
            }
            Some(Fault::Reject422) => {
                return error(
                    400,
                    "Sender",
                    "InvalidParameterValue",
                    "Invalid ReportOptions.",
                )
            }
            _ => {}
        }
        let fate = match cx.fired {
            Some(Fault::NoData) => Fate::NoData,
            Some(Fault::NoGeneratedId) => Fate::NoGeneratedId,
            _ => Fate::Done,
        };
        let n = self.request_order.len() as u64 + 1;
        let request_id = format!(
            "{}",
            50_000_000_000 + (splitmix64(self.seed ^ n) % 1_000_000) * 1000 + n % 1000
        );
        let start = params
            .get("StartDate")
            .cloned()
            .unwrap_or_else(|| rfc3339(cx.now));
        let end = params
            .get("EndDate")
            .cloned()
            .unwrap_or_else(|| rfc3339(cx.now));
        let key = format!("{report_type}|{}|{start}|{end}", region.as_str());
        let report_id = format!(
            "{}",
            20_000_000_000_000_000
                + splitmix64(self.seed ^ fnv1a(&key) ^ n) % 1_000_000_000_000_000
        );
        let request = ReportRequest {
            seller: SELLER_ID.to_owned(),
            report_type,
            region,
            start,
            end,
            submitted: cx.now,
            fate,
            report_id,
        };
        let body = format!(
            "<RequestReportResult>{}</RequestReportResult>",
            request_info(&request_id, &request, "_SUBMITTED_", false)
        );
        self.requests.insert(request_id.clone(), request);
        self.request_order.push(request_id);
        ok("RequestReport", &body)
    }

    /// Makes the request's report exist once its generation is over.
    fn settle(&mut self, request_id: &str, now: Millis) {
        let Some(request) = self.requests.get(request_id) else {
            return;
        };
        if self.status(request, now) != "_DONE_" || self.reports.contains_key(&request.report_id) {
            return;
        }
        let key = format!(
            "{}|{}|{}|{}",
            request.report_type,
            request.region.as_str(),
            request.start,
            request.end
        );
        let report = Report {
            request_id: request_id.to_owned(),
            region: request.region,
            text: listings_flat_file(self.seed, &key, language(request.region), self.rows),
            available: request.submitted.saturating_add(self.generation_ms),
        };
        self.reports.insert(request.report_id.clone(), report);
    }

    fn ids(params: &BTreeMap<String, String>, list: &str) -> Vec<String> {
        params
            .range(list.to_owned()..)
            .take_while(|(name, _)| name.starts_with(list))
            .map(|(_, id)| id.clone())
            .collect()
    }

    fn request_list(
        &mut self,
        cx: &mut SimCx<'_>,
        params: &BTreeMap<String, String>,
    ) -> SimResponse {
        let wanted = Self::ids(params, "ReportRequestIdList.Id.");
        let ids: Vec<String> = if wanted.is_empty() {
            self.request_order.iter().rev().take(100).cloned().collect()
        } else {
            wanted
        };
        if ids
            .iter()
            .any(|id| !self.requests.get(id).is_some_and(|r| r.seller == SELLER_ID))
        {
            return error(
                400,
                "Sender",
                "InvalidReportRequestId",
                "One or more of the provided ReportRequestIds could not be found.",
            );
        }
        if cx.fault(Opportunity::StatusPoll) == Some(Fault::ReportFailure) {
            if let Some(request) = ids.first().and_then(|id| self.requests.get_mut(id)) {
                request.fate = Fate::Cancelled;
            }
        }
        let mut infos = String::new();
        for id in &ids {
            self.settle(id, cx.now);
            if let Some(request) = self.requests.get(id) {
                let status = self.status(request, cx.now);
                let generated = status == "_DONE_" && request.fate != Fate::NoGeneratedId;
                infos.push_str(&request_info(id, request, status, generated));
            }
        }
        ok(
            "GetReportRequestList",
            &format!("<GetReportRequestListResult><HasNext>false</HasNext>{infos}</GetReportRequestListResult>"),
        )
    }

    fn report_list(&mut self, cx: &SimCx<'_>, params: &BTreeMap<String, String>) -> SimResponse {
        let wanted = Self::ids(params, "ReportRequestIdList.Id.");
        for id in self.request_order.clone() {
            self.settle(&id, cx.now);
        }
        let mut infos = String::new();
        for (report_id, report) in self.reports.iter().rev() {
            if !wanted.is_empty() && !wanted.contains(&report.request_id) {
                continue;
            }
            let report_type = self
                .requests
                .get(&report.request_id)
                .map(|r| r.report_type.as_str())
                .unwrap_or_default();
            infos.push_str(&format!(
                "<ReportInfo><ReportType>{report_type}</ReportType><Acknowledged>false</Acknowledged><ReportId>{report_id}</ReportId><ReportRequestId>{}</ReportRequestId><AvailableDate>{}</AvailableDate></ReportInfo>",
                report.request_id,
                rfc3339(report.available)
            ));
        }
        ok(
            "GetReportList",
            &format!("<GetReportListResult><HasNext>false</HasNext>{infos}</GetReportListResult>"),
        )
    }

    fn get_report(&mut self, cx: &mut SimCx<'_>, params: &BTreeMap<String, String>) -> SimResponse {
        self.get_report_calls = self.get_report_calls.saturating_add(1);
        let id = params.get("ReportId").cloned().unwrap_or_default();
        let Some(report) = self.reports.get(&id) else {
            return error(
                400,
                "Sender",
                "InvalidReportId",
                &format!("ReportId {id} could not be found."),
            );
        };
        let (body, content_type) = encode_for(report.region, &report.text);
        let md5 = Md5::digest(&body).to_base64();
        let mut served = body;
        let mut response_md5 = Some(md5);
        let mut disconnect = None;
        match cx.fault(Opportunity::Download) {
            Some(Fault::CorruptBody) if !served.is_empty() => {
                let at =
                    (splitmix64(self.seed ^ cx.corruption_salt()) % served.len() as u64) as usize;
                if let Some(byte) = served.get_mut(at) {
                    *byte ^= 0x20;
                }
            }
            Some(Fault::MissingMd5) => response_md5 = None,
            Some(Fault::Disconnect) => disconnect = Some(served.len() / 2),
            _ => {}
        }
        let mut response = SimResponse::bytes(200, content_type, served);
        if let Some(md5) = response_md5 {
            response = response.with_header("Content-MD5", md5);
        }
        response.disconnect_after = disconnect;
        response
    }
}

impl ProviderSim for Simulator {
    fn provider(&self) -> Provider {
        Provider::AmazonMws
    }

    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse {
        if !matches!(path, "/Reports/2009-01-01" | "/") {
            return error(
                404,
                "Sender",
                "InvalidAddress",
                &format!("No service at {path}."),
            );
        }
        let (params, _) = Self::params(request);
        if let Err(refusal) = self.authenticate(cx.now, request, &params) {
            return refusal;
        }
        let action = params.get("Action").cloned().unwrap_or_default();
        let Some(operation) = OPERATIONS
            .iter()
            .map(|(name, ..)| *name)
            .find(|name| *name == action)
        else {
            return error(
                400,
                "Sender",
                "InvalidParameterValue",
                &format!("Action {action} is not supported by this simulator."),
            );
        };
        let (quota, headers) = self.take_quota(cx.now, SELLER_ID, operation);
        let with_quota = |mut response: SimResponse| {
            response.headers.extend(headers.iter().cloned());
            response
        };
        if let Err(refusal) = quota {
            return with_quota(refusal);
        }
        match cx.fault(Opportunity::ApiCall) {
            Some(Fault::Throttle) => {
                return with_quota(error(
                    503,
                    "Sender",
                    "RequestThrottled",
                    "Request is throttled",
                ))
            }
            Some(Fault::ServerError) if cx.fired(Fault::ServerError) % 2 == 1 => {
                return error(
                    500,
                    "Receiver",
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
            }
            Some(Fault::ServerError) => {
                return error(
                    503,
                    "Receiver",
                    "ServiceUnavailable",
                    "Service is unavailable. Please try again.",
                )
            }
            Some(Fault::MalformedEnvelope) if operation == "GetReport" => {
                return SimResponse::bytes(
                    502,
                    "text/html",
                    b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
                )
            }
            Some(Fault::MalformedEnvelope) => {
                let whole = ok(operation, "<Cut>");
                let cut = whole.body.len() / 2;
                return SimResponse::bytes(
                    200,
                    "text/xml",
                    whole.body.get(..cut).unwrap_or_default().to_vec(),
                );
            }
            _ => {}
        }
        with_quota(match operation {
            "RequestReport" => self.request_report(cx, &params),
            "GetReportRequestList" => self.request_list(cx, &params),
            "GetReportList" => self.report_list(cx, &params),
            _ => self.get_report(cx, &params),
        })
    }

    fn fault_answers(&self) -> &'static [(Fault, &'static str)] {
        FAULT_ANSWERS
    }

    /// No download host: GetReport is an API call. The prefix never matches.
    fn download_prefix(&self) -> &'static str {
        "/_none/"
    }

    /// By ReportId, or by ReportRequestId (a job's report id, as its
    /// summary names it): empty for `_DONE_NO_DATA_`.
    fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        if let Some(report) = self.reports.get(report_id) {
            return Some(report.text.clone().into_bytes());
        }
        let request = self.requests.get(report_id)?;
        if request.fate == Fate::NoData {
            return Some(Vec::new());
        }
        self.reports
            .get(&request.report_id)
            .map(|report| report.text.clone().into_bytes())
    }

    fn operation(&self, request: &SimRequest) -> Option<(String, &'static str)> {
        let (params, place) = Self::params(request);
        params.get("Action").map(|action| (action.clone(), place))
    }

    fn quota_violations(&self) -> u32 {
        self.throttled
    }

    fn box_clone(&self) -> Box<dyn ProviderSim> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The host a client signed: the `Host` header, else the origin's
/// authority; lower-case, standard ports dropped.
fn host_of(request: &SimRequest) -> String {
    let origin = request
        .origin
        .as_deref()
        .unwrap_or("http://sandbox.reportflow.test");
    let (scheme, authority) = origin.split_once("://").unwrap_or(("http", origin));
    let host = request
        .header("host")
        .unwrap_or(authority)
        .trim()
        .to_ascii_lowercase();
    let standard = if scheme == "https" { ":443" } else { ":80" };
    host.strip_suffix(standard)
        .map_or(host.clone(), str::to_owned)
}

fn request_info(id: &str, request: &ReportRequest, status: &str, generated: bool) -> String {
    // Live answers put the elements in another order than the docs; so does this.
    let mut info = format!(
        "<ReportRequestInfo><ReportType>{}</ReportType><ReportProcessingStatus>{status}</ReportProcessingStatus><EndDate>{}</EndDate><Scheduled>false</Scheduled><ReportRequestId>{id}</ReportRequestId><SubmittedDate>{}</SubmittedDate><StartDate>{}</StartDate>",
        request.report_type,
        xml_escape(&request.end),
        rfc3339(request.submitted),
        xml_escape(&request.start),
    );
    if generated {
        info.push_str(&format!(
            "<GeneratedReportId>{}</GeneratedReportId>",
            request.report_id
        ));
    }
    info.push_str("</ReportRequestInfo>");
    info
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn envelope(root: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<{root} xmlns=\"http://mws.amazonaws.com/doc/2009-01-01/\">{inner}<ResponseMetadata><RequestId>6f1b0c2e-sim</RequestId></ResponseMetadata></{root}>"
    )
}

fn ok(operation: &str, result: &str) -> SimResponse {
    SimResponse::bytes(
        200,
        "text/xml",
        envelope(&format!("{operation}Response"), result).into_bytes(),
    )
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> SimResponse {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"http://mws.amazonaws.com/doc/2009-01-01/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>6f1b0c2e-sim</RequestId></ErrorResponse>",
        xml_escape(message)
    );
    SimResponse::bytes(status, "text/xml", body.into_bytes())
}

/// The flat file's bytes in the region's charset, and the `Content-Type`
/// Amazon sends with them.
fn encode_for(region: Region, text: &str) -> (Vec<u8>, &'static str) {
    match region {
        Region::Jp => (
            encoding_rs::SHIFT_JIS.encode(text).0.into_owned(),
            "text/plain",
        ),
        Region::Cn => (text.as_bytes().to_vec(), "text/plain;charset=UTF-8"),
        _ => (
            encoding_rs::WINDOWS_1252.encode(text).0.into_owned(),
            "text/plain;charset=Cp1252",
        ),
    }
}

/// The language of the region's product names.
fn language(region: Region) -> Language {
    match region {
        Region::Jp => Language::Japanese,
        Region::Cn => Language::Chinese,
        _ => Language::Latin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use crate::sim::Sandbox;

    /// 2024-03-01T00:00:00Z.
    const NOW: Millis = Millis(1_709_251_200_000);

    fn signed(params: &[(&str, &str)], secret: &str) -> SimRequest {
        let mut all: Vec<(&str, &str)> = vec![
            ("AWSAccessKeyId", ACCESS_KEY_ID),
            ("SellerId", SELLER_ID),
            ("SignatureMethod", "HmacSHA256"),
            ("SignatureVersion", "2"),
            ("Version", "2009-01-01"),
        ];
        let stamp = rfc3339(NOW);
        all.push(("Timestamp", &stamp));
        all.extend_from_slice(params);
        let body = sign::signed_query(
            "POST",
            "sandbox.reportflow.test",
            "/amazon-mws/Reports/2009-01-01",
            all,
            secret,
        );
        let mut request = SimRequest::new(Method::Post, "/amazon-mws/Reports/2009-01-01");
        request.origin = Some("http://sandbox.reportflow.test".into());
        request.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ));
        request.body = body.into_bytes();
        request
    }

    #[test]
    fn a_wrong_secret_is_refused_with_signature_does_not_match() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let wrong = sandbox.handle(
            NOW,
            &signed(&[("Action", "GetReportList")], "not-the-secret"),
        );
        assert_eq!(wrong.status, 403);
        assert!(String::from_utf8_lossy(&wrong.body).contains("<Code>SignatureDoesNotMatch</Code>"));
        let right = sandbox.handle(NOW, &signed(&[("Action", "GetReportList")], SECRET_KEY));
        assert_eq!(
            right.status,
            200,
            "{}",
            String::from_utf8_lossy(&right.body)
        );
        let log = sandbox.requests();
        assert_eq!(log.len(), 2);
        assert!(log
            .iter()
            .all(|r| r.operation.as_deref() == Some("GetReportList")
                && r.params_in.as_deref() == Some("form")));
    }

    #[test]
    fn the_burst_quota_then_request_throttled() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let statuses: Vec<u16> = (0..11)
            .map(|_| {
                sandbox
                    .handle(
                        NOW,
                        &signed(&[("Action", "GetReportRequestList")], SECRET_KEY),
                    )
                    .status
            })
            .collect();
        assert_eq!(statuses[..10], [200; 10]);
        assert_eq!(statuses[10], 503);
        assert_eq!(sandbox.quota_violations(), 1, "counted as over the quota");
        let later = sandbox.handle(
            NOW.saturating_add(45_000),
            &signed(&[("Action", "GetReportRequestList")], SECRET_KEY),
        );
        assert_eq!(later.status, 200, "a token came back after 45 s");
    }

    #[test]
    fn flat_files_are_in_the_regions_charset_with_a_correct_content_md5() {
        for region in [Region::Jp, Region::Eu, Region::Cn] {
            let text = listings_flat_file(1, "k", language(region), 20);
            let (bytes, content_type) = encode_for(region, &text);
            assert_eq!(text.lines().count(), 21);
            let decoded = match region {
                Region::Jp => encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned(),
                Region::Cn => String::from_utf8(bytes.clone()).unwrap(),
                _ => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
            };
            assert_eq!(decoded, text, "{content_type}");
        }
    }
}
