//! Public configuration of an Amazon Ads Reporting v3 job. Credentials and
//! regions are Amazon Ads' (`providers::amazon_ads`): the same Login with
//! Amazon grant and the same three API hosts serve both versions.

use serde::Serialize;

use super::report_types::{GroupBy, ReportType};
use crate::calendar;
use crate::error::ConfigError;

pub use crate::providers::amazon_regions::Region;
pub use crate::providers::lwa::Credentials;

/// How rows are aggregated over time (`configuration.timeUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum TimeUnit {
    /// One row per day (ask for the `date` column). The docs say DAILY
    /// reports "should" include `date` and SUMMARY ones "can" include
    /// `startDate`/`endDate`; the spec's own SUMMARY examples ask for `date`,
    /// so neither is enforced.
    Daily,
    /// One row for the whole range (`startDate`/`endDate` columns allowed).
    Summary,
}

crate::json_fields::deserialize_names! {
    TimeUnit;
    "DAILY" => Daily,
    "SUMMARY" => Summary,
}

impl TimeUnit {
    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "DAILY",
            Self::Summary => "SUMMARY",
        }
    }

    /// Parses `DAILY` or `SUMMARY` (any case).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text.to_ascii_uppercase().as_str() {
            "DAILY" => Ok(Self::Daily),
            "SUMMARY" => Ok(Self::Summary),
            _ => Err(ConfigError::invalid(
                "timeUnit",
                format!("`{text}` is not one of DAILY, SUMMARY"),
            )),
        }
    }
}

/// One `configuration.filters` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReportFilter {
    /// The field filtered on, e.g. `campaignStatus`.
    pub field: String,
    /// The values kept.
    pub values: Vec<String>,
}

crate::json_fields::deserialize_struct! {
    ReportFilter, fields = Verbatim, unknown = Ignore;
    field, values
}


impl ReportFilter {
    /// A filter keeping `values` of `field`.
    pub fn new(field: impl Into<String>, values: Vec<String>) -> Self {
        Self {
            field: field.into(),
            values,
        }
    }
}

/// A Reporting v3 report request (`POST /reporting/reports`). The format
/// is always `GZIP_JSON`, the only value the spec allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// API region of the profile.
    pub region: Region,
    /// Advertising profile id (the `Amazon-Advertising-API-Scope` header).
    pub profile_id: String,
    /// `configuration.reportTypeId`, e.g. `sdCampaigns`.
    pub report_type_id: String,
    /// `configuration.groupBy`: one or more of the type's groupings.
    pub group_by: Vec<String>,
    /// `configuration.columns`.
    pub columns: Vec<String>,
    /// `configuration.timeUnit`.
    pub time_unit: TimeUnit,
    /// First day, `YYYY-MM-DD`, in the profile's time zone.
    pub start_date: String,
    /// Last day (included), `YYYY-MM-DD`.
    pub end_date: String,
    /// `configuration.filters` (none by default).
    pub filters: Vec<ReportFilter>,
    /// The report's `name` (optional; Amazon echoes it back).
    pub name: Option<String>,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region, profile_id, report_type_id, group_by, columns, time_unit, start_date, end_date, filters = default, name
}


