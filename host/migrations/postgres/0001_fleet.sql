-- The fleet's store on PostgreSQL: the SQLite schema (../sqlite/0001_fleet.sql)
-- with PostgreSQL's 64-bit integers. Times are milliseconds since the Unix
-- epoch (the core's Millis).
CREATE TABLE jobs (
    job_key     TEXT PRIMARY KEY,        -- stable key from the plan: re-planning inserts nothing
    account     TEXT NOT NULL,           -- account name: credentials are looked up by it, never stored
    provider    TEXT NOT NULL,
    spec        TEXT NOT NULL,           -- JobSpec as JSON
    snapshot    TEXT,                    -- the job's last snapshot (JSON; no secrets), NULL before its first step
    wake_at     BIGINT NOT NULL,         -- due from this instant
    attempts    BIGINT NOT NULL DEFAULT 0, -- claims so far
    state       TEXT NOT NULL DEFAULT 'pending', -- pending | done | failed
    outcome     TEXT,                    -- Summary (done) or Error (failed) as JSON
    report_id   TEXT,
    rows_count  BIGINT,
    md5         TEXT,
    output      TEXT,                    -- path of the report file (done)
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (state, wake_at);

-- Shared rate buckets: a worker takes a token under the row's lock
-- (SELECT … FOR UPDATE), so a quota holds across every worker.
CREATE TABLE buckets (
    provider TEXT NOT NULL,
    account  TEXT NOT NULL,
    name     TEXT NOT NULL,
    bucket   TEXT NOT NULL,               -- TokenBucket as JSON
    PRIMARY KEY (provider, account, name)
);
