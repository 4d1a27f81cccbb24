//! Pure simulators of every provider, with seeded fault plans (the `sim`
//! feature, off by default).
//!
//! A simulator is a function of `(now, request)` to a response: no sockets,
//! no clock, no randomness beyond its seed. The same simulators serve the
//! property tests (through [`Harness`]), the crate's doctests, the CLI's
//! `demo` and `sim` commands and the loopback HTTP server of the end-to-end
//! tests.
//!
//! [`Sandbox`] puts every provider's API behind one origin, each under its own
//! path prefix (`/amazon-ads/…`), and every provider's report files behind a
//! second origin (the download host), as production does: presigned links
//! live on S3 or a file host, never on the API's host, so a client that
//! follows a redirect drops its `Authorization` exactly as it would in
//! production. The sandbox records every request it sees.
//!
//! # Pieces
//! - [`SimRequest`] / [`SimResponse`]: a request as it goes on the wire
//!   (origin stripped, secrets exposed, since that is what a server sees) and
//!   the answer, including where the transport breaks off
//!   ([`SimResponse::disconnect_after`]).
//! - [`Sandbox`]: routes by path prefix, injects the faults of a
//!   [`FaultPlan`], keeps a secret-free [`LoggedRequest`] log, and knows the
//!   ground truth of every report ([`Sandbox::report_content`]).
//! - [`amazon_ads`]: the Amazon Ads Sponsored Display v2 simulator, its
//!   accepted [`credentials`](amazon_ads::credentials) and a
//!   [`sample_spec`](amazon_ads::sample_spec).
//! - [`lingxing`]: the Lingxing (领星) report-export simulator (signed
//!   requests, capacity-1 buckets, 5-minute links),
//!   [`credentials`](lingxing::credentials) and
//!   [`sample_spec`](lingxing::sample_spec).
//! - [`yandex_market`]: the Yandex Market Partner API report simulator
//!   (estimates, `X-RateLimit-*` headers and `420`s, 60-minute links, real
//!   ZIP archives of CSV/JSON members, XLSX stand-ins),
//!   [`credentials`](yandex_market::credentials) and
//!   [`sample_spec`](yandex_market::sample_spec).
//! - [`amazon_mws`]: the Amazon MWS Reports simulator (SigV2 verified on
//!   every request, the official quotas per seller, `Content-MD5` on every
//!   report, flat files in the marketplace's charset),
//!   [`credentials`](amazon_mws::credentials) and
//!   [`sample_spec`](amazon_mws::sample_spec).
//! - [`amazon_pay`]: the Amazon Pay v2 reports simulator (every signature
//!   verified with the merchant's public key, `x-amz-pay-date` skew,
//!   idempotency keys, 30-second document URLs on the download host),
//!   [`credentials`](amazon_pay::credentials) and
//!   [`sample_spec`](amazon_pay::sample_spec).
//! - [`amazon_sp_api`]: the Selling Partner API Reports simulator (LwA
//!   tokens, the model's per-operation usage plans with
//!   `x-amzn-RateLimit-Limit`, 5-minute document URLs on the download host,
//!   GZIP labels that lie, FATAL reports with error documents, Windows-31J
//!   flat files for Japan), [`credentials`](amazon_sp_api::credentials) and
//!   [`sample_spec`](amazon_sp_api::sample_spec).
//! - [`amazon_ads_v3`]: the Amazon Ads Reporting v3 simulator (statuses
//!   through `PENDING`/`PROCESSING`, 425 duplicates naming the report,
//!   hour-long urls on the download host),
//!   [`credentials`](amazon_ads_v3::credentials) and
//!   [`sample_spec`](amazon_ads_v3::sample_spec).
//! - [`keys`]: the simulated merchant's RSA key pair (test fixtures) and a
//!   deterministic RSASSA-PSS signer, which answers `Action::Sign`.
//! - [`Harness`]: drives a [`ReportJob`](crate::ReportJob) against a
//!   sandbox in virtual time; it is also the reference host loop.
//! - [`gzip_compress`], [`zip_archive`]: the writers of the bodies the
//!   simulators serve (hosts only read these formats, with
//!   [`integrity`](crate::integrity)).
//!
//! Report bodies depend only on the sandbox seed and the report's
//! parameters, never on time or on how many reports were requested, so a
//! run with faults ends with exactly the bytes of a run without them.
//!
//! ```
//! use reportflow::sim::{amazon_ads, Harness, Sandbox, SandboxConfig};
//! use reportflow::{providers::Provider, Millis, ReportJob};
//!
//! let start = Millis(1_709_251_200_000); // 2024-03-01T00:00:00Z
//! let sandbox = Sandbox::new(SandboxConfig::default().with_rows(20).with_faults("throttle,corrupt-body".parse()?));
//! let job = ReportJob::new(amazon_ads::sample_spec(start), sandbox.job_config(Provider::AmazonAds), amazon_ads::credentials(), start)?;
//! let run = Harness::new(job, sandbox, start).drive()?;
//! let summary = run.outcome?; // the job recovers from both faults
//! assert_eq!(summary.rows, 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::Any;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::http::{HttpRequest, Method};
use crate::integrity::{gunzip, Limits};
use crate::time::Millis;
use crate::JobConfig;
use crate::Provider;

