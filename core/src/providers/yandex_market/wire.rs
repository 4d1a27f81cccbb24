//! The Partner API's JSON, as serde types. Tolerant: unknown fields are
//! ignored, enums are kept as strings and classified by the machine, and
//! `estimatedGenerationTime` may arrive as any JSON number.

use serde::Deserialize;

/// `GenerateReportResponse` (`T` = [`GenerateReport`]) and
/// `GetReportInfoResponse` (`T` = [`ReportInfo`]).
#[derive(Debug, Deserialize)]
pub(super) struct Answer<T> {
    #[serde(default)]
    pub(super) status: Option<String>,
    // No `#[serde(default)]`: it would demand `T: Default`, and a missing
    // `Option` field reads as `None` without it.
    pub(super) result: Option<T>,
}

/// `GenerateReportDTO`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateReport {
    #[serde(default)]
    pub(super) report_id: Option<String>,
    #[serde(default)]
    pub(super) estimated_generation_time: Option<serde_json::Number>,
}

/// `ReportInfoDTO`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportInfo {
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) sub_status: Option<String>,
    #[serde(default)]
    pub(super) file: Option<String>,
    #[serde(default)]
    pub(super) estimated_generation_time: Option<serde_json::Number>,
}

/// `ApiErrorResponse`: `{"status":"ERROR","errors":[{"code","message"}]}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorResponse {
    #[serde(default)]
    pub(super) errors: Option<Vec<ApiError>>,
}

/// `ApiErrorDTO`.
#[derive(Debug, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
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
