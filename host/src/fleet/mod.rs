//! The fleet (feature `fleet`): many report jobs in one tokio process,
//! durable in a [`Store`], under rate budgets shared by every job of an
//! account.
//!
//! - **Idle jobs are rows, not tasks.** A worker claims due jobs from the
//!   store with a lease, runs each on the async host loop until it is done
//!   or has nothing to do for longer than
//!   [`FleetConfig::park_after_ms`], then parks it: its snapshot and its
//!   wake-up time go to the store and the task ends. Ten thousand waiting
//!   jobs are ten thousand rows.
//! - **One budget per (provider, account, quota).** Before a request goes
//!   out, the worker takes a token from the account's shared bucket, in
//!   the store (sized by the job's own bucket: the quota tables live in the
//!   providers), so the quota holds across every worker of the store. No
//!   token: the job gets `Input::Deferred` until the bucket's ready time
//!   and asks again then — no attempt spent. A throttle or quota header one
//!   job sees holds every job of the account.
//! - **Creates are never doubled.** The snapshot is saved before every
//!   request, so a worker that dies with a create in flight leaves the
//!   create on record; the job's lease expires, another worker claims it and
//!   the provider machine settles the lost create (an idempotency key, or
//!   `report_may_exist`) as for any restored job.
//! - **Bounded downloads**: at most [`FleetConfig::downloads`] report bodies
//!   stream at once.
//! - **Outputs** are written to `KEY.WORKER.part` in [`FleetConfig::out_dir`]
//!   and renamed to `KEY.report` on `Done` (a `DataReset` truncates the
//!   file), so workers on several machines may share one directory.
//!   A report of several parts (a ZIP archive) is written as one file, its
//!   parts in order.

mod budgets;
pub mod plan;
#[cfg(feature = "sim")]
mod sim_sellers;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reportflow::{
    Credentials, Event, Input, JobConfig, Millis, Phase, Provider, ReportJob, RequestId,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

#[cfg(feature = "sim")]
pub use sim_sellers::SimSellers;
pub use store::{Claimed, Finished, JobRow, NewJob, Store, StoreError};

use crate::nonblocking::{classify, response_headers, sleep_until, Transport};
use crate::run_loop::{self, feed, feed_piece, Next, Step};
use crate::Clock;

/// Where the fleet gets each account's endpoints and credentials. The store
/// holds only account names: credentials come from here (the environment,
/// a credentials file) every time a job is claimed.
pub trait Accounts: Send + Sync {
    /// The job configuration for `account`'s jobs (endpoints, limits).
    fn job_config(&self, account: &str, provider: Provider) -> Result<JobConfig, String>;
    /// `account`'s credentials.
    fn credentials(&self, account: &str, provider: Provider) -> Result<Credentials, String>;
}

/// How a worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// This worker's id in the store's leases (unique per process).
    pub worker: String,
    /// Jobs this worker runs at once (each an async task while active).
    pub workers: usize,
    /// Report bodies streaming at once.
    pub downloads: usize,
    /// How long a claim holds (wall time); renewed every third of it while
    /// working. A worker that stops renewing loses its jobs to another
    /// after this.
    pub lease_ms: u64,
    /// A job with nothing to do for longer than this (wall time) is parked
    /// in the store (snapshot + wake-up) instead of sleeping in a task.
    pub park_after_ms: u64,
    /// How much later than it leaves a request may reach the provider
    /// (wall time; the network's and the store's jitter). An account's
    /// shared buckets refill this much slower per token than its quotas, so
    /// two requests sent one refill apart never arrive closer than the
    /// quota allows. In compressed time it weighs `scale` times more.
    pub send_margin_ms: u64,
    /// Where reports are written.
    pub out_dir: PathBuf,
}

impl FleetConfig {
    /// A worker with defaults: 64 active jobs, 8 downloads, 30-second
    /// leases, jobs parked when idle for over 2 seconds, a 20 ms send
    /// margin.
    pub fn new(worker: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            worker: worker.into(),
            workers: 64,
            downloads: 8,
            lease_ms: 30_000,
            park_after_ms: 2_000,
            send_margin_ms: 20,
            out_dir: out_dir.into(),
        }
    }
}

