//! Amazon Pay's report JSON, as serde types. Tolerant: unknown fields are
//! ignored and enums are kept as strings, classified by the machine.

use serde::{Deserialize, Serialize};

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

/// A `Report` as Get Reports lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Listed {
    #[serde(default)]
    pub(super) report_id: Option<String>,
    #[serde(default)]
    pub(super) report_type: Option<String>,
    #[serde(default)]
    pub(super) created_time: Option<String>,
    #[serde(default)]
    pub(super) processing_status: Option<String>,
    #[serde(default)]
    pub(super) report_document_id: Option<String>,
}

/// `200` of Get Reports: a page and the token of the next one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportPage {
    #[serde(default)]
    pub(super) reports: Vec<Listed>,
    #[serde(default)]
    pub(super) next_token: Option<String>,
}

/// A `ReportSchedule`: the four documented fields (others are dropped;
/// typed fields keep the production module small).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) report_schedule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) report_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) schedule_frequency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) next_report_creation_time: Option<String>,
}

/// Get Report Schedules (and, per the docs' example, Get Report Schedule By
/// Id): `{"reportSchedules": [ReportSchedule]}`; the .NET SDK reads Get By
/// Id as a bare `ReportSchedule`, so both are read: the wrapper when it is
/// there, else the object itself.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schedules {
    #[serde(default)]
    report_schedules: Option<Vec<Schedule>>,
    #[serde(default)]
    report_schedule_id: Option<String>,
    #[serde(default)]
    report_type: Option<String>,
    #[serde(default)]
    schedule_frequency: Option<String>,
    #[serde(default)]
    next_report_creation_time: Option<String>,
}

impl Schedules {
    pub(super) fn into_vec(self) -> Vec<Schedule> {
        match (self.report_schedules, self.report_schedule_id) {
            (Some(schedules), _) => schedules,
            (None, Some(id)) => vec![Schedule {
                report_schedule_id: Some(id),
                report_type: self.report_type,
                schedule_frequency: self.schedule_frequency,
                next_report_creation_time: self.next_report_creation_time,
            }],
            (None, None) => Vec::new(),
        }
    }
}

/// Create Report Schedule's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScheduleCreated {
    #[serde(default)]
    pub(super) report_schedule_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_by_id_reads_the_wrapper_and_the_bare_object() {
        let wrapped = br#"{"reportSchedules":[{"reportScheduleId":"68973459224","reportType":"_X_","scheduleFrequency":"P1D","nextReportCreationTime":"20221114T074550Z"}]}"#;
        let bare = br#"{"reportScheduleId":"68973459224","reportType":"_X_","scheduleFrequency":"P1D","future":1}"#;
        for body in [&wrapped[..], &bare[..]] {
            let schedules: Schedules = serde_json::from_slice(body).unwrap();
            let schedules = schedules.into_vec();
            assert_eq!(schedules.len(), 1);
            assert_eq!(schedules[0].report_schedule_id.as_deref(), Some("68973459224"));
        }
        let empty: Schedules = serde_json::from_slice(br#"{"reportSchedules":[]}"#).unwrap();
        assert!(empty.into_vec().is_empty());
        assert!(serde_json::from_slice::<Schedules>(b"[1]").is_err());
        let nothing: Schedules = serde_json::from_slice(b"{}").unwrap();
        assert!(nothing.into_vec().is_empty());
    }
}
