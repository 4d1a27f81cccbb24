//! `reportflow`: fetch marketplace reports over real HTTP with the
//! `reportflow` state machines, and serve or demo the simulators.
//!
//! The commands are thin hosts: every decision (which request, how long to
//! wait, what a status means, whether bytes are good) is the core's; this
//! binary moves bytes, sleeps, writes files and draws progress.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod demo;
mod fetch;
mod output;
mod parts;
mod progress;
mod providers;
mod serve;
mod state;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when the report failed (the job ended `Failed`).
const EXIT_REPORT_FAILED: u8 = 1;
/// Exit status for unusable arguments, credentials or state files.
const EXIT_USAGE: u8 = 2;
/// Exit status when a local file or socket could not be used.
const EXIT_LOCAL_IO: u8 = 3;

/// Fetch marketplace reports: create → poll → download → verify, with
/// retries, rate limits and resumable state.
#[derive(Debug, Parser)]
#[command(
    name = "reportflow",
    version,
    after_help = "Exit status: 0 the report was fetched and verified; 1 the report failed; \
                  2 bad arguments, credentials or state file; 3 a local file or socket failed."
)]
struct Cli {
    /// Hide progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run every provider end to end against in-process simulators over
    /// loopback HTTP and print a table; exit 0 only if every report verified.
    Demo(demo::DemoArgs),
    /// Serve the simulators over HTTP until killed. The first line of stdout
    /// is the API origin (pass it as `fetch --base-url`), a space, and the
    /// download host's origin.
    Sim(serve::SimArgs),
    /// Fetch one report and write it to a file or stdout.
    Fetch(fetch::FetchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args, cli.quiet),
        Command::Sim(args) => serve::run(&args),
        Command::Fetch(args) => fetch::run(args, cli.quiet),
    }
}
