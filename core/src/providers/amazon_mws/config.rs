//! Public configuration of an Amazon MWS Reports job: the regions and
//! marketplaces, the report to fetch, and the seller's keys.

use serde::Serialize;

use crate::calendar;
use crate::error::ConfigError;
use crate::integrity::Charset;
use crate::providers::check_credential;
use crate::records::RecordFormat;
use crate::secret::Secret;

/// The MWS endpoint a seller's marketplace is served from
/// (`shared/providers/amazon.md` §2.1). Each has its own host; the request
/// path is [`REPORTS_PATH`] everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Region {
    /// `mws.amazonservices.com`: US and BR.
    Na,
    /// `mws.amazonservices.ca`: CA.
    Ca,
    /// `mws.amazonservices.com.mx`: MX.
    Mx,
    /// `mws-eu.amazonservices.com`: UK, DE, FR, IT, ES, NL, SE, PL, TR, SA, EG, BE.
    Eu,
    /// `mws.amazonservices.ae`: AE.
    Ae,
    /// `mws.amazonservices.in`: IN.
    In,
    /// `mws.amazonservices.jp`: JP.
    Jp,
    /// `mws.amazonservices.com.au`: AU.
    Au,
    /// `mws-fe.amazonservices.com`: SG.
    Fe,
    /// `mws.amazonservices.com.cn`: CN.
    Cn,
}

crate::json_fields::deserialize_names! {
    Region;
    "na" => Na,
    "ca" => Ca,
    "mx" => Mx,
    "eu" => Eu,
    "ae" => Ae,
    "in" => In,
    "jp" => Jp,
    "au" => Au,
    "fe" => Fe,
    "cn" => Cn,
}

/// The Reports API section's path and version (the official examples'
/// path; the signature covers exactly the path sent).
pub const REPORTS_PATH: &str = "/Reports/2009-01-01";

/// Every MWS marketplace as `(country code, MarketplaceId, region)`, from
/// `shared/providers/amazon.md` §2.1 (CN's id is marked inferred there).
pub const MARKETPLACES: &[(&str, &str, Region)] = &[
    ("US", "ATVPDKIKX0DER", Region::Na),
    ("BR", "A2Q3Y263D00KWC", Region::Na),
    ("CA", "A2EUQ1WTGCTBG2", Region::Ca),
    ("MX", "A1AM78C64UM0Y8", Region::Mx),
    ("UK", "A1F83G8C2ARO7P", Region::Eu),
    ("DE", "A1PA6795UKMFR9", Region::Eu),
    ("FR", "A13V1IB3VIYZZH", Region::Eu),
    ("IT", "APJ6JRA9NG5V4", Region::Eu),
    ("ES", "A1RKKUPIHCS9HS", Region::Eu),
    ("NL", "A1805IZSGTT6HS", Region::Eu),
    ("SE", "A2NODRKZP88ZB9", Region::Eu),
    ("PL", "A1C3SOZRARQ6R3", Region::Eu),
    ("TR", "A33AVAJ2PDY3EV", Region::Eu),
    ("SA", "A17E79C6D8DWNP", Region::Eu),
    ("EG", "ARBP9OOSHTCHU", Region::Eu),
    ("BE", "AMEN7PMS3EDWL", Region::Eu),
    ("AE", "A2VIGQ35RCS4UG", Region::Ae),
    ("IN", "A21TJRUUN4KGV", Region::In),
    ("JP", "A1VC38T7YXB528", Region::Jp),
    ("AU", "A39IBJ37TRP1C6", Region::Au),
    ("SG", "A19VAU5U5O7RUS", Region::Fe),
    ("CN", "AAHKV2X7AFYLW", Region::Cn),
];

impl Region {
    /// Every region.
    pub const ALL: [Self; 10] = [
        Self::Na,
        Self::Ca,
        Self::Mx,
        Self::Eu,
        Self::Ae,
        Self::In,
        Self::Jp,
        Self::Au,
        Self::Fe,
        Self::Cn,
    ];

