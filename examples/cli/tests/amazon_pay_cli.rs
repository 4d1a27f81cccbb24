//! `reportflow fetch amazon-pay` against `reportflow sim` processes, as a
//! user would run them: every request signed by the built-in RSA signer and
//! verified by the simulator.

use std::fs;
use std::process::Output;

mod common;

use common::{fetch_command, json_outcome, Sim};

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    common::fetch(sim, "amazon-pay", &args)
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

/// Creates the simulator accepted (`201`).
fn creates(sim: &Sim) -> usize {
    sim.accepted("POST", "/v2/reports")
}

#[test]
fn faults_and_a_crash_mid_poll_end_done_byte_identical_with_one_create() {
    let dir = tempfile::tempdir().unwrap();
    let clean_out = dir.path().join("clean.tsv");
    let clean_sim = Sim::with_faults(5, 300, &[]);
    let clean = done(&fetch(&clean_sim, &["--out", clean_out.to_str().unwrap()]));
    let clean_bytes = fs::read(&clean_out).unwrap();
    assert_eq!(clean["rows"], 300);
    assert_eq!(
        clean_bytes,
        clean_sim.report_content(clean["report_id"].as_str().unwrap())
    );

    // Slow generation, so the first run is still polling when it is killed.
    let faults = ["throttle:2", "server-error:2", "expired-link", "disconnect"];
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
        common::kill_once_a_report_id_is_saved(fetch_command(&sim, "amazon-pay", &args), &state);
    assert!(!out.exists());

    let second = done(&common::fetch(&sim, "amazon-pay", &args));
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
    assert_eq!(second["md5"], clean["md5"]);
    assert!(!state.exists());
    assert_eq!(creates(&sim), 1, "one create: {:#?}", sim.request_log());
    let log = sim.request_log();
    for fault in ["throttle", "server-error", "expired-link", "disconnect"] {
        assert!(
            log.iter().any(|r| r["fault"] == fault),
            "{fault} fired: {log:#?}"
        );
    }
    let refused = log.iter().filter(|r| r["status"] == 401).count();
    assert_eq!(refused, 0, "every signature verified");
}

#[test]
fn another_key_is_refused_by_the_simulator_and_no_key_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("other.pem");
    fs::write(&key, reportflow::sim::keys::OTHER_PRIVATE_KEY_PEM).unwrap();
    let sim = Sim::with_faults(5, 10, &[]);
    let refused = fetch(&sim, &["--private-key-file", key.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let outcome = json_outcome(&refused);
    assert_eq!(outcome["kind"], "rejected", "{outcome}");
    assert!(outcome["message"]
        .as_str()
        .unwrap()
        .contains("InvalidRequestSignature"));
    assert_eq!(creates(&sim), 0);

    let output = std::process::Command::new(common::BIN)
        .args(["fetch", "amazon-pay", "--public-key-id", "LIVE-K"])
        .env_remove("AMAZON_PAY_PRIVATE_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--private-key-file"));
}
