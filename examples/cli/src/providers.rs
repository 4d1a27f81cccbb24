//! What the CLI knows per provider: the demo table and each provider's
//! `fetch` flags. Adding a provider is one [`PROVIDERS`] entry plus one
//! [`FetchProvider`] variant.

use std::sync::Arc;

use clap::{Args, Subcommand};
use reportflow::providers::amazon_ads::{self, RecordType, Region, Segment, Tactic};
use reportflow::providers::amazon_ads_v3::{self, ReportFilter, TimeUnit};
use reportflow::providers::amazon_mws;
use reportflow::providers::amazon_pay::{self, SigningAlgorithm};
use reportflow::providers::amazon_sp_api;
use reportflow::providers::lingxing;
use reportflow::providers::lwa;
use reportflow::providers::yandex_market::{self, ReportFormat, ReportKind};
use reportflow::providers::Provider;
use reportflow::sim;
use reportflow::{Credentials, JobSpec, Millis};
use reportflow_host::signer::{RsaSigner, Signer};

/// A provider the CLI runs in `demo`.
pub(crate) struct ProviderEntry {
    pub(crate) provider: Provider,
    /// The simulator's sample report (for the day before the given time)
    /// and the credentials it accepts.
    pub(crate) sample: fn(Millis) -> (JobSpec, Credentials),
}

/// Every implemented provider, in demo order.
pub(crate) const PROVIDERS: &[ProviderEntry] = &[
    ProviderEntry {
        provider: Provider::AmazonAds,
        sample: amazon_ads_sample,
    },
    ProviderEntry {
        provider: Provider::AmazonAdsV3,
        sample: amazon_ads_v3_sample,
    },
    ProviderEntry {
        provider: Provider::YandexMarket,
        sample: yandex_market_sample,
    },
    ProviderEntry {
        provider: Provider::Lingxing,
        sample: lingxing_sample,
    },
    ProviderEntry {
        provider: Provider::AmazonMws,
        sample: amazon_mws_sample,
    },
    ProviderEntry {
        provider: Provider::AmazonPay,
        sample: amazon_pay_sample,
    },
    ProviderEntry {
        provider: Provider::AmazonSpApi,
        sample: amazon_sp_api_sample,
    },
];

fn amazon_sp_api_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_sp_api::sample_spec(now),
        sim::amazon_sp_api::credentials(),
    )
}

fn amazon_mws_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_mws::sample_spec(now),
        sim::amazon_mws::credentials(),
    )
}

fn amazon_pay_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_pay::sample_spec(now),
        sim::amazon_pay::credentials(),
    )
}

/// The signer of the simulated merchant: what answers `Action::Sign` when
/// the requests go to `reportflow sim` and no key file is given.
pub(crate) fn simulated_signer() -> Result<Arc<dyn Signer>, String> {
    RsaSigner::from_pem(sim::keys::MERCHANT_PRIVATE_KEY_PEM)
        .map(|signer| Arc::new(signer) as Arc<dyn Signer>)
        .map_err(|e| e.to_string())
}

fn lingxing_sample(_now: Millis) -> (JobSpec, Credentials) {
    (sim::lingxing::sample_spec(), sim::lingxing::credentials())
}

fn amazon_ads_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_ads::sample_spec(now),
        sim::amazon_ads::credentials(),
    )
}

fn amazon_ads_v3_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_ads_v3::sample_spec(now),
        sim::amazon_ads_v3::credentials(),
    )
}

fn yandex_market_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::yandex_market::sample_spec(now),
        sim::yandex_market::credentials(),
    )
}

/// The provider to fetch from, with its own flags.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum FetchProvider {
    /// Amazon Ads report: Reporting v3 (POST /reporting/reports; the
    /// default) or, with --api v2, Sponsored Display v2 (POST
    /// /sd/{recordType}/report; shut down by Amazon, for archived
    /// integrations).
    ///
    /// Every report flag defaults to the simulator's sample report (v3: a
    /// daily sdCampaigns report of the last 7 days; v2: campaigns,
    /// yesterday, T00020, eight common metrics; the simulator's profile).
    /// A v3 range longer than the report type allows is refused before any
    /// request; --split fetches it as several reports, one per allowed range.
    /// Credentials come from the flags or the environment; with --base-url
    /// and no credentials at all, the simulator's credentials are used.
    AmazonAds(AmazonAdsArgs),
    /// Yandex Market Partner API report (`POST /v2/reports/<kind>/generate`).
    ///
    /// --kind names a report of the spec (united-orders, goods-realization,
    /// documents/labels, …) or any other kind, sent as a raw request;
    /// --body-json is its JSON body (the API's field names). Formats: file
    /// (XLSX, written to --out FILE) or csv / json (ZIP archives of one file
    /// per sheet, written as separate files under --out DIR). With
    /// --base-url and no credentials, the simulator's Api-Key and, without
    /// --kind, its sample orders report are used.
    YandexMarket(YandexMarketArgs),
    /// Lingxing (领星) OpenAPI Amazon report export task
    /// (/basicOpen/report/create/reportExportTask).
    ///
    /// Report flags default to the simulator's sample (an all-orders flat
    /// file for its seller in the US marketplace). Credentials come from the
    /// flags or LINGXING_APP_ID / LINGXING_APP_SECRET; with --base-url and no
    /// credentials, the simulator's are used.
    Lingxing(LingxingArgs),
    /// Amazon MWS Reports (RequestReport → GetReportRequestList → GetReport,
    /// verified against Content-MD5), or one known report (--report-id).
    ///
    /// Report flags default to the simulator's sample (a listings flat file
    /// of the US marketplace for the last week). Credentials come from the
    /// flags or MWS_ACCESS_KEY_ID / MWS_SECRET_KEY / MWS_SELLER_ID (and
    /// MWS_AUTH_TOKEN); with --base-url and no credentials, the simulator's
    /// are used.
    AmazonMws(AmazonMwsArgs),
    /// Amazon Pay API v2 report (POST /v2/reports), every call signed; or,
    /// with --latest / --since, a report Amazon already holds (one a
    /// schedule produced: see `reportflow amazon-pay schedules`), found and
    /// fetched, never created.
    ///
    /// Report flags default to the simulator's sample (order-reference data
    /// of the last week, the simulator's LIVE- key). The requests are signed
    /// with the RSA private key in --private-key-file (PEM, PKCS#8 or
    /// PKCS#1); the job itself never holds it. With --base-url and no key
    /// file, the simulator's test key signs.
    AmazonPay(AmazonPayArgs),
    /// Selling Partner API report (Reports 2021-06-30: createReport →
    /// getReport → getReportDocument → the 5-minute document URL).
    ///
    /// Report flags default to the simulator's sample (all listings of the
    /// Japanese marketplace for the last week, a Windows-31J flat file
    /// delivered as UTF-8). Credentials come from the flags or
    /// AMAZON_SP_API_CLIENT_ID / AMAZON_SP_API_CLIENT_SECRET /
    /// AMAZON_SP_API_REFRESH_TOKEN; with --base-url and no credentials, the
    /// simulator's are used. --adopt-existing continues a matching report
    /// created in the last day instead of creating one.
    AmazonSpApi(AmazonSpApiArgs),
}