    /// The wire and CLI name, e.g. `eu`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Na => "na",
            Self::Ca => "ca",
            Self::Mx => "mx",
            Self::Eu => "eu",
            Self::Ae => "ae",
            Self::In => "in",
            Self::Jp => "jp",
            Self::Au => "au",
            Self::Fe => "fe",
            Self::Cn => "cn",
        }
    }

    /// The region called `text` (any case).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|region| region.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                ConfigError::invalid(
                    "region",
                    format!("`{text}` is not one of {}", names.join(", ")),
                )
            })
    }

    /// The region's endpoint, e.g. `https://mws-eu.amazonservices.com`.
    pub const fn origin(self) -> &'static str {
        match self {
            Self::Na => "https://mws.amazonservices.com",
            Self::Ca => "https://mws.amazonservices.ca",
            Self::Mx => "https://mws.amazonservices.com.mx",
            Self::Eu => "https://mws-eu.amazonservices.com",
            Self::Ae => "https://mws.amazonservices.ae",
            Self::In => "https://mws.amazonservices.in",
            Self::Jp => "https://mws.amazonservices.jp",
            Self::Au => "https://mws.amazonservices.com.au",
            Self::Fe => "https://mws-fe.amazonservices.com",
            Self::Cn => "https://mws.amazonservices.com.cn",
        }
    }

    /// The charset of the region's flat files when the answer declares
    /// none: Windows-31J in Japan, UTF-8 in China, windows-1252 (Amazon's
    /// `Cp1252`) elsewhere (§2.4 step 6). A declared charset wins.
    pub const fn flat_file_charset(self) -> Charset {
        match self {
            Self::Jp => Charset::ShiftJis,
            Self::Cn => Charset::Utf8,
            _ => Charset::Windows1252,
        }
    }

    /// Whether RequestReport takes `MarketplaceIdList` here: not in Japan,
    /// where the seller's home marketplace is used (§2.1, official).
    pub const fn takes_marketplace_list(self) -> bool {
        !matches!(self, Self::Jp)
    }

    /// The region's marketplaces as `(country code, MarketplaceId)`.
    pub fn marketplaces(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        MARKETPLACES
            .iter()
            .filter(move |(_, _, region)| *region == self)
            .map(|(country, id, _)| (*country, *id))
    }

    /// The region of a country code or a MarketplaceId.
    pub fn of_marketplace(text: &str) -> Option<Self> {
        MARKETPLACES
            .iter()
            .find(|(country, id, _)| country.eq_ignore_ascii_case(text.trim()) || *id == text)
            .map(|(_, _, region)| *region)
    }
}

/// The MarketplaceId of a country code (`JP` → `A1VC38T7YXB528`); an id is
/// returned as it is.
pub fn marketplace_id(text: &str) -> Option<&'static str> {
    MARKETPLACES
        .iter()
        .find(|(country, id, _)| country.eq_ignore_ascii_case(text.trim()) || *id == text)
        .map(|(_, id, _)| *id)
}

