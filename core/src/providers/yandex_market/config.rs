//! Public configuration of a Yandex Market report job: the report kinds of
//! the Partner API spec, one typed request body per kind (checked against
//! the spec's rules before anything is sent), raw requests for kinds this
//! version does not know, and credentials.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::calendar;
use crate::error::ConfigError;
use crate::records::RecordFormat;
use crate::secret::Secret;

/// The Partner API origin (the spec's only `servers` entry).
pub const API_ORIGIN: &str = "https://api.partner.market.yandex.ru";

/// Largest request body the API accepts (functional limit: 512 KB).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// `format` of a report (`ReportFormatType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReportFormat {
    /// One spreadsheet file (XLSX). The default.
    #[default]
    File,
    /// A ZIP archive with one CSV file per sheet.
    Csv,
    /// A ZIP archive with one JSON file per sheet.
    Json,
}

crate::json_fields::deserialize_names! {
    ReportFormat;
    "FILE" => File,
    "CSV" => Csv,
    "JSON" => Json,
}

impl ReportFormat {
    /// The query value, e.g. `CSV`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::File => "FILE",
            Self::Csv => "CSV",
            Self::Json => "JSON",
        }
    }

    /// Parses `FILE`, `CSV` or `JSON` (any case).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text.to_ascii_uppercase().as_str() {
            "FILE" | "XLSX" => Ok(Self::File),
            "CSV" => Ok(Self::Csv),
            "JSON" => Ok(Self::Json),
            _ => Err(invalid(
                "format",
                format!("`{text}` is not one of FILE, CSV, JSON"),
            )),
        }
    }
}

/// `language` of a report (`ReportLanguageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReportLanguage {
    /// Russian.
    Ru,
    /// English.
    En,
}

crate::json_fields::deserialize_names! {
    ReportLanguage;
    "RU" => Ru,
    "EN" => En,
}

impl ReportLanguage {
    /// The query value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ru => "RU",
            Self::En => "EN",
        }
    }
}

/// `sourceType`: which kind of cabinet calls (`SourceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum SourceType {
    /// A seller (the API's default).
    Seller,
    /// An advertiser cabinet; such cabinets must always send it.
    Advertiser,
}

crate::json_fields::deserialize_names! {
    SourceType;
    "SELLER" => Seller,
    "ADVERTISER" => Advertiser,
}

impl SourceType {
    /// The query value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seller => "SELLER",
            Self::Advertiser => "ADVERTISER",
        }
    }
}

/// Label layout of the labels document (`PageFormatType`, its `format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum PageFormat {
    /// 58 × 40 mm without margins.
    A9Horizontally,
    /// 40 × 58 mm without margins.
    A9,
    /// 75 × 120 mm (the API's default).
    A7,
    /// A4 with the cabinet's label format.
    A4,
}

crate::json_fields::deserialize_names! {
    PageFormat;
    "A9_HORIZONTALLY" => A9Horizontally,
    "A9" => A9,
    "A7" => A7,
    "A4" => A4,
}

impl PageFormat {
    /// The query value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A9Horizontally => "A9_HORIZONTALLY",
            Self::A9 => "A9",
            Self::A7 => "A7",
            Self::A4 => "A4",
        }
    }
}

/// A request rate: `amount` requests per `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests per period.
    pub amount: u32,
    /// The period, in ms.
    pub period_ms: u64,
}

crate::json_fields::deserialize_struct! {
    RateLimit, fields = Camel, unknown = Ignore;
    amount, period_ms
}


impl RateLimit {
    /// `amount` requests per `period_ms`.
    pub const fn new(amount: u32, period_ms: u64) -> Self {
        Self { amount, period_ms }
    }

    /// `getReportInfo`: 100 per minute.
    pub const INFO: Self = Self::new(100, 60_000);
}

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

/// Which query parameters an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    /// `format` as `ReportFormatType`.
    pub(crate) report_format: bool,
    /// `format` as `PageFormatType` (labels).
    pub(crate) page_format: bool,
    pub(crate) language: bool,
    pub(crate) source_type: bool,
    /// `businessId` is a path parameter (taken from the body's field).
    pub(crate) business_in_path: bool,
}

/// What a report's file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// One spreadsheet (itself a ZIP container, verified but delivered as is).
    Xlsx,
    /// One PDF.
    Pdf,
    /// A ZIP archive whose members are delivered as parts.
    Archive {
        record_format: RecordFormat,
        content_type: &'static str,
    },
    /// Unknown bytes (raw requests in `FILE` format).
    Opaque,
}

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $operation:literal, $path:literal, $schema:literal, $limit:expr, $params:expr, $body:ident; )*) => {
        /// The report kinds of the Partner API spec (`shared/specs/yandex-market`),
        /// one per `…/generate` operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[non_exhaustive]
        pub enum ReportKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        crate::json_fields::deserialize_names! {
            ReportKind;
            $( $name => $variant, )*
        }

        impl ReportKind {
            /// Every kind, in the spec's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The kind's name: its path after `/reports/`, without `/generate`
            /// (e.g. `united-orders`, `documents/labels`).
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The spec's `operationId`, e.g. `generateUnitedOrdersReport`.
            pub const fn operation_id(self) -> &'static str {
                match self { $(Self::$variant => $operation,)* }
            }

            /// The path template as the spec writes it.
            pub const fn spec_path(self) -> &'static str {
                match self { $(Self::$variant => $path,)* }
            }

            /// The spec's request body schema (a file in `components/schemas/`).
            pub const fn body_schema(self) -> &'static str {
                match self { $(Self::$variant => $schema,)* }
            }

            /// The spec's `x-resource-limit-config` for the lowest tariff (`none`).
            pub const fn default_limit(self) -> RateLimit {
                match self { $(Self::$variant => $limit,)* }
            }

            pub(crate) const fn params(self) -> Params {
                match self { $(Self::$variant => $params,)* }
            }
        }

        /// A typed report request: the kind and its body.
        ///
        /// Serialized as `{"kind": "united-orders", "body": {…}}` with the body
        /// in the API's own field names, so a request can be written as JSON.
        /// `raw` requests any other path with a body that is sent as given.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "kind", content = "body")]
        #[non_exhaustive]
        pub enum ReportRequest {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($body), )*
            /// Any other report: a path (e.g. `/v2/reports/new-thing/generate`)
            /// and a body sent as given (not validated beyond JSON).
            #[serde(rename = "raw")]
            Raw(RawRequest),
        }

        crate::json_fields::deserialize_tagged! {
            ReportRequest, tag = "kind", content = "body", fields = Verbatim;
            $( $name => $variant($body), )*
            "raw" => Raw(RawRequest),
        }
        

        impl ReportRequest {
            /// The kind, or `None` for a raw request.
            pub const fn kind(&self) -> Option<ReportKind> {
                match self {
                    $(Self::$variant(_) => Some(ReportKind::$variant),)*
                    Self::Raw(_) => None,
                }
            }

            /// The request body as it goes on the wire.
            pub fn body_json(&self) -> Value {
                let mut value = match self {
                    Self::Raw(raw) => raw.body.clone(),
                    // The typed body is the request's `body` as the request
                    // serializes (`{"kind": …, "body": {…}}`): one serializer
                    // for all the kinds, the snapshot's.
                    _ => serde_json::to_vec(self)
                        .and_then(|text| serde_json::from_slice::<Value>(&text))
                        .ok()
                        .and_then(|mut request| request.get_mut("body").map(Value::take))
                        .unwrap_or(Value::Null),
                };
                if let (Self::MarketingDetalization(_), Value::Object(map)) = (self, &mut value) {
                    // A path parameter, not a body field.
                    map.remove("businessId");
                }
                value
            }

            fn validate_body(&self) -> Result<(), ConfigError> {
                match self {
                    $(Self::$variant(body) => body.validate(),)*
                    Self::Raw(raw) => raw.validate(),
                }
            }
        }
    };
}

const fn params(report_format: bool, language: bool, source_type: bool) -> Params {
    Params {
        report_format,
        page_format: false,
        language,
        source_type,
        business_in_path: false,
    }
}

