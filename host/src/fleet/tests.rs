//! The fleet against the simulators over loopback HTTP, in one process on
//! SQLite: many jobs for several accounts of every provider, all `Done`
//! within the published quotas; idempotent planning; a resumed run.

use std::collections::HashMap;
use std::sync::Arc;

use reportflow::sim::{self, keys, SandboxConfig};
use reportflow::{Credentials, JobConfig, PollPolicy, Provider, RetryPolicy};

use super::*;
use crate::signer::RsaSigner;
use crate::sim_server::SimServer;
use crate::wall_clock;

/// Every account of the simulators: endpoints from the sandbox, eager
/// polling (the simulators generate in 300 ms), the sample credentials.
struct SimAccounts {
    configs: HashMap<Provider, JobConfig>,
}

impl SimAccounts {
    fn new(server: &SimServer) -> Self {
        let configs = Provider::ALL
            .iter()
            .map(|&provider| {
                let mut config = server.with_sandbox(|sandbox| sandbox.job_config(provider));
                config.poll = PollPolicy::new(300, 2_000);
                config.retry = RetryPolicy::new(6, 100, 1_000);
                (provider, config)
            })
            .collect();
        Self { configs }
    }
}

impl Accounts for SimAccounts {
    fn job_config(&self, _account: &str, provider: Provider) -> Result<JobConfig, String> {
        self.configs
            .get(&provider)
            .cloned()
            .ok_or_else(|| format!("no simulator for {provider:?}"))
    }

    fn credentials(&self, _account: &str, provider: Provider) -> Result<Credentials, String> {
        Ok(sim::sample_job(provider, Millis(0)).1)
    }
}

fn server() -> SimServer {
    let config = SandboxConfig::default()
        .with_seed(7)
        .with_rows(50)
        .with_generation_ms(300);
    SimServer::start("127.0.0.1:0", config).unwrap()
}