/// Which report to fetch: one to request (`RequestReport` →
/// `GetReportRequestList` → `GetReport`), or one that exists already
/// (`report_id`, e.g. a scheduled report: `GetReport` only).
///
/// ```
/// use reportflow::providers::amazon_mws::{Region, ReportSpec};
///
/// let spec = ReportSpec::new(Region::Eu, "_GET_MERCHANT_LISTINGS_DATA_")
///     .with_marketplaces(["A1PA6795UKMFR9"])
///     .with_period("2024-03-01T00:00:00Z", "2024-03-07T23:59:59Z");
/// assert!(spec.validate().is_ok());
/// let known = ReportSpec::existing(Region::Jp, "3538561173");
/// assert!(known.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// The endpoint of the seller's marketplace.
    pub region: Region,
    /// The `ReportType`, e.g. `_GET_MERCHANT_LISTINGS_DATA_`. Empty with
    /// `report_id`.
    pub report_type: String,
    /// `StartDate`, ISO 8601 (Amazon fills in "now" when absent).
    pub start_date: Option<String>,
    /// `EndDate`, ISO 8601.
    pub end_date: Option<String>,
    /// `ReportOptions` as Amazon writes it: `key=value` pairs joined by `;`,
    /// e.g. `ShowSalesChannel=true`.
    pub report_options: Option<String>,
    /// `MarketplaceIdList.Id.N`, all in `region` (ignored in Japan, which
    /// has no such parameter).
    pub marketplace_ids: Vec<String>,
    /// A report that exists already (`GeneratedReportId`, `ReportId`): the
    /// job only downloads it.
    pub report_id: Option<String>,
    /// Accept a `GetReport` answer without `Content-MD5` (unverified). Off
    /// by default: MWS always sends one, so its absence is an error.
    pub accept_unverified: bool,
    /// How to split the report into rows; by default flat files (every type
    /// but `…_XML_…` ones) are TSV.
    pub record_format: Option<RecordFormat>,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    region, report_type = default, start_date, end_date, report_options, marketplace_ids = default, report_id, accept_unverified = default, record_format
}


impl ReportSpec {
    /// A report of `report_type` to request in `region`.
    pub fn new(region: Region, report_type: impl Into<String>) -> Self {
        Self {
            region,
            report_type: report_type.into(),
            start_date: None,
            end_date: None,
            report_options: None,
            marketplace_ids: Vec::new(),
            report_id: None,
            accept_unverified: false,
            record_format: None,
        }
    }

    /// The report `report_id`, which exists already: downloaded only.
    pub fn existing(region: Region, report_id: impl Into<String>) -> Self {
        Self {
            report_id: Some(report_id.into()),
            ..Self::new(region, "")
        }
    }

    /// The same spec with `MarketplaceIdList`.
    #[must_use]
    pub fn with_marketplaces<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.marketplace_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// The same spec with `StartDate` and `EndDate`.
    #[must_use]
    pub fn with_period(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.start_date = Some(start.into());
        self.end_date = Some(end.into());
        self
    }

    /// The same spec with `ReportOptions`.
    #[must_use]
    pub fn with_report_options(mut self, options: impl Into<String>) -> Self {
        self.report_options = Some(options.into());
        self
    }

    /// The same spec accepting bodies without `Content-MD5`.
    #[must_use]
    pub fn accepting_unverified(mut self) -> Self {
        self.accept_unverified = true;
        self
    }

    /// How rows are split: the configured format, else TSV for flat files
    /// and opaque for XML reports.
    pub fn record_format(&self) -> RecordFormat {
        self.record_format.unwrap_or(if self.report_type.contains("_XML_") {
            RecordFormat::Opaque
        } else {
            RecordFormat::Tsv
        })
    }

