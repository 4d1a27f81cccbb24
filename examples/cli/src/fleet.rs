//! `reportflow fleet`: run a plan of many report jobs from a durable store
//! (SQLite by default, PostgreSQL for workers on many machines), join a
//! running fleet as a worker, and show the store's jobs.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reportflow::providers::Provider;
use reportflow::{Credentials, JobConfig};
use reportflow_host::fleet::plan::{self, Account, Plan};
use reportflow_host::fleet::{Accounts, Finished, Fleet, FleetConfig, FleetEvent, JobRow, Store};
use reportflow_host::nonblocking::Transport;
use reportflow_host::signer::{RsaSigner, Signer};
use reportflow_host::wall_clock;

use crate::{EXIT_LOCAL_IO, EXIT_REPORT_FAILED, EXIT_USAGE};

/// Flags of `fleet`.
#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    #[command(subcommand)]
    command: FleetCommand,
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Plan PLAN.toml's jobs into the store (idempotent: jobs already there
    /// are kept as they are) and run them until every one has ended (or,
    /// with --follow, forever). Prints the manifest at the end.
    Run(RunArgs),
    /// Join a running fleet (a PostgreSQL store shared by machines): claim
    /// due jobs until none is left (or, with --follow, forever). Accounts'
    /// credentials are found as the plan says (env:VAR, file:PATH) on this
    /// machine; the store holds only those references.
    Worker(WorkArgs),
    /// Print the store's jobs: key, provider, state, attempts, report id,
    /// rows, file.
    Status(StoreArgs),
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The store: sqlite:FILE (created when missing; one machine) or
    /// postgres://USER@HOST[:PORT]/DATABASE (workers on many machines; the
    /// password from PGPASSWORD or ~/.pgpass, or in the URL).
    #[arg(long, default_value = "sqlite:reportflow.db", value_name = "URL")]
    store: String,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The plan: accounts and the reports to fetch for them (see
    /// examples/fleet/sample.toml).
    plan: PathBuf,
    #[command(flatten)]
    work: WorkArgs,
}

#[derive(Debug, Args)]
struct WorkArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Jobs run at once by this process.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Reports downloading at once.
    #[arg(long, default_value_t = 8)]
    downloads: usize,
    /// Where reports and the manifest (manifest.jsonl) are written.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    out: PathBuf,
    /// API origin of a simulator (`reportflow sim`'s first URL): every
    /// account's requests go there; accounts with `credentials = "sim"` use
    /// the simulator's own.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Keep running after the plan is done, picking up jobs as they fall due.
    #[arg(long)]
    follow: bool,
    /// JSON lines on stdout instead of the progress view (also when stderr
    /// is not a terminal).
    #[arg(long)]
    json: bool,
    /// How long a claimed job stays this worker's without a renewal
    /// (renewed every third of it): a worker that dies loses its jobs to
    /// the others after this.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    lease_ms: u64,
}

