//! Lingxing (领星 ERP) OpenAPI: Amazon report export.
//!
//! ```text
//!   [token: access-token (appId+appSecret) | refresh (single-use refresh token)]
//!        │  before expiry, and after 2001003 (refresh) / 2001005 (fetch anew)
//!        ▼
//!   POST create/reportExportTask ──task_id──► POST query/reportExportTask ◄─┐
//!                                               │ IN_QUEUE / IN_PROGRESS /   │
//!                                               │ UNKNOWN: wait, poll again ─┘
//!                                               │ CANCELLED: Done(NoData)
//!                                               │ FATAL: Failed(ReportFailed{Fatal})
//!                                               ▼ DONE: url (5 minutes)
//!   POST amazonReportExportTask ──new url──► GET <url> (no sign, no token)
//!        ▲                                      │ 200: gunzip (label or bytes), TSV rows → Done
//!        └── link lapsed / 403 / corrupt body ──┘
//! ```
//!
//! Facts (checked against `shared/specs/lingxing/report-export.json`, the
//! `examples/*.doc-example.json` answers and
//! `signing-test-vectors.json`):
//! - Errors arrive as body codes on HTTP 200, in two envelopes: business
//!   (`code` int, `message`) and gateway/token (`code` string, `msg`). A
//!   `FATAL` or `CANCELLED` task still comes with `code: 0`.
//! - Every report call is signed: business params + `access_token`,
//!   `app_key`, `timestamp` (seconds); empty strings dropped; nested values
//!   as compact key-sorted JSON; sorted `k=v&…`; upper-case MD5;
//!   AES-128-ECB/PKCS#7 with the AppID as key; Base64; percent-encoded once,
//!   in the query only. Signs live 2 minutes (`2001007`), so each request
//!   is signed when built and carries `send_before`.
//! - Each report endpoint is a token bucket of capacity 1 per AppID
//!   (`3001008`, and the business limiter `103`): at most one request in
//!   flight per endpoint; a lost request holds its token for 2 minutes.
//! - Download links live 5 minutes and are renewed with
//!   `amazonReportExportTask`, never by exporting again.
//! - Config errors (`2001001`, `2001002`, `2001004`, `3001002`, gateway
//!   401/403, the WAF's "Your IP address is not allowed") are terminal and
//!   say what to fix. HTML bodies are typed errors.

mod config;
mod machine;
pub(crate) mod sign;
mod wire;

#[cfg(test)]
mod tests;

pub use config::{Credentials, Region, ReportSpec, API_ORIGIN};
pub(crate) use machine::Flow;
#[allow(unused_imports)]
pub(crate) use machine::{BUCKET_HOLD_MS, LINK_LIFETIME_MS, SIGN_SEND_WINDOW_MS};
