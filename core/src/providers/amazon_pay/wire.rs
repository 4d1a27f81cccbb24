//! Amazon Pay's report JSON, as serde types. Tolerant: unknown fields are
//! ignored and enums are kept as strings, classified by the machine.

use serde::Deserialize;

/// `201` of Create Report.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Created {
    #[serde(default)]
    pub(super) report_id: Option<String>,
}

/// A `Report` (Get Report By Id).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report {
    #[serde(default)]
    pub(super) processing_status: Option<String>,
    #[serde(default)]
    pub(super) report_document_id: Option<String>,
}

/// A `ReportDocument`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportDocument {
    #[serde(default)]
    pub(super) url: Option<String>,
}

/// The error body: `{"reasonCode": "…", "message": "…"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub(super) reason_code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
}
