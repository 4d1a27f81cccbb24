//! The reportflow simulators over real loopback HTTP, and the blocking host
//! loop the Rust hosts share.
//!
//! - [`SimServer`] serves a [`reportflow::sim::Sandbox`] on a local socket
//!   (HTTP/1.1, CORS-enabled, request log at `/_sim/requests`) for
//!   end-to-end tests, the CLI's `sim` and `demo` commands and, later,
//!   browser tests.
//! - [`host`] drives a [`reportflow::ReportJob`] over real sockets with a
//!   blocking HTTP client: the ten-line run loop, written once.
//!
//! This crate does I/O and reads the clock; `reportflow` itself never does.
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

pub mod host;
mod http1;
mod server;

pub use server::{SimServer, REPORT_CONTENT_PREFIX, REQUEST_LOG_PATH};

use std::time::{SystemTime, UNIX_EPOCH};

use reportflow::Millis;

/// The wall clock as the core wants it: milliseconds since the Unix epoch.
///
/// Wall-clock rather than monotonic on purpose (see [`Millis`]); a clock set
/// before 1970 reads as the epoch.
pub fn wall_clock() -> Millis {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}
