//! `reportflow fetch yandex-market` against `reportflow sim` processes, as a
//! user would run them.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reportflow");
const CANARY: &str = "CANARY";

/// A `reportflow sim` child process, killed on drop.
struct Sim {
    child: Child,
    base_url: String,
}

impl Sim {
    fn start(faults: &[&str]) -> Self {
        let mut command = Command::new(BIN);
        command.args([
            "sim",
            "--addr",
            "127.0.0.1:0",
            "--seed",
            "7",
            "--rows",
            "300",
            "--generation-ms",
            "300",
        ]);
        for fault in faults {
            command.args(["--fault", fault]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let base_url = first_line.trim().to_owned();
        assert!(base_url.starts_with("http://127.0.0.1:"), "{first_line:?}");
        Self { child, base_url }
    }

    fn get(&self, path: &str) -> Vec<u8> {
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
        body
    }

    fn generates(&self) -> usize {
        let log: Vec<Value> = serde_json::from_slice(&self.get("/_sim/requests")).unwrap();
        log.iter()
            .filter(|r| {
                r["path"].as_str().is_some_and(|p| p.ends_with("/generate")) && r["status"] == 200
            })
            .count()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let output = Command::new(BIN)
        .args([
            "fetch",
            "yandex-market",
            "--base-url",
            &sim.base_url,
            "--poll-ms",
            "100",
            "--retry-ms",
            "100",
            "--json",
        ])
        .args(extra)
        .env_remove("YANDEX_MARKET_API_KEY")
        .env_remove("YANDEX_MARKET_OAUTH_TOKEN")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains(CANARY), "a secret was printed: {printed}");
    output
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
    let clean_sim = Sim::start(&[]);
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
    let truth = clean_sim.get(&format!(
        "/_sim/reports/{}",
        clean_json["report_id"].as_str().unwrap()
    ));
    assert_eq!(clean_files[0].1, truth);

    let faulty_sim = Sim::start(&[
        "throttle",
        "wrong-estimate",
        "expired-link",
        "server-error:2",
    ]);
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
    assert_eq!(faulty_sim.generates(), 1, "one generate");
}

#[test]
fn json_and_file_formats_write_their_outputs() {
    let sim = Sim::start(&[]);
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
    let sim = Sim::start(&["no-data"]);
    let output = fetch(
        &sim,
        &[
            "--format",
            "csv",
            "--out",
            dir.path().join("a").to_str().unwrap(),
        ],
    );
    assert!(output.status.success());
    assert_eq!(outcome(&output)["outcome"], "no_data");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no data"));
    assert!(files(&dir.path().join("a")).is_empty());

    let sim = Sim::start(&["too-large"]);
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
    assert!(
        json["message"].as_str().unwrap().contains("shorter period"),
        "{json}"
    );
}

#[test]
fn hostile_archives_are_refused_with_typed_errors_and_write_nothing() {
    for (fault, kind) in [("zip-bomb", "bomb"), ("zip-slip", "unsafe_name")] {
        let dir = tempfile::tempdir().unwrap();
        let sim = Sim::start(&[fault]);
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
    let sim = Sim::start(&[]);
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