const REPORT: Params = params(true, false, false);
const REPORT_LANG: Params = params(true, true, false);
const REPORT_SOURCE: Params = params(true, false, true);
const NO_PARAMS: Params = params(false, false, false);
const LABELS: Params = Params {
    report_format: false,
    page_format: true,
    language: false,
    source_type: false,
    business_in_path: false,
};
const MARKETING: Params = Params {
    report_format: true,
    page_format: false,
    language: false,
    source_type: true,
    business_in_path: true,
};

const PER_2_MIN: RateLimit = RateLimit::new(1, 2 * MINUTE);
const PER_10_MIN: RateLimit = RateLimit::new(1, 10 * MINUTE);

kinds! {
    /// Payments (`generateUnitedNettingReport`).
    UnitedNetting => "united-netting", "generateUnitedNettingReport", "/v2/reports/united-netting/generate", "GenerateUnitedNettingReportRequest", PER_2_MIN, REPORT_LANG, UnitedNettingRequest;
    /// Cost of services (`generateUnitedMarketplaceServicesReport`).
    UnitedMarketplaceServices => "united-marketplace-services", "generateUnitedMarketplaceServicesReport", "/v2/reports/united-marketplace-services/generate", "GenerateUnitedMarketplaceServicesReportRequest", PER_2_MIN, REPORT_LANG, UnitedMarketplaceServicesRequest;
    /// Orders (`generateUnitedOrdersReport`).
    UnitedOrders => "united-orders", "generateUnitedOrdersReport", "/v2/reports/united-orders/generate", "GenerateUnitedOrdersRequest", PER_2_MIN, REPORT_LANG, UnitedOrdersRequest;
    /// Non-purchases and returns (`generateUnitedReturnsReport`).
    UnitedReturns => "united-returns", "generateUnitedReturnsReport", "/v2/reports/united-returns/generate", "GenerateUnitedReturnsRequest", PER_2_MIN, REPORT, UnitedReturnsRequest;
    /// Goods realization (`generateGoodsRealizationReport`).
    GoodsRealization => "goods-realization", "generateGoodsRealizationReport", "/v2/reports/goods-realization/generate", "GenerateGoodsRealizationReportRequest", PER_2_MIN, REPORT, GoodsRealizationRequest;
    /// Stocks on warehouses (`generateStocksOnWarehousesReport`).
    StocksOnWarehouses => "stocks-on-warehouses", "generateStocksOnWarehousesReport", "/v2/reports/stocks-on-warehouses/generate", "GenerateStocksOnWarehousesReportRequest", PER_2_MIN, REPORT, StocksOnWarehousesRequest;
    /// Goods movement (`generateGoodsMovementReport`).
    GoodsMovement => "goods-movement", "generateGoodsMovementReport", "/v2/reports/goods-movement/generate", "GenerateGoodsMovementReportRequest", PER_2_MIN, REPORT, GoodsMovementRequest;
    /// Sales analytics (`generateShowsSalesReport`).
    ShowsSales => "shows-sales", "generateShowsSalesReport", "/v2/reports/shows-sales/generate", "GenerateShowsSalesReportRequest", PER_10_MIN, REPORT, ShowsSalesRequest;
    /// Competitors' position (`generateCompetitorsPositionReport`).
    CompetitorsPosition => "competitors-position", "generateCompetitorsPositionReport", "/v2/reports/competitors-position/generate", "GenerateCompetitorsPositionReportRequest", PER_10_MIN, REPORT, CompetitorsPositionRequest;
    /// Prices (`generateGoodsPricesReport`).
    GoodsPrices => "goods-prices", "generateGoodsPricesReport", "/v2/reports/goods-prices/generate", "GenerateGoodsPricesReportRequest", PER_2_MIN, REPORT, GoodsPricesRequest;
    /// Turnover (`generateGoodsTurnoverReport`).
    GoodsTurnover => "goods-turnover", "generateGoodsTurnoverReport", "/v2/reports/goods-turnover/generate", "GenerateGoodsTurnoverRequest", PER_2_MIN, REPORT, GoodsTurnoverRequest;
    /// Sales boost (`generateBoostConsolidatedReport`).
    BoostConsolidated => "boost-consolidated", "generateBoostConsolidatedReport", "/v2/reports/boost-consolidated/generate", "GenerateBoostConsolidatedRequest", PER_2_MIN, REPORT_SOURCE, BoostConsolidatedRequest;
    /// Shipment list document, a PDF (`generateShipmentListDocumentReport`).
    ShipmentList => "documents/shipment-list", "generateShipmentListDocumentReport", "/v2/reports/documents/shipment-list/generate", "GenerateShipmentListDocumentReportRequest", RateLimit::new(200, HOUR), NO_PARAMS, ShipmentListRequest;
    /// Shelves statistics (`generateShelfsStatisticsReport`).
    ShelfStatistics => "shelf-statistics", "generateShelfsStatisticsReport", "/v2/reports/shelf-statistics/generate", "GenerateShelfsStatisticsRequest", PER_2_MIN, REPORT_SOURCE, ShelfStatisticsRequest;
    /// Order labels, a PDF (`generateMassOrderLabelsReport`).
    Labels => "documents/labels", "generateMassOrderLabelsReport", "/v2/reports/documents/labels/generate", "GenerateMassOrderLabelsRequest", RateLimit::new(1_000, HOUR), LABELS, LabelsRequest;
    /// Product reviews (`generateGoodsFeedbackReport`).
    GoodsFeedback => "goods-feedback", "generateGoodsFeedbackReport", "/v2/reports/goods-feedback/generate", "GenerateGoodsFeedbackRequest", PER_10_MIN, REPORT, GoodsFeedbackRequest;
    /// Shows boost (`generateShowsBoostReport`).
    ShowsBoost => "shows-boost", "generateShowsBoostReport", "/v2/reports/shows-boost/generate", "GenerateShowsBoostRequest", PER_2_MIN, REPORT_SOURCE, ShowsBoostRequest;
    /// Banner and push promotion (`generateBannersStatisticsReport`).
    BannersStatistics => "banners-statistics", "generateBannersStatisticsReport", "/v2/reports/banners-statistics/generate", "GenerateBannersStatisticsRequest", PER_2_MIN, REPORT_SOURCE, BannersStatisticsRequest;
    /// Closing documents of a month, a ZIP of PDFs (`generateClosureDocumentsReport`).
    ClosureDocuments => "closure-documents", "generateClosureDocumentsReport", "/v2/reports/closure-documents/generate", "GenerateClosureDocumentsRequest", RateLimit::new(1_000, HOUR), NO_PARAMS, ClosureDocumentsRequest;
    /// Jewelry orders (`generateJewelryFiscalReport`).
    JewelryFiscal => "jewelry-fiscal", "generateJewelryFiscalReport", "/v2/reports/jewelry-fiscal/generate", "GenerateJewelryFiscalReportRequest", PER_2_MIN, REPORT, JewelryFiscalRequest;
    /// Sales geography (`generateSalesGeographyReport`).
    SalesGeography => "sales-geography", "generateSalesGeographyReport", "/v2/reports/sales-geography/generate", "GenerateSalesGeographyRequest", PER_2_MIN, REPORT, SalesGeographyRequest;
    /// Key indicators (`generateKeyIndicatorsReport`).
    KeyIndicators => "key-indicators", "generateKeyIndicatorsReport", "/v2/reports/key-indicators/generate", "GenerateKeyIndicatorsRequest", PER_2_MIN, REPORT, KeyIndicatorsRequest;
    /// Reconciliation with closing documents (`generateClosureDocumentsDetalizationReport`).
    ClosureDocumentsDetalization => "closure-documents/detalization", "generateClosureDocumentsDetalizationReport", "/v2/reports/closure-documents/detalization/generate", "GenerateClosureDocumentsDetalizationRequest", PER_2_MIN, REPORT, ClosureDocumentsDetalizationRequest;
    /// Marketing account (`generateMarketingDetalizationReport`; `businessId` in the path).
    MarketingDetalization => "marketing-detalization", "generateMarketingDetalizationReport", "/v1/businesses/{businessId}/reports/marketing-detalization/generate", "GenerateMarketingDetalizationRequest", PER_2_MIN, MARKETING, MarketingDetalizationRequest;
    /// Barcodes, a PDF (`generateBarcodesReport`).
    Barcodes => "documents/barcodes", "generateBarcodesReport", "/v1/reports/documents/barcodes/generate", "GenerateBarcodesReportRequest", RateLimit::new(100, HOUR), NO_PARAMS, BarcodesRequest;
}

