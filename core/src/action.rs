//! What a job asks the host to do, and what it reports.

use serde::Serialize;

use crate::error::{Error, ErrorKind, RestoreError};
use crate::http::{HttpRequest, RequestId};
use crate::integrity::{Charset, Md5Check};
use crate::provider::Provider;
use crate::records::RecordFormat;
use crate::sign::SignRequest;
use crate::time::Millis;

/// The next thing the host must do, returned by [`crate::ReportJob::poll`].
#[derive(Debug, Clone)]
#[must_use]
#[non_exhaustive]
pub enum Action {
    /// Perform this request, then feed `Head`, `Chunk`*, `End` (or
    /// `TransportFailed`) with its id. Only one request is in flight per job:
    /// a new `Send` supersedes the previous request (e.g. after a report body
    /// failed a check mid-stream, or after its timeout). The host should then
    /// abort the old transfer; its inputs are answered with
    /// [`crate::InputError::StaleRequest`].
    Send(HttpRequest),
    /// Sign `message` with the key `key_id` names, as `algorithm` says, and
    /// feed the raw signature with [`crate::Input::Signature`] and this id
    /// before `sign_before`. The job holds no private key: the host signs
    /// wherever the key lives (a KMS, an HSM, WebCrypto, or a built-in
    /// signer). The signed request follows as a `Send`. Until the signature
    /// arrives, `poll` returns `Wait` with
    /// [`WaitReason::AwaitingSignature`]; past `sign_before` the job drops
    /// the request and builds a fresh one (a new `Sign`).
    Sign(SignRequest),
    /// Nothing to do before `until`: a report is being generated, a rate-limit
    /// bucket is empty, or a request is in flight. The host MUST call `poll`
    /// again no later than `until` and MAY call it earlier (an early call
    /// returns an equivalent `Wait`). Any input also ends the wait. This is
    /// the end of a drain.
    Wait {
        /// Poll again no later than this.
        until: Millis,
        /// Why the job is waiting.
        reason: WaitReason,
    },
    /// Something happened; keep polling.
    Event(Event),
    /// Terminal and absorbing: the report is complete and verified. Every
    /// later `poll` returns the same `Done`.
    Done(Summary),
    /// Terminal and absorbing: the job gave up. Discard any provisional
    /// [`Event::Data`] received. Every later `poll` returns the same `Failed`.
    Failed(Error),
}

/// Why a job is waiting. Diagnostic only; not a stable contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum WaitReason {
    /// The report is still being generated; the next status poll is due then.
    PollBackoff,
    /// Backing off after a retryable failure.
    RetryBackoff,
    /// The job's own view of a rate limit says no request may go out yet.
    RateLimit {
        /// The bucket that is empty (e.g. `amazon-ads:status`).
        bucket: String,
    },
    /// A request is in flight; `until` is its timeout.
    AwaitingResponse {
        /// The request in flight.
        id: RequestId,
    },
    /// The host deferred the last request ([`crate::Input::Deferred`]): a
    /// rate budget it shares between jobs has no room yet.
    Deferred,
    /// A signature was asked for (`Action::Sign`); `until` is when the
    /// request it signs goes stale.
    AwaitingSignature {
        /// The sign request.
        id: RequestId,
    },
}

crate::json_fields::deserialize_tagged! {
    WaitReason, tag = "type", fields = Verbatim;
    "pollBackoff" => PollBackoff,
    "retryBackoff" => RetryBackoff,
    "rateLimit" => RateLimit { bucket },
    "awaitingResponse" => AwaitingResponse { id },
    "deferred" => Deferred,
    "awaitingSignature" => AwaitingSignature { id },
}

/// The phase of a report lifecycle, shared by every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Phase {
    /// Obtaining or refreshing an access token.
    Authorizing,
    /// Asking the provider to create the report.
    Creating,
    /// Waiting for the provider to finish generating it.
    Polling,
    /// Obtaining a (fresh) download link.
    ResolvingLink,
    /// Downloading, verifying and decoding the report body.
    Downloading,
    /// Finished (see `Done`/`Failed`).
    Finished,
}

crate::json_fields::deserialize_names! {
    Phase;
    "authorizing" => Authorizing,
    "creating" => Creating,
    "polling" => Polling,
    "resolvingLink" => ResolvingLink,
    "downloading" => Downloading,
    "finished" => Finished,
}