/// What a worker did, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Jobs claimed (a parked job claimed again counts again).
    pub claims: u64,
    /// Jobs parked in the store to wait.
    pub parks: u64,
    /// HTTP requests sent.
    pub requests: u64,
    /// Requests sent while the job was polling the report's status.
    pub status_requests: u64,
    /// Answers `429`, `420` or `503` (throttled, or the provider's quota).
    pub throttled: u64,
    /// Requests held back because the account's shared budget was empty.
    pub deferred: u64,
    /// Jobs that ended verified (or with no data).
    pub done: u64,
    /// Jobs that ended failed.
    pub failed: u64,
}

/// Something a worker reports while it runs (for a progress view or JSON
/// lines).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// A job was claimed (`resumed`: from a snapshot).
    Claimed {
        /// The job's key.
        key: String,
        /// Whether it continues from a snapshot.
        resumed: bool,
    },
    /// A job waits in the store until `until`.
    Parked {
        /// The job's key.
        key: String,
        /// Its wake-up.
        until: Millis,
    },
    /// A job ended.
    Finished {
        /// The job's key.
        key: String,
        /// How.
        finished: Finished,
    },
}

/// A worker's failure (the store could not be used). Jobs it held are
/// resumed by the next worker once their leases expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetError(pub String);

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FleetError {}

impl From<StoreError> for FleetError {
    fn from(error: StoreError) -> Self {
        Self(error.to_string())
    }
}

type Observer = Box<dyn Fn(&FleetEvent) + Send + Sync>;

struct Shared {
    store: Store,
    budgets: budgets::Budgets,
    clock: Clock,
    transport: Transport,
    accounts: Arc<dyn Accounts>,
    downloads: Arc<Semaphore>,
    config: FleetConfig,
    stats: Mutex<Stats>,
    active: Mutex<HashSet<String>>,
    observer: Option<Observer>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Shares what `job`'s answer to the request that took `taken` taught
    /// with every job of the account.
    async fn settle(
        &self,
        account: &str,
        job: &ReportJob,
        taken: &budgets::Taken,
    ) -> Result<(), StoreError> {
        let lessons = budgets::lessons(job, taken, self.clock.now());
        self.budgets.share(&self.store, account, lessons).await
    }

    /// Holds `job`'s request `id` back until `until`: the account's shared
    /// budget has no token for it (no attempt spent).
    fn defer(&self, job: &mut ReportJob, id: RequestId, until: Millis) {
        self.count(|stats| stats.deferred += 1);
        feed(job, self.clock, Input::Deferred { id, until });
    }

    /// `real_ms` of wall time after `at`, on the fleet's clock.
    fn after_real(&self, at: Millis, real_ms: u64) -> Millis {
        at.saturating_add(self.clock.from_real_ms(real_ms))
    }

    fn tell(&self, event: FleetEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }
}

/// A worker of the fleet.
pub struct Fleet {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// How often the worker looks for due jobs while it has work in hand.
const TICK: Duration = Duration::from_millis(50);

impl Fleet {
    /// A worker over `store` (whose shared buckets it draws from), on the
    /// transport's clock.
    pub async fn new(
        store: Store,
        transport: Transport,
        accounts: Arc<dyn Accounts>,
        config: FleetConfig,
    ) -> Result<Self, FleetError> {
        std::fs::create_dir_all(&config.out_dir).map_err(|error| {
            FleetError(format!(
                "cannot create the output directory {}: {error}",
                config.out_dir.display()
            ))
        })?;
        let clock = transport.clock();
        Ok(Self {
            shared: Arc::new(Shared {
                store,
                budgets: budgets::Budgets::new(clock, config.send_margin_ms),
                clock,
                transport,
                accounts,
                downloads: Arc::new(Semaphore::new(config.downloads.max(1))),
                config,
                stats: Mutex::new(Stats::default()),
                active: Mutex::new(HashSet::new()),
                observer: None,
            }),
        })
    }

