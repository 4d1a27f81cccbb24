//! `reportflow fetch PROVIDER`: one report over real HTTP, streamed to a
//! file only once verified, resumable with `--state`.

use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use reportflow::providers::Provider;
use reportflow::{
    Action, Blame, DataChunk, Error, Event, JobConfig, JobSpec, Outcome, PollPolicy, ReportFailure,
    ReportJob, RetryPolicy, Summary, Warning,
};
use reportflow_host::blocking::{drive, Step, Transport};
use reportflow_host::wall_clock;
use serde::Serialize;

use crate::output::{Destination, PartialReport};
use crate::parts::PartsReport;
use crate::progress::ProgressView;
use crate::providers::{FetchProvider, SplitRange};
use crate::state::StateFile;
use crate::{EXIT_LOCAL_IO, EXIT_NO_DATA, EXIT_REPORT_FAILED, EXIT_USAGE};

/// Flags of `fetch`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FetchArgs {
    #[command(subcommand)]
    provider: FetchProvider,
    /// API origin of a simulator (the first URL `reportflow sim` prints), used
    /// for the provider's API and auth: requests go to URL/PROVIDER/…
    /// Without credentials, the simulator's own are used.
    #[arg(long, global = true, value_name = "URL", help_heading = "Connection")]
    base_url: Option<String>,
    /// Where the verified report goes: a file, or `-` for stdout (written
    /// only after verification). Default: stdout, or nowhere with --json.
    #[arg(
        long,
        short,
        global = true,
        value_name = "FILE|-",
        help_heading = "Output"
    )]
    out: Option<String>,
    /// Persist the job here after every step and resume from it if it
    /// exists: a rerun after a crash continues the same report (with the
    /// base URL, seed and report flags it started with). Deleted once the
    /// report is fetched or has failed for good.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Output")]
    state: Option<PathBuf>,
    /// Print one JSON object with the outcome on stdout.
    #[arg(long, global = true, help_heading = "Output")]
    json: bool,
    /// Seed of the retry and poll jitter.
    #[arg(long, global = true, default_value_t = 0, help_heading = "Connection")]
    seed: u64,
    /// Delay before the first status poll, in ms (later polls back off up
    /// to 60 s).
    #[arg(long, global = true, value_name = "MS", help_heading = "Connection")]
    poll_ms: Option<u64>,
    /// Delay before the first retry of a failed step, in ms (later retries
    /// back off up to 120 s).
    #[arg(long, global = true, value_name = "MS", help_heading = "Connection")]
    retry_ms: Option<u64>,
    /// Refuse reports that decode to more than this many bytes (kind
    /// `report_too_large`, after one download). Default: 16 GiB.
    #[arg(long, global = true, value_name = "BYTES", help_heading = "Output")]
    max_report_bytes: Option<u64>,
    /// When the answer to the report request was lost (or the run was
    /// killed while it was in flight), request the report again although
    /// the provider may then hold two. Without it the run stops with
    /// `report_may_exist`.
    #[arg(long, global = true, help_heading = "Connection")]
    allow_duplicate_report: bool,
    /// Timeout of each API request (e.g. 30s, 2m; a bare number is
    /// seconds). Report downloads get 30 minutes unless this is longer.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    timeout: Option<u64>,
    /// Give up this long after the run starts (e.g. 90m, 6h; default 6h).
    /// A resumed run gets its own deadline, counted from its start.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, help_heading = "Connection")]
    deadline: Option<u64>,
}

/// A duration in milliseconds from `500ms`, `30s`, `10m`, `6h` or a bare
/// number of seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (text, 1_000)
    };
    let value: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: give e.g. 500ms, 30s, 10m or 6h"))?;
    match value.checked_mul(unit_ms) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(format!(
            "`{text}` is out of range: give a positive duration"
        )),
    }
}

/// The outcome contract, shown by `reportflow fetch --help`.
pub(crate) const FETCH_AFTER_HELP: &str = "\
Outcomes (--json prints exactly one JSON object on stdout for every exit, with `outcome`, `kind`, `exit`, `message`):
  outcome        kind                                   exit  meaning
  done           verified                               0     the report was fetched, verified and written
  no_data        no_data                                4     the provider has no data for the request; nothing written
  failed         report_too_large                       1     over JobConfig.reportLimits; raise the limit or narrow the report
  failed         report_failed                          1     the provider will not produce the report (failed, cancelled, …)
  failed         rejected                               1     the provider refused the request (credentials, parameters)
  failed         retries_exhausted                      1     throttling, 5xx or network failures outlasted the retries
  failed         report_may_exist                       1     the report request's answer was lost; rerun with --allow-duplicate-report
  failed         deadline_exceeded                      1     --deadline passed; rerun with the same --state to continue
  failed         md5_mismatch, gzip, zip, records, …    1     the report body failed verification; nothing written
  usage_error    bad_arguments, bad_state_file          2     fix the flags, credentials or state file
  local_failure  local_io                               3     a local file or socket failed (path, permissions, space)
