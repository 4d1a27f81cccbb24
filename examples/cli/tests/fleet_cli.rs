//! `reportflow fleet run` on the shipped sample plan against `reportflow
//! sim`, as a user runs it: SQLite, nothing to install, every job verified,
//! the manifest printed; run again, it plans and runs nothing.

mod common;

use std::process::Command;

use common::{Sim, BIN};
use serde_json::Value;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fleet/sample.toml");

fn fleet_run(sim: &Sim, dir: &std::path::Path) -> (Vec<Value>, i32) {
    let output = Command::new(BIN)
        .args([
            "fleet",
            "run",
            SAMPLE,
            "--base-url",
            &sim.base_url,
            "--json",
        ])
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("fleet.db").display()))
        .arg("--out")
        .arg(dir.join("reports"))
        .output()
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (lines, output.status.code().unwrap_or(-1))
}

#[test]
fn the_sample_plan_runs_to_a_verified_manifest_and_runs_once() {
    let sim = Sim::with_faults(5, 100, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (lines, code) = fleet_run(&sim, dir.path());
    assert_eq!(code, 0, "{lines:#?}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(12), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["throttled"], 0);
    let manifest: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event"] == "manifest")
        .collect();
    assert_eq!(manifest.len(), 12);
    for entry in &manifest {
        let entry = &entry["entry"];
        let bytes = std::fs::read(entry["path"].as_str().unwrap()).unwrap();
        assert_eq!(
            bytes,
            sim.report_content(entry["reportId"].as_str().unwrap()),
            "{entry}"
        );
    }
    let written = std::fs::read_to_string(dir.path().join("reports/manifest.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 12);
    let (status, quota) = sim.get("/_sim/quota");
    assert_eq!(
        (status, quota.as_slice()),
        (200, br#"{"violations":0}"#.as_slice())
    );

    let (again, code) = fleet_run(&sim, dir.path());
    assert_eq!(code, 0);
    assert_eq!(
        again[0]["new"], 0,
        "re-planning creates nothing: {:?}",
        again[0]
    );
    assert!(
        again.iter().all(|line| line["event"] != "claimed"),
        "nothing left to run"
    );
}
