//! The report types of Reporting v3 this machine knows, with what each
//! allows: `adProduct`, maximum date range, data retention, `groupBy` values
//! and, for Sponsored Display, every column and filter.
//!
//! Transcribed from the official report-type pages
//! (`shared/specs/amazon-ads-reporting-v3/docs/en-us/guides/reporting/v3/report-types/*.md`:
//! the "Configurations" table, "Base metrics", each "Group by" section's
//! "Additional metrics" and "Filters") and from the spec's request examples
//! (`OfflineReport_prod_3p.json`). Where the two differ, both are accepted:
//! the spec's `SponsoredDisplayTargetingDailyReport` example asks for
//! `videoThirdQuartileViews` and `viewClickThroughRate`, which the targeting
//! page does not list for Sponsored Display. `core/tests/amazon_ads_v3_spec_conformance.rs`
//! checks this table against both files.
//!
//! Sponsored Products and Brands types are accepted with their `groupBy`
//! values and date limits; their columns are passed through unchecked (the
//! API checks them). `spSearchTerm`, `sbSearchTerm`, `sbAds` and
//! `sbCampaignPlacement` appear only in the spec's examples (their pages
//! were not copied): their `groupBy` is the examples', their 31-day range
//! and retention are inferred from the other types of the same product.

/// The advertising product (`configuration.adProduct`) of a report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdProduct {
    /// `SPONSORED_PRODUCTS`
    SponsoredProducts,
    /// `SPONSORED_BRANDS`
    SponsoredBrands,
    /// `SPONSORED_DISPLAY`
    SponsoredDisplay,
}

impl AdProduct {
    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SponsoredProducts => "SPONSORED_PRODUCTS",
            Self::SponsoredBrands => "SPONSORED_BRANDS",
            Self::SponsoredDisplay => "SPONSORED_DISPLAY",
        }
    }
}

/// A filter a `groupBy` supports, with its allowed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// `filters[].field`
    pub field: &'static str,
    /// The values `filters[].values` may hold.
    pub values: &'static [&'static str],
}

/// A `groupBy` value and what it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    /// The wire form, e.g. `matchedTarget`.
    pub name: &'static str,
    /// Columns this grouping adds to the type's base columns.
    pub columns: &'static [&'static str],
    /// Filters this grouping supports.
    pub filters: &'static [Filter],
}

/// One report type (`configuration.reportTypeId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    /// The wire form, e.g. `sdCampaigns`.
    pub id: &'static str,
    /// The product the type belongs to.
    pub ad_product: AdProduct,
    /// The longest range one report may cover, in days (`endDate` −
    /// `startDate` + 1: both days are included).
    pub max_days: u32,
    /// How far back data can be requested, in days.
    pub retention_days: u32,
    /// The docs page the facts come from (`report-types/<page>.md`), or
    /// `spec` for types known only from the spec's examples.
    pub page: &'static str,
    /// The base columns; `None` when the columns are not checked here.
    pub columns: Option<&'static [&'static str]>,
    /// The allowed `groupBy` values.
    pub group_by: &'static [GroupBy],
}

impl ReportType {
    /// Every report type known, in the docs' order (Sponsored Display's six
    /// among them).
    pub const ALL: &'static [Self] = REPORT_TYPES;

    /// The type called `id`.
    pub fn find(id: &str) -> Option<&'static Self> {
        REPORT_TYPES.iter().find(|t| t.id == id)
    }

    /// The `groupBy` value called `name`, if this type allows it.
    pub fn group(&self, name: &str) -> Option<&'static GroupBy> {
        self.group_by.iter().find(|g| g.name == name)
    }

    /// Whether `column` may be asked for under `groups` (always, for a type
    /// whose columns are not checked here).
    pub fn allows_column(&self, groups: &[&GroupBy], column: &str) -> bool {
        match self.columns {
            None => true,
            Some(base) => {
                base.contains(&column) || groups.iter().any(|g| g.columns.contains(&column))
            }
        }
    }
}

