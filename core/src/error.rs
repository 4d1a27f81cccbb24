//! Typed outcomes and misuse errors.
//!
//! Four audiences, four types: [`Error`] is a job's terminal failure
//! (delivered as data in `Action::Failed`); [`InputError`] is host misuse of
//! `handle` (never fatal); [`ConfigError`] rejects a bad spec or config before
//! anything is sent; [`RestoreError`] rejects a snapshot.

use serde::Serialize;

use crate::http::{RequestId, TransportFailure};
use crate::integrity::{IntegrityError, ZipError};
use crate::provider::Provider;
use crate::records::RecordError;
use crate::time::Millis;

/// Who has to act to fix a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Blame {
    /// The provider failed or misbehaved; retrying later may help.
    Provider,
    /// The network between host and provider.
    Network,
    /// The host (its config, credentials or parameters) must change something.
    Config,
    /// The report data itself was corrupt in transit.
    Data,
    /// The host stopped the job.
    Host,
    /// reportflow itself: a bug (see [`Error::Internal`]).
    Library,
}

crate::json_fields::deserialize_names! {
    Blame;
    "provider" => Provider,
    "network" => Network,
    "config" => Config,
    "data" => Data,
    "host" => Host,
    "library" => Library,
}

/// How a provider described a report it will not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ReportFailure {
    /// Generation failed on the provider's side (`FAILURE`, `FATAL`, `FAILED`).
    Fatal,
    /// The provider cancelled the report.
    Cancelled,
    /// The report would be too large; narrow the period or the scope.
    TooLarge,
    /// The provider no longer knows the report.
    NotFound,
    /// Some entities the request names were not found (Yandex
    /// `RESOURCE_NOT_FOUND`); check the ids in the request.
    ResourceNotFound,
}

crate::json_fields::deserialize_names! {
    ReportFailure;
    "fatal" => Fatal,
    "cancelled" => Cancelled,
    "tooLarge" => TooLarge,
    "notFound" => NotFound,
    "resourceNotFound" => ResourceNotFound,
}

impl std::fmt::Display for ReportFailure {
    /// Words for people (messages never show Rust names such as `TooLarge`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Fatal => "failed",
            Self::Cancelled => "cancelled",
            Self::TooLarge => "too large to generate",
            Self::NotFound => "unknown",
            Self::ResourceNotFound => "naming entities it cannot find",
        })
    }
}