pub mod amazon_ads;
pub mod amazon_ads_v3;
pub mod amazon_mws;
pub mod amazon_pay;
pub mod amazon_sp_api;
mod calendar;
mod faults;
mod harness;
pub mod keys;
pub mod lingxing;
mod lwa;
mod writers;
pub mod yandex_market;

pub use faults::{fault_answers, Fault, FaultParseError, FaultPlan, Times};
pub use harness::{ActionRecord, ChunkPlan, Harness, HarnessError, Interference, Run, Stepped};
pub use writers::{gzip_compress, zip_archive, ZipMember};

use faults::{FaultState, Opportunity};

/// The sample job of `provider`'s simulator: the spec and credentials the
/// CLI's `demo` and `fetch` defaults, the end-to-end tests and other hosts'
/// tests start from. `now` dates the report window where the provider wants
/// a recent one.
pub fn sample_job(provider: Provider, now: Millis) -> (crate::JobSpec, crate::Credentials) {
    match provider {
        Provider::AmazonAds => (amazon_ads::sample_spec(now), amazon_ads::credentials()),
        Provider::AmazonAdsV3 => (
            amazon_ads_v3::sample_spec(now),
            amazon_ads_v3::credentials(),
        ),
        Provider::AmazonMws => (amazon_mws::sample_spec(now), amazon_mws::credentials()),
        Provider::AmazonPay => (amazon_pay::sample_spec(now), amazon_pay::credentials()),
        Provider::AmazonSpApi => (
            amazon_sp_api::sample_spec(now),
            amazon_sp_api::credentials(),
        ),
        Provider::Lingxing => (lingxing::sample_spec(), lingxing::credentials()),
        Provider::YandexMarket => (
            yandex_market::sample_spec(now),
            yandex_market::credentials(),
        ),
    }
}

/// A request as the server sees it: method, target (path and query, no
/// origin), headers and body as they go on the wire.
///
/// Built from a job's [`HttpRequest`] with [`SimRequest::from_http`], or by a
/// loopback HTTP server from the bytes it read. It holds credentials in the
/// clear (that is what a server receives), so its `Debug` shows header names
/// and the body length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SimRequest {
    /// The origin the request was sent to (`http://127.0.0.1:1234`), when
    /// known. The sandbox answers API calls on its API origin and report
    /// files on its download origin only; a request without an origin (a
    /// hand-made one) is routed by its path alone.
    pub origin: Option<String>,
    /// HTTP method.
    pub method: Method,
    /// Path plus optional `?query`, e.g. `/amazon-ads/v2/reports/abc`.
    pub target: String,
    /// Headers as sent, names in their original case.
    pub headers: Vec<(String, String)>,
    /// Body as sent.
    pub body: Vec<u8>,
}

