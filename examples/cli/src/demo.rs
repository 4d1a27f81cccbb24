//! `reportflow demo`: every provider end to end against in-process
//! simulators over loopback HTTP, checked against the simulators' ground
//! truth.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use reportflow::integrity::Md5;
use reportflow::sim::SandboxConfig;
use reportflow::{Event, JobConfig, PollPolicy, ReportJob, RetryPolicy};
use reportflow_host::blocking::{drive, Step, Transport};
use reportflow_host::sim_server::SimServer;
use reportflow_host::wall_clock;

use crate::progress::ProgressView;
use crate::providers::{ProviderEntry, PROVIDERS};
use crate::{EXIT_LOCAL_IO, EXIT_REPORT_FAILED};

/// Reports generate this fast in the demo…
const DEMO_GENERATION_MS: u64 = 400;
/// …and the jobs poll and retry this eagerly, so the demo takes seconds.
const DEMO_POLL_MS: u64 = 200;
const DEMO_RETRY_MS: u64 = 200;

/// Flags of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Seeds the simulators and the jobs' jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// One table row.
struct DemoResult {
    provider: String,
    outcome: String,
    verified: bool,
    rows: Option<u64>,
    bytes: Option<u64>,
    md5: Option<String>,
    requests: u32,
    elapsed: Duration,
}

pub(crate) fn run(args: &DemoArgs, quiet: bool) -> ExitCode {
    let config = SandboxConfig::default()
        .with_seed(args.seed)
        .with_generation_ms(DEMO_GENERATION_MS);
    let server = match SimServer::start("127.0.0.1:0", config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("reportflow: cannot start the simulators on 127.0.0.1: {error}");
            return ExitCode::from(EXIT_LOCAL_IO);
        }
    };
    let results: Vec<DemoResult> = PROVIDERS
        .iter()
        .map(|entry| run_one(&server, entry, args.seed, quiet))
        .collect();
    print_table(&results);
    if results.iter().all(|r| r.verified) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REPORT_FAILED)
    }
}

fn run_one(server: &SimServer, entry: &ProviderEntry, seed: u64, quiet: bool) -> DemoResult {
    let provider = entry.provider;
    let started = Instant::now();
    let mut result = DemoResult {
        provider: provider.to_string(),
        outcome: String::new(),
        verified: false,
        rows: None,
        bytes: None,
        md5: None,
        requests: 0,
        elapsed: Duration::ZERO,
    };
    let now = wall_clock();
    let (spec, credentials) = (entry.sample)(now);
    let config = demo_job_config(
        server.with_sandbox(|sandbox| sandbox.job_config(provider)),
        seed,
    );
    let mut job = match ReportJob::new(spec, config, credentials, now) {
        Ok(job) => job,
        Err(error) => {
            result.outcome = format!("invalid job: {error}");
            return result;
        }
    };
    let mut progress = ProgressView::new(provider, quiet);
    // Hash the decoded bytes as they stream; a reset starts the hash over.
    let mut content_md5 = Md5::new();
    // The simulated merchant's key answers signing requests (Amazon Pay).
    let mut transport = Transport::new();
    match crate::providers::simulated_signer() {
        Ok(signer) => transport = transport.with_signer(signer),
        Err(error) => {
            result.outcome = format!("no signer: {error}");
            return result;
        }
    }
    let outcome = drive(&mut job, &mut transport, |_, step| {
        match step {
            Step::Event(event) => {
                progress.on_event(event);
                match event {
                    Event::Data(chunk) => content_md5.update(&chunk.bytes),
                    Event::DataReset { .. } => content_md5 = Md5::new(),
                    _ => {}
                }
            }
            Step::Sending(_) => progress.on_sending(),
            _ => {}
        }
        ControlFlow::Continue(())
    });
    progress.finish();
    result.elapsed = started.elapsed();
    result.requests = job.requests_sent();
    match outcome {
        Ok(summary) => {
            let received = content_md5.finalize().to_hex();
            let truth = server
                .report_content(&summary.report_id)
                .map(|content| Md5::digest(&content).to_hex());
            result.verified = truth.as_deref() == Some(received.as_str());
            result.outcome = if result.verified {
                "verified"
            } else {
                "MISMATCH"
            }
            .to_owned();
            result.rows = Some(summary.rows);
            result.bytes = Some(summary.bytes);
            result.md5 = Some(received);
        }
        Err(error) => result.outcome = format!("failed: {}", error.kind()),
    }
    result
}

fn demo_job_config(mut config: JobConfig, seed: u64) -> JobConfig {
    config.seed = seed;
    config.poll = PollPolicy::new(DEMO_POLL_MS, config.poll.max_delay_ms);
    let retry = config.retry;
    config.retry = RetryPolicy::new(retry.max_attempts, DEMO_RETRY_MS, retry.max_delay_ms);
    config
}

fn print_table(results: &[DemoResult]) {
    let dash = || "-".to_owned();
    let header = [
        "provider",
        "outcome",
        "rows",
        "bytes",
        "md5 (decoded)",
        "requests",
        "time",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = results
        .iter()
        .map(|r| {
            [
                r.provider.clone(),
                r.outcome.clone(),
                r.rows.map_or_else(dash, |n| n.to_string()),
                r.bytes.map_or_else(dash, |n| n.to_string()),
                r.md5.clone().unwrap_or_else(dash),
                r.requests.to_string(),
                format!("{:.2}s", r.elapsed.as_secs_f64()),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
