//! The SP-API Reports 2021-06-30 lifecycle: the request of each call and the
//! verdict on each answer. Pacing, budgets, links and the download policy
//! are the shared lifecycle's (`providers::lifecycle`).
//!
//! Rules that shape it:
//! - one create per job: a create whose answer was lost (or a restored job
//!   that sent one) lists the reports created since (`getReports`) and
//!   continues the one that matches; only if none is listed is the report
//!   created again;
//! - every operation draws from its own documented bucket (rate and burst),
//!   retuned by the rate `x-amzn-RateLimit-Limit` says was applied;
//! - the 5-minute document URL is fetched with nothing of SP-API on it and
//!   never persisted; an expired or broken one is replaced by another
//!   getReportDocument answer, never by a new report;
//! - a FATAL report's error document is downloaded at most once, and its
//!   text ends the job.

use serde::{Deserialize, Serialize};

use super::config::{api_origin, Credentials, ReportSpec, AUTH_ORIGIN};
use super::wire;
use crate::action::{Event, Phase, WaitReason};
use crate::calendar;
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::http::{header_number, Body, Header};
use crate::integrity::{gunzip, Compression, Limits};
use crate::providers::contract::MAX_RETUNED_REFILL_MS;
use crate::providers::{
    encode_segment, excerpt, is_http_url, judge_link_status, lwa, parse_json, Cx, ExchangeFailure,
    Lifecycle, Outgoing, Protocol, Provider, Refusal, ReportBody, Response, Verdict,
};
use crate::rate::TokenBucket;
use crate::time::Millis;

const FIND: &str = "GET /reports/2021-06-30/reports";
const CREATE: &str = "POST /reports/2021-06-30/reports";
const STATUS: &str = "GET /reports/2021-06-30/reports/{reportId}";
const DOCUMENT: &str = "GET /reports/2021-06-30/documents/{reportDocumentId}";
const DOWNLOAD: &str = "GET <report document URL>";
const ERROR_DOWNLOAD: &str = "GET <error document URL>";

/// Report document URLs live 5 minutes (`ReportDocument.url`).
pub(crate) const LINK_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// A download does not start with less than this left on its URL.
const LINK_MARGIN_MS: u64 = 10_000;
/// How far back adopt-before-create looks (reports live 90 days; a report
/// older than a day is rarely what a retried job means).
const ADOPT_LOOKBACK_MS: u64 = 24 * 3600 * 1000;
/// A lost create is looked for from this long before it was sent: the
/// host's clock and Amazon's differ (and a host's may have jumped), and a
/// report of the same type, marketplaces and window created a little
/// earlier holds the same data anyway.
const RECOVER_MARGIN_MS: u64 = 60 * 60 * 1000;
/// Most getReports pages one search reads (100 reports each): a search
/// that finds nothing in the newest 1,000 reports of the type ends as if
/// none matched.
const MAX_FIND_PAGES: u32 = 10;
/// Longest `nextToken` the job follows (and keeps in its snapshot).
const MAX_PAGE_TOKEN_BYTES: usize = 4096;
/// Longest id Amazon hands out that the job will put in a URL.
const MAX_ID_BYTES: usize = 256;
/// Most bytes of an error document read (it is a short text; more is
/// not a message).
const MAX_ERROR_DOCUMENT_BYTES: u64 = 64 << 10;