impl SimRequest {
    /// A request with no headers and no body.
    pub fn new(method: Method, target: impl Into<String>) -> Self {
        Self {
            origin: None,
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// What a server receives for `request`: the URL's scheme, host and port
    /// are stripped; secret headers and bodies are exposed.
    pub fn from_http(request: &HttpRequest) -> Self {
        Self {
            origin: origin_of(&request.url),
            method: request.method,
            target: target_of(&request.url),
            headers: request
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.expose().to_owned()))
                .collect(),
            body: request.body.expose().to_vec(),
        }
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The raw query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The first query parameter called `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for SimRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimRequest")
            .field("method", &self.method)
            .field("path", &self.path())
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The `scheme://host[:port]` of an absolute URL, lower-cased; `None` for a
/// relative target.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Strips `scheme://host[:port]` from an absolute URL; a relative target is
/// kept as it is.
fn target_of(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return if url.starts_with('/') {
            url.to_owned()
        } else {
            format!("/{url}")
        };
    };
    match rest.find(['/', '?']) {
        Some(at) => {
            let target = rest.get(at..).unwrap_or("/");
            if target.starts_with('?') {
                format!("/{target}")
            } else {
                target.to_owned()
            }
        }
        None => "/".to_owned(),
    }
}

/// Query parameters that carry credentials: Lingxing's token and sign, and
/// the signature parts of presigned S3 links.
const SECRET_QUERY_PARAMS: &[&str] = &[
    "access_token",
    "sign",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "Signature",
];

/// A query string with the values of credential parameters replaced, so
/// logs and traces stay secret-free while the rest stays readable.
pub(crate) fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_QUERY_PARAMS.contains(&name) => {
                format!("{name}=redacted")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A simulator's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct SimResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body (complete, even when the transport breaks off early).
    pub body: Vec<u8>,
    /// When set, the transport drops the connection after this many body
    /// bytes: the host delivers them and then reports a reset connection
    /// instead of the end of the body.
    pub disconnect_after: Option<usize>,
}

impl SimResponse {
    /// A response with a status, no headers and no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("Content-Length".to_owned(), "0".to_owned())],
            body: Vec::new(),
            disconnect_after: None,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::bytes(status, "application/json", value.to_string().into_bytes())
    }

    /// An XML response (S3's error documents).
    pub fn xml(status: u16, text: &str) -> Self {
        Self::bytes(status, "application/xml", text.as_bytes().to_vec())
    }

    /// A response with a body of the given content type and a matching
    /// `Content-Length`.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".to_owned(), content_type.to_owned()),
                ("Content-Length".to_owned(), body.len().to_string()),
            ],
            body,
            disconnect_after: None,
        }
    }

    /// The same response with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The 404 of a host asked for something the other host serves: the
    /// API host has no report files, the download host no API.
    fn wrong_host(method: Method, path: &str, reached: Host) -> Self {
        let details = match reached {
            Host::Api => "report files are served by the download host, not the API host",
            Host::Downloads => "the download host serves report files only",
        };
        Self::json(
            404,
            &serde_json::json!({
                "code": "NOT_FOUND",
                "details": format!("{details} ({} {path})", method.as_str()),
            }),
        )
    }

    /// A JSON 404 for paths no simulator serves.
    fn not_found(method: Method, path: &str) -> Self {
        Self::json(
            404,
            &serde_json::json!({
                "code": "NOT_FOUND",
                "details": format!("no simulator route for {} {path}", method.as_str()),
            }),
        )
    }
}

impl fmt::Debug for SimResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies can hold tokens (LwA answers): show their size only.
        f.debug_struct("SimResponse")
            .field("status", &self.status)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .field("disconnect_after", &self.disconnect_after)
            .finish()
    }
}

