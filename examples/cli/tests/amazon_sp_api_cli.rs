//! `reportflow fetch amazon-sp-api` against `reportflow sim` processes, as a
//! user would run them: the "Must show" list for SP-API.

use std::fs;
use std::process::Output;

mod common;

use common::{fetch_command, json_outcome, Sim};
use serde_json::Value;

const CREATE: &str = "/reports/2021-06-30/reports";

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

#[test]
fn throttle_expired_link_lying_labels_and_a_crash_end_byte_identical_with_one_create() {
    let dir = tempfile::tempdir().unwrap();
    let clean_out = dir.path().join("clean.tsv");
    let clean_sim = Sim::with_faults(5, 300, &[]);
    let clean = done(&common::fetch(
        &clean_sim,
        "amazon-sp-api",
        &["--json", "--out", clean_out.to_str().unwrap()],
    ));
    let clean_bytes = fs::read(&clean_out).unwrap();
    assert_eq!(clean["rows"], 300);
    assert_eq!(
        clean_bytes,
        clean_sim.report_content(clean["report_id"].as_str().unwrap())
    );

    // Slow generation, so the first run is still polling when it is killed.
    let faults = ["throttle:2", "expired-link", "mislabelled-gzip"];
    let mut sim_args = vec!["--generation-ms", "3000"];
    for fault in faults {
        sim_args.extend(["--fault", fault]);
    }
    let sim = Sim::start_with(5, 300, &sim_args);
    let state = dir.path().join("job.state");
    let out = dir.path().join("report.tsv");
    let args = [
        "--json",
        "--state",
        state.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let snapshot =
        common::kill_once_a_report_id_is_saved(fetch_command(&sim, "amazon-sp-api", &args), &state);
    assert!(!out.exists());
    let second = done(&common::fetch(&sim, "amazon-sp-api", &args));
    let report_id = second["report_id"].as_str().unwrap();
    assert!(
        snapshot.contains(report_id),
        "the rerun continued the first run's report"
    );
    assert_eq!(
        fs::read(&out).unwrap(),
        clean_bytes,
        "byte-identical to the fault-free run"
    );
    let log = sim.request_log();
    for fault in faults {
        let name = fault.split(':').next().unwrap_or(fault);
        assert!(
            log.iter().any(|r| r["fault"] == name),
            "{fault} fired: {log:#?}"
        );
    }
    assert_eq!(sim.accepted("POST", CREATE), 1, "one create: {log:#?}");
}

#[test]
fn a_fatal_report_ends_with_its_error_documents_text() {
    let sim = Sim::with_faults(5, 20, &["report-failure"]);
    let output = common::fetch(&sim, "amazon-sp-api", &["--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(&output);
    assert_eq!(outcome["kind"], "report_failed", "{outcome}");
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not registered in one of the marketplaces"),
        "{message}"
    );
}

#[test]
fn a_japanese_flat_file_in_windows_31j_arrives_as_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jp.tsv");
    let sim = Sim::with_faults(5, 120, &[]);
    let outcome = done(&common::fetch(
        &sim,
        "amazon-sp-api",
        &["--json", "--adopt-existing", "--out", out.to_str().unwrap()],
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