impl FetchProvider {
    /// The provider the flags are for.
    pub(crate) fn provider(&self) -> Provider {
        match self {
            Self::AmazonAds(args) => args.provider(),
            Self::YandexMarket(_) => Provider::YandexMarket,
            Self::Lingxing(_) => Provider::Lingxing,
            Self::AmazonMws(_) => Provider::AmazonMws,
            Self::AmazonPay(_) => Provider::AmazonPay,
            Self::AmazonSpApi(_) => Provider::AmazonSpApi,
        }
    }

    /// `fetch amazon-ads --split`: the ranges to fetch one by one instead of
    /// one job (`None`: fetch as usual).
    pub(crate) fn split_plan(&self, now: Millis) -> Option<Result<Vec<SplitRange>, String>> {
        match self {
            Self::AmazonAds(args) => args.split_plan(now),
            _ => None,
        }
    }

    /// What answers the job's signing requests (`None`: the provider signs
    /// nothing through the host).
    pub(crate) fn signer(&self, simulated: bool) -> Result<Option<Arc<dyn Signer>>, String> {
        match self {
            Self::AmazonPay(args) => args.signer(simulated).map(Some),
            _ => Ok(None),
        }
    }

    /// The job to run. `simulated` says whether the base URL points at a
    /// simulator, whose credentials are then the default.
    pub(crate) fn job(
        &self,
        now: Millis,
        simulated: bool,
    ) -> Result<(JobSpec, Credentials), String> {
        match self {
            Self::AmazonAds(args) => args.job(now, simulated),
            Self::YandexMarket(args) => args.job(now, simulated),
            Self::Lingxing(args) => args.job(simulated),
            Self::AmazonMws(args) => args.job(now, simulated),
            Self::AmazonPay(args) => args.job(now, simulated),
            Self::AmazonSpApi(args) => args.job(now, simulated),
        }
    }
}

/// One range of `fetch amazon-ads --split`.
#[derive(Debug)]
pub(crate) struct SplitRange {
    /// First day, YYYY-MM-DD.
    pub(crate) start_date: String,
    /// Last day (included), YYYY-MM-DD.
    pub(crate) end_date: String,
    /// The flags that fetch exactly this range.
    pub(crate) provider: FetchProvider,
}

/// Flags of `fetch yandex-market`.
#[derive(Debug, Clone, Args)]
pub(crate) struct YandexMarketArgs {
    /// Report kind: a name from the spec (united-orders, stocks-on-warehouses,
    /// documents/labels, …); any other name or an absolute path is sent as a
    /// raw request with the body as given.
    #[arg(long, value_name = "KIND", help_heading = "Report")]
    kind: Option<String>,
    /// The request body as JSON, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON|@FILE", help_heading = "Report")]
    body_json: Option<String>,
    /// One more body field, sent as given (repeatable): a field the API
    /// allows that this version does not model, e.g.
    /// --body-field 'promoId="cf-1"'. The value is JSON (quote strings); a
    /// field the body already has is refused.
    #[arg(long = "body-field", value_name = "NAME=JSON", help_heading = "Report")]
    body_fields: Vec<String>,
    /// file (XLSX), csv or json (csv and json are ZIP archives, written as
    /// one file per sheet under --out DIR).
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "file",
        help_heading = "Report"
    )]
    format: String,
    /// Report language, RU or EN (united-netting, united-marketplace-services,
    /// united-orders).
    #[arg(long, value_name = "LANG", help_heading = "Report")]
    language: Option<String>,
    /// Cabinet type, SELLER or ADVERTISER (promotion reports).
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    source_type: Option<String>,
    /// Replaces the /v2 path prefix ("" for the legacy unprefixed paths).
    #[arg(long, value_name = "PREFIX", help_heading = "Connection")]
    path_prefix: Option<String>,
    /// Api-Key token (prefer the environment variable: flags show up in
    /// process lists).
    #[arg(
        long,
        env = "YANDEX_MARKET_API_KEY",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    api_key: Option<String>,
    /// OAuth token, sent as Authorization: Bearer (deprecated by Yandex).
    #[arg(
        long,
        env = "YANDEX_MARKET_OAUTH_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    oauth_token: Option<String>,
}

