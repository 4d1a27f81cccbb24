//! Public configuration of an Amazon Pay report job: region, key id,
//! report type and window. The job holds no secret: the private key stays
//! with the host, which signs on `Action::Sign`.

use serde::{Deserialize, Serialize};

use super::signing::SigningAlgorithm;
use crate::calendar;
use crate::error::ConfigError;

/// The sandbox's one report type (the sandbox accepts no other).
pub const SANDBOX_SETTLEMENT_REPORT: &str =
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SANDBOX_SETTLEMENT_DATA_";

/// The report types Amazon documents (others are accepted as given, so a
/// new type needs no release).
pub const REPORT_TYPES: &[&str] = &[
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_",
    SANDBOX_SETTLEMENT_REPORT,
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_BILLING_AGREEMENT_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_AUTHORIZATION_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_CAPTURE_DATA_",
    "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_REFUND_DATA_",
    "_GET_CSV_CUSTOM_OFFAMAZONPAYMENTS_MULTI_CURRENCY_PAYMENTS_DATA_",
];

/// An Amazon Pay region: its API host and `x-amz-pay-region` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Region {
    /// North America (`pay-api.amazon.com`).
    #[default]
    Na,
    /// Europe and the UK (`pay-api.amazon.eu`).
    Eu,
    /// Japan (`pay-api.amazon.jp`).
    Jp,
}

crate::json_fields::deserialize_names! {
    Region;
    "na" => Na,
    "eu" => Eu,
    "jp" => Jp,
}

impl Region {
    /// The API host.
    pub const fn host(self) -> &'static str {
        match self {
            Self::Na => "pay-api.amazon.com",
            Self::Eu => "pay-api.amazon.eu",
            Self::Jp => "pay-api.amazon.jp",
        }
    }

    /// The `x-amz-pay-region` value (lower case, as the docs send it).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Na => "na",
            Self::Eu => "eu",
            Self::Jp => "jp",
        }
    }

    /// Parses `na`/`us`, `eu`/`de`/`uk`, `jp` (any case).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "na" | "us" => Ok(Self::Na),
            "eu" | "de" | "uk" => Ok(Self::Eu),
            "jp" => Ok(Self::Jp),
            _ => Err(ConfigError::invalid(
                "region",
                format!("`{text}` is not one of na, eu, jp"),
            )),
        }
    }
}

/// Which Amazon Pay a key talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Environment {
    /// Production.
    Live,
    /// The sandbox.
    Sandbox,
}

/// Which report to create, and with which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// The region of the merchant account.
    pub region: Region,
    /// The public key id from Seller Central. `LIVE-…`/`SANDBOX-…` ids
    /// select their environment and the unified base path `/v2`; other
    /// (legacy) ids use `/live/v2` or `/sandbox/v2` as `sandbox` says.
    pub public_key_id: String,
    /// For legacy key ids: the sandbox instead of production.
    pub sandbox: bool,
    /// The report type, e.g. `_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_`:
    /// the report to create or find, the schedule to create or ensure, the
    /// filter of a schedule list (empty: every type); unused (empty) for a
    /// schedule's get and cancel.
    pub report_type: String,
    /// Start of the transaction window (creating a report only): ISO 8601
    /// UTC, basic (`20221114T074550Z`) or extended (`2022-11-14T07:45:50Z`).
    pub start_time: String,
    /// End of the transaction window, as `start_time`.
    pub end_time: String,
    /// The signing algorithm (default `AMZN-PAY-RSASSA-PSS-V2`).
    pub algorithm: SigningAlgorithm,
    /// What the job does (default: create a report and fetch it).
    #[serde(skip_serializing_if = "Task::is_create_report")]
    pub task: Task,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region = default, public_key_id, sandbox = default, report_type = default, start_time = default, end_time = default, algorithm = default, task = default
}