impl ReportKind {
    /// Finds a kind by [`name`](Self::name) or `operationId` (any case; a
    /// leading `/vN/reports/` and a trailing `/generate` are ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let trimmed = text.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/generate").unwrap_or(trimmed);
        let trimmed = [
            "/v2/reports/",
            "/v1/reports/",
            "/reports/",
            "v2/reports/",
            "reports/",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p))
        .unwrap_or(trimmed);
        Self::ALL.iter().copied().find(|k| {
            k.name().eq_ignore_ascii_case(trimmed)
                || k.operation_id().eq_ignore_ascii_case(trimmed)
                || k.name().rsplit('/').next().is_some_and(|last| {
                    last.eq_ignore_ascii_case(trimmed) && k.name().starts_with("documents/")
                })
        })
    }

    /// The path of the generate call with `prefix` in place of the spec's
    /// version prefix (`None`: the spec's own, `/v2` or `/v1`).
    pub(crate) fn path(self, prefix: Option<&str>, business_id: i64) -> String {
        let spec = self.spec_path();
        let rest = spec.get(3..).unwrap_or(spec);
        let version = spec.get(..3).unwrap_or("/v2");
        let path = format!("{}{rest}", prefix.unwrap_or(version));
        path.replace("{businessId}", &business_id.to_string())
    }

    /// What the generated file is, for a requested format.
    pub(crate) const fn output(self, format: ReportFormat) -> Output {
        match self {
            Self::Labels | Self::ShipmentList | Self::Barcodes => Output::Pdf,
            Self::ClosureDocuments => Output::Archive {
                record_format: RecordFormat::Opaque,
                content_type: "application/pdf",
            },
            _ => match format {
                ReportFormat::File => Output::Xlsx,
                ReportFormat::Csv => Output::Archive {
                    record_format: RecordFormat::Csv,
                    content_type: "text/csv",
                },
                ReportFormat::Json => Output::Archive {
                    record_format: RecordFormat::JsonArray,
                    content_type: "application/json",
                },
            },
        }
    }
}

/// What to generate, in which format, and how to reach the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportSpec {
    /// The report and its body.
    pub request: ReportRequest,
    /// `format` (reports only; documents have their own fixed format).
    pub format: ReportFormat,
    /// `language` (united-netting, united-marketplace-services, united-orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<ReportLanguage>,
    /// `sourceType` (promotion reports, marketing detalization), also sent
    /// with every info call when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<SourceType>,
    /// The labels document's `format` (page layout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_format: Option<PageFormat>,
    /// Replaces the version prefix of every path (`/v2` by the spec; `""`
    /// for the legacy unprefixed paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// The generate call's rate, when the account's tariff allows more than
    /// the lowest tier the spec lists (used until the API's own
    /// `X-RateLimit-*` headers say otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generate_limit: Option<RateLimit>,
    /// Body fields sent as given, merged into the generate body: fields
    /// the schema allows that `request` does not model or leaves out (a
    /// field Yandex added after this release), so no one waits for a
    /// release to use them. Not checked here beyond being JSON; the API
    /// judges them. [`Self::validate`] refuses a name the modelled body
    /// already sends (one field, two values) — set it in `request` instead.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra_body_fields: Map<String, Value>,
}

crate::json_fields::deserialize_struct! {
    ReportSpec, fields = Camel, unknown = Ignore;
    request, format = default, language, source_type, page_format, path_prefix, generate_limit, extra_body_fields = default
}


impl ReportSpec {
    /// A spec for `request` in `format`; call [`Self::validate`] (the job does).
    pub fn new(request: ReportRequest, format: ReportFormat) -> Self {
        Self {
            request,
            format,
            language: None,
            source_type: None,
            page_format: None,
            path_prefix: None,
            generate_limit: None,
            extra_body_fields: Map::new(),
        }
    }

