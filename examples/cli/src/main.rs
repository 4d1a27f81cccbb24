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

mod amazon_pay;
mod demo;
mod fetch;
mod fleet;
mod output;
mod parts;
mod progress;
mod providers;
mod serve;
mod state;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when the report failed (the job ended `Failed`).
const EXIT_REPORT_FAILED: u8 = 1;
/// Exit status for unusable arguments, credentials or state files.
const EXIT_USAGE: u8 = 2;
/// Exit status when a local file or socket could not be used.
const EXIT_LOCAL_IO: u8 = 3;
/// Exit status when the provider answered that the request has no data
/// (nothing was written).
const EXIT_NO_DATA: u8 = 4;

/// Fetch marketplace reports: create → poll → download → verify, with
/// retries, rate limits and resumable state.
#[derive(Debug, Parser)]
#[command(
    name = "reportflow",
    version,
    after_help = "Exit status: 0 the report was fetched and verified; 1 the report failed; \
                  2 bad arguments, credentials or state file; 3 a local file or socket failed; \
                  4 the provider has no data for the request (nothing written)."
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
    #[command(after_help = fetch::FETCH_AFTER_HELP)]
    Fetch(fetch::FetchArgs),
    /// Amazon Pay report schedules: list, get, ensure, cancel (every call
    /// signed as `fetch amazon-pay` signs).
    AmazonPay(amazon_pay::AmazonPayArgs),
    /// Run many report jobs from a plan under rate budgets shared per
    /// account, durable in a store (SQLite by default, PostgreSQL across
    /// machines): `fleet run PLAN.toml`, `fleet worker`, `fleet status`.
    Fleet(fleet::FleetArgs),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return refuse_arguments(&error, &args),
    };
    match cli.command {
        Command::Demo(args) => demo::run(&args, cli.quiet),
        Command::Sim(args) => serve::run(&args),
        Command::Fetch(args) => fetch::run(args, cli.quiet),
        Command::AmazonPay(args) => amazon_pay::run(&args),
        Command::Fleet(args) => fleet::run(args, cli.quiet),
    }
}

/// Unusable arguments: clap's message on stderr (help and version on
/// stdout, exit 0) and, for `fetch --json` and `amazon-pay … --json`, the
/// one JSON outcome on stdout —
/// scripts get an object for every exit, this one included.
fn refuse_arguments(error: &clap::Error, args: &[OsString]) -> ExitCode {
    if !error.use_stderr() {
        // --help, --version: not an error.
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let _ = error.print();
    let command = args
        .iter()
        .skip(1)
        .find(|arg| *arg == "fetch" || *arg == "amazon-pay");
    if command.is_some() && args.iter().any(|arg| arg == "--json") {
        let rendered = error.render().to_string();
        let first_line = rendered.lines().next().unwrap_or_default();
        let reason = first_line.strip_prefix("error: ").unwrap_or(first_line);
        fetch::print_json_line(&serde_json::json!({
            "outcome": "usage_error",
            "exit": EXIT_USAGE,
            "provider": null,
            "kind": "bad_arguments",
            "message": format!(
                "{reason} — see `reportflow {} --help`",
                command.and_then(|c| c.to_str()).unwrap_or("fetch")
            ),
        }));
    }
    ExitCode::from(EXIT_USAGE)
}
