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

use super::config::{frequency_ms, Credentials, ReportSpec, Task};
use super::signing::{self, canonical_query, canonical_uri, SigningAlgorithm};
use super::wire;
use crate::action::{Event, Phase, WaitReason};
use crate::calendar;
use crate::config::JobConfig;
use crate::error::{ConfigError, Error, ReportFailure, RestoreError};
use crate::providers::ExchangeFailure;
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
const LIST_REPORTS: &str = "GET /v2/reports";
const LIST_SCHEDULES: &str = "GET /v2/report-schedules";
const GET_SCHEDULE: &str = "GET /v2/report-schedules/{reportScheduleId}";
const CREATE_SCHEDULE: &str = "POST /v2/report-schedules";
const CANCEL_SCHEDULE: &str = "DELETE /v2/report-schedules/{reportScheduleId}";

/// Get Reports' page size: the largest Amazon documents.
const PAGE_SIZE: &str = "100";
/// A find that pages further than this fails: 100 × 100 reports is more
/// than 90 days of any report type hold.
const MAX_PAGES: u32 = 100;
/// An ensure whose schedule still differs after this many accepted writes
/// fails: Amazon does not keep what it is sent.
const MAX_ACCEPTED_WRITES: u32 = 2;
/// The summary's id of a schedule list of every type.
const ALL_SCHEDULES: &str = "report-schedules";

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
    /// Find: paging Get Reports.
    Find,
    /// A schedule task reads what Amazon holds (list, get, and ensure's
    /// read before and after its write).
    ReadSchedules,
    /// Create Report Schedule.
    WriteSchedule,
    /// Cancel Report Schedule.
    Cancel,
}

/// Where a find's paging is. Not persisted: a restored find pages from the
/// start (the token may have lapsed, and a page is cheap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Paging {
    next_token: Option<String>,
    pages: u32,
    /// The newest unseen report so far: (created, report id, document id).
    best: Option<(i64, String, String)>,
}

/// The calls of an Amazon Pay report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Create,
    Status,
    Document,
    Download,
    ListReports,
    ListSchedules,
    GetSchedule,
    CreateSchedule,
    CancelSchedule,
}

/// The Amazon Pay protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flow {
    spec: ReportSpec,
    stage: Stage,
    /// `x-amz-pay-idempotency-key` of the create: derived when the job was
    /// created, persisted, never changed.
    idempotency_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_id: Option<String>,
    polls: u32,
    /// The schedule a schedule task created (ensure, create).
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_id: Option<String>,
    /// Schedule writes Amazon accepted (2xx) in this job.
    #[serde(skip_serializing_if = "is_zero")]
    accepted_writes: u32,
    /// Ensure's first read found a schedule of the type (a write replaces).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replacing: bool,
    /// Ensure read what exists since it was created or restored; a restored
    /// ensure reads before it writes (its last write may have landed).
    #[serde(skip)]
    read_fresh: bool,
    #[serde(skip)]
    paging: Paging,
}

crate::json_fields::deserialize_struct! {
    Flow, fields = Camel, unknown = Ignore;
    spec, stage, idempotency_key, document_id, polls, schedule_id, accepted_writes = default, replacing = default, read_fresh = skip, paging = skip
}


