//! `reportflow fetch yandex-market` against `reportflow sim` processes, as a
//! user would run them.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{Sim, BIN};

fn start_sim(faults: &[&str]) -> Sim {
    Sim::with_faults(7, 300, faults)
}

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    common::fetch(sim, "yandex-market", &args)
}

/// Report generations the simulator accepted.
fn generates(sim: &Sim) -> usize {
    sim.accepted("POST", "/generate")
}

fn outcome(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&output.stderr)))
}

/// The files under `dir`, relative, sorted, with their contents.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn csv_parts_land_as_files_and_faults_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clean_sim = start_sim(&[]);
    let clean_dir = dir.path().join("clean");
    let clean = fetch(
        &clean_sim,
        &[
            "--kind",
            "united-orders",
            "--format",
            "csv",
            "--out",
            clean_dir.to_str().unwrap(),
        ],
    );
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let clean_json = outcome(&clean);
    assert_eq!(clean_json["outcome"], "done");
    assert_eq!(clean_json["rows"], 300);
    let clean_files = files(&clean_dir);
    assert_eq!(
        clean_files
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["united_orders.csv"]
    );
    let truth = clean_sim.report_content(clean_json["report_id"].as_str().unwrap());
    assert_eq!(clean_files[0].1, truth);

    // One 5xx: each failed generate still spends Yandex's generate quota (one
    // per two minutes for this report), so every extra one costs two real
    // minutes here; the 503 form is judged in the machine's unit tests.
    let faulty_sim = start_sim(&["throttle", "wrong-estimate", "expired-link", "server-error"]);
    let faulty_dir = dir.path().join("faulty");
    let faulty = fetch(
        &faulty_sim,
        &[
            "--kind",
            "united-orders",
            "--format",
            "csv",
            "--out",
            faulty_dir.to_str().unwrap(),
        ],
    );
    assert!(
        faulty.status.success(),
        "{}",
        String::from_utf8_lossy(&faulty.stderr)
    );
    let faulty_json = outcome(&faulty);
    assert_eq!(faulty_json["rows"], clean_json["rows"]);
    assert_eq!(
        files(&faulty_dir),
        clean_files,
        "identical to a fault-free run"
    );
    assert_eq!(generates(&faulty_sim), 1, "one generate");
}

#[test]
fn json_and_file_formats_write_their_outputs() {
    let sim = start_sim(&[]);
    let dir = tempfile::tempdir().unwrap();
    let json_dir = dir.path().join("json");
    let output = fetch(
        &sim,
        &[
            "--kind",
            "key-indicators",
            "--format",
            "json",
            "--out",
            json_dir.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<String> = files(&json_dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["key_indicators_revenue.json", "key_indicators_summary.json"]
    );
    let xlsx = dir.path().join("report.xlsx");
    let body = r#"{"businessId": 5551234, "dateFrom": "2024-01-01", "dateTo": "2024-01-31"}"#;
    let output = fetch(
        &sim,
        &[
            "--kind",
            "united-orders",
            "--body-json",
            body,
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(fs::read(&xlsx).unwrap().starts_with(b"PK\x03\x04"));
}

#[test]
fn no_data_and_too_large_end_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(&["no-data"]);
    let output = fetch(
        &sim,
        &[
            "--format",
            "csv",
            "--out",
            dir.path().join("a").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(4), "no data exits 4");
    assert_eq!(outcome(&output)["outcome"], "no_data");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no data"));
    assert!(files(&dir.path().join("a")).is_empty());

    let sim = start_sim(&["too-large"]);
    let output = fetch(
        &sim,
        &[
            "--format",
            "csv",
            "--out",
            dir.path().join("b").to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let json = outcome(&output);
    assert_eq!(json["kind"], "report_failed");
    assert_eq!(json["failure"], "tooLarge");
    assert!(
        json["message"].as_str().unwrap().contains("shorter period"),
        "{json}"
    );
}

#[test]
fn hostile_archives_are_refused_with_typed_errors_and_write_nothing() {
    for (fault, kind) in [("zip-bomb", "bomb"), ("zip-slip", "unsafe_name")] {
        let dir = tempfile::tempdir().unwrap();
        let sim = start_sim(&[fault]);
        let out = dir.path().join("out");
        let output = fetch(&sim, &["--format", "csv", "--out", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{fault}");
        let json = outcome(&output);
        assert_eq!(json["kind"], "zip", "{fault}: {json}");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains(if kind == "bomb" { "zip bomb" } else { ".." }),
            "{json}"
        );
        assert!(files(&out).is_empty(), "{fault}: nothing lands");
        assert!(!dir.path().join("evil.csv").exists());
    }
}

#[test]
fn multipart_formats_need_a_directory() {
    let sim = start_sim(&[]);
    let output = Command::new(BIN)
        .args([
            "fetch",
            "yandex-market",
            "--base-url",
            &sim.base_url,
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--out DIR"));
}

#[test]
fn body_fields_are_sent_as_given_and_judged_by_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(&[]);
    // Each kind has its own generate quota (1 per 2 or 10 minutes): one
    // generate per kind, so no run waits for a window.
    let orders = r#"{"businessId": 5551234, "dateFrom": "2024-01-01", "dateTo": "2024-01-31"}"#;
    let args = |kind: &str, body: &str, name: &str, field: &str| {
        vec![
            "--kind".to_owned(),
            kind.to_owned(),
            "--body-json".to_owned(),
            body.to_owned(),
            "--format".to_owned(),
            "csv".to_owned(),
            "--body-field".to_owned(),
            field.to_owned(),
            "--out".to_owned(),
            dir.path().join(name).to_string_lossy().into_owned(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fetch(&sim, &args)
    };
    // Declared by the schema (not in the body): sent and accepted.
    let accepted = run(args(
        "united-orders",
        orders,
        "a",
        r#"promoId="cf-2024-01""#,
    ));
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert_eq!(generates(&sim), 1);
    // Not declared: the simulator refuses it as the API's schema would.
    let refused = run(args(
        "goods-feedback",
        r#"{"businessId": 5551234}"#,
        "b",
        r#"promoCode="X""#,
    ));
    assert!(!refused.status.success());
    let json = outcome(&refused);
    assert!(
        json["message"]
            .as_str()
            .unwrap_or_default()
            .contains("promoCode"),
        "{json}"
    );
    assert_eq!(generates(&sim), 1);
    // Already in the body, or not JSON: refused before anything is sent.
    for field in [r#"dateFrom="2023-01-01""#, "promoId=cf-1", "promoId"] {
        let local = run(args("united-orders", orders, "c", field));
        assert!(!local.status.success(), "{field}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&local.stderr)
        );
        assert!(
            text.contains("--body-field") || text.contains("dateFrom"),
            "{field}: {text}"
        );
    }
    assert_eq!((generates(&sim), sim_refused_generates(&sim)), (1, 1));
}

/// Generates the simulator answered with something else than 200.
fn sim_refused_generates(sim: &Sim) -> usize {
    sim.request_log()
        .iter()
        .filter(|r| {
            r["path"].as_str().is_some_and(|p| p.ends_with("/generate"))
                && r["status"].as_u64() != Some(200)
        })
        .count()
}
