//! The `reportflow` binary against `reportflow sim` processes, as a user
//! would run them.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::{fetch_command, json_outcome, Sim, BIN, CANARY};

const SEED: u64 = 11;
const ROWS: u32 = 500;

fn start_sim(extra: &[&str]) -> Sim {
    Sim::start_with(SEED, ROWS, extra)
}

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    common::fetch(sim, "amazon-ads", extra)
}

/// Report creations the simulator accepted (a throttled or failed attempt
/// created nothing).
fn creates(sim: &Sim) -> usize {
    sim.accepted("POST", "/report")
}

fn files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sim_prints_its_base_url_first_and_serves_the_request_log() {
    let sim = start_sim(&[]);
    assert!(sim.request_log().is_empty());
}

#[test]
fn fetch_writes_the_verified_report_and_reports_json() {
    let sim = start_sim(&["--generation-ms", "300"]);
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
    assert_eq!(outcome["kind"], "verified");
    assert_eq!(outcome["exit"], 0);
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
    let sim = start_sim(&["--generation-ms", "300"]);
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
    let clean_sim = start_sim(&["--generation-ms", "300"]);
    let clean = fetch(&clean_sim, &["--json"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let faulty_sim = start_sim(&["--generation-ms", "300", "--fault", fault]);
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
    assert_eq!(creates(&faulty_sim), 1, "{fault}: one report requested");
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
    let sim = start_sim(&["--generation-ms", "300", "--fault", "corrupt-body:always"]);
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
    let sim = start_sim(&[]);
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
    let sim = start_sim(&["--generation-ms", "3000"]);
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

    let mut first = fetch_command(&sim, "amazon-ads", &args)
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
    assert_eq!(
        creates(&sim),
        1,
        "exactly one report was requested: {:#?}",
        sim.request_log()
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
