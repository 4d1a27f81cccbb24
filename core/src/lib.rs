//! reportflow performs no I/O: it is the logic of marketplace report
//! lifecycles (create → poll → fetch link → download → verify → decode) as
//! plain state machines. You supply HTTP, time and persistence.
//!
//! # Run loop
//! 1. Build a [`ReportJob`] from a [`JobSpec`], a [`JobConfig`] and
//!    [`Credentials`], passing the wall-clock time as [`Millis`].
//! 2. Drain [`ReportJob::poll`] until it returns [`Action::Wait`],
//!    [`Action::Done`] or [`Action::Failed`]:
//!    - [`Action::Send`]: perform the [`HttpRequest`] (exactly as given: it is
//!      complete, signed and says whether to follow redirects), then feed
//!      [`Input::Head`], [`Input::Chunk`]s and [`Input::End`] — or
//!      [`Input::TransportFailed`] — with the request's id;
//!    - [`Action::Sign`]: sign the [`SignRequest`]'s `message` with the key
//!      it names (the job never holds private keys: a KMS, an HSM or
//!      WebCrypto may keep them) and feed [`Input::Signature`] with its id
//!      before its `sign_before`; the signed request follows as a `Send`. A
//!      late or unknown signature is refused with
//!      [`InputError::StaleSignature`] and the job asks again;
//!    - [`Action::Event`]: progress, status, and [`Event::Data`]: decoded
//!      report bytes, provisional until `Done` (discard them on
//!      [`Event::DataReset`] or `Failed`).
//! 3. On `Wait { until }`, sleep until `until` or until a response arrives;
//!    feed it with [`ReportJob::handle`]; go to 2.
//! 4. `Done` (a verified [`Summary`]) and `Failed` (a typed [`Error`]) are
//!    terminal. Persist [`ReportJob::snapshot`] whenever you like — and
//!    before performing each `Send` if you persist at all: a request that
//!    creates a report is on record in the snapshot before it may reach the
//!    provider, so a restored job never creates a second report silently.
//!    A snapshot holds no secrets; [`ReportJob::restore`] continues the same
//!    report with the host's own config (a snapshot is untrusted data).
//!
//! Guarantees: one request in flight per job; memory bounded by the chunk
//! size whatever the report size; a corrupt report is never `Done`; no
//! panics on any input; the same inputs give the same actions.
//!
//! The streaming integrity helpers ([`integrity`]) and the record splitters
//! ([`records`]) are public on their own; so are the provider simulators
//! ([`sim`]), with the `sim` feature.
//!
//! # Features
//! - One per provider, named as the provider: `amazon-ads`, `lingxing`,
//!   `yandex-market`, `amazon-mws`, `amazon-pay`, `amazon-sp-api`,
//!   `amazon-ads-v3`. All on by default. A build for fewer marketplaces (a
//!   browser bundle) sets `default-features = false` and names its
//!   providers; a [`JobSpec`] or [`Credentials`] of another provider is then
//!   refused like any unknown provider. At least one is required.
//! - `charsets` (default): the decoders behind [`integrity::CharsetDecoder`]
//!   for reports in Shift_JIS, windows-1252 and UTF-16 (`encoding_rs`, about
//!   120 KB gzip of tables in a wasm module). Without it the host may lend
//!   its own ([`ReportJob::with_foreign_charsets`]; the npm package lends a
//!   browser's `TextDecoder`); a report declared in a charset other than
//!   UTF-8 that nothing decodes fails with
//!   [`records::RecordError::CharsetUnavailable`].
//! - `sim`: [`sim`], pure seeded simulators of every provider (and the gzip
//!   and ZIP writers they serve bodies with), for tests, demos and sandboxes.
//!   Off by default: an application embedding the core does not get them.
//! - `testkit`: the virtual-time harness (`sim::Harness`) for downstream
//!   crates' tests; implies `sim`.
//! - `rsa`: [`RsaKey`], which answers [`Action::Sign`] with an RSA key the
//!   host holds (the salt's randomness passed in); `sim` turns it on.
//! - `md5-asm`: MD5 in assembly on x86/x86_64 (needs a C toolchain).
//!
//! # Example: a complete host loop
//! A job for the Amazon Ads simulator ([`sim::Sandbox`], `sim` feature),
//! driven to `Done` in virtual time. A real host performs the `Send` with its
//! HTTP client and sleeps on `Wait`; everything else is the same.
//!
//! ```
//! use reportflow::sim::{amazon_ads, Sandbox, SandboxConfig, SimRequest};
//! use reportflow::{providers::Provider, Action, Event, Input, Millis, ReportJob};
//!
//! let mut now = Millis(1_709_251_200_000); // 2024-03-01T00:00:00Z, the host's clock
//! let mut sandbox = Sandbox::new(SandboxConfig::default());
//! let config = sandbox.job_config(Provider::AmazonAds);
//! let mut job = ReportJob::new(amazon_ads::sample_spec(now), config, amazon_ads::credentials(), now)?;
//! let mut report = Vec::new(); // provisional until Done
//! let mut arriving = None; // (request id, response, body bytes fed)
//! let summary = loop {
//!     match job.poll(now) {
//!         Action::Send(request) => {
//!             let response = sandbox.handle(now, &SimRequest::from_http(&request));
//!             job.handle(now, Input::Head { id: request.id, status: response.status, headers: &response.headers })?;
//!             arriving = Some((request.id, response, 0));
//!         }
//!         // End of a drain: feed the next piece of the answer, or sleep.
//!         Action::Wait { until, .. } => match arriving.as_mut() {
//!             Some((id, response, fed)) if *fed < response.body.len() => {
//!                 let end = (*fed + 16 * 1024).min(response.body.len());
//!                 job.handle(now, Input::Chunk { id: *id, bytes: &response.body[*fed..end] })?;
//!                 *fed = end;
//!             }
//!             Some((id, ..)) => {
//!                 job.handle(now, Input::End { id: *id })?;
//!                 arriving = None;
//!             }
//!             None => now = now.max(until),
//!         },
//!         Action::Event(Event::Data(chunk)) => report.extend_from_slice(&chunk.bytes),
//!         Action::Event(Event::DataReset { .. }) => report.clear(),
//!         Action::Event(_) => {}
//!         Action::Done(summary) => break summary,
//!         Action::Failed(error) => return Err(error.into()),
//!         other => return Err(format!("an action this loop does not know: {other:?}").into()),
//!     }
//! };
//! assert_eq!(summary.rows, 2_000);
//! assert_eq!(Some(report), sandbox.report_content(&summary.report_id));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// Links into `sim` resolve only with the feature; without it they lead to
// the features section above (so `cargo doc` without `sim` stays clean).
#![cfg_attr(
    not(feature = "sim"),
    doc = "[`sim`]: #features\n[`sim::Sandbox`]: #features"
)]
#![cfg_attr(not(feature = "rsa"), doc = "[`RsaKey`]: #features")]
// Without `sim`, the few crate-private helpers only the simulators use
// (civil-calendar arithmetic, the HTTP-date writer) are dead code, and so
// are shared provider helpers in a build with some providers only. The
// `sim` build (every provider), which clippy and the tests compile, still
// reports code and imports that are unused for everyone.
#![cfg_attr(not(feature = "sim"), allow(dead_code, unused_imports))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod action;
mod calendar;
mod config;
mod error;
mod exchange;
mod http;
mod http_date;
mod input;
mod job;
mod json_fields;
mod provider;
mod retry;
mod secret;
mod sign;
mod snapshot;
mod sticky;
mod time;

