//! The fleet's durable store: jobs, their snapshots, wake-up times,
//! attempts, outcomes, leases, the shared rate buckets and the accounts'
//! credential references, in SQLite (one machine, nothing to install) or
//! PostgreSQL (workers on any number of machines), through `sqlx` with
//! embedded migrations.
//!
//! Both backends run the same statements (`$N` parameters, which SQLite
//! reads too), written once; only claims, the next due time and the
//! bucket lock differ (`Dialect`).
//!
//! Every write a worker makes to a job is fenced by its lease
//! (`lease_owner = worker`): a worker whose lease expired (it stalled, or
//! another worker took the job over) writes nothing, so one job never has
//! two writers. Credentials are never stored, only the account's name and
//! where its credentials are (`env:VAR`, `file:PATH`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use reportflow::rate::TokenBucket;
use reportflow::{JobSpec, Millis, Provider, Snapshot};

use crate::Clock;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// One backend's migrations: (version, name, SQL).
type Migrations = &'static [(i64, &'static str, &'static str)];

/// SQLite's migrations, embedded so a binary needs no files beside it.
const SQLITE_MIGRATIONS: Migrations = &[
    (
        1,
        "fleet",
        include_str!("../../migrations/sqlite/0001_fleet.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../../migrations/sqlite/0002_accounts.sql"),
    ),
    (
        3,
        "bucket_in_flight",
        include_str!("../../migrations/sqlite/0003_bucket_in_flight.sql"),
    ),
];

/// PostgreSQL's migrations (its integers are 64-bit `BIGINT`s; the
/// versions follow SQLite's).
const POSTGRES_MIGRATIONS: Migrations = &[
    (
        1,
        "fleet",
        include_str!("../../migrations/postgres/0001_fleet.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../../migrations/postgres/0002_accounts.sql"),
    ),
    (
        3,
        "bucket_in_flight",
        include_str!("../../migrations/postgres/0003_bucket_in_flight.sql"),
    ),
];

/// What went wrong with the store, in one line (never a credential: the
/// store holds none, and connection errors do not echo the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fleet store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self(error.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self(format!("migration failed: {error}"))
    }
}

/// The embedded migrations of one backend as `sqlx` wants them.
#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*name),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The statements that differ between the backends.
#[derive(Debug)]
struct Dialect {
    /// Claims due jobs: `$1` worker, `$2` lease end, `$3` now, `$4` limit.
    claim: &'static str,
    /// The next instant a pending job becomes claimable.
    next_due: &'static str,
    /// Reads a bucket for update: `$1` provider, `$2` account, `$3` name.
    lock_bucket: &'static str,
    /// Opens a transaction that will write.
    begin_write: &'static str,
}

/// Due, pending, and not leased (or leased by a worker whose lease
/// expired: it resumes from the last snapshot).
macro_rules! due_jobs {
    () => {
        "SELECT job_key FROM jobs WHERE state = 'pending' AND wake_at <= $3 \
         AND lease_until <= $3 ORDER BY wake_at LIMIT $4"
    };
}

/// Claims due jobs for a worker: lease, attempt, and what it needs.
macro_rules! claim {
    ($due:expr) => {
        concat!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE job_key IN (",
            $due,
            ") RETURNING job_key, account, spec, snapshot"
        )
    };
}

/// Reads a shared bucket: `$1` provider, `$2` account, `$3` name.
macro_rules! select_bucket {
    () => {
        "SELECT bucket, in_flight FROM buckets WHERE provider = $1 AND account = $2 AND name = $3"
    };
}

const SQLITE: Dialect = Dialect {
    // One statement: SQLite runs it under its one write lock, so two
    // workers (or processes) never claim the same row.
    claim: claim!(due_jobs!()),
    next_due: "SELECT MIN(MAX(wake_at, lease_until)) AS due FROM jobs WHERE state = 'pending'",
    // The write lock is the database's, taken by `BEGIN IMMEDIATE`.
    lock_bucket: select_bucket!(),
    // Take the write lock first: a deferred transaction that read and then
    // writes fails with SQLITE_BUSY instead of waiting.
    begin_write: "BEGIN IMMEDIATE",
};

