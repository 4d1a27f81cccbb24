//! The Ads API's JSON, as serde types. Tolerant: unknown fields are ignored,
//! unknown statuses are kept as strings and classified by the machine.

use serde::{Deserialize, Serialize};

/// `ReportRequest` body of `POST /sd/{recordType}/report`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportRequest<'a> {
    pub(super) report_date: &'a str,
    pub(super) tactic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) segment: Option<&'a str>,
    pub(super) metrics: String,
}

/// `ReportResponse`, from both the create and the status call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportResponse {
    pub(super) report_id: Option<String>,
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) status_details: Option<String>,
    #[serde(default)]
    pub(super) file_size: Option<u64>,
}

/// `Error` body: `{ "code": "...", "details": "..." }`.
#[derive(Debug, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) code: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) details: Option<String>,
}