fn transport() -> Transport {
    let signer = RsaSigner::from_pem(keys::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    Transport::new().with_signer(Arc::new(signer))
}

/// `count` jobs of `provider` for `account`, keyed by both.
fn jobs(account: &str, provider: Provider, count: usize) -> Vec<NewJob> {
    (0..count)
        .map(|n| NewJob {
            key: format!("{account}/{}/{n}", provider.as_str()),
            account: account.to_owned(),
            spec: sim::sample_job(provider, wall_clock()).0,
        })
        .collect()
}

/// The plan of the tests: several accounts per provider where the
/// simulators' quotas allow it in seconds of wall-clock time.
fn plan() -> Vec<NewJob> {
    [
        ("ads-1", Provider::AmazonAds, 6),
        ("ads-2", Provider::AmazonAds, 6),
        ("pay-1", Provider::AmazonPay, 2),
        ("lx-1", Provider::Lingxing, 6),
        ("mws-1", Provider::AmazonMws, 3),
        ("ym-1", Provider::YandexMarket, 1),
    ]
    .into_iter()
    .flat_map(|(account, provider, count)| jobs(account, provider, count))
    .collect()
}

async fn fleet(store: Store, server: &SimServer, out: &Path, worker: &str) -> Fleet {
    let mut config = FleetConfig::new(worker, out);
    config.workers = 32;
    config.downloads = 4;
    // Polls wait 300 ms and more: park them, so resumed jobs are exercised.
    config.park_after_ms = 250;
    Fleet::new(
        store,
        transport(),
        Arc::new(SimAccounts::new(server)),
        config,
    )
    .await
    .unwrap()
}

/// Every one of the store's `jobs` jobs is done, its file holds the report
/// the simulator made, and the simulators refused no request over a quota.
async fn assert_all_verified_within_quotas(store: &Store, server: &SimServer, jobs: usize) {
    let rows = store.jobs().await.unwrap();
    assert_eq!(rows.len(), jobs);
    for row in &rows {
        assert_eq!(row.state, "done", "{row:?}");
        let path = row.output.as_deref().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let report = server
            .report_content(row.report_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(
            bytes, report,
            "{} holds the report the simulator made",
            row.key
        );
    }
    // The simulators' own count, over HTTP as any test harness reads it.
    let quota = reqwest::get(format!(
        "{}{}",
        server.base_url(),
        crate::sim_server::QUOTA_PATH
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(quota, r#"{"violations":0}"#, "no request beyond any quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_jobs_of_many_accounts_all_finish_within_every_quota() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let store = Store::open(&url).await.unwrap();
    let plan = plan();
    assert_eq!(
        store.submit(&plan, wall_clock()).await.unwrap(),
        plan.len() as u64
    );
    assert_eq!(
        store.submit(&plan, wall_clock()).await.unwrap(),
        0,
        "re-planning inserts nothing"
    );

    let out = dir.path().join("out");
    let fleet = fleet(store.clone(), &server, &out, "w1").await;
    let stats = fleet.run(false).await.unwrap();

    assert_all_verified_within_quotas(&store, &server, plan.len()).await;
    assert_eq!(stats.done, plan.len() as u64);
    assert!(stats.parks > 0, "waiting jobs were parked: {stats:?}");
    assert!(
        stats.deferred > 0,
        "the shared budgets held requests back: {stats:?}"
    );
    assert_eq!(stats.throttled, 0, "{stats:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "part"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
    // Submitting the plan again after the run creates nothing either.
    assert_eq!(store.submit(&plan, wall_clock()).await.unwrap(), 0);
    assert_eq!(
        Fleet::new(
            store.clone(),
            transport(),
            Arc::new(SimAccounts::new(&server)),
            FleetConfig::new("w2", &out)
        )
        .await
        .unwrap()
        .run(false)
        .await
        .unwrap()
        .claims,
        0
    );
}

/// Issue 13's plan: 500 jobs of 20 accounts across every provider, with
/// the providers' own quotas and half a minute to generate each report,
/// polled as in production — 25 reports per account, so hours of quota in
/// all, run in compressed time (the simulators and the fleet on one clock,
/// 100 times faster than the wall clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_jobs_of_twenty_accounts_of_every_provider_stay_within_every_quota() {
    let clock = Clock::compressed(100);
    let accounts: Vec<(String, Provider)> = (0..20)
        .map(|n| {
            (
                format!("account-{n}"),
                Provider::ALL[n % Provider::ALL.len()],
            )
        })
        .collect();
    let sandbox = SandboxConfig::default()
        .with_seed(13)
        .with_rows(20)
        .with_generation_ms(30_000);
    let names = accounts.iter().map(|(account, _)| account.as_str());
    let sellers = Arc::new(SimSellers::start(names, &sandbox, clock).unwrap());
    let plan: Vec<NewJob> = accounts
        .iter()
        .flat_map(|(account, provider)| jobs(account, *provider, 25))
        .collect();
    assert_eq!(plan.len(), 500);
    let providers: std::collections::HashSet<_> =
        plan.iter().map(|job| job.spec.provider()).collect();
    assert_eq!(providers.len(), Provider::ALL.len(), "every provider");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let store = Store::open(&url).await.unwrap();
    store.submit(&plan, clock.now()).await.unwrap();
    let out = dir.path().join("out");
    let mut config = FleetConfig::new("w1", &out);
    // Two seconds of wall time are minutes here: park sooner, so waiting
    // jobs leave their places to jobs of other accounts.
    config.park_after_ms = 100;
    // What a busy test machine may add between taking a token and the
    // request reaching its simulator (5 s on this clock): two requests one
    // refill apart must not arrive closer than that.
    config.send_margin_ms = 50;
    let fleet = Fleet::new(
        store.clone(),
        transport().with_clock(clock),
        Arc::clone(&sellers) as Arc<dyn Accounts>,
        config,
    )
    .await
    .unwrap();
    let started = clock.now();
    let stats = fleet.run(false).await.unwrap();
    let took = clock.now().saturating_since(started);

    let rows = store.jobs().await.unwrap();
    assert_eq!(rows.len(), 500);
    for row in &rows {
        assert_eq!(row.state, "done", "{row:?}");
        let bytes = std::fs::read(row.output.as_deref().unwrap()).unwrap();
        let report = sellers
            .server(&row.account)
            .unwrap()
            .report_content(row.report_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(bytes, report, "{} holds its report", row.key);
    }
    assert_eq!(sellers.quota_violations(), 0, "no request beyond any quota");
    assert_eq!(stats.done, 500, "{stats:?}");
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert!(stats.deferred > 0, "the quotas bound: {stats:?}");
    // Yandex allows one united-orders report every two minutes per
    // account: 25 reports take 48 minutes at least, whatever else runs.
    assert!(took >= 24 * 120_000, "took {took} ms on the clock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_midway_is_resumed_by_the_next_without_a_second_create() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let store = Store::open(&url).await.unwrap();
    // Amazon Pay: its creates carry an idempotency key, so a create the
    // stopped worker left in flight is recovered, never doubled.
    let plan = jobs("pay-1", Provider::AmazonPay, 3);
    store.submit(&plan, wall_clock()).await.unwrap();
    let out = dir.path().join("out");
    let mut config = FleetConfig::new("crashing", &out);
    // Short leases: the stopped worker's jobs are free again soon.
    config.lease_ms = 600;
    config.park_after_ms = 60_000;
    let first = Fleet::new(
        store.clone(),
        transport(),
        Arc::new(SimAccounts::new(&server)),
        config,
    )
    .await
    .unwrap();
    // Stop the first worker as a crash would: mid-run, tasks and all.
    let stopped = tokio::time::timeout(Duration::from_millis(400), first.run(false)).await;
    assert!(stopped.is_err(), "the first run was still working");
    let before = first.stats();
    assert!(before.requests > 0, "{before:?}");
    drop(first);

    let second = fleet(store.clone(), &server, &out, "w2").await;
    let stats = second.run(false).await.unwrap();
    let rows = store.jobs().await.unwrap();
    assert!(rows.iter().all(|row| row.state == "done"), "{rows:?}");
    assert!(stats.claims > 0);
    assert!(
        rows.iter().any(|row| row.attempts > 1),
        "some job was claimed twice: {rows:?}"
    );
    // One report per job: the stopped worker's creates were on record and
    // recovered with their keys; no job shares another's report.
    let reports: std::collections::HashSet<_> = rows
        .iter()
        .filter_map(|row| row.report_id.clone())
        .collect();
    assert_eq!(reports.len(), plan.len(), "{rows:?}");
    let accepted = server
        .requests()
        .iter()
        .filter(|logged| logged.method == reportflow::Method::Post && logged.status < 300)
        .count();
    assert!(
        accepted >= plan.len(),
        "{accepted} creates for {} jobs",
        plan.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_hold_every_quota_together() {
    let Some(url) = postgres_url("two_workers").await else {
        return;
    };
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let store = Store::open(&url).await.unwrap();
    let plan = plan();
    store.submit(&plan, wall_clock()).await.unwrap();
    // Two workers as two machines would run them: a pool and in-memory
    // state each, only the database in common. Each runs few jobs at once,
    // so both hold jobs of the same accounts at the same time.
    let worker = |name: &str| {
        let mut config = FleetConfig::new(name, &out);
        config.workers = 8;
        config.park_after_ms = 250;
        let url = url.clone();
        let accounts = Arc::new(SimAccounts::new(&server));
        async move {
            let store = Store::open(&url).await.unwrap();
            Fleet::new(store, transport(), accounts, config)
                .await
                .unwrap()
        }
    };
    let (one, two) = tokio::join!(worker("w1"), worker("w2"));
    let (one, two) = tokio::join!(one.run(false), two.run(false));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert!(one.done > 0 && two.done > 0, "both worked: {one:?} {two:?}");
    assert_eq!(one.done + two.done, plan.len() as u64);
    // Amazon Ads' 5 at once per account and Lingxing's one request in
    // flight bind: the workers held requests back for each other.
    assert!(one.deferred + two.deferred > 0, "{one:?} {two:?}");
    assert_eq!(one.throttled + two.throttled, 0, "{one:?} {two:?}");
    assert_all_verified_within_quotas(&store, &server, plan.len()).await;
}

/// A PostgreSQL URL for a test, in a fresh schema of its own (tests run in
/// parallel on one database), when the test command provides a server
/// (`REPORTFLOW_TEST_POSTGRES`, set by scripts/test.sh); `None`, said
/// loudly, otherwise.
pub(crate) async fn postgres_url(test: &str) -> Option<String> {
    use sqlx::Connection as _;
    let Ok(base) = std::env::var("REPORTFLOW_TEST_POSTGRES") else {
        use std::io::Write as _;
        // Past the test harness's capture (it hides `eprintln!` of a
        // passing test): a skipped test must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: REPORTFLOW_TEST_POSTGRES is not set (scripts/test.sh starts PostgreSQL and sets it)"
        );
        return None;
    };
    let schema = format!("rf_{test}_{}_{}", std::process::id(), wall_clock().as_u64());
    let mut connection = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options[search_path]={schema}"))
}