/// What an Amazon Pay job does. Every task runs the same way (the same
/// host loop, `Action::Sign` for every call); a report task delivers the
/// report, a schedule task delivers a JSON array of `ReportSchedule`
/// objects as the job's data (see `ARCHITECTURE.md`, "Amazon Pay policy
/// choices").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum Task {
    /// Create a report of `reportType` over the window and fetch it.
    #[default]
    CreateReport,
    /// Find, don't create: the newest `COMPLETED` report of `reportType`
    /// created since `createdSince` whose id is not in `delivered`, fetched
    /// as a created one would be; none is `Done` with `NoData` (the
    /// summary's report id is then the report type).
    FindReport {
        /// ISO 8601 UTC, basic or extended (Amazon keeps reports 90 days).
        created_since: String,
        /// Report ids already delivered (at most [`MAX_DELIVERED`]): a rerun
        /// passes them so it fetches only a new one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        delivered: Vec<String>,
    },
    /// List the schedules (of `reportType`, or all when it is empty).
    ListSchedules,
    /// Get one schedule (the bare object or the `{reportSchedules: […]}`
    /// wrapper are both read).
    GetSchedule {
        /// The `reportScheduleId`.
        schedule_id: String,
    },
    /// Create a schedule of `reportType`.
    CreateSchedule {
        /// The schedule's frequency (see [`SCHEDULE_FREQUENCIES`]).
        frequency: String,
        /// When the first report is created (ISO 8601 UTC); Amazon picks
        /// when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_creation_time: Option<String>,
        /// Replace the type's schedule if one exists (else Amazon refuses).
        #[serde(default)]
        delete_existing: bool,
    },
    /// Cancel a schedule.
    CancelSchedule {
        /// The `reportScheduleId`.
        schedule_id: String,
    },
    /// Make the schedule of `reportType` be this one: read what exists, no
    /// write if it matches, else create it with
    /// `deleteExistingSchedule=true`. Idempotent.
    EnsureSchedule {
        /// The schedule's frequency (see [`SCHEDULE_FREQUENCIES`]).
        frequency: String,
        /// When set, the next creation time must match too (ISO 8601 UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_creation_time: Option<String>,
    },
}

crate::json_fields::deserialize_tagged! {
    Task, tag = "kind", fields = Camel;
    "createReport" => CreateReport,
    "findReport" => FindReport { created_since, delivered = default },
    "listSchedules" => ListSchedules,
    "getSchedule" => GetSchedule { schedule_id },
    "createSchedule" => CreateSchedule { frequency, next_creation_time = default, delete_existing = default },
    "cancelSchedule" => CancelSchedule { schedule_id },
    "ensureSchedule" => EnsureSchedule { frequency, next_creation_time = default },
}


impl Task {
    fn is_create_report(&self) -> bool {
        *self == Self::CreateReport
    }

    /// Whether the task is about schedules (no report is fetched).
    pub const fn is_schedule_task(&self) -> bool {
        matches!(
            self,
            Self::ListSchedules
                | Self::GetSchedule { .. }
                | Self::CreateSchedule { .. }
                | Self::CancelSchedule { .. }
                | Self::EnsureSchedule { .. }
        )
    }
}

/// Most report ids a find task may be told were delivered.
pub const MAX_DELIVERED: usize = 10_000;

/// The schedule frequencies Amazon Pay documents (ISO 8601 durations, the
/// SDKs' `ScheduleFrequency`).
pub const SCHEDULE_FREQUENCIES: &[&str] = &[
    "PT5M", "PT15M", "PT30M", "PT1H", "PT2H", "PT4H", "PT8H", "PT12H", "PT24H", "PT84H", "P1D",
    "P2D", "P3D", "P7D", "P14D", "P15D", "P18D", "P30D",
];

/// The report type Amazon Pay cannot schedule (only create).
pub const UNSCHEDULABLE_REPORT: &str =
    "_GET_CSV_CUSTOM_OFFAMAZONPAYMENTS_MULTI_CURRENCY_PAYMENTS_DATA_";

/// The length of a documented schedule frequency in milliseconds; a
/// [`ConfigError`] naming the documented ones for anything else.
pub fn frequency_ms(frequency: &str) -> Result<u64, ConfigError> {
    if !SCHEDULE_FREQUENCIES.contains(&frequency) {
        return Err(ConfigError::invalid(
            "frequency",
            format!(
                "`{}` is not an Amazon Pay schedule frequency: one of {}",
                crate::providers::excerpt(frequency.as_bytes(), 20),
                SCHEDULE_FREQUENCIES.join(", ")
            ),
        ));
    }
    let (digits, unit) = match frequency.strip_prefix("PT") {
        Some(rest) => rest.split_at(rest.len().saturating_sub(1)),
        None => {
            let rest = frequency.trim_start_matches('P');
            (rest.get(..rest.len().saturating_sub(1)).unwrap_or(""), "D")
        }
    };
    let count: u64 = digits.parse().unwrap_or(0);
    let unit_ms = match unit {
        "M" => 60_000,
        "H" => 3_600_000,
        _ => 86_400_000,
    };
    Ok(count.saturating_mul(unit_ms))
}


impl ReportSpec {
    /// A report of `report_type` between `start_time` and `end_time`, with
    /// the key `public_key_id`, in `region`.
    pub fn new(
        region: Region,
        public_key_id: impl Into<String>,
        report_type: impl Into<String>,
        start_time: impl Into<String>,
        end_time: impl Into<String>,
    ) -> Self {
        Self {
            region,
            public_key_id: public_key_id.into(),
            sandbox: false,
            report_type: report_type.into(),
            start_time: start_time.into(),
            end_time: end_time.into(),
            algorithm: SigningAlgorithm::V2,
            task: Task::CreateReport,
        }
    }