/// Why a job failed. Delivered in `Action::Failed`; the job is finished.
///
/// Messages say what happened and what to do; none contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "type", content = "detail", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Error {
    /// The provider refused the request for a reason only the caller can fix
    /// (bad parameters, missing permission, revoked credentials).
    #[error("{provider} rejected {endpoint} with HTTP {status}{}: {detail} — fix the request or credentials; retrying will not help", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Rejected {
        /// Provider that answered.
        provider: Provider,
        /// The operation, e.g. `POST /sd/{recordType}/report`.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The provider's error code, if it sent one.
        code: Option<String>,
        /// The provider's message.
        detail: String,
    },
    /// The provider answered with a status the job does not expect there.
    #[error("{provider} answered {endpoint} with unexpected HTTP {status}: {detail}")]
    UnexpectedStatus {
        /// Provider that answered.
        provider: Provider,
        /// The operation.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// What the body said (truncated).
        detail: String,
    },
    /// The provider's response could not be understood.
    #[error("{provider} sent a malformed response to {endpoint}: {detail} — the API may have changed or a proxy interfered")]
    MalformedResponse {
        /// Provider that answered.
        provider: Provider,
        /// The operation.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
    /// A response exceeded the job's limits.
    #[error("response to {endpoint} exceeded the {limit}-byte limit; raise the limit in JobConfig if such a response is expected")]
    ResponseTooLarge {
        /// The operation.
        endpoint: String,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The report is larger than the job's `reportLimits` allow. Not damage:
    /// downloading it again gives the same bytes, so the job stops after one
    /// download. Received `Data` is void.
    #[error("the report exceeds reportLimits.{} ({}) — raise JobConfig.reportLimits.{} if reports this large are expected, or narrow the report (a shorter period, fewer columns); downloading again will not help", limit.field(), limit.value(*bytes), limit.field())]
    ReportTooLarge {
        /// Which limit.
        limit: ReportLimit,
        /// The limit's value.
        bytes: u64,
    },
    /// The report body failed a check (gzip, CRC32, size, MD5). Received
    /// `Data` is void.
    #[error("report body failed verification: {0}")]
    Integrity(#[from] IntegrityError),
    /// The decoded report could not be split into rows.
    #[error("report body is not in the expected format: {0}")]
    Records(#[from] RecordError),
    /// The report's ZIP archive was refused (corrupt, truncated, or unsafe:
    /// a zip bomb, a `../` member name, encryption). Received `Data` is void.
    #[error("report archive refused: {0}")]
    Zip(#[from] ZipError),
    /// The provider will not deliver the report.
    #[error("{provider} reports the report as {failure} ({status}): {detail}")]
    ReportFailed {
        /// Provider that answered.
        provider: Provider,
        /// Classified failure.
        failure: ReportFailure,
        /// The provider's status string, verbatim.
        status: String,
        /// The provider's explanation and what to do.
        detail: String,
    },
    /// The transport failed (only seen inside `RetriesExhausted`).
    #[error("{0}")]
    Transport(TransportFailure),
    /// A retryable step kept failing.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<Self>,
    },
    /// A create request went out and its answer never arrived (the
    /// connection broke, the request timed out, or the host stopped while
    /// it was in flight), so the provider may already hold a report for
    /// this job, and it offers no way to find it or to repeat the request
    /// safely. The job does not create a second report silently.
    #[error("the answer to the report request sent to {provider} at {} was lost, so {provider} may already hold a report for this job; not creating a second one — look for it in {provider}'s console, or allow a second create (JobConfig allowDuplicateReports)", crate::calendar::human_time(.sent_at))]
    ReportMayExist {
        /// The provider.
        provider: Provider,
        /// When the create went out.
        sent_at: Millis,
    },
    /// The job's overall deadline passed before the report was ready.
    #[error("the job's deadline ({}) passed before the report was ready; restore the snapshot with a later deadline to continue with the same report", crate::calendar::human_time(.deadline))]
    DeadlineExceeded {
        /// The deadline.
        deadline: Millis,
    },
    /// The host cancelled the job.
    #[error("the job was cancelled by the host")]
    Cancelled,
    /// A machine reached a state it must never reach: a bug in reportflow,
    /// surfaced instead of papered over.
    #[error("reportflow bug: {detail} — please report it with the job's snapshot")]
    Internal {
        /// What was impossible.
        detail: String,
    },
}

crate::json_fields::deserialize_tagged! {
    Error, tag = "type", content = "detail", fields = Verbatim;
    "rejected" => Rejected { provider, endpoint, status, code, detail },
    "unexpectedStatus" => UnexpectedStatus { provider, endpoint, status, detail },
    "malformedResponse" => MalformedResponse { provider, endpoint, detail },
    "responseTooLarge" => ResponseTooLarge { endpoint, limit },
    "reportTooLarge" => ReportTooLarge { limit, bytes },
    "integrity" => Integrity(IntegrityError),
    "records" => Records(RecordError),
    "zip" => Zip(ZipError),
    "reportFailed" => ReportFailed { provider, failure, status, detail },
    "transport" => Transport(TransportFailure),
    "retriesExhausted" => RetriesExhausted { attempts, last },
    "reportMayExist" => ReportMayExist { provider, sent_at },
    "deadlineExceeded" => DeadlineExceeded { deadline },
    "cancelled" => Cancelled,
    "internal" => Internal { detail },
}

/// A limit of `JobConfig::report_limits` a report can exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ReportLimit {
    /// Bytes as transferred (`reportLimits.maxCompressedBytes`).
    MaxCompressedBytes,
    /// Bytes after decompression, archive members included
    /// (`reportLimits.maxDecompressedBytes`).
    MaxDecompressedBytes,
    /// Decoded bytes per compressed byte of a gzip body
    /// (`reportLimits.maxRatio`).
    MaxRatio,
}

crate::json_fields::deserialize_names! {
    ReportLimit;
    "maxCompressedBytes" => MaxCompressedBytes,
    "maxDecompressedBytes" => MaxDecompressedBytes,
    "maxRatio" => MaxRatio,
}

impl ReportLimit {
    /// The config field that sets the limit, e.g. `maxDecompressedBytes`.
    pub const fn field(self) -> &'static str {
        match self {
            Self::MaxCompressedBytes => "maxCompressedBytes",
            Self::MaxDecompressedBytes => "maxDecompressedBytes",
            Self::MaxRatio => "maxRatio",
        }
    }

    /// The limit's value as people read it.
    fn value(self, value: u64) -> String {
        match self {
            Self::MaxRatio => format!("{value} times the compressed size"),
            Self::MaxCompressedBytes | Self::MaxDecompressedBytes => format!("{value} bytes"),
        }
    }
}

/// A stable, serializable code for each failure (JavaScript's `err.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::Rejected`].
    Rejected,
    /// See [`Error::UnexpectedStatus`].
    UnexpectedStatus,
    /// See [`Error::MalformedResponse`].
    MalformedResponse,
    /// See [`Error::ResponseTooLarge`].
    ResponseTooLarge,
    /// See [`Error::ReportTooLarge`].
    ReportTooLarge,
    /// An integrity failure other than MD5 (gzip framing, CRC32, sizes).
    Gzip,
    /// The MD5 of the body did not match.
    Md5Mismatch,
    /// See [`Error::Records`].
    Records,
    /// See [`Error::Zip`].
    Zip,
    /// See [`Error::ReportFailed`].
    ReportFailed,
    /// See [`Error::Transport`].
    Transport,
    /// See [`Error::RetriesExhausted`].
    RetriesExhausted,
    /// See [`Error::ReportMayExist`].
    ReportMayExist,
    /// See [`Error::DeadlineExceeded`].
    DeadlineExceeded,
    /// See [`Error::Cancelled`].
    Cancelled,
    /// See [`Error::Internal`].
    Internal,
}

