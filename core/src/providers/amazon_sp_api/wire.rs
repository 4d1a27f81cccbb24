//! The Reports API 2021-06-30 JSON, as serde types. Tolerant: unknown
//! fields are ignored and enums are kept as strings, classified by the
//! machine.

use serde::Deserialize;

/// `202` of createReport (`CreateReportResponse`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Created {
    #[serde(default)]
    pub(super) report_id: Option<String>,
}

/// A `Report` (getReport, and each item of getReports).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report {
    #[serde(default)]
    pub(super) report_id: Option<String>,
    #[serde(default)]
    pub(super) report_type: Option<String>,
    #[serde(default)]
    pub(super) marketplace_ids: Option<Vec<String>>,
    #[serde(default)]
    pub(super) data_start_time: Option<String>,
    #[serde(default)]
    pub(super) data_end_time: Option<String>,
    #[serde(default)]
    pub(super) created_time: Option<String>,
    #[serde(default)]
    pub(super) processing_status: Option<String>,
    #[serde(default)]
    pub(super) report_document_id: Option<String>,
}

/// `GetReportsResponse`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Reports {
    #[serde(default)]
    pub(super) reports: Vec<Report>,
    /// More reports match: the token that reads the next page.
    #[serde(default)]
    pub(super) next_token: Option<String>,
}

/// A `ReportDocument`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportDocument {
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) compression_algorithm: Option<String>,
}

/// `ErrorList`: `{"errors": [{"code", "message", "details"}]}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorList {
    #[serde(default)]
    pub(super) errors: Vec<ApiError>,
}

/// One `Error` of an `ErrorList`.
#[derive(Debug, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default)]
    pub(super) details: Option<String>,
}