/// The documented usage plan of each operation: (bucket, burst, one token
/// every ms). The rates are 0.0222/s, 0.0167/s, 2/s and 0.0167/s.
pub(crate) const BUCKETS: [(&str, u32, u64); 4] = [
    (FIND_BUCKET, 10, 45_000),
    (CREATE_BUCKET, 15, 60_000),
    (STATUS_BUCKET, 15, 500),
    (DOCUMENT_BUCKET, 15, 60_000),
];
/// `getReports`' bucket.
pub(crate) const FIND_BUCKET: &str = "amazon-sp-api:getReports";
/// `createReport`'s bucket.
pub(crate) const CREATE_BUCKET: &str = "amazon-sp-api:createReport";
/// `getReport`'s bucket.
pub(crate) const STATUS_BUCKET: &str = "amazon-sp-api:getReport";
/// `getReportDocument`'s bucket.
pub(crate) const DOCUMENT_BUCKET: &str = "amazon-sp-api:getReportDocument";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stage {
    /// Listing recent reports for one to continue (adopt, or recovery of a
    /// lost create).
    Find,
    Create,
    Poll,
    Document,
    Download,
    /// The report is FATAL: fetching the error document's URL…
    ErrorDocument,
    /// …and the error document itself (once).
    ErrorDownload,
}

/// What a `getReports` call looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "camelCase")]
enum Finding {
    /// Adopt before create: a live report (queued, in progress or done) of
    /// the same type, marketplaces and window, created in the last day.
    Adopt,
    /// A create went out and its answer was lost: any report of the same
    /// type, marketplaces and window created since `since`.
    Recover { since: Millis },
}

crate::json_fields::deserialize_tagged! {
    Finding, tag = "mode", fields = Verbatim;
    "adopt" => Adopt,
    "recover" => Recover { since },
}


/// A getReports search that goes on to the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct FindPage {
    /// The `nextToken` of the last page read.
    next_token: String,
    /// Pages read so far.
    pages: u32,
    /// The best match on the pages read so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    best: Option<Candidate>,
}

crate::json_fields::deserialize_struct! {
    FindPage, fields = Camel, unknown = Ignore;
    next_token, pages, best
}


/// A listed report that matches the job, and how good a match it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    report_id: String,
    /// 2 for a DONE report when adopting (ready beats in progress), else 1.
    rank: u8,
    /// `createdTime` in seconds since the epoch (newer wins a tie in rank).
    created: i64,
}

crate::json_fields::deserialize_struct! {
    Candidate, fields = Camel, unknown = Ignore;
    report_id, rank, created
}


/// The calls of an SP-API report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Token,
    Find,
    Create,
    Status,
    Document,
    Download,
    ErrorDocument,
    ErrorDownload,
}

/// The SP-API Reports protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    finding: Option<Finding>,
    /// The search reads another page next (`None`: the first page).
    #[serde(skip_serializing_if = "Option::is_none")]
    find_page: Option<FindPage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_id: Option<String>,
    /// The FATAL report's error document was asked for (never twice).
    error_fetched: bool,
    polls: u32,
    refreshed_after_401: bool,
    // A secret: a restored job fetches a token.
    #[serde(skip)]
    lwa: lwa::Session,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, finding, find_page, document_id, error_fetched = default, polls, refreshed_after_401, lwa = skip
}


impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonSpApi;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;
    const RETUNES_RATES: bool = true;

    fn create(spec: ReportSpec, _config: &JobConfig, _now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        let (stage, finding) = if spec.adopt_existing {
            (Stage::Find, Some(Finding::Adopt))
        } else {
            (Stage::Create, None)
        };
        Ok(Self {
            spec,
            stage,
            finding,
            find_page: None,
            document_id: None,
            error_fetched: false,
            polls: 0,
            refreshed_after_401: false,
            lwa: lwa::Session::default(),
        })
    }

    fn rate_budgets(&self, now: Millis) -> Vec<TokenBucket> {
        BUCKETS
            .iter()
            .map(|(name, burst, refill)| TokenBucket::new(name, *burst, *refill, now))
            .collect()
    }

    fn check_restored(&self, life: &Lifecycle<Call>) -> Result<(), RestoreError> {
        self.spec.validate()?;
        let before_report = matches!(self.stage, Stage::Find | Stage::Create);
        if !before_report && life.report_id().is_none() {
            return Err(RestoreError::invalid(format!(
                "stage {:?} without a report id",
                self.stage
            )));
        }
        if (self.stage == Stage::Find) != self.finding.is_some() {
            return Err(RestoreError::invalid(
                "a getReports search must go with the Find stage",
            ));
        }
        if let Some(page) = &self.find_page {
            let usable = self.stage == Stage::Find
                && !page.next_token.is_empty()
                && page.next_token.len() <= MAX_PAGE_TOKEN_BYTES
                && page.pages < MAX_FIND_PAGES
                && page.best.as_ref().map_or(true, |c| valid_id(&c.report_id));
            if !usable {
                return Err(RestoreError::invalid(
                    "the getReports page to read next is not usable",
                ));
            }
        }
        let document_ok = self.document_id.as_deref().map_or(true, valid_id);
        let needs_document = matches!(
            self.stage,
            Stage::Document | Stage::Download | Stage::ErrorDocument | Stage::ErrorDownload
        );
        if !document_ok || (needs_document && self.document_id.is_none()) {
            return Err(RestoreError::invalid(
                "the report document id is missing or not an id",
            ));
        }
        Ok(())
    }

    fn check_credentials(credentials: &Credentials) -> Result<(), ConfigError> {
        credentials.check()
    }

    fn install(&mut self, credentials: &Credentials) {
        self.lwa.install(credentials);
    }

    fn forget_secrets(&mut self) {
        self.lwa.forget();
    }

    fn phase(&self, life: &Lifecycle<Call>) -> Phase {
        if life.in_flight() == Some(Call::Token) {
            return Phase::Authorizing;
        }
        match self.stage {
            Stage::Find | Stage::Create => Phase::Creating,
            Stage::Poll => Phase::Polling,
            Stage::Document | Stage::ErrorDocument => Phase::ResolvingLink,
            Stage::Download | Stage::ErrorDownload => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        let has_link = life.usable_link(cx.now, LINK_MARGIN_MS).is_some();
        match self.stage {
            Stage::Download if has_link => return Call::Download,
            // Lapsed before we got to it, or lost in a restore.
            Stage::Download => self.stage = Stage::Document,
            // Asked for already (the job was restored meanwhile): the
            // request refuses to ask twice.
            Stage::ErrorDownload if has_link || self.error_fetched => return Call::ErrorDownload,
            Stage::ErrorDownload => self.stage = Stage::ErrorDocument,
            _ => {}
        }
        if self.lwa.needs_token(cx.now) {
            return Call::Token;
        }
        match self.stage {
            Stage::Find => Call::Find,
            Stage::Create => Call::Create,
            Stage::Poll => Call::Status,
            Stage::Document | Stage::Download => Call::Document,
            Stage::ErrorDocument | Stage::ErrorDownload => Call::ErrorDocument,
        }
    }

    fn budgets(call: Call) -> &'static [&'static str] {
        match call {
            Call::Find => &[FIND_BUCKET],
            Call::Create => &[CREATE_BUCKET],
            Call::Status => &[STATUS_BUCKET],
            Call::Document | Call::ErrorDocument => &[DOCUMENT_BUCKET],
            Call::Token | Call::Download | Call::ErrorDownload => &[],
        }
    }

    fn authorizes(call: Call) -> bool {
        call == Call::Token
    }

    fn creates(call: Call) -> bool {
        call == Call::Create
    }

    /// SP-API lists recent reports: a lost create is looked for with
    /// `getReports` (persisted as the Find stage), and created again only
    /// if no matching report was created since it went out.
    fn recover_create(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> bool {
        let sent = life.create_sent.take().unwrap_or(cx.now);
        self.stage = Stage::Find;
        self.finding = Some(Finding::Recover {
            since: Millis(sent.as_u64().saturating_sub(RECOVER_MARGIN_MS)),
        });
        true
    }

    fn request(
        &mut self,
        life: &Lifecycle<Call>,
        call: Call,
        cx: &Cx<'_>,
        credentials: &Credentials,
    ) -> Result<Outgoing, Error> {
        let api = format!(
            "{}/reports/2021-06-30",
            cx.api_origin(api_origin(self.spec.region))
        );
        let ids = self
            .spec
            .marketplace_ids()
            .map_err(|e| Error::internal(format!("validated marketplaces stopped resolving: {e}")))?;
        Ok(match call {
            Call::Token => lwa::Session::request(cx.auth_origin(AUTH_ORIGIN), credentials),
            Call::Find if self.find_page.is_some() => {
                let token = self.find_page.as_ref().map_or("", |p| p.next_token.as_str());
                // The model: the token is the only parameter of a next page.
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("nextToken", token)
                    .finish();
                Outgoing::get(FIND, format!("{api}/reports?{query}"), self.api_headers())
            }
            Call::Find => {
                let finding = self.finding.unwrap_or(Finding::Adopt);
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("reportTypes", &self.spec.report_type);
                let since = match finding {
                    Finding::Adopt => {
                        query.append_pair("processingStatuses", "IN_QUEUE,IN_PROGRESS,DONE");
                        Millis(cx.now.as_u64().saturating_sub(ADOPT_LOOKBACK_MS))
                    }
                    Finding::Recover { since } => since,
                };
                query
                    .append_pair("marketplaceIds", &ids.join(","))
                    .append_pair("pageSize", "100")
                    .append_pair("createdSince", &calendar::rfc3339(since));
                let url = format!("{api}/reports?{}", query.finish());
                Outgoing::get(FIND, url, self.api_headers())
            }
            Call::Create => {
                let mut body = serde_json::json!({
                    "reportType": self.spec.report_type,
                    "marketplaceIds": ids,
                });
                if let Some(fields) = body.as_object_mut() {
                    for (name, value) in [
                        ("dataStartTime", &self.spec.data_start_time),
                        ("dataEndTime", &self.spec.data_end_time),
                    ] {
                        if let Some(value) = value {
                            fields.insert(name.to_owned(), value.clone().into());
                        }
                    }
                    if !self.spec.report_options.is_empty() {
                        fields.insert(
                            "reportOptions".to_owned(),
                            serde_json::json!(self.spec.report_options),
                        );
                    }
                }
                let body = serde_json::to_vec(&body)
                    .map_err(|e| Error::internal(format!("{CREATE} body: {e}")))?;
                let mut headers = self.api_headers();
                headers.push(Header::plain("content-type", "application/json"));
                Outgoing::post(CREATE, format!("{api}/reports"), headers, Body::Plain(body))
            }
            Call::Status => {
                let id = encode_segment(life.require_report_id(STATUS)?);
                Outgoing::get(STATUS, format!("{api}/reports/{id}"), self.api_headers())
            }
            Call::Document | Call::ErrorDocument => {
                let id = self
                    .document_id
                    .as_deref()
                    .ok_or_else(|| Error::internal(format!("{DOCUMENT} without a document id")))?;
                let url = format!("{api}/documents/{}", encode_segment(id));
                Outgoing::get(DOCUMENT, url, self.api_headers())
            }
            Call::Download => life.download(DOWNLOAD, self.report_body())?,
            Call::ErrorDownload => {
                let link = life.link().filter(|_| !self.error_fetched);
                let Some(link) = link else {
                    // Asked for once already (a restored job): say so.
                    return Err(fatal(
                        "FATAL",
                        "the error document was asked for once and its answer was lost; see the report in Seller Central".to_owned(),
                    ));
                };
                self.error_fetched = true;
                Outgoing {
                    send_before: Some(link.expires_at),
                    ..Outgoing::get(ERROR_DOWNLOAD, link.url.clone(), Vec::new())
                }
            }
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
        match call {
            Call::Token => {
                return self
                    .lwa
                    .on_reply(Provider::AmazonSpApi, cx, status, &headers, &body)
            }
            Call::Download => {
                return judge_link_status(Provider::AmazonSpApi, DOWNLOAD, status, &body)
            }
            Call::ErrorDownload => return error_document(status, &body),
            _ => {}
        }
        observe_rate(life, cx.now, call, &headers);
        if !(200..300).contains(&status) {
            return self.api_failure(call, status, &body);
        }
        self.refreshed_after_401 = false;
        match call {
            Call::Find => self.on_found(life, cx, &body),
            Call::Create => self.on_created(life, cx, &body),
            Call::Status => self.on_status(life, cx, &body),
            _ => self.on_document(life, cx, call, &body),
        }
    }

    fn on_failure(
        &mut self,
        _life: &mut Lifecycle<Call>,
        _cx: &mut Cx<'_>,
        call: Call,
        failure: ExchangeFailure,
        endpoint: &str,
    ) -> Verdict {
        if call == Call::ErrorDownload {
            // Once only: the report's failure stands without its text.
            let cause = failure.into_error(endpoint);
            return Verdict::Fatal(fatal(
                "FATAL",
                format!("the error document could not be read ({cause}); see the report in Seller Central"),
            ));
        }
        Verdict::retry_failure(failure, endpoint)
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Document;
    }

    fn report_body(&self) -> ReportBody {
        // `compressionAlgorithm` is a label, and labels lie both ways
        // (GZIP documents that are plain, gzip documents without it): the
        // shared pipeline's `Auto` lets the magic bytes decide.
        ReportBody {
            default_charset: self.spec.default_charset(),
            ..ReportBody::single(
                Compression::Auto,
                self.spec.document_format().record_format(),
            )
        }
    }

    fn content_type(&self) -> String {
        self.spec.document_format().media_type().to_owned()
    }
}

impl Flow {
    fn api_headers(&self) -> Vec<Header> {
        vec![
            Header::secret("x-amz-access-token", self.lwa.access_token()),
            Header::plain("accept", "application/json"),
        ]
    }

    fn on_found(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let listed = match parse_json::<wire::Reports>(Provider::AmazonSpApi, FIND, body) {
            Ok(listed) => listed,
            Err(error) => return retry(error),
        };
        let adopting = self.finding == Some(Finding::Adopt);
        let rank = |report: &wire::Report| match report.processing_status.as_deref() {
            // Adopt prefers a report that is ready; recovery takes any.
            Some("DONE") if adopting => 2,
            _ => 1,
        };
        let on_page = listed
            .reports
            .into_iter()
            .filter(|report| self.matches(report))
            .filter(|report| {
                !adopting
                    || matches!(
                        report.processing_status.as_deref(),
                        Some("IN_QUEUE" | "IN_PROGRESS" | "DONE")
                    )
            })
            .filter_map(|report| {
                Some(Candidate {
                    rank: rank(&report),
                    created: report
                        .created_time
                        .as_deref()
                        .and_then(calendar::parse_rfc3339)
                        .unwrap_or(i64::MIN),
                    report_id: report.report_id?,
                })
            });
        let best_on_page = on_page.max_by_key(|c| (c.rank, c.created));
        let previous = self.find_page.take();
        let pages = previous.as_ref().map_or(0, |p| p.pages) + 1;
        let best = previous
            .and_then(|p| p.best)
            .into_iter()
            .chain(best_on_page)
            .max_by_key(|c| (c.rank, c.created));
        // Later pages hold older reports: the search stops at the best
        // match a page can hold (any for recovery, a DONE one to adopt).
        let settled = best.as_ref().is_some_and(|c| !adopting || c.rank == 2);
        let next_token = listed
            .next_token
            .filter(|t| !t.is_empty() && t.len() <= MAX_PAGE_TOKEN_BYTES);
        if let (false, Some(next_token), true) = (settled, next_token, pages < MAX_FIND_PAGES) {
            self.find_page = Some(FindPage {
                next_token,
                pages,
                best,
            });
            return Verdict::Proceed;
        }
        let found = best.map(|c| c.report_id);
        self.finding = None;
        match found {
            Some(id) => {
                life.report_created(cx, id);
                self.stage = Stage::Poll;
                self.polls = 0;
            }
            None => self.stage = Stage::Create,
        }
        Verdict::Proceed
    }

    /// Whether a listed report is the one this job asks for: its id usable,
    /// the same type, the same marketplaces, and the same window (each end
    /// the spec names, to the second).
    fn matches(&self, report: &wire::Report) -> bool {
        let Ok(mut wanted) = self.spec.marketplace_ids() else {
            return false;
        };
        let mut listed = report.marketplace_ids.clone().unwrap_or_default();
        wanted.sort();
        listed.sort();
        listed.dedup();
        let same_end = |wanted: &Option<String>, got: &Option<String>| match wanted {
            None => true,
            Some(wanted) => {
                calendar::parse_rfc3339(wanted)
                    == got.as_deref().and_then(calendar::parse_rfc3339)
            }
        };
        report.report_id.as_deref().is_some_and(valid_id)
            && report.report_type.as_deref() == Some(self.spec.report_type.as_str())
            && listed == wanted
            && same_end(&self.spec.data_start_time, &report.data_start_time)
            && same_end(&self.spec.data_end_time, &report.data_end_time)
    }

    fn on_created(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::Created>(Provider::AmazonSpApi, CREATE, body) {
            Ok(wire::Created {
                report_id: Some(id),
            }) if valid_id(&id) => {
                life.start_polling(cx, id, None);
                self.stage = Stage::Poll;
                self.polls = 0;
                Verdict::Proceed
            }
            Ok(_) => retry(malformed(CREATE, "no usable reportId in the response")),
            Err(error) => retry(error),
        }
    }

    fn on_status(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let report = match parse_json::<wire::Report>(Provider::AmazonSpApi, STATUS, body) {
            Ok(report) => report,
            Err(error) => return retry(error),
        };
        let status = report.processing_status.unwrap_or_default();
        let document = report.report_document_id.filter(|id| valid_id(id));
        cx.emit(Event::ReportStatus {
            status: excerpt(status.as_bytes(), 60),
        });
        match status.as_str() {
            "DONE" => match document {
                Some(document) => {
                    self.document_id = Some(document);
                    self.stage = Stage::Document;
                    Verdict::Proceed
                }
                None => retry(malformed(STATUS, "DONE without a reportDocumentId")),
            },
            // "Cancelled before processing, or automatically when there is
            // no data to return": the API does not say which. Both leave
            // no document, so the job ends with no data either way.
            "CANCELLED" => Verdict::NoData,
            "FATAL" => match document {
                Some(document) if !self.error_fetched => {
                    self.document_id = Some(document);
                    self.stage = Stage::ErrorDocument;
                    Verdict::Proceed
                }
                _ => Verdict::Fatal(fatal(
                    "FATAL",
                    "SP-API published no error document; check the report type, marketplaces and window, then create the report again".to_owned(),
                )),
            },
            // IN_QUEUE, IN_PROGRESS and statuses this version does not
            // know: keep polling until the deadline (reports can take hours).
            _ => {
                self.polls = self.polls.saturating_add(1);
                let delay = cx.config.poll.delay(cx.config.seed, self.polls);
                life.schedule(cx.now.saturating_add(delay), WaitReason::PollBackoff);
                Verdict::Proceed
            }
        }
    }

    fn on_document(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        body: &[u8],
    ) -> Verdict {
        let document = match parse_json::<wire::ReportDocument>(Provider::AmazonSpApi, DOCUMENT, body)
        {
            Ok(document) => document,
            Err(error) => return retry(error),
        };
        match document.compression_algorithm.as_deref() {
            None | Some("GZIP") => {}
            Some(other) => {
                return Verdict::Fatal(malformed(
                    DOCUMENT,
                    &format!(
                        "compressionAlgorithm `{}` is not GZIP: this version cannot decode it",
                        excerpt(other.as_bytes(), 40)
                    ),
                ))
            }
        }
        match document.url {
            Some(url) if is_http_url(&url) => {
                life.link_obtained(cx, url, LINK_LIFETIME_MS);
                self.stage = if call == Call::ErrorDocument {
                    Stage::ErrorDownload
                } else {
                    Stage::Download
                };
                // Not `Proceed`: a fresh link does not reset the attempt
                // budget, or a download that fails every time would be
                // retried forever.
                Verdict::Continue
            }
            _ => retry(malformed(DOCUMENT, "no absolute url in the report document")),
        }
    }

    /// A non-2xx answer from an SP-API operation.
    fn api_failure(
        &mut self,
        call: Call,
        status: u16,
        body: &[u8],
    ) -> Verdict {
        let endpoint = endpoint_of(call);
        let first = crate::json_fields::from_slice::<wire::ErrorList>(body)
            .ok()
            .and_then(|list| list.errors.into_iter().next());
        let code = first
            .as_ref()
            .and_then(|e| e.code.as_deref())
            .filter(|c| !c.is_empty())
            .map(|c| excerpt(c.as_bytes(), 80));
        let detail = first
            .map(|e| {
                let message = e.message.unwrap_or_default();
                match e.details.filter(|d| !d.is_empty()) {
                    Some(details) => format!("{message} ({details})"),
                    None => message,
                }
            })
            .filter(|m| !m.is_empty())
            .map_or_else(|| excerpt(body, 300), |m| excerpt(m.as_bytes(), 300));
        let refusal = Refusal {
            provider: Provider::AmazonSpApi,
            endpoint,
            status,
            code: code.clone(),
            detail: detail.clone(),
        };
        match status {
            // SP-API answers a refused token with 403 `Unauthorized` as
            // often as with 401: fetch a fresh token once, then say so.
            401 | 403 if !self.refreshed_after_401 => {
                self.refreshed_after_401 = true;
                self.lwa.forget();
                Verdict::Reauthorize
            }
            // No `Retry-After` is documented; Amazon's guidance is to back
            // off and retry: the operation's bucket is emptied until the
            // job's backoff has passed.
            429 => Verdict::Throttled {
                cause: refusal.unexpected(),
                budget: Self::budgets(call).first().copied().unwrap_or(STATUS_BUCKET),
                until: None,
            },
            408 | 500..=599 => retry(refusal.unexpected()),
            401 | 403 => refusal.rejected(
                "the access token was refused twice: check the LwA credentials and that the app's roles include Reports for this region",
            ),
            404 if matches!(call, Call::Status | Call::Document | Call::ErrorDocument) => {
                Verdict::Fatal(Error::ReportFailed {
                    provider: Provider::AmazonSpApi,
                    failure: ReportFailure::NotFound,
                    status: format!("404 {}", code.as_deref().unwrap_or("NotFound")),
                    detail: format!(
                        "{detail} — the report is unknown to this seller (reports are kept 90 days); create it again"
                    ),
                })
            }
            _ => refusal.rejected("fix the report type, marketplaces, window or report options"),
        }
    }
}

/// Takes `x-amzn-RateLimit-Limit` (requests per second the usage plan
/// applied) as the call's bucket rate: a seller with a larger plan polls
/// faster, a smaller one slower. Values that are not a positive rate are
/// ignored.
fn observe_rate(life: &mut Lifecycle<Call>, now: Millis, call: Call, headers: &[(String, String)]) {
    let rate = header_number(headers, "x-amzn-ratelimit-limit").filter(|rate| *rate > 0.0);
    let (Some(rate), Some(&name)) = (rate, Flow::budgets(call).first()) else {
        return;
    };
    // Between one request per hour and 1000 per second.
    let refill = (1000.0 / rate)
        .clamp(1.0, MAX_RETUNED_REFILL_MS as f64)
        .round() as u64;
    if let Some(bucket) = life.budget(name) {
        bucket.set_refill_every_ms(now, refill);
    }
}

/// The FATAL report's end, with its error document's text when it could be
/// read (gunzipped when its bytes say gzip, whatever the label said).
fn error_document(status: u16, body: &[u8]) -> Verdict {
    if !(200..300).contains(&status) {
        return Verdict::Fatal(fatal(
            "FATAL",
            format!("the error document could not be read (HTTP {status}); see the report in Seller Central"),
        ));
    }
    let limits = Limits {
        max_compressed_bytes: MAX_ERROR_DOCUMENT_BYTES,
        max_decompressed_bytes: MAX_ERROR_DOCUMENT_BYTES,
        ..Limits::default()
    };
    let text = if body.starts_with(&[0x1f, 0x8b]) {
        gunzip(body, limits).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    } else {
        Ok(String::from_utf8_lossy(body).into_owned())
    };
    Verdict::Fatal(match text {
        Ok(text) if !text.trim().is_empty() => fatal("FATAL", format!("error document: {}", text.trim())),
        Ok(_) => fatal("FATAL", "the error document is empty; see the report in Seller Central".to_owned()),
        Err(error) => fatal(
            "FATAL",
            format!("the error document could not be decoded ({error}); see the report in Seller Central"),
        ),
    })
}

fn fatal(status: &str, detail: String) -> Error {
    Error::ReportFailed {
        provider: Provider::AmazonSpApi,
        failure: ReportFailure::Fatal,
        status: status.to_owned(),
        detail,
    }
}

/// An id Amazon handed out that can go into a URL path segment unchanged.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && encode_segment(id) == id
}

fn retry(cause: Error) -> Verdict {
    Verdict::Retry {
        cause,
        at_least: None,
    }
}

fn endpoint_of(call: Call) -> &'static str {
    match call {
        Call::Token => lwa::TOKEN,
        Call::Find => FIND,
        Call::Create => CREATE,
        Call::Status => STATUS,
        Call::Document | Call::ErrorDocument => DOCUMENT,
        Call::Download => DOWNLOAD,
        Call::ErrorDownload => ERROR_DOWNLOAD,
    }
}

