//! The `reportflow` binary against `reportflow sim` processes, as a user
//! would run them.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reportflow");
const SEED: &str = "11";
/// Every secret the simulator accepts or issues contains this marker.
const CANARY: &str = "CANARY";

/// A `reportflow sim` child process, killed on drop.
struct Sim {
    child: Child,
    base_url: String,
}

impl Sim {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "sim",
                "--addr",
                "127.0.0.1:0",
                "--seed",
                SEED,
                "--rows",
                "500",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let base_url = first_line.trim().to_owned();
        assert!(
            base_url.starts_with("http://127.0.0.1:"),
            "first line of `sim` is its base URL: {first_line:?}"
        );
        Self { child, base_url }
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .get(format!("{}{path}", self.base_url))
            .call()
            .unwrap();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .unwrap();
        (response.status().as_u16(), body)
    }

    fn request_log(&self) -> Vec<Value> {
        let (status, body) = self.get("/_sim/requests");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    fn report_content(&self, report_id: &str) -> Vec<u8> {
        let (status, body) = self.get(&format!("/_sim/reports/{report_id}"));
        assert_eq!(status, 200, "{report_id}");
        body
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `reportflow fetch amazon-ads --base-url … --json` plus `extra`, with fast
/// polls and retries.
fn fetch_command(sim: &Sim, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "fetch",
            "amazon-ads",
            "--base-url",
            &sim.base_url,
            "--poll-ms",
            "100",
            "--retry-ms",
            "100",
        ])
        .args(extra)
        // Credentials in the caller's environment must not change the test.
        .env_remove("AMAZON_ADS_CLIENT_ID")
        .env_remove("AMAZON_ADS_CLIENT_SECRET")
        .env_remove("AMAZON_ADS_REFRESH_TOKEN")
        .env_remove("AMAZON_ADS_ACCESS_TOKEN");
    command
}

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let output = fetch_command(sim, extra).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains(CANARY), "a secret was printed: {printed}");
    output
}

/// The one JSON object `--json` prints.
fn json_outcome(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let outcome = serde_json::from_str(lines.next().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(lines.next(), None, "exactly one line on stdout");
    outcome
}

/// Report creations the simulator accepted (a throttled or failed attempt
/// created nothing).
fn creates(log: &[Value]) -> usize {
    log.iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("/report"))
        })
        .filter(|r| {
            r["status"]
                .as_u64()
                .is_some_and(|status| (200..300).contains(&status))
        })
        .count()
}

fn files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sim_prints_its_base_url_first_and_serves_the_request_log() {
    let sim = Sim::start(&[]);
    assert!(sim.request_log().is_empty());
}

