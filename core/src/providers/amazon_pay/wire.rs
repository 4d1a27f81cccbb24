//! Amazon Pay's report JSON, as serde types. Tolerant: unknown fields are
//! ignored and enums are kept as strings, classified by the machine.

use serde::Serialize;

/// `201` of Create Report.
#[derive(Debug)]
pub(super) struct Created {
    pub(super) report_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Created, fields = Camel, unknown = Ignore;
    report_id
}


/// A `Report` (Get Report By Id).
#[derive(Debug)]
pub(super) struct Report {
    pub(super) processing_status: Option<String>,
    pub(super) report_document_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Report, fields = Camel, unknown = Ignore;
    processing_status, report_document_id
}


/// A `ReportDocument`.
#[derive(Debug)]
pub(super) struct ReportDocument {
    pub(super) url: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ReportDocument, fields = Camel, unknown = Ignore;
    url
}


/// The error body: `{"reasonCode": "…", "message": "…"}`.
#[derive(Debug)]
pub(super) struct ErrorBody {
    pub(super) reason_code: Option<String>,
    pub(super) message: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ErrorBody, fields = Camel, unknown = Ignore;
    reason_code, message
}


/// A `Report` as Get Reports lists it.
#[derive(Debug)]
pub(super) struct Listed {
    pub(super) report_id: Option<String>,
    pub(super) report_type: Option<String>,
    pub(super) created_time: Option<String>,
    pub(super) processing_status: Option<String>,
    pub(super) report_document_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Listed, fields = Camel, unknown = Ignore;
    report_id, report_type, created_time, processing_status, report_document_id
}


/// `200` of Get Reports: a page and the token of the next one.
#[derive(Debug)]
pub(super) struct ReportPage {
    pub(super) reports: Vec<Listed>,
    pub(super) next_token: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ReportPage, fields = Camel, unknown = Ignore;
    reports = default, next_token
}


/// A `ReportSchedule`: the four documented fields (others are dropped;
/// typed fields keep the production module small).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schedule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) report_schedule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) report_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) schedule_frequency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_report_creation_time: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Schedule, fields = Camel, unknown = Ignore;
    report_schedule_id, report_type, schedule_frequency, next_report_creation_time
}


/// Get Report Schedules (and, per the docs' example, Get Report Schedule By
/// Id): `{"reportSchedules": [ReportSchedule]}`; the .NET SDK reads Get By
/// Id as a bare `ReportSchedule`, so both are read: the wrapper when it is
/// there, else the object itself.
#[derive(Debug)]
pub(super) struct Schedules {
    report_schedules: Option<Vec<Schedule>>,
    report_schedule_id: Option<String>,
    report_type: Option<String>,
    schedule_frequency: Option<String>,
    next_report_creation_time: Option<String>,
}

crate::json_fields::deserialize_struct! {
    Schedules, fields = Camel, unknown = Ignore;
    report_schedules, report_schedule_id, report_type, schedule_frequency, next_report_creation_time
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
#[derive(Debug)]
pub(super) struct ScheduleCreated {
    pub(super) report_schedule_id: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ScheduleCreated, fields = Camel, unknown = Ignore;
    report_schedule_id
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
