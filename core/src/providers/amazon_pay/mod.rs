//! Amazon Pay API v2 reports, signed by a key the job never holds.
//!
//! ```text
//!   POST {base}/reports  (x-amz-pay-idempotency-key: derived from the job) ──201 {reportId}──┐
//!        ▲ a lost answer: the same create with the same key (Amazon answers the same report) │
//!        │                                          ┌──── wait: poll backoff ──────────────┐ ▼
//!        │                               GET {base}/reports/{reportId} ── IN_PROGRESS / unknown
//!        │                                          │ CANCELLED: Done(NoData) — Amazon's "no data"
//!        │                                          │ FAILED: Failed(ReportFailed{Fatal})
//!        │                                          ▼ COMPLETED + reportDocumentId
//!        │                  GET {base}/report-documents/{reportDocumentId} ── {url} (lives 30 s)
//!        │                                          ▼            ▲ expired (403) or damaged body:
//!        │                  GET <url> (no x-amz-pay-*, no authorization) ──┘ a fresh document answer,
//!        │                                          │               at most max_link_refreshes times
//!        │                                          ▼ a flat file (TSV), rows counted
//!
//!   every API call: the job builds the canonical request and asks the host to sign
//!   (Action::Sign → Input::Signature), then sends it with its authorization header
//! ```
//!
//! [`Task`] selects what the job does; the other tasks are stages of the same
//! machine:
//!
//! ```text
//!   findReport:      GET {base}/reports?reportTypes&processingStatuses=COMPLETED&createdSince&pageSize=100
//!                    ──nextToken (alone)──▶ … ──▶ the newest one not delivered → Get Report Document → download
//!                    (none: Done(NoData))
//!   listSchedules / getSchedule:  GET {base}/report-schedules[?reportTypes] | /report-schedules/{id}
//!                    ──▶ Data: JSON array of ReportSchedule ──▶ Done
//!   ensureSchedule:  GET {base}/report-schedules?reportTypes=T ── matches? ──yes──▶ Data + Done (no write)
//!                          ▲                                        │ no
//!                          └── read back ◀── POST {base}/report-schedules (deleteExistingSchedule: true)
//!                              (a lost or refused write, or a restore, reads first again)
//!   createSchedule:  POST {base}/report-schedules ──▶ read back ──▶ Data + Done
//!   cancelSchedule:  DELETE {base}/report-schedules/{id} ──▶ Data `[]` + Done
//! ```
//!
//! Facts (`shared/providers/amazon.md` §3, `shared/specs/amazon-pay/`):
//! - Hosts `pay-api.amazon.com` (NA), `.eu` (EU), `.jp` (JP); base path
//!   `/live/v2` or `/sandbox/v2` for legacy public key ids, `/v2` for
//!   `LIVE-`/`SANDBOX-` key ids ([`ReportSpec::base_path`]). The sandbox has
//!   one report type, [`SANDBOX_SETTLEMENT_REPORT`].
//! - Every call carries `accept`, `content-type`, `x-amz-pay-date` (ISO 8601
//!   basic), `x-amz-pay-host`, `x-amz-pay-region` and, on POST,
//!   `x-amz-pay-idempotency-key`; exactly these are signed
//!   ([`signing`]). The host signs with RSASSA-PSS/SHA-256, salt 32 for
//!   `AMZN-PAY-RSASSA-PSS-V2`, 20 for the legacy `AMZN-PAY-RSASSA-PSS`. A
//!   signed request goes stale 5 minutes after its date.
//! - Report times are sent in the basic format; both forms are read.
//! - Errors are `{"reasonCode","message"}`: 429 waits (`Retry-After` when
//!   given, the job's bucket emptied until then), 408/425/5xx retry,
//!   401/403 (a refused signature) and other 4xx are typed rejections, 404 of
//!   a report or document is `ReportFailed{NotFound}`.

mod config;
mod machine;
pub mod signing;
mod wire;

pub use config::{
    basic_time, frequency_ms, Credentials, Environment, Region, ReportSpec, Task, MAX_DELIVERED,
    REPORT_TYPES, SANDBOX_SETTLEMENT_REPORT, SCHEDULE_FREQUENCIES, UNSCHEDULABLE_REPORT,
};
pub(crate) use machine::Flow;
#[allow(unused_imports)]
pub(crate) use machine::{API_BUCKET, LINK_LIFETIME_MS, SIGNATURE_LIFETIME_MS};
pub use signing::SigningAlgorithm;