pub(crate) fn run(args: FleetArgs, quiet: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("reportflow fleet: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_LOCAL_IO);
        }
    };
    let outcome = runtime.block_on(async {
        match args.command {
            FleetCommand::Run(args) => run_plan(args, quiet).await,
            FleetCommand::Worker(args) => {
                let store = open(&args.store).await?;
                work(args, store, None, quiet).await
            }
            FleetCommand::Status(args) => status(&args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("reportflow fleet: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

async fn open(store: &StoreArgs) -> Result<Store, Failure> {
    Store::open(&store.store)
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))
}

/// The accounts the store names: endpoints (a simulator's with
/// --base-url) and credentials by reference, resolved each time a job is
/// claimed.
struct StoreAccounts {
    accounts: HashMap<String, Account>,
    base_url: Option<String>,
}

impl Accounts for StoreAccounts {
    fn job_config(&self, _account: &str, provider: Provider) -> Result<JobConfig, String> {
        let mut config = JobConfig::default();
        if let Some(url) = &self.base_url {
            let origin = format!("{url}/{}", provider.as_str());
            config.base_url = Some(origin.clone());
            config.auth_base_url = Some(origin);
        }
        Ok(config)
    }

    fn credentials(&self, account: &str, provider: Provider) -> Result<Credentials, String> {
        let found = self.accounts.get(account).ok_or_else(|| {
            format!("account {account} is not in the store: it came with a plan submitted after this worker started; restart the worker")
        })?;
        if found.credentials == "sim" {
            if self.base_url.is_none() {
                return Err(format!(
                    "account {account}: credentials = \"sim\" needs --base-url (a simulator)"
                ));
            }
            return Ok(reportflow::sim::sample_job(provider, wall_clock()).1);
        }
        plan::credentials(found)
    }
}

async fn run_plan(args: RunArgs, quiet: bool) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&args.plan).map_err(|error| {
        (
            EXIT_USAGE,
            format!("cannot read {}: {error}", args.plan.display()),
        )
    })?;
    let plan = Plan::parse(&text).map_err(|error| (EXIT_USAGE, error.to_string()))?;
    let jobs = plan
        .jobs(wall_clock())
        .map_err(|error| (EXIT_USAGE, error.to_string()))?;
    let store = open(&args.work.store).await?;
    store
        .save_accounts(&plan.accounts)
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?;
    let added = store
        .submit(&jobs, wall_clock())
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?;
    work(args.work, store, Some((jobs.len() as u64, added)), quiet).await
}

/// Runs the store's due jobs as one worker (`fleet run` after planning;
/// `fleet worker`): `planned` is (jobs in the plan, new in the store).
async fn work(
    args: WorkArgs,
    store: Store,
    planned: Option<(u64, u64)>,
    quiet: bool,
) -> Result<ExitCode, Failure> {
    let json = args.json || !std::io::stderr().is_terminal();
    let base_url = args
        .base_url
        .map(|url| url.trim_end_matches('/').to_owned());
    let mut transport = Transport::new();
    if base_url.is_some() {
        // The simulated Amazon Pay merchant's key signs against a simulator.
        if let Ok(signer) = RsaSigner::from_pem(reportflow::sim::keys::MERCHANT_PRIVATE_KEY_PEM) {
            transport = transport.with_signer(Arc::new(signer) as Arc<dyn Signer>);
        }
    }
    let mut config = FleetConfig::new(format!("{}-{}", hostname(), std::process::id()), &args.out);
    config.workers = args.workers.max(1);
    config.downloads = args.downloads.max(1);
    config.lease_ms = args.lease_ms.max(1_000);
    let accounts = store
        .accounts()
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?
        .into_iter()
        .map(|account| (account.name.clone(), account))
        .collect();
    let accounts = Arc::new(StoreAccounts { accounts, base_url });
    let before = store
        .jobs()
        .await
        .map_err(|e| (EXIT_LOCAL_IO, e.to_string()))?;
    let total = before.len() as u64;
    let bar = if json || quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} fleet [{bar:30}] {pos}/{len} ended, {msg} (eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    if let (true, Some((jobs, added))) = (json, planned) {
        print_line(&serde_json::json!({"event": "planned", "jobs": jobs, "new": added}));
    }
    let view = bar.clone();
    let fleet = Fleet::new(store.clone(), transport, accounts, config)
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?
        .with_observer(move |event| {
            if json {
                print_line(&event_json(event));
            }
            if let FleetEvent::Finished { .. } = event {
                view.inc(1);
            }
        });
    let done_before = count(&before);
    bar.set_position(done_before.0 + done_before.1);
    let stats = fleet
        .run(args.follow)
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?;
    bar.finish_and_clear();
    let rows = store
        .jobs()
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?;
    let manifest: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.state == "done")
        .map(manifest_line)
        .collect();
    let path = args.out.join("manifest.jsonl");
    let text: String = manifest.iter().map(|line| format!("{line}\n")).collect();
    write_atomically(&path, &text).map_err(|error| (EXIT_LOCAL_IO, error))?;
    let (done, failed) = count(&rows);
    if json {
        for line in &manifest {
            print_line(&serde_json::json!({"event": "manifest", "entry": line}));
        }
        print_line(&serde_json::json!({
            "event": "summary", "done": done, "failed": failed, "requests": stats.requests,
            "statusRequests": stats.status_requests, "throttled": stats.throttled,
            "deferred": stats.deferred, "manifest": path.display().to_string(),
        }));
    } else {
        print!("{text}");
        eprintln!(
            "{done} done, {failed} failed; {} requests ({} status), {} throttled, {} deferred by shared budgets; manifest {}",
            stats.requests, stats.status_requests, stats.throttled, stats.deferred, path.display()
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_REPORT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

async fn status(args: &StoreArgs) -> Result<ExitCode, Failure> {
    let store = open(args).await?;
    let rows = store
        .jobs()
        .await
        .map_err(|error| (EXIT_LOCAL_IO, error.to_string()))?;
    println!(
        "{:<48} {:<14} {:<8} {:>3} {:<24} {:>8} FILE",
        "JOB", "PROVIDER", "STATE", "TRY", "REPORT", "ROWS"
    );
    for row in &rows {
        println!(
            "{:<48} {:<14} {:<8} {:>3} {:<24} {:>8} {}",
            row.key,
            row.provider,
            row.state,
            row.attempts,
            row.report_id.as_deref().unwrap_or("-"),
            row.rows
                .map_or_else(|| "-".to_owned(), |rows| rows.to_string()),
            row.output.as_deref().unwrap_or("-"),
        );
    }
    let (done, failed) = count(&rows);
    println!(
        "{} jobs: {done} done, {failed} failed, {} pending",
        rows.len(),
        rows.len() as u64 - done - failed
    );
    Ok(ExitCode::SUCCESS)
}

fn count(rows: &[JobRow]) -> (u64, u64) {
    let done = rows.iter().filter(|row| row.state == "done").count() as u64;
    let failed = rows.iter().filter(|row| row.state == "failed").count() as u64;
    (done, failed)
}

fn manifest_line(row: &JobRow) -> serde_json::Value {
    serde_json::json!({
        "job": row.key, "account": row.account, "provider": row.provider,
        "reportId": row.report_id, "rows": row.rows, "md5": row.md5, "path": row.output,
    })
}

fn event_json(event: &FleetEvent) -> serde_json::Value {
    match event {
        FleetEvent::Claimed { key, resumed } => {
            serde_json::json!({"event": "claimed", "job": key, "resumed": resumed})
        }
        FleetEvent::Parked { key, until } => {
            serde_json::json!({"event": "parked", "job": key, "until": until.as_u64()})
        }
        FleetEvent::Finished {
            key,
            finished:
                Finished::Done {
                    report_id,
                    rows,
                    md5,
                    output,
                    ..
                },
        } => {
            serde_json::json!({"event": "done", "job": key, "reportId": report_id, "rows": rows, "md5": md5, "path": output})
        }
        FleetEvent::Finished {
            key,
            finished: Finished::Failed { error },
        } => {
            let error: serde_json::Value = serde_json::from_str(error).unwrap_or_default();
            serde_json::json!({"event": "failed", "job": key, "error": error})
        }
        _ => serde_json::json!({"event": "other"}),
    }
}

fn print_line(value: &serde_json::Value) {
    println!("{value}");
}

/// Writes `text` to a temporary name beside `path` and renames it (the
/// name is this process's: workers sharing the directory each write the
/// whole manifest from the store, and the last rename wins).
fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension(format!("jsonl.{}.part", std::process::id()));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// This machine's name, for worker ids in leases.
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}
