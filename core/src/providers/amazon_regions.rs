//! Amazon's three regions and their marketplaces: the `region` of Lingxing's
//! report export, the Selling Partner API and the Amazon Ads API, which
//! speak of the same Amazon accounts. (The Ads API's hosts per region are
//! in `ads_region.rs`.)

use serde::Serialize;

use crate::error::ConfigError;

/// Amazon's marketplaces as `(country code, marketplace id)`, per region.
///
/// The ids are Amazon's (SP-API "Marketplace IDs"); Lingxing's region page
/// lists the same countries. Ireland is in Amazon's `eu` list but not yet in
/// Lingxing's page; it is accepted so a valid id is never refused.
const NA: &[(&str, &str)] = &[
    ("CA", "A2EUQ1WTGCTBG2"),
    ("US", "ATVPDKIKX0DER"),
    ("MX", "A1AM78C64UM0Y8"),
    ("BR", "A2Q3Y263D00KWC"),
];
const EU: &[(&str, &str)] = &[
    ("ES", "A1RKKUPIHCS9HS"),
    ("UK", "A1F83G8C2ARO7P"),
    ("FR", "A13V1IB3VIYZZH"),
    ("BE", "AMEN7PMS3EDWL"),
    ("NL", "A1805IZSGTT6HS"),
    ("DE", "A1PA6795UKMFR9"),
    ("IT", "APJ6JRA9NG5V4"),
    ("SE", "A2NODRKZP88ZB9"),
    ("ZA", "AE08WJ6YKNBMC"),
    ("PL", "A1C3SOZRARQ6R3"),
    ("EG", "ARBP9OOSHTCHU"),
    ("TR", "A33AVAJ2PDY3EV"),
    ("SA", "A17E79C6D8DWNP"),
    ("AE", "A2VIGQ35RCS4UG"),
    ("IN", "A21TJRUUN4KGV"),
    ("IE", "A28R8C7NBKEWEA"),
];
const FE: &[(&str, &str)] = &[
    ("SG", "A19VAU5U5O7RUS"),
    ("AU", "A39IBJ37TRP1C6"),
    ("JP", "A1VC38T7YXB528"),
];

/// The Amazon region an account lives in: `na`, `eu` or `fe` on the wire.
/// Each region has its own hosts, and an account (a seller, an advertising
/// profile) is only visible in its own region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Region {
    /// North America: CA, US, MX, BR.
    Na,
    /// Europe: ES, UK, FR, BE, NL, DE, IT, SE, ZA, PL, EG, TR, SA, AE, IN (and IE).
    Eu,
    /// Far East: SG, AU, JP.
    Fe,
}

crate::json_fields::deserialize_names! {
    Region;
    "na" => Na,
    "eu" => Eu,
    "fe" => Fe,
}

impl Region {
    /// Every region.
    pub const ALL: [Self; 3] = [Self::Na, Self::Eu, Self::Fe];

    /// The wire form: `na`, `eu` or `fe`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Na => "na",
            Self::Eu => "eu",
            Self::Fe => "fe",
        }
    }

    /// Parses `na`, `eu` or `fe` (any case).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|region| region.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                ConfigError::invalid("region", format!("`{text}` is not one of na, eu, fe"))
            })
    }

    /// The region's marketplaces as `(country code, Amazon marketplace id)`.
    pub const fn marketplaces(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Na => NA,
            Self::Eu => EU,
            Self::Fe => FE,
        }
    }

    /// The marketplace id of a country code (e.g. `US` → `ATVPDKIKX0DER`),
    /// if the country is in this region.
    pub fn marketplace_id(self, country: &str) -> Option<&'static str> {
        self.marketplaces()
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(country.trim()))
            .map(|(_, id)| *id)
    }

    /// The region a marketplace id belongs to.
    pub fn of_marketplace(id: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|region| region.marketplaces().iter().any(|(_, known)| *known == id))
    }
}
