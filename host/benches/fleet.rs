//! Benchmark of the fleet's idle jobs: what 10,000 and 100,000 waiting jobs
//! cost, and the scheduler's CPU per wake-up.
//!
//! Run with `cargo bench -p reportflow-host --features fleet,sim --bench fleet`.
//! For each N it plans N Amazon Ads jobs into a fresh SQLite store and
//! reports the process's resident memory growth per planned job (idle jobs
//! are rows, not tasks: nothing of them stays in memory) and the store's
//! bytes per job. It then wakes `REPORTFLOW_BENCH_WAKES` (2,000) of them
//! twice — claim with a lease, build (first wake) or restore from the
//! snapshot (second), take the snapshot, park with a wake-up — and reports
//! the wall and CPU time per wake-up, store writes (fsync'd) included.
//!
//!
//! Then issue 13's plan: 1,000 jobs of 50 accounts across every provider
//! (each account its own seller on its own simulators), the providers' own
//! quotas, 10 minutes to generate a report, the machines' own polling, in
//! time compressed 25 times (`REPORTFLOW_BENCH_ACCOUNTS`, `_REPORTS`,
//! `_GENERATION_MS`, `_SCALE`, `_WORKERS` change it). Not more: every store
//! write (about a millisecond, fsync'd) weighs `scale` times more in the
//! plan's time than in production, and at 100× the fleet's own writes, not
//! the quotas, set the pace (makespan 1.3× the bound there). It prints the makespan against
//! the quotas' lower bound, status requests per report against a fixed
//! 10-second poller's least, and throttled answers.

// A benchmark is a host: it reads the clock and /proc.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reportflow::rate::{Refill, TokenBucket};
use reportflow::sim::{keys, sample_job, Sandbox, SandboxConfig, SimRequest};
use reportflow::{Action, Input, Millis, Provider, ReportJob};
use reportflow_host::fleet::{Fleet, FleetConfig, FleetEvent, NewJob, SimSellers, Store};
use reportflow_host::nonblocking::Transport;
use reportflow_host::signer::{RsaSigner, Signer as _};
use reportflow_host::{wall_clock, Clock};

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// User + system CPU time of this process, in seconds.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

async fn wake(store: &Store, sandbox: &Sandbox, count: usize) -> (f64, f64) {
    let config = sandbox.job_config(Provider::AmazonAds);
    let credentials = sample_job(Provider::AmazonAds, wall_clock()).1;
    let started = (Instant::now(), cpu());
    let mut woken = 0;
    while woken < count {
        let now = wall_clock();
        // One claim for the round: parked jobs (due at once) must not be
        // claimed again before the round is over.
        let batch = count - woken;
        let claimed = store
            .claim("bench", now, now.saturating_add(30_000), batch)
            .await
            .unwrap();
        assert!(!claimed.is_empty(), "due jobs to claim");
        for job in claimed {
            let restored = match job.snapshot {
                Some(snapshot) => {
                    ReportJob::restore(snapshot, config.clone(), credentials.clone(), now).unwrap()
                }
                None => ReportJob::new(job.spec, config.clone(), credentials.clone(), now).unwrap(),
            };
            // Due again at once (before any job never woken), so the next
            // round claims exactly these, from their snapshots.
            store
                .park("bench", &job.key, &restored.snapshot(), Millis(1))
                .await
                .unwrap();
            woken += 1;
        }
    }
    let per = |total: f64| total / count as f64 * 1e6;
    (
        per(started.0.elapsed().as_secs_f64()),
        per(cpu() - started.1),
    )
}

/// The buckets a job's create draws from (its first request that draws
/// on a rate budget; token calls before it are answered by `sandbox`).
fn create_buckets(provider: Provider, sandbox: &mut Sandbox, now: Millis) -> Vec<TokenBucket> {
    let (spec, credentials) = sample_job(provider, now);
    let mut job = ReportJob::new(spec, sandbox.job_config(provider), credentials, now).unwrap();
    for _ in 0..100 {
        match job.poll(now) {
            Action::Send(request) => {
                let own = job.budgets_in_flight();
                if !own.is_empty() {
                    return own;
                }
                let response = sandbox.handle(now, &SimRequest::from_http(&request));
                let id = request.id;
                let head = Input::Head {
                    id,
                    status: response.status,
                    headers: &response.headers,
                };
                job.handle(now, head).unwrap();
                job.handle(
                    now,
                    Input::Chunk {
                        id,
                        bytes: &response.body,
                    },
                )
                .unwrap();
                job.handle(now, Input::End { id }).unwrap();
            }
            Action::Sign(request) => {
                let signer = RsaSigner::from_pem(keys::MERCHANT_PRIVATE_KEY_PEM).unwrap();
                let signature = signer.sign(&request).unwrap();
                let id = request.id;
                job.handle(
                    now,
                    Input::Signature {
                        id,
                        signature: &signature,
                    },
                )
                .unwrap();
            }
            Action::Event(_) => {}
            other => panic!("{provider:?}: no create before {other:?}"),
        }
    }
    panic!("{provider:?}: no create")
}

