//! Public configuration of a Lingxing report-export job.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calendar;
use crate::error::ConfigError;
use crate::records::RecordFormat;
use crate::secret::Secret;
use crate::time::Millis;

/// The Lingxing OpenAPI gateway (`report-export.json`, `gateway.base_url`).
pub const API_ORIGIN: &str = "https://openapi.lingxing.com";

/// The Amazon region a seller account lives in (`region` of every report
/// call; Lingxing writes it in lower case).
pub use crate::providers::amazon_regions::Region;

/// A report-export task: which Amazon report, for which seller and
/// marketplaces, over which period.
///
/// ```
/// use reportflow::providers::lingxing::{Region, ReportSpec};
///
/// let spec = ReportSpec::new(Region::Na, "A1MQMW3JWPNCBX", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", ["ATVPDKIKX0DER"])
///     .with_data_range("2024-03-01T00:00:00Z", "2024-03-07T23:59:59Z");
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// Region of the seller account.
    pub region: Region,
    /// Lingxing's `seller_id` of the shop (Amazon seller id, e.g. `A1MQMW3JWPNCBX`).
    pub seller_id: String,
    /// The Amazon SP-API report type, e.g. `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`.
    pub report_type: String,
    /// Amazon marketplace ids, all of them in `region`.
    pub marketplace_ids: Vec<String>,
    /// Start of the data period, ISO 8601 (`2024-03-01T00:00:00Z` or with an offset).
    pub data_start_time: Option<String>,
    /// End of the data period, ISO 8601.
    pub data_end_time: Option<String>,
    /// Amazon `reportOptions` (string to string, e.g. `dateGranularity` → `DAY`).
    pub report_options: BTreeMap<String, String>,
    /// How to split the report into rows; by default derived from the report
    /// type (see [`Self::record_format`]).
    pub record_format: Option<RecordFormat>,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region, seller_id, report_type, marketplace_ids, data_start_time, data_end_time, report_options = default, record_format
}


