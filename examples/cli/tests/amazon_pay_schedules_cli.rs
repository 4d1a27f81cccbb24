//! `reportflow amazon-pay schedules …` and `fetch amazon-pay --latest` /
//! `--since` against a `reportflow sim` process: ensure writes only when
//! the schedule differs, and the reports a schedule produced are found and
//! fetched, never created.

use std::process::{Command, Output};

mod common;

use common::{json_outcome, Sim, BIN};
use serde_json::Value;

const SETTLEMENT: &str = "_GET_FLAT_FILE_OFFAMAZONPAYMENTS_SETTLEMENT_DATA_";

fn schedules(sim: &Sim, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["amazon-pay", "schedules"])
        .args(args)
        .args(["--base-url", &sim.base_url]);
    command.env_remove("AMAZON_PAY_PUBLIC_KEY_ID");
    command.env_remove("AMAZON_PAY_PRIVATE_KEY_FILE");
    command.output().unwrap()
}

fn done(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = json_outcome(output);
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    outcome
}

/// Schedule creates the simulator accepted.
fn writes(sim: &Sim) -> usize {
    sim.accepted("POST", "/v2/report-schedules")
}

#[test]
fn ensure_writes_only_the_first_time_replaces_on_another_frequency_and_lists_one() {
    let sim = Sim::with_faults(3, 5, &[]);
    let ensure = |frequency: &str| {
        done(&schedules(
            &sim,
            &[
                "ensure",
                "--report-type",
                SETTLEMENT,
                "--frequency",
                frequency,
                "--json",
            ],
        ))
    };
    let first = ensure("P1D");
    assert_eq!(first["status"], "created", "{first}");
    assert_eq!(writes(&sim), 1);
    let second = ensure("P1D");
    assert_eq!(second["status"], "unchanged", "{second}");
    assert_eq!(second["schedules"], first["schedules"]);
    assert_eq!(writes(&sim), 1, "no write the second time");
    let third = ensure("P7D");
    assert_eq!(third["status"], "replaced", "{third}");
    assert_eq!(writes(&sim), 2);

    let list = done(&schedules(
        &sim,
        &["list", "--report-type", SETTLEMENT, "--json"],
    ));
    let listed = list["schedules"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "exactly one schedule for the type: {list}");
    assert_eq!(listed[0]["scheduleFrequency"], "P7D");

    let id = listed[0]["reportScheduleId"].as_str().unwrap();
    let table = schedules(&sim, &["get", id]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("ID") && text.contains(id) && text.contains("P7D"),
        "{text}"
    );

    done(&schedules(&sim, &["cancel", id, "--json"]));
    let empty = done(&schedules(&sim, &["list", "--json"]));
    assert_eq!(empty["schedules"], serde_json::json!([]));
    let refused = sim
        .request_log()
        .iter()
        .filter(|r| r["status"] == 401)
        .count();
    assert_eq!(refused, 0, "every call signed and verified");
}

#[test]
fn a_bad_frequency_is_a_usage_error_before_any_request() {
    let sim = Sim::with_faults(3, 5, &[]);
    let output = schedules(
        &sim,
        &[
            "ensure",
            "--report-type",
            SETTLEMENT,
            "--frequency",
            "P1M",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let outcome = json_outcome(&output);
    assert!(
        outcome["message"].as_str().unwrap().contains("P30D"),
        "{outcome}"
    );
    assert!(sim.request_log().is_empty());

    let missing = schedules(&sim, &["ensure", "--frequency", "P1D", "--json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(json_outcome(&missing)["kind"], "bad_arguments");
}

#[test]
fn latest_and_since_find_the_reports_a_schedule_produced() {
    let sim = Sim::with_faults(3, 7, &[]);
    // A schedule whose first run was an hour ago: twelve reports by now.
    let started = chrono_like_hours_ago(1);
    done(&schedules(
        &sim,
        &[
            "ensure",
            "--report-type",
            SETTLEMENT,
            "--frequency",
            "PT5M",
            "--next-creation-time",
            &started,
            "--json",
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("latest.tsv");
    let fetch = |extra: &[&str]| {
        let mut args = vec!["--json", "--report-type", SETTLEMENT];
        args.extend_from_slice(extra);
        common::fetch(&sim, "amazon-pay", &args)
    };
    let latest = done(&fetch(&["--latest", "--out", out.to_str().unwrap()]));
    let id = latest["report_id"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(&out).unwrap(), sim.report_content(&id));
    assert_eq!(sim.accepted("POST", "/v2/reports"), 0, "found, not created");

    let next = done(&fetch(&["--since", &started, "--skip-report", &id]));
    assert_ne!(next["report_id"], latest["report_id"]);

    let none = fetch(&["--since", &chrono_like_hours_ago(-1)]);
    assert_eq!(none.status.code(), Some(4), "no report since then: no_data");
}

/// ISO 8601 basic UTC, `hours` before now (negative: after).
fn chrono_like_hours_ago(hours: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = now - hours * 3_600_000;
    reportflow::providers::amazon_pay::basic_time(reportflow::Millis(at as u64))
}
