//! Yandex Market Partner API reports.
//!
//! ```text
//!   POST {prefix}/reports/<kind>/generate?format=FILE|CSV|JSON ──reportId, estimatedGenerationTime──┐
//!        ▲  420: wait for X-RateLimit-Resource-Until                                               │
//!        │  (never again once a reportId is known)                                                 ▼
//!        │                                 ┌─ wait: estimate, then max(remaining estimate, backoff) ┐
//!        │                                 ▼                                                        │
//!        │                    GET {prefix}/reports/info/{reportId} ── PENDING / PROCESSING ─────────┘
//!        │                                 │ DONE + NO_DATA: Done(NoData)
//!        │                                 │ TOO_LARGE: Failed(ReportFailed{TooLarge}) — narrow the period
//!        │                                 │ RESOURCE_NOT_FOUND without a file: Failed(ReportFailed{ResourceNotFound})
//!        │                                 │ FAILED: Failed(ReportFailed{Fatal}) with the sub-status
//!        │                                 ▼ DONE + file (a link living 60 minutes); with RESOURCE_NOT_FOUND
//!        │                                 │ a partial report: Done with Warning::PartialReport
//!        │                    GET <file> (no Api-Key, no Authorization)
//!        │                                 │ XLSX: delivered as is, verified as a ZIP container
//!        │                                 │ CSV / JSON: a ZIP, each member a named part, rows counted
//!        │                                 └── 403/404/410, corrupt or cut archive: a fresh link from
//!        │                                     the next info call (at most max_link_refreshes times)
//! ```
//!
//! Facts (checked against `shared/specs/yandex-market/openapi.yaml` and the
//! files it references; `tests/yandex_spec_conformance.rs` checks every
//! request this module emits against them):
//! - Auth is `Api-Key: <token>` (recommended) or `Authorization: Bearer
//!   <OAuth token>`; neither ever reaches the file host.
//! - Every path carries a version prefix (`/v2`; `/v1` for the marketing
//!   detalization and barcodes). [`ReportSpec::path_prefix`] replaces it
//!   (`""` for the legacy unprefixed paths).
//! - `estimatedGenerationTime` is in milliseconds; the first info call waits
//!   for it, later ones for the remaining estimate but never less than the
//!   poll backoff, so a wrong estimate cannot make the job poll hot.
//! - Every answer may carry `X-RateLimit-Resource-Limit`, `-Remaining` and
//!   `-Until` (an RFC 822 date); they feed the job's view of the generate
//!   and info quotas, so no request goes out while the view says none is
//!   left. A `420` waits until `-Until` (the quota's period when absent).
//!   Generate quotas are tiny (1 per 2 or 10 minutes on the lowest tariff).
//! - Errors come as `{"status":"ERROR","errors":[{"code","message"}]}`:
//!   400/401/403 (and 404 of a generate call) are typed rejections carrying
//!   Yandex's codes and messages; 404 of an info call is an unknown report;
//!   423 (locked for a migration), 500, 503 and transport failures are
//!   retried with backoff.
//! - The `file` link lives 60 minutes and is never persisted; an expired or
//!   broken one is replaced by the one the next info call returns, never by
//!   a new generate.

pub(crate) mod config;
mod machine;
mod wire;

pub use config::{
    AttributionType, BannersStatisticsRequest, BarcodeFormat, BarcodeOfferInfo, BarcodesRequest,
    BoostConsolidatedRequest, ClosureDocumentsDetalizationRequest, ClosureDocumentsRequest,
    CompetitorsPositionRequest, ContractType, Credentials, DetalizationLevel, GoodsFeedbackRequest,
    GoodsMovementRequest, GoodsPricesRequest, GoodsRealizationRequest, GoodsTurnoverRequest,
    JewelryFiscalRequest, KeyIndicatorsRequest, LabelsRequest, LabelsSorting,
    MarketingDetalizationRequest, MonthOfYear, PageFormat, PlacementType, RateLimit, RawRequest,
    ReportFormat, ReportKind, ReportLanguage, ReportRequest, ReportSpec, ReturnShipmentStatus,
    ReturnType, SalesGeographyRequest, ShelfStatisticsRequest, ShipmentListRequest,
    ShowsBoostRequest, ShowsSalesGrouping, ShowsSalesRequest, SourceType,
    StocksOnWarehousesRequest, UnitedMarketplaceServicesRequest, UnitedNettingRequest,
    UnitedOrdersRequest, UnitedReturnsRequest, API_ORIGIN, MAX_BODY_BYTES,
};
pub(crate) use machine::Flow;
#[allow(unused_imports)]
pub(crate) use machine::{GENERATE_BUCKET, INFO_BUCKET, LINK_LIFETIME_MS};