    /// The same spec with one more body field sent as given (see
    /// [`Self::extra_body_fields`]).
    #[must_use]
    pub fn with_body_field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra_body_fields.insert(name.into(), value);
        self
    }

    /// The generate call's body: the modelled body with the extra fields
    /// merged in. Modelled fields win a clash, which [`Self::validate`]
    /// refuses anyway.
    pub(crate) fn generate_body(&self) -> Value {
        let mut body = self.request.body_json();
        if let Value::Object(map) = &mut body {
            for (name, value) in &self.extra_body_fields {
                map.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        body
    }

    /// A typed request from a kind name and a JSON body (as the CLI's
    /// `--kind` and `--body-json`); an unknown kind becomes a raw request to
    /// `{prefix}/reports/{kind}/generate`.
    pub fn request_from_json(kind: &str, body: Value) -> Result<ReportRequest, ConfigError> {
        match ReportKind::parse(kind) {
            Some(known) => {
                let tagged = serde_json::json!({ "kind": known.name(), "body": body });
                serde_json::from_value(tagged)
                    .map_err(|e| invalid("body", format!("{}: {e}", known.name())))
            }
            None => {
                let path = if kind.starts_with('/') {
                    kind.to_owned()
                } else {
                    format!("/v2/reports/{}/generate", kind.trim_matches('/'))
                };
                Ok(ReportRequest::Raw(RawRequest { path, body }))
            }
        }
    }

    /// The same spec with a language.
    #[must_use]
    pub fn with_language(mut self, language: ReportLanguage) -> Self {
        self.language = Some(language);
        self
    }

    /// The same spec with a source type.
    #[must_use]
    pub fn with_source_type(mut self, source_type: SourceType) -> Self {
        self.source_type = Some(source_type);
        self
    }

    /// The same spec with another path prefix.
    #[must_use]
    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Checks the spec against the API's rules, so a bad request never goes out.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.request.validate_body()?;
        if let Some(prefix) = &self.path_prefix {
            let ok = prefix.is_empty()
                || (prefix.starts_with('/')
                    && !prefix.ends_with('/')
                    && prefix.len() <= 64
                    && prefix.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.')
                    })
                    && !prefix.split('/').any(|s| s == ".." || s == "."));
            if !ok {
                return Err(invalid(
                    "pathPrefix",
                    format!("`{prefix}` must be empty or like /v2 (no trailing slash)"),
                ));
            }
        }
        let params = match self.request.kind() {
            Some(kind) => kind.params(),
            // A raw request takes whatever query the caller sets.
            None => Params {
                report_format: true,
                page_format: true,
                language: true,
                source_type: true,
                business_in_path: false,
            },
        };
        let name = self
            .request
            .kind()
            .map_or("this raw request", ReportKind::name);
        if self.format != ReportFormat::File && !params.report_format {
            return Err(invalid(
                "format",
                format!(
                    "{name} has no format parameter; it always produces its own document format"
                ),
            ));
        }
        if self.language.is_some() && !params.language {
            return Err(invalid(
                "language",
                format!("{name} takes no language parameter"),
            ));
        }
        if self.source_type.is_some() && !params.source_type && self.request.kind().is_some() {
            return Err(invalid(
                "sourceType",
                format!("{name} takes no sourceType parameter"),
            ));
        }
        if self.page_format.is_some() && !params.page_format {
            return Err(invalid(
                "pageFormat",
                format!("{name} takes no page format; only documents/labels does"),
            ));
        }
        if let Some(limit) = self.generate_limit {
            if limit.amount == 0 || limit.period_ms == 0 {
                return Err(invalid(
                    "generateLimit",
                    "amount and period must be positive".to_owned(),
                ));
            }
        }
        self.validate_extra_fields()?;
        let body = serde_json::to_vec(&self.generate_body()).unwrap_or_default();
        if body.len() > MAX_BODY_BYTES {
            return Err(invalid(
                "body",
                format!(
                    "{} bytes; the API accepts at most {MAX_BODY_BYTES}",
                    body.len()
                ),
            ));
        }
        Ok(())
    }

    fn validate_extra_fields(&self) -> Result<(), ConfigError> {
        if self.extra_body_fields.is_empty() {
            return Ok(());
        }
        let modelled = self.request.body_json();
        let Value::Object(sent) = &modelled else {
            return Err(invalid(
                "extraBodyFields",
                "extra fields need a JSON object body".to_owned(),
            ));
        };
        let in_path = self
            .request
            .kind()
            .is_some_and(|kind| kind.params().business_in_path);
        for name in self.extra_body_fields.keys() {
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err(invalid(
                    "extraBodyFields",
                    format!("`{}` is not a field name (1–128 characters, no control characters)", name.escape_debug()),
                ));
            }
            if sent.contains_key(name) {
                return Err(invalid(
                    "extraBodyFields",
                    format!("`{name}` is already in the report body; set it there, not as an extra field"),
                ));
            }
            if in_path && name == "businessId" {
                return Err(invalid(
                    "extraBodyFields",
                    "businessId of this report is a path parameter; set it in the body".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Whether the report arrives as several named parts (`Data` with
    /// `part` set): the CSV and JSON formats and the closing documents,
    /// which are ZIP archives. Hosts write those as one file per part.
    pub fn delivers_parts(&self) -> bool {
        matches!(self.output(), Output::Archive { .. })
    }

    /// The generate call's path (with the prefix applied).
    pub(crate) fn generate_path(&self) -> String {
        match &self.request {
            ReportRequest::Raw(raw) => raw.path.clone(),
            ReportRequest::MarketingDetalization(body) => ReportKind::MarketingDetalization
                .path(self.path_prefix.as_deref(), body.business_id),
            other => other
                .kind()
                .map(|k| k.path(self.path_prefix.as_deref(), 0))
                .unwrap_or_default(),
        }
    }

    /// The info call's path prefix (`/v2` unless replaced).
    pub(crate) fn info_prefix(&self) -> &str {
        self.path_prefix.as_deref().unwrap_or("/v2")
    }

    /// The generate call's query parameters, in the spec's order.
    pub(crate) fn generate_query(&self) -> Vec<(&'static str, &'static str)> {
        let params = self.request.kind().map_or(
            Params {
                report_format: true,
                page_format: false,
                language: true,
                source_type: true,
                business_in_path: false,
            },
            ReportKind::params,
        );
        let mut query = Vec::new();
        if params.report_format {
            query.push(("format", self.format.as_str()));
        }
        if let Some(page) = self
            .page_format
            .filter(|_| params.page_format || self.request.kind().is_none())
        {
            query.push(("format", page.as_str()));
        }
        if let Some(language) = self.language {
            query.push(("language", language.as_str()));
        }
        if let Some(source) = self.source_type.filter(|_| params.source_type) {
            query.push(("sourceType", source.as_str()));
        }
        query
    }

    /// The static rate of the generate call.
    pub(crate) fn generate_rate(&self) -> RateLimit {
        self.generate_limit.unwrap_or_else(|| {
            self.request
                .kind()
                .map_or(PER_2_MIN, ReportKind::default_limit)
        })
    }

    /// What the file is.
    pub(crate) fn output(&self) -> Output {
        match self.request.kind() {
            Some(kind) => kind.output(self.format),
            None => match self.format {
                ReportFormat::File => Output::Opaque,
                format => ReportKind::UnitedOrders.output(format),
            },
        }
    }
}

/// A request for a path this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RawRequest {
    /// Absolute path on the API origin, e.g. `/v2/reports/new-thing/generate`.
    pub path: String,
    /// The JSON body, sent as given.
    pub body: Value,
}

crate::json_fields::deserialize_struct! {
    RawRequest, fields = Camel, unknown = Ignore;
    path, body
}


impl RawRequest {
    /// A raw request.
    pub fn new(path: impl Into<String>, body: Value) -> Self {
        Self {
            path: path.into(),
            body,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.path;
        let ok = p.starts_with('/')
            && p.len() <= 512
            && !p.split('/').any(|s| s == ".." || s == ".")
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        if !ok {
            return Err(invalid(
                "path",
                format!(
                    "`{p}` must be an absolute API path such as /v2/reports/new-thing/generate"
                ),
            ));
        }
        if !self.body.is_object() {
            return Err(invalid("body", "a report body is a JSON object".to_owned()));
        }
        Ok(())
    }
}

/// Yandex Market credentials: an `Api-Key` token (recommended) or an OAuth
/// token (deprecated). `Debug` redacts them; they are never serialized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credentials {
    /// An Api-Key token (`ACMA:…`), sent as `Api-Key: <token>`.
    pub api_key: Option<Secret<String>>,
    /// An OAuth token, sent as `Authorization: Bearer <token>`.
    pub oauth_token: Option<Secret<String>>,
}

crate::json_fields::deserialize_struct! {
    Credentials, fields = Camel, unknown = Ignore;
    api_key, oauth_token
}


impl Credentials {
    /// Credentials with an Api-Key token.
    pub fn api_key(token: impl Into<String>) -> Self {
        Self {
            api_key: Some(Secret::new(token.into())),
            oauth_token: None,
        }
    }

    /// Credentials with an OAuth token.
    pub fn oauth(token: impl Into<String>) -> Self {
        Self {
            api_key: None,
            oauth_token: Some(Secret::new(token.into())),
        }
    }

    /// Exactly one token, usable as a header value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let token = match (&self.api_key, &self.oauth_token) {
            (Some(key), None) => key,
            (None, Some(token)) => token,
            (None, None) => {
                return Err(invalid(
                    "credentials",
                    "give an Api-Key token or an OAuth token".to_owned(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "credentials",
                    "give an Api-Key token or an OAuth token, not both".to_owned(),
                ))
            }
        };
        let value = token.expose();
        if value.is_empty() || value.len() > 4096 || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "credentials",
                "the token must be non-empty printable ASCII without spaces".to_owned(),
            ));
        }
        if self.api_key.is_some() && value.to_ascii_lowercase().starts_with("bearer") {
            return Err(invalid(
                "credentials",
                "an Api-Key token is sent without a Bearer prefix".to_owned(),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Value types of the request bodies.

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident => $text:literal ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )*
        }

        crate::json_fields::deserialize_names! {
            $name;
            $( $text => $variant, )*
        }

        impl $name {
            /// Every value, in the spec's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }
        }
    };
}

wire_enum!(
    /// `PlacementType`: the store's business model.
    PlacementType { /// FBS or Express.
    Fbs => "FBS", /// FBY.
    Fby => "FBY", /// DBS.
    Dbs => "DBS", /// LaaS.
    Laas => "LAAS" }
);
wire_enum!(
    /// `ReturnType`: non-purchases or returns.
    ReturnType { /// Non-purchases.
    Unredeemed => "UNREDEEMED", /// Returns.
    Return => "RETURN" }
);
wire_enum!(
    /// `ReturnShipmentStatusType`.
    ReturnShipmentStatus { /// Created.
    Created => "CREATED", /// Received from the buyer.
    Received => "RECEIVED", /// In transit.
    InTransit => "IN_TRANSIT", /// Ready for pickup.
    ReadyForPickup => "READY_FOR_PICKUP", /// Picked up.
    Picked => "PICKED", /// Lost.
    Lost => "LOST", /// Expired.
    Expired => "EXPIRED", /// Cancelled.
    Cancelled => "CANCELLED", /// Received at a Market warehouse.
    FulfilmentReceived => "FULFILMENT_RECEIVED", /// Queued for disposal.
    PreparedForUtilization => "PREPARED_FOR_UTILIZATION", /// Not collected.
    NotInDemand => "NOT_IN_DEMAND", /// Disposed of.
    Utilized => "UTILIZED", /// Sent for resale.
    ReadyForExpropriation => "READY_FOR_EXPROPRIATION", /// Accepted for resale.
    ReceivedForExpropriation => "RECEIVED_FOR_EXPROPRIATION", /// Unknown.
    Unknown => "UNKNOWN" }
);
wire_enum!(
    /// `ShowsSalesGroupingType`.
    ShowsSalesGrouping { /// By category.
    Categories => "CATEGORIES", /// By product.
    Offers => "OFFERS" }
);
wire_enum!(
    /// `StatisticsAttributionType`.
    AttributionType { /// By clicks.
    Clicks => "CLICKS", /// By shows.
    Shows => "SHOWS" }
);
wire_enum!(
    /// `KeyIndicatorsReportDetalizationLevelType`.
    DetalizationLevel { /// Weekly.
    Week => "WEEK", /// Monthly.
    Month => "MONTH" }
);
wire_enum!(
    /// `ClosureDocumentsContractType`.
    ContractType { /// Placement contract.
    Income => "INCOME", /// Promotion contract.
    Outcome => "OUTCOME", /// Marketing contract.
    Marketing => "MARKETING" }
);
wire_enum!(
    /// `LabelsSortingType`.
    LabelsSorting { /// In the order given.
    SortByGivenOrder => "SORT_BY_GIVEN_ORDER", /// By order creation, grouped by store.
    SortByOrderCreatedAt => "SORT_BY_ORDER_CREATED_AT" }
);
wire_enum!(
    /// `BarcodeFormatType`.
    BarcodeFormat { /// A4, 30 × 20 mm.
    F30x20 => "F_30_20", /// A4, 43 × 25 mm.
    F43x25 => "F_43_25", /// A4, 58 × 40 mm.
    F58x40 => "F_58_40", /// Label printers.
    F43x25Single => "F_43_25_SINGLE" }
);

