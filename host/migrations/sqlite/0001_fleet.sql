-- The fleet's store: one row per job, one per shared rate bucket.
-- Times are milliseconds since the Unix epoch (the core's Millis).
CREATE TABLE jobs (
    job_key     TEXT PRIMARY KEY,        -- stable key from the plan: re-planning inserts nothing
    account     TEXT NOT NULL,           -- account name: credentials are looked up by it, never stored
    provider    TEXT NOT NULL,
    spec        TEXT NOT NULL,           -- JobSpec as JSON
    snapshot    TEXT,                    -- the job's last snapshot (JSON; no secrets), NULL before its first step
    wake_at     INTEGER NOT NULL,        -- due from this instant
    attempts    INTEGER NOT NULL DEFAULT 0, -- claims so far
    state       TEXT NOT NULL DEFAULT 'pending', -- pending | done | failed
    outcome     TEXT,                    -- Summary (done) or Error (failed) as JSON
    report_id   TEXT,
    rows_count  INTEGER,
    md5         TEXT,
    output      TEXT,                    -- path of the report file (done)
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (state, wake_at);

CREATE TABLE buckets (
    provider TEXT NOT NULL,
    account  TEXT NOT NULL,
    name     TEXT NOT NULL,
    bucket   TEXT NOT NULL,               -- TokenBucket as JSON
    PRIMARY KEY (provider, account, name)
);