fn malformed(endpoint: &str, detail: &str) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonSpApi,
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_are_read_gzip_or_not_and_bounded() {
        let text = "Report FATAL: the marketplace A1VC38T7YXB528 is not enabled for this seller";
        for body in [text.as_bytes().to_vec(), crate::sim::gzip_compress(text.as_bytes(), 6)] {
            match error_document(200, &body) {
                Verdict::Fatal(Error::ReportFailed { detail, .. }) => {
                    assert!(detail.contains("not enabled"), "{detail}")
                }
                other => panic!("{other:?}"),
            }
        }
        let bomb = crate::sim::gzip_compress(&vec![b'a'; 1 << 20], 9);
        assert!(matches!(
            error_document(200, &bomb),
            Verdict::Fatal(Error::ReportFailed { detail, .. }) if detail.contains("could not be decoded")
        ));
        assert!(matches!(
            error_document(403, b"<Error/>"),
            Verdict::Fatal(Error::ReportFailed { detail, .. }) if detail.contains("HTTP 403")
        ));
    }

    #[test]
    fn the_rate_header_retunes_the_operations_bucket() {
        let flow = Flow::create(
            ReportSpec::new(super::super::Region::Na, "GET_FLAT_FILE_OPEN_LISTINGS_DATA", ["US"]),
            &JobConfig::default(),
            Millis(0),
        )
        .unwrap();
        let mut life = Lifecycle::new(Millis(0), flow.rate_budgets(Millis(0)));
        let header = |v: &str| vec![("x-amzn-RateLimit-Limit".to_owned(), v.to_owned())];
        observe_rate(&mut life, Millis(0), Call::Create, &header("0.5"));
        assert_eq!(life.budget(CREATE_BUCKET).unwrap().refill_every_ms(), 2_000);
        for junk in ["-1", "0", "NaN", "inf", "fast"] {
            observe_rate(&mut life, Millis(0), Call::Create, &header(junk));
            assert_eq!(life.budget(CREATE_BUCKET).unwrap().refill_every_ms(), 2_000, "{junk}");
        }
        assert_eq!(life.budget(STATUS_BUCKET).unwrap().refill_every_ms(), 500);
    }
}