/// `MonthOfYearDTO` / `ClosureDocumentsMonthOfYearDTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MonthOfYear {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: i32,
}

crate::json_fields::deserialize_struct! {
    MonthOfYear, fields = Camel, unknown = Deny;
    year, month
}


impl MonthOfYear {
    /// A month.
    pub const fn new(year: i32, month: i32) -> Self {
        Self { year, month }
    }

    fn validate(&self, field: &str) -> Result<(), ConfigError> {
        month(&format!("{field}.month"), self.month)
    }
}

/// `BarcodeOfferInfoDTO`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BarcodeOfferInfo {
    /// Your SKU.
    pub offer_id: String,
    /// Barcodes to print, 1–100.
    pub barcode_count: i64,
}

crate::json_fields::deserialize_struct! {
    BarcodeOfferInfo, fields = Camel, unknown = Deny;
    offer_id, barcode_count
}


// ---------------------------------------------------------------------------
// Request bodies, one per kind, in the spec's field names.

macro_rules! body {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? } validate($this:ident) $check:block) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fdoc])* #[serde(skip_serializing_if = "is_absent")] pub $field: $ty, )*
        }

        crate::json_fields::deserialize_struct! {
            $name, fields = Camel, unknown = Deny;
            $($field),*
        }

        impl $name {
            /// Checks the body against the spec's rules.
            pub fn validate(&self) -> Result<(), ConfigError> {
                let $this = self;
                $check
            }
        }
    };
}

/// Serde helper: skip `None` (and nothing else).
trait Absent {
    fn absent(&self) -> bool;
}

impl<T> Absent for Option<T> {
    fn absent(&self) -> bool {
        self.is_none()
    }
}

macro_rules! never_absent {
    ($($t:ty),*) => { $(impl Absent for $t { fn absent(&self) -> bool { false } })* };
}
never_absent!(
    i64,
    i32,
    String,
    MonthOfYear,
    Vec<i64>,
    ShowsSalesGrouping,
    AttributionType,
    DetalizationLevel,
    ContractType,
    BarcodeFormat
);

fn is_absent<T: Absent>(value: &T) -> bool {
    value.absent()
}

body!(
    /// `GenerateUnitedNettingReportRequest`: payments by period (`dateFrom`
    /// + `dateTo`), by payment order (`bankOrderId` + `bankOrderDateTime`) or
    /// Market points by month (`monthOfYear`) — exactly one of the three.
    UnitedNettingRequest {
        /// Cabinet id.
        business_id: i64,
        /// Deprecated start (date-time).
        date_time_from: Option<String>,
        /// Deprecated end (date-time).
        date_time_to: Option<String>,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: Option<String>,
        /// End, inclusive (at most 3 months after the start).
        date_to: Option<String>,
        /// Payment order number.
        bank_order_id: Option<i64>,
        /// Payment order date (date-time).
        bank_order_date_time: Option<String>,
        /// Month of the Market points report.
        month_of_year: Option<MonthOfYear>,
        /// Business models to include.
        placement_programs: Option<Vec<PlacementType>>,
        /// Taxpayer numbers to include.
        inns: Option<Vec<String>>,
        /// Stores to include.
        campaign_ids: Option<Vec<i64>>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        opt(&b.date_time_from, |v| date_time("dateTimeFrom", v))?;
        opt(&b.date_time_to, |v| date_time("dateTimeTo", v))?;
        opt(&b.bank_order_date_time, |v| date_time("bankOrderDateTime", v))?;
        opt(&b.month_of_year, |v| v.validate("monthOfYear"))?;
        list("placementPrograms", b.placement_programs.as_deref(), 1, None)?;
        list("inns", b.inns.as_deref(), 1, None)?;
        ids("campaignIds", b.campaign_ids.as_deref(), None)?;
        let by_period = b.date_from.is_some() || b.date_to.is_some();
        let by_order = b.bank_order_id.is_some() || b.bank_order_date_time.is_some();
        let by_month = b.month_of_year.is_some();
        let by_deprecated = b.date_time_from.is_some() || b.date_time_to.is_some();
        match (by_period, by_order, by_month) {
            (true, false, false) => period(b.date_from.as_deref(), b.date_to.as_deref()),
            (false, true, false) => {
                if b.bank_order_id.is_none() || b.bank_order_date_time.is_none() {
                    return Err(invalid("bankOrderId", "a payment-order report needs bankOrderId and bankOrderDateTime".into()));
                }
                Ok(())
            }
            (false, false, true) => Ok(()),
            (false, false, false) if by_deprecated => Ok(()),
            _ => Err(invalid("dateFrom", "give exactly one of: dateFrom+dateTo, bankOrderId+bankOrderDateTime, monthOfYear".into())),
        }
    }
);

body!(
    /// `GenerateUnitedMarketplaceServicesReportRequest`: by accrual date
    /// (`dateFrom` + `dateTo`) or by act month (`yearFrom`, `monthFrom`,
    /// `yearTo`, `monthTo`) — not both.
    UnitedMarketplaceServicesRequest {
        /// Cabinet id.
        business_id: i64,
        /// Deprecated start (date-time).
        date_time_from: Option<String>,
        /// Deprecated end (date-time).
        date_time_to: Option<String>,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: Option<String>,
        /// End, inclusive (at most 3 months).
        date_to: Option<String>,
        /// First act year.
        year_from: Option<i32>,
        /// First act month.
        month_from: Option<i32>,
        /// Last act year.
        year_to: Option<i32>,
        /// Last act month.
        month_to: Option<i32>,
        /// Business models to include.
        placement_programs: Option<Vec<PlacementType>>,
        /// Taxpayer numbers to include.
        inns: Option<Vec<String>>,
        /// Stores to include.
        campaign_ids: Option<Vec<i64>>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        opt(&b.date_time_from, |v| date_time("dateTimeFrom", v))?;
        opt(&b.date_time_to, |v| date_time("dateTimeTo", v))?;
        opt(&b.month_from, |v| month("monthFrom", *v))?;
        opt(&b.month_to, |v| month("monthTo", *v))?;
        list("placementPrograms", b.placement_programs.as_deref(), 1, None)?;
        list("inns", b.inns.as_deref(), 1, None)?;
        ids("campaignIds", b.campaign_ids.as_deref(), None)?;
        let by_date = b.date_from.is_some() || b.date_to.is_some();
        let by_month = b.year_from.is_some() || b.month_from.is_some() || b.year_to.is_some() || b.month_to.is_some();
        match (by_date, by_month) {
            (true, false) => period(b.date_from.as_deref(), b.date_to.as_deref()),
            (false, true) => {
                if b.year_from.is_none() || b.month_from.is_none() || b.year_to.is_none() || b.month_to.is_none() {
                    return Err(invalid("yearFrom", "an act-month report needs yearFrom, monthFrom, yearTo and monthTo".into()));
                }
                Ok(())
            }
            (false, false) if b.date_time_from.is_some() || b.date_time_to.is_some() => Ok(()),
            _ => Err(invalid("dateFrom", "give either dateFrom+dateTo or yearFrom/monthFrom/yearTo/monthTo".into())),
        }
    }
);