On `failed`, `blame` (provider, network, config, data, host) says who has to act and `retryable` whether rerunning may help.";

/// The one JSON object `--json` prints, whatever the exit (the contract is
/// in `FETCH_AFTER_HELP` and the README).
#[derive(Debug, Serialize)]
struct JsonOutcome {
    /// `done`, `no_data`, `failed`, `usage_error` or `local_failure`.
    outcome: &'static str,
    /// The process's exit status.
    exit: u8,
    provider: Provider,
    /// `verified`, `no_data`, the error's stable code on `failed`
    /// (`report_too_large`, `report_failed`, `rejected`,
    /// `retries_exhausted`, …), or the local failure's.
    kind: String,
    /// How the provider described a report it will not deliver (`fatal`,
    /// `cancelled`, `tooLarge`, `notFound`, `resourceNotFound`), when `kind`
    /// is `report_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<ReportFailure>,
    /// Who has to act, on failure.
    blame: Option<Blame>,
    /// Whether running again may succeed unchanged, on failure.
    retryable: Option<bool>,
    message: String,
    report_id: Option<String>,
    bytes: Option<u64>,
    rows: Option<u64>,
    /// MD5 of the report as transferred.
    md5: Option<String>,
    requests: u32,
    /// Where the report was written, when it was written to a file.
    output: Option<PathBuf>,
    /// What a verified report lacks (e.g. a partial report), if anything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    /// The files of a multi-part report, when written under --out DIR.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<PathBuf>,
}

/// Where provisional report bytes go: one file, or one file per part.
enum Sink {
    Single(PartialReport),
    Parts(PartsReport),
}

impl Sink {
    fn write(&mut self, chunk: &DataChunk) -> io::Result<()> {
        match self {
            Self::Single(report) => report.write(chunk),
            Self::Parts(parts) => parts.write(chunk),
        }
    }

    fn reset(&mut self) -> io::Result<()> {
        match self {
            Self::Single(report) => report.reset(),
            Self::Parts(parts) => parts.reset(),
        }
    }

    fn discard(self) {
        match self {
            Self::Single(report) => report.discard(),
            Self::Parts(parts) => parts.discard(),
        }
    }

    /// Moves the verified report into place; returns the file (single) or
    /// the files (parts) written.
    fn commit(self, summary: &Summary) -> io::Result<(Option<PathBuf>, Vec<PathBuf>)> {
        match self {
            Self::Single(report) => report.commit().map(|path| (path, Vec::new())),
            Self::Parts(parts) => parts.commit(&summary.parts).map(|files| (None, files)),
        }
    }
}

/// A failure of this process rather than of the report.
struct LocalFailure {
    message: String,
    /// `bad_arguments`, `bad_state_file` or `local_io`.
    kind: &'static str,
    exit: u8,
}

impl LocalFailure {
    /// Flags, credentials or a report spec that cannot be used.
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: "bad_arguments",
            exit: EXIT_USAGE,
        }
    }

    /// A `--state` file that cannot be read or resumed.
    fn state(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: "bad_state_file",
            exit: EXIT_USAGE,
        }
    }

    fn io(what: &str, error: &io::Error) -> Self {
        Self {
            message: format!("{what}: {error} — check the path, permissions and free space"),
            kind: "local_io",
            exit: EXIT_LOCAL_IO,
        }
    }
}

pub(crate) fn run(args: FetchArgs, quiet: bool) -> ExitCode {
    match fetch(&args, quiet) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("reportflow: {}", failure.message);
            if args.json {
                let outcome = if failure.exit == EXIT_USAGE {
                    "usage_error"
                } else {
                    "local_failure"
                };
                print_json_line(&serde_json::json!({
                    "outcome": outcome,
                    "exit": failure.exit,
                    "provider": args.provider.provider(),
                    "kind": failure.kind,
                    "message": failure.message,
                }));
            }
            ExitCode::from(failure.exit)
        }
    }
}

