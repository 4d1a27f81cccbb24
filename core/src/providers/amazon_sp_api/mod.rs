//! Selling Partner API Reports (2021-06-30), the successor of MWS Reports.
//!
//! ```text
//!   [LwA token] ──► (adoptExisting, or a create whose answer was lost)
//!        │          GET …/reports?reportTypes&processingStatuses&marketplaceIds&createdSince
//!        │                 │ a matching report: continue it ─────────────────────────┐
//!        ▼                 ▼ none                                                     │
//!   POST /reports/2021-06-30/reports {reportType, marketplaceIds, dataStartTime,      │
//!                                     dataEndTime, reportOptions} ──202 {reportId}──┐ │
//!                                ┌──── wait: poll backoff ─────────────┐            ▼ ▼
//!                      GET /reports/2021-06-30/reports/{reportId} ── IN_QUEUE / IN_PROGRESS
//!                                │ CANCELLED: Done(NoData) — no data, or cancelled (unsaid)
//!                                │ FATAL + reportDocumentId: the error document (once) → Failed
//!                                ▼ DONE + reportDocumentId
//!                      GET /reports/2021-06-30/documents/{reportDocumentId} ── {url (5 min), compressionAlgorithm}
//!                                ▼            ▲ expired (403) or damaged body: a fresh document
//!                      GET <url> (no headers) ┘ answer, at most max_link_refreshes times
//!                                ▼ gunzip when the bytes are gzip (labels lie both ways),
//!                                  Windows-31J → UTF-8 for JP flat files, rows counted
//! ```
//!
//! Facts (`shared/specs/amazon-sp-api/reports_2021-06-30.json`, Amazon's
//! model; `shared/providers/amazon.md` §1.1–1.2 for LwA):
//! - Hosts `sellingpartnerapi-{na,eu,fe}.amazon.com`; every call carries
//!   `x-amz-access-token` (an LwA access token, refresh-token grant at
//!   `api.amazon.com`). Since 2023 no AWS SigV4 signature is needed.
//! - Usage plans (rate per second, burst): getReports 0.0222/10,
//!   createReport 0.0167/15, getReport 2/15, getReportDocument 0.0167/15,
//!   each a `TokenBucket`; every answer's `x-amzn-RateLimit-Limit` names
//!   the rate applied and retunes the bucket. `429` (`QuotaExceeded`)
//!   empties the operation's bucket until the job's backoff has passed (no
//!   `Retry-After` is documented; Amazon's guidance is to back off).
//! - Errors are `{"errors": [{"code", "message", "details"}]}`.
//! - `processingStatus`: `IN_QUEUE`, `IN_PROGRESS`, `DONE`, `CANCELLED`
//!   ("an explicit cancellation request before the report starts
//!   processing, or an automatic cancellation if there is no data to
//!   return"), `FATAL` (its `reportDocumentId`, when present, names an
//!   error document).
//! - `ReportDocument.url` "expires after 5 minutes"; `compressionAlgorithm`
//!   is `GZIP` or absent.

mod config;
mod machine;
mod wire;

pub use config::{
    api_origin, Credentials, DocumentFormat, Region, ReportSpec, AUTH_ORIGIN, JP_MARKETPLACE,
};
pub(crate) use machine::Flow;
#[allow(unused_imports)]
pub(crate) use machine::{
    BUCKETS, CREATE_BUCKET, DOCUMENT_BUCKET, FIND_BUCKET, LINK_LIFETIME_MS, STATUS_BUCKET,
};
