//! The Ads API's JSON, as serde types. Tolerant: unknown fields are ignored,
//! unknown statuses are kept as strings and classified by the machine.

use serde::Serialize;

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
#[derive(Debug)]
pub(super) struct ReportResponse {
    pub(super) report_id: Option<String>,
    pub(super) status: Option<String>,
    pub(super) status_details: Option<String>,
    pub(super) file_size: Option<u64>,
}

crate::json_fields::deserialize_struct! {
    ReportResponse, fields = Camel, unknown = Ignore;
    report_id, status, status_details, file_size
}


/// `Error` body: `{ "code": "...", "details": "..." }`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) code: Option<serde_json::Value>,
    pub(super) details: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ApiError, fields = Verbatim, unknown = Ignore;
    code, details
}