/// Progress and data reported while a job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Event {
    /// The lifecycle moved to another phase.
    PhaseChanged {
        /// Previous phase.
        from: Phase,
        /// New phase.
        to: Phase,
    },
    /// The provider accepted the report request. Persist a snapshot now: a
    /// restored job continues with this id instead of creating another.
    ReportCreated {
        /// The provider's report id.
        #[serde(rename = "reportId")]
        report_id: String,
    },
    /// The provider reported a status for the report (e.g. `IN_PROGRESS`).
    ReportStatus {
        /// The provider's status string, verbatim.
        status: String,
    },
    /// A download link was obtained.
    LinkObtained {
        /// When the link stops working, if known.
        #[serde(rename = "expiresAt")]
        expires_at: Option<Millis>,
    },
    /// Decoded report bytes. PROVISIONAL: append them to a temporary place and
    /// keep them only when the job ends `Done`; on `DataReset` or `Failed`
    /// throw them away.
    Data(DataChunk),
    /// Everything delivered by `Data` so far is void (the download failed a
    /// check or broke and starts again from byte 0). Truncate your output.
    DataReset {
        /// Why the data was voided.
        cause: ErrorKind,
    },
    /// Download progress.
    Progress {
        /// Raw bytes received so far (as transferred).
        #[serde(rename = "bytesIn")]
        bytes_in: u64,
        /// Decoded bytes delivered so far.
        #[serde(rename = "bytesOut")]
        bytes_out: u64,
        /// Total raw size, when the provider announced it.
        #[serde(rename = "bytesTotal")]
        bytes_total: Option<u64>,
    },
    /// A step failed in a retryable way and will be tried again.
    Retrying {
        /// Which attempt comes next (2 for the first retry).
        attempt: u32,
        /// How long the job waits before it.
        #[serde(rename = "afterMs")]
        after_ms: u64,
        /// What failed.
        cause: ErrorKind,
    },
    /// The provider throttled us (or the job's own bucket is empty).
    Throttled {
        /// The bucket concerned.
        bucket: String,
        /// When the next request may go out.
        until: Millis,
    },
}

crate::json_fields::deserialize_tagged! {
    Event, tag = "type", fields = Camel;
    "phaseChanged" => PhaseChanged { from, to },
    "reportCreated" => ReportCreated { report_id },
    "reportStatus" => ReportStatus { status },
    "linkObtained" => LinkObtained { expires_at },
    "data" => Data(DataChunk),
    "dataReset" => DataReset { cause },
    "progress" => Progress { bytes_in, bytes_out, bytes_total },
    "retrying" => Retrying { attempt, after_ms, cause },
    "throttled" => Throttled { bucket, until },
}

/// A piece of the decoded report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataChunk {
    /// Offset of `bytes` in the decoded report (all parts, in order).
    pub offset: u64,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// The part the bytes belong to, for reports delivered as several
    /// named parts (the members of a ZIP archive, e.g. `orders.csv`).
    /// A part's bytes arrive contiguously, parts in archive order; the name
    /// is a safe relative path (`/` separators, no `..`). `None` for
    /// single-file reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

crate::json_fields::deserialize_struct! {
    DataChunk, fields = Verbatim, unknown = Ignore;
    offset, bytes, part
}

/// One part of a multi-part report (a member of a ZIP archive), verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PartSummary {
    /// The part's name, as in [`DataChunk::part`].
    pub name: String,
    /// Decoded bytes of the part.
    pub bytes: u64,
    /// Rows of the part (CSV lines after the header, JSON array items; 0
    /// when the part has no record structure).
    pub rows: u64,
}

crate::json_fields::deserialize_struct! {
    PartSummary, fields = Camel, unknown = Ignore;
    name, bytes, rows
}

/// How a finished report turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Outcome {
    /// The report was downloaded and verified.
    Complete,
    /// The provider says there is no data for the request; nothing to download.
    NoData,
}

crate::json_fields::deserialize_names! {
    Outcome;
    "complete" => Complete,
    "noData" => NoData,
}

