//! Hosts for [`reportflow`] jobs: the I/O the core leaves to you, done once.
//!
//! - [`blocking`] drives a [`reportflow::ReportJob`] over real sockets with
//!   a blocking HTTP client (`ureq`): the ten-line run loop of the
//!   `reportflow` crate docs, written once for the CLI, the end-to-end tests
//!   and any Rust program that is happy to block a thread per job.
//! - [`nonblocking`] (the `tokio` feature) is the same loop on a tokio
//!   runtime over `reqwest`: many jobs, one connection pool, no thread per
//!   job.
//! - [`signer`] answers the jobs' signing requests: the [`signer::Signer`]
//!   trait (a KMS or HSM client implements it) and, with `rsa-signer`,
//!   `RsaSigner` for a private key this process holds.
//! - [`fleet`] (the `fleet` feature) runs many jobs in one process, durable
//!   in SQLite, under rate budgets shared by every job of an account.
//! - [`wall_clock`] reads the time as the core wants it; a [`Clock`] may
//!   compress it for simulations.
//! - [`sim_server`] (the `sim` feature) serves the reportflow simulators
//!   ([`reportflow::sim::Sandbox`]) on a local socket (HTTP/1.1,
//!   CORS-enabled, request log at `/_sim/requests`) for end-to-end tests,
//!   the CLI's `sim` and `demo` commands and browser tests.
//!
//! This crate does I/O and reads the clock; `reportflow` itself never does.
//!
//! # Features
//! - `sim`: [`sim_server`]; turns on `reportflow/sim`. Off by default, so a
//!   program that only fetches reports gets neither the simulators nor the
//!   server.
//! - `tokio`: [`nonblocking`] (tokio + reqwest with rustls). Off by default.
//! - `fleet`: [`fleet`] (implies `tokio`; sqlx with SQLite).
//! - `rsa-signer`: `signer::RsaSigner` (RSASSA-PSS with the OS's random
//!   source), used by the CLI's `--private-key-file`.
//!
// Links into `sim_server` resolve only with the feature; without it they
// lead to the features section above (so `cargo doc` without `sim` stays
// clean).
#![cfg_attr(
    not(feature = "sim"),
    doc = "[`sim_server`]: #features\n[`reportflow::sim::Sandbox`]: #features"
)]
#![cfg_attr(not(feature = "tokio"), doc = "[`nonblocking`]: #features")]
#![cfg_attr(not(feature = "fleet"), doc = "[`fleet`]: #features")]
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

// The unit tests cover the simulator server too. The self dev-dependency in
// host/Cargo.toml turns `sim` on for every test build.
#[cfg(all(test, not(feature = "sim")))]
compile_error!("reportflow-host's tests need the `sim` feature (see the self dev-dependency in host/Cargo.toml)");

pub mod blocking;
mod clock;
#[cfg(feature = "fleet")]
pub mod fleet;
#[cfg(feature = "sim")]
mod http1;
#[cfg(feature = "tokio")]
pub mod nonblocking;
mod run_loop;
pub mod signer;
#[cfg(feature = "sim")]
pub mod sim_server;

use std::time::{SystemTime, UNIX_EPOCH};

use reportflow::Millis;

pub use clock::Clock;

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
