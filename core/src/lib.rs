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
//!    - [`Action::Event`]: progress, status, and [`Event::Data`]: decoded
//!      report bytes, provisional until `Done` (discard them on
//!      [`Event::DataReset`] or `Failed`).
//! 3. On `Wait { until }`, sleep until `until` or until a response arrives;
//!    feed it with [`ReportJob::handle`]; go to 2.
//! 4. `Done` (a verified [`Summary`]) and `Failed` (a typed [`Error`]) are
//!    terminal. Persist [`ReportJob::snapshot`] whenever you like; it holds no
//!    secrets, and [`ReportJob::restore`] continues the same report.
//!
//! Guarantees: one request in flight per job; memory bounded by the chunk
//! size whatever the report size; a corrupt report is never `Done`; no
//! panics on any input; the same inputs give the same actions.
//!
//! The streaming integrity helpers ([`integrity`]), the record splitters
//! ([`records`]) and the provider simulators ([`sim`]) are public on their
//! own.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod action;
mod error;
mod exchange;
mod http;
mod input;
mod job;
mod retry;
mod secret;
mod snapshot;
mod time;

pub mod integrity;
pub mod providers;
pub mod rate;
pub mod records;

pub use action::{Action, DataChunk, Event, Outcome, Phase, Summary, WaitReason};
pub use error::{Blame, ConfigError, Error, ErrorKind, InputError, ReportFailure, RestoreError};
pub use http::{Body, Header, HeaderValue, HttpRequest, Method, RedirectPolicy, RequestId, ResponseLimits, TransportFailure};
pub use input::Input;
pub use job::{Credentials, JobConfig, JobSpec, ReportJob};
pub use retry::{PollPolicy, RetryPolicy};
pub use secret::Secret;
pub use snapshot::{Snapshot, FORMAT_VERSION};
pub use time::Millis;
