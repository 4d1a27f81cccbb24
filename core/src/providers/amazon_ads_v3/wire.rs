//! Reporting v3's JSON, as serde types (`OfflineReport_prod_3p.json`,
//! `components.schemas`). Tolerant: unknown fields are ignored; statuses
//! are kept as strings and classified by the machine.

use serde::{Deserialize, Serialize};

use super::config::ReportFilter;

/// `CreateAsyncReportRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    pub(super) start_date: &'a str,
    pub(super) end_date: &'a str,
    pub(super) configuration: Configuration<'a>,
}

/// `AsyncReportConfiguration` as sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Configuration<'a> {
    pub(super) ad_product: &'static str,
    pub(super) group_by: &'a [String],
    pub(super) columns: &'a [String],
    pub(super) report_type_id: &'a str,
    pub(super) time_unit: &'static str,
    pub(super) format: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(super) filters: &'a [ReportFilter],
}

/// `AsyncReport`, the answer of both the create and the status call.
#[derive(Debug)]
pub(super) struct AsyncReport {
    pub(super) report_id: Option<String>,
    pub(super) status: Option<String>,
    pub(super) failure_reason: Option<String>,
    /// A JSON number in the spec (bytes).
    pub(super) file_size: Option<f64>,
    pub(super) url: Option<String>,
    pub(super) url_expires_at: Option<String>,
    pub(super) start_date: Option<String>,
    pub(super) end_date: Option<String>,
    pub(super) configuration: Option<ReportedConfiguration>,
}

crate::json_fields::deserialize_struct! {
    AsyncReport, fields = Camel, unknown = Ignore;
    report_id, status, failure_reason, file_size, url, url_expires_at, start_date, end_date, configuration
}


/// The parts of a report's `configuration` that tell two reports apart.
#[derive(Debug)]
pub(super) struct ReportedConfiguration {
    pub(super) report_type_id: Option<String>,
    pub(super) time_unit: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ReportedConfiguration, fields = Camel, unknown = Ignore;
    report_type_id, time_unit
}


/// `AsyncReportingError`: `{"code": "…", "detail": "…"}`. The spec's
/// examples give `code` as a number although the schema says string.
#[derive(Debug, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) code: Option<serde_json::Value>,
    #[serde(default, alias = "details", alias = "message")]
    pub(super) detail: Option<String>,
}