pub mod integrity;
pub mod providers;
pub mod rate;
pub mod records;
#[cfg(feature = "sim")]
pub mod sim;

// The unit tests use the simulators and their writers. core/Cargo.toml's
// self dev-dependency turns `sim` on for every test build; without it they
// would not build (rather than be skipped in silence).
#[cfg(all(test, not(feature = "sim")))]
compile_error!(
    "reportflow's tests need the `sim` feature (see the self dev-dependency in core/Cargo.toml)"
);

// A job needs a provider: a build without any has nothing to run.
#[cfg(not(any(
    feature = "amazon-ads",
    feature = "lingxing",
    feature = "yandex-market",
    feature = "amazon-mws",
    feature = "amazon-pay",
    feature = "amazon-sp-api",
    feature = "amazon-ads-v3"
)))]
compile_error!(
    "reportflow needs at least one provider feature (the defaults turn on every provider)"
);

pub use action::{
    Action, DataChunk, Event, Outcome, PartSummary, Phase, Summary, WaitReason, Warning,
};
pub use config::JobConfig;
pub use error::{
    Blame, ConfigError, Error, ErrorKind, InputError, ReportFailure, ReportLimit, RestoreError,
};
pub use http::{
    Body, Header, HeaderValue, HttpRequest, Method, RedirectPolicy, RequestId, ResponseLimits,
    TransportFailure,
};
pub use input::Input;
pub use job::ReportJob;
pub use provider::Provider;
pub use providers::registry::{Credentials, JobSpec};
pub use retry::{PollPolicy, RetryPolicy};
pub use secret::Secret;
#[cfg(feature = "rsa")]
pub use sign::RsaKey;
pub use sign::{SignRequest, SignatureAlgorithm, MAX_SIGNATURE_BYTES};
pub use snapshot::{Snapshot, FORMAT_VERSION};
pub use time::Millis;
