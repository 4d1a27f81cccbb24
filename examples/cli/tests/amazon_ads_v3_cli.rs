//! `reportflow fetch amazon-ads` (Reporting v3, the default `--api`)
//! against `reportflow sim` processes, as a user would run them.

use std::fs;
use std::process::Output;

mod common;

use common::{fetch_command, json_outcome, Sim};

fn fetch(sim: &Sim, extra: &[&str]) -> Output {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    common::fetch(sim, "amazon-ads", &args)
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

/// The UTC date `days` days before today, YYYY-MM-DD (GNU date).
fn days_ago(days: u32) -> String {
    let output = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{days} days ago"), "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Report creations the simulator accepted (`200`; a 425 creates none).
fn creates(sim: &Sim) -> usize {
    sim.accepted("POST", "/amazon-ads-v3/reporting/reports")
}

#[test]
fn throttle_expired_link_lying_gzip_label_and_a_crash_end_done_byte_identical_with_one_create() {
    let dir = tempfile::tempdir().unwrap();
    let clean_out = dir.path().join("clean.json");
    let clean_sim = Sim::with_faults(5, 300, &[]);
    let clean = done(&fetch(&clean_sim, &["--out", clean_out.to_str().unwrap()]));
    assert_eq!(clean["provider"], "amazon-ads-v3", "{clean}");
    assert_eq!(clean["rows"], 300);
    let clean_bytes = fs::read(&clean_out).unwrap();
    assert_eq!(
        clean_bytes,
        clean_sim.report_content(clean["report_id"].as_str().unwrap())
    );

    // Slow generation, so the first run is still polling when it is killed.
    let faults = [
        "throttle:2",
        "server-error",
        "expired-link",
        "lying-gzip-label",
    ];
    let mut sim_args = vec!["--generation-ms", "3000"];
    for fault in faults {
        sim_args.extend(["--fault", fault]);
    }
    let sim = Sim::start_with(5, 300, &sim_args);
    let state = dir.path().join("job.state");
    let out = dir.path().join("report.json");
    let args = [
        "--json",
        "--state",
        state.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let snapshot =
        common::kill_once_a_report_id_is_saved(fetch_command(&sim, "amazon-ads", &args), &state);
    assert!(!out.exists());

    let second = done(&common::fetch(&sim, "amazon-ads", &args));
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
    assert!(!state.exists());
    assert_eq!(creates(&sim), 1, "one create: {:#?}", sim.request_log());
    let log = sim.request_log();
    for fault in [
        "throttle",
        "server-error",
        "expired-link",
        "lying-gzip-label",
    ] {
        assert!(
            log.iter().any(|r| r["fault"] == fault),
            "{fault} fired: {log:#?}"
        );
    }
}

#[test]
fn a_425_duplicate_is_adopted_one_report_no_failure() {
    let sim = Sim::with_faults(5, 40, &["duplicate-425"]);
    let outcome = done(&fetch(&sim, &[]));
    let log = sim.request_log();
    let duplicates = log
        .iter()
        .filter(|r| r["method"] == "POST" && r["status"] == 425)
        .count();
    assert_eq!(duplicates, 1, "{log:#?}");
    // The report the 425 named is the one fetched, and the only one.
    let polled: Vec<&str> = log
        .iter()
        .filter_map(|r| r["path"].as_str())
        .filter_map(|p| p.strip_prefix("/amazon-ads-v3/reporting/reports/"))
        .collect();
    assert!(!polled.is_empty());
    assert!(
        polled.iter().all(|id| *id == outcome["report_id"]),
        "{polled:?}"
    );
    assert_eq!(creates(&sim), 0, "no second create was accepted");
}

#[test]
fn a_range_over_the_limit_is_refused_and_split_fetches_one_report_per_allowed_range() {
    let sim = Sim::with_faults(5, 10, &[]);
    let range = ["--start-date", "2024-01-01", "--end-date", "2024-03-05"];
    let refused = fetch(&sim, &range);
    assert_eq!(refused.status.code(), Some(2));
    let outcome = json_outcome(&refused);
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("at most 31 days"),
        "{outcome}"
    );
    assert!(sim.request_log().is_empty(), "nothing was sent");

    // 64 days ending yesterday: inside sdCampaigns' 65-day retention, and
    // 31 + 31 + 2 days once split.
    let (first, last) = (days_ago(64), days_ago(1));
    let mut split = vec!["--start-date", &first, "--end-date", &last, "--split"];
    let no_dir = fetch(&sim, &split);
    assert_eq!(no_dir.status.code(), Some(2), "--split needs --out DIR");
    assert!(sim.request_log().is_empty(), "nothing was sent");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ranges");
    split.extend(["--out", out.to_str().unwrap()]);
    let run = fetch(&sim, &split);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let outcomes: Vec<serde_json::Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ranges = [
        (days_ago(64), days_ago(34)),
        (days_ago(33), days_ago(3)),
        (days_ago(2), days_ago(1)),
    ];
    assert_eq!(
        outcomes.len(),
        ranges.len(),
        "one outcome per range: {outcomes:?}"
    );
    assert_eq!(creates(&sim), ranges.len(), "one report per range");
    for ((start, end), outcome) in ranges.iter().zip(&outcomes) {
        assert_eq!(outcome["outcome"], "done", "{outcome}");
        let bytes = fs::read(out.join(format!("{start}_{end}.json"))).unwrap();
        assert_eq!(
            bytes,
            sim.report_content(outcome["report_id"].as_str().unwrap()),
            "{start}..{end}"
        );
        assert!(!out.join(format!("{start}_{end}.state.json")).exists());
        // The report covers exactly its range: rows start on its first day
        // and none falls outside it.
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        let dates: Vec<&str> = rows
            .iter()
            .map(|row| row["date"].as_str().unwrap())
            .collect();
        assert_eq!(dates[0], start, "{start}..{end}");
        assert!(
            dates
                .iter()
                .all(|d| (start.as_str()..=end.as_str()).contains(d)),
            "{start}..{end}: {dates:?}"
        );
    }

    // A rerun keeps what is there and creates nothing.
    let rerun = fetch(&sim, &split);
    assert!(rerun.status.success());
    let kept = String::from_utf8_lossy(&rerun.stdout);
    assert_eq!(kept.matches("\"outcome\":\"kept\"").count(), 3, "{kept}");
    assert_eq!(creates(&sim), ranges.len());

    // Flags of the other API are refused, naming the fix.
    let mixed = fetch(&sim, &["--tactic", "T00020"]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("--api v2"));
    let mixed = fetch(&sim, &["--api", "v2", "--report-type", "sdCampaigns"]);
    assert_eq!(mixed.status.code(), Some(2));
}
