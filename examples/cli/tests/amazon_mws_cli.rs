//! `reportflow fetch amazon-mws` against `reportflow sim` processes, as a
//! user would run them: the "Must show" list.

use std::fs;
use std::process::Output;

mod common;

use common::{json_outcome, Sim};
use serde_json::Value;

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    common::fetch(sim, "amazon-mws", &args)
}

fn done(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(output);
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    outcome
}

fn operations<'a>(log: &'a [Value], operation: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    log.iter().filter(move |r| r["operation"] == operation)
}

#[test]
fn corrupt_body_throttle_and_5xx_end_byte_identical_with_one_request_report() {
    let dir = tempfile::tempdir().unwrap();
    let clean_out = dir.path().join("clean.tsv");
    let clean_sim = Sim::with_faults(5, 300, &[]);
    let clean = done(&fetch(&clean_sim, &["--out", clean_out.to_str().unwrap()]));
    let clean_bytes = fs::read(&clean_out).unwrap();
    assert_eq!(
        clean_bytes,
        clean_sim.report_content(clean["report_id"].as_str().unwrap())
    );
    assert_eq!(clean["rows"], 300);

    let faulty_out = dir.path().join("faulty.tsv");
    // The 5xx first: after a throttle the RequestReport bucket is empty and
    // each later call waits a restore interval (60 s).
    let faults = ["corrupt-body", "server-error", "throttle"];
    let faulty_sim = Sim::with_faults(5, 300, &faults);
    let faulty = done(&fetch(
        &faulty_sim,
        &["--out", faulty_out.to_str().unwrap()],
    ));
    assert_eq!(
        fs::read(&faulty_out).unwrap(),
        clean_bytes,
        "byte-identical to the fault-free run"
    );
    assert_eq!(faulty["md5"], clean["md5"]);
    let log = faulty_sim.request_log();
    for fault in faults {
        assert!(
            log.iter().any(|r| r["fault"] == fault),
            "{fault} fired: {log:#?}"
        );
    }
    let answered = operations(&log, "RequestReport")
        .filter(|r| r["fault"].is_null() && r["status"] == 200)
        .count();
    assert_eq!(
        answered, 1,
        "exactly one RequestReport answered without a fault: {log:#?}"
    );
    assert!(log.iter().all(|r| r["paramsIn"] == "form"), "{log:#?}");
}

#[test]
fn a_body_corrupt_every_time_fails_md5_mismatch_after_four_get_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.tsv");
    let sim = Sim::with_faults(5, 100, &["corrupt-body:always"]);
    let output = fetch(&sim, &["--out", out.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(&output);
    assert_eq!(outcome["outcome"], "failed", "{outcome}");
    assert_eq!(outcome["kind"], "md5_mismatch", "{outcome}");
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("MD5 is") && message.contains("was expected"),
        "expected and actual: {message}"
    );
    assert!(!out.exists(), "no output file");
    let log = sim.request_log();
    assert_eq!(operations(&log, "GetReport").count(), 4, "{log:#?}");
}

#[test]
fn a_japanese_report_in_windows_31j_arrives_as_utf8_with_the_same_characters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jp.tsv");
    let sim = Sim::with_faults(5, 120, &[]);
    let outcome = done(&fetch(
        &sim,
        &["--region", "jp", "--out", out.to_str().unwrap()],
    ));
    let bytes = fs::read(&out).unwrap();
    let text = String::from_utf8(bytes.clone()).expect("valid UTF-8");
    assert!(
        text.contains("ギフトセット①") || text.contains("マグカップ（白）"),
        "{text:.200}"
    );
    assert_eq!(
        bytes,
        sim.report_content(outcome["report_id"].as_str().unwrap())
    );
    assert_eq!(outcome["rows"], 120);
}

#[test]
fn a_wrong_secret_is_refused_by_the_simulator() {
    let sim = Sim::with_faults(5, 10, &[]);
    let output = fetch(&sim, &["--secret-key", "not-the-secret"]);
    assert_eq!(output.status.code(), Some(1));
    let outcome = json_outcome(&output);
    assert_eq!(outcome["kind"], "rejected", "{outcome}");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SignatureDoesNotMatch"),
        "{outcome}"
    );
    let log = sim.request_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], 403);
    assert_eq!(log[0]["operation"], "RequestReport");
}

#[test]
fn a_report_id_is_fetched_with_get_report_only() {
    let sim = Sim::with_faults(5, 50, &[]);
    // The simulator knows no report 123: MWS's InvalidReportId, typed.
    let output = fetch(&sim, &["--report-id", "123"]);
    assert_eq!(output.status.code(), Some(1));
    let outcome = json_outcome(&output);
    assert_eq!(outcome["kind"], "report_failed", "{outcome}");
    let log = sim.request_log();
    let operations: Vec<&str> = log.iter().filter_map(|r| r["operation"].as_str()).collect();
    assert_eq!(operations, ["GetReport"]);
}
