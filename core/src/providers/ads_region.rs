//! The Amazon Ads API's hosts per [`Region`], shared by Sponsored Display v2
//! and Reporting v3: each region has its own API host and Login-with-Amazon
//! host.

use super::amazon_regions::Region;

impl Region {
    /// The Ads API origin of the region.
    pub const fn api_origin(self) -> &'static str {
        match self {
            Self::Na => "https://advertising-api.amazon.com",
            Self::Eu => "https://advertising-api-eu.amazon.com",
            Self::Fe => "https://advertising-api-fe.amazon.com",
        }
    }

    /// The Login-with-Amazon origin of the region.
    pub const fn auth_origin(self) -> &'static str {
        match self {
            Self::Na => "https://api.amazon.com",
            Self::Eu => "https://api.amazon.co.uk",
            Self::Fe => "https://api.amazon.co.jp",
        }
    }
}