/// Prints `--json`'s one line.
pub(crate) fn print_json_line(value: &impl Serialize) {
    // Serializing plain data cannot fail; an empty object beats a panic.
    println!(
        "{}",
        serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
    );
}

fn fetch(args: &FetchArgs, quiet: bool) -> Result<ExitCode, LocalFailure> {
    match args.provider.split_plan(wall_clock()) {
        Some(plan) => fetch_ranges(args, plan.map_err(LocalFailure::usage)?, quiet),
        None => fetch_one(args, quiet),
    }
}

/// `--split`: one report per range, in order, each a whole `fetch` of its
/// own into `--out DIR/START_END.json` with its state file beside it.
///
/// A range whose report is already there (and has no state file, so it
/// was committed whole) is kept, not fetched again: a rerun after a crash
/// or a failed range resumes the range in flight and fetches only what is
/// missing. A failed range does not stop the others (they are independent
/// reports); a local failure (disk, flags) stops the run, since every
/// later range would meet it too.
fn fetch_ranges(
    args: &FetchArgs,
    ranges: Vec<SplitRange>,
    quiet: bool,
) -> Result<ExitCode, LocalFailure> {
    let dir = match args.out.as_deref() {
        Some(out) if out != "-" => PathBuf::from(out),
        _ => {
            return Err(LocalFailure::usage(
                "--split fetches one report per range: give --out DIR to hold them",
            ))
        }
    };
    if args.state.is_some() {
        return Err(LocalFailure::usage(
            "--split keeps each range's state beside its report in --out DIR: drop --state",
        ));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| LocalFailure::io("cannot create the --out directory", &e))?;
    let total = ranges.len();
    let (mut failed, mut no_data) = (0_usize, 0_usize);
    for range in ranges {
        let name = format!("{}_{}", range.start_date, range.end_date);
        let out = dir.join(format!("{name}.json"));
        let state = dir.join(format!("{name}.state.json"));
        if out.exists() && !state.exists() {
            print_kept(args, &range, &out);
            continue;
        }
        let part = FetchArgs {
            provider: range.provider,
            out: Some(out.to_string_lossy().into_owned()),
            state: Some(state),
            ..args.clone()
        };
        let code = fetch_one(&part, quiet)?;
        if code == ExitCode::from(EXIT_REPORT_FAILED) {
            failed += 1;
        } else if code == ExitCode::from(EXIT_NO_DATA) {
            no_data += 1;
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_REPORT_FAILED)
    } else if no_data == total {
        ExitCode::from(EXIT_NO_DATA)
    } else {
        ExitCode::SUCCESS
    })
}

/// A `--split` range whose report an earlier run already fetched.
fn print_kept(args: &FetchArgs, range: &SplitRange, out: &Path) {
    if args.json {
        print_json_line(&serde_json::json!({
            "outcome": "kept",
            "exit": 0,
            "provider": args.provider.provider(),
            "start_date": range.start_date,
            "end_date": range.end_date,
            "output": out,
        }));
    } else {
        eprintln!(
            "reportflow: {} {}..{} already fetched: kept {}",
            args.provider.provider(),
            range.start_date,
            range.end_date,
            out.display()
        );
    }
}

