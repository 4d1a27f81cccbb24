//! Three `reportflow fleet` processes on one PostgreSQL database against
//! one `reportflow sim`, one of them killed with SIGKILL while it holds
//! jobs: the others take its jobs over when its leases expire, and every
//! job ends verified with exactly one create, its file written once, and
//! no request over any quota.
//!
//! Needs a PostgreSQL server: scripts/test.sh starts one and sets
//! `REPORTFLOW_TEST_POSTGRES`; without it the test says so and skips.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{Sim, BIN};
use reportflow_host::fleet::Store;
use serde_json::Value;
use sqlx::Connection as _;

/// SP-API: a create whose answer a killed worker never saw is found by
/// listing the account's reports, never sent twice, so "one create per
/// job" holds whenever the kill lands. Ten daily windows of one account
/// (the simulators' createReport burst is 15).
const PLAN: &str = r#"
[[accounts]]
name = "sp-us"
provider = "amazon-sp-api"
credentials = "sim"

[[reports]]
name = "listings"
accounts = ["sp-us"]
window = { last_days = 10, lag_days = 1 }
spec = { region = "na", reportType = "GET_MERCHANT_LISTINGS_ALL_DATA", marketplaceIds = ["ATVPDKIKX0DER"], dataStartTime = "{from_time}", dataEndTime = "{to_time}" }
"#;
const JOBS: usize = 10;
const CREATE: &str = "/reports/2021-06-30/reports";

/// The test database's URL in a fresh schema, or `None` (said loudly)
/// when the test command provides no PostgreSQL.
fn postgres_url(runtime: &tokio::runtime::Runtime) -> Option<String> {
    let Ok(base) = std::env::var("REPORTFLOW_TEST_POSTGRES") else {
        use std::io::Write as _;
        // Past the test harness's capture (it hides `eprintln!` of a
        // passing test): a skipped test must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: REPORTFLOW_TEST_POSTGRES is not set (scripts/test.sh starts PostgreSQL and sets it)"
        );
        return None;
    };
    let schema = format!("rf_cli_{}", std::process::id());
    runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut connection)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut connection)
            .await
            .unwrap();
    });
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options[search_path]={schema}"))
}

/// A fleet process and its JSON lines, read on a thread.
struct Worker {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Worker {
    fn start(args: &[&str], url: &str, sim: &Sim, out: &Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("fleet")
            .args(args)
            .args(["--store", url, "--base-url", &sim.base_url, "--json"])
            // Three jobs at a time each, so every worker holds some; short
            // leases, so a dead worker's jobs are free again soon.
            .args(["--workers", "3", "--lease-ms", "1500"])
            .arg("--out")
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if send.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 20 s) for a line with `event`.
    fn wait_for(&mut self, event: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {event} event: {:#?}", self.seen));
            self.seen.push(line.clone());
            if line["event"] == event {
                return line;
            }
        }
    }

    /// Waits for the process to end; its exit code and every line.
    fn finish(mut self) -> (i32, Vec<Value>) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (status.code().unwrap_or(-1), self.seen)
    }
}

#[test]
fn three_workers_one_killed_every_job_done_once_within_every_quota() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(url) = postgres_url(&runtime) else {
        return;
    };
    let started = Instant::now();
    let sim = Sim::with_faults(11, 100, &[]);
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, PLAN).unwrap();
    let out = dir.path().join("reports");

    // `fleet run` plans, then works; two `fleet worker`s join it.
    let mut first = Worker::start(&["run", plan.to_str().unwrap()], &url, &sim, &out);
    let planned = first.wait_for("planned");
    assert_eq!(planned["new"], JOBS, "{planned}");
    let mut victim = Worker::start(&["worker"], &url, &sim, &out);
    let third = Worker::start(&["worker"], &url, &sim, &out);
    // Killed (SIGKILL) while it holds a job it has not finished: a moment
    // after the claim, with its first requests (a create) on the way.
    let held = victim.wait_for("claimed");
    std::thread::sleep(Duration::from_millis(300));
    victim.child.kill().unwrap();
    let (_, victim_lines) = victim.finish();
    let held = held["job"].as_str().unwrap().to_owned();
    assert!(
        !victim_lines
            .iter()
            .any(|line| line["event"] == "done" && line["job"] == held.as_str()),
        "the victim had not finished {held}: {victim_lines:#?}"
    );

    for (name, worker) in [("run", first), ("worker", third)] {
        let (code, lines) = worker.finish();
        assert_eq!(code, 0, "fleet {name}: {lines:#?}");
    }

    let rows = runtime.block_on(async { Store::open(&url).await.unwrap().jobs().await.unwrap() });
    assert_eq!(rows.len(), JOBS);
    let mut reports = HashSet::new();
    for row in &rows {
        assert_eq!(row.state, "done", "{row:?}");
        let report_id = row.report_id.clone().unwrap();
        let bytes = std::fs::read(row.output.as_deref().unwrap()).unwrap();
        assert_eq!(
            bytes,
            sim.report_content(&report_id),
            "{} verified",
            row.key
        );
        assert!(reports.insert(report_id), "one report per job: {rows:#?}");
    }
    let taken_over = rows.iter().find(|row| row.key == held).unwrap();
    assert!(taken_over.attempts >= 2, "{taken_over:?}");
    assert_eq!(
        sim.accepted("POST", CREATE),
        JOBS,
        "exactly one create per job, the killed worker's included"
    );
    // Every report file once: one `.report` per job, nothing else but the
    // manifest and what the killed worker was writing.
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        *files.entry(name).or_default() += 1;
    }
    let written: Vec<&String> = files
        .keys()
        .filter(|name| name.ends_with(".report"))
        .collect();
    assert_eq!(written.len(), JOBS, "{files:?}");
    for row in &rows {
        let name = Path::new(row.output.as_deref().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(files.get(&name), Some(&1), "{name} once: {files:?}");
    }
    let (status, quota) = sim.get("/_sim/quota");
    assert_eq!(
        (status, quota.as_slice()),
        (200, br#"{"violations":0}"#.as_slice())
    );
    eprintln!(
        "three workers, one killed: {JOBS} jobs in {:?}",
        started.elapsed()
    );
}
