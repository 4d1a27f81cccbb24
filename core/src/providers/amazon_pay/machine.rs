//! The Amazon Pay report lifecycle. All transitions live here; this file
//! does not know which host drives it, how bytes travel, or where the
//! private key is.
//!
//! Rules that shape it:
//! - every API call is signed by the host (`Action::Sign`) and goes stale
//!   with its `x-amz-pay-date` (`send_before`); a stale one is built anew;
//! - a report is created once: the idempotency key is derived from the job
//!   when it is created and kept in its snapshot, so a create whose answer
//!   was lost (or a restored job) repeats it and Amazon answers with the
//!   same report;
//! - the 30-second document URL is fetched with nothing of Amazon Pay on it
//!   and never persisted; an expired or broken one is replaced by another
//!   Get Report Document answer, never by a new report.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{Credentials, ReportSpec};
use super::signing::{self, canonical_query, canonical_uri, SigningAlgorithm};
use super::wire;
use crate::action::{Event, Phase, WaitReason};
use crate::calendar;
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{Body, Header, Method};
use crate::integrity::Compression;
use crate::providers::vocabulary::Signing;
use crate::providers::{
    Refusal,
    encode_segment, excerpt, is_http_url, judge_link_status, parse_json, retry_after, Cx,
    Lifecycle, Outgoing, Protocol, Provider, ReportBody, Response, Verdict,
};
use crate::rate::TokenBucket;
use crate::records::RecordFormat;
use crate::time::Millis;

const CREATE: &str = "POST /v2/reports";
const STATUS: &str = "GET /v2/reports/{reportId}";
const DOCUMENT: &str = "GET /v2/report-documents/{reportDocumentId}";
const DOWNLOAD: &str = "GET <report document URL>";

/// Report document URLs live 30 seconds.
pub(crate) const LINK_LIFETIME_MS: u64 = 30_000;
/// A download does not start with less than this left on its URL.
const LINK_MARGIN_MS: u64 = 2_000;
/// A signed request is sent within this of its `x-amz-pay-date`, or built
/// and signed anew (Amazon does not publish its skew window; this stays
/// well inside the usual 15 minutes).
pub(crate) const SIGNATURE_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// The job's own pacing of Amazon Pay calls: no report quotas are
/// published, so a small polite burst; a 429 empties it until its
/// `Retry-After` (or the backoff).
pub(crate) const API_BUCKET: &str = "amazon-pay:api";
const API_BUCKET_CAPACITY: u32 = 5;
const API_BUCKET_REFILL_MS: u64 = 2_000;
/// Longest id Amazon hands out that the job will put in a URL.
const MAX_ID_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    Create,
    Poll,
    Document,
    Download,
}

/// The calls of an Amazon Pay report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Create,
    Status,
    Document,
    Download,
}

/// The Amazon Pay protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    /// `x-amz-pay-idempotency-key` of the create: derived when the job was
    /// created, persisted, never changed.
    idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document_id: Option<String>,
    polls: u32,
}

impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonPay;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        let idempotency_key = idempotency_key(&spec, config.seed, now);
        Ok(Self {
            spec,
            stage: Stage::Create,
            idempotency_key,
            document_id: None,
            polls: 0,
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
        let key_ok = self.idempotency_key.len() == 32
            && self
                .idempotency_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !key_ok {
            return Err(RestoreError::invalid(
                "the idempotency key is not 32 characters of a-z A-Z 0-9 - _",
            ));
        }
        if self.stage != Stage::Create && life.report_id().is_none() {
            return Err(RestoreError::invalid(format!(
                "stage {:?} without a report id",
                self.stage
            )));
        }
        let document_ok = self
            .document_id
            .as_ref()
            .map_or(true, |id| !id.is_empty() && id.len() <= MAX_ID_BYTES);
        if !document_ok || (self.stage == Stage::Document && self.document_id.is_none()) {
            return Err(RestoreError::invalid("the report document id is missing or too long"));
        }
        Ok(())
    }

    fn check_credentials(_credentials: &Credentials) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Nothing to take: the host holds the key.
    fn install(&mut self, _credentials: &Credentials) {}

    /// Nothing secret is held (the link is the lifecycle's).
    fn forget_secrets(&mut self) {}

    fn phase(&self, _life: &Lifecycle<Call>) -> Phase {
        match self.stage {
            Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::Document => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        match self.stage {
            Stage::Create => Call::Create,
            Stage::Poll => Call::Status,
            Stage::Document => Call::Document,
            Stage::Download if life.usable_link(cx.now, LINK_MARGIN_MS).is_some() => {
                Call::Download
            }
            // Lapsed before we got to it, or lost in a restore.
            Stage::Download => {
                self.relink(life);
                Call::Document
            }
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Download => &[],
            _ => &[API_BUCKET],
        }
    }

    fn authorizes(_call: Call) -> bool {
        false
    }

    fn creates(call: Call) -> bool {
        call == Call::Create
    }

    /// The create honours its idempotency key: sending it again with the
    /// same key gets the report the lost answer named.
    fn recover_create(&mut self, _life: &mut Lifecycle<Call>, _cx: &mut Cx<'_>) -> bool {
        true
    }

    fn request(
        &mut self,
        life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        _credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        match call {
            Call::Create => {
                let (start, end) = self.spec.window().map_err(|e| {
                    Error::internal(format!("a validated window stopped parsing: {e}"))
                })?;
                let body = serde_json::to_vec(&serde_json::json!({
                    "reportType": self.spec.report_type,
                    "startTime": start,
                    "endTime": end,
                }))
                .map_err(|e| Error::internal(format!("{CREATE} body: {e}")))?;
                Ok(self.signed(cx, CREATE, Method::Post, "/reports", &[], body))
            }
            Call::Status => {
                let id = life.require_report_id(STATUS)?;
                let path = format!("/reports/{id}");
                Ok(self.signed(cx, STATUS, Method::Get, &path, &[], Vec::new()))
            }
            Call::Document => {
                let id = self
                    .document_id
                    .as_deref()
                    .ok_or_else(|| Error::internal(format!("{DOCUMENT} without a document id")))?;
                let path = format!("/report-documents/{id}");
                Ok(self.signed(cx, DOCUMENT, Method::Get, &path, &[], Vec::new()))
            }
            Call::Download => life.download(DOWNLOAD, self.report_body()),
        }
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
            return judge_link_status(Provider::AmazonPay, DOWNLOAD, status, &body);
        }
        if !(200..300).contains(&status) {
            return api_failure(cx, call, status, &headers, &body);
        }
        match call {
            Call::Create => self.on_created(life, cx, &body),
            Call::Status => self.on_status(life, cx, &body),
            _ => self.on_document(life, cx, &body),
        }
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Document;
    }

    fn report_body(&self) -> ReportBody {
        // `compressionAlgorithm` is "N/A" today; the bytes decide.
        ReportBody::single(Compression::Auto, RecordFormat::Tsv)
    }

    fn content_type(&self) -> String {
        "text/tab-separated-values".to_owned()
    }
}

impl Flow {
    /// A signed API request: the headers Amazon Pay signs, the canonical
    /// request over exactly the bytes sent, and the signature asked of the
    /// host. `suffix` is the decoded path after the base path.
    fn signed(
        &self,
        cx: &Cx<'_>,
        endpoint: &'static str,
        method: Method,
        suffix: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Outgoing {
        let origin = cx.api_origin(self.spec.region.host());
        let origin = if origin.contains("://") {
            origin.to_owned()
        } else {
            format!("https://{origin}")
        };
        let (scheme, rest) = origin.split_once("://").unwrap_or(("https", &origin));
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let path = format!("/{prefix}{}{suffix}", self.spec.base_path());
        // The path on the wire is the canonical one, so what the server
        // decodes and re-encodes is exactly what was signed.
        let wire_path = canonical_uri(&path);
        let wire_query = canonical_query(query.iter().copied());
        let url = if wire_query.is_empty() {
            format!("{scheme}://{authority}{wire_path}")
        } else {
            format!("{scheme}://{authority}{wire_path}?{wire_query}")
        };
        let date = calendar::format_iso8601_basic(cx.now);
        let mut headers = vec![
            Header::plain("accept", "application/json"),
            Header::plain("content-type", "application/json"),
            Header::plain("x-amz-pay-date", date),
            Header::plain("x-amz-pay-host", authority),
            Header::plain("x-amz-pay-region", self.spec.region.code()),
        ];
        if method == Method::Post {
            headers.push(Header::plain(
                "x-amz-pay-idempotency-key",
                self.idempotency_key.clone(),
            ));
        }
        let canonical = signing::canonical_request(
            method.as_str(),
            &path,
            query.iter().copied(),
            headers.iter().map(|h| (h.name.as_str(), h.value.expose())),
            &body,
        );
        let algorithm: SigningAlgorithm = self.spec.algorithm;
        let signing = Signing {
            key_id: self.spec.public_key_id.clone(),
            algorithm: algorithm.signature(),
            message: signing::string_to_sign(algorithm, &canonical),
            header: "authorization",
            prefix: signing::authorization_prefix(
                algorithm,
                &self.spec.public_key_id,
                &canonical.signed_headers,
            ),
        };
        let body = if body.is_empty() {
            Body::Empty
        } else {
            Body::Plain(body)
        };
        Outgoing {
            method,
            body,
            send_before: Some(cx.now.saturating_add(SIGNATURE_LIFETIME_MS)),
            signing: Some(signing),
            ..Outgoing::get(endpoint, url, headers)
        }
    }

    fn on_created(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::Created>(Provider::AmazonPay, CREATE, body) {
            Ok(wire::Created {
                report_id: Some(id),
            }) if valid_id(&id) => {
                life.report_created(cx, id);
                self.stage = Stage::Poll;
                self.polls = 0;
                let first = cx.now.saturating_add(cx.config.poll.delay(cx.config.seed, 0));
                life.schedule(first, WaitReason::PollBackoff);
                Verdict::Proceed
            }
            Ok(_) => retry(malformed(CREATE, "no usable reportId in the response")),
            Err(error) => retry(error),
        }
    }

    fn on_status(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let report = match parse_json::<wire::Report>(Provider::AmazonPay, STATUS, body) {
            Ok(report) => report,
            Err(error) => return retry(error),
        };
        let status = report.processing_status.unwrap_or_default();
        cx.emit(Event::ReportStatus {
            status: excerpt(status.as_bytes(), 60),
        });
        match status.as_str() {
            "COMPLETED" => match report.report_document_id.filter(|id| valid_id(id)) {
                Some(document) => {
                    self.document_id = Some(document);
                    self.stage = Stage::Document;
                    Verdict::Proceed
                }
                None => retry(malformed(STATUS, "COMPLETED without a reportDocumentId")),
            },
            // Amazon says CANCELLED also means "no data": not an error.
            "CANCELLED" => Verdict::NoData,
            "FAILED" => Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonPay,
                failure: ReportFailure::Fatal,
                status,
                detail: "Amazon Pay gives no reason; check the report type and window, then create the report again".to_owned(),
            }),
            // IN_PROGRESS, and statuses this version does not know: keep
            // polling until the deadline.
            _ => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                life.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
                Verdict::Proceed
            }
        }
    }

    fn on_document(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::ReportDocument>(Provider::AmazonPay, DOCUMENT, body) {
            Ok(wire::ReportDocument { url: Some(url) }) if is_http_url(&url) => {
                life.link_obtained(cx, url, LINK_LIFETIME_MS);
                self.stage = Stage::Download;
                // Not `Proceed`: a fresh link does not reset the attempt
                // budget, or a download that fails every time would be
                // retried forever.
                Verdict::Continue
            }
            Ok(_) => retry(malformed(DOCUMENT, "no absolute url in the report document")),
            Err(error) => retry(error),
        }
    }
}