fn fetch_one(args: &FetchArgs, quiet: bool) -> Result<ExitCode, LocalFailure> {
    let provider = args.provider.provider();
    let destination = match (&args.out, args.json) {
        (Some(out), _) if out == "-" && args.json => {
            return Err(LocalFailure::usage(
                "--out - and --json both want stdout; write the report to a file",
            ))
        }
        (Some(out), _) => Destination::parse(out),
        (None, true) => Destination::Discard,
        (None, false) => Destination::Stdout,
    };
    let base_url = args
        .base_url
        .as_deref()
        .map(|url| url.trim_end_matches('/'));
    let now = wall_clock();
    let (spec, credentials) = args
        .provider
        .job(now, base_url.is_some())
        .map_err(LocalFailure::usage)?;
    let signer = args
        .provider
        .signer(base_url.is_some())
        .map_err(LocalFailure::usage)?;
    let multipart = matches!(&spec, JobSpec::YandexMarket(spec) if spec.delivers_parts());
    if multipart && args.out.as_deref() == Some("-") {
        return Err(LocalFailure::usage(
            "this report is a ZIP archive of one file per sheet: give --out DIR, not stdout",
        ));
    }
    if multipart && args.out.is_none() && !args.json {
        return Err(LocalFailure::usage(
            "this report is a ZIP archive of one file per sheet: give --out DIR (or use --format file)",
        ));
    }
    if let (Destination::File(path), false) = (&destination, multipart) {
        // Checked before any request: a directory is no place for one file.
        let named_dir = args.out.as_deref().is_some_and(|out| out.ends_with('/'));
        if named_dir || path.is_dir() {
            return Err(LocalFailure::usage(format!(
                "--out {} is a directory; name the file to write the report to",
                path.display()
            )));
        }
    }
    let mut state = args.state.clone().map(StateFile::new);
    let mut progress = ProgressView::new(provider, quiet);

    let resumed = match &mut state {
        Some(state) => state.load().map_err(LocalFailure::state)?,
        None => None,
    };
    let mut job = match resumed {
        Some(snapshot) => {
            let config = job_config(args, base_url, provider);
            let deadline_ms = config.deadline_ms;
            let mut job = ReportJob::restore(snapshot, config, credentials, now).map_err(|e| {
                LocalFailure::state(format!(
                    "cannot resume from the state file: {e} — delete it to start a new report"
                ))
            })?;
            // This run's deadline counts from this run's start: a job that
            // timed out continues when rerun.
            job.set_deadline(now.saturating_add(deadline_ms));
            if job.is_finished() {
                // A state file is untrusted: a `Done` it claims is believed
                // only with the output's bytes and MD5 (a finished job's
                // state is deleted, so this is an edited or stale file).
                if let Action::Done(summary) = job.poll(now) {
                    check_claimed_done(args, &summary)?;
                    if let Some(state) = &state {
                        state
                            .remove()
                            .map_err(|e| LocalFailure::io("cannot delete the state file", &e))?;
                    }
                    let output = args.out.as_deref().map(PathBuf::from);
                    print_done(args, provider, &summary, output, Vec::new());
                    return Ok(if summary.outcome == Outcome::NoData {
                        ExitCode::from(EXIT_NO_DATA)
                    } else {
                        ExitCode::SUCCESS
                    });
                }
            }
            if let Some(state) = &state {
                let report = job
                    .report_id()
                    .map_or_else(|| "the job".to_owned(), |id| format!("report {id}"));
                progress.note(&format!(
                    "resuming {report} from {}",
                    state.path().display()
                ));
            }
            job
        }
        None => {
            let config = job_config(args, base_url, provider);
            ReportJob::new(spec, config, credentials, now)
                .map_err(|e| LocalFailure::usage(e.to_string()))?
        }
    };

    let mut report = match (&destination, multipart) {
        (Destination::File(dir), true) => Sink::Parts(
            PartsReport::create(dir)
                .map_err(|e| LocalFailure::io("cannot create the output directory", &e))?,
        ),
        _ => Sink::Single(
            PartialReport::create(destination)
                .map_err(|e| LocalFailure::io("cannot create the output file", &e))?,
        ),
    };
    let mut local_error: Option<LocalFailure> = None;
    let mut transport = Transport::new();
    if let Some(signer) = signer {
        transport = transport.with_signer(signer);
    }
    let result = drive(&mut job, &mut transport, |job, step| {
        let written = match step {
            Step::Event(event) => {
                progress.on_event(event);
                match event {
                    Event::Data(chunk) => report
                        .write(chunk)
                        .map_err(|e| LocalFailure::io("cannot write the report", &e)),
                    Event::DataReset { .. } => report
                        .reset()
                        .map_err(|e| LocalFailure::io("cannot write the report", &e)),
                    // The id must be on disk before anything else happens:
                    // a crash now must not lead to a second report.
                    Event::ReportCreated { .. } => save(&mut state, job),
                    _ => Ok(()),
                }
            }
            Step::Idle { .. } => save(&mut state, job),
            // The key cannot sign what the job asks (another key id): only
            // the user can fix that; the state file stays for the rerun.
            Step::SignFailed { reason } => Err(LocalFailure::usage(reason)),
            // On disk before it goes out: a create in flight is on record,
            // so a rerun after a crash never creates a second report.
            Step::Sending(_) => {
                progress.on_sending();
                save(&mut state, job)
            }
            _ => Ok(()),
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(failure) => {
                local_error = Some(failure);
                ControlFlow::Break(())
            }
        }
    });
    progress.finish();

    if let Some(failure) = local_error {
        // The state file stays: a rerun continues the same report.
        report.discard();
        return Err(failure);
    }
    match result {
        Ok(summary) if summary.outcome == Outcome::NoData => {
            // Nothing to write: the provider says the request has no data.
            report.discard();
            if let Some(state) = &state {
                state
                    .remove()
                    .map_err(|e| LocalFailure::io("cannot delete the state file", &e))?;
            }
            print_done(args, provider, &summary, None, Vec::new());
            Ok(ExitCode::from(EXIT_NO_DATA))
        }
        Ok(summary) => {
            let what = if matches!(args.out.as_deref(), Some("-") | None) {
                "cannot write the report to stdout"
            } else {
                "cannot move the report into place"
            };
            let (output, files) = report
                .commit(&summary)
                .map_err(|e| LocalFailure::io(what, &e))?;
            if let Some(state) = &state {
                state
                    .remove()
                    .map_err(|e| LocalFailure::io("cannot delete the state file", &e))?;
            }
            print_done(args, provider, &summary, output, files);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            report.discard();
            let kept_state = match &state {
                Some(state) if resumable(&error) => Some(state.path().to_owned()),
                Some(state) => {
                    state
                        .remove()
                        .map_err(|e| LocalFailure::io("cannot delete the state file", &e))?;
                    None
                }
                None => None,
            };
            print_failed(args, provider, &job, &error, kept_state);
            Ok(ExitCode::from(EXIT_REPORT_FAILED))
        }
    }
}

