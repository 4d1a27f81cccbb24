//! Plans: a TOML file of accounts and the reports to fetch for them,
//! expanded into jobs with stable keys (the same plan gives the same keys,
//! so submitting it again creates nothing).
//!
//! ```toml
//! [[accounts]]
//! name = "ads-eu"
//! provider = "amazon-ads"
//! # The account's credentials as JSON (the provider's `Credentials`) in an
//! # environment variable, or in a TOML file with one table per account
//! # name; `sim` for the simulators' sample credentials. Never stored.
//! credentials = "env:REPORTFLOW_ADS_EU"
//!
//! [[reports]]
//! name = "campaigns"
//! accounts = ["ads-eu"]
//! # Every day from `last_days` ago up to `lag_days` ago (availability lag),
//! # or a fixed `from`/`to` range; split into windows of `span_days`.
//! window = { last_days = 7, lag_days = 1, span_days = 1 }
//! # The provider's report spec (its `provider` tag is the account's);
//! # `{from}`/`{to}` (YYYY-MM-DD), `{from_compact}`/`{to_compact}`
//! # (YYYYMMDD), `{from_time}`/`{to_time}` (RFC 3339 start of the first
//! # day / end of the last) and `{from_basic_time}`/`{end_basic_time}`
//! # (ISO 8601 basic: the first day's start, the day after the last's
//! # start) are replaced in every string.
//! spec = { region = "eu", profileId = "42", recordType = "campaigns", reportDate = "{from_compact}", tactic = "T00020", metrics = ["clicks"] }
//! ```

use std::collections::{BTreeMap, HashSet};

use reportflow::{Credentials, JobSpec, Millis, Provider};
use serde::Deserialize;

use super::NewJob;
// Accounts are defined with the store, which keeps their credentials
// references; plans name them.
pub use super::store::Account;

/// A plan, as read from its TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The accounts.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// The reports to fetch.
    #[serde(default)]
    pub reports: Vec<Report>,
}

/// A report to fetch for some accounts over a window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Its name (unique in the plan), part of every job key.
    pub name: String,
    /// The accounts (all of one provider) it is fetched for.
    pub accounts: Vec<String>,
    /// The dates it covers.
    pub window: Window,
    /// The provider's report spec, with date placeholders.
    pub spec: toml::Table,
}

/// The dates a report covers, split into windows of `span_days`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First day (YYYY-MM-DD) of a fixed range.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, inclusive) of a fixed range.
    pub to: Option<String>,
    /// Or: this many days back from today…
    pub last_days: Option<u32>,
    /// …ending this many days ago (the provider's availability lag).
    #[serde(default)]
    pub lag_days: u32,
    /// Days per job (1: one job per day).
    #[serde(default = "one")]
    pub span_days: u32,
}

const fn one() -> u32 {
    1
}

/// A plan that cannot be used, saying where and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plan: {}", self.0)
    }
}

impl std::error::Error for PlanError {}

/// Most jobs one plan may expand to: a window of years split by the day
/// over many accounts is a typo, not a plan.
const MAX_JOBS: usize = 1_000_000;

const MS_PER_DAY: u64 = 86_400_000;

