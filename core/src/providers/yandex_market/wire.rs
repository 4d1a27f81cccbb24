//! The Partner API's JSON, as serde types. Tolerant: unknown fields are
//! ignored, enums are kept as strings and classified by the machine, and
//! `estimatedGenerationTime` may arrive as any JSON number.


/// `GenerateReportResponse` (`T` = [`GenerateReport`]) and
/// `GetReportInfoResponse` (`T` = [`ReportInfo`]).
#[derive(Debug)]
pub(super) struct Answer<T> {
    pub(super) status: Option<String>,
    // Missing reads as `None`, as every `Option` field (`deserialize_struct!`).
    pub(super) result: Option<T>,
}

crate::json_fields::deserialize_struct! {
    Answer<T: serde::de::DeserializeOwned>, fields = Verbatim, unknown = Ignore;
    status, result
}


/// `GenerateReportDTO`.
#[derive(Debug)]
pub(super) struct GenerateReport {
    pub(super) report_id: Option<String>,
    pub(super) estimated_generation_time: Option<serde_json::Number>,
}

crate::json_fields::deserialize_struct! {
    GenerateReport, fields = Camel, unknown = Ignore;
    report_id, estimated_generation_time
}


/// `ReportInfoDTO`.
#[derive(Debug)]
pub(super) struct ReportInfo {
    pub(super) status: Option<String>,
    pub(super) sub_status: Option<String>,
    pub(super) file: Option<String>,
    pub(super) estimated_generation_time: Option<serde_json::Number>,
}

crate::json_fields::deserialize_struct! {
    ReportInfo, fields = Camel, unknown = Ignore;
    status, sub_status, file, estimated_generation_time
}


/// `ApiErrorResponse`: `{"status":"ERROR","errors":[{"code","message"}]}`.
#[derive(Debug)]
pub(super) struct ErrorResponse {
    pub(super) errors: Option<Vec<ApiError>>,
}

crate::json_fields::deserialize_struct! {
    ErrorResponse, fields = Verbatim, unknown = Ignore;
    errors
}


/// `ApiErrorDTO`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ApiError, fields = Verbatim, unknown = Ignore;
    code, message
}


/// Milliseconds of an `estimatedGenerationTime`, if positive.
pub(super) fn millis(number: Option<&serde_json::Number>) -> Option<u64> {
    let number = number?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })
        .filter(|ms| *ms > 0)
}