/// One request as the sandbox saw it. Holds no header values and no bodies
/// (they carry credentials), so logs can be printed and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LoggedRequest {
    /// When the sandbox handled it.
    pub at: Millis,
    /// The origin that served it: the sandbox's API origin or its download
    /// origin ([`SandboxConfig::download_base_url`]).
    pub origin: String,
    /// HTTP method.
    pub method: Method,
    /// Path (without the query).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Header names, lowercased, in the order sent.
    pub header_names: Vec<String>,
    /// Status of the answer.
    pub status: u16,
    /// The simulator that answered (`None` for unknown paths).
    pub provider: Option<Provider>,
    /// The fault injected into this exchange, if any.
    pub fault: Option<Fault>,
    /// The operation the request named where the path does not say it
    /// (MWS's `Action`, e.g. `RequestReport`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Where that operation's parameters came: `query` or `form` (a form
    /// body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_in: Option<String>,
}

impl LoggedRequest {
    /// Whether the request carried a header called `name` (any case).
    pub fn has_header(&self, name: &str) -> bool {
        self.header_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// How a [`Sandbox`] behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// Public origin of the simulated APIs, e.g. `http://127.0.0.1:1234`
    /// (no trailing slash). Status `location`s use it.
    pub base_url: String,
    /// Public origin of the download host, e.g. `http://127.0.0.1:1235`: the
    /// presigned report links (S3 for Amazon Ads, the document host behind
    /// Lingxing, Yandex's file host) point here, never at `base_url`.
    pub download_base_url: String,
    /// Seeds report contents, ids, tokens and fault positions.
    pub seed: u64,
    /// Faults to inject.
    pub faults: FaultPlan,
    /// How long a report takes to generate, in ms.
    pub generation_ms: u64,
    /// Rows per report.
    pub rows: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            base_url: "http://sandbox.reportflow.test".to_owned(),
            download_base_url: "http://downloads.sandbox.reportflow.test".to_owned(),
            seed: 0,
            faults: FaultPlan::none(),
            generation_ms: 2_000,
            rows: 2_000,
        }
    }
}

impl SandboxConfig {
    /// The default configuration at another origin.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }

    /// The same configuration with another seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same configuration with a fault plan.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// The same configuration with another generation delay.
    #[must_use]
    pub fn with_generation_ms(mut self, generation_ms: u64) -> Self {
        self.generation_ms = generation_ms;
        self
    }

    /// The same configuration with another row count.
    #[must_use]
    pub fn with_rows(mut self, rows: u32) -> Self {
        self.rows = rows;
        self
    }

    /// The same configuration at another origin.
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The same configuration with another download origin.
    #[must_use]
    pub fn with_download_base_url(mut self, download_base_url: impl Into<String>) -> Self {
        self.download_base_url = download_base_url.into();
        self
    }

    fn origin(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    fn download_origin(&self) -> &str {
        self.download_base_url.trim_end_matches('/')
    }

    /// Where the download links of `provider`'s simulator point, e.g.
    /// `http://127.0.0.1:1235/amazon-ads`.
    pub(crate) fn download_base_for(&self, provider: Provider) -> String {
        format!("{}/{}", self.download_origin(), provider.as_str())
    }

    /// Where `provider`'s simulated API lives, e.g.
    /// `http://127.0.0.1:1234/amazon-ads`.
    pub(crate) fn api_base_for(&self, provider: Provider) -> String {
        format!("{}/{}", self.origin(), provider.as_str())
    }
}

/// Which of the sandbox's two hosts a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Api,
    Downloads,
}

/// What a provider simulator sees of the sandbox while it answers.
pub(crate) struct SimCx<'a> {
    pub(crate) now: Millis,
    faults: &'a mut FaultState,
    /// The faults the answering simulator implements, with their answers.
    supported: &'static [(Fault, &'static str)],
    fired: Option<Fault>,
}