crate::json_fields::deserialize_names! {
    ErrorKind;
    "rejected" => Rejected,
    "unexpected_status" => UnexpectedStatus,
    "malformed_response" => MalformedResponse,
    "response_too_large" => ResponseTooLarge,
    "report_too_large" => ReportTooLarge,
    "gzip" => Gzip,
    "md5_mismatch" => Md5Mismatch,
    "records" => Records,
    "zip" => Zip,
    "report_failed" => ReportFailed,
    "transport" => Transport,
    "retries_exhausted" => RetriesExhausted,
    "report_may_exist" => ReportMayExist,
    "deadline_exceeded" => DeadlineExceeded,
    "cancelled" => Cancelled,
    "internal" => Internal,
}

impl ErrorKind {
    /// The code as a string, e.g. `md5_mismatch`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::UnexpectedStatus => "unexpected_status",
            Self::MalformedResponse => "malformed_response",
            Self::ResponseTooLarge => "response_too_large",
            Self::ReportTooLarge => "report_too_large",
            Self::Gzip => "gzip",
            Self::Md5Mismatch => "md5_mismatch",
            Self::Records => "records",
            Self::Zip => "zip",
            Self::ReportFailed => "report_failed",
            Self::Transport => "transport",
            Self::RetriesExhausted => "retries_exhausted",
            Self::ReportMayExist => "report_may_exist",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The stable code of this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Rejected { .. } => ErrorKind::Rejected,
            Self::UnexpectedStatus { .. } => ErrorKind::UnexpectedStatus,
            Self::MalformedResponse { .. } => ErrorKind::MalformedResponse,
            Self::ResponseTooLarge { .. } => ErrorKind::ResponseTooLarge,
            Self::ReportTooLarge { .. } => ErrorKind::ReportTooLarge,
            Self::Integrity(IntegrityError::Md5Mismatch { .. }) => ErrorKind::Md5Mismatch,
            Self::Integrity(_) => ErrorKind::Gzip,
            Self::Records(_) => ErrorKind::Records,
            Self::Zip(_) => ErrorKind::Zip,
            Self::ReportFailed { .. } => ErrorKind::ReportFailed,
            Self::Transport(_) => ErrorKind::Transport,
            Self::RetriesExhausted { .. } => ErrorKind::RetriesExhausted,
            Self::ReportMayExist { .. } => ErrorKind::ReportMayExist,
            Self::DeadlineExceeded { .. } => ErrorKind::DeadlineExceeded,
            Self::Cancelled => ErrorKind::Cancelled,
            Self::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// Who has to act.
    pub fn blame(&self) -> Blame {
        match self {
            Self::Rejected { .. } | Self::ReportTooLarge { .. } | Self::ReportMayExist { .. } => {
                Blame::Config
            }
            Self::UnexpectedStatus { .. }
            | Self::MalformedResponse { .. }
            | Self::ResponseTooLarge { .. }
            | Self::ReportFailed { .. } => Blame::Provider,
            // The build lacks the decoder, not the report its format.
            Self::Records(RecordError::CharsetUnavailable { .. }) => Blame::Config,
            Self::Integrity(_) | Self::Records(_) | Self::Zip(_) => Blame::Data,
            Self::Transport(_) => Blame::Network,
            Self::RetriesExhausted { last, .. } => last.blame(),
            // The host chose the deadline; the provider may be slow, but
            // nothing failed.
            Self::DeadlineExceeded { .. } => Blame::Host,
            Self::Cancelled => Blame::Host,
            Self::Internal { .. } => Blame::Library,
        }
    }

