//! Public configuration of an Amazon Ads Sponsored Display v2 report job.

use serde::Serialize;

use crate::calendar;
use crate::error::ConfigError;

/// The Amazon region of the advertising profile (its API and LwA hosts:
/// [`Region::api_origin`], [`Region::auth_origin`]).
pub use crate::providers::amazon_regions::Region;

/// The entity a report is about (the `recordType` path parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum RecordType {
    /// `campaigns`
    Campaigns,
    /// `adGroups`
    AdGroups,
    /// `productAds`
    ProductAds,
    /// `targets`
    Targets,
    /// `asins` (purchased products; seller brand owners only)
    Asins,
}

crate::json_fields::deserialize_names! {
    RecordType;
    "campaigns" => Campaigns,
    "adGroups" => AdGroups,
    "productAds" => ProductAds,
    "targets" => Targets,
    "asins" => Asins,
}

impl RecordType {
    /// Every record type, in the spec's order.
    pub const ALL: [Self; 5] = [
        Self::Campaigns,
        Self::AdGroups,
        Self::ProductAds,
        Self::Targets,
        Self::Asins,
    ];

    /// The path segment, e.g. `adGroups`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Campaigns => "campaigns",
            Self::AdGroups => "adGroups",
            Self::ProductAds => "productAds",
            Self::Targets => "targets",
            Self::Asins => "asins",
        }
    }

    /// Parses the path segment form.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    "recordType",
                    format!(
                        "`{text}` is not one of campaigns, adGroups, productAds, targets, asins"
                    ),
                )
            })
    }

    /// The metric that identifies a row of this record type.
    pub const fn id_metric(self) -> &'static str {
        match self {
            Self::Campaigns => "campaignId",
            Self::AdGroups => "adGroupId",
            Self::ProductAds => "adId",
            Self::Targets => "targetId",
            Self::Asins => "asin",
        }
    }
}

/// Targeting tactic (`TacticReport`). SD requests need one; request both and
/// merge for a full day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Tactic {
    /// Contextual targeting (products and categories).
    T00020,
    /// Audiences or contextual targeting.
    T00030,
}

crate::json_fields::deserialize_names! {
    Tactic;
    "T00020" => T00020,
    "T00030" => T00030,
}

impl Tactic {
    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::T00020 => "T00020",
            Self::T00030 => "T00030",
        }
    }

    /// Parses `T00020` or `T00030`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text {
            "T00020" => Ok(Self::T00020),
            "T00030" => Ok(Self::T00030),
            _ => Err(invalid(
                "tactic",
                format!("`{text}` is not one of T00020, T00030"),
            )),
        }
    }
}

/// Report segmentation (`Segment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Segment {
    /// Rows per matched target (only targets with at least one click).
    MatchedTarget,
}

crate::json_fields::deserialize_names! {
    Segment;
    "matchedTarget" => MatchedTarget,
}

impl Segment {
    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MatchedTarget => "matchedTarget",
        }
    }
}

/// An SD v2 report request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// API region of the profile.
    pub region: Region,
    /// Advertising profile id (the `Amazon-Advertising-API-Scope` header).
    pub profile_id: String,
    /// What the rows are about.
    pub record_type: RecordType,
    /// The day, `YYYYMMDD`, in the profile's time zone.
    pub report_date: String,
    /// Targeting tactic.
    pub tactic: Tactic,
    /// Optional segmentation (campaigns, adGroups, targets only).
    pub segment: Option<Segment>,
    /// Metric names, sent comma-separated without spaces.
    pub metrics: Vec<String>,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region, profile_id, record_type, report_date, tactic, segment, metrics
}


impl ReportSpec {
    /// A spec; call [`Self::validate`] (the job does) before use.
    pub fn new(
        region: Region,
        profile_id: impl Into<String>,
        record_type: RecordType,
        report_date: impl Into<String>,
        tactic: Tactic,
        metrics: Vec<String>,
    ) -> Self {
        Self {
            region,
            profile_id: profile_id.into(),
            record_type,
            report_date: report_date.into(),
            tactic,
            segment: None,
            metrics,
        }
    }

    /// The same spec with a segment.
    #[must_use]
    pub fn with_segment(mut self, segment: Segment) -> Self {
        self.segment = Some(segment);
        self
    }

    /// Checks the spec against the API's rules, so a bad request never goes out.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.profile_id.is_empty()
            || !self.profile_id.bytes().all(|b| b.is_ascii_digit())
            || self.profile_id.len() > 20
        {
            return Err(invalid(
                "profileId",
                format!("`{}` must be a decimal profile id", self.profile_id),
            ));
        }
        check_report_date(&self.report_date)?;
        if self.metrics.is_empty() {
            return Err(invalid("metrics", "at least one metric is required".into()));
        }
        for metric in &self.metrics {
            if metric.is_empty() || !metric.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(
                    "metrics",
                    format!("`{metric}` is not a metric name (letters and digits only)"),
                ));
            }
        }
        if self.segment.is_some()
            && !matches!(
                self.record_type,
                RecordType::Campaigns | RecordType::AdGroups | RecordType::Targets
            )
        {
            return Err(invalid(
                "segment",
                format!(
                    "matchedTarget applies to campaigns, adGroups and targets, not {}",
                    self.record_type.as_str()
                ),
            ));
        }
        Ok(())
    }
}

fn check_report_date(date: &str) -> Result<(), ConfigError> {
    let bad = || {
        invalid(
            "reportDate",
            format!("`{date}` must be a calendar date as YYYYMMDD"),
        )
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| {
        date.get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let days = calendar::days_in_month(i64::from(year), i64::from(month)).ok_or_else(bad)?;
    if year < 2000 || day == 0 || i64::from(day) > days {
        return Err(bad());
    }
    Ok(())
}

fn invalid(field: &str, detail: String) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        detail,
    }
}

/// Login-with-Amazon credentials (shared with the Selling Partner API).
pub use crate::providers::lwa::Credentials;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ReportSpec {
        ReportSpec::new(
            Region::Na,
            "1234567890",
            RecordType::Campaigns,
            "20240301",
            Tactic::T00020,
            vec!["impressions".into()],
        )
    }

    #[test]
    fn valid_spec_passes() {
        assert_eq!(spec().validate(), Ok(()));
    }

    #[test]
    fn bad_fields_are_named() {
        for (mutate, field) in [
            (
                Box::new(|s: &mut ReportSpec| s.report_date = "20240230".into())
                    as Box<dyn Fn(&mut ReportSpec)>,
                "reportDate",
            ),
            (
                Box::new(|s: &mut ReportSpec| s.report_date = "2024-03-01".into()),
                "reportDate",
            ),
            (
                Box::new(|s: &mut ReportSpec| s.profile_id = "12a".into()),
                "profileId",
            ),
            (
                Box::new(|s: &mut ReportSpec| s.metrics = vec!["clicks, cost".into()]),
                "metrics",
            ),
            (Box::new(|s: &mut ReportSpec| s.metrics.clear()), "metrics"),
            (
                Box::new(|s: &mut ReportSpec| {
                    s.record_type = RecordType::Asins;
                    s.segment = Some(Segment::MatchedTarget);
                }),
                "segment",
            ),
        ] {
            let mut s = spec();
            mutate(&mut s);
            match s.validate() {
                Err(ConfigError::Invalid { field: got, .. }) => assert_eq!(got, field),
                other => panic!("expected invalid {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn leap_days_are_dates() {
        let mut s = spec();
        s.report_date = "20240229".into();
        assert_eq!(s.validate(), Ok(()));
        s.report_date = "20230229".into();
        assert!(s.validate().is_err());
    }
}