impl SimCx<'_> {
    /// Takes the next fault planned for `opportunity`, if any, and notes it
    /// for the log.
    pub(crate) fn fault(&mut self, opportunity: Opportunity) -> Option<Fault> {
        let fault = self.faults.take(opportunity, self.supported)?;
        self.fired = Some(fault);
        Some(fault)
    }

    /// How often `fault` fired before (including a firing in this exchange).
    pub(crate) fn fired(&self, fault: Fault) -> u32 {
        self.faults.fired(fault)
    }

    /// The salt from which a simulator picks the byte a `CorruptBody`
    /// firing flips: it changes with every firing, so a retried download
    /// is corrupted elsewhere, as a flaky network would.
    pub(crate) fn corruption_salt(&self) -> u64 {
        0x636f_7272 ^ u64::from(self.fired(Fault::CorruptBody))
    }
}

/// The `TruncatedGzip` fault on a body: the last third is cut (at least one
/// byte), so the gzip trailer or ZIP central directory is always gone.
pub(crate) fn truncate_body(body: &mut Vec<u8>) {
    let keep = (body.len() * 2 / 3).min(body.len().saturating_sub(1));
    body.truncate(keep);
}

/// Flips one byte of a gzip body so that it no longer decodes to `json` (the `corrupt-body` fault).
///
/// The position starts from `random`, past the 10-byte header (whose
/// MTIME/XFL/OS bytes no check covers). Some deflate bytes can be flipped
/// without changing the output (zlib agrees), so each candidate is checked
/// and the next one tried; the trailer's CRC-32 is the last resort.
pub(crate) fn corrupt(body: &mut [u8], json: &[u8], random: u64) {
    let len = body.len();
    let span = len.saturating_sub(10).max(1);
    let start = (random % span as u64) as usize;
    for offset in 0..span.min(64) {
        let at = 10 + (start + offset) % span;
        let Some(byte) = body.get_mut(at) else {
            continue;
        };
        *byte ^= 0xff;
        if !matches!(gunzip(body, Limits::default()), Ok(decoded) if decoded == json) {
            return;
        }
        if let Some(byte) = body.get_mut(at) {
            *byte ^= 0xff;
        }
    }
    if let Some(byte) = body.get_mut(len.saturating_sub(8)) {
        *byte ^= 0xff;
    }
}

