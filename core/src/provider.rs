//! [`Provider`]: the names of the APIs reportflow speaks to, and the one list
//! of them that every registry in the crate expands.

use serde::Serialize;

/// The one list of providers: `Variant module "stable-name" "description"`.
///
/// Each registry (the job's provider dispatch, the simulators' table) calls
/// `for_each_provider!(its_macro)` and expands one arm per provider, so
/// adding a provider is one line here plus its own folder.
macro_rules! for_each_provider {
    ($then:ident) => {
        $then! {
            AmazonAds amazon_ads "amazon-ads" "Amazon Ads Sponsored Display v2 reports.",
            Lingxing lingxing "lingxing" "Lingxing (领星) OpenAPI Amazon report export.",
            YandexMarket yandex_market "yandex-market" "Yandex Market Partner API reports.",
            AmazonMws amazon_mws "amazon-mws" "Amazon MWS Reports (2009-01-01), the legacy Marketplace Web Service.",
            AmazonPay amazon_pay "amazon-pay" "Amazon Pay API v2 reports (requests signed by the host).",
            AmazonSpApi amazon_sp_api "amazon-sp-api" "Amazon Selling Partner API Reports (2021-06-30), the successor of MWS.",
            AmazonAdsV3 amazon_ads_v3 "amazon-ads-v3" "Amazon Ads Reporting v3 reports (Sponsored Display, Products and Brands).",
        }
    };
}
pub(crate) use for_each_provider;

macro_rules! define_provider {
    ($($variant:ident $module:ident $name:literal $doc:literal,)*) => {
        /// The providers reportflow speaks to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[non_exhaustive]
        pub enum Provider {
            $(
                #[doc = $doc]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        crate::json_fields::deserialize_names! {
            Provider;
            $( $name => $variant, )*
        }

        impl Provider {
            /// Every provider, in registry order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The provider's stable name, e.g. `amazon-ads`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The provider named `name` (its stable name).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|provider| provider.as_str() == name)
            }
        }
    };
}
for_each_provider!(define_provider);

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_lookup() {
        for provider in Provider::ALL {
            let json = serde_json::to_string(provider).unwrap();
            assert_eq!(json, format!("\"{}\"", provider.as_str()));
            assert_eq!(Provider::from_name(provider.as_str()), Some(*provider));
        }
        assert_eq!(Provider::from_name("amazon"), None);
    }
}
