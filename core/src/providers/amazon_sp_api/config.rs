//! Public configuration of an SP-API report job: region, report type,
//! marketplaces, data window, report options, and whether to adopt a
//! matching report instead of creating one.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calendar;
use crate::error::ConfigError;
use crate::integrity::Charset;
use crate::providers::excerpt;
use crate::records::RecordFormat;

/// Login-with-Amazon credentials (the same as Amazon Ads'): since 2023
/// SP-API calls carry only the LwA access token (`x-amz-access-token`), no
/// AWS SigV4 signature.
pub use crate::providers::lwa::Credentials;
/// SP-API's three regions and their marketplaces (the same Amazon regions
/// Lingxing's gateway serves).
pub use crate::providers::amazon_regions::Region;

/// The Japanese marketplace, whose flat files are Windows-31J.
pub const JP_MARKETPLACE: &str = "A1VC38T7YXB528";

/// The SP-API endpoint of `region` (the model's `host` is NA's).
pub const fn api_origin(region: Region) -> &'static str {
    match region {
        Region::Na => "https://sellingpartnerapi-na.amazon.com",
        Region::Eu => "https://sellingpartnerapi-eu.amazon.com",
        Region::Fe => "https://sellingpartnerapi-fe.amazon.com",
    }
}

/// The LwA token endpoint SP-API documents for every region.
pub const AUTH_ORIGIN: &str = "https://api.amazon.com";

/// Most marketplaces one createReport names (`maxItems` of the model).
const MAX_MARKETPLACES: usize = 25;
/// Bounds on `reportOptions` (the model says only "varies by report type").
const MAX_OPTIONS: usize = 32;
const MAX_OPTION_BYTES: usize = 256;

/// Which report to create (or adopt).
///
/// ```
/// use reportflow::providers::amazon_sp_api::{Region, ReportSpec};
///
/// let spec = ReportSpec::new(Region::Fe, "GET_MERCHANT_LISTINGS_ALL_DATA", ["JP"])
///     .with_window("2024-03-01T00:00:00Z", "2024-03-08T00:00:00Z")
///     .adopting_existing();
/// assert!(spec.validate().is_ok());
/// assert_eq!(spec.marketplace_ids()?, ["A1VC38T7YXB528"]);
/// # Ok::<(), reportflow::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// The seller's region (its endpoint).
    pub region: Region,
    /// The report type, e.g. `GET_MERCHANT_LISTINGS_ALL_DATA`.
    pub report_type: String,
    /// Marketplace ids (or country codes of the region), 1 to 25.
    pub marketplace_ids: Vec<String>,
    /// Start of the data window (ISO 8601 / RFC 3339), if the type uses one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_start_time: Option<String>,
    /// End of the data window, as `data_start_time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_end_time: Option<String>,
    /// `reportOptions`, sent as given (they vary by report type).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub report_options: BTreeMap<String, String>,
    /// Before creating, look for a report of the same type, marketplaces
    /// and window created in the last day (`getReports`) and continue it
    /// instead: the fix for "timeout ⇒ a new duplicate report". Off by
    /// default.
    pub adopt_existing: bool,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region, report_type, marketplace_ids, data_start_time, data_end_time, report_options = default, adopt_existing = default
}