// One entry per report type, in the docs' page order.
const REPORT_TYPES: &[ReportType] = &[
    ReportType {
        id: "spCampaigns",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 31,
        retention_days: 95,
        page: "campaign",
        columns: None,
        group_by: &[
            GroupBy { name: "campaign", columns: &[], filters: &[] },
            GroupBy { name: "adGroup", columns: &[], filters: &[] },
            GroupBy { name: "campaignPlacement", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sbCampaigns",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "campaign",
        columns: None,
        group_by: &[
            GroupBy { name: "campaign", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdCampaigns",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 31,
        retention_days: 65,
        page: "campaign",
        columns: Some(&[
            "addToCart", "addToCartClicks", "addToCartRate", "addToCartViews", "addToList",
            "addToListFromClicks", "addToListFromViews", "qualifiedBorrows",
            "qualifiedBorrowsFromClicks", "qualifiedBorrowsFromViews", "royaltyQualifiedBorrows",
            "royaltyQualifiedBorrowsFromClicks", "royaltyQualifiedBorrowsFromViews",
            "brandedSearches", "brandedSearchesClicks", "brandedSearchesViews", "brandedSearchRate",
            "campaignBudgetCurrencyCode", "campaignId", "campaignName", "clicks", "cost", "date",
            "detailPageViews", "detailPageViewsClicks", "eCPAddToCart", "eCPBrandSearch", "endDate",
            "impressions", "impressionsViews", "newToBrandPurchases", "newToBrandPurchasesClicks",
            "newToBrandSalesClicks", "newToBrandUnitsSold", "newToBrandUnitsSoldClicks", "purchases",
            "purchasesClicks", "purchasesPromotedClicks", "sales", "salesClicks",
            "salesPromotedClicks", "startDate", "unitsSold", "unitsSoldClicks", "videoCompleteViews",
            "videoFirstQuartileViews", "videoMidpointViews", "videoThirdQuartileViews",
            "videoUnmutes", "viewabilityRate", "viewClickThroughRate",
        ]),
        group_by: &[
            GroupBy {
                name: "campaign",
                columns: &[
                    "campaignBudgetAmount", "campaignStatus", "costType", "cumulativeReach",
                    "impressionsFrequencyAverage", "longTermSales", "longTermROAS",
                    "newToBrandDetailPageViewClicks", "newToBrandDetailPageViewRate",
                    "newToBrandDetailPageViews", "newToBrandDetailPageViewViews",
                    "newToBrandECPDetailPageView", "newToBrandSales",
                ],
                filters: &[],
            },
            GroupBy {
                name: "matchedTarget",
                columns: &[
                    "matchedTargetAsin",
                ],
                filters: &[],
            },
        ],
    },
    ReportType {
        id: "sbAdGroup",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "ad-group",
        columns: None,
        group_by: &[
            GroupBy { name: "adGroup", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdAdGroup",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 31,
        retention_days: 65,
        page: "ad-group",
        columns: Some(&[
            "addToCart", "addToCartClicks", "addToCartRate", "addToCartViews", "adGroupId",
            "adGroupName", "addToList", "addToListFromClicks", "addToListFromViews",
            "qualifiedBorrows", "qualifiedBorrowsFromClicks", "qualifiedBorrowsFromViews",
            "royaltyQualifiedBorrows", "royaltyQualifiedBorrowsFromClicks",
            "royaltyQualifiedBorrowsFromViews", "bidOptimization", "brandedSearches",
            "brandedSearchesClicks", "brandedSearchesViews", "brandedSearchRate",
            "campaignBudgetCurrencyCode", "campaignId", "campaignName", "clicks", "cost",
            "cumulativeReach", "date", "detailPageViews", "detailPageViewsClicks", "eCPAddToCart",
            "eCPBrandSearch", "endDate", "impressions", "impressionsViews", "newToBrandPurchases",
            "newToBrandPurchasesClicks", "newToBrandSales", "newToBrandSalesClicks",
            "newToBrandUnitsSold", "newToBrandUnitsSoldClicks", "purchases", "purchasesClicks",
            "purchasesPromotedClicks", "sales", "salesClicks", "salesPromotedClicks", "startDate",
            "unitsSold", "unitsSoldClicks", "videoCompleteViews", "videoFirstQuartileViews",
            "videoMidpointViews", "videoThirdQuartileViews", "videoUnmutes", "viewabilityRate",
            "viewClickThroughRate",
        ]),
        group_by: &[
            GroupBy {
                name: "adGroup",
                columns: &[
                    "cumulativeReach", "impressionsFrequencyAverage", "newToBrandDetailPageViewClicks",
                    "newToBrandDetailPageViewRate", "newToBrandDetailPageViews",
                    "newToBrandDetailPageViewViews", "newToBrandECPDetailPageView",
                ],
                filters: &[],
            },
            GroupBy {
                name: "matchedTarget",
                columns: &[
                    "matchedTargetAsin",
                ],
                filters: &[],
            },
        ],
    },
    ReportType {
        id: "spTargeting",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 31,
        retention_days: 95,
        page: "targeting",
        columns: None,
        group_by: &[
            GroupBy { name: "targeting", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sbTargeting",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "targeting",
        columns: None,
        group_by: &[
            GroupBy { name: "targeting", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdTargeting",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 31,
        retention_days: 65,
        page: "targeting",
        columns: Some(&[
            "addToCart", "addToCartClicks", "addToCartRate", "addToCartViews", "adGroupId",
            "adGroupName", "addToList", "addToListFromClicks", "addToListFromViews",
            "qualifiedBorrows", "qualifiedBorrowsFromClicks", "qualifiedBorrowsFromViews",
            "royaltyQualifiedBorrows", "royaltyQualifiedBorrowsFromClicks",
            "royaltyQualifiedBorrowsFromViews", "brandedSearches", "brandedSearchesClicks",
            "brandedSearchesViews", "brandedSearchRate", "campaignBudgetCurrencyCode", "campaignId",
            "campaignName", "clicks", "cost", "date", "detailPageViews", "detailPageViewsClicks",
            "eCPAddToCart", "eCPBrandSearch", "endDate", "impressions", "impressionsViews",
            "newToBrandPurchases", "newToBrandPurchasesClicks", "newToBrandSales",
            "newToBrandSalesClicks", "newToBrandUnitsSold", "newToBrandUnitsSoldClicks", "purchases",
            "purchasesClicks", "purchasesPromotedClicks", "sales", "salesClicks",
            "salesPromotedClicks", "startDate", "targetingExpression", "targetingId",
            "targetingText", "unitsSold", "unitsSoldClicks", "videoCompleteViews",
            "videoFirstQuartileViews", "videoMidpointViews", "videoUnmutes", "viewabilityRate",
            "videoThirdQuartileViews", "viewClickThroughRate",
        ]),
        group_by: &[
            GroupBy {
                name: "targeting",
                columns: &[
                    "adKeywordStatus", "newToBrandDetailPageViewClicks", "newToBrandDetailPageViewRate",
                    "newToBrandDetailPageViews", "newToBrandDetailPageViewViews",
                    "newToBrandECPDetailPageView",
                ],
                filters: &[],
            },
            GroupBy {
                name: "matchedTarget",
                columns: &[
                    "matchedTargetAsin",
                ],
                filters: &[],
            },
        ],
    },
    ReportType {
        id: "spAdvertisedProduct",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 31,
        retention_days: 95,
        page: "advertised-product",
        columns: None,
        group_by: &[
            GroupBy { name: "advertiser", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdAdvertisedProduct",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 31,
        retention_days: 65,
        page: "advertised-product",
        columns: Some(&[
            "addToCart", "addToCartRate", "addToCartViews", "addToCartClicks", "adGroupId",
            "adGroupName", "adId", "addToList", "addToListFromClicks", "qualifiedBorrows",
            "royaltyQualifiedBorrows", "addToListFromViews", "qualifiedBorrowsFromClicks",
            "qualifiedBorrowsFromViews", "royaltyQualifiedBorrowsFromClicks",
            "royaltyQualifiedBorrowsFromViews", "bidOptimization", "brandedSearches",
            "brandedSearchesClicks", "brandedSearchesViews", "brandedSearchRate",
            "campaignBudgetCurrencyCode", "campaignId", "campaignName", "clicks", "cost",
            "cumulativeReach", "date", "detailPageViews", "detailPageViewsClicks", "eCPAddToCart",
            "eCPBrandSearch", "endDate", "impressions", "impressionsFrequencyAverage",
            "impressionsViews", "newToBrandDetailPageViewClicks", "newToBrandDetailPageViewRate",
            "newToBrandDetailPageViews", "newToBrandDetailPageViewViews",
            "newToBrandECPDetailPageView", "newToBrandPurchases", "newToBrandPurchasesClicks",
            "newToBrandSales", "newToBrandSalesClicks", "newToBrandUnitsSold",
            "newToBrandUnitsSoldClicks", "promotedAsin", "promotedSku", "purchases",
            "purchasesClicks", "purchasesPromotedClicks", "sales", "salesClicks",
            "salesPromotedClicks", "startDate", "unitsSold", "unitsSoldClicks", "videoCompleteViews",
            "videoFirstQuartileViews", "videoMidpointViews", "videoThirdQuartileViews",
            "videoUnmutes", "viewabilityRate", "viewClickThroughRate",
        ]),
        group_by: &[
            GroupBy {
                name: "advertiser",
                columns: &[
                    
                ],
                filters: &[],
            },
        ],
    },
    ReportType {
        id: "spPurchasedProduct",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 31,
        retention_days: 95,
        page: "purchased-product",
        columns: None,
        group_by: &[
            GroupBy { name: "asin", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sbPurchasedProduct",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 731,
        retention_days: 731,
        page: "purchased-product",
        columns: None,
        group_by: &[
            GroupBy { name: "purchasedAsin", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdPurchasedProduct",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 31,
        retention_days: 65,
        page: "purchased-product",
        columns: Some(&[
            "adGroupId", "adGroupName", "asinBrandHalo", "addToList", "addToListFromClicks",
            "qualifiedBorrowsFromClicks", "royaltyQualifiedBorrowsFromClicks", "addToListFromViews",
            "qualifiedBorrows", "qualifiedBorrowsFromViews", "royaltyQualifiedBorrows",
            "royaltyQualifiedBorrowsFromViews", "campaignBudgetCurrencyCode", "campaignId",
            "campaignName", "conversionsBrandHalo", "conversionsBrandHaloClicks", "date", "endDate",
            "promotedAsin", "promotedSku", "salesBrandHalo", "salesBrandHaloClicks", "startDate",
            "unitsSoldBrandHalo", "unitsSoldBrandHaloClicks",
        ]),
        group_by: &[
            GroupBy {
                name: "asin",
                columns: &[
                    
                ],
                filters: &[],
            },
        ],
    },
    ReportType {
        id: "spGrossAndInvalids",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 365,
        retention_days: 365,
        page: "gross-and-invalid-traffic",
        columns: None,
        group_by: &[
            GroupBy { name: "campaign", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sbGrossAndInvalids",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 365,
        retention_days: 365,
        page: "gross-and-invalid-traffic",
        columns: None,
        group_by: &[
            GroupBy { name: "campaign", columns: &[], filters: &[] },
        ],
    },
    ReportType {
        id: "sdGrossAndInvalids",
        ad_product: AdProduct::SponsoredDisplay,
        max_days: 365,
        retention_days: 365,
        page: "gross-and-invalid-traffic",
        columns: Some(&[
            "campaignName", "campaignStatus", "clicks", "date", "endDate", "grossClickThroughs",
            "grossImpressions", "impressions", "invalidClickThroughRate", "invalidClickThroughs",
            "invalidImpressionRate", "invalidImpressions", "startDate",
        ]),
        group_by: &[
            GroupBy {
                name: "campaign",
                columns: &[
                    
                ],
                filters: &[Filter { field: "campaignStatus", values: &["ENABLED", "PAUSED", "ARCHIVED"] }],
            },
        ],
    },
    ReportType {
        id: "spSearchTerm",
        ad_product: AdProduct::SponsoredProducts,
        max_days: 31,
        retention_days: 95,
        page: "spec",
        columns: None,
        group_by: &[GroupBy { name: "searchTerm", columns: &[], filters: &[] }],
    },
    ReportType {
        id: "sbSearchTerm",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "spec",
        columns: None,
        group_by: &[GroupBy { name: "searchTerm", columns: &[], filters: &[] }],
    },
    ReportType {
        id: "sbAds",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "spec",
        columns: None,
        group_by: &[GroupBy { name: "ads", columns: &[], filters: &[] }],
    },
    ReportType {
        id: "sbCampaignPlacement",
        ad_product: AdProduct::SponsoredBrands,
        max_days: 31,
        retention_days: 60,
        page: "spec",
        columns: None,
        group_by: &[GroupBy { name: "campaignPlacement", columns: &[], filters: &[] }],
    },
];