impl YandexMarketArgs {
    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        let format = ReportFormat::parse(&self.format).map_err(|e| e.to_string())?;
        let body = match self.body_json.as_deref() {
            Some(text) => {
                let text = match text.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read --body-json {path}: {e}"))?,
                    None => text.to_owned(),
                };
                Some(
                    serde_json::from_str::<serde_json::Value>(&text)
                        .map_err(|e| format!("--body-json is not JSON: {e}"))?,
                )
            }
            None => None,
        };
        let request = match (&self.kind, body) {
            (Some(kind), Some(body)) => yandex_market::ReportSpec::request_from_json(kind, body)
                .map_err(|e| e.to_string())?,
            (Some(kind), None) => match ReportKind::parse(kind) {
                Some(known) if simulated => sim::yandex_market::sample_request(known, now),
                _ => {
                    return Err(format!(
                        "--kind {kind} needs --body-json with the report's body"
                    ))
                }
            },
            (None, _) if simulated => {
                sim::yandex_market::sample_request(ReportKind::UnitedOrders, now)
            }
            (None, _) => return Err(
                "--kind is required (e.g. --kind united-orders --body-json '{\"businessId\":…}')"
                    .into(),
            ),
        };
        let mut spec = yandex_market::ReportSpec::new(request, format);
        if let Some(language) = &self.language {
            spec.language = Some(
                serde_json::from_value(serde_json::json!(language.to_ascii_uppercase()))
                    .map_err(|_| format!("invalid language `{language}`: RU or EN"))?,
            );
        }
        if let Some(source) = &self.source_type {
            spec.source_type = Some(
                serde_json::from_value(serde_json::json!(source.to_ascii_uppercase()))
                    .map_err(|_| format!("invalid source type `{source}`: SELLER or ADVERTISER"))?,
            );
        }
        if let Some(prefix) = &self.path_prefix {
            spec.path_prefix = Some(prefix.clone());
        }
        for field in &self.body_fields {
            let (name, value) = field.split_once('=').ok_or_else(|| {
                format!("--body-field `{field}` must be NAME=JSON, e.g. 'promoId=\"cf-1\"'")
            })?;
            let value = serde_json::from_str(value).map_err(|e| {
                format!("--body-field {name}: `{value}` is not JSON ({e}); quote strings: '{name}=\"text\"'")
            })?;
            spec = spec.with_body_field(name, value);
        }
        spec.validate().map_err(|e| e.to_string())?;
        let credentials = match (&self.api_key, &self.oauth_token) {
            (Some(key), None) => yandex_market::Credentials::api_key(key),
            (None, Some(token)) => yandex_market::Credentials::oauth(token),
            (None, None) if simulated => sim::yandex_market::provider_credentials(),
            (None, None) => {
                return Err("no Yandex Market credentials: set YANDEX_MARKET_API_KEY (or YANDEX_MARKET_OAUTH_TOKEN), \
                            or point --base-url at `reportflow sim`"
                    .into())
            }
            (Some(_), Some(_)) => {
                return Err("give --api-key or --oauth-token, not both".into())
            }
        };
        credentials.validate().map_err(|e| e.to_string())?;
        Ok((
            JobSpec::YandexMarket(spec),
            Credentials::YandexMarket(credentials),
        ))
    }
}

/// Flags of `fetch lingxing`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LingxingArgs {
    /// Lingxing's seller_id of the shop (the Amazon seller id).
    #[arg(long, value_name = "ID", help_heading = "Report")]
    seller_id: Option<String>,
    /// Region of the seller account: na, eu or fe.
    #[arg(long, value_name = "REGION", help_heading = "Report")]
    region: Option<String>,
    /// Amazon SP-API report type, e.g. GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL.
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    report_type: Option<String>,
    /// Amazon marketplace ids, comma-separated, all in --region.
    #[arg(
        long,
        value_name = "ID,ID",
        value_delimiter = ',',
        help_heading = "Report"
    )]
    marketplace_id: Option<Vec<String>>,
    /// Start of the data period, ISO 8601 (2024-03-01T00:00:00Z).
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "end",
        help_heading = "Report"
    )]
    start: Option<String>,
    /// End of the data period, ISO 8601.
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "start",
        help_heading = "Report"
    )]
    end: Option<String>,
    /// Lingxing AppID (also the AES key of request signing).
    #[arg(
        long,
        env = "LINGXING_APP_ID",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    app_id: Option<String>,
    /// Lingxing AppSecret (prefer the environment variable: flags show up
    /// in process lists).
    #[arg(
        long,
        env = "LINGXING_APP_SECRET",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    app_secret: Option<String>,
}

impl LingxingArgs {
    fn job(&self, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        let mut spec = sim::lingxing::sample_report_spec();
        if let Some(region) = &self.region {
            spec.region = lingxing::Region::parse(region).map_err(|e| e.to_string())?;
        }
        if let Some(seller_id) = &self.seller_id {
            spec.seller_id.clone_from(seller_id);
        }
        if let Some(report_type) = &self.report_type {
            spec.report_type.clone_from(report_type);
        }
        if let Some(ids) = &self.marketplace_id {
            spec.marketplace_ids = ids
                .iter()
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect();
        }
        if let (Some(start), Some(end)) = (&self.start, &self.end) {
            spec = spec.with_data_range(start, end);
        }
        spec.validate().map_err(|e| e.to_string())?;
        let credentials = match (&self.app_id, &self.app_secret) {
            (Some(id), Some(secret)) => lingxing::Credentials::new(id, secret),
            (None, None) if simulated => sim::lingxing::provider_credentials(),
            (None, None) => {
                return Err(
                    "no Lingxing credentials: set LINGXING_APP_ID and LINGXING_APP_SECRET, \
                            or point --base-url at `reportflow sim`"
                        .into(),
                )
            }
            _ => {
                return Err(
                    "incomplete Lingxing credentials: give both the AppID and the AppSecret".into(),
                )
            }
        };
        credentials.validate().map_err(|e| e.to_string())?;
        Ok((JobSpec::Lingxing(spec), Credentials::Lingxing(credentials)))
    }
}