impl ReportSpec {
    /// A spec; call [`Self::validate`] (the job does) before use.
    pub fn new<I, S>(
        region: Region,
        seller_id: impl Into<String>,
        report_type: impl Into<String>,
        marketplace_ids: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            region,
            seller_id: seller_id.into(),
            report_type: report_type.into(),
            marketplace_ids: marketplace_ids.into_iter().map(Into::into).collect(),
            data_start_time: None,
            data_end_time: None,
            report_options: BTreeMap::new(),
            record_format: None,
        }
    }

    /// The same spec restricted to a data period (ISO 8601 instants).
    #[must_use]
    pub fn with_data_range(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.data_start_time = Some(start.into());
        self.data_end_time = Some(end.into());
        self
    }

    /// The same spec with one more Amazon report option.
    #[must_use]
    pub fn with_report_option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.report_options.insert(name.into(), value.into());
        self
    }

    /// The same spec with an explicit row format.
    #[must_use]
    pub fn with_record_format(mut self, format: RecordFormat) -> Self {
        self.record_format = Some(format);
        self
    }

    /// How the report splits into rows: the explicit choice, else TSV for
    /// Amazon's flat files and opaque bytes for its JSON and XML reports.
    pub fn record_format(&self) -> RecordFormat {
        self.record_format
            .unwrap_or_else(|| match document_kind(&self.report_type) {
                DocumentKind::Tsv => RecordFormat::Tsv,
                DocumentKind::Json | DocumentKind::Xml => RecordFormat::Opaque,
            })
    }

    /// Media type of the decoded report.
    pub fn content_type(&self) -> &'static str {
        match (self.record_format(), document_kind(&self.report_type)) {
            (RecordFormat::Tsv, _) | (_, DocumentKind::Tsv) => "text/tab-separated-values",
            (_, DocumentKind::Json) => "application/json",
            (_, DocumentKind::Xml) => "application/xml",
        }
    }

    /// Checks the spec against the API's rules, so a bad request never goes out.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.seller_id.is_empty()
            || self.seller_id.len() > 64
            || !self.seller_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::invalid(
                "sellerId",
                format!(
                    "`{}` must be the shop's seller_id (letters and digits)",
                    self.seller_id
                ),
            ));
        }
        let report_type_ok = self.report_type.len() <= 128
            && self.report_type.starts_with("GET_")
            && self
                .report_type
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !report_type_ok {
            return Err(ConfigError::invalid(
                "reportType",
                format!("`{}` is not an Amazon report type (e.g. GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL)", self.report_type),
            ));
        }
        self.check_marketplaces()?;
        let start = self
            .data_start_time
            .as_deref()
            .map(|t| parse_instant("dataStartTime", t))
            .transpose()?;
        let end = self
            .data_end_time
            .as_deref()
            .map(|t| parse_instant("dataEndTime", t))
            .transpose()?;
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(ConfigError::invalid(
                    "dataEndTime",
                    "the period ends before it starts".to_owned(),
                ));
            }
        }
        for (name, value) in &self.report_options {
            if name.is_empty()
                || name.len() > 64
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(ConfigError::invalid(
                    "reportOptions",
                    format!("`{name}` is not an option name"),
                ));
            }
            if value.is_empty() || value.len() > 256 {
                return Err(ConfigError::invalid(
                    "reportOptions",
                    format!("the value of `{name}` must be 1 to 256 characters"),
                ));
            }
        }
        Ok(())
    }

    fn check_marketplaces(&self) -> Result<(), ConfigError> {
        if self.marketplace_ids.is_empty() {
            return Err(ConfigError::invalid(
                "marketplaceIds",
                "at least one marketplace id is required".to_owned(),
            ));
        }
        let valid = || {
            self.region
                .marketplaces()
                .iter()
                .map(|(c, id)| format!("{id} ({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for id in &self.marketplace_ids {
            if self
                .region
                .marketplaces()
                .iter()
                .any(|(_, known)| known == id)
            {
                continue;
            }
            let detail = if let Some(known) = self.region.marketplace_id(id) {
                format!("`{id}` is a country code; use its marketplace id {known}")
            } else if let Some(other) = Region::of_marketplace(id) {
                format!(
                    "`{id}` is in region {}, not {}; one job covers one region",
                    other.as_str(),
                    self.region.as_str()
                )
            } else {
                format!(
                    "`{id}` is not a marketplace of region {}; valid: {}",
                    self.region.as_str(),
                    valid()
                )
            };
            return Err(ConfigError::invalid("marketplaceIds", detail));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum DocumentKind {
    Tsv,
    Json,
    Xml,
}

/// Amazon's documents are tab-separated flat files except the JSON reports
/// (analytics, vendor, performance) and the XML ones.
fn document_kind(report_type: &str) -> DocumentKind {
    const JSON: [&str; 5] = [
        "GET_SALES_AND_TRAFFIC_REPORT",
        "GET_V2_SELLER_PERFORMANCE_REPORT",
        "GET_PROMOTION_PERFORMANCE_REPORT",
        "GET_COUPON_PERFORMANCE_REPORT",
        "GET_SELLER_FEEDBACK_DATA_JSON",
    ];
    if report_type.contains("_XML") {
        DocumentKind::Xml
    } else if report_type.starts_with("GET_BRAND_ANALYTICS_")
        || report_type.starts_with("GET_VENDOR_")
        || report_type.contains("JSON")
        || JSON.contains(&report_type)
    {
        DocumentKind::Json
    } else {
        DocumentKind::Tsv
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into seconds since the epoch:
/// RFC 3339 (the shared parser), plus the stricter rules this spec always
/// had — an upper-case `T` and `Z`, a year from 2000 on and an offset within
/// ±18:00.
fn parse_instant(field: &str, text: &str) -> Result<i64, ConfigError> {
    let bad = || {
        ConfigError::invalid(
            field,
            format!(
                "`{text}` must be ISO 8601 like 2024-03-01T00:00:00Z or 2024-03-01T00:00:00+08:00"
            ),
        )
    };
    let seconds = calendar::parse_rfc3339(text).ok_or_else(bad)?;
    let upper_case = text.get(10..11) == Some("T") && !text.ends_with('z');
    let year_ok = text
        .get(..4)
        .and_then(|year| year.parse::<i64>().ok())
        .is_some_and(|year| year >= 2000);
    // The shared parser checked the shape: a non-`Z` zone is `±HH:MM`.
    let offset_ok = text.ends_with('Z')
        || text
            .len()
            .checked_sub(5)
            .and_then(|at| text.get(at..at + 2))
            .and_then(|hours| hours.parse::<i64>().ok())
            .is_some_and(|hours| hours <= 18);
    if upper_case && year_ok && offset_ok {
        Ok(seconds)
    } else {
        Err(bad())
    }
}

/// An app's OpenAPI credentials (ERP: 设置 > 业务配置 > 全局 > 开放接口).
///
/// The job obtains and refreshes access tokens itself; a host that keeps
/// fresh tokens elsewhere may hand them in with [`Self::with_tokens`].
/// `Debug` redacts the secret and the tokens; they are never serialized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// The AppID (`ak_…`, 16 characters). Sent as `app_key` and used as the
    /// AES-128 key of every request signature.
    pub app_id: String,
    /// The AppSecret; only ever sent to the token endpoint.
    pub app_secret: Secret<String>,
    /// A current access token, if the host has one.
    pub access_token: Option<Secret<String>>,
    /// The refresh token issued with `access_token` (single use).
    pub refresh_token: Option<Secret<String>>,
    /// When `access_token` expires; without it the token is used until refused.
    pub access_token_expires_at: Option<Millis>,
}

crate::json_fields::deserialize_struct! {
    Credentials, fields = Camel, unknown = Ignore;
    app_id, app_secret, access_token, refresh_token, access_token_expires_at
}


impl Credentials {
    /// Credentials from which the job fetches its own tokens.
    pub fn new(app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: Secret::new(app_secret.into()),
            access_token: None,
            refresh_token: None,
            access_token_expires_at: None,
        }
    }

    /// The same credentials with a current token pair. Hand in a refresh
    /// token only if nothing else has used it: Lingxing accepts each once.
    #[must_use]
    pub fn with_tokens(
        mut self,
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        expires_at: Option<Millis>,
    ) -> Self {
        self.access_token = Some(Secret::new(access_token.into()));
        self.refresh_token = refresh_token.map(Secret::new);
        self.access_token_expires_at = expires_at;
        self
    }

    /// Checks what can be checked locally: the AppID is the 16-byte AES key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.app_id.len() != 16 || !self.app_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::invalid(
                "appId",
                format!("`{}` must be the app's 16-character AppID (e.g. ak_0123456789abc); it is the signing key", self.app_id),
            ));
        }
        if self.app_secret.expose().is_empty() {
            return Err(ConfigError::invalid(
                "appSecret",
                "the AppSecret is empty".to_owned(),
            ));
        }
        crate::providers::check_credential("appSecret", self.app_secret.expose())?;
        for (field, token) in [
            ("accessToken", &self.access_token),
            ("refreshToken", &self.refresh_token),
        ] {
            if let Some(token) = token {
                crate::providers::check_credential(field, token.expose())?;
            }
        }
        Ok(())
    }
}