/// The idempotency key of the job's create: 32 hex characters of SHA-256
/// over the spec, the config's seed and the job's creation instant. A
/// restored job keeps it (it is in the snapshot); two jobs created apart get
/// different reports.
fn idempotency_key(spec: &ReportSpec, seed: u64, now: Millis) -> String {
    let mut hasher = Sha256::new();
    for part in [
        spec.public_key_id.as_str(),
        spec.report_type.as_str(),
        spec.start_time.as_str(),
        spec.end_time.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.update(seed.to_be_bytes());
    hasher.update(now.as_u64().to_be_bytes());
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An id Amazon handed out that can go into a URL path segment unchanged.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && encode_segment(id) == id
}

/// A non-2xx answer from the API.
fn api_failure(
    cx: &mut Cx<'_>,
    call: Call,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Verdict {
    let endpoint = endpoint_of(call);
    let parsed = serde_json::from_slice::<wire::ErrorBody>(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|e| e.reason_code.as_deref())
        .filter(|c| !c.is_empty())
        .map(|c| excerpt(c.as_bytes(), 80));
    let detail = parsed
        .and_then(|e| e.message)
        .filter(|m| !m.is_empty())
        .map_or_else(|| excerpt(body, 300), |m| excerpt(m.as_bytes(), 300));
    let refusal = Refusal {
        provider: Provider::AmazonPay,
        endpoint,
        status,
        code: code.clone(),
        detail: detail.clone(),
    };
    let unexpected = refusal.unexpected();
    let rejected = |remedy: &str| refusal.rejected(remedy);
    match status {
        429 => Verdict::Throttled {
            cause: unexpected,
            budget: API_BUCKET,
            until: retry_after(cx.now, headers),
        },
        408 | 425 | 500..=599 => retry(unexpected),
        401 | 403 => rejected(
            "the signature was refused: check that the private key belongs to the public key id, the algorithm, the region and the host's clock",
        ),
        404 if call != Call::Create => Verdict::Fatal(Error::ReportFailed {
            provider: Provider::AmazonPay,
            failure: ReportFailure::NotFound,
            status: format!("404 {}", code.as_deref().unwrap_or("ResourceNotFound")),
            detail: format!(
                "{detail} — the report is unknown to this merchant account (reports are kept 90 days); create it again"
            ),
        }),
        _ => rejected("fix the report type, window, key id or region"),
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
        Call::Create => CREATE,
        Call::Status => STATUS,
        Call::Document => DOCUMENT,
        Call::Download => DOWNLOAD,
    }
}

fn malformed(endpoint: &str, detail: &str) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonPay,
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}