    /// The same worker, telling `observer` what it does (call it before
    /// [`Fleet::run`]; the observer is called on the runtime's threads).
    #[must_use]
    pub fn with_observer(mut self, observer: impl Fn(&FleetEvent) + Send + Sync + 'static) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.observer = Some(Box::new(observer));
        }
        self
    }

    /// What the worker did so far.
    pub fn stats(&self) -> Stats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs due jobs until none is pending (or, with `follow`, forever).
    pub async fn run(&self, follow: bool) -> Result<Stats, FleetError> {
        let shared = &self.shared;
        let config = &shared.config;
        let mut tasks: JoinSet<Result<(), StoreError>> = JoinSet::new();
        let mut renewed_at = shared.clock.now();
        loop {
            while let Some(ended) = tasks.try_join_next() {
                settle_task(ended)?;
            }
            let now = shared.clock.now();
            if now >= shared.after_real(renewed_at, config.lease_ms / 3) {
                let keys: Vec<String> = shared
                    .active
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned()
                    .collect();
                // A lease lost here is noticed by its task at its next save.
                shared
                    .store
                    .renew(
                        &config.worker,
                        &keys,
                        shared.after_real(now, config.lease_ms),
                    )
                    .await?;
                renewed_at = now;
            }
            let free = config.workers.max(1).saturating_sub(tasks.len());
            let mut claimed = 0;
            if free > 0 {
                let jobs = shared
                    .store
                    .claim(
                        &config.worker,
                        now,
                        shared.after_real(now, config.lease_ms),
                        free,
                    )
                    .await?;
                claimed = jobs.len();
                for job in jobs {
                    shared
                        .active
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(job.key.clone());
                    tasks.spawn(run_job(Arc::clone(shared), job));
                }
            }
            if tasks.is_empty() && claimed == 0 {
                match shared.store.next_due().await? {
                    None if !follow => break,
                    None => tokio::time::sleep(Duration::from_secs(1)).await,
                    Some(due) => {
                        sleep_until(shared.clock, due.min(shared.after_real(now, 1_000))).await;
                    }
                }
                continue;
            }
            if let Ok(Some(ended)) = tokio::time::timeout(TICK, tasks.join_next()).await {
                settle_task(ended)?;
            }
        }
        Ok(self.stats())
    }
}

fn settle_task(
    ended: Result<Result<(), StoreError>, tokio::task::JoinError>,
) -> Result<(), FleetError> {
    match ended {
        Ok(result) => Ok(result?),
        Err(error) => Err(FleetError(format!(
            "a job's task ended abnormally: {error}"
        ))),
    }
}

/// The response a job is reading, and what its request took.
struct Reading {
    id: RequestId,
    body: reqwest::Response,
    taken: budgets::Taken,
    _download: Option<OwnedSemaphorePermit>,
}

/// The report file of a job: written under a temporary name, renamed on
/// `Done`.
struct Output {
    part: PathBuf,
    done: PathBuf,
    file: Option<File>,
    failed: Option<String>,
}

