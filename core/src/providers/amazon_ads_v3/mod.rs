//! Amazon Ads Reporting v3 (`/reporting/reports`): Sponsored Display,
//! Products and Brands reports, the successor of the SD v2 endpoints Amazon
//! shut down on 2024-10-31.
//!
//! ```text
//!   [LwA token refresh] ──► POST /reporting/reports ──200 PENDING──► GET /reporting/reports/{reportId}
//!          ▲                  │ 425 "duplicate of : <id>":            │ PENDING / PROCESSING: wait, poll again
//!          │ 401 (once)       │   adopt <id>, poll it                 │ FAILED: Failed(ReportFailed, failureReason)
//!          └──────────────────┘                                       ▼ COMPLETED: url, urlExpiresAt
//!                                       GET <url> (S3, no auth) ──► gunzip (by the bytes) ──► JSON rows
//!                                          │ 403 expired / damaged body: GET the report again for a
//!                                          └── fresh url (within max_link_refreshes), never a new report
//! ```
//!
//! Facts (`shared/specs/amazon-ads-reporting-v3/`, NOTES.md has each source):
//! - Every API call carries `Authorization: Bearer <LwA token>`,
//!   `Amazon-Advertising-API-ClientId`, `Amazon-Advertising-API-Scope` (the
//!   profile) and `Content-Type: application/vnd.createasyncreportrequest.v3+json`
//!   (get-started, "Headers"). The report url is a presigned S3 link and
//!   gets none of them.
//! - Create answers **200** with the `AsyncReport` (`PENDING`); statuses are
//!   `PENDING`, `PROCESSING`, `COMPLETED` (`url`, `urlExpiresAt`, default one
//!   hour) and `FAILED` (`failureReason`). Generation "can take as long as 3
//!   hours".
//! - An identical create while the first is processing gets **425**; the
//!   observed `detail` is `"The Request is a duplicate of : <reportId>"`
//!   (community evidence, NOTES §6). The job adopts that report, and
//!   compares its type, time unit and dates with the spec on the first poll.
//! - Errors are `{"code", "detail"}` (`code` a string or, in the spec's
//!   examples, a number). `429` carries `Retry-After` in seconds; no numeric
//!   quota is published.
//! - Each report type limits the range of one report (31 days for Sponsored
//!   Display, 365 for gross and invalid traffic); see [`ReportType`].
//!   Longer ranges are refused before any request; [`ReportSpec::split`]
//!   cuts them into allowed ones.
//! - The body is gzip (`GZIP_JSON`), a JSON array of row objects. The
//!   download is decoded by its bytes, not by its label.

mod config;
mod machine;
mod report_types;
mod wire;

pub use config::{Credentials, Region, ReportFilter, ReportSpec, TimeUnit};
pub(crate) use machine::Flow;
pub use report_types::{AdProduct, Filter, GroupBy, ReportType};