    /// Whether running the job again (or restoring its snapshot later) may
    /// succeed without changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Rejected { .. }
            | Self::ReportTooLarge { .. }
            | Self::Cancelled
            | Self::ReportMayExist { .. }
            | Self::Records(_)
            | Self::Internal { .. } => false,
            Self::Zip(error) => error.is_corruption(),
            Self::ReportFailed { failure, .. } => matches!(failure, ReportFailure::Fatal),
            Self::UnexpectedStatus { status, .. } => *status >= 500,
            Self::MalformedResponse { .. }
            | Self::ResponseTooLarge { .. }
            | Self::Integrity(_)
            | Self::Transport(_)
            | Self::RetriesExhausted { .. }
            | Self::DeadlineExceeded { .. } => true,
        }
    }
}

/// Longest provider text an error quotes, in characters.
const MAX_PROVIDER_TEXT_CHARS: usize = 500;

/// Provider text (an error body, a `details` field) made safe to print: an
/// HTML page loses its tags, line breaks and tabs become spaces, other
/// control and bidirectional-format characters are escaped (`\u{1b}`),
/// whitespace runs collapse, and the length is bounded. One line, always.
pub(crate) fn provider_text(text: &str) -> String {
    let lower = text
        .trim_start()
        .get(..64)
        .unwrap_or(text)
        .to_ascii_lowercase();
    let html =
        lower.starts_with("<!doctype") || lower.starts_with("<html") || lower.contains("<head");
    let mut out = String::new();
    let mut in_tag = false;
    let mut space = false;
    let mut chars = 0usize;
    for c in text.chars() {
        if html && c == '<' {
            in_tag = true;
            space = true;
            continue;
        }
        if in_tag {
            in_tag = c != '>';
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if chars >= MAX_PROVIDER_TEXT_CHARS {
            out.push('…');
            break;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
        chars += 1;
    }
    out
}

impl Error {
    /// The error with every piece of provider (or host) text in it made safe
    /// to print (see [`provider_text`]). Applied wherever an error becomes a
    /// job's end, and to errors read from snapshots.
    pub(crate) fn sanitized(self) -> Self {
        match self {
            Self::Rejected {
                provider,
                endpoint,
                status,
                code,
                detail,
            } => Self::Rejected {
                provider,
                endpoint: provider_text(&endpoint),
                status,
                code: code.map(|code| provider_text(&code)),
                detail: provider_text(&detail),
            },
            Self::UnexpectedStatus {
                provider,
                endpoint,
                status,
                detail,
            } => Self::UnexpectedStatus {
                provider,
                endpoint: provider_text(&endpoint),
                status,
                detail: provider_text(&detail),
            },
            Self::MalformedResponse {
                provider,
                endpoint,
                detail,
            } => Self::MalformedResponse {
                provider,
                endpoint: provider_text(&endpoint),
                detail: provider_text(&detail),
            },
            Self::ReportFailed {
                provider,
                failure,
                status,
                detail,
            } => Self::ReportFailed {
                provider,
                failure,
                status: provider_text(&status),
                detail: provider_text(&detail),
            },
            Self::ResponseTooLarge { endpoint, limit } => Self::ResponseTooLarge {
                endpoint: provider_text(&endpoint),
                limit,
            },
            Self::Transport(TransportFailure::Other(detail)) => {
                Self::Transport(TransportFailure::Other(provider_text(&detail)))
            }
            Self::RetriesExhausted { attempts, last } => Self::RetriesExhausted {
                attempts,
                last: Box::new(last.sanitized()),
            },
            Self::Internal { detail } => Self::Internal {
                detail: provider_text(&detail),
            },
            other => other,
        }
    }

    /// An impossible state, as a typed failure (see [`Error::Internal`]).
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::Internal {
            detail: detail.into(),
        }
    }
}

/// Host misuse of [`crate::ReportJob::handle`]. Never fatal: the job's state
/// is unchanged and the host may carry on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum InputError {
    /// The id is not the request in flight (answered twice, superseded by a
    /// timeout, or never issued). Safe to ignore.
    #[error("request {id} is not in flight (stale or unknown); input ignored")]
    StaleRequest {
        /// The id the host passed.
        id: RequestId,
    },
    /// A signature for a sign request the job does not wait for: it went
    /// stale (its `sign_before` passed and the job asked anew), was answered
    /// already, or was never issued. Nothing was taken; answer the job's
    /// latest `Sign` instead.
    #[error("sign request {id} is not pending (late, answered already, or unknown); signature refused — answer the latest Sign action")]
    StaleSignature {
        /// The id the host passed.
        id: RequestId,
    },
    /// `Chunk`/`End` came before `Head`, or `Head` came twice.
    #[error("request {id}: {detail}; feed Head once, then Chunk*, then End")]
    OutOfOrder {
        /// The request concerned.
        id: RequestId,
        /// What was out of order.
        detail: String,
    },
    /// The job has already ended; nothing more is accepted.
    #[error("the job has finished; inputs are no longer accepted")]
    Finished,
    /// Body chunks were fed faster than `poll` drained them: more than
    /// `limit` bytes would wait undecoded. Nothing was taken; drain `poll`
    /// (until it waits for this request) and feed the chunk again.
    #[error("request {id}: {unread} bytes are still undecoded and this chunk would pass the {limit}-byte backlog; drain poll before feeding more")]
    Backpressure {
        /// The request concerned.
        id: RequestId,
        /// Bytes already waiting.
        unread: u64,
        /// The backlog limit.
        limit: u64,
    },
    /// A value from the host was out of range (e.g. a NaN or negative time
    /// from JavaScript).
    #[error("invalid input: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
}