impl ReportSpec {
    /// A spec; call [`Self::validate`] (the job does) before use.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        region: Region,
        profile_id: impl Into<String>,
        report_type_id: impl Into<String>,
        group_by: Vec<String>,
        columns: Vec<String>,
        time_unit: TimeUnit,
        start_date: impl Into<String>,
        end_date: impl Into<String>,
    ) -> Self {
        Self {
            region,
            profile_id: profile_id.into(),
            report_type_id: report_type_id.into(),
            group_by,
            columns,
            time_unit,
            start_date: start_date.into(),
            end_date: end_date.into(),
            filters: Vec::new(),
            name: None,
        }
    }

    /// The same spec with filters.
    #[must_use]
    pub fn with_filters(mut self, filters: Vec<ReportFilter>) -> Self {
        self.filters = filters;
        self
    }

    /// The same spec with a report name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The report type, if known.
    pub fn report_type(&self) -> Option<&'static ReportType> {
        ReportType::find(&self.report_type_id)
    }

    /// Checks the spec against the report type's rules, so a request Amazon
    /// would refuse never goes out (a range over the type's limit included).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.profile_id.is_empty()
            || !self.profile_id.bytes().all(|b| b.is_ascii_digit())
            || self.profile_id.len() > 20
        {
            return Err(ConfigError::invalid(
                "profileId",
                format!("`{}` must be a decimal profile id", self.profile_id),
            ));
        }
        let kind = self.report_type().ok_or_else(|| {
            let known: Vec<&str> = ReportType::ALL.iter().map(|t| t.id).collect();
            ConfigError::invalid(
                "reportTypeId",
                format!(
                    "`{}` is not a known Sponsored Display, Products or Brands report type; known: {}",
                    self.report_type_id,
                    known.join(", ")
                ),
            )
        })?;
        let groups = self.groups(kind)?;
        self.check_columns(kind, &groups)?;
        self.check_filters(kind, &groups)?;
        self.days(kind).map(|_| ())?;
        if let Some(name) = &self.name {
            if name.chars().any(char::is_control) || name.chars().count() > 255 {
                return Err(ConfigError::invalid(
                    "name",
                    "must be one line of at most 255 characters",
                ));
            }
        }
        Ok(())
    }

    fn groups(&self, kind: &ReportType) -> Result<Vec<&'static GroupBy>, ConfigError> {
        let allowed = || {
            kind.group_by
                .iter()
                .map(|g| g.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.group_by.is_empty() {
            return Err(ConfigError::invalid(
                "groupBy",
                format!("cannot be empty; {} allows {}", kind.id, allowed()),
            ));
        }
        let mut groups = Vec::with_capacity(self.group_by.len());
        for name in &self.group_by {
            let group = kind.group(name).ok_or_else(|| {
                ConfigError::invalid(
                    "groupBy",
                    format!("`{name}` is not a grouping of {}; it allows {}", kind.id, allowed()),
                )
            })?;
            if groups.contains(&group) {
                return Err(ConfigError::invalid(
                    "groupBy",
                    format!("`{name}` is listed twice"),
                ));
            }
            groups.push(group);
        }
        Ok(groups)
    }

    fn check_columns(&self, kind: &ReportType, groups: &[&GroupBy]) -> Result<(), ConfigError> {
        if self.columns.is_empty() {
            return Err(ConfigError::invalid("columns", "cannot be empty"));
        }
        for (i, column) in self.columns.iter().enumerate() {
            if column.is_empty() || !column.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::invalid(
                    "columns",
                    format!("`{column}` is not a column name (letters and digits only)"),
                ));
            }
            if self.columns.iter().take(i).any(|c| c == column) {
                return Err(ConfigError::invalid(
                    "columns",
                    format!("`{column}` is listed twice"),
                ));
            }
            if !kind.allows_column(groups, column) {
                return Err(ConfigError::invalid(
                    "columns",
                    format!(
                        "`{column}` is not a column of {} grouped by {} (see the report type's page in Amazon's v3 docs)",
                        kind.id,
                        self.group_by.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_filters(&self, kind: &ReportType, groups: &[&GroupBy]) -> Result<(), ConfigError> {
        for filter in &self.filters {
            if filter.values.is_empty() {
                return Err(ConfigError::invalid(
                    "filters",
                    format!("`{}` has no values", filter.field),
                ));
            }
            if kind.columns.is_none() {
                // Columns and filters of this type are the API's to check.
                continue;
            }
            // "You can only use a filter that is supported by all groupBy values."
            for group in groups {
                let Some(known) = group.filters.iter().find(|f| f.field == filter.field) else {
                    return Err(ConfigError::invalid(
                        "filters",
                        format!(
                            "`{}` is not a filter of {} grouped by {}",
                            filter.field, kind.id, group.name
                        ),
                    ));
                };
                if let Some(bad) = filter.values.iter().find(|v| !known.values.contains(&v.as_str())) {
                    return Err(ConfigError::invalid(
                        "filters",
                        format!(
                            "`{bad}` is not a value of `{}`; allowed: {}",
                            filter.field,
                            known.values.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The days of the range (both ends included), checked against the
    /// type's maximum.
    fn days(&self, kind: &ReportType) -> Result<(i64, i64), ConfigError> {
        let start = parse_day("startDate", &self.start_date)?;
        let end = parse_day("endDate", &self.end_date)?;
        if end < start {
            return Err(ConfigError::invalid(
                "endDate",
                format!("{} is before startDate {}", self.end_date, self.start_date),
            ));
        }
        let days = end - start + 1;
        if days > i64::from(kind.max_days) {
            return Err(ConfigError::invalid(
                "endDate",
                format!(
                    "{} to {} is {days} days; {} allows at most {} days per report: split the range into several reports (the CLI's --split does)",
                    self.start_date, self.end_date, kind.id, kind.max_days
                ),
            ));
        }
        Ok((start, end))
    }

    /// The spec's range cut into consecutive ranges of at most the report
    /// type's maximum, one spec each (for a range longer than one report
    /// may cover). The spec is otherwise validated as by [`Self::validate`],
    /// except that its range may be as long as wanted.
    pub fn split(&self) -> Result<Vec<Self>, ConfigError> {
        let kind = self.report_type().ok_or_else(|| {
            ConfigError::invalid(
                "reportTypeId",
                format!("`{}` is not a known report type", self.report_type_id),
            )
        })?;
        let start = parse_day("startDate", &self.start_date)?;
        let end = parse_day("endDate", &self.end_date)?;
        if end < start {
            return Err(ConfigError::invalid(
                "endDate",
                format!("{} is before startDate {}", self.end_date, self.start_date),
            ));
        }
        let step = i64::from(kind.max_days);
        let mut parts = Vec::new();
        let mut from = start;
        while from <= end {
            let to = (from + step - 1).min(end);
            let part = Self {
                start_date: format_day(from),
                end_date: format_day(to),
                ..self.clone()
            };
            part.validate()?;
            parts.push(part);
            from = to + 1;
        }
        Ok(parts)
    }
}

fn parse_day(field: &str, text: &str) -> Result<i64, ConfigError> {
    calendar::parse_date(text)
        .filter(|&day| day >= calendar::days_from_civil(2000, 1, 1))
        .ok_or_else(|| {
            ConfigError::invalid(field, format!("`{text}` must be a calendar date as YYYY-MM-DD"))
        })
}

fn format_day(day: i64) -> String {
    let (year, month, day) = calendar::civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ReportSpec {
        ReportSpec::new(
            Region::Na,
            "1234567890",
            "sdCampaigns",
            vec!["campaign".into()],
            vec!["campaignId".into(), "impressions".into(), "date".into()],
            TimeUnit::Daily,
            "2024-03-01",
            "2024-03-31",
        )
    }

    /// A change to the valid spec, and the field the refusal must name.
    type Case = (fn(&mut ReportSpec), &'static str);

    fn field_of(spec: &ReportSpec) -> String {
        match spec.validate() {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_spec_passes_and_31_days_fit() {
        assert_eq!(spec().validate(), Ok(()));
    }

    #[test]
    fn a_range_over_the_limit_is_refused_naming_the_limit() {
        let mut s = spec();
        s.end_date = "2024-04-01".into();
        let error = s.validate().unwrap_err().to_string();
        assert!(error.contains("32 days"), "{error}");
        assert!(error.contains("at most 31 days"), "{error}");
        // Gross and invalid traffic allows a year.
        let mut s = spec();
        s.report_type_id = "sdGrossAndInvalids".into();
        s.columns = vec!["campaignName".into(), "clicks".into()];
        s.end_date = "2025-02-28".into();
        assert_eq!(s.validate(), Ok(()));
        s.end_date = "2025-03-01".into();
        assert!(s.validate().unwrap_err().to_string().contains("at most 365 days"));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: Vec<Case> = vec![
            (|s| s.profile_id = "12a".into(), "profileId"),
            (|s| s.report_type_id = "sdCampaign".into(), "reportTypeId"),
            (|s| s.group_by.clear(), "groupBy"),
            (|s| s.group_by = vec!["adGroup".into()], "groupBy"),
            (|s| s.group_by = vec!["campaign".into(), "campaign".into()], "groupBy"),
            (|s| s.columns.clear(), "columns"),
            (|s| s.columns.push("matchedTargetAsin".into()), "columns"),
            (|s| s.columns.push("clicks, cost".into()), "columns"),
            (|s| s.start_date = "2024-02-30".into(), "startDate"),
            (|s| s.end_date = "2024-02-29".into(), "endDate"),
            (
                |s| s.filters = vec![ReportFilter::new("campaignStatus", vec!["ENABLED".into()])],
                "filters",
            ),
            (|s| s.name = Some("a\nb".into()), "name"),
        ];
        for (mutate, field) in cases {
            let mut s = spec();
            mutate(&mut s);
            assert_eq!(field_of(&s), field, "{s:?}");
        }
    }

    #[test]
    fn groupings_add_their_columns_and_filters() {
        let mut s = spec();
        s.group_by.push("matchedTarget".into());
        s.columns.push("matchedTargetAsin".into());
        assert_eq!(s.validate(), Ok(()));
        let mut s = spec();
        s.report_type_id = "sdGrossAndInvalids".into();
        s.columns = vec!["campaignName".into()];
        s.filters = vec![ReportFilter::new(
            "campaignStatus",
            vec!["ENABLED".into(), "PAUSED".into()],
        )];
        assert_eq!(s.validate(), Ok(()));
        s.filters[0].values.push("DELETED".into());
        assert_eq!(field_of(&s), "filters");
    }

    #[test]
    fn sponsored_products_and_brands_types_are_accepted() {
        let mut s = spec();
        s.report_type_id = "spCampaigns".into();
        s.group_by = vec!["campaign".into(), "adGroup".into()];
        s.columns = vec!["anyColumnTheApiKnows".into(), "date".into()];
        assert_eq!(s.validate(), Ok(()));
        s.report_type_id = "sbPurchasedProduct".into();
        s.group_by = vec!["purchasedAsin".into()];
        s.end_date = "2025-12-31".into();
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn split_cuts_a_long_range_into_allowed_spans() {
        let mut s = spec();
        s.start_date = "2024-01-01".into();
        s.end_date = "2024-03-05".into();
        assert!(s.validate().is_err());
        let parts = s.split().unwrap();
        let ranges: Vec<(&str, &str)> = parts
            .iter()
            .map(|p| (p.start_date.as_str(), p.end_date.as_str()))
            .collect();
        assert_eq!(
            ranges,
            [
                ("2024-01-01", "2024-01-31"),
                ("2024-02-01", "2024-03-02"),
                ("2024-03-03", "2024-03-05"),
            ]
        );
        for part in &parts {
            assert_eq!(part.validate(), Ok(()));
        }
        assert_eq!(spec().split().unwrap(), vec![spec()]);
    }
}
