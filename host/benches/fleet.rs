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
//! Not measured here (yet): the makespan of a 1,000-job plan against the
//! quota lower bound, and status requests against a fixed poller; they need
//! simulators on virtual time.

// A benchmark is a host: it reads the clock and /proc.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use reportflow::sim::{sample_job, Sandbox, SandboxConfig};
use reportflow::{Millis, Provider, ReportJob};
use reportflow_host::fleet::{NewJob, Store};
use reportflow_host::wall_clock;

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

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wakes: usize = std::env::var("REPORTFLOW_BENCH_WAKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
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
}
