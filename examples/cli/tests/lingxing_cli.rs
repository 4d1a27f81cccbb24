//! `reportflow fetch lingxing` against `reportflow sim` processes, as a user
//! would run them.

use std::fs;
use std::process::Output;

mod common;

use common::{json_outcome, Sim};

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    common::fetch(sim, "lingxing", &args)
}

fn done(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(output);
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    outcome
}

#[test]
fn faults_change_nothing_and_an_expired_link_is_renewed_not_re_exported() {
    let dir = tempfile::tempdir().unwrap();
    let clean_out = dir.path().join("clean.tsv");
    let clean_sim = Sim::with_faults(3, 400, &[]);
    let clean = done(&fetch(&clean_sim, &["--out", clean_out.to_str().unwrap()]));
    let clean_bytes = fs::read(&clean_out).unwrap();
    assert_eq!(
        clean_bytes,
        clean_sim.report_content(clean["report_id"].as_str().unwrap())
    );
    assert_eq!(clean["rows"], 400);

    let faulty_out = dir.path().join("faulty.tsv");
    let faulty_sim = Sim::with_faults(
        3,
        400,
        &["expired-link", "throttle", "expired-token", "corrupt-body"],
    );
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
    for fault in ["expired-link", "throttle", "expired-token", "corrupt-body"] {
        assert!(
            log.iter().any(|r| r["fault"] == fault),
            "{fault} fired: {log:#?}"
        );
    }
    assert!(
        faulty_sim.accepted("POST", "/basicOpen/report/amazonReportExportTask") >= 1,
        "a renew call"
    );
    let creates = log
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/create/reportExportTask"))
        })
        .filter(|r| r["fault"].is_null())
        .count();
    assert_eq!(creates, 1, "exactly one export task: {log:#?}");
}

#[test]
fn a_fatal_task_fails_typed_and_a_cancelled_one_is_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.tsv");
    let sim = Sim::with_faults(3, 50, &["report-failure"]);
    let failed = fetch(&sim, &["--out", out.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    let outcome = json_outcome(&failed);
    assert_eq!(outcome["outcome"], "failed");
    assert_eq!(outcome["kind"], "report_failed");
    assert!(!out.exists());

    let sim = Sim::with_faults(3, 50, &["task-cancelled"]);
    let cancelled = fetch(&sim, &["--out", out.to_str().unwrap()]);
    assert_eq!(
        cancelled.status.code(),
        Some(4),
        "no data exits 4: {}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    let outcome = json_outcome(&cancelled);
    assert_eq!(outcome["outcome"], "no_data", "{outcome}");
    assert_eq!(outcome["bytes"], 0);
}

#[test]
fn missing_credentials_for_the_real_api_are_a_usage_error() {
    let output = std::process::Command::new(common::BIN)
        .args(["fetch", "lingxing", "--app-id", "ak_only_the_id_00"])
        .env_remove("LINGXING_APP_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("AppSecret"));
}
