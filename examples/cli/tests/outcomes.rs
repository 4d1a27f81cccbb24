//! The outcome contract of `reportflow fetch --json`: exactly one JSON
//! object on stdout for every exit, a stable `outcome`/`kind`, distinct
//! exits, and human messages that say what to do (no Rust names).

use std::fs;
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{fetch, json_outcome, Sim, BIN};

/// Checks what every run must show and returns the outcome.
fn contract(output: &Output, exit: i32, outcome: &str, kind: &str) -> Value {
    let json = json_outcome(output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(exit), "{json} {stderr}");
    assert_eq!(json["exit"], exit, "{json}");
    assert_eq!(json["outcome"], outcome, "{json}");
    assert_eq!(json["kind"], kind, "{json}");
    let message = json["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{json}");
    for rust in [
        "TooLarge",
        "ReportFailure",
        "Some(",
        "None",
        "Error {",
        "Fatal",
    ] {
        assert!(!message.contains(rust), "{rust} in {message}");
        assert!(!stderr.contains(rust), "{rust} in {stderr}");
    }
    json
}

#[test]
fn bad_arguments_print_one_json_object_and_exit_2() {
    let output = Command::new(BIN)
        .args(["fetch", "amazon-ads", "--json", "--no-such-flag"])
        .output()
        .unwrap();
    let json = contract(&output, 2, "usage_error", "bad_arguments");
    assert!(
        json["message"].as_str().unwrap().contains("--no-such-flag"),
        "{json}"
    );

    let output = Command::new(BIN)
        .args(["fetch", "amazon-ads", "--json", "--seed", "many"])
        .output()
        .unwrap();
    contract(&output, 2, "usage_error", "bad_arguments");
    // Help is not an error.
    let help = Command::new(BIN)
        .args(["fetch", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for documented in ["report_too_large", "no_data", "local_io", "bad_state_file"] {
        assert!(text.contains(documented), "--help documents {documented}");
    }
}

#[test]
fn a_bad_state_file_and_local_failures_print_one_json_object() {
    let sim = Sim::with_faults(3, 20, &[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("job.state");
    fs::write(&state, b"{ not a snapshot").unwrap();
    let output = fetch(
        &sim,
        "amazon-ads",
        &["--json", "--state", state.to_str().unwrap()],
    );
    contract(&output, 2, "usage_error", "bad_state_file");

    let nowhere = dir.path().join("missing-dir").join("report.json");
    let output = fetch(
        &sim,
        "amazon-ads",
        &["--json", "--out", nowhere.to_str().unwrap()],
    );
    let json = contract(&output, 3, "local_failure", "local_io");
    assert!(
        json["message"].as_str().unwrap().contains("check the path"),
        "{json}"
    );
}

#[test]
fn no_data_too_large_and_failed_reports_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let out = out.to_str().unwrap();

    let sim = Sim::with_faults(5, 40, &["task-cancelled"]);
    let no_data = fetch(&sim, "lingxing", &["--json", "--out", out]);
    contract(&no_data, 4, "no_data", "no_data");

    let sim = Sim::with_faults(5, 40, &[]);
    let too_large = fetch(
        &sim,
        "amazon-ads",
        &["--json", "--out", out, "--max-report-bytes", "100"],
    );
    let json = contract(&too_large, 1, "failed", "report_too_large");
    assert_eq!(json["retryable"], false);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("maxDecompressedBytes"),
        "{json}"
    );

    let sim = Sim::with_faults(5, 40, &["report-failure"]);
    let failed = fetch(&sim, "amazon-ads", &["--json", "--out", out]);
    let json = contract(&failed, 1, "failed", "report_failed");
    assert_eq!(json["failure"], "fatal");

    let sim = Sim::with_faults(5, 40, &[]);
    let verified = fetch(&sim, "amazon-ads", &["--json", "--out", out]);
    contract(&verified, 0, "done", "verified");
    assert!(fs::metadata(out).unwrap().len() > 0);
}

#[test]
fn a_partial_report_is_verified_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parts");
    let sim = Sim::with_faults(5, 40, &["partial-report"]);
    let output = fetch(
        &sim,
        "yandex-market",
        &["--json", "--format", "csv", "--out", out.to_str().unwrap()],
    );
    let json = contract(&output, 0, "done", "verified");
    assert_eq!(json["warnings"][0]["type"], "partialReport", "{json}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("partial report"),
        "{stderr}"
    );
}