body!(
    /// `GenerateUnitedOrdersRequest`.
    UnitedOrdersRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive (at most 1 year).
        date_to: String,
        /// Stores to include.
        campaign_ids: Option<Vec<i64>>,
        /// A promotion whose products to include.
        promo_id: Option<String>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))?;
        ids("campaignIds", b.campaign_ids.as_deref(), None)
    }
);

impl UnitedOrdersRequest {
    /// An orders report of a cabinet for a period.
    pub fn new(business_id: i64, date_from: impl Into<String>, date_to: impl Into<String>) -> Self {
        Self {
            business_id,
            date_from: date_from.into(),
            date_to: date_to.into(),
            campaign_ids: None,
            promo_id: None,
        }
    }
}

body!(
    /// `GenerateUnitedReturnsRequest`.
    UnitedReturnsRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// Stores to include.
        campaign_ids: Option<Vec<i64>>,
        /// Non-purchases or returns (both when absent).
        return_type: Option<ReturnType>,
        /// Return statuses to include.
        return_status_types: Option<Vec<ReturnShipmentStatus>>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))?;
        ids("campaignIds", b.campaign_ids.as_deref(), None)?;
        list("returnStatusTypes", b.return_status_types.as_deref(), 1, None)
    }
);

body!(
    /// `GenerateGoodsRealizationReportRequest`.
    GoodsRealizationRequest {
        /// Store (campaign) id.
        campaign_id: i64,
        /// Year.
        year: i32,
        /// Month, 1–12.
        month: i32,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        month("month", b.month)
    }
);

body!(
    /// `GenerateStocksOnWarehousesReportRequest`: `campaignId` (FBY, LaaS)
    /// or `businessId` with `campaignIds` (the other models), not both.
    StocksOnWarehousesRequest {
        /// Store id.
        campaign_id: Option<i64>,
        /// Cabinet id.
        business_id: Option<i64>,
        /// Warehouses (FBY, LaaS).
        warehouse_ids: Option<Vec<i64>>,
        /// Day after the reported day, `YYYY-MM-DD` (FBY, LaaS).
        report_date: Option<String>,
        /// Market categories.
        category_ids: Option<Vec<i32>>,
        /// Only products with stock.
        has_stocks: Option<bool>,
        /// Stores of the cabinet.
        campaign_ids: Option<Vec<i64>>,
    }
    validate(b) {
        opt(&b.campaign_id, |v| id("campaignId", *v))?;
        opt(&b.business_id, |v| id("businessId", *v))?;
        if b.campaign_id.is_some() && b.business_id.is_some() {
            return Err(invalid("campaignId", "give campaignId or businessId, not both".into()));
        }
        list("warehouseIds", b.warehouse_ids.as_deref(), 1, None)?;
        opt(&b.report_date, |v| date("reportDate", v))?;
        categories("categoryIds", b.category_ids.as_deref(), None)?;
        ids("campaignIds", b.campaign_ids.as_deref(), None)
    }
);

body!(
    /// `GenerateGoodsMovementReportRequest`.
    GoodsMovementRequest {
        /// Store id.
        campaign_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// One product (your SKU).
        shop_sku: Option<String>,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        period(Some(&b.date_from), Some(&b.date_to))?;
        opt(&b.shop_sku, |v| shop_sku("shopSku", v))
    }
);

body!(
    /// `GenerateShowsSalesReportRequest`: `businessId` or `campaignId`, not both.
    ShowsSalesRequest {
        /// Cabinet id.
        business_id: Option<i64>,
        /// Store id.
        campaign_id: Option<i64>,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// Grouping of the rows.
        grouping: ShowsSalesGrouping,
    }
    validate(b) {
        one_of_ids(b.business_id, b.campaign_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateCompetitorsPositionReportRequest`.
    CompetitorsPositionRequest {
        /// Cabinet id.
        business_id: i64,
        /// Market category.
        category_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateGoodsPricesReportRequest`.
    GoodsPricesRequest {
        /// Cabinet id (cabinet-wide prices).
        business_id: Option<i64>,
        /// Market categories.
        category_ids: Option<Vec<i32>>,
        /// Store id (store prices).
        campaign_id: Option<i64>,
    }
    validate(b) {
        opt(&b.business_id, |v| id("businessId", *v))?;
        opt(&b.campaign_id, |v| id("campaignId", *v))?;
        categories("categoryIds", b.category_ids.as_deref(), None)
    }
);

body!(
    /// `GenerateGoodsTurnoverRequest`.
    GoodsTurnoverRequest {
        /// Store id.
        campaign_id: i64,
        /// Day, `YYYY-MM-DD` (today when absent).
        date: Option<String>,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        opt(&b.date, |v| date("date", v))
    }
);

body!(
    /// `GenerateBoostConsolidatedRequest`.
    BoostConsolidatedRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateShipmentListDocumentReportRequest`: `shipmentId` or `orderIds`.
    ShipmentListRequest {
        /// Store id.
        campaign_id: i64,
        /// Shipment id.
        shipment_id: Option<i64>,
        /// Orders of the shipment.
        order_ids: Option<Vec<i64>>,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        list("orderIds", b.order_ids.as_deref(), 1, None)?;
        if b.shipment_id.is_none() && b.order_ids.is_none() {
            return Err(invalid("shipmentId", "give shipmentId or orderIds".into()));
        }
        Ok(())
    }
);

body!(
    /// `GenerateShelfsStatisticsRequest`.
    ShelfStatisticsRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// Attribution.
        attribution_type: AttributionType,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateMassOrderLabelsRequest`.
    LabelsRequest {
        /// Cabinet id.
        business_id: i64,
        /// Orders, 1–1000, distinct.
        order_ids: Vec<i64>,
        /// Order of the labels.
        sorting_type: Option<LabelsSorting>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        list("orderIds", Some(&b.order_ids), 1, Some(1_000))
    }
);

body!(
    /// `GenerateGoodsFeedbackRequest`.
    GoodsFeedbackRequest {
        /// Cabinet id.
        business_id: i64,
    }
    validate(b) {
        id("businessId", b.business_id)
    }
);

body!(
    /// `GenerateShowsBoostRequest`.
    ShowsBoostRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// Attribution.
        attribution_type: AttributionType,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateBannersStatisticsRequest`.
    BannersStatisticsRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateClosureDocumentsRequest`.
    ClosureDocumentsRequest {
        /// Store id.
        campaign_id: i64,
        /// Month of the documents.
        month_of_year: MonthOfYear,
        /// Contract types, 1–3 distinct (all when absent).
        contract_types: Option<Vec<ContractType>>,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        b.month_of_year.validate("monthOfYear")?;
        list("contractTypes", b.contract_types.as_deref(), 1, Some(3))
    }
);

body!(
    /// `GenerateJewelryFiscalReportRequest`.
    JewelryFiscalRequest {
        /// Store id.
        campaign_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        period(Some(&b.date_from), Some(&b.date_to))
    }
);

body!(
    /// `GenerateSalesGeographyRequest`.
    SalesGeographyRequest {
        /// Cabinet id.
        business_id: i64,
        /// Start, `YYYY-MM-DD`, inclusive.
        date_from: String,
        /// End, inclusive.
        date_to: String,
        /// Categories, 1–1000 distinct.
        category_ids: Option<Vec<i32>>,
        /// Your SKUs, 1–1000 distinct.
        offer_ids: Option<Vec<String>>,
    }
    validate(b) {
        id("businessId", b.business_id)?;
        period(Some(&b.date_from), Some(&b.date_to))?;
        categories("categoryIds", b.category_ids.as_deref(), Some(1_000))?;
        list("offerIds", b.offer_ids.as_deref(), 1, Some(1_000))?;
        for sku in b.offer_ids.iter().flatten() {
            shop_sku("offerIds", sku)?;
        }
        Ok(())
    }
);

body!(
    /// `GenerateKeyIndicatorsRequest`: `businessId` or `campaignId`, not both.
    KeyIndicatorsRequest {
        /// Cabinet id.
        business_id: Option<i64>,
        /// Store id.
        campaign_id: Option<i64>,
        /// Weekly or monthly rows.
        detalization_level: DetalizationLevel,
    }
    validate(b) {
        one_of_ids(b.business_id, b.campaign_id)
    }
);

body!(
    /// `GenerateClosureDocumentsDetalizationRequest`.
    ClosureDocumentsDetalizationRequest {
        /// Store id.
        campaign_id: i64,
        /// Month of the documents.
        month_of_year: MonthOfYear,
        /// Contract type.
        contract_type: ContractType,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        b.month_of_year.validate("monthOfYear")
    }
);

/// `GenerateMarketingDetalizationRequest` plus the `businessId` path
/// parameter (serialized in the body form as `businessId`, sent in the path
/// only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MarketingDetalizationRequest {
    /// Cabinet id (path parameter).
    pub business_id: i64,
    /// Month of the report.
    pub month_of_year: MonthOfYear,
}

crate::json_fields::deserialize_struct! {
    MarketingDetalizationRequest, fields = Camel, unknown = Deny;
    business_id, month_of_year
}


impl MarketingDetalizationRequest {
    /// Checks the body against the spec's rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        id("businessId", self.business_id)?;
        self.month_of_year.validate("monthOfYear")
    }
}