/// Flags of `fetch amazon-ads`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AmazonAdsArgs {
    /// Which reporting API: v3 (Reporting v3) or v2 (Sponsored Display v2).
    #[arg(long, value_enum, default_value = "v3", help_heading = "Report")]
    api: AdsApi,
    /// v3: the report type, e.g. sdCampaigns, sdAdGroup, sdTargeting,
    /// sdAdvertisedProduct, sdPurchasedProduct, sdGrossAndInvalids (SP and
    /// SB types too).
    #[arg(long, value_name = "ID", help_heading = "Report (v3)")]
    report_type: Option<String>,
    /// v3: groupBy values, comma-separated (e.g. campaign,matchedTarget).
    #[arg(
        long,
        value_name = "A,B",
        help_heading = "Report (v3)",
        value_delimiter = ','
    )]
    group_by: Option<Vec<String>>,
    /// v3: columns, comma-separated (e.g. date,campaignId,impressions).
    #[arg(
        long,
        value_name = "A,B,C",
        help_heading = "Report (v3)",
        value_delimiter = ','
    )]
    columns: Option<Vec<String>>,
    /// v3: DAILY or SUMMARY.
    #[arg(long, value_name = "UNIT", help_heading = "Report (v3)")]
    time_unit: Option<String>,
    /// v3: first day, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", help_heading = "Report (v3)")]
    start_date: Option<String>,
    /// v3: last day (included), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", help_heading = "Report (v3)")]
    end_date: Option<String>,
    /// v3: a filter FIELD=V1|V2 (repeatable), e.g. campaignStatus=ENABLED|PAUSED.
    #[arg(
        long = "filter",
        value_name = "FIELD=V1|V2",
        help_heading = "Report (v3)"
    )]
    filters: Vec<String>,
    /// v3: the report's name.
    #[arg(long, value_name = "TEXT", help_heading = "Report (v3)")]
    name: Option<String>,
    /// v3: fetch --start-date..--end-date as consecutive ranges of at most
    /// the report type's span, one report each, in order, into --out DIR
    /// as START_END.json. Each range keeps its state beside its report, so
    /// a rerun resumes the range in flight and keeps the ranges already
    /// fetched.
    #[arg(long, help_heading = "Report (v3)")]
    split: bool,
    /// v2: record type: campaigns, adGroups, productAds, targets or asins.
    #[arg(long, value_name = "TYPE", help_heading = "Report (v2)")]
    record_type: Option<String>,
    /// v2: the day to report on, YYYYMMDD, in the profile's time zone.
    #[arg(long, value_name = "YYYYMMDD", help_heading = "Report (v2)")]
    report_date: Option<String>,
    /// v2: targeting tactic: T00020 (contextual) or T00030 (audiences).
    #[arg(long, value_name = "TACTIC", help_heading = "Report (v2)")]
    tactic: Option<String>,
    /// v2: metrics, comma-separated (e.g. impressions,clicks,cost).
    #[arg(
        long,
        value_name = "A,B,C",
        help_heading = "Report (v2)",
        value_delimiter = ','
    )]
    metrics: Option<Vec<String>>,
    /// v2: segmentation: matchedTarget (campaigns, adGroups, targets only).
    #[arg(long, value_name = "SEGMENT", help_heading = "Report (v2)")]
    segment: Option<String>,
    /// Advertising profile id (the Amazon-Advertising-API-Scope header).
    #[arg(long, value_name = "N", help_heading = "Report")]
    profile_id: Option<String>,
    /// API region of the profile: na, eu or fe.
    #[arg(long, value_name = "REGION", help_heading = "Report")]
    region: Option<String>,
    /// Login-with-Amazon client id.
    #[arg(
        long,
        env = "AMAZON_ADS_CLIENT_ID",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    client_id: Option<String>,
    /// Login-with-Amazon client secret (prefer the environment variable:
    /// flags show up in process lists).
    #[arg(
        long,
        env = "AMAZON_ADS_CLIENT_SECRET",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    client_secret: Option<String>,
    /// Login-with-Amazon refresh token (Atzr|…).
    #[arg(
        long,
        env = "AMAZON_ADS_REFRESH_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    refresh_token: Option<String>,
    /// A current access token (Atza|…), used until refused.
    #[arg(
        long,
        env = "AMAZON_ADS_ACCESS_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    access_token: Option<String>,
}

/// The Amazon Ads reporting API `fetch amazon-ads` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AdsApi {
    /// Reporting v3 (`/reporting/reports`).
    V3,
    /// Sponsored Display v2 (`/sd/{recordType}/report`), shut down by Amazon.
    V2,
}

impl AmazonAdsArgs {
    fn provider(&self) -> Provider {
        match self.api {
            AdsApi::V3 => Provider::AmazonAdsV3,
            AdsApi::V2 => Provider::AmazonAds,
        }
    }