crate::json_fields::deserialize_tagged! {
    InputError, tag = "type", fields = Verbatim;
    "staleRequest" => StaleRequest { id },
    "staleSignature" => StaleSignature { id },
    "outOfOrder" => OutOfOrder { id, detail },
    "finished" => Finished,
    "backpressure" => Backpressure { id, unread, limit },
    "invalid" => Invalid { detail },
}

/// A spec or config that cannot work; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum ConfigError {
    /// A field is missing or malformed.
    #[error("invalid {field}: {detail}")]
    Invalid {
        /// The field, e.g. `reportDate`.
        field: String,
        /// What is wrong and what is expected.
        detail: String,
    },
    /// The credentials are for another provider than the spec.
    #[error("credentials are for {credentials}, but the job is for {spec}")]
    CredentialsMismatch {
        /// Provider of the spec.
        spec: Provider,
        /// Provider of the credentials.
        credentials: Provider,
    },
}

crate::json_fields::deserialize_tagged! {
    ConfigError, tag = "type", fields = Verbatim;
    "invalid" => Invalid { field, detail },
    "credentialsMismatch" => CredentialsMismatch { spec, credentials },
}

impl ConfigError {
    /// `field` is malformed: `detail` says how and what is expected.
    pub(crate) fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A snapshot that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum RestoreError {
    /// The snapshot was written by an incompatible version of reportflow.
    #[error("snapshot format {found} is not supported (this build reads {supported}); finish the job with the version that wrote it")]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u32,
        /// Version this build writes and reads.
        supported: u32,
    },
    /// The snapshot text is not a reportflow snapshot.
    #[error("snapshot is malformed: {detail}")]
    Malformed {
        /// What the parser said.
        detail: String,
    },
    /// The credentials or the host's config do not fit the snapshot's job,
    /// or the host's config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The snapshot names other endpoints than the host's config. A
    /// snapshot is untrusted data: credentials only go where the host's
    /// config points, so a snapshot that points elsewhere (edited, or saved
    /// by a host configured for another origin) is refused before anything
    /// is sent.
    #[error("the snapshot was saved for {field} {snapshot} but this host's config says {host}; credentials go only where the host's config points — restore with the config the job was created with, or start a new job")]
    EndpointMismatch {
        /// The config field, `baseUrl` or `authBaseUrl`.
        field: String,
        /// What the snapshot says (`the provider's own origin` when unset).
        snapshot: String,
        /// What the host's config says.
        host: String,
    },
    /// A value in the snapshot is out of range or contradicts another one
    /// (what `ReportJob::new` would never have produced).
    #[error("snapshot is invalid: {detail}; delete it and start a new job")]
    Invalid {
        /// What is wrong.
        detail: String,
    },
}