/// What the quotas allow at best for `reports` reports of `provider` in one
/// account: its create quota's time for the last create (a bucket starts
/// full: `capacity` at once, then one per refill; a window quota gives
/// `capacity` per window), plus the last report's generation.
fn quota_lower_bound(provider: Provider, reports: u64, generation_ms: u64) -> u64 {
    // Lingxing's quota is one request in flight: its answer frees the slot
    // at once, so creates cost no quota time (its bucket's refill is the
    // gateway's timeout, a bound for lost answers only).
    if provider == Provider::Lingxing {
        return generation_ms;
    }
    let mut sandbox = Sandbox::new(SandboxConfig::default());
    let creates = create_buckets(provider, &mut sandbox, wall_clock())
        .iter()
        .map(|bucket| {
            let capacity = u64::from(bucket.capacity());
            match bucket.refill_kind() {
                Refill::Steady => reports.saturating_sub(capacity) * bucket.refill_every_ms(),
                Refill::Window => reports.saturating_sub(1) / capacity * bucket.refill_every_ms(),
            }
        })
        .max()
        .unwrap_or(0);
    creates + generation_ms
}

/// Issue 13's plan benchmark: `accounts` accounts (every provider in turn,
/// each its own seller with its own simulators) with `per_account` reports
/// each, the providers' own quotas, `generation_ms` to generate a report,
/// the machines' own polling, in time compressed `scale` times.
async fn plan(accounts: usize, per_account: usize, generation_ms: u64, scale: u32) {
    let clock = Clock::compressed(scale);
    let names: Vec<(String, Provider)> = (0..accounts)
        .map(|n| {
            (
                format!("account-{n}"),
                Provider::ALL[n % Provider::ALL.len()],
            )
        })
        .collect();
    let sandbox = SandboxConfig::default()
        .with_seed(1_000)
        .with_rows(20)
        .with_generation_ms(generation_ms);
    let sellers = Arc::new(
        SimSellers::start(names.iter().map(|(name, _)| name.as_str()), &sandbox, clock).unwrap(),
    );
    let jobs: Vec<NewJob> = names
        .iter()
        .flat_map(|(account, provider)| {
            let spec = sample_job(*provider, clock.now()).0;
            (0..per_account).map(move |n| NewJob {
                key: format!("{account}/{}/{n}", provider.as_str()),
                account: account.clone(),
                spec: spec.clone(),
            })
        })
        .collect();
    let (bound, bound_provider) = Provider::ALL
        .iter()
        .map(|&provider| {
            let bound = quota_lower_bound(provider, per_account as u64, generation_ms);
            (bound, provider)
        })
        .max_by_key(|(bound, _)| *bound)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("plan.db").display()))
        .await
        .unwrap();
    store.submit(&jobs, clock.now()).await.unwrap();
    let signer = RsaSigner::from_pem(keys::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let transport = Transport::new()
        .with_signer(Arc::new(signer))
        .with_clock(clock);
    let mut config = FleetConfig::new("bench", dir.path().join("out"));
    // Two seconds of wall time are minutes on this clock: park sooner.
    config.park_after_ms = 100;
    config.workers = env_or("REPORTFLOW_BENCH_WORKERS", 64) as usize;
    let started = (clock.now(), Instant::now());
    // When each provider's last job ended, on the clock.
    let ends = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    let recorder = Arc::clone(&ends);
    let fleet = Fleet::new(store.clone(), transport, Arc::clone(&sellers) as _, config)
        .await
        .unwrap()
        .with_observer(move |event| {
            if let FleetEvent::Finished { key, .. } = event {
                let provider = key.split('/').nth(1).unwrap_or_default().to_owned();
                let at = clock.now().saturating_since(started.0);
                let mut ends = recorder.lock().unwrap();
                let end = ends.entry(provider).or_default();
                *end = (*end).max(at);
            }
        });
    let stats = fleet.run(false).await.unwrap();
    let makespan = clock.now().saturating_since(started.0);
    let wall = started.1.elapsed().as_secs_f64();
    let minutes = |ms: u64| ms as f64 / 60_000.0;
    let reports = stats.done.max(1) as f64;
    let per_report = stats.status_requests as f64 / reports;
    // A fixed 10-second poller asks at 10 s, 20 s, … after the create and
    // sees the report done at the first ask after its generation: at least
    // ⌈generation / 10 s⌉ status requests per report, more when throttled.
    let poller = generation_ms.div_ceil(10_000).max(1) as f64;
    println!(
        "plan: {} jobs, {accounts} accounts of {} providers (each its own seller), {} reports each, {:.0} min to generate, time compressed {scale}× ({wall:.1} s of wall time)",
        jobs.len(),
        Provider::ALL.len(),
        per_account,
        minutes(generation_ms),
    );
    println!(
        "      done {} of {}, failed {}; makespan {:.1} min; quota lower bound {:.1} min ({}: its create quota, then one generation); makespan / bound = {:.2} (goal ≤ 1.2)",
        stats.done,
        jobs.len(),
        stats.failed,
        minutes(makespan),
        minutes(bound),
        bound_provider.as_str(),
        makespan as f64 / bound as f64,
    );
    let mut ends: Vec<(String, u64)> = ends.lock().unwrap().clone().into_iter().collect();
    ends.sort_by_key(|(_, end)| *end);
    let ends: Vec<String> = ends
        .iter()
        .map(|(provider, end)| format!("{provider} {:.1}", minutes(*end)))
        .collect();
    println!(
        "      last job done per provider (min): {}",
        ends.join(", ")
    );
    println!(
        "      status requests per report: {per_report:.2}; a fixed 10-second poller: ≥ {poller:.0}; ratio {:.3} (goal ≤ 1/3)",
        per_report / poller,
    );
    println!(
        "      throttled answers (429/420/503): {} (goal 0); requests refused over a quota by the simulators: {}; requests {}, held back by the shared budgets {}",
        stats.throttled,
        sellers.quota_violations(),
        stats.requests,
        stats.deferred,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wakes = env_or("REPORTFLOW_BENCH_WAKES", 2_000) as usize;
    let sandbox = Sandbox::new(SandboxConfig::default());
    println!("fleet benchmark ({})", env!("CARGO_PKG_VERSION"));
    for n in [10_000usize, 100_000] {
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fleet.db");
            let store = Store::open(&format!("sqlite:{}", path.display())).await.unwrap();
            let now = wall_clock();
            let spec = sample_job(Provider::AmazonAds, now).0;
            let jobs: Vec<NewJob> = (0..n)
                .map(|i| NewJob {
                    key: format!("campaigns/account-{}/{i}", i % 1_000),
                    account: format!("account-{}", i % 1_000),
                    spec: spec.clone(),
                })
                .collect();
            let before = rss();
            let planned = Instant::now();
            store.submit(&jobs, now).await.unwrap();
            let plan_s = planned.elapsed().as_secs_f64();
            drop(jobs);
            let grown = rss().saturating_sub(before);
            let (first_wall, first_cpu) = wake(&store, &sandbox, wakes.min(n)).await;
            let (again_wall, again_cpu) = wake(&store, &sandbox, wakes.min(n)).await;
            let files: u64 = ["fleet.db", "fleet.db-wal"]
                .iter()
                .filter_map(|name| std::fs::metadata(dir.path().join(name)).ok())
                .map(|meta| meta.len())
                .sum();
            println!(
                "{n:>7} idle jobs: planned in {plan_s:.2} s; resident memory +{:.0} B/job after planning (idle jobs are rows); store {:.0} B/job",
                grown as f64 / n as f64,
                files as f64 / n as f64,
            );
            println!(
                "         wake-up (claim + build + snapshot + park): {first_wall:.0} µs wall, {first_cpu:.0} µs CPU; from a snapshot (claim + restore + snapshot + park): {again_wall:.0} µs wall, {again_cpu:.0} µs CPU"
            );
        });
    }
    let accounts = env_or("REPORTFLOW_BENCH_ACCOUNTS", 50);
    let per_account = env_or("REPORTFLOW_BENCH_REPORTS", 20);
    let scale = env_or("REPORTFLOW_BENCH_SCALE", 25);
    let generation_ms = env_or("REPORTFLOW_BENCH_GENERATION_MS", 600_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(plan(
        accounts as usize,
        per_account as usize,
        generation_ms,
        u32::try_from(scale).unwrap(),
    ));
}

/// A number from the environment, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