const POSTGRES: Dialect = Dialect {
    // Rows another worker is claiming right now are skipped, not waited
    // for: claims run in parallel and never return one job twice.
    claim: claim!(concat!(due_jobs!(), " FOR UPDATE SKIP LOCKED")),
    next_due: "SELECT MIN(GREATEST(wake_at, lease_until)) AS due FROM jobs WHERE state = 'pending'",
    lock_bucket: concat!(select_bucket!(), " FOR UPDATE"),
    begin_write: "BEGIN",
};

/// The two backends' connection pools.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend
/// it is: one statement text and one decoding for both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// One account of a provider, as a plan names it and the store keeps it
/// (so a worker without the plan finds it).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Its name (unique in the plan): keys, budgets and credentials go by it.
    pub name: String,
    /// The provider's stable name (`amazon-ads`, `yandex-market`…).
    pub provider: String,
    /// Where its credentials are: `env:VAR`, `file:PATH` or `sim` — a
    /// reference, never a credential.
    pub credentials: String,
}

/// A job to plan: its stable key (the same plan gives the same keys, so
/// submitting it again inserts nothing), the account it runs for and what
/// to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Stable key, unique in the store.
    pub key: String,
    /// The account's name (credentials are looked up by it).
    pub account: String,
    /// What to fetch.
    pub spec: JobSpec,
}

/// A job a worker claimed: it holds the lease until it parks or finishes
/// the job (or stops renewing).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The job's key.
    pub key: String,
    /// The account it runs for.
    pub account: String,
    /// What it fetches.
    pub spec: JobSpec,
    /// Its last snapshot; `None` before its first request.
    pub snapshot: Option<Snapshot>,
}

/// How a job ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Verified (or no data): the report's id, rows, MD5 and file.
    Done {
        /// The provider's report id.
        report_id: String,
        /// Rows delivered.
        rows: u64,
        /// MD5 of the bytes as transferred (empty when skipped).
        md5: String,
        /// Where the report was written.
        output: String,
        /// The summary as JSON.
        summary: String,
    },
    /// Failed: the error as JSON.
    Failed {
        /// The typed error as JSON (or a message for a local failure).
        error: String,
    },
}

/// One row of `fleet status` and of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// The job's key.
    pub key: String,
    /// The account.
    pub account: String,
    /// The provider's stable name.
    pub provider: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Claims so far.
    pub attempts: i64,
    /// Due from (ms since the epoch).
    pub wake_at: i64,
    /// The provider's report id, once done.
    pub report_id: Option<String>,
    /// Rows, once done.
    pub rows: Option<i64>,
    /// MD5, once done.
    pub md5: Option<String>,
    /// Report file, once done.
    pub output: Option<String>,
    /// The outcome (summary or error) as JSON.
    pub outcome: Option<String>,
}

/// The store: SQLite or PostgreSQL, by its URL.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

fn ms(at: Millis) -> i64 {
    i64::try_from(at.as_u64()).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError(format!("cannot encode: {error}")))
}

/// A shared bucket as the store holds it.
#[derive(Debug, Clone)]
pub(crate) struct SharedBucket {
    /// The account's bucket.
    pub(crate) bucket: TokenBucket,
    /// Requests out, in every worker, that took its last token and whose
    /// answers may give it back.
    pub(crate) in_flight: i64,
}

/// The shared buckets a job's own buckets `own` stand for, full at `now`,
/// each with its JSON, once per name and in name order: a shared bucket
/// refills `margin_ms` slower than the provider's quota per token, so that
/// requests an account's jobs send exactly one refill apart still arrive
/// at least one refill apart when the network delays the first more than
/// the second.
fn fresh_buckets(
    own: &[TokenBucket],
    margin_ms: u64,
    now: Millis,
) -> Result<Vec<(&str, String, TokenBucket)>, StoreError> {
    let mut order: Vec<&TokenBucket> = own.iter().collect();
    order.sort_by(|a, b| a.name().cmp(b.name()));
    order.dedup_by(|a, b| a.name() == b.name());
    order
        .into_iter()
        .map(|bucket| {
            let full = bucket.fresh_copy(now, margin_ms);
            Ok((bucket.name(), json(&full)?, full))
        })
        .collect()
}

