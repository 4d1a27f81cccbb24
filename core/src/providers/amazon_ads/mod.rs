//! Amazon Ads Sponsored Display v2 reports.
//!
//! ```text
//!             ┌──────────── 401 (once) ───────────┐
//!             ▼                                    │
//!   [LwA token refresh] ──► POST /sd/{recordType}/report ──202──► GET /v2/reports/{id}
//!                                  ▲                                 │ IN_PROGRESS: wait, poll again
//!                                  │ links exhausted (last resort)   │ FAILURE: Failed(ReportFailed)
//!                                  │                                 ▼ SUCCESS
//!                      GET /v2/reports/{id}/download ──307 Location──► GET <S3 URL> (no auth)
//!                                  ▲                                 │ 200: gunzip, verify, JSON rows
//!                                  └── 403 expired / corrupt body ───┘
//! ```
//!
//! Facts (checked against `shared/specs/amazon-ads-sponsored-display/openapi.yaml`,
//! operations `requestReport`, `getReportStatus`, `downloadReport`):
//! - Every API call carries `Authorization: Bearer <LwA token>`,
//!   `Amazon-Advertising-API-ClientId` and `Amazon-Advertising-API-Scope`
//!   (the profile id). The S3 download carries none of them: S3 rejects a
//!   second auth mechanism, and the token must not leak to another host.
//! - `/download` answers `307` with a presigned S3 URL that lives 30 seconds;
//!   it is never auto-followed. A browser host cannot avoid following; then
//!   the 200 report body arrives on the `/download` request and is accepted
//!   as the same step.
//! - `429` carries `Retry-After` in seconds; nothing is sent before it passes.
//! - `406` (date too far in the past) and `422` (invalid parameters) are
//!   typed rejections carrying Amazon's message.
//! - The report is a gzip JSON array, one object per row; ids can exceed
//!   2^53 and are passed through as exact bytes.
//! - Amazon shut SD v2 reporting down on 2024-10-31; this module serves
//!   archived integrations and the simulator.

mod config;
pub(crate) mod lwa;
mod machine;
mod wire;

pub use config::{Credentials, RecordType, Region, ReportSpec, Segment, Tactic};
pub(crate) use machine::Flow;