    /// With --split, the ranges to fetch one by one (the v3 spec as given,
    /// cut to the report type's span), each with the flags that fetch just
    /// that range; `None` without it.
    pub(crate) fn split_plan(&self, now: Millis) -> Option<Result<Vec<SplitRange>, String>> {
        if !self.split {
            return None;
        }
        let parts = self
            .v3_spec(now)
            .and_then(|spec| spec.split().map_err(|e| e.to_string()));
        Some(parts.map(|parts| {
            parts
                .into_iter()
                .map(|part| SplitRange {
                    provider: FetchProvider::AmazonAds(Self {
                        start_date: Some(part.start_date.clone()),
                        end_date: Some(part.end_date.clone()),
                        split: false,
                        ..self.clone()
                    }),
                    start_date: part.start_date,
                    end_date: part.end_date,
                })
                .collect()
        }))
    }

    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        if self.api == AdsApi::V3 {
            let spec = self.v3_spec(now)?;
            return Ok((
                JobSpec::AmazonAdsV3(spec),
                Credentials::AmazonAdsV3(self.credentials(simulated)?),
            ));
        }
        let v3_only = [
            ("--report-type", self.report_type.is_some()),
            ("--group-by", self.group_by.is_some()),
            ("--columns", self.columns.is_some()),
            ("--time-unit", self.time_unit.is_some()),
            ("--start-date", self.start_date.is_some()),
            ("--end-date", self.end_date.is_some()),
            ("--filter", !self.filters.is_empty()),
            ("--name", self.name.is_some()),
            ("--split", self.split),
        ];
        if let Some((flag, _)) = v3_only.iter().find(|(_, given)| *given) {
            return Err(format!(
                "{flag} is a Reporting v3 flag; drop --api v2 to use it"
            ));
        }
        let mut spec = sim::amazon_ads::sample_report_spec(now);
        if let Some(record_type) = &self.record_type {
            spec.record_type = RecordType::parse(record_type).map_err(|e| e.to_string())?;
        }
        if let Some(report_date) = &self.report_date {
            spec.report_date.clone_from(report_date);
        }
        if let Some(tactic) = &self.tactic {
            spec.tactic = Tactic::parse(tactic).map_err(|e| e.to_string())?;
        }
        if let Some(metrics) = &self.metrics {
            spec.metrics = metrics
                .iter()
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
        }
        if let Some(segment) = &self.segment {
            spec.segment = match segment.as_str() {
                "matchedTarget" => Some(Segment::MatchedTarget),
                "" | "none" => None,
                other => return Err(format!("invalid segment: `{other}` is not matchedTarget")),
            };
        }
        if let Some(profile_id) = &self.profile_id {
            spec.profile_id.clone_from(profile_id);
        }
        if let Some(region) = &self.region {
            spec.region = Region::parse(region).map_err(|e| e.to_string())?;
        }
        Ok((
            JobSpec::AmazonAds(spec),
            Credentials::AmazonAds(self.credentials(simulated)?),
        ))
    }

    /// The v3 spec: the simulator's sample with the flags given.
    fn v3_spec(&self, now: Millis) -> Result<amazon_ads_v3::ReportSpec, String> {
        if self.api != AdsApi::V3 {
            return Err("--split is a Reporting v3 flag; drop --api v2 to use it".into());
        }
        let v2_only = [
            ("--record-type", self.record_type.is_some()),
            ("--report-date", self.report_date.is_some()),
            ("--tactic", self.tactic.is_some()),
            ("--metrics", self.metrics.is_some()),
            ("--segment", self.segment.is_some()),
        ];
        if let Some((flag, _)) = v2_only.iter().find(|(_, given)| *given) {
            return Err(format!(
                "{flag} is a Sponsored Display v2 flag; add --api v2 to use it"
            ));
        }
        let mut spec = sim::amazon_ads_v3::sample_report_spec(now);
        if let Some(report_type) = &self.report_type {
            spec.report_type_id.clone_from(report_type);
        }
        let list = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        };
        if let Some(group_by) = &self.group_by {
            spec.group_by = list(group_by);
        }
        if let Some(columns) = &self.columns {
            spec.columns = list(columns);
        }
        if let Some(unit) = &self.time_unit {
            spec.time_unit = TimeUnit::parse(unit).map_err(|e| e.to_string())?;
        }
        if let Some(start) = &self.start_date {
            spec.start_date.clone_from(start);
        }
        if let Some(end) = &self.end_date {
            spec.end_date.clone_from(end);
        }
        for filter in &self.filters {
            let Some((field, values)) = filter.split_once('=') else {
                return Err(format!("invalid --filter `{filter}`: write FIELD=V1|V2"));
            };
            spec.filters.push(ReportFilter::new(
                field.trim(),
                values.split('|').map(|v| v.trim().to_owned()).collect(),
            ));
        }
        if let Some(name) = &self.name {
            spec.name = Some(name.clone());
        }
        if let Some(profile_id) = &self.profile_id {
            spec.profile_id.clone_from(profile_id);
        }
        if let Some(region) = &self.region {
            spec.region = Region::parse(region).map_err(|e| e.to_string())?;
        }
        Ok(spec)
    }

    fn credentials(&self, simulated: bool) -> Result<amazon_ads::Credentials, String> {
        lwa_credentials(
            LwaFlags {
                api: "Amazon Ads",
                env: "AMAZON_ADS",
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                refresh_token: &self.refresh_token,
                access_token: &self.access_token,
            },
            simulated.then(sim::amazon_ads::provider_credentials),
        )
    }
}

/// The Login-with-Amazon flags of a provider (Amazon Ads, SP-API).
struct LwaFlags<'a> {
    /// The API's name, for messages.
    api: &'a str,
    /// The prefix of its environment variables, e.g. `AMAZON_ADS`.
    env: &'a str,
    client_id: &'a Option<String>,
    client_secret: &'a Option<String>,
    refresh_token: &'a Option<String>,
    access_token: &'a Option<String>,
}