impl Plan {
    /// Reads a plan from TOML text and checks its names and references.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let plan: Self = toml::from_str(text).map_err(|error| PlanError(error.to_string()))?;
        let mut names = HashSet::new();
        for account in &plan.accounts {
            if Provider::from_name(&account.provider).is_none() {
                return Err(PlanError(format!(
                    "account {}: unknown provider `{}` (one of {})",
                    account.name,
                    account.provider,
                    Provider::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if !names.insert(account.name.as_str()) {
                return Err(PlanError(format!(
                    "account {} is named twice",
                    account.name
                )));
            }
        }
        let mut reports = HashSet::new();
        for report in &plan.reports {
            if !reports.insert(report.name.as_str()) {
                return Err(PlanError(format!("report {} is named twice", report.name)));
            }
            for account in &report.accounts {
                if !names.contains(account.as_str()) {
                    return Err(PlanError(format!(
                        "report {}: no account named {account} in [[accounts]]",
                        report.name
                    )));
                }
            }
        }
        Ok(plan)
    }

    /// The account named `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|account| account.name == name)
    }

    /// The plan's jobs as of `today` (the wall clock's date): one per
    /// report, account and window, keyed `report/account/from..to`.
    pub fn jobs(&self, now: Millis) -> Result<Vec<NewJob>, PlanError> {
        let today = CivilDate::from_days_since_epoch(days(now));
        let mut jobs = Vec::new();
        for report in &self.reports {
            let windows = report
                .window
                .windows(today)
                .map_err(|why| PlanError(format!("report {}: window: {why}", report.name)))?;
            for name in &report.accounts {
                let Some(account) = self.account(name) else {
                    continue;
                };
                for (from, to) in &windows {
                    let mut table = report.spec.clone();
                    for (_, value) in table.iter_mut() {
                        fill(value, *from, *to);
                    }
                    table.insert(
                        "provider".into(),
                        toml::Value::String(account.provider.clone()),
                    );
                    let spec: JobSpec = toml::Value::Table(table).try_into().map_err(|error| {
                        PlanError(format!(
                            "report {} for account {name}: not a {} report spec: {error}",
                            report.name, account.provider
                        ))
                    })?;
                    jobs.push(NewJob {
                        key: format!("{}/{name}/{from}..{to}", report.name),
                        account: name.clone(),
                        spec,
                    });
                    if jobs.len() > MAX_JOBS {
                        return Err(PlanError(format!(
                            "the plan expands to over {MAX_JOBS} jobs: narrow a window or raise span_days"
                        )));
                    }
                }
            }
        }
        Ok(jobs)
    }
}

/// A civil date (proleptic Gregorian, UTC), as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CivilDate(i64);

impl CivilDate {
    const fn from_days_since_epoch(days: i64) -> Self {
        Self(days)
    }

    const fn days_since_epoch(self) -> i64 {
        self.0
    }

    /// `YYYY-MM-DD`, a real day of a year 1970..=9999.
    fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let last = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
        if year < 1970 || day < 1 || day > last {
            return None;
        }
        // Days from civil (H. Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Self(era * 146_097 + doe - 719_468))
    }
}

impl std::fmt::Display for CivilDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Civil from days (H. Hinnant's algorithm).
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

fn days(now: Millis) -> i64 {
    i64::try_from(now.as_u64() / MS_PER_DAY).unwrap_or(i64::MAX)
}

impl Window {
    /// The windows (first day, last day), in order.
    fn windows(&self, today: CivilDate) -> Result<Vec<(CivilDate, CivilDate)>, String> {
        let (first, last) =
            match (&self.from, &self.to, self.last_days) {
                (Some(from), Some(to), None) => (date(from)?, date(to)?),
                (None, None, Some(last_days)) if last_days > 0 => {
                    let end = today.days_since_epoch() - i64::from(self.lag_days);
                    let start = end - i64::from(last_days) + 1;
                    (
                        CivilDate::from_days_since_epoch(start),
                        CivilDate::from_days_since_epoch(end),
                    )
                }
                _ => return Err(
                    "give either from and to (YYYY-MM-DD), or last_days (at least 1) with lag_days"
                        .into(),
                ),
            };
        if first > last {
            return Err(format!("from {first} is after to {last}"));
        }
        if self.span_days == 0 {
            return Err("span_days must be at least 1".into());
        }
        let span = i64::from(self.span_days);
        let (start, end) = (first.days_since_epoch(), last.days_since_epoch());
        if (end - start) / span > MAX_JOBS as i64 {
            return Err(format!("{first}..{last} is over {MAX_JOBS} windows"));
        }
        let mut windows = Vec::new();
        let mut day = start;
        while day <= end {
            let stop = (day + span - 1).min(end);
            windows.push((
                CivilDate::from_days_since_epoch(day),
                CivilDate::from_days_since_epoch(stop),
            ));
            day = stop + 1;
        }
        Ok(windows)
    }
}

fn date(text: &str) -> Result<CivilDate, String> {
    CivilDate::parse(text).ok_or_else(|| format!("`{text}` is not a date (YYYY-MM-DD)"))
}

/// Replaces the date placeholders in every string of `value`.
fn fill(value: &mut toml::Value, from: CivilDate, to: CivilDate) {
    match value {
        toml::Value::String(text) => {
            let compact = |date: CivilDate| date.to_string().replace('-', "");
            *text = text
                .replace("{from}", &from.to_string())
                .replace("{to}", &to.to_string())
                .replace("{from_compact}", &compact(from))
                .replace("{to_compact}", &compact(to))
                .replace("{from_time}", &format!("{from}T00:00:00Z"))
                .replace("{to_time}", &format!("{to}T23:59:59Z"))
                .replace("{from_basic_time}", &format!("{}T000000Z", compact(from)))
                .replace(
                    "{end_basic_time}",
                    &format!("{}T000000Z", compact(CivilDate(to.0 + 1))),
                );
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|item| fill(item, from, to)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, item)| fill(item, from, to)),
        _ => {}
    }
}

/// Resolves an account's credentials reference (`env:VAR` holding the
/// provider's credentials as JSON, `file:PATH` of a TOML file with a table
/// per account name). `sim` is resolved by the caller (it needs the
/// simulators). The error names the reference, never a secret.
pub fn credentials(account: &Account) -> Result<Credentials, String> {
    let provider = account.provider.as_str();
    let tagged = |mut value: serde_json::Value| {
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "provider".into(),
                serde_json::Value::String(provider.into()),
            );
        }
        serde_json::from_value::<Credentials>(value).map_err(|error| {
            format!(
                "credentials of {} are not {provider} credentials: {error}",
                account.name
            )
        })
    };
    if let Some(var) = account.credentials.strip_prefix("env:") {
        let text = std::env::var(var).map_err(|_| {
            format!(
                "account {}: set {var} to its credentials as JSON",
                account.name
            )
        })?;
        let value = serde_json::from_str(&text).map_err(|error| {
            format!(
                "account {}: {var} is not JSON: {}",
                account.name,
                error.classify_name()
            )
        })?;
        return tagged(value);
    }
    if let Some(path) = account.credentials.strip_prefix("file:") {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("account {}: cannot read {path}: {error}", account.name))?;
        let file: BTreeMap<String, toml::Value> = toml::from_str(&text)
            .map_err(|_| format!("account {}: {path} is not TOML", account.name))?;
        let table = file.get(&account.name).ok_or_else(|| {
            format!(
                "account {}: {path} has no [{}] table",
                account.name, account.name
            )
        })?;
        let value = serde_json::to_value(table).map_err(|_| {
            format!(
                "account {}: [{}] in {path} is not a table",
                account.name, account.name
            )
        })?;
        return tagged(value);
    }
    Err(format!(
        "account {}: credentials `{}` must be env:VAR, file:PATH or sim",
        account.name, account.credentials
    ))
}