fn job_config(args: &FetchArgs, base_url: Option<&str>, provider: Provider) -> JobConfig {
    let mut config = JobConfig::default();
    config.seed = args.seed;
    config.allow_duplicate_reports = args.allow_duplicate_report;
    if let Some(timeout_ms) = args.timeout {
        config.request_timeout_ms = timeout_ms;
        config.download_timeout_ms = config.download_timeout_ms.max(timeout_ms);
    }
    if let Some(deadline_ms) = args.deadline {
        config.deadline_ms = deadline_ms;
    }
    if let Some(url) = base_url {
        // A simulator serves every provider under its own path prefix, and
        // its auth endpoints next to the API.
        let origin = format!("{url}/{}", provider.as_str());
        config.base_url = Some(origin.clone());
        config.auth_base_url = Some(origin);
    }
    if let Some(poll_ms) = args.poll_ms {
        config.poll = PollPolicy::new(poll_ms, config.poll.max_delay_ms.max(poll_ms));
    }
    if let Some(max) = args.max_report_bytes {
        config.report_limits.max_decompressed_bytes = max;
    }
    if let Some(retry_ms) = args.retry_ms {
        let defaults = config.retry;
        config.retry = RetryPolicy::new(
            defaults.max_attempts,
            retry_ms,
            defaults.max_delay_ms.max(retry_ms),
        );
    }
    config
}

/// A restored job that claims to be done: only believed when `--out`
/// holds bytes of the summary's size and MD5 (the MD5 is of the report as
/// transferred, so only an uncompressed single file can be checked).
fn check_claimed_done(args: &FetchArgs, summary: &Summary) -> Result<(), LocalFailure> {
    let refuse = |why: &str| {
        LocalFailure::state(format!(
            "the state file says the report is done, but {why}; delete the state file to fetch the report again"
        ))
    };
    if summary.outcome == Outcome::NoData {
        return Ok(());
    }
    let Some(out) = args.out.as_deref().filter(|out| *out != "-") else {
        return Err(refuse("there is no --out file to check it against"));
    };
    let bytes = std::fs::read(out).map_err(|_| refuse(&format!("{out} cannot be read")))?;
    let md5 = reportflow::integrity::Md5::digest(&bytes).to_hex();
    if summary.gzip || bytes.len() as u64 != summary.bytes || md5 != summary.md5 {
        return Err(refuse(&format!(
            "{out} does not hold it ({} bytes, md5 {md5})",
            bytes.len()
        )));
    }
    Ok(())
}

fn save(state: &mut Option<StateFile>, job: &ReportJob) -> Result<(), LocalFailure> {
    match state {
        Some(state) => state
            .save(job)
            .map_err(|e| LocalFailure::io("cannot write the state file", &e)),
        None => Ok(()),
    }
}

/// Whether the state file is worth keeping after a failure: only when the
/// job stopped short of an answer and a later run can continue the same
/// report. Any other failure is final for that report, so a rerun should
/// start afresh.
fn resumable(error: &Error) -> bool {
    matches!(
        error,
        // A report may exist: a rerun must not start afresh (and create
        // another) unless asked to with --allow-duplicate-report.
        Error::DeadlineExceeded { .. } | Error::Cancelled | Error::ReportMayExist { .. }
    )
}