/// LwA credentials from the flags: all three or none (then `simulated`,
/// the simulator's, when the base URL points at one).
fn lwa_credentials(
    flags: LwaFlags<'_>,
    simulated: Option<lwa::Credentials>,
) -> Result<lwa::Credentials, String> {
    let LwaFlags { api, env, .. } = flags;
    let given = [
        ("--client-id", "CLIENT_ID", flags.client_id),
        ("--client-secret", "CLIENT_SECRET", flags.client_secret),
        ("--refresh-token", "REFRESH_TOKEN", flags.refresh_token),
    ];
    let missing: Vec<String> = given
        .iter()
        .filter(|(_, _, value)| value.is_none())
        .map(|(flag, var, _)| format!("{flag} / {env}_{var}"))
        .collect();
    let credentials = match (
        flags.client_id,
        flags.client_secret,
        flags.refresh_token,
        simulated,
    ) {
        (Some(id), Some(secret), Some(refresh), _) => lwa::Credentials::new(id, secret, refresh),
        (None, None, None, Some(simulated)) => simulated,
        (None, None, None, None) => {
            return Err(format!(
                "no {api} credentials: set {env}_CLIENT_ID, {env}_CLIENT_SECRET and \
                 {env}_REFRESH_TOKEN, or point --base-url at `reportflow sim`"
            ))
        }
        _ => {
            return Err(format!(
                "incomplete {api} credentials: missing {}",
                missing.join(", ")
            ))
        }
    };
    Ok(match flags.access_token {
        Some(token) => credentials.with_access_token(token, None),
        None => credentials,
    })
}

/// Flags of `fetch amazon-sp-api`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AmazonSpApiArgs {
    /// Report type, e.g. GET_MERCHANT_LISTINGS_ALL_DATA.
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    report_type: Option<String>,
    /// Marketplace ids or country codes of the region (repeatable or
    /// comma-separated), e.g. ATVPDKIKX0DER or US.
    #[arg(
        long = "marketplace",
        value_name = "ID",
        value_delimiter = ',',
        help_heading = "Report"
    )]
    marketplaces: Vec<String>,
    /// dataStartTime, ISO 8601 (2024-03-01T00:00:00Z).
    #[arg(long, value_name = "INSTANT", help_heading = "Report")]
    start: Option<String>,
    /// dataEndTime, ISO 8601.
    #[arg(long, value_name = "INSTANT", help_heading = "Report")]
    end: Option<String>,
    /// A report option, NAME=VALUE (repeatable), e.g. reportPeriod=DAY.
    #[arg(long = "option", value_name = "NAME=VALUE", help_heading = "Report")]
    options: Vec<String>,
    /// The seller's region: na, eu or fe.
    #[arg(long, value_name = "REGION", help_heading = "Report")]
    region: Option<String>,
    /// Before creating, continue a report of the same type, marketplaces
    /// and window created in the last day (getReports), if there is one.
    #[arg(long, help_heading = "Report")]
    adopt_existing: bool,
    /// Login-with-Amazon client id of the SP-API application.
    #[arg(
        long,
        env = "AMAZON_SP_API_CLIENT_ID",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    client_id: Option<String>,
    /// Login-with-Amazon client secret (prefer the environment variable:
    /// flags show up in process lists).
    #[arg(
        long,
        env = "AMAZON_SP_API_CLIENT_SECRET",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    client_secret: Option<String>,
    /// The seller's Login-with-Amazon refresh token (Atzr|…).
    #[arg(
        long,
        env = "AMAZON_SP_API_REFRESH_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    refresh_token: Option<String>,
    /// A current access token (Atza|…), used until refused.
    #[arg(
        long,
        env = "AMAZON_SP_API_ACCESS_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    access_token: Option<String>,
}

impl AmazonSpApiArgs {
    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        let mut spec = sim::amazon_sp_api::sample_report_spec(now);
        if let Some(report_type) = &self.report_type {
            spec.report_type.clone_from(report_type);
        }
        if let Some(region) = &self.region {
            spec.region = amazon_sp_api::Region::parse(region).map_err(|e| e.to_string())?;
        }
        if !self.marketplaces.is_empty() {
            spec.marketplace_ids = self
                .marketplaces
                .iter()
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
        }
        if self.start.is_some() || self.end.is_some() {
            spec.data_start_time.clone_from(&self.start);
            spec.data_end_time.clone_from(&self.end);
        }
        for option in &self.options {
            let (name, value) = option
                .split_once('=')
                .ok_or_else(|| format!("--option `{option}` is not NAME=VALUE"))?;
            spec.report_options
                .insert(name.to_owned(), value.to_owned());
        }
        spec.adopt_existing = self.adopt_existing;
        let credentials = lwa_credentials(
            LwaFlags {
                api: "SP-API",
                env: "AMAZON_SP_API",
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                refresh_token: &self.refresh_token,
                access_token: &self.access_token,
            },
            simulated.then(sim::amazon_sp_api::provider_credentials),
        )?;
        Ok((
            JobSpec::AmazonSpApi(spec),
            Credentials::AmazonSpApi(credentials),
        ))
    }
}