    /// A job of `task` with the key `public_key_id` in `region`, about
    /// `report_type` (empty where the task needs none).
    pub fn for_task(
        region: Region,
        public_key_id: impl Into<String>,
        report_type: impl Into<String>,
        task: Task,
    ) -> Self {
        Self {
            task,
            ..Self::new(region, public_key_id, report_type, "", "")
        }
    }

    /// The same, in the sandbox (for legacy key ids).
    #[must_use]
    pub fn in_sandbox(mut self) -> Self {
        self.sandbox = true;
        self
    }

    /// The same, signed with `algorithm`.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The environment the key and the `sandbox` flag select.
    pub fn environment(&self) -> Environment {
        match key_environment(&self.public_key_id) {
            Some(environment) => environment,
            None if self.sandbox => Environment::Sandbox,
            None => Environment::Live,
        }
    }

    /// The base path before `/reports`: `/v2` for environment-prefixed
    /// keys, else `/live/v2` or `/sandbox/v2`.
    pub fn base_path(&self) -> &'static str {
        match (key_environment(&self.public_key_id), self.sandbox) {
            (Some(_), _) => "/v2",
            (None, false) => "/live/v2",
            (None, true) => "/sandbox/v2",
        }
    }

    /// The window in seconds since the epoch, as ISO 8601 basic text.
    pub(crate) fn window(&self) -> Result<(String, String), ConfigError> {
        let start = parse_time("startTime", &self.start_time)?;
        let end = parse_time("endTime", &self.end_time)?;
        if start > end {
            return Err(ConfigError::invalid(
                "endTime",
                "is before startTime: swap them",
            ));
        }
        Ok((basic(start), basic(end)))
    }

    /// Checks everything Amazon would refuse, before anything is sent.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_key_id(&self.public_key_id)?;
        match &self.task {
            Task::ListSchedules if self.report_type.is_empty() => {}
            Task::GetSchedule { schedule_id } | Task::CancelSchedule { schedule_id } => {
                return validate_schedule_id(schedule_id);
            }
            _ => validate_report_type(&self.report_type)?,
        }
        if key_environment(&self.public_key_id) == Some(Environment::Live) && self.sandbox {
            return Err(ConfigError::invalid(
                "sandbox",
                "a LIVE- key id talks to production: drop the sandbox flag or use a SANDBOX- key",
            ));
        }
        if self.environment() == Environment::Sandbox
            && self.report_type != SANDBOX_SETTLEMENT_REPORT
        {
            return Err(ConfigError::invalid(
                "reportType",
                format!("the sandbox has only {SANDBOX_SETTLEMENT_REPORT}"),
            ));
        }
        match &self.task {
            Task::CreateReport => self.window().map(|_| ()),
            Task::FindReport {
                created_since,
                delivered,
            } => {
                parse_time("createdSince", created_since)?;
                if delivered.len() > MAX_DELIVERED || delivered.iter().any(|id| id.len() > 256) {
                    return Err(ConfigError::invalid(
                        "delivered",
                        format!("at most {MAX_DELIVERED} report ids of at most 256 bytes: pass a later createdSince instead"),
                    ));
                }
                Ok(())
            }
            Task::CreateSchedule {
                frequency,
                next_creation_time,
                ..
            }
            | Task::EnsureSchedule {
                frequency,
                next_creation_time,
            } => {
                if self.report_type == UNSCHEDULABLE_REPORT {
                    return Err(ConfigError::invalid(
                        "reportType",
                        format!("Amazon Pay cannot schedule {UNSCHEDULABLE_REPORT}: create it instead"),
                    ));
                }
                frequency_ms(frequency)?;
                match next_creation_time {
                    Some(next) => parse_time("nextCreationTime", next).map(|_| ()),
                    None => Ok(()),
                }
            }
            Task::ListSchedules | Task::GetSchedule { .. } | Task::CancelSchedule { .. } => Ok(()),
        }
    }

    /// The next creation time to send, in the basic form.
    pub(crate) fn basic_instant(text: &str) -> Option<String> {
        calendar::parse_iso8601(text)
            .filter(|seconds| *seconds >= 0)
            .map(basic)
    }
}

