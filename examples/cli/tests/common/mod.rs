//! What the CLI test files share: `reportflow sim` child processes and
//! `reportflow fetch` runs against them, as a user would start them.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_reportflow");
/// Every secret the simulators accept or issue contains this marker.
pub(crate) const CANARY: &str = "CANARY";
/// Environment variables through which credentials could leak into a test.
const CREDENTIAL_VARS: &[&str] = &[
    "AMAZON_ADS_CLIENT_ID",
    "AMAZON_ADS_CLIENT_SECRET",
    "AMAZON_ADS_REFRESH_TOKEN",
    "AMAZON_ADS_ACCESS_TOKEN",
    "YANDEX_MARKET_API_KEY",
    "YANDEX_MARKET_OAUTH_TOKEN",
    "LINGXING_APP_ID",
    "LINGXING_APP_SECRET",
    "MWS_ACCESS_KEY_ID",
    "MWS_SECRET_KEY",
    "MWS_SELLER_ID",
    "MWS_AUTH_TOKEN",
    "AMAZON_PAY_PUBLIC_KEY_ID",
    "AMAZON_PAY_PRIVATE_KEY_FILE",
];

/// A `reportflow sim` child process, killed on drop.
pub(crate) struct Sim {
    child: Child,
    pub(crate) base_url: String,
}

impl Sim {
    /// `reportflow sim --seed SEED --rows ROWS` plus `extra`.
    pub(crate) fn start_with(seed: u64, rows: u32, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["sim", "--addr", "127.0.0.1:0"])
            .args(["--seed", &seed.to_string(), "--rows", &rows.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let mut origins = first_line.split_whitespace();
        let base_url = origins.next().unwrap_or_default().to_owned();
        let downloads = origins.next().unwrap_or_default();
        assert!(
            base_url.starts_with("http://127.0.0.1:")
                && downloads.starts_with("http://127.0.0.1:")
                && downloads != base_url,
            "first line of `sim` is its API origin, then its download origin: {first_line:?}"
        );
        Self { child, base_url }
    }

    /// A simulator that generates reports in 300 ms, with these faults.
    pub(crate) fn with_faults(seed: u64, rows: u32, faults: &[&str]) -> Self {
        let mut args = vec!["--generation-ms", "300"];
        for fault in faults {
            args.extend(["--fault", fault]);
        }
        Self::start_with(seed, rows, &args)
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Vec<u8>) {
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
        (response.status().as_u16(), body)
    }

    pub(crate) fn request_log(&self) -> Vec<Value> {
        let (status, body) = self.get("/_sim/requests");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    pub(crate) fn report_content(&self, report_id: &str) -> Vec<u8> {
        let (status, body) = self.get(&format!("/_sim/reports/{report_id}"));
        assert_eq!(status, 200, "{report_id}");
        body
    }

    /// Requests the simulator answered with 2xx whose path ends with `suffix`.
    pub(crate) fn accepted(&self, method: &str, suffix: &str) -> usize {
        self.request_log()
            .iter()
            .filter(|r| r["method"] == method)
            .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
            .filter(|r| {
                r["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
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

/// `reportflow fetch PROVIDER --base-url … ` with fast polls and retries, plus `extra`.
pub(crate) fn fetch_command(sim: &Sim, provider: &str, extra: &[&str]) -> Command {
    fetch_command_at(&sim.base_url, provider, extra)
}

/// `fetch_command` against `base_url` (a proxy in front of a simulator).
pub(crate) fn fetch_command_at(base_url: &str, provider: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["fetch", provider, "--base-url", base_url])
        .args(["--poll-ms", "100", "--retry-ms", "100"])
        .args(extra);
    // Credentials in the caller's environment must not change the test.
    for var in CREDENTIAL_VARS {
        command.env_remove(var);
    }
    command
}

/// Runs `fetch` and checks that no secret was printed.
pub(crate) fn fetch(sim: &Sim, provider: &str, extra: &[&str]) -> Output {
    let output = fetch_command(sim, provider, extra).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains(CANARY), "a secret was printed: {printed}");
    output
}

/// The one JSON object `--json` prints.
pub(crate) fn json_outcome(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let outcome = serde_json::from_str(lines.next().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(lines.next(), None, "exactly one line on stdout");
    outcome
}

/// Starts `command` (a `fetch --state STATE …`), waits until its state file
/// names a report id, kills it (SIGKILL: no chance to clean up) and returns
/// the state file's text at that moment.
pub(crate) fn kill_once_a_report_id_is_saved(
    mut command: Command,
    state: &std::path::Path,
) -> String {
    let mut first = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let snapshot = loop {
        let text = std::fs::read_to_string(state).unwrap_or_default();
        if text.contains("\"reportId\":\"") {
            break text;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no report id in the state file"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    first.kill().unwrap();
    first.wait().unwrap();
    snapshot
}