/// Flags of `fetch amazon-mws`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AmazonMwsArgs {
    /// MWS ReportType, e.g. _GET_MERCHANT_LISTINGS_DATA_.
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    report_type: Option<String>,
    /// StartDate, ISO 8601 (2024-03-01T00:00:00Z).
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "end",
        help_heading = "Report"
    )]
    start: Option<String>,
    /// EndDate, ISO 8601.
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "start",
        help_heading = "Report"
    )]
    end: Option<String>,
    /// Marketplaces (MarketplaceIdList), ids or country codes, comma-separated, all in --region.
    #[arg(
        long,
        value_name = "ID,ID",
        value_delimiter = ',',
        help_heading = "Report"
    )]
    marketplace: Option<Vec<String>>,
    /// ReportOptions as Amazon writes them, e.g. ShowSalesChannel=true.
    #[arg(long, value_name = "K=V;K=V", help_heading = "Report")]
    report_options: Option<String>,
    /// Download this existing report (a scheduled one, a GeneratedReportId):
    /// GetReport only.
    #[arg(long, value_name = "ID", conflicts_with_all = ["report_type", "start", "end", "marketplace", "report_options"], help_heading = "Report")]
    report_id: Option<String>,
    /// The MWS endpoint: na, ca, mx, eu, ae, in, jp, au, fe or cn (default:
    /// that of --marketplace, else na).
    #[arg(long, value_name = "REGION", help_heading = "Report")]
    region: Option<String>,
    /// Accept a report without Content-MD5 (unverified).
    #[arg(long, help_heading = "Report")]
    accept_unverified: bool,
    /// AWSAccessKeyId of the developer account.
    #[arg(
        long,
        env = "MWS_ACCESS_KEY_ID",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    access_key_id: Option<String>,
    /// The secret key that signs requests (prefer the environment variable:
    /// flags show up in process lists).
    #[arg(
        long,
        env = "MWS_SECRET_KEY",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    secret_key: Option<String>,
    /// SellerId (merchant token).
    #[arg(
        long,
        env = "MWS_SELLER_ID",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    seller_id: Option<String>,
    /// MWSAuthToken, for a developer acting for another seller.
    #[arg(
        long,
        env = "MWS_AUTH_TOKEN",
        hide_env_values = true,
        help_heading = "Credentials"
    )]
    mws_auth_token: Option<String>,
}

impl AmazonMwsArgs {
    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        let marketplaces: Option<Vec<String>> = self.marketplace.as_ref().map(|list| {
            list.iter()
                .map(|m| m.trim())
                .filter(|m| !m.is_empty())
                .map(|m| amazon_mws::marketplace_id(m).map_or_else(|| m.to_owned(), str::to_owned))
                .collect()
        });
        let region = match (&self.region, &marketplaces) {
            (Some(region), _) => {
                Some(amazon_mws::Region::parse(region).map_err(|e| e.to_string())?)
            }
            (None, Some(ids)) => ids
                .first()
                .and_then(|id| amazon_mws::Region::of_marketplace(id)),
            (None, None) => None,
        };
        let mut spec = match &self.report_id {
            Some(id) => {
                amazon_mws::ReportSpec::existing(region.unwrap_or(amazon_mws::Region::Na), id)
            }
            None => {
                let mut spec = sim::amazon_mws::sample_report_spec(now);
                if let Some(region) = region {
                    if region != spec.region {
                        // The sample's marketplace is in another region: the
                        // region's first one instead (none in Japan, which
                        // takes no MarketplaceIdList).
                        spec.marketplace_ids = region
                            .marketplaces()
                            .take(usize::from(region.takes_marketplace_list()))
                            .map(|(_, id)| id.to_owned())
                            .collect();
                    }
                    spec.region = region;
                }
                if let Some(report_type) = &self.report_type {
                    spec.report_type.clone_from(report_type);
                }
                if let Some(ids) = marketplaces {
                    spec.marketplace_ids = ids;
                }
                if let (Some(start), Some(end)) = (&self.start, &self.end) {
                    spec = spec.with_period(start, end);
                }
                if let Some(options) = &self.report_options {
                    spec = spec.with_report_options(options);
                }
                spec
            }
        };
        if self.accept_unverified {
            spec = spec.accepting_unverified();
        }
        spec.validate().map_err(|e| e.to_string())?;
        let credentials = match (&self.access_key_id, &self.secret_key, &self.seller_id) {
            (Some(key), Some(secret), Some(seller)) => amazon_mws::Credentials::new(key, secret, seller),
            (None, None, None) if simulated => sim::amazon_mws::provider_credentials(),
            // A secret alone, against the simulator: its key and seller (to
            // see a wrong secret refused).
            (None, Some(secret), None) if simulated => amazon_mws::Credentials::new(
                sim::amazon_mws::ACCESS_KEY_ID,
                secret,
                sim::amazon_mws::SELLER_ID,
            ),
            (None, None, None) => {
                return Err("no MWS credentials: set MWS_ACCESS_KEY_ID, MWS_SECRET_KEY and MWS_SELLER_ID, \
                            or point --base-url at `reportflow sim`"
                    .into())
            }
            _ => {
                return Err(
                    "incomplete MWS credentials: give the access key id, the secret key and the seller id".into(),
                )
            }
        };
        let credentials = match &self.mws_auth_token {
            Some(token) => credentials.with_auth_token(token),
            None => credentials,
        };
        credentials.validate().map_err(|e| e.to_string())?;
        Ok((
            JobSpec::AmazonMws(spec),
            Credentials::AmazonMws(credentials),
        ))
    }
}

