//! The Reports API 2021-06-30 JSON, as serde types. Tolerant: unknown
//! fields are ignored and enums are kept as strings, classified by the
//! machine.


/// `202` of createReport (`CreateReportResponse`).
#[derive(Debug)]
pub(super) struct Created {
    pub(super) report_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Created, fields = Camel, unknown = Ignore;
    report_id
}


/// A `Report` (getReport, and each item of getReports).
#[derive(Debug)]
pub(super) struct Report {
    pub(super) report_id: Option<String>,
    pub(super) report_type: Option<String>,
    pub(super) marketplace_ids: Option<Vec<String>>,
    pub(super) data_start_time: Option<String>,
    pub(super) data_end_time: Option<String>,
    pub(super) created_time: Option<String>,
    pub(super) processing_status: Option<String>,
    pub(super) report_document_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Report, fields = Camel, unknown = Ignore;
    report_id, report_type, marketplace_ids, data_start_time, data_end_time, created_time, processing_status, report_document_id
}


/// `GetReportsResponse`.
#[derive(Debug)]
pub(super) struct Reports {
    pub(super) reports: Vec<Report>,
    /// More reports match: the token that reads the next page.
    pub(super) next_token: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Reports, fields = Camel, unknown = Ignore;
    reports = default, next_token
}


/// A `ReportDocument`.
#[derive(Debug)]
pub(super) struct ReportDocument {
    pub(super) url: Option<String>,
    pub(super) compression_algorithm: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ReportDocument, fields = Camel, unknown = Ignore;
    url, compression_algorithm
}


/// `ErrorList`: `{"errors": [{"code", "message", "details"}]}`.
#[derive(Debug)]
pub(super) struct ErrorList {
    pub(super) errors: Vec<ApiError>,
}

crate::json_fields::deserialize_struct! {
    ErrorList, fields = Verbatim, unknown = Ignore;
    errors = default
}


/// One `Error` of an `ErrorList`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) details: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ApiError, fields = Verbatim, unknown = Ignore;
    code, message, details
}