/// FNV-1a of `text`: a hash that, unlike std's, stays the same across
/// releases and platforms, so simulated contents and ids derived from
/// request keys are reproducible.
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Percent-encodes a path segment (ids and names are opaque), a space as
/// `%20`: `+` means a space only in query strings.
pub(crate) fn encode_segment(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Percent-decodes a path segment; malformed escapes stay as they are.
pub(crate) fn decode_segment(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// An S3-style XML error document (the presigned download hosts).
pub(crate) fn s3_error(status: u16, code: &str, message: &str, extra: &str) -> SimResponse {
    SimResponse::xml(
        status,
        &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>SIMULATOR</RequestId></Error>"),
    )
}

/// One provider's simulator behind the sandbox.
pub(crate) trait ProviderSim: fmt::Debug + Send + Sync {
    /// The provider; its name is the path prefix (`/amazon-ads`).
    fn provider(&self) -> Provider;
    /// Answers a request whose path, prefix removed, is `path`.
    fn handle(&mut self, cx: &mut SimCx<'_>, request: &SimRequest, path: &str) -> SimResponse;
    /// The path prefix (after the provider's own) of the report files this
    /// simulator serves on the download host, e.g. `/_s3/`.
    fn download_prefix(&self) -> &'static str;
    /// The decoded bytes of a report this simulator created.
    fn report_content(&self, report_id: &str) -> Option<Vec<u8>>;
    /// The faults this simulator implements, with what each answers here.
    /// Others in a plan never fire at (and are not used up by) this
    /// simulator's requests.
    fn fault_answers(&self) -> &'static [(Fault, &'static str)];
    /// The operation a request names and where its parameters came
    /// (`query` or `form`), for APIs whose path does not say it (MWS).
    fn operation(&self, _request: &SimRequest) -> Option<(String, &'static str)> {
        None
    }
    /// Requests refused because the account's quota was spent (fault
    /// injections not counted): what a well-paced host never causes. Zero
    /// for simulators whose provider publishes no quota they enforce.
    fn quota_violations(&self) -> u32 {
        0
    }
    fn box_clone(&self) -> Box<dyn ProviderSim>;
    fn as_any(&self) -> &dyn Any;
    /// Mutable access, for simulators whose state tests set up directly
    /// (Amazon Pay's schedules); `None` for the others.
    fn as_any_mut(&mut self) -> Option<&mut dyn Any> {
        None
    }
}

impl Clone for Box<dyn ProviderSim> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Every provider simulator behind one origin, with a fault plan and a
/// request log.
///
/// Routes by the first path segment, which is the provider's name:
/// `/amazon-ads/…` goes to [`amazon_ads::Simulator`]. Unknown paths get a
/// JSON 404. Cloning a sandbox clones its whole state (used to fork twin
/// runs in property tests).
#[derive(Debug, Clone)]
pub struct Sandbox {
    config: SandboxConfig,
    faults: FaultState,
    sims: Vec<Box<dyn ProviderSim>>,
    log: Vec<LoggedRequest>,
}

impl Sandbox {
    /// A sandbox with every simulator, in its initial state.
    pub fn new(config: SandboxConfig) -> Self {
        // One line per provider.
        let sims: Vec<Box<dyn ProviderSim>> = vec![
            Box::new(amazon_ads::Simulator::new(&config)),
            Box::new(lingxing::Simulator::new(&config)),
            Box::new(yandex_market::Simulator::new(&config)),
            Box::new(amazon_mws::Simulator::new(&config)),
            Box::new(amazon_pay::Simulator::new(&config)),
            Box::new(amazon_sp_api::Simulator::new(&config)),
            Box::new(amazon_ads_v3::Simulator::new(&config)),
        ];
        Self {
            faults: FaultState::new(&config.faults),
            config,
            sims,
            log: Vec::new(),
        }
    }

    /// The configuration the sandbox was built with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Answers one request at `now` and logs it.
    ///
    /// A request that names its origin is answered only by the host it
    /// reached: API calls on the API origin, report files on the download
    /// origin; the other host answers 404 as a real one would.
    pub fn handle(&mut self, now: Millis, request: &SimRequest) -> SimResponse {
        let path = request.path().to_owned();
        let reached = request.origin.as_deref().map(|origin| {
            if origin.eq_ignore_ascii_case(self.config.download_origin()) {
                Host::Downloads
            } else {
                Host::Api
            }
        });
        let routed = self.sims.iter_mut().find_map(|sim| {
            let prefix = sim.provider().as_str();
            let rest = path.strip_prefix('/')?.strip_prefix(prefix)?;
            (rest.is_empty() || rest.starts_with('/')).then_some((sim, rest))
        });
        let operation = routed.as_ref().and_then(|(sim, _)| sim.operation(request));
        let (host, provider, response, fault) = match routed {
            Some((sim, rest)) => {
                let rest = if rest.is_empty() { "/" } else { rest };
                let serves = if rest.starts_with(sim.download_prefix()) {
                    Host::Downloads
                } else {
                    Host::Api
                };
                match reached {
                    Some(host) if host != serves => {
                        let response = SimResponse::wrong_host(request.method, &path, host);
                        (host, Some(sim.provider()), response, None)
                    }
                    _ => {
                        let mut cx = SimCx {
                            now,
                            faults: &mut self.faults,
                            supported: sim.fault_answers(),
                            fired: None,
                        };
                        let response = sim.handle(&mut cx, request, rest);
                        (serves, Some(sim.provider()), response, cx.fired)
                    }
                }
            }
            None => (
                reached.unwrap_or(Host::Api),
                None,
                SimResponse::not_found(request.method, &path),
                None,
            ),
        };
        let origin = match host {
            Host::Api => self.config.origin(),
            Host::Downloads => self.config.download_origin(),
        };
        self.log.push(LoggedRequest {
            at: now,
            origin: origin.to_owned(),
            method: request.method,
            path,
            query: request.query().map(redact_query),
            header_names: request
                .headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect(),
            status: response.status,
            provider,
            fault,
            params_in: operation.as_ref().map(|(_, place)| (*place).to_owned()),
            operation: operation.map(|(name, _)| name),
        });
        response
    }

    /// Requests any simulator refused because an account's quota was spent
    /// (Yandex's `420`s, MWS's `RequestThrottled`/`QuotaExceeded`; fault
    /// injections not counted): zero for a host that paces its jobs within
    /// the published quotas.
    pub fn quota_violations(&self) -> u32 {
        self.sims
            .iter()
            .map(|sim| sim.quota_violations())
            .fold(0, u32::saturating_add)
    }

    /// Every request handled so far, in order.
    pub fn requests(&self) -> &[LoggedRequest] {
        &self.log
    }

    /// The decoded bytes of a report the sandbox created (the ground truth a
    /// job's output must equal).
    pub fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        self.sims
            .iter()
            .find_map(|sim| sim.report_content(report_id))
    }

    /// The API origin plus the provider's prefix, e.g.
    /// `http://127.0.0.1:1234/amazon-ads`.
    pub fn base_url_for(&self, provider: Provider) -> String {
        self.config.api_base_for(provider)
    }

    /// A default [`JobConfig`] whose API and auth origins point at this
    /// sandbox, with the sandbox's seed for jitter.
    pub fn job_config(&self, provider: Provider) -> JobConfig {
        let mut config = JobConfig::default();
        config.base_url = Some(self.base_url_for(provider));
        config.auth_base_url = Some(self.base_url_for(provider));
        config.seed = self.config.seed;
        config
    }

    /// A provider simulator by type, e.g. `sandbox.simulator::<amazon_ads::Simulator>()`.
    pub fn simulator<T: Any>(&self) -> Option<&T> {
        self.sims
            .iter()
            .find_map(|sim| sim.as_any().downcast_ref::<T>())
    }

    /// A provider simulator by type, to set up its state directly (only
    /// simulators that allow it, e.g. Amazon Pay's schedules).
    pub fn simulator_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.sims
            .iter_mut()
            .find_map(|sim| sim.as_any_mut().and_then(|any| any.downcast_mut::<T>()))
    }

    /// How many times `fault` has fired so far.
    pub fn fired(&self, fault: Fault) -> u32 {
        self.faults.fired(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Body, Header, RedirectPolicy, RequestId, ResponseLimits};

    #[test]
    fn from_http_strips_the_origin_and_exposes_what_goes_on_the_wire() {
        let request = HttpRequest {
            id: RequestId::new(3),
            method: Method::Get,
            url: "http://127.0.0.1:8080/amazon-ads/_s3/x.json.gz?X-Amz-Expires=30&a=b%20c".into(),
            endpoint: "GET {link}",
            headers: vec![
                Header::secret("Authorization", "Bearer s3cret"),
                Header::plain("Accept", "*/*"),
            ],
            body: Body::Empty,
            limits: ResponseLimits {
                max_header_bytes: 1,
                max_body_bytes: 1,
            },
            timeout_ms: 1,
            send_before: None,
            redirect: RedirectPolicy::Follow,
        };
        let sim = SimRequest::from_http(&request);
        assert_eq!(
            sim.target,
            "/amazon-ads/_s3/x.json.gz?X-Amz-Expires=30&a=b%20c"
        );
        assert_eq!(sim.path(), "/amazon-ads/_s3/x.json.gz");
        assert_eq!(sim.query_param("a").as_deref(), Some("b c"));
        assert_eq!(sim.header("AUTHORIZATION"), Some("Bearer s3cret"));
        assert!(!format!("{sim:?}").contains("s3cret"));
        assert_eq!(target_of("https://h"), "/");
        assert_eq!(target_of("https://h?x=1"), "/?x=1");
        assert_eq!(target_of("/p"), "/p");
    }

    #[test]
    fn unknown_paths_get_a_json_404_and_are_logged() {
        let mut sandbox = Sandbox::new(SandboxConfig::default());
        for path in ["/nope", "/amazon-adsx/v2/reports/1", "/"] {
            let response = sandbox.handle(Millis(5), &SimRequest::new(Method::Get, path));
            assert_eq!(response.status, 404, "{path}");
            assert!(response
                .header("content-type")
                .is_some_and(|v| v.contains("json")));
        }
        assert_eq!(sandbox.requests().len(), 3);
        assert_eq!(sandbox.requests().first().map(|r| r.provider), Some(None));
    }

    #[test]
    fn report_links_live_on_the_download_host_and_each_host_serves_only_its_own() {
        let start = Millis(1_709_251_200_000);
        let jobs = [
            (amazon_ads::sample_spec(start), amazon_ads::credentials()),
            (lingxing::sample_spec(), lingxing::credentials()),
            (
                yandex_market::sample_spec(start),
                yandex_market::credentials(),
            ),
        ];
        for (spec, credentials) in jobs {
            let provider = spec.provider();
            let sandbox = Sandbox::new(SandboxConfig::default().with_rows(5));
            let config = sandbox.job_config(provider);
            let job = crate::ReportJob::new(spec, config, credentials, start).expect("a valid job");
            // Played as a browser: every redirect followed, Authorization
            // dropped only when the redirect leaves the origin.
            let mut harness = Harness::new(job, sandbox, start).follow_redirects(true);
            let run = harness.drive().expect("the job ends");
            assert!(run.outcome.is_ok(), "{provider}: {:?}", run.outcome);
            let sandbox = harness.sandbox();
            let api = sandbox.config().origin().to_owned();
            let downloads = sandbox.config().download_origin().to_owned();
            assert_ne!(api, downloads);
            let served: Vec<(bool, &str)> = sandbox
                .requests()
                .iter()
                .map(|r| (r.path.contains("/_"), r.origin.as_str()))
                .collect();
            assert!(
                served.iter().any(|(file, _)| *file),
                "{provider}: a download"
            );
            for (file, origin) in served {
                assert_eq!(origin, if file { &downloads } else { &api }, "{provider}");
            }
        }

        let mut sandbox = Sandbox::new(SandboxConfig::default());
        let mut on = |origin: &str, target: &str| {
            let mut request = SimRequest::new(Method::Get, target);
            request.origin = Some(origin.to_owned());
            sandbox.handle(Millis(5), &request).status
        };
        assert_eq!(
            on(
                "http://sandbox.reportflow.test",
                "/amazon-ads/_s3/x.json.gz"
            ),
            404,
            "the API host has no report files"
        );
        assert_eq!(
            on(
                "http://downloads.sandbox.reportflow.test",
                "/amazon-ads/v2/reports/x"
            ),
            404,
            "the download host has no API"
        );
        assert_eq!(
            sandbox
                .requests()
                .iter()
                .map(|r| r.origin.as_str())
                .collect::<Vec<_>>(),
            [
                "http://sandbox.reportflow.test",
                "http://downloads.sandbox.reportflow.test"
            ]
        );
    }

    #[test]
    fn urls_point_at_the_sandbox() {
        let sandbox = Sandbox::new(SandboxConfig::new("http://127.0.0.1:9/"));
        assert_eq!(
            sandbox.base_url_for(Provider::AmazonAds),
            "http://127.0.0.1:9/amazon-ads"
        );
        let config = sandbox.job_config(Provider::AmazonAds);
        assert_eq!(
            config.base_url.as_deref(),
            Some("http://127.0.0.1:9/amazon-ads")
        );
        assert!(sandbox.simulator::<amazon_ads::Simulator>().is_some());
    }
}