impl Output {
    fn new(dir: &Path, key: &str, worker: &str) -> Self {
        // Keys come from plans: keep file names to a portable alphabet.
        let portable = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let name = portable(key);
        Self {
            // One temporary file per worker: a worker that stalled past its
            // lease and still writes never mixes its bytes into the file of
            // the worker that took the job over (workers may share `out`).
            part: dir.join(format!("{name}.{}.part", portable(worker))),
            done: dir.join(format!("{name}.report")),
            file: None,
            failed: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.file.is_none() {
            self.file = Some(File::create(&self.part).map_err(|e| self.local(&e))?);
        }
        match self.file.as_mut() {
            Some(file) => file.write_all(bytes).map_err(|e| self.local(&e)),
            None => Ok(()),
        }
    }

    fn reset(&mut self) -> Result<(), String> {
        self.file = Some(File::create(&self.part).map_err(|e| self.local(&e))?);
        Ok(())
    }

    fn finish(&mut self) -> Result<String, String> {
        let file = match self.file.take() {
            Some(file) => file,
            // No data (a verified empty report): an empty file.
            None => File::create(&self.part).map_err(|e| self.local(&e))?,
        };
        file.sync_all().map_err(|e| self.local(&e))?;
        drop(file);
        std::fs::rename(&self.part, &self.done).map_err(|e| self.local(&e))?;
        Ok(self.done.display().to_string())
    }

    fn local(&self, error: &std::io::Error) -> String {
        format!("cannot write {}: {error}", self.part.display())
    }
}

/// A job's seed from its key (FNV-1a: stable across builds and machines,
/// so every worker restores a job with the seed it was created with).
fn seed_of(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs one claimed job until it ends, parks, or its lease is lost.
async fn run_job(shared: Arc<Shared>, claimed: Claimed) -> Result<(), StoreError> {
    let key = claimed.key.clone();
    let result = drive_job(&shared, claimed).await;
    shared
        .active
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&key);
    result
}

async fn drive_job(shared: &Shared, claimed: Claimed) -> Result<(), StoreError> {
    let Claimed {
        key,
        account,
        spec,
        snapshot,
    } = claimed;
    let worker = shared.config.worker.as_str();
    let store = &shared.store;
    let provider = spec.provider();
    let resumed = snapshot.is_some();
    shared.count(|stats| stats.claims += 1);
    shared.tell(FleetEvent::Claimed {
        key: key.clone(),
        resumed,
    });
    let now = shared.clock.now();
    let made = shared
        .accounts
        .job_config(&account, provider)
        .map(|mut config| {
            // Jobs with the same spec must not share what a seed derives
            // (jitter; Amazon Pay's idempotency key): one seed per job key.
            config.seed = seed_of(&key);
            // The network is not compressed: on a compressed clock a
            // request or a download still takes its wall time.
            let clock = shared.clock;
            config.request_timeout_ms = clock.from_real_ms(config.request_timeout_ms);
            config.download_timeout_ms = clock.from_real_ms(config.download_timeout_ms);
            config
        })
        .and_then(|config| Ok((config, shared.accounts.credentials(&account, provider)?)))
        .and_then(|(config, credentials)| match snapshot.clone() {
            Some(snapshot) => ReportJob::restore(snapshot, config, credentials, now)
                .map_err(|error| error.to_string()),
            None => {
                ReportJob::new(spec, config, credentials, now).map_err(|error| error.to_string())
            }
        });
    let mut job = match made {
        Ok(job) => job,
        Err(message) => {
            let finished = Finished::Failed {
                error: serde_json::json!({ "type": "local", "detail": format!("account {account}: {message}") })
                    .to_string(),
            };
            store
                .finish(worker, &key, snapshot.as_ref(), &finished)
                .await?;
            shared.count(|stats| stats.failed += 1);
            shared.tell(FleetEvent::Finished { key, finished });
            return Ok(());
        }
    };
    let mut output = Output::new(&shared.config.out_dir, &key, worker);
    let mut reading: Option<Reading> = None;
    // What an answered request took, settled once the job has judged the
    // answer (at its next poll: a throttle or a freed slot shows then).
    let mut unsettled: Option<budgets::Taken> = None;
    let signer = shared.transport.signer.clone();
    loop {
        let awaited = reading.as_ref().map(|r| r.id);
        let mut observe = |_: &ReportJob, step: Step<'_>| {
            let written = match step {
                Step::Event(Event::Data(chunk)) => output.write(&chunk.bytes),
                Step::Event(Event::DataReset { .. }) => output.reset(),
                _ => Ok(()),
            };
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(message) => {
                    output.failed = Some(message);
                    ControlFlow::Break(())
                }
            }
        };
        let clock = shared.clock;
        let next = run_loop::next(&mut job, clock, awaited, signer.as_deref(), &mut observe);
        if let Some(taken) = unsettled.take() {
            shared.settle(&account, &job, &taken).await?;
        }
        match next {
            Next::Send(request) => {
                if let Some(abandoned) = reading.take() {
                    shared.settle(&account, &job, &abandoned.taken).await?;
                }
                let phase = job.phase();
                let download = if phase == Phase::Downloading {
                    Arc::clone(&shared.downloads).acquire_owned().await.ok()
                } else {
                    None
                };
                // A token is taken as late as can be: right before the
                // request leaves, after the snapshot is on record, so what
                // happens in between (a store write) cannot bring the
                // request to the provider later than its token allows.
                if let Err(until) = shared.budgets.ready(store, &account, &job).await? {
                    shared.defer(&mut job, request.id, until);
                    continue;
                }
                // On record before it can reach the provider (a create's
                // `createSent`): a worker dying now leaves a job that knows.
                if !store.save(worker, &key, &job.snapshot()).await? {
                    return Ok(());
                }
                let taken = match shared.budgets.try_take(store, &account, &job).await? {
                    Ok(taken) => taken,
                    Err(until) => {
                        // Another job took the token since the look: the
                        // request is not sent, and the record says so again.
                        shared.defer(&mut job, request.id, until);
                        if !store.save(worker, &key, &job.snapshot()).await? {
                            return Ok(());
                        }
                        continue;
                    }
                };
                shared.count(|stats| {
                    stats.requests += 1;
                    stats.status_requests += u64::from(phase == Phase::Polling);
                });
                match shared.transport.open(&request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        shared.count(|stats| {
                            stats.throttled += u64::from(matches!(status, 420 | 429 | 503));
                        });
                        let headers = response_headers(&response);
                        feed(
                            &mut job,
                            clock,
                            Input::Head {
                                id: request.id,
                                status,
                                headers: &headers,
                            },
                        );
                        reading = Some(Reading {
                            id: request.id,
                            body: response,
                            taken,
                            _download: download,
                        });
                    }
                    Err(failure) => {
                        feed(
                            &mut job,
                            clock,
                            Input::TransportFailed {
                                id: request.id,
                                failure,
                            },
                        );
                        unsettled = Some(taken);
                    }
                }
            }
            Next::ReadBody => {
                if let Some(current) = reading.as_mut() {
                    let more = match current.body.chunk().await {
                        Ok(chunk) => feed_piece(&mut job, clock, current.id, Ok(chunk.as_deref())),
                        Err(error) => feed_piece(&mut job, clock, current.id, Err(classify(error))),
                    };
                    if !more {
                        unsettled = reading.take().map(|done| done.taken);
                    }
                }
            }
            Next::Sleep(until) => {
                if let Some(abandoned) = reading.take() {
                    shared.settle(&account, &job, &abandoned.taken).await?;
                }
                if clock.until(until) > Duration::from_millis(shared.config.park_after_ms) {
                    if store.park(worker, &key, &job.snapshot(), until).await? {
                        shared.count(|stats| stats.parks += 1);
                        shared.tell(FleetEvent::Parked { key, until });
                    }
                    return Ok(());
                }
                sleep_until(clock, until).await;
            }
            Next::Continue => {}
            Next::Cancel => {
                reading = None;
                feed(&mut job, clock, Input::Cancel);
            }
            Next::End(outcome) => {
                let finished = match (outcome, output.failed.take()) {
                    (_, Some(local)) => Finished::Failed {
                        error: serde_json::json!({ "type": "local", "detail": local }).to_string(),
                    },
                    (Ok(summary), None) => match output.finish() {
                        Ok(path) => Finished::Done {
                            report_id: summary.report_id.clone(),
                            rows: summary.rows,
                            md5: summary.md5.clone(),
                            output: path,
                            summary: serde_json::to_string(&summary).unwrap_or_default(),
                        },
                        Err(local) => Finished::Failed {
                            error: serde_json::json!({ "type": "local", "detail": local })
                                .to_string(),
                        },
                    },
                    (Err(error), None) => Finished::Failed {
                        error: serde_json::to_string(&error).unwrap_or_else(|_| error.to_string()),
                    },
                };
                if store
                    .finish(worker, &key, Some(&job.snapshot()), &finished)
                    .await?
                {
                    shared.count(|stats| match finished {
                        Finished::Done { .. } => stats.done += 1,
                        Finished::Failed { .. } => stats.failed += 1,
                    });
                    shared.tell(FleetEvent::Finished { key, finished });
                }
                return Ok(());
            }
        }
    }
}