crate::json_fields::deserialize_tagged! {
    RestoreError, tag = "type", fields = Verbatim;
    "unsupportedVersion" => UnsupportedVersion { found, supported },
    "malformed" => Malformed { detail },
    "config" => Config(ConfigError),
    "endpointMismatch" => EndpointMismatch { field, snapshot, host },
    "invalid" => Invalid { detail },
}

impl RestoreError {
    /// A snapshot value that is out of range or inconsistent.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid {
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_is_one_printable_bounded_line() {
        let hostile = "bad\r\nX-Injected: 1\t\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}txt.exe";
        let safe = provider_text(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(!safe.contains('\u{202e}'), "{safe:?}");
        assert!(safe.contains("\\u{1b}[2J"), "{safe:?}");
        assert!(safe.starts_with("bad X-Injected: 1 "), "{safe:?}");

        let page = "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n";
        assert_eq!(provider_text(page), "502 Bad Gateway 502 Bad Gateway nginx");

        let long = "x".repeat(10_000);
        assert_eq!(
            provider_text(&long).chars().count(),
            MAX_PROVIDER_TEXT_CHARS + 1
        );
    }

    #[test]
    fn errors_are_sanitized_all_the_way_down() {
        let error = Error::RetriesExhausted {
            attempts: 3,
            last: Box::new(Error::UnexpectedStatus {
                provider: Provider::AmazonAds,
                endpoint: "GET /x".into(),
                status: 502,
                detail: "<html><body>\n<h1>Bad\u{1b}[31m</h1>\n</body></html>".into(),
            }),
        }
        .sanitized();
        let text = error.to_string();
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("Bad\\u{1b}[31m"), "{text}");
    }

    #[test]
    fn report_failures_read_as_words_not_rust_names() {
        for (failure, words) in [
            (ReportFailure::Fatal, "as failed"),
            (ReportFailure::Cancelled, "as cancelled"),
            (ReportFailure::TooLarge, "as too large to generate"),
            (ReportFailure::NotFound, "as unknown"),
            (
                ReportFailure::ResourceNotFound,
                "as naming entities it cannot find",
            ),
        ] {
            let error = Error::ReportFailed {
                provider: Provider::YandexMarket,
                failure,
                status: "FAILED".to_owned(),
                detail: "narrow the period".to_owned(),
            };
            let message = error.to_string();
            assert!(message.contains(words), "{message}");
            assert!(!message.contains(&format!("{failure:?}")), "{message}");
        }
    }
}