    /// The media type of the decoded report.
    pub fn content_type(&self) -> &'static str {
        match self.record_format() {
            RecordFormat::Tsv => "text/tab-separated-values; charset=utf-8",
            _ if self.report_type.contains("_XML_") => "application/xml",
            _ => "application/octet-stream",
        }
    }

    /// Refuses specs MWS would refuse, before anything is sent.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(id) = &self.report_id {
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    "reportId",
                    format!("`{id}` is not an MWS ReportId (digits, as GetReportList or GeneratedReportId give it)"),
                ));
            }
            return Ok(());
        }
        let type_ok = self.report_type.len() >= 3
            && self.report_type.len() <= 128
            && self.report_type.starts_with('_')
            && self.report_type.ends_with('_')
            && self
                .report_type
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !type_ok {
            return Err(ConfigError::invalid(
                "reportType",
                format!(
                    "`{}` is not an MWS ReportType (e.g. _GET_MERCHANT_LISTINGS_DATA_), or give a reportId",
                    self.report_type
                ),
            ));
        }
        let start = check_date("startDate", self.start_date.as_deref())?;
        let end = check_date("endDate", self.end_date.as_deref())?;
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(ConfigError::invalid("endDate", "the period ends before it starts"));
            }
        }
        if let Some(options) = &self.report_options {
            if options.is_empty() || options.len() > 1024 || options.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "reportOptions",
                    "must be 1 to 1024 printable characters, e.g. ShowSalesChannel=true",
                ));
            }
        }
        if self.marketplace_ids.len() > 30 {
            return Err(ConfigError::invalid("marketplaceIds", "at most 30 marketplaces"));
        }
        for id in &self.marketplace_ids {
            match MARKETPLACES.iter().find(|(_, known, _)| known == id) {
                Some((_, _, region)) if *region == self.region => {}
                Some((country, _, region)) => {
                    return Err(ConfigError::invalid(
                        "marketplaceIds",
                        format!(
                            "`{id}` ({country}) is served by region {}, not {}; one job talks to one endpoint",
                            region.as_str(),
                            self.region.as_str()
                        ),
                    ))
                }
                None => {
                    let detail = match marketplace_id(id) {
                        Some(known) => format!("`{id}` is a country code; use its MarketplaceId {known}"),
                        None => {
                            let valid: Vec<String> = self
                                .region
                                .marketplaces()
                                .map(|(c, id)| format!("{id} ({c})"))
                                .collect();
                            format!(
                                "`{id}` is not a marketplace of region {}; valid: {}",
                                self.region.as_str(),
                                valid.join(", ")
                            )
                        }
                    };
                    return Err(ConfigError::invalid("marketplaceIds", detail));
                }
            }
        }
        Ok(())
    }
}

fn check_date(field: &str, text: Option<&str>) -> Result<Option<i64>, ConfigError> {
    text.map(|text| {
        calendar::parse_rfc3339(text).ok_or_else(|| {
            ConfigError::invalid(
                field,
                format!("`{text}` must be ISO 8601 like 2024-03-01T00:00:00Z"),
            )
        })
    })
    .transpose()
}

/// The seller's MWS keys. `Debug` redacts the secret key and the auth
/// token; neither is ever serialized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// `AWSAccessKeyId` of the developer account.
    pub access_key_id: String,
    /// The secret key that signs every request (HmacSHA256).
    pub secret_key: Secret<String>,
    /// `SellerId` (the merchant token).
    pub seller_id: String,
    /// `MWSAuthToken`, for a developer acting for another seller.
    pub mws_auth_token: Option<Secret<String>>,
}

crate::json_fields::deserialize_struct! {
    Credentials, fields = Camel, unknown = Ignore;
    access_key_id, secret_key, seller_id, mws_auth_token
}


impl Credentials {
    /// Keys of a seller signing for itself.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_key: impl Into<String>,
        seller_id: impl Into<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_key: Secret::new(secret_key.into()),
            seller_id: seller_id.into(),
            mws_auth_token: None,
        }
    }

    /// The same keys acting through a seller's `MWSAuthToken`.
    #[must_use]
    pub fn with_auth_token(mut self, token: impl Into<String>) -> Self {
        self.mws_auth_token = Some(Secret::new(token.into()));
        self
    }

    /// Refuses keys that cannot sign a request.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("accessKeyId", self.access_key_id.as_str()),
            ("secretKey", self.secret_key.expose().as_str()),
            ("sellerId", self.seller_id.as_str()),
        ] {
            if value.is_empty() {
                return Err(ConfigError::invalid(field, "is empty"));
            }
            check_credential(field, value)?;
        }
        if let Some(token) = &self.mws_auth_token {
            check_credential("mwsAuthToken", token.expose())?;
        }
        Ok(())
    }
}
