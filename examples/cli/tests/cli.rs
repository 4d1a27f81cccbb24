//! The `reportflow` binary against `reportflow sim` processes, as a user
//! would run them.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::{fetch_command, json_outcome, Sim, BIN, CANARY};

const SEED: u64 = 11;
const ROWS: u32 = 500;

fn start_sim(extra: &[&str]) -> Sim {
    Sim::start_with(SEED, ROWS, extra)
}

/// `fetch amazon-ads --api v2 …`: these tests pin Sponsored Display v2
/// (Reporting v3 has its own, `amazon_ads_v3_cli.rs`).
fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    common::fetch(sim, "amazon-ads", &v2(extra))
}

fn v2<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--api", "v2"];
    args.extend_from_slice(extra);
    args
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

    let snapshot = common::kill_once_a_report_id_is_saved(
        fetch_command(&sim, "amazon-ads", &v2(&args)),
        &state,
    );
    assert!(!snapshot.contains(CANARY), "the state file holds no secret");
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

#[test]
fn hostile_arguments_exit_2_before_any_request() {
    let sim = start_sim(&[]);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // A credential with a line break would split a header or a form.
    let output = fetch_command(&sim, "amazon-ads", &v2(&["--client-id", "someone"]))
        .env("AMAZON_ADS_CLIENT_SECRET", "secret\r\nX-Injected: 1")
        .env("AMAZON_ADS_REFRESH_TOKEN", "Atzr|refresh")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("clientSecret"), "{stderr}");
    assert!(
        !stderr.contains("X-Injected"),
        "the value is not quoted: {stderr}"
    );
    // Not an http(s) origin.
    let output = common::fetch_command_at("ftp://127.0.0.1:1", "amazon-ads", &v2(&[]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("http"));
    // A directory for a one-file report.
    let out = format!("{}/", dir.path().display());
    let output = fetch(&sim, &["--out", &out]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("directory"));
    assert!(started.elapsed() < Duration::from_secs(10), "at once");
    assert!(sim.request_log().is_empty(), "{:#?}", sim.request_log());
}

#[test]
fn a_run_past_its_deadline_continues_when_rerun() {
    // The report takes 3 s; the first run allows 1 s.
    let sim = start_sim(&["--generation-ms", "3000"]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.state");
    let out = dir.path().join("report.json");
    let args = |deadline: &'static str| {
        vec![
            "--json".to_owned(),
            "--state".to_owned(),
            state.display().to_string(),
            "--out".to_owned(),
            out.display().to_string(),
            "--deadline".to_owned(),
            deadline.to_owned(),
        ]
    };
    let first: Vec<String> = args("1s");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let failed = fetch(&sim, &first);
    assert_eq!(failed.status.code(), Some(1));
    let outcome = json_outcome(&failed);
    assert_eq!(outcome["kind"], "deadline_exceeded", "{outcome}");
    assert_eq!(outcome["blame"], "host", "{outcome}");
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(message.contains("UTC"), "{message}");
    assert!(state.exists(), "kept to continue");

    let second: Vec<String> = args("60s");
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let done = fetch(&sim, &second);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let outcome = json_outcome(&done);
    assert_eq!(outcome["report_id"], json_outcome(&failed)["report_id"]);
    assert_eq!(creates(&sim), 1);
}

#[test]
fn a_state_file_claiming_done_is_not_believed_without_the_bytes() {
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
        "--deadline",
        "1s",
    ];
    let _ = fetch(&sim, &args);
    let text = fs::read_to_string(&state).expect("a state file");
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let report_id = value["machine"]["life"]["reportId"].clone();
    value["job"]["terminal"] = serde_json::json!({"type": "done", "value": {
        "provider": "amazon-ads", "reportId": report_id, "outcome": "complete",
        "contentType": "application/json", "recordFormat": "json_array", "rawBytes": 2,
        "bytes": 2, "md5": "d751713988987e9331980363e24189ce", "gzip": false, "rows": 0,
        "requests": 3}});
    fs::write(&state, value.to_string()).unwrap();
    let output = fetch(&sim, &args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("says the report is done"));
    // With the bytes it claims (`[]`), it is believed.
    fs::write(&out, b"[]").unwrap();
    let output = fetch(&sim, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(fs::read(&out).unwrap(), b"[]");
}

#[test]
fn a_server_that_never_answers_fails_within_its_timeouts() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let output =
        common::fetch_command_at(&base_url, "amazon-ads", &v2(&["--json", "--timeout", "1s"]))
            .output()
            .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    let outcome = json_outcome(&output);
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(message.contains("timed out"), "{message}");
    // Six attempts of one second each, with short backoffs between.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}