/// What a JSON parse error was, without the text (which may hold a secret).
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "the wrong shape",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
        [[accounts]]
        name = "ads-1"
        provider = "amazon-ads"
        credentials = "sim"

        [[accounts]]
        name = "ads-2"
        provider = "amazon-ads"
        credentials = "sim"

        [[reports]]
        name = "campaigns"
        accounts = ["ads-1", "ads-2"]
        window = { last_days = 3, lag_days = 1 }
        spec = { region = "na", profileId = "42", recordType = "campaigns", reportDate = "{from_compact}", tactic = "T00020", metrics = ["clicks"] }
    "#;

    /// 2026-12-02T10:00:00Z.
    const NOW: Millis = Millis(1_796_205_600_000);

    #[test]
    fn a_plan_expands_to_one_job_per_account_and_day_with_stable_keys() {
        let plan = Plan::parse(PLAN).unwrap();
        let jobs = plan.jobs(NOW).unwrap();
        let keys: Vec<_> = jobs.iter().map(|job| job.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "campaigns/ads-1/2026-11-29..2026-11-29",
                "campaigns/ads-1/2026-11-30..2026-11-30",
                "campaigns/ads-1/2026-12-01..2026-12-01",
                "campaigns/ads-2/2026-11-29..2026-11-29",
                "campaigns/ads-2/2026-11-30..2026-11-30",
                "campaigns/ads-2/2026-12-01..2026-12-01",
            ]
        );
        assert_eq!(
            plan.jobs(NOW).unwrap(),
            jobs,
            "the same plan, the same jobs"
        );
        let spec = serde_json::to_value(&jobs[0].spec).unwrap();
        assert_eq!(spec["reportDate"], "20261129", "{spec}");
    }

    #[test]
    fn dates_round_trip_and_impossible_ones_are_refused() {
        for text in ["1970-01-01", "2024-02-29", "2026-12-31", "2000-03-01"] {
            assert_eq!(CivilDate::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            CivilDate::parse("1970-01-02").unwrap().days_since_epoch(),
            1
        );
        for text in [
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "+026-01-01",
            "2026-01-32",
        ] {
            assert!(CivilDate::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn a_range_splits_into_spans_and_the_last_one_is_shorter() {
        let window = Window {
            from: Some("2026-01-01".into()),
            to: Some("2026-01-10".into()),
            last_days: None,
            lag_days: 0,
            span_days: 4,
        };
        let today = CivilDate::from_days_since_epoch(days(NOW));
        let spans: Vec<String> = window
            .windows(today)
            .unwrap()
            .iter()
            .map(|(from, to)| format!("{from}..{to}"))
            .collect();
        assert_eq!(
            spans,
            [
                "2026-01-01..2026-01-04",
                "2026-01-05..2026-01-08",
                "2026-01-09..2026-01-10"
            ]
        );
    }

    #[test]
    fn mistakes_in_a_plan_are_named() {
        let unknown = PLAN.replace(
            "provider = \"amazon-ads\"\n        credentials = \"sim\"\n\n        [[accounts]]",
            "provider = \"amazon-adz\"\n        credentials = \"sim\"\n\n        [[accounts]]",
        );
        assert!(Plan::parse(&unknown)
            .unwrap_err()
            .0
            .contains("unknown provider `amazon-adz`"));
        let dangling = PLAN.replace("[\"ads-1\", \"ads-2\"]", "[\"ads-3\"]");
        assert!(Plan::parse(&dangling)
            .unwrap_err()
            .0
            .contains("no account named ads-3"));
        let backwards = PLAN.replace(
            "{ last_days = 3, lag_days = 1 }",
            "{ from = \"2026-02-02\", to = \"2026-02-01\" }",
        );
        let error = Plan::parse(&backwards).unwrap().jobs(NOW).unwrap_err();
        assert!(error.0.contains("is after"), "{error}");
        let wrong_spec = PLAN.replace("recordType = \"campaigns\", ", "");
        let error = Plan::parse(&wrong_spec).unwrap().jobs(NOW).unwrap_err();
        assert!(error.0.contains("not a amazon-ads report spec"), "{error}");
    }

    #[test]
    fn credentials_come_from_the_environment_and_errors_never_echo_them() {
        let account = Account {
            name: "ads-1".into(),
            provider: "amazon-ads".into(),
            credentials: "env:REPORTFLOW_TEST_FLEET_CREDS_UNSET".into(),
        };
        let error = credentials(&account).unwrap_err();
        assert!(
            error.contains("set REPORTFLOW_TEST_FLEET_CREDS_UNSET"),
            "{error}"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            "[ads-1]\nclientId = \"c\"\nclientSecret = \"s3cr3t\"\nrefreshToken = \"Atzr|x\"\n",
        )
        .unwrap();
        let account = Account {
            credentials: format!("file:{}", file.path().display()),
            ..account
        };
        let credentials = credentials(&account).unwrap();
        assert!(!format!("{credentials:?}").contains("s3cr3t"));
    }
}