/// A bucket row's values. A bucket that no longer decodes (an edited row)
/// reads as `full`, as the job's own bucket would start.
fn shared_bucket(saved: &str, in_flight: i64, full: &TokenBucket) -> SharedBucket {
    SharedBucket {
        bucket: serde_json::from_str(saved).unwrap_or_else(|_| full.clone()),
        in_flight,
    }
}

/// A claimed row as read, before decoding.
type ClaimedRow = (String, String, String, Option<String>);

impl Store {
    /// Opens the store at `url` and brings its schema up to date:
    /// `sqlite:FILE` (created when missing) or `sqlite::memory:` on one
    /// machine, `postgres://USER@HOST/DATABASE` for workers on many (the
    /// database must exist; the password may come from `PGPASSWORD` or
    /// `~/.pgpass` instead of the URL).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|_| {
                // sqlx's message may quote the URL, and with it a password.
                StoreError(
                    "the PostgreSQL URL does not parse (expected postgres://USER@HOST[:PORT]/DATABASE)"
                        .into(),
                )
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            // Concurrent workers migrate one at a time (sqlx holds an
            // advisory lock on PostgreSQL).
            Migrator::new(Embedded(POSTGRES_MIGRATIONS))
                .await?
                .run(&pool)
                .await?;
            Backend::Postgres(pool)
        } else {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|error| {
                    StoreError(format!(
                        "{error} (expected sqlite:FILE, e.g. sqlite:reportflow.db, or postgres://…)"
                    ))
                })?
                .create_if_missing(true)
                // Readers do not block the writer; several workers in one
                // process share the file.
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            // An in-memory database lives in one connection.
            let connections = if url.contains(":memory:") { 1 } else { 4 };
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .connect_with(options)
                .await?;
            Migrator::new(Embedded(SQLITE_MIGRATIONS))
                .await?
                .run(&pool)
                .await?;
            Backend::Sqlite(pool)
        };
        Ok(Self { backend })
    }

    fn dialect(&self) -> &'static Dialect {
        match self.backend {
            Backend::Sqlite(_) => &SQLITE,
            Backend::Postgres(_) => &POSTGRES,
        }
    }

    /// Plans `jobs`, due at `now`. A key already in the store is left as it
    /// is (idempotent planning). Returns how many jobs were new.
    pub async fn submit(&self, jobs: &[NewJob], now: Millis) -> Result<u64, StoreError> {
        let mut encoded = Vec::with_capacity(jobs.len());
        for job in jobs {
            encoded.push((job, json(&job.spec)?));
        }
        on_pool!(self, |pool| {
            let mut transaction = pool.begin().await?;
            let mut inserted = 0;
            for (job, spec) in &encoded {
                let result = sqlx::query(
                    "INSERT INTO jobs (job_key, account, provider, spec, wake_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_key) DO NOTHING",
                )
                .bind(&job.key)
                .bind(&job.account)
                .bind(job.spec.provider().as_str())
                .bind(spec)
                .bind(ms(now))
                .execute(&mut *transaction)
                .await?;
                inserted += result.rows_affected();
            }
            transaction.commit().await?;
            Ok(inserted)
        })
    }

    /// Records where each account's credentials are (a plan's references;
    /// a reference changed in the plan replaces the stored one), so a
    /// worker without the plan can run the account's jobs.
    pub async fn save_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut transaction = pool.begin().await?;
            for account in accounts {
                sqlx::query(
                    "INSERT INTO accounts (name, provider, credentials) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, \
                     credentials = excluded.credentials",
                )
                .bind(&account.name)
                .bind(&account.provider)
                .bind(&account.credentials)
                .execute(&mut *transaction)
                .await?;
            }
            transaction.commit().await?;
            Ok(())
        })
    }

    /// The accounts the plans named, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        on_pool!(self, |pool| {
            let rows =
                sqlx::query("SELECT name, provider, credentials FROM accounts ORDER BY name")
                    .fetch_all(pool)
                    .await?;
            rows.iter()
                .map(|row| {
                    Ok(Account {
                        name: row.try_get("name")?,
                        provider: row.try_get("provider")?,
                        credentials: row.try_get("credentials")?,
                    })
                })
                .collect()
        })
    }

    /// Claims up to `limit` due jobs for `worker` until `lease_until`: pending,
    /// due at `now`, and not leased (or leased by a worker whose lease has
    /// expired — it resumes from the last snapshot).
    pub async fn claim(
        &self,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let sql = self.dialect().claim;
        let rows: Vec<ClaimedRow> = on_pool!(self, |pool| {
            let rows = sqlx::query(sql)
                .bind(worker)
                .bind(ms(lease_until))
                .bind(ms(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get("job_key")?,
                        row.try_get("account")?,
                        row.try_get("spec")?,
                        row.try_get("snapshot")?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?
        });
        let mut claimed = Vec::with_capacity(rows.len());
        for (key, account, spec, snapshot) in rows {
            // The store is data like a snapshot: a row that does not decode
            // fails that job, not the worker.
            let spec = serde_json::from_str(&spec)
                .map_err(|error| StoreError(format!("job {key}: spec does not decode: {error}")))?;
            let snapshot = snapshot
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|error| {
                    StoreError(format!("job {key}: snapshot does not decode: {error}"))
                })?;
            claimed.push(Claimed {
                account,
                key,
                spec,
                snapshot,
            });
        }
        Ok(claimed)
    }

    /// Extends `worker`'s leases on `keys` to `until`. Returns the keys whose
    /// lease the worker no longer holds (taken over after it expired).
    pub async fn renew(
        &self,
        worker: &str,
        keys: &[String],
        until: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let mut lost = Vec::new();
        for key in keys {
            let affected = on_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE jobs SET lease_until = $1 WHERE job_key = $2 AND lease_owner = $3 \
                     AND state = 'pending'",
                )
                .bind(ms(until))
                .bind(key)
                .bind(worker)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if affected == 0 {
                lost.push(key.clone());
            }
        }
        Ok(lost)
    }

    /// Records the job's snapshot (before every request: a create is on
    /// record before it can reach the provider). Returns `false` when the
    /// worker no longer holds the lease: it must stop the job.
    pub async fn save(
        &self,
        worker: &str,
        key: &str,
        snapshot: &Snapshot,
    ) -> Result<bool, StoreError> {
        let snapshot = json(snapshot)?;
        let affected = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET snapshot = $1 WHERE job_key = $2 AND lease_owner = $3 \
                 AND state = 'pending'",
            )
            .bind(&snapshot)
            .bind(key)
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Parks an idle job: its snapshot, due again at `wake_at`, lease
    /// released (any worker may pick it up then).
    pub async fn park(
        &self,
        worker: &str,
        key: &str,
        snapshot: &Snapshot,
        wake_at: Millis,
    ) -> Result<bool, StoreError> {
        let snapshot = json(snapshot)?;
        let affected = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET snapshot = $1, wake_at = $2, lease_owner = NULL, lease_until = 0 \
                 WHERE job_key = $3 AND lease_owner = $4 AND state = 'pending'",
            )
            .bind(&snapshot)
            .bind(ms(wake_at))
            .bind(key)
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Records how a job ended and releases it.
    pub async fn finish(
        &self,
        worker: &str,
        key: &str,
        snapshot: Option<&Snapshot>,
        finished: &Finished,
    ) -> Result<bool, StoreError> {
        let snapshot = snapshot.map(json).transpose()?;
        // A failure fills only the outcome; the report's columns stay NULL.
        let (state, outcome, report_id, rows, md5, output) = match finished {
            Finished::Done {
                report_id,
                rows,
                md5,
                output,
                summary,
            } => (
                "done",
                summary,
                Some(report_id),
                Some(i64::try_from(*rows).unwrap_or(i64::MAX)),
                Some(md5),
                Some(output),
            ),
            Finished::Failed { error } => ("failed", error, None, None, None, None),
        };
        let affected = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = $1, outcome = $2, report_id = $3, rows_count = $4, \
                 md5 = $5, output = $6, snapshot = COALESCE($7, snapshot), lease_owner = NULL, \
                 lease_until = 0 WHERE job_key = $8 AND lease_owner = $9 AND state = 'pending'",
            )
            .bind(state)
            .bind(outcome)
            .bind(report_id)
            .bind(rows)
            .bind(md5)
            .bind(output)
            .bind(&snapshot)
            .bind(key)
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    /// When the next pending job becomes claimable (its wake-up, or the end
    /// of another worker's lease); `None` when no job is pending.
    pub async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        let sql = self.dialect().next_due;
        let due: Option<i64> = on_pool!(self, |pool| {
            sqlx::query(sql).fetch_one(pool).await?.try_get("due")?
        });
        Ok(due.map(|due| Millis(u64::try_from(due).unwrap_or(0))))
    }

    /// Every job, by key.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT job_key, account, provider, state, attempts, wake_at, report_id, \
                 rows_count, md5, output, outcome FROM jobs ORDER BY job_key",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(JobRow {
                        key: row.try_get("job_key")?,
                        account: row.try_get("account")?,
                        provider: row.try_get("provider")?,
                        state: row.try_get("state")?,
                        attempts: row.try_get("attempts")?,
                        wake_at: row.try_get("wake_at")?,
                        report_id: row.try_get("report_id")?,
                        rows: row.try_get("rows_count")?,
                        md5: row.try_get("md5")?,
                        output: row.try_get("output")?,
                        outcome: row.try_get("outcome")?,
                    })
                })
                .collect()
        })
    }

    /// Runs `apply` on `provider`/`account`'s shared buckets named like the
    /// job's own buckets `own` (in that order; a bucket not in the store
    /// yet starts full, sized like the job's with `margin_ms` added to its
    /// refill: see [`fresh_buckets`]) as one transaction holding their rows:
    /// no other worker, in this process or another, reads or changes them
    /// until it ends. `apply` gets the buckets and `clock`'s time read once
    /// the rows are held (a decision on a time read before waiting for the
    /// lock would be stale by the wait), and returns its answer and whether
    /// it changed the buckets (only then are they written).
    ///
    /// Rows are locked in name order, so two workers taking several
    /// buckets never wait on each other in a circle.
    pub(crate) async fn with_buckets<R: Send>(
        &self,
        provider: Provider,
        account: &str,
        own: &[TokenBucket],
        clock: Clock,
        margin_ms: u64,
        apply: impl FnOnce(&mut [SharedBucket], Millis) -> (R, bool) + Send,
    ) -> Result<R, StoreError> {
        let fresh = fresh_buckets(own, margin_ms, clock.now())?;
        let dialect = self.dialect();
        on_pool!(self, |pool| {
            let mut transaction = pool.begin_with(dialect.begin_write).await?;
            let mut current: HashMap<&str, SharedBucket> = HashMap::with_capacity(fresh.len());
            for (name, full_json, full) in &fresh {
                sqlx::query(
                    "INSERT INTO buckets (provider, account, name, bucket) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (provider, account, name) DO NOTHING",
                )
                .bind(provider.as_str())
                .bind(account)
                .bind(*name)
                .bind(full_json)
                .execute(&mut *transaction)
                .await?;
                let row = sqlx::query(dialect.lock_bucket)
                    .bind(provider.as_str())
                    .bind(account)
                    .bind(*name)
                    .fetch_one(&mut *transaction)
                    .await?;
                let saved: String = row.try_get("bucket")?;
                let in_flight = row.try_get("in_flight")?;
                current.insert(*name, shared_bucket(&saved, in_flight, full));
            }
            let mut buckets: Vec<SharedBucket> = own
                .iter()
                .filter_map(|bucket| current.get(bucket.name()).cloned())
                .collect();
            let (answer, changed) = apply(&mut buckets, clock.now());
            if changed {
                for SharedBucket { bucket, in_flight } in &buckets {
                    sqlx::query(
                        "UPDATE buckets SET bucket = $1, in_flight = $2 WHERE provider = $3 \
                         AND account = $4 AND name = $5",
                    )
                    .bind(json(bucket)?)
                    .bind(in_flight)
                    .bind(provider.as_str())
                    .bind(account)
                    .bind(bucket.name())
                    .execute(&mut *transaction)
                    .await?;
                }
            }
            transaction.commit().await?;
            Ok(answer)
        })
    }

    /// `provider`/`account`'s shared buckets named like `own`, as they are
    /// now, without holding them (a bucket not in the store yet reads
    /// full), once per name: a look that costs no lock and no write, to
    /// learn whether a token may be there before asking for it with
    /// [`Store::with_buckets`].
    pub(crate) async fn peek_buckets(
        &self,
        provider: Provider,
        account: &str,
        own: &[TokenBucket],
        margin_ms: u64,
        now: Millis,
    ) -> Result<Vec<SharedBucket>, StoreError> {
        let fresh = fresh_buckets(own, margin_ms, now)?;
        let mut found = Vec::with_capacity(fresh.len());
        for (name, _, full) in &fresh {
            let row: Option<(String, i64)> = on_pool!(self, |pool| {
                match sqlx::query(select_bucket!())
                    .bind(provider.as_str())
                    .bind(account)
                    .bind(*name)
                    .fetch_optional(pool)
                    .await?
                {
                    Some(row) => Some((row.try_get("bucket")?, row.try_get("in_flight")?)),
                    None => None,
                }
            });
            found.push(match row {
                Some((saved, in_flight)) => shared_bucket(&saved, in_flight, full),
                None => SharedBucket {
                    bucket: full.clone(),
                    in_flight: 0,
                },
            });
        }
        Ok(found)
    }

    /// The shared rate buckets, as last saved.
    pub async fn buckets(&self) -> Result<Vec<(Provider, String, TokenBucket)>, StoreError> {
        let rows: Vec<(String, String, String)> = on_pool!(self, |pool| {
            let rows = sqlx::query("SELECT provider, account, bucket FROM buckets")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get("provider")?,
                        row.try_get("account")?,
                        row.try_get("bucket")?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(provider, account, bucket)| {
                // A row that no longer decodes (an unknown provider, an
                // edited row) is not a bucket any job draws from.
                Some((
                    Provider::from_name(&provider)?,
                    account,
                    serde_json::from_str::<TokenBucket>(&bucket).ok()?,
                ))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use reportflow::sim::{sample_job, Sandbox, SandboxConfig};
    use reportflow::ReportJob;

    use super::*;
    use crate::fleet::tests::postgres_url;

    /// 2026-12-02T10:00:00Z.
    const T0: u64 = 1_796_205_600_000;

    fn snapshot() -> Snapshot {
        let sandbox = Sandbox::new(SandboxConfig::default());
        let (spec, credentials) = sample_job(Provider::AmazonAds, Millis(T0));
        ReportJob::new(
            spec,
            sandbox.job_config(Provider::AmazonAds),
            credentials,
            Millis(T0),
        )
        .unwrap()
        .snapshot()
    }

    /// What every backend must do alike: idempotent planning, claims that
    /// never hand one job to two workers, leases that fence writes and
    /// expire into a take-over with the last snapshot, parking, finishing,
    /// accounts.
    async fn contract(store: Store) {
        let now = Millis(T0);
        let jobs: Vec<NewJob> = (0..6)
            .map(|n| NewJob {
                key: format!("job-{n}"),
                account: "seller".into(),
                spec: sample_job(Provider::AmazonAds, now).0,
            })
            .collect();
        assert_eq!(store.submit(&jobs, now).await.unwrap(), 6);
        assert_eq!(store.submit(&jobs, now).await.unwrap(), 0, "idempotent");

        let lease = now.saturating_add(1_000);
        let (a, b, c) = tokio::join!(
            store.claim("a", now, lease, 2),
            store.claim("b", now, lease, 2),
            store.claim("c", now, lease, 2),
        );
        let mut claimed: Vec<(String, String)> = [("a", a), ("b", b), ("c", c)]
            .into_iter()
            .flat_map(|(worker, jobs)| {
                jobs.unwrap()
                    .into_iter()
                    .map(move |job| (job.key, worker.to_owned()))
            })
            .collect();
        // A claimer that found rows locked by another may get fewer; the
        // rest is there for the next claim.
        let rest = store.claim("a", now, lease, 6).await.unwrap();
        claimed.extend(rest.into_iter().map(|job| (job.key, "a".to_owned())));
        let mut keys: Vec<&str> = claimed.iter().map(|(key, _)| key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 6, "every job claimed exactly once: {claimed:?}");
        assert!(store.claim("z", now, lease, 6).await.unwrap().is_empty());
        assert_eq!(store.next_due().await.unwrap(), Some(lease));

        let (key, owner) = claimed[0].clone();
        let other = if owner == "a" { "b" } else { "a" };
        let snapshot = snapshot();
        assert!(!store.save(other, &key, &snapshot).await.unwrap(), "fenced");
        assert!(store.save(&owner, &key, &snapshot).await.unwrap());
        let keys = vec![key.clone()];
        assert!(store.renew(&owner, &keys, lease).await.unwrap().is_empty());

        // The leases expire: another worker takes every job over, this one
        // with its last snapshot; the old owner writes nothing any more.
        let later = lease.saturating_add(1_000);
        let taken = store.claim("d", lease, later, 10).await.unwrap();
        assert_eq!(taken.len(), 6);
        let resumed = taken.iter().find(|job| job.key == key).unwrap();
        assert_eq!(resumed.snapshot.as_ref(), Some(&snapshot));
        assert_eq!(store.renew(&owner, &keys, later).await.unwrap(), keys);
        assert!(!store.save(&owner, &key, &snapshot).await.unwrap());

        assert!(store
            .park("d", &key, &snapshot, Millis(T0 + 60_000))
            .await
            .unwrap());
        let done = Finished::Done {
            report_id: "r-1".into(),
            rows: 3,
            md5: "abc".into(),
            output: "out/job.report".into(),
            summary: "{}".into(),
        };
        let finished = &taken.iter().find(|job| job.key != key).unwrap().key;
        assert!(store.finish("d", finished, None, &done).await.unwrap());
        assert!(
            !store.finish("d", finished, None, &done).await.unwrap(),
            "once"
        );
        let rows = store.jobs().await.unwrap();
        let row = rows.iter().find(|row| &row.key == finished).unwrap();
        assert_eq!(
            (
                row.state.as_str(),
                row.report_id.as_deref(),
                row.rows,
                row.attempts
            ),
            ("done", Some("r-1"), Some(3), 2)
        );
        let parked = rows.iter().find(|row| row.key == key).unwrap();
        assert_eq!(
            (parked.state.as_str(), parked.wake_at),
            ("pending", ms(Millis(T0 + 60_000)))
        );

        let mut account = Account {
            name: "seller".into(),
            provider: "amazon-ads".into(),
            credentials: "env:A".into(),
        };
        store.save_accounts(&[account.clone()]).await.unwrap();
        account.credentials = "file:creds.toml".into();
        store.save_accounts(&[account]).await.unwrap();
        let accounts = store.accounts().await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].credentials, "file:creds.toml");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_keeps_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("fleet.db").display());
        contract(Store::open(&url).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_keeps_the_store_contract() {
        let Some(url) = postgres_url("store_contract").await else {
            return;
        };
        contract(Store::open(&url).await.unwrap()).await;
    }

    #[tokio::test]
    async fn a_url_that_is_no_store_says_what_is_expected_and_echoes_no_password() {
        let error = Store::open("postgres://user:s3cr3t@[bad/db")
            .await
            .unwrap_err();
        assert!(error.0.contains("postgres://USER@HOST"), "{error}");
        assert!(!error.0.contains("s3cr3t"), "{error}");
    }
}