#[test]
fn fetch_writes_the_verified_report_and_reports_json() {
    let sim = Sim::start(&["--generation-ms", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let output = fetch(&sim, &["--json", "--out", out.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(&output);
    assert_eq!(outcome["outcome"], "done");
    assert_eq!(outcome["kind"], Value::Null);
    assert_eq!(outcome["rows"], 500);
    let report_id = outcome["report_id"].as_str().unwrap();
    let written = fs::read(&out).unwrap();
    assert_eq!(written, sim.report_content(report_id));
    assert_eq!(outcome["bytes"], written.len());
    assert_eq!(outcome["md5"].as_str().unwrap().len(), 32);
    assert_eq!(
        files_in(dir.path()),
        ["report.json"],
        "no partial file left behind"
    );
}

#[test]
fn fetch_to_stdout_prints_the_report_itself() {
    let sim = Sim::start(&["--generation-ms", "300"]);
    let output = fetch(&sim, &["--out", "-", "--quiet"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = sim.request_log();
    let report_id = log
        .iter()
        .find_map(|r| {
            r["path"]
                .as_str()
                .and_then(|p| p.strip_prefix("/amazon-ads/v2/reports/"))
        })
        .map(|rest| rest.trim_end_matches("/download").to_owned())
        .unwrap();
    assert_eq!(output.stdout, sim.report_content(&report_id));
}

/// The md5 `fetch --json` reports with `fault` on the simulator, and
/// without; the seed is the same, so they must agree.
fn assert_md5_unchanged_by(fault: &str) {
    let clean_sim = Sim::start(&["--generation-ms", "300"]);
    let clean = fetch(&clean_sim, &["--json"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let faulty_sim = Sim::start(&["--generation-ms", "300", "--fault", fault]);
    let faulty = fetch(&faulty_sim, &["--json"]);
    assert!(
        faulty.status.success(),
        "{fault}: {}",
        String::from_utf8_lossy(&faulty.stderr)
    );
    let (clean, faulty) = (json_outcome(&clean), json_outcome(&faulty));
    assert_eq!(faulty["md5"], clean["md5"], "{fault}");
    assert_eq!(faulty["rows"], clean["rows"], "{fault}");
    let log = faulty_sim.request_log();
    assert!(
        log.iter().any(|r| r["fault"] == fault),
        "{fault} fired: {log:#?}"
    );
    assert_eq!(creates(&log), 1, "{fault}: one report requested");
}

#[test]
fn throttling_does_not_change_the_report() {
    assert_md5_unchanged_by("throttle");
}

#[test]
fn server_errors_do_not_change_the_report() {
    assert_md5_unchanged_by("server-error");
}

#[test]
fn an_expired_link_does_not_change_the_report() {
    assert_md5_unchanged_by("expired-link");
}

#[test]
fn a_corrupt_body_does_not_change_the_report() {
    assert_md5_unchanged_by("corrupt-body");
}

#[test]
fn a_report_corrupt_every_time_fails_and_never_lands_on_disk() {
    let sim = Sim::start(&["--generation-ms", "300", "--fault", "corrupt-body:always"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let output = fetch(&sim, &["--json", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let outcome = json_outcome(&output);
    assert_eq!(outcome["outcome"], "failed");
    assert!(
        ["gzip", "md5_mismatch"].contains(&outcome["kind"].as_str().unwrap()),
        "{outcome}"
    );
    assert_eq!(outcome["blame"], "data");
    assert!(
        files_in(dir.path()).is_empty(),
        "neither the report nor its partial file exists"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("reportflow:"))
        .collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("blame: data") && error_lines[0].contains("run again"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_reason() {
    let sim = Sim::start(&[]);
    let output = fetch(&sim, &["--report-date", "2024-03-01", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("reportDate"));
    let output = fetch(&sim, &["--client-id", "someone"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("AMAZON_ADS_CLIENT_SECRET"));
}

#[test]
fn a_fetch_killed_mid_poll_resumes_the_same_report() {
    // Slow generation: the first run is still polling when it is killed.
    let sim = Sim::start(&["--generation-ms", "3000"]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.state");
    let out = dir.path().join("report.json");
    let args = [
        "--json",
        "--state",
        state.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];

    let mut first = fetch_command(&sim, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let snapshot = loop {
        let text = fs::read_to_string(&state).unwrap_or_default();
        if text.contains("\"reportId\":\"") {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no report id in the state file"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended before it could be killed"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(!snapshot.contains(CANARY), "the state file holds no secret");
    first.kill().unwrap(); // SIGKILL: no chance to clean up
    first.wait().unwrap();
    assert!(!out.exists());

    let second = fetch(&sim, &args);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let outcome = json_outcome(&second);
    let report_id = outcome["report_id"].as_str().unwrap();
    assert!(
        snapshot.contains(report_id),
        "the rerun continued the report of the first run"
    );
    assert_eq!(fs::read(&out).unwrap(), sim.report_content(report_id));
    assert!(!state.exists(), "the state file is deleted after Done");
    let log = sim.request_log();
    assert_eq!(
        creates(&log),
        1,
        "exactly one report was requested: {log:#?}"
    );
}

#[test]
fn demo_verifies_every_provider_and_prints_a_table() {
    let output = Command::new(BIN)
        .args(["demo", "--seed", "5"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines = table.lines();
    assert!(lines
        .next()
        .is_some_and(|header| header.starts_with("provider") && header.contains("requests")));
    let amazon_ads = lines.find(|l| l.starts_with("amazon-ads")).unwrap();
    assert!(amazon_ads.contains("verified"), "{table}");
}