/// What `Done` reports: a complete, verified report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Summary {
    /// Which provider produced it.
    pub provider: Provider,
    /// The provider's report id.
    pub report_id: String,
    /// Complete or verified-empty.
    pub outcome: Outcome,
    /// Media type of the decoded bytes (e.g. `application/json`).
    pub content_type: String,
    /// How the decoded bytes split into rows.
    pub record_format: RecordFormat,
    /// Bytes as transferred.
    pub raw_bytes: u64,
    /// Decoded bytes delivered through `Event::Data`.
    pub bytes: u64,
    /// Lowercase hex MD5 of the bytes as transferred (what `Content-MD5`
    /// headers describe); empty when it was not computed
    /// ([`Md5Check::Skipped`]).
    pub md5: String,
    /// Whether `md5` was verified against the digest the provider
    /// published, only computed (a fingerprint), or not computed at all
    /// (`JobConfig::md5_fingerprint` off and nothing to verify).
    pub md5_check: Md5Check,
    /// Whether the body was gzip (detected from the bytes, not the labels).
    pub gzip: bool,
    /// Rows (JSON array items, TSV lines after the header) in the report.
    pub rows: u64,
    /// HTTP requests the job sent, all attempts included.
    pub requests: u32,
    /// The parts of a multi-part report, in order (empty for single-file
    /// reports). `bytes` and `rows` are their totals.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartSummary>,
    /// The charset the report was decoded from into UTF-8 (`None`: the
    /// bytes were delivered as the provider sent them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charset: Option<Charset>,
    /// What the host should know about a report that verified but is not
    /// all the request asked for (empty: nothing to say). Show them to the
    /// user; the data delivered is still byte-exact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

crate::json_fields::deserialize_struct! {
    Summary, fields = Camel, unknown = Ignore;
    provider, report_id, outcome, content_type, record_format, raw_bytes, bytes, md5, md5_check = default, gzip, rows, requests, parts = default, charset, warnings = default
}

/// Something a verified report lacks. Serialized as `{"type": …, …}` with
/// camelCase names, like [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Warning {
    /// The provider built the report without part of what the request
    /// named, and delivered the rest (Yandex Market: `DONE` with sub-status
    /// `RESOURCE_NOT_FOUND` and a file — some entities of the request were
    /// not found). Check the ids the request names; regenerate once they
    /// exist if the missing part matters.
    PartialReport {
        /// The provider's status, verbatim (e.g. `DONE/RESOURCE_NOT_FOUND`).
        status: String,
        /// The missing part, as precisely as the provider says (Yandex
        /// does not say which entity: the request's id fields are named).
        missing: String,
    },
}

crate::json_fields::deserialize_tagged! {
    Warning, tag = "type", fields = Verbatim;
    "partialReport" => PartialReport { status, missing },
}

impl std::fmt::Display for Warning {
    /// One line for people: what is missing and what to do.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PartialReport { status, missing } => write!(
                f,
                "partial report ({status}): the provider left out {missing} — check the ids the \
                 request names and regenerate once they exist if the missing part matters"
            ),
        }
    }
}

impl Summary {
    /// Checks a summary read from a snapshot against the machine it ends:
    /// the core cannot see the bytes it stands for, so the host must hold
    /// bytes matching `bytes` and `md5` before it believes a restored
    /// `Done` (the CLI checks its output file).
    pub(crate) fn check_restored(
        &self,
        provider: Provider,
        report_id: Option<&str>,
    ) -> Result<(), RestoreError> {
        if self.provider != provider || Some(self.report_id.as_str()) != report_id {
            return Err(RestoreError::invalid(
                "the finished summary names another provider or report than the job",
            ));
        }
        let hex = self.md5.len() == 32
            && self
                .md5
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(RestoreError::invalid(
                "the finished summary's md5 is not 32 lowercase hex digits",
            ));
        }
        let parts: u64 = self
            .parts
            .iter()
            .fold(0u64, |sum, part| sum.saturating_add(part.bytes));
        let empty = self.bytes == 0 && self.rows == 0 && self.parts.is_empty();
        if parts > self.bytes || (self.outcome == Outcome::NoData && !empty) {
            return Err(RestoreError::invalid(
                "the finished summary's sizes contradict each other",
            ));
        }
        Ok(())
    }
}