body!(
    /// `GenerateBarcodesReportRequest`: `barcodeOfferInfos` or
    /// `supplyRequestId`, not both.
    BarcodesRequest {
        /// Store id.
        campaign_id: i64,
        /// Page and barcode size.
        barcode_format: BarcodeFormat,
        /// Products, 1–100 distinct.
        barcode_offer_infos: Option<Vec<BarcodeOfferInfo>>,
        /// A supply request.
        supply_request_id: Option<i64>,
    }
    validate(b) {
        id("campaignId", b.campaign_id)?;
        opt(&b.supply_request_id, |v| id("supplyRequestId", *v))?;
        list("barcodeOfferInfos", b.barcode_offer_infos.as_deref(), 1, Some(100))?;
        for info in b.barcode_offer_infos.iter().flatten() {
            shop_sku("barcodeOfferInfos.offerId", &info.offer_id)?;
            if !(1..=100).contains(&info.barcode_count) {
                return Err(invalid("barcodeOfferInfos.barcodeCount", format!("{} is not in 1..=100", info.barcode_count)));
            }
        }
        match (&b.barcode_offer_infos, b.supply_request_id) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(invalid("barcodeOfferInfos", "give barcodeOfferInfos or supplyRequestId, exactly one".into())),
        }
    }
);

// ---------------------------------------------------------------------------
// Rules shared by the bodies.

fn invalid(field: &str, detail: String) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        detail,
    }
}

fn opt<T>(
    value: &Option<T>,
    check: impl FnOnce(&T) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    value.as_ref().map_or(Ok(()), check)
}

fn id(field: &str, value: i64) -> Result<(), ConfigError> {
    if value < 1 {
        return Err(invalid(field, format!("{value} is not a positive id")));
    }
    Ok(())
}

fn month(field: &str, value: i32) -> Result<(), ConfigError> {
    if !(1..=12).contains(&value) {
        return Err(invalid(field, format!("{value} is not a month (1–12)")));
    }
    Ok(())
}

fn one_of_ids(business: Option<i64>, campaign: Option<i64>) -> Result<(), ConfigError> {
    match (business, campaign) {
        (Some(b), None) => id("businessId", b),
        (None, Some(c)) => id("campaignId", c),
        _ => Err(invalid(
            "businessId",
            "give businessId or campaignId, exactly one".into(),
        )),
    }
}

/// `minItems`, `maxItems` and `uniqueItems` of an optional array.
fn list<T: PartialEq>(
    field: &str,
    items: Option<&[T]>,
    min: usize,
    max: Option<usize>,
) -> Result<(), ConfigError> {
    let Some(items) = items else { return Ok(()) };
    if items.len() < min {
        return Err(invalid(
            field,
            format!("needs at least {min} item(s); leave it out instead of sending it empty"),
        ));
    }
    if let Some(max) = max.filter(|max| items.len() > *max) {
        return Err(invalid(
            field,
            format!("{} items; at most {max}", items.len()),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if items.iter().skip(i + 1).any(|other| other == item) {
            return Err(invalid(field, "items must be distinct".into()));
        }
    }
    Ok(())
}

fn ids(field: &str, items: Option<&[i64]>, max: Option<usize>) -> Result<(), ConfigError> {
    list(field, items, 1, max)?;
    for value in items.unwrap_or_default() {
        id(field, *value)?;
    }
    Ok(())
}

fn categories(field: &str, items: Option<&[i32]>, max: Option<usize>) -> Result<(), ConfigError> {
    list(field, items, 1, max)?;
    if let Some(bad) = items.unwrap_or_default().iter().find(|v| **v <= 0) {
        return Err(invalid(
            field,
            format!("{bad} is not a positive category id"),
        ));
    }
    Ok(())
}

/// `ShopSku`: 1–255 characters, not all blank, no control characters but tab.
fn shop_sku(field: &str, value: &str) -> Result<(), ConfigError> {
    let count = value.chars().count();
    let ok = (1..=255).contains(&count)
        && value.chars().any(|c| !c.is_whitespace())
        && !value
            .chars()
            .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}');
    if !ok {
        return Err(invalid(
            field,
            format!("`{value}` is not a SKU (1–255 characters, no line breaks)"),
        ));
    }
    Ok(())
}

/// A day number of a `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse::<i64>().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if day < 1 || day > calendar::days_in_month(year, month)? {
        return None;
    }
    Some(calendar::days_from_civil(year, month, day))
}

fn date(field: &str, value: &str) -> Result<(), ConfigError> {
    parse_date(value)
        .map(|_| ())
        .ok_or_else(|| invalid(field, format!("`{value}` is not a date as YYYY-MM-DD")))
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn date_time(field: &str, value: &str) -> Result<(), ConfigError> {
    let bad = || {
        invalid(
            field,
            format!("`{value}` is not a date-time such as 2025-08-01T00:00:00+03:00"),
        )
    };
    let (day, rest) = (
        value.get(..10).ok_or_else(bad)?,
        value.get(10..).ok_or_else(bad)?,
    );
    parse_date(day).ok_or_else(bad)?;
    let rest = rest.strip_prefix(['T', 't']).ok_or_else(bad)?;
    let time = rest.get(..8).ok_or_else(bad)?;
    let tb = time.as_bytes();
    let two = |at: usize, max: u32| -> Option<()> {
        let part = time.get(at..at + 2)?;
        (part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u32>().ok()? <= max).then_some(())
    };
    if tb.get(2) != Some(&b':') || tb.get(5) != Some(&b':') {
        return Err(bad());
    }
    two(0, 23).and(two(3, 59)).and(two(6, 60)).ok_or_else(bad)?;
    let mut zone = rest.get(8..).ok_or_else(bad)?;
    if let Some(frac) = zone.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        zone = frac.get(digits..).ok_or_else(bad)?;
    }
    if zone == "Z" || zone == "z" {
        return Ok(());
    }
    let zb = zone.as_bytes();
    let offset_ok = zb.len() == 6
        && matches!(zb.first(), Some(b'+' | b'-'))
        && zb.get(3) == Some(&b':')
        && zone
            .get(1..3)
            .and_then(|h| h.parse::<u32>().ok())
            .is_some_and(|h| h <= 23)
        && zone
            .get(4..6)
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m <= 59)
        && zone
            .get(1..3)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_digit()))
        && zone
            .get(4..6)
            .is_some_and(|m| m.bytes().all(|b| b.is_ascii_digit()));
    if offset_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `dateFrom` ≤ `dateTo`, both dates.
