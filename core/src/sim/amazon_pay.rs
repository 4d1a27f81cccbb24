//! Amazon Pay API v2 reports simulator, under the `/amazon-pay` prefix.
//!
//! | request | answer |
//! |---|---|
//! | `POST {base}/reports` (`reportType`, `startTime`, `endTime`; `x-amz-pay-idempotency-key`) | `201 {"reportId"}`; the same key with the same body answers the same report, with another body `400 DuplicateIdempotencyKey` |
//! | `GET {base}/reports/{reportId}` | a `Report`: `IN_PROGRESS` for `generation_ms`, then `COMPLETED` with a `reportDocumentId` (or `FAILED`/`CANCELLED`) |
//! | `GET {base}/report-documents/{id}` | `{reportDocumentId, url, compressionAlgorithm: "N/A"}`, the `url` presigned for 30 seconds on the download host |
//! | `GET /_documents/{id}?X-Amz-…` (download host) | the flat file; `400` with any `authorization` or `x-amz-pay-*` header, `403 AccessDenied` "Request has expired" after 30 s, `403 SignatureDoesNotMatch` for a tampered link |
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
use crate::providers::amazon_pay::{Credentials, Region, ReportSpec};
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
    /// Idempotency key → (fingerprint of the body, report id).
    idempotency: BTreeMap<String, (u64, String)>,
    verified: u32,
    refused: u32,
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
            verified: 0,
            refused: 0,
        }
    }

    /// Reports created (an idempotent repeat creates none).
    pub fn reports_created(&self) -> usize {
        self.reports.len()
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
        let n = self.reports.len() as u64 + 1;
        let id = format!("amzn1.tortuga.3.{:016x}.T{n}", self.random(n));
        let document_id = format!("amzn1.tortuga.3.{:016x}.D{n}", self.random(n ^ 0xd0c));
        self.documents.insert(document_id.clone(), id.clone());
        self.reports.insert(
            id.clone(),
            Report {
                created_at: cx.now,
                report_type,
                start,
                end,
                fate: Fate::Normal,
                document_id,
            },
        );
        self.idempotency.insert(key, (fingerprint, id.clone()));
        SimResponse::json(201, &json!({ "reportId": id }))
    }

    fn status(&mut self, cx: &mut SimCx<'_>, id: &str) -> SimResponse {
        let generation_ms = self.generation_ms;
        let Some(report) = self.reports.get_mut(id) else {
            return error(404, "ResourceNotFound", "The report does not exist");
        };
        match cx.fault(Opportunity::StatusPoll) {
            Some(Fault::ReportFailure) => report.fate = Fate::Failed,
            Some(Fault::TaskCancelled) => report.fate = Fate::Cancelled,
            _ => {}
        }
        let done = cx.now >= report.created_at.saturating_add(generation_ms);
        let status = match (report.fate, done) {
            (Fate::Failed, _) => "FAILED",
            (Fate::Cancelled, _) => "CANCELLED",
            (Fate::Normal, false) => "IN_PROGRESS",
            (Fate::Normal, true) => "COMPLETED",
        };
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
            let ended = amz_date(report.created_at.saturating_add(generation_ms));
            fields.insert("processingEndTime".into(), json!(ended));
            fields.insert("reportDocumentId".into(), json!(report.document_id));
        }
        SimResponse::json(200, &body)
    }

    fn document(&self, now: Millis, id: &str) -> SimResponse {
        let completed = self
            .documents
            .get(id)
            .and_then(|report| self.reports.get(report))
            .is_some_and(|r| {
                r.fate == Fate::Normal && now >= r.created_at.saturating_add(self.generation_ms)
            });
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
        let mut response = match (request.method, rest) {
            (crate::http::Method::Post, "/reports") => self.create(cx, request),
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