#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Protocol for Flow {
    const PROVIDER: Provider = Provider::AmazonPay;
    type Spec = ReportSpec;
    type Credentials = Credentials;
    type Call = Call;

    fn create(spec: ReportSpec, config: &JobConfig, now: Millis) -> Result<Self, ConfigError> {
        spec.validate()?;
        let idempotency_key = idempotency_key(&spec, config.seed, now);
        let stage = match spec.task {
            Task::CreateReport => Stage::Create,
            Task::FindReport { .. } => Stage::Find,
            Task::ListSchedules | Task::GetSchedule { .. } | Task::EnsureSchedule { .. } => {
                Stage::ReadSchedules
            }
            Task::CreateSchedule { .. } => Stage::WriteSchedule,
            Task::CancelSchedule { .. } => Stage::Cancel,
        };
        Ok(Self {
            spec,
            stage,
            idempotency_key,
            document_id: None,
            polls: 0,
            schedule_id: None,
            accepted_writes: 0,
            replacing: false,
            read_fresh: false,
            paging: Paging::default(),
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
        let needs_report = matches!(self.stage, Stage::Poll | Stage::Document | Stage::Download);
        if needs_report && life.report_id().is_none() {
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
        let schedule_stage = matches!(
            self.stage,
            Stage::ReadSchedules | Stage::WriteSchedule | Stage::Cancel
        );
        let report_stage = !schedule_stage && self.stage != Stage::Find;
        if schedule_stage != self.spec.task.is_schedule_task()
            || (report_stage && self.spec.task.is_schedule_task())
            || (self.stage == Stage::Create && self.spec.task != Task::CreateReport)
            || (self.stage == Stage::Find
                && !matches!(self.spec.task, Task::FindReport { .. }))
            || self.schedule_id.as_ref().is_some_and(|id| !valid_id(id))
            || self.accepted_writes > MAX_ACCEPTED_WRITES
        {
            return Err(RestoreError::invalid(format!(
                "stage {:?} does not fit the task or its schedule state",
                self.stage
            )));
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
            Stage::Create | Stage::WriteSchedule | Stage::Cancel => Phase::Creating,
            Stage::Poll | Stage::Find | Stage::ReadSchedules => Phase::Polling,
            Stage::Document => Phase::ResolvingLink,
            Stage::Download => Phase::Downloading,
        }
    }

    fn next_call(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>) -> Call {
        match self.stage {
            Stage::Create => Call::Create,
            Stage::Find => Call::ListReports,
            Stage::ReadSchedules => match self.spec.task {
                Task::GetSchedule { .. } => Call::GetSchedule,
                _ => Call::ListSchedules,
            },
            // A restored ensure reads first: its last write may have landed.
            Stage::WriteSchedule
                if !self.read_fresh && matches!(self.spec.task, Task::EnsureSchedule { .. }) =>
            {
                self.stage = Stage::ReadSchedules;
                Call::ListSchedules
            }
            Stage::WriteSchedule => Call::CreateSchedule,
            Stage::Cancel => Call::CancelSchedule,
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
            Call::ListReports => {
                let query = match (&self.paging.next_token, &self.spec.task) {
                    // Amazon: nextToken must be the only parameter.
                    (Some(token), _) => vec![("nextToken", token.clone())],
                    (None, Task::FindReport { created_since, .. }) => vec![
                        ("reportTypes", self.spec.report_type.clone()),
                        ("processingStatuses", "COMPLETED".to_owned()),
                        (
                            "createdSince",
                            ReportSpec::basic_instant(created_since).unwrap_or_default(),
                        ),
                        ("pageSize", PAGE_SIZE.to_owned()),
                    ],
                    (None, _) => {
                        return Err(Error::internal(format!("{LIST_REPORTS} outside a find")))
                    }
                };
                let pairs: Vec<(&str, &str)> =
                    query.iter().map(|(n, v)| (*n, v.as_str())).collect();
                Ok(self.signed(cx, LIST_REPORTS, Method::Get, "/reports", &pairs, Vec::new()))
            }
            Call::ListSchedules => {
                let types = [("reportTypes", self.spec.report_type.as_str())];
                let query: &[(&str, &str)] = if self.spec.report_type.is_empty() {
                    &[]
                } else {
                    &types
                };
                Ok(self.signed(cx, LIST_SCHEDULES, Method::Get, "/report-schedules", query, Vec::new()))
            }
            Call::GetSchedule | Call::CancelSchedule => {
                let id = match &self.spec.task {
                    Task::GetSchedule { schedule_id } | Task::CancelSchedule { schedule_id } => {
                        schedule_id
                    }
                    _ => return Err(Error::internal("a schedule call without a schedule id")),
                };
                let path = format!("/report-schedules/{id}");
                let (endpoint, method) = if call == Call::GetSchedule {
                    (GET_SCHEDULE, Method::Get)
                } else {
                    (CANCEL_SCHEDULE, Method::Delete)
                };
                Ok(self.signed(cx, endpoint, method, &path, &[], Vec::new()))
            }
            Call::CreateSchedule => {
                let (frequency, next, delete_existing) = match &self.spec.task {
                    Task::CreateSchedule {
                        frequency,
                        next_creation_time,
                        delete_existing,
                    } => (frequency, next_creation_time, *delete_existing),
                    Task::EnsureSchedule {
                        frequency,
                        next_creation_time,
                    } => (frequency, next_creation_time, true),
                    _ => return Err(Error::internal("a schedule write outside a schedule task")),
                };
                let mut body = serde_json::json!({
                    "reportType": self.spec.report_type,
                    "scheduleFrequency": frequency,
                });
                if let (Some(next), Some(fields)) = (next, body.as_object_mut()) {
                    let next = ReportSpec::basic_instant(next).ok_or_else(|| {
                        Error::internal("a validated next creation time stopped parsing")
                    })?;
                    fields.insert("nextReportCreationTime".into(), next.into());
                }
                // In the body, as every SDK sends it (the docs' table says
                // query; amazon.md §3.2).
                if let Some(fields) = body.as_object_mut() {
                    fields.insert("deleteExistingSchedule".into(), delete_existing.into());
                }
                let body = serde_json::to_vec(&body)
                    .map_err(|e| Error::internal(format!("{CREATE_SCHEDULE} body: {e}")))?;
                Ok(self.signed(cx, CREATE_SCHEDULE, Method::Post, "/report-schedules", &[], body))
            }
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
            let verdict = api_failure(cx, call, status, &headers, &body);
            if call == Call::CreateSchedule
                && matches!(verdict, Verdict::Retry { .. } | Verdict::Throttled { .. })
            {
                self.reread_before_writing();
            }
            return verdict;
        }
        match call {
            Call::Create => self.on_created(life, cx, &body),
            Call::Status => self.on_status(life, cx, &body),
            Call::Document => self.on_document(life, cx, &body),
            Call::ListReports => self.on_page(life, cx, &body),
            Call::ListSchedules | Call::GetSchedule => self.on_schedules(life, cx, call, &body),
            Call::CreateSchedule => self.on_schedule_created(&body),
            Call::CancelSchedule => self.on_cancelled(life),
            Call::Download => Verdict::Fatal(Error::internal("a download judged as an API call")),
        }
    }

    /// A write whose answer was lost may have landed: ensure reads again
    /// before it writes again (a plain create repeats its idempotency key).
    fn on_failure(
        &mut self,
        _life: &mut Lifecycle<Call>,
        _cx: &mut Cx<'_>,
        call: Call,
        failure: ExchangeFailure,
        endpoint: &str,
    ) -> Verdict {
        if call == Call::CreateSchedule {
            self.reread_before_writing();
        }
        Verdict::retry_failure(failure, endpoint)
    }

    fn relink(&mut self, _life: &mut Lifecycle<Call>) {
        self.stage = Stage::Document;
    }

    fn report_body(&self) -> ReportBody {
        if self.spec.task.is_schedule_task() {
            // The JSON array of schedules the job delivers.
            return ReportBody::single(Compression::Identity, RecordFormat::JsonArray);
        }
        // `compressionAlgorithm` is "N/A" today; the bytes decide.
        ReportBody::single(Compression::Auto, RecordFormat::Tsv)
    }

    fn content_type(&self) -> String {
        if self.spec.task.is_schedule_task() {
            return "application/json".to_owned();
        }
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

    /// Ensure reads before its next write; a plain create repeats its own
    /// (same idempotency key, same answer).
    fn reread_before_writing(&mut self) {
        if matches!(self.spec.task, Task::EnsureSchedule { .. }) {
            self.stage = Stage::ReadSchedules;
        }
    }

    /// A page of Get Reports: keep the newest unseen report, then the next
    /// page, or fetch the report found (none: `NoData`).
    fn on_page(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        let page = match parse_json::<wire::ReportPage>(Provider::AmazonPay, LIST_REPORTS, body) {
            Ok(page) => page,
            Err(error) => return retry(error),
        };
        let Task::FindReport {
            created_since,
            delivered,
        } = &self.spec.task
        else {
            return Verdict::Fatal(Error::internal(format!("{LIST_REPORTS} outside a find")));
        };
        let since = calendar::parse_iso8601(created_since).unwrap_or(0);
        for report in page.reports {
            let (Some(id), Some(document)) = (report.report_id, report.report_document_id) else {
                continue;
            };
            let created = report
                .created_time
                .as_deref()
                .and_then(calendar::parse_iso8601)
                .unwrap_or(since);
            let wanted = report.processing_status.as_deref() == Some("COMPLETED")
                && report
                    .report_type
                    .as_deref()
                    .map_or(true, |t| t == self.spec.report_type)
                && created >= since
                && valid_id(&id)
                && valid_id(&document)
                && !delivered.contains(&id);
            let newer = self
                .paging
                .best
                .as_ref()
                .map_or(true, |(at, best, _)| (created, &id) > (*at, best));
            if wanted && newer {
                self.paging.best = Some((created, id, document));
            }
        }
        self.paging.pages = self.paging.pages.saturating_add(1);
        match page.next_token.filter(|token| !token.is_empty()) {
            Some(_) if self.paging.pages >= MAX_PAGES => Verdict::Fatal(malformed(
                LIST_REPORTS,
                &format!("still a nextToken after {MAX_PAGES} pages: pass a later createdSince"),
            )),
            Some(token) => {
                self.paging.next_token = Some(token);
                Verdict::Proceed
            }
            None => match self.paging.best.take() {
                Some((_, id, document)) => {
                    // Found, not created: the host still learns (and
                    // persists) the id of the report the job fetches.
                    life.report_created(cx, id);
                    self.document_id = Some(document);
                    self.stage = Stage::Document;
                    Verdict::Proceed
                }
                None => {
                    life.name_result(self.spec.report_type.clone());
                    Verdict::NoData
                }
            },
        }
    }

    /// Schedules as Amazon listed them (or the one asked for).
    fn on_schedules(
        &mut self,
        life: &mut Lifecycle<Call>,
        cx: &mut Cx<'_>,
        call: Call,
        body: &[u8],
    ) -> Verdict {
        let endpoint = endpoint_of(call);
        let schedules = match parse_json::<wire::Schedules>(Provider::AmazonPay, endpoint, body) {
            Ok(schedules) => schedules.into_vec(),
            Err(error) => return retry(error),
        };
        if schedules
            .iter()
            .any(|s| !s.report_schedule_id.as_deref().is_some_and(valid_id))
        {
            return retry(malformed(endpoint, "a report schedule without a usable reportScheduleId"));
        }
        let of_type: Vec<wire::Schedule> = if self.spec.report_type.is_empty() {
            schedules
        } else {
            schedules
                .into_iter()
                .filter(|s| {
                    s.report_type
                        .as_deref()
                        .map_or(true, |t| t == self.spec.report_type)
                })
                .collect()
        };
        self.read_fresh = true;
        let (id, status) = match &self.spec.task {
            Task::ListSchedules if self.spec.report_type.is_empty() => (ALL_SCHEDULES.to_owned(), None),
            Task::ListSchedules => (self.spec.report_type.clone(), None),
            Task::GetSchedule { schedule_id } => (schedule_id.clone(), None),
            Task::CreateSchedule { .. } => {
                let id = self.schedule_id.clone().unwrap_or_default();
                (id, Some("created"))
            }
            Task::EnsureSchedule {
                frequency,
                next_creation_time,
            } => {
                let matching = match of_type.as_slice() {
                    [one] => schedule_matches(one, frequency, next_creation_time.as_deref()),
                    _ => false,
                };
                if !matching {
                    if self.accepted_writes >= MAX_ACCEPTED_WRITES {
                        return Verdict::Fatal(malformed(
                            LIST_SCHEDULES,
                            "the schedule still differs from the one written twice: Amazon Pay does not keep it as sent",
                        ));
                    }
                    if self.accepted_writes == 0 {
                        self.replacing = !of_type.is_empty();
                    }
                    self.stage = Stage::WriteSchedule;
                    return Verdict::Proceed;
                }
                let id = of_type
                    .first()
                    .and_then(|s| s.report_schedule_id.clone())
                    .unwrap_or_default();
                let status = match (self.accepted_writes, self.replacing) {
                    (0, _) => "unchanged",
                    (_, false) => "created",
                    (_, true) => "replaced",
                };
                (id, Some(status))
            }
            _ => return Verdict::Fatal(Error::internal("a schedule read outside a schedule task")),
        };
        if let Some(status) = status {
            cx.emit(Event::ReportStatus {
                status: status.to_owned(),
            });
        }
        life.name_result(id);
        deliver(&of_type)
    }

    fn on_schedule_created(&mut self, body: &[u8]) -> Verdict {
        match parse_json::<wire::ScheduleCreated>(Provider::AmazonPay, CREATE_SCHEDULE, body) {
            Ok(wire::ScheduleCreated {
                report_schedule_id: Some(id),
            }) if valid_id(&id) => {
                self.schedule_id = Some(id);
                self.accepted_writes = self.accepted_writes.saturating_add(1);
                // Read back what Amazon now holds: that is the result.
                self.stage = Stage::ReadSchedules;
                Verdict::Proceed
            }
            Ok(_) => {
                self.reread_before_writing();
                retry(malformed(CREATE_SCHEDULE, "no usable reportScheduleId in the response"))
            }
            Err(error) => {
                self.reread_before_writing();
                retry(error)
            }
        }
    }

    fn on_cancelled(&mut self, life: &mut Lifecycle<Call>) -> Verdict {
        let Task::CancelSchedule { schedule_id } = &self.spec.task else {
            return Verdict::Fatal(Error::internal(format!("{CANCEL_SCHEDULE} outside a cancel")));
        };
        life.name_result(schedule_id.clone());
        deliver(&[])
    }

    fn on_created(&mut self, life: &mut Lifecycle<Call>, cx: &mut Cx<'_>, body: &[u8]) -> Verdict {
        match parse_json::<wire::Created>(Provider::AmazonPay, CREATE, body) {
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
    if spec.task != Task::CreateReport {
        // Two tasks created at the same instant must not share a key (the
        // schedule's fields are in it through the task).
        hasher.update(serde_json::to_vec(&spec.task).unwrap_or_default());
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

/// Whether `schedule` is the one ensure wants: the frequency, and when a
/// next creation time is asked for, that time or one a whole number of
/// periods later (a schedule that has run since it was ensured).
fn schedule_matches(schedule: &wire::Schedule, frequency: &str, next: Option<&str>) -> bool {
    if schedule.schedule_frequency.as_deref() != Some(frequency) {
        return false;
    }
    let Some(wanted) = next.and_then(calendar::parse_iso8601) else {
        return true;
    };
    let period_s = frequency_ms(frequency).map_or(0, |ms| ms / 1000);
    match schedule
        .next_report_creation_time
        .as_deref()
        .and_then(calendar::parse_iso8601)
    {
        Some(held) if held == wanted => true,
        Some(held) if held > wanted && period_s > 0 => {
            (held.abs_diff(wanted)) % period_s == 0
        }
        _ => false,
    }
}

/// The job's result document: a JSON array of the schedules, one record
/// each.
fn deliver(schedules: &[wire::Schedule]) -> Verdict {
    match serde_json::to_vec(schedules) {
        Ok(bytes) => Verdict::Deliver {
            bytes,
            rows: schedules.len() as u64,
        },
        Err(error) => Verdict::Fatal(Error::internal(format!("the schedules document: {error}"))),
    }
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
    let parsed = crate::json_fields::from_slice::<wire::ErrorBody>(body).ok();
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
        404 if matches!(call, Call::GetSchedule | Call::CancelSchedule) => {
            Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonPay,
                failure: ReportFailure::NotFound,
                status: format!("404 {}", code.as_deref().unwrap_or("ResourceNotFound")),
                detail: format!(
                    "{detail} — no such report schedule for this merchant account: list the schedules for its id"
                ),
            })
        }
        404 if matches!(call, Call::Status | Call::Document | Call::Download) => {
            Verdict::Fatal(Error::ReportFailed {
                provider: Provider::AmazonPay,
                failure: ReportFailure::NotFound,
                status: format!("404 {}", code.as_deref().unwrap_or("ResourceNotFound")),
                detail: format!(
                    "{detail} — the report is unknown to this merchant account (reports are kept 90 days); create it again"
                ),
            })
        }
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
        Call::ListReports => LIST_REPORTS,
        Call::ListSchedules => LIST_SCHEDULES,
        Call::GetSchedule => GET_SCHEDULE,
        Call::CreateSchedule => CREATE_SCHEDULE,
        Call::CancelSchedule => CANCEL_SCHEDULE,
    }
}

fn malformed(endpoint: &str, detail: &str) -> Error {
    Error::MalformedResponse {
        provider: Provider::AmazonPay,
        endpoint: endpoint.to_owned(),
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(frequency: &str, next: &str) -> wire::Schedule {
        wire::Schedule {
            report_schedule_id: Some("1".into()),
            report_type: None,
            schedule_frequency: Some(frequency.into()),
            next_report_creation_time: Some(next.into()),
        }
    }

    #[test]
    fn a_schedule_matches_its_frequency_and_next_time_or_a_whole_period_later() {
        let held = schedule("PT12H", "20240304T060000Z");
        assert!(schedule_matches(&held, "PT12H", None));
        assert!(!schedule_matches(&held, "P1D", None));
        assert!(schedule_matches(&held, "PT12H", Some("20240304T060000Z")));
        assert!(schedule_matches(&held, "PT12H", Some("2024-03-01T06:00:00Z")));
        assert!(!schedule_matches(&held, "PT12H", Some("20240301T070000Z")));
        assert!(!schedule_matches(&held, "PT12H", Some("20240305T060000Z")), "not ahead of it");
        assert!(!schedule_matches(&schedule("PT12H", "soon"), "PT12H", Some("20240304T060000Z")));
    }
}