impl ReportSpec {
    /// A report of `report_type` for `marketplaces` (ids or country codes).
    pub fn new<I, S>(region: Region, report_type: impl Into<String>, marketplaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            region,
            report_type: report_type.into(),
            marketplace_ids: marketplaces.into_iter().map(Into::into).collect(),
            data_start_time: None,
            data_end_time: None,
            report_options: BTreeMap::new(),
            adopt_existing: false,
        }
    }

    /// The same, over the data window `start`..`end`.
    #[must_use]
    pub fn with_window(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.data_start_time = Some(start.into());
        self.data_end_time = Some(end.into());
        self
    }

    /// The same with one more report option.
    #[must_use]
    pub fn with_option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.report_options.insert(name.into(), value.into());
        self
    }

    /// The same, adopting a matching recent report instead of creating one.
    #[must_use]
    pub fn adopting_existing(mut self) -> Self {
        self.adopt_existing = true;
        self
    }

    /// The marketplace ids, country codes resolved, in the order given.
    pub fn marketplace_ids(&self) -> Result<Vec<String>, ConfigError> {
        if self.marketplace_ids.is_empty() || self.marketplace_ids.len() > MAX_MARKETPLACES {
            return Err(ConfigError::invalid(
                "marketplaceIds",
                format!("name 1 to {MAX_MARKETPLACES} marketplaces"),
            ));
        }
        let mut ids: Vec<String> = Vec::with_capacity(self.marketplace_ids.len());
        for given in &self.marketplace_ids {
            let id = self
                .region
                .marketplace_id(given)
                .map(str::to_owned)
                .or_else(|| (Region::of_marketplace(given) == Some(self.region)).then(|| given.clone()))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "marketplaceIds",
                        format!(
                            "`{}` is not a marketplace of region {} (ids: {})",
                            excerpt(given.as_bytes(), 40),
                            self.region.as_str(),
                            self.region
                                .marketplaces()
                                .iter()
                                .map(|(country, id)| format!("{country} {id}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The data window as seconds since the epoch, each end if given.
    pub(crate) fn window(&self) -> Result<(Option<i64>, Option<i64>), ConfigError> {
        let parse = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|text| {
                    calendar::parse_rfc3339(text).ok_or_else(|| {
                        ConfigError::invalid(
                            field,
                            format!(
                                "`{}` is not an ISO 8601 date-time such as 2024-03-01T00:00:00Z",
                                excerpt(text.as_bytes(), 40)
                            ),
                        )
                    })
                })
                .transpose()
        };
        let start = parse("dataStartTime", &self.data_start_time)?;
        let end = parse("dataEndTime", &self.data_end_time)?;
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(ConfigError::invalid(
                    "dataEndTime",
                    "is before dataStartTime: swap them",
                ));
            }
        }
        Ok((start, end))
    }

    /// How the report document is laid out, from the report type's name:
    /// `…_XML…` reports are XML (delivered as bytes, no rows counted),
    /// `…_JSON…` and the JSON analytics reports are JSON, `…_CSV…` CSV, and
    /// every other type (the flat files) tab-separated.
    pub fn document_format(&self) -> DocumentFormat {
        let name = self.report_type.as_str();
        if name.contains("_XML") {
            DocumentFormat::Xml
        } else if name.contains("_JSON")
            || JSON_REPORT_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            DocumentFormat::Json
        } else if name.contains("_CSV") {
            DocumentFormat::Csv
        } else {
            DocumentFormat::Tsv
        }
    }

    /// The charset of the document when its download declares none:
    /// flat files of the Japanese marketplace are Windows-31J (SP-API's docs
    /// say so only by example; the MWS facts in `amazon.md` §2.4 are
    /// explicit); everything else is UTF-8.
    pub fn default_charset(&self) -> Option<Charset> {
        let flat = matches!(self.document_format(), DocumentFormat::Tsv | DocumentFormat::Csv);
        let japanese = self
            .marketplace_ids()
            .is_ok_and(|ids| ids.iter().any(|id| id == JP_MARKETPLACE));
        (flat && japanese).then_some(Charset::ShiftJis)
    }

    /// Checks everything Amazon would refuse, before anything is sent.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_report_type(&self.report_type)?;
        self.marketplace_ids()?;
        self.window()?;
        if self.report_options.len() > MAX_OPTIONS {
            return Err(ConfigError::invalid(
                "reportOptions",
                format!("at most {MAX_OPTIONS} options"),
            ));
        }
        for (name, value) in &self.report_options {
            let ok = |text: &str| {
                !text.is_empty() && text.len() <= MAX_OPTION_BYTES && !text.chars().any(char::is_control)
            };
            if !ok(name) || !(value.is_empty() || ok(value)) {
                return Err(ConfigError::invalid(
                    "reportOptions",
                    format!(
                        "`{}`: names and values are 1 to {MAX_OPTION_BYTES} bytes without control characters",
                        excerpt(name.as_bytes(), 40)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Report types whose documents are JSON although their names do not say
/// so (SP-API "Report Type Values": analytics reports).
const JSON_REPORT_PREFIXES: &[&str] = &[
    "GET_SALES_AND_TRAFFIC_REPORT",
    "GET_BRAND_ANALYTICS_",
    "GET_VENDOR_",
    "GET_SELLER_FEEDBACK_",
    "GET_PROMOTION_PERFORMANCE_REPORT",
    "GET_COUPON_PERFORMANCE_REPORT",
];

/// How a report document is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DocumentFormat {
    /// A tab-separated flat file (rows counted, header line included).
    Tsv,
    /// Comma-separated (rows counted, header line included).
    Csv,
    /// JSON (rows counted when the document is one array).
    Json,
    /// XML, delivered as bytes (no rows counted).
    Xml,
}

crate::json_fields::deserialize_names! {
    DocumentFormat;
    "tsv" => Tsv,
    "csv" => Csv,
    "json" => Json,
    "xml" => Xml,
}

impl DocumentFormat {
    /// The record format rows are counted by.
    pub(crate) fn record_format(self) -> RecordFormat {
        match self {
            Self::Tsv => RecordFormat::Tsv,
            Self::Csv => RecordFormat::Csv,
            // Most JSON reports are one object; a top-level array is the
            // only shape with rows to count, and an object is not damage.
            Self::Json | Self::Xml => RecordFormat::Opaque,
        }
    }

    /// The media type of the decoded document.
    pub(crate) const fn media_type(self) -> &'static str {
        match self {
            Self::Tsv => "text/tab-separated-values",
            Self::Csv => "text/csv",
            Self::Json => "application/json",
            Self::Xml => "application/xml",
        }
    }
}

/// A report type: Amazon's `UPPER_CASE` names.
fn validate_report_type(report_type: &str) -> Result<(), ConfigError> {
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
                "`{}` is not an SP-API report type (upper case, digits and `_`, e.g. GET_MERCHANT_LISTINGS_ALL_DATA)",
                excerpt(report_type.as_bytes(), 60),
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ReportSpec {
        ReportSpec::new(Region::Na, "GET_FLAT_FILE_OPEN_LISTINGS_DATA", ["US", "ATVPDKIKX0DER", "CA"])
    }

    #[test]
    fn marketplaces_resolve_country_codes_and_must_be_in_the_region() {
        assert_eq!(
            spec().marketplace_ids().unwrap(),
            ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]
        );
        let mut wrong = spec();
        wrong.marketplace_ids = vec!["A1VC38T7YXB528".into()];
        assert!(wrong.validate().is_err());
        wrong.marketplace_ids.clear();
        assert!(wrong.validate().is_err());
    }

    #[test]
    fn windows_options_and_types_are_checked() {
        assert!(spec().with_window("2024-03-01T00:00:00Z", "2024-03-02T00:00:00.5Z").validate().is_ok());
        assert!(spec().with_window("2024-03-02T00:00:00Z", "2024-03-01T00:00:00Z").validate().is_err());
        assert!(spec().with_window("2024-03-01", "2024-03-02T00:00:00Z").validate().is_err());
        assert!(spec().with_option("reportPeriod", "DAY").validate().is_ok());
        assert!(spec().with_option("a\nb", "x").validate().is_err());
        let mut lower = spec();
        lower.report_type = "get_orders".into();
        assert!(lower.validate().is_err());
    }

    #[test]
    fn formats_and_charsets_follow_the_type_and_marketplace() {
        let of = |t: &str| ReportSpec::new(Region::Fe, t, ["JP"]);
        assert_eq!(of("GET_V2_SETTLEMENT_REPORT_DATA_XML").document_format(), DocumentFormat::Xml);
        assert_eq!(of("GET_SALES_AND_TRAFFIC_REPORT").document_format(), DocumentFormat::Json);
        assert_eq!(of("GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_SALES_DATA").document_format(), DocumentFormat::Tsv);
        assert_eq!(of("GET_MERCHANT_LISTINGS_ALL_DATA").default_charset(), Some(Charset::ShiftJis));
        assert_eq!(of("GET_SALES_AND_TRAFFIC_REPORT").default_charset(), None);
        assert_eq!(spec().default_charset(), None);
    }
}