fn print_done(
    args: &FetchArgs,
    provider: Provider,
    summary: &Summary,
    output: Option<PathBuf>,
    files: Vec<PathBuf>,
) {
    let no_data = summary.outcome == Outcome::NoData;
    for warning in &summary.warnings {
        eprintln!(
            "reportflow: warning: {provider} report {}: {warning}",
            summary.report_id
        );
    }
    if no_data {
        eprintln!(
            "{provider} report {}: no data for this request (NO_DATA) — check the period, ids and filters; nothing was written",
            summary.report_id
        );
    }
    if args.json {
        let message = if no_data {
            "no data for this request; nothing was written".to_owned()
        } else {
            format!("{} rows verified", summary.rows)
        };
        let outcome = JsonOutcome {
            outcome: if no_data { "no_data" } else { "done" },
            exit: if no_data { EXIT_NO_DATA } else { 0 },
            provider,
            kind: if no_data { "no_data" } else { "verified" }.to_owned(),
            failure: None,
            warnings: summary.warnings.clone(),
            blame: None,
            retryable: None,
            message,
            report_id: Some(summary.report_id.clone()),
            bytes: Some(summary.bytes),
            rows: Some(summary.rows),
            md5: Some(summary.md5.clone()),
            requests: summary.requests,
            output,
            files,
        };
        print_json_line(&outcome);
    } else if no_data {
        // The no-data line above is the whole report.
    } else if !files.is_empty() {
        eprintln!(
            "{provider} report {}: {} rows in {} files, {} bytes, md5 {} (archive), {} requests",
            summary.report_id,
            summary.rows,
            files.len(),
            summary.bytes,
            summary.md5,
            summary.requests
        );
        for (file, part) in files.iter().zip(&summary.parts) {
            eprintln!("  {} ({} rows)", file.display(), part.rows);
        }
    } else {
        let destination = output
            .map(|path| format!(" → {}", path.display()))
            .unwrap_or_default();
        eprintln!(
            "{provider} report {}: {} rows, {} bytes, md5 {}, {} requests{destination}",
            summary.report_id, summary.rows, summary.bytes, summary.md5, summary.requests
        );
    }
}

fn print_failed(
    args: &FetchArgs,
    provider: Provider,
    job: &ReportJob,
    error: &Error,
    kept_state: Option<PathBuf>,
) {
    let mut remedy = remedy(error.blame()).to_owned();
    match (&kept_state, error) {
        (Some(path), Error::ReportMayExist { .. }) => {
            remedy = format!(
                "{} is kept: rerun with it and --allow-duplicate-report to request another report",
                path.display()
            )
        }
        (Some(path), _) => remedy.push_str(&format!(
            "; rerun with --state {} to continue the same report",
            path.display()
        )),
        (None, _) => {}
    }
    eprintln!(
        "reportflow: {provider} report failed ({}, blame: {}): {error} — {remedy}",
        error.kind(),
        blame_label(error.blame())
    );
    if args.json {
        let outcome = JsonOutcome {
            outcome: "failed",
            exit: EXIT_REPORT_FAILED,
            provider,
            kind: error.kind().as_str().to_owned(),
            failure: match error {
                Error::ReportFailed { failure, .. } => Some(*failure),
                _ => None,
            },
            blame: Some(error.blame()),
            retryable: Some(error.is_retryable()),
            message: error.to_string(),
            report_id: job.report_id().map(ToOwned::to_owned),
            bytes: None,
            rows: None,
            md5: None,
            requests: job.requests_sent(),
            output: None,
            warnings: Vec::new(),
            files: Vec::new(),
        };
        print_json_line(&outcome);
    }
}

fn blame_label(blame: Blame) -> &'static str {
    match blame {
        Blame::Provider => "provider",
        Blame::Network => "network",
        Blame::Config => "config",
        Blame::Data => "data",
        Blame::Host => "host",
        _ => "unknown",
    }
}

/// What the user can do, by who has to act.
fn remedy(blame: Blame) -> &'static str {
    match blame {
        Blame::Config => {
            "fix the credentials or report flags; running again unchanged will not help"
        }
        Blame::Network => "check the network and --base-url, then run again",
        Blame::Provider => "the provider failed; run again later",
        Blame::Data => "nothing was written (a corrupt report is never saved); run again",
        Blame::Host => "the run was stopped",
        _ => "see the message",
    }
}
