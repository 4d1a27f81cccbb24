//! Amazon MWS Reports (section version `2009-01-01`).
//!
//! ```text
//!   RequestReport (ReportType, StartDate, EndDate, ReportOptions, MarketplaceIdList.Id.N)
//!        │ ReportRequestId, _SUBMITTED_           (a spec with a ReportId starts at GetReport)
//!        ▼
//!   GetReportRequestList (ReportRequestIdList.Id.1) ◀── _SUBMITTED_ / _IN_PROGRESS_: poll backoff
//!        │ _DONE_NO_DATA_: Done(NoData), no GetReport
//!        │ _CANCELLED_: Failed(ReportFailed{Cancelled}) — cancelled, or asked too often
//!        │ _DONE_ without GeneratedReportId ──▶ GetReportList (ReportRequestIdList.Id.1) ──┐
//!        ▼ _DONE_ + GeneratedReportId                                      ReportInfo/ReportId
//!   GetReport (ReportId) ◀──────────────────────────────────────────────────────────────────┘
//!        │ the raw flat file, streamed: MD5 against Content-MD5, charset → UTF-8, TSV rows
//!        └── MD5 mismatch (or no Content-MD5): DataReset, GetReport again — 4 calls at most,
//!            then Failed(Md5Mismatch{expected, actual})
//! ```
//!
//! Facts (checked against `shared/providers/amazon.md` §2 and
//! `shared/specs/amazon-mws/`: NOTES.md, the docs pages, the recorded
//! answers and `signing-test-vectors.json`):
//! - Every call is a `POST` of a form body to `{endpoint}/Reports/2009-01-01`,
//!   signed with Signature Version 2, HmacSHA256 (`sign.rs`): the secret key
//!   signs inline, so no `Action::Sign` is needed. `Timestamp` comes from the
//!   job's clock; MWS refuses one more than 15 minutes off, so a signed
//!   request carries `send_before` = now + 5 minutes.
//! - Each operation has its official burst quota and restore rate as a
//!   token bucket (RequestReport 15 / 1 per minute, GetReportRequestList
//!   10 / 1 per 45 s, GetReportList 10 / 1 per minute, GetReport 15 / 1 per
//!   minute) and its hourly quota (60 / 80 / 60 / 60) as a second, window
//!   bucket; a call takes a token from both. The hour is counted from the
//!   first call (Amazon's `resetsOn` example is not on the clock hour), and
//!   the answers' `x-mws-quota-remaining` and `x-mws-quota-resetsOn` (ISO
//!   8601 or RFC 1123) replace the job's count and the hour's end.
//! - `503 RequestThrottled` waits one restore interval, `QuotaExceeded`
//!   until the quota resets; `InternalError`, `ServiceUnavailable` and other
//!   5xx retry; `InvalidParameterValue`, `AccessDenied`, `InvalidAccessKeyId`,
//!   `SignatureDoesNotMatch` and other 4xx are typed rejections quoting
//!   Amazon's code and message; an unknown request or report id is
//!   `ReportFailed{NotFound}`.
//! - Answers are XML, read with a streaming reader by local name (the
//!   namespace drifted), in any element order (`wire.rs`).
//! - GetReport is on the API host (no presigned link). Its body is the raw
//!   report with a `Content-MD5` header; the MD5 is checked over the raw
//!   bytes as they stream, before any decoding. A mismatch, or a missing
//!   header unless [`ReportSpec::accept_unverified`], voids the data
//!   (`DataReset`, whose cause, like the `Retrying` event's, names the
//!   corruption so the host can tell Amazon) and asks again, at most three
//!   more times (never more than `JobConfig::max_link_refreshes`).
//! - Flat files come in the marketplace's charset: Windows-31J in Japan,
//!   UTF-8 in China, windows-1252 (`Cp1252`) elsewhere; a `charset` in the
//!   `Content-Type` wins. They are decoded to UTF-8 and their TSV rows counted.

pub(crate) mod config;
mod machine;
pub(crate) mod sign;
mod wire;

pub use config::{marketplace_id, Credentials, Region, ReportSpec, MARKETPLACES, REPORTS_PATH};
pub(crate) use machine::Flow;
#[allow(unused_imports)]
pub(crate) use machine::{Call, MAX_MD5_RETRIES, OPERATIONS, SIGNED_REQUEST_LIFETIME_MS};
