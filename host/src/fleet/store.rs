//! The fleet's durable store: jobs, their snapshots, wake-up times,
//! attempts, outcomes, leases and the shared rate buckets, in SQLite
//! through `sqlx` with embedded migrations.
//!
//! Every write a worker makes to a job is fenced by its lease
//! (`lease_owner = worker`): a worker whose lease expired (it stalled, or
//! another worker took the job over) writes nothing, so one job never has
//! two writers. Credentials are never stored, only the account's name.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use reportflow::rate::TokenBucket;
use reportflow::{JobSpec, Millis, Provider, Snapshot};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// The store's migrations, embedded so a binary needs no files beside it.
const MIGRATIONS: [(i64, &str, &str); 1] =
    [(1, "fleet", include_str!("../../migrations/0001_fleet.sql"))];

/// What went wrong with the store, in one line (never a credential: the
/// store holds none).
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

/// The embedded migrations as `sqlx` wants them.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async {
            Ok(MIGRATIONS
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

/// The store (SQLite).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn ms(at: Millis) -> i64 {
    i64::try_from(at.as_u64()).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError(format!("cannot encode: {error}")))
}

impl Store {
    /// Opens (creating when missing) the store at `url` — `sqlite:FILE` or
    /// `sqlite::memory:` — and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| {
                StoreError(format!(
                    "{error} (expected sqlite:FILE, e.g. sqlite:reportflow.db)"
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
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Plans `jobs`, due at `now`. A key already in the store is left as it
    /// is (idempotent planning). Returns how many jobs were new.
    pub async fn submit(&self, jobs: &[NewJob], now: Millis) -> Result<u64, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let mut inserted = 0;
        for job in jobs {
            let result = sqlx::query(
                "INSERT INTO jobs (job_key, account, provider, spec, wake_at) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (job_key) DO NOTHING",
            )
            .bind(&job.key)
            .bind(&job.account)
            .bind(job.spec.provider().as_str())
            .bind(json(&job.spec)?)
            .bind(ms(now))
            .execute(&mut *transaction)
            .await?;
            inserted += result.rows_affected();
        }
        transaction.commit().await?;
        Ok(inserted)
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
        // One statement: SQLite runs it under its write lock, so two
        // workers never claim the same row.
        let rows = sqlx::query(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 \
             WHERE job_key IN (SELECT job_key FROM jobs WHERE state = 'pending' AND wake_at <= ? \
             AND lease_until <= ? ORDER BY wake_at LIMIT ?) \
             RETURNING job_key, account, spec, snapshot",
        )
        .bind(worker)
        .bind(ms(lease_until))
        .bind(ms(now))
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get("job_key")?;
            let spec: String = row.try_get("spec")?;
            let snapshot: Option<String> = row.try_get("snapshot")?;
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
                account: row.try_get("account")?,
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
            let result = sqlx::query(
                "UPDATE jobs SET lease_until = ? WHERE job_key = ? AND lease_owner = ? AND state = 'pending'",
            )
            .bind(ms(until))
            .bind(key)
            .bind(worker)
            .execute(&self.pool)
            .await?;
            if result.rows_affected() == 0 {
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
        let result = sqlx::query(
            "UPDATE jobs SET snapshot = ? WHERE job_key = ? AND lease_owner = ? AND state = 'pending'",
        )
        .bind(json(snapshot)?)
        .bind(key)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
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
        let result = sqlx::query(
            "UPDATE jobs SET snapshot = ?, wake_at = ?, lease_owner = NULL, lease_until = 0 \
             WHERE job_key = ? AND lease_owner = ? AND state = 'pending'",
        )
        .bind(json(snapshot)?)
        .bind(ms(wake_at))
        .bind(key)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
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
        let result = match finished {
            Finished::Done {
                report_id,
                rows,
                md5,
                output,
                summary,
            } => {
                sqlx::query(
                    "UPDATE jobs SET state = 'done', outcome = ?, report_id = ?, rows_count = ?, \
                     md5 = ?, output = ?, snapshot = COALESCE(?, snapshot), lease_owner = NULL, lease_until = 0 \
                     WHERE job_key = ? AND lease_owner = ? AND state = 'pending'",
                )
                .bind(summary)
                .bind(report_id)
                .bind(i64::try_from(*rows).unwrap_or(i64::MAX))
                .bind(md5)
                .bind(output)
                .bind(snapshot)
                .bind(key)
                .bind(worker)
                .execute(&self.pool)
                .await?
            }
            Finished::Failed { error } => {
                sqlx::query(
                    "UPDATE jobs SET state = 'failed', outcome = ?, snapshot = COALESCE(?, snapshot), lease_owner = NULL, \
                     lease_until = 0 WHERE job_key = ? AND lease_owner = ? AND state = 'pending'",
                )
                .bind(error)
                .bind(snapshot)
                .bind(key)
                .bind(worker)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(result.rows_affected() == 1)
    }

    /// When the next pending job becomes claimable (its wake-up, or the end
    /// of another worker's lease); `None` when no job is pending.
    pub async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(MAX(wake_at, lease_until)) AS due FROM jobs WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let due: Option<i64> = row.try_get("due")?;
        Ok(due.map(|due| Millis(u64::try_from(due).unwrap_or(0))))
    }

    /// Every job, by key.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT job_key, account, provider, state, attempts, wake_at, report_id, rows_count, md5, \
             output, outcome FROM jobs ORDER BY job_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
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
    }

    /// The shared rate buckets, as last saved.
    pub async fn buckets(&self) -> Result<Vec<(Provider, String, TokenBucket)>, StoreError> {
        let rows = sqlx::query("SELECT provider, account, bucket FROM buckets")
            .fetch_all(&self.pool)
            .await?;
        let mut buckets = Vec::with_capacity(rows.len());
        for row in rows {
            let provider: String = row.try_get("provider")?;
            let account: String = row.try_get("account")?;
            let bucket: String = row.try_get("bucket")?;
            // A bucket that no longer decodes (an unknown provider, an
            // edited row) is dropped: the fleet starts that bucket full, as
            // the job's own bucket would.
            let (Some(provider), Ok(bucket)) = (
                Provider::from_name(&provider),
                serde_json::from_str::<TokenBucket>(&bucket),
            ) else {
                continue;
            };
            buckets.push((provider, account, bucket));
        }
        Ok(buckets)
    }

    /// Saves shared rate buckets.
    pub async fn save_buckets(
        &self,
        buckets: &[(Provider, String, TokenBucket)],
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        for (provider, account, bucket) in buckets {
            sqlx::query(
                "INSERT INTO buckets (provider, account, name, bucket) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (provider, account, name) DO UPDATE SET bucket = excluded.bucket",
            )
            .bind(provider.as_str())
            .bind(account)
            .bind(bucket.name())
            .bind(json(bucket)?)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}