/// The environment a `LIVE-`/`SANDBOX-` key id names (any case, as the
/// SDKs check), or `None` for a legacy key id.
fn key_environment(key_id: &str) -> Option<Environment> {
    let upper = key_id.get(..8).unwrap_or(key_id).to_ascii_uppercase();
    if upper.starts_with("LIVE-") {
        Some(Environment::Live)
    } else if upper.starts_with("SANDBOX-") {
        Some(Environment::Sandbox)
    } else {
        None
    }
}

fn validate_key_id(key_id: &str) -> Result<(), ConfigError> {
    let ok = (1..=128).contains(&key_id.len())
        && key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "publicKeyId",
            "must be the public key id from Seller Central (1 to 128 letters, digits, `-`)",
        ))
    }
}

/// `at` as Amazon Pay writes date-times: ISO 8601 basic UTC
/// (`20221114T074550Z`).
pub fn basic_time(at: crate::time::Millis) -> String {
    calendar::format_iso8601_basic(at)
}

/// A schedule id as the job will put it in a URL path segment.
fn validate_schedule_id(id: &str) -> Result<(), ConfigError> {
    let ok = (1..=256).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "scheduleId",
            "must be a reportScheduleId as Amazon Pay lists it (1 to 256 letters, digits, `-`, `_`, `.`)",
        ))
    }
}

/// A report type: Amazon's `_UPPER_CASE_` names.
pub(crate) fn validate_report_type(report_type: &str) -> Result<(), ConfigError> {
    let ok = (3..=128).contains(&report_type.len())
        && report_type
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "reportType",
            format!(
                "`{}` is not an Amazon Pay report type (upper case, digits and `_`, e.g. {})",
                crate::providers::excerpt(report_type.as_bytes(), 60),
                REPORT_TYPES.first().copied().unwrap_or_default()
            ),
        ))
    }
}

fn parse_time(field: &str, text: &str) -> Result<i64, ConfigError> {
    calendar::parse_iso8601(text)
        .filter(|seconds| *seconds >= 0)
        .ok_or_else(|| {
            ConfigError::invalid(
                field,
                format!(
                    "`{}` is not an ISO 8601 UTC date-time (20221114T074550Z or 2022-11-14T07:45:50Z)",
                    crate::providers::excerpt(text.as_bytes(), 40)
                ),
            )
        })
}

fn basic(seconds: i64) -> String {
    calendar::format_iso8601_basic(crate::time::Millis(seconds.unsigned_abs().saturating_mul(1000)))
}

/// Amazon Pay credentials: none. The private key never enters the job; the
/// host signs what `Action::Sign` names (the key id is in the spec).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Credentials {}

impl Credentials {
    /// No credentials: the host signs.
    pub const fn host_signed() -> Self {
        Self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: &str) -> ReportSpec {
        ReportSpec::new(
            Region::Na,
            key,
            SANDBOX_SETTLEMENT_REPORT,
            "2022-11-01T00:00:00Z",
            "20221114T074550Z",
        )
    }

    #[test]
    fn key_prefixes_choose_the_base_path_and_environment() {
        assert_eq!(spec("AFVX7ULWSGBZ").base_path(), "/live/v2");
        assert_eq!(spec("AFVX7ULWSGBZ").in_sandbox().base_path(), "/sandbox/v2");
        assert_eq!(spec("SANDBOX-AFVX7").base_path(), "/v2");
        assert_eq!(spec("sandbox-AFVX7").environment(), Environment::Sandbox);
        assert_eq!(spec("LIVE-AFVX7").base_path(), "/v2");
        assert!(spec("SANDBOX-AFVX7").validate().is_ok());
        assert!(spec("LIVE-AFVX7").in_sandbox().validate().is_err());
    }

    #[test]
    fn the_sandbox_takes_only_its_settlement_report() {
        let mut orders = spec("SANDBOX-K");
        orders.report_type = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_ORDER_REFERENCE_DATA_".into();
        assert!(orders.validate().is_err());
        orders.public_key_id = "LIVE-K".into();
        assert!(orders.validate().is_ok());
    }

    #[test]
    fn windows_parse_both_forms_and_send_basic() {
        assert_eq!(
            spec("K").window().unwrap(),
            ("20221101T000000Z".into(), "20221114T074550Z".into())
        );
        let mut swapped = spec("LIVE-K");
        swapped.start_time = "20230101T000000Z".into();
        assert!(swapped.validate().is_err());
        let mut malformed = spec("LIVE-K");
        malformed.end_time = "2022-08-04T00-00-00Z".into();
        assert!(malformed.validate().is_err());
        for bad in ["", "K Y", "K\r\n", &"K".repeat(200)] {
            assert!(spec(bad).validate().is_err(), "{bad:?}");
        }
        let mut lower = spec("LIVE-K");
        lower.report_type = "orders".into();
        assert!(lower.validate().is_err());
    }
}