/// Flags of `fetch amazon-pay`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AmazonPayArgs {
    /// Report type, e.g. _GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_.
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    report_type: Option<String>,
    /// Start of the transaction window, ISO 8601 UTC (20240301T000000Z or
    /// 2024-03-01T00:00:00Z).
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "end",
        help_heading = "Report"
    )]
    start: Option<String>,
    /// End of the transaction window, ISO 8601 UTC.
    #[arg(
        long,
        value_name = "INSTANT",
        requires = "start",
        help_heading = "Report"
    )]
    end: Option<String>,
    /// Find, don't create: fetch the newest COMPLETED report of the type
    /// Amazon holds (the last 90 days), e.g. one a schedule produced.
    #[arg(long, conflicts_with_all = ["start", "since"], help_heading = "Find")]
    latest: bool,
    /// Find, don't create: fetch the newest COMPLETED report of the type
    /// created since INSTANT that is not skipped. Rerun with --skip-report
    /// for each id fetched to get every one; exit 4 (no_data) when none is
    /// left.
    #[arg(
        long,
        value_name = "INSTANT",
        conflicts_with = "start",
        help_heading = "Find"
    )]
    since: Option<String>,
    /// A report id already fetched (repeatable): a find passes over it.
    #[arg(long = "skip-report", value_name = "ID", help_heading = "Find")]
    skip_reports: Vec<String>,
    #[command(flatten)]
    key: AmazonPayKey,
}

/// The connection flags of every Amazon Pay command: region, key id,
/// sandbox, algorithm and the key that signs.
#[derive(Debug, Clone, Args)]
pub(crate) struct AmazonPayKey {
    /// Region of the merchant account: na, eu or jp.
    #[arg(long, value_name = "REGION", help_heading = "Credentials")]
    region: Option<String>,
    /// Public key id from Seller Central (LIVE-…/SANDBOX-… or a legacy id).
    #[arg(
        long,
        env = "AMAZON_PAY_PUBLIC_KEY_ID",
        value_name = "ID",
        help_heading = "Credentials"
    )]
    public_key_id: Option<String>,
    /// For a legacy key id: the sandbox instead of production.
    #[arg(long, help_heading = "Credentials")]
    sandbox: bool,
    /// Signing algorithm: v2 (AMZN-PAY-RSASSA-PSS-V2, the default) or legacy
    /// (AMZN-PAY-RSASSA-PSS).
    #[arg(
        long,
        value_name = "ALG",
        default_value = "v2",
        help_heading = "Credentials"
    )]
    algorithm: String,
    /// The RSA private key (PEM) that signs the requests.
    #[arg(
        long,
        env = "AMAZON_PAY_PRIVATE_KEY_FILE",
        value_name = "PEM",
        help_heading = "Credentials"
    )]
    private_key_file: Option<std::path::PathBuf>,
}

impl AmazonPayKey {
    /// `spec` with the key's region, key id, environment and algorithm.
    pub(crate) fn apply(
        &self,
        mut spec: amazon_pay::ReportSpec,
        simulated: bool,
    ) -> Result<amazon_pay::ReportSpec, String> {
        match (&self.public_key_id, simulated) {
            (Some(id), _) => spec.public_key_id.clone_from(id),
            (None, true) => spec.public_key_id = sim::amazon_pay::PUBLIC_KEY_ID.to_owned(),
            (None, false) => {
                return Err(
                    "no Amazon Pay key: set AMAZON_PAY_PUBLIC_KEY_ID and --private-key-file, \
                            or point --base-url at `reportflow sim`"
                        .into(),
                )
            }
        }
        spec.sandbox = self.sandbox;
        if let Some(region) = &self.region {
            spec.region = amazon_pay::Region::parse(region).map_err(|e| e.to_string())?;
        }
        spec.algorithm = match self.algorithm.to_ascii_lowercase().as_str() {
            "v2" | "amzn-pay-rsassa-pss-v2" => SigningAlgorithm::V2,
            "legacy" | "amzn-pay-rsassa-pss" => SigningAlgorithm::Legacy,
            other => return Err(format!("invalid --algorithm `{other}`: v2 or legacy")),
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// What signs: the key file, or the simulator's test key.
    pub(crate) fn signer(&self, simulated: bool) -> Result<Arc<dyn Signer>, String> {
        match &self.private_key_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    format!("cannot read --private-key-file {}: {e}", path.display())
                })?;
                RsaSigner::from_pem(&pem)
                    .map(|signer| Arc::new(signer) as Arc<dyn Signer>)
                    .map_err(|e| format!("--private-key-file {}: {e}", path.display()))
            }
            None if simulated => simulated_signer(),
            None => Err("no Amazon Pay private key: give --private-key-file (PEM)".into()),
        }
    }
}

/// How far back a `--latest` find looks: Amazon keeps reports 90 days.
const RETENTION_MS: u64 = 90 * 24 * 3_600_000;

impl AmazonPayArgs {
    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
        let mut spec = sim::amazon_pay::sample_report_spec(now);
        if let Some(report_type) = &self.report_type {
            spec.report_type.clone_from(report_type);
        }
        if let (Some(start), Some(end)) = (&self.start, &self.end) {
            spec.start_time.clone_from(start);
            spec.end_time.clone_from(end);
        }
        let since = match (&self.since, self.latest) {
            (Some(since), _) => Some(since.clone()),
            (None, true) => Some(amazon_pay::basic_time(Millis(
                now.as_u64().saturating_sub(RETENTION_MS),
            ))),
            (None, false) if !self.skip_reports.is_empty() => {
                return Err("--skip-report goes with --latest or --since".into())
            }
            (None, false) => None,
        };
        if let Some(created_since) = since {
            spec.task = amazon_pay::Task::FindReport {
                created_since,
                delivered: self.skip_reports.clone(),
            };
        }
        let spec = self.key.apply(spec, simulated)?;
        Ok((
            JobSpec::AmazonPay(spec),
            Credentials::AmazonPay(amazon_pay::Credentials::host_signed()),
        ))
    }

    fn signer(&self, simulated: bool) -> Result<Arc<dyn Signer>, String> {
        self.key.signer(simulated)
    }
}
