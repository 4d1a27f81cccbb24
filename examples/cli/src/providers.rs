//! What the CLI knows per provider: the demo table and each provider's
//! `fetch` flags. Adding a provider is one [`PROVIDERS`] entry plus one
//! [`FetchProvider`] variant.

use clap::{Args, Subcommand};
use reportflow::providers::amazon_ads::{self, RecordType, Region, Segment, Tactic};
use reportflow::providers::Provider;
use reportflow::sim;
use reportflow::{Credentials, JobSpec, Millis};

/// A provider the CLI runs in `demo`.
pub(crate) struct ProviderEntry {
    pub(crate) provider: Provider,
    /// The simulator's sample report (for the day before the given time)
    /// and the credentials it accepts.
    pub(crate) sample: fn(Millis) -> (JobSpec, Credentials),
}

/// Every implemented provider, in demo order.
pub(crate) const PROVIDERS: &[ProviderEntry] = &[ProviderEntry {
    provider: Provider::AmazonAds,
    sample: amazon_ads_sample,
}];

fn amazon_ads_sample(now: Millis) -> (JobSpec, Credentials) {
    (
        sim::amazon_ads::sample_spec(now),
        sim::amazon_ads::credentials(),
    )
}

/// The provider to fetch from, with its own flags.
#[derive(Debug, Subcommand)]
pub(crate) enum FetchProvider {
    /// Amazon Ads Sponsored Display v2 report (POST /sd/{recordType}/report).
    ///
    /// Every report flag defaults to the simulator's sample report (campaigns,
    /// yesterday, T00020, eight common metrics, the simulator's profile).
    /// Credentials come from the flags or the environment; with --base-url
    /// and no credentials at all, the simulator's credentials are used.
    AmazonAds(AmazonAdsArgs),
}

impl FetchProvider {
    /// The provider the flags are for.
    pub(crate) fn provider(&self) -> Provider {
        match self {
            Self::AmazonAds(_) => Provider::AmazonAds,
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
        }
    }
}

/// Flags of `fetch amazon-ads`.
#[derive(Debug, Args)]
pub(crate) struct AmazonAdsArgs {
    /// Record type: campaigns, adGroups, productAds, targets or asins.
    #[arg(long, value_name = "TYPE", help_heading = "Report")]
    record_type: Option<String>,
    /// The day to report on, YYYYMMDD, in the profile's time zone.
    #[arg(long, value_name = "YYYYMMDD", help_heading = "Report")]
    report_date: Option<String>,
    /// Targeting tactic: T00020 (contextual) or T00030 (audiences).
    #[arg(long, value_name = "TACTIC", help_heading = "Report")]
    tactic: Option<String>,
    /// Metrics, comma-separated (e.g. impressions,clicks,cost).
    #[arg(
        long,
        value_name = "A,B,C",
        help_heading = "Report",
        value_delimiter = ','
    )]
    metrics: Option<Vec<String>>,
    /// Segmentation: matchedTarget (campaigns, adGroups, targets only).
    #[arg(long, value_name = "SEGMENT", help_heading = "Report")]
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

impl AmazonAdsArgs {
    fn job(&self, now: Millis, simulated: bool) -> Result<(JobSpec, Credentials), String> {
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

    fn credentials(&self, simulated: bool) -> Result<amazon_ads::Credentials, String> {
        let given = [
            ("--client-id / AMAZON_ADS_CLIENT_ID", &self.client_id),
            (
                "--client-secret / AMAZON_ADS_CLIENT_SECRET",
                &self.client_secret,
            ),
            (
                "--refresh-token / AMAZON_ADS_REFRESH_TOKEN",
                &self.refresh_token,
            ),
        ];
        let missing: Vec<&str> = given
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| *name)
            .collect();
        let credentials = match (&self.client_id, &self.client_secret, &self.refresh_token) {
            (Some(id), Some(secret), Some(refresh)) => amazon_ads::Credentials::new(id, secret, refresh),
            (None, None, None) if simulated => sim::amazon_ads::provider_credentials(),
            (None, None, None) => {
                return Err("no Amazon Ads credentials: set AMAZON_ADS_CLIENT_ID, AMAZON_ADS_CLIENT_SECRET and \
                            AMAZON_ADS_REFRESH_TOKEN, or point --base-url at `reportflow sim`"
                    .into())
            }
            _ => return Err(format!("incomplete Amazon Ads credentials: missing {}", missing.join(", "))),
        };
        Ok(match &self.access_token {
            Some(token) => credentials.with_access_token(token, None),
            None => credentials,
        })
    }
}