fn period(from: Option<&str>, to: Option<&str>) -> Result<(), ConfigError> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err(invalid(
            "dateFrom",
            "a period needs dateFrom and dateTo".into(),
        ));
    };
    date("dateFrom", from)?;
    date("dateTo", to)?;
    if parse_date(from) > parse_date(to) {
        return Err(invalid("dateTo", format!("{to} is before dateFrom {from}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> ReportSpec {
        ReportSpec::new(
            ReportRequest::UnitedOrders(UnitedOrdersRequest::new(5, "2024-01-01", "2024-01-31")),
            ReportFormat::Csv,
        )
    }

    #[test]
    fn extra_body_fields_go_out_with_the_modelled_ones() {
        let spec = orders()
            .with_body_field("promoId", serde_json::json!("cf_1"))
            .with_body_field("newFilter", serde_json::json!({"a": [1, 2]}));
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(
            spec.generate_body(),
            serde_json::json!({"businessId": 5, "dateFrom": "2024-01-01", "dateTo": "2024-01-31", "promoId": "cf_1", "newFilter": {"a": [1, 2]}})
        );
        // They survive a round trip; a spec without them serializes as before
        // and old specs (no field) parse.
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["extraBodyFields"]["promoId"], "cf_1");
        assert_eq!(serde_json::from_value::<ReportSpec>(json).unwrap(), spec);
        let plain = serde_json::to_value(orders()).unwrap();
        assert!(plain.get("extraBodyFields").is_none(), "{plain}");
        assert_eq!(serde_json::from_value::<ReportSpec>(plain).unwrap(), orders());
    }

    #[test]
    fn an_extra_field_the_modelled_body_sends_is_refused() {
        let clash = orders().with_body_field("dateFrom", serde_json::json!("2023-01-01"));
        let error = clash.validate().unwrap_err().to_string();
        assert!(error.contains("dateFrom") && error.contains("set it there"), "{error}");
        let marketing = ReportSpec::new(
            ReportSpec::request_from_json(
                "marketing-detalization",
                serde_json::json!({"businessId": 5, "monthOfYear": {"year": 2024, "month": 1}}),
            )
            .unwrap(),
            ReportFormat::Csv,
        )
        .with_body_field("businessId", serde_json::json!(6));
        assert!(marketing.validate().unwrap_err().to_string().contains("path parameter"));
        let unnamed = orders().with_body_field("", serde_json::json!(1));
        assert!(unnamed.validate().is_err());
        let raw = ReportSpec::new(
            ReportRequest::Raw(RawRequest::new("/v2/reports/new-thing/generate", serde_json::json!([]))),
            ReportFormat::File,
        )
        .with_body_field("x", serde_json::json!(1));
        assert!(raw.validate().is_err(), "a raw body that is no object takes no extra field");
    }

    #[test]
    fn every_kind_parses_by_name_and_operation() {
        for kind in ReportKind::ALL {
            assert_eq!(ReportKind::parse(kind.name()), Some(*kind));
            assert_eq!(ReportKind::parse(kind.operation_id()), Some(*kind));
            if !kind.spec_path().contains('{') {
                assert_eq!(ReportKind::parse(kind.spec_path()), Some(*kind));
            }
        }
        assert_eq!(ReportKind::parse("labels"), Some(ReportKind::Labels));
        assert_eq!(ReportKind::parse("no-such-report"), None);
    }

    #[test]
    fn paths_follow_the_prefix() {
        let orders = ReportSpec::new(
            ReportRequest::UnitedOrders(UnitedOrdersRequest::new(1, "2025-01-01", "2025-01-31")),
            ReportFormat::Csv,
        );
        assert_eq!(orders.generate_path(), "/v2/reports/united-orders/generate");
        assert_eq!(
            orders.clone().with_path_prefix("").generate_path(),
            "/reports/united-orders/generate"
        );
        let marketing = ReportSpec::new(
            ReportRequest::MarketingDetalization(MarketingDetalizationRequest {
                business_id: 77,
                month_of_year: MonthOfYear::new(2025, 1),
            }),
            ReportFormat::File,
        );
        assert_eq!(
            marketing.generate_path(),
            "/v1/businesses/77/reports/marketing-detalization/generate"
        );
        assert!(orders.clone().with_path_prefix("/v2/").validate().is_err());
        assert!(orders.with_path_prefix("/../x").validate().is_err());
    }

    #[test]
    fn bodies_are_checked_before_sending() {
        let bad = [
            r#"{"businessId":0,"dateFrom":"2025-01-01","dateTo":"2025-01-02"}"#,
            r#"{"businessId":1,"dateFrom":"2025-02-30","dateTo":"2025-03-02"}"#,
            r#"{"businessId":1,"dateFrom":"2025-03-02","dateTo":"2025-03-01"}"#,
            r#"{"businessId":1,"dateFrom":"2025-01-01","dateTo":"2025-01-02","campaignIds":[]}"#,
            r#"{"businessId":1,"dateFrom":"2025-01-01","dateTo":"2025-01-02","campaignIds":[5,5]}"#,
            r#"{"businessId":1,"dateFrom":"2025-01-01","dateTo":"2025-01-02","bogus":1}"#,
            r#"{"businessId":1,"dateFrom":"2025-01-01"}"#,
        ];
        for body in bad {
            let result =
                ReportSpec::request_from_json("united-orders", serde_json::from_str(body).unwrap())
                    .and_then(|r| ReportSpec::new(r, ReportFormat::Csv).validate());
            assert!(result.is_err(), "{body}");
        }
        let netting = |body: &str| {
            ReportSpec::request_from_json("united-netting", serde_json::from_str(body).unwrap())
                .and_then(|r| ReportSpec::new(r, ReportFormat::Json).validate())
        };
        assert!(netting(r#"{"businessId":1,"monthOfYear":{"year":2025,"month":3}}"#).is_ok());
        assert!(netting(
            r#"{"businessId":1,"bankOrderId":5,"bankOrderDateTime":"2025-03-01T10:00:00+03:00"}"#
        )
        .is_ok());
        assert!(netting(
            r#"{"businessId":1,"bankOrderId":5,"bankOrderDateTime":"2025-03-01 10:00"}"#
        )
        .is_err());
        assert!(netting(r#"{"businessId":1,"monthOfYear":{"year":2025,"month":3},"dateFrom":"2025-01-01","dateTo":"2025-01-02"}"#).is_err());
        assert!(netting(r#"{"businessId":1,"monthOfYear":{"year":2025,"month":13}}"#).is_err());
    }

    #[test]
    fn parameters_must_exist_on_the_operation() {
        let returns = ReportRequest::UnitedReturns(UnitedReturnsRequest {
            business_id: 1,
            date_from: "2025-01-01".into(),
            date_to: "2025-01-02".into(),
            campaign_ids: None,
            return_type: Some(ReturnType::Return),
            return_status_types: None,
        });
        assert!(ReportSpec::new(returns.clone(), ReportFormat::Csv)
            .with_language(ReportLanguage::En)
            .validate()
            .is_err());
        assert!(ReportSpec::new(returns, ReportFormat::Csv)
            .with_source_type(SourceType::Advertiser)
            .validate()
            .is_err());
        let labels = ReportRequest::Labels(LabelsRequest {
            business_id: 1,
            order_ids: vec![1, 2],
            sorting_type: None,
        });
        assert!(ReportSpec::new(labels.clone(), ReportFormat::Csv)
            .validate()
            .is_err());
        let mut spec = ReportSpec::new(labels, ReportFormat::File);
        spec.page_format = Some(PageFormat::A4);
        assert_eq!(spec.generate_query(), vec![("format", "A4")]);
    }

    #[test]
    fn unknown_kinds_become_raw_requests() {
        let request =
            ReportSpec::request_from_json("brand-new", serde_json::json!({"businessId": 5}))
                .unwrap();
        assert_eq!(request.kind(), None);
        let spec = ReportSpec::new(request, ReportFormat::Csv);
        assert_eq!(spec.generate_path(), "/v2/reports/brand-new/generate");
        assert_eq!(spec.validate(), Ok(()));
        let bad = ReportSpec::new(
            ReportRequest::Raw(RawRequest::new("/v2/../x", serde_json::json!({}))),
            ReportFormat::Csv,
        );
        assert!(bad.validate().is_err());
    }

    #[test]
    fn credentials_are_checked_and_redacted() {
        assert!(Credentials::api_key("ACMA:sim-CANARY:1").validate().is_ok());
        assert!(Credentials::api_key("Bearer ACMA:x").validate().is_err());
        assert!(Credentials::api_key("with space").validate().is_err());
        assert!(Credentials {
            api_key: None,
            oauth_token: None
        }
        .validate()
        .is_err());
        let debug = format!("{:?}", Credentials::oauth("y0_CANARY"));
        assert!(!debug.contains("CANARY"), "{debug}");
    }
}
