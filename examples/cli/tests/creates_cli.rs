//! `fetch --state` killed while its report request is in flight, then run
//! again: no provider ends up with a second report unless the user asks for
//! one. A proxy in front of the simulator passes the create to the
//! simulator (which makes the report) and holds its answer back, so the run
//! is killed with the create in flight, exactly as a crash would catch it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::{fetch_command_at, json_outcome, Sim, CANARY};

/// The report-creating endpoint of each provider (path suffix).
const CREATES: [(&str, &str); 3] = [
    ("amazon-ads", "/report"),
    ("lingxing", "/report/create/reportExportTask"),
    ("yandex-market", "/generate"),
];

/// A TCP proxy to `target` that, while `hold` is set, never returns the
/// answer of a request whose request line is `POST …{suffix}`.
struct HoldingProxy {
    base_url: String,
    hold: Arc<AtomicBool>,
}

impl HoldingProxy {
    fn start(target: &str, suffix: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_owned();
        let hold = Arc::new(AtomicBool::new(true));
        let holding = Arc::clone(&hold);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                pipe(client, server, suffix, Arc::clone(&holding));
            }
        });
        Self { base_url, hold }
    }
}

/// Copies both ways; the answer side goes silent once a held create went
/// out on this connection.
fn pipe(client: TcpStream, server: TcpStream, suffix: &'static str, hold: Arc<AtomicBool>) {
    let silenced = Arc::new(AtomicBool::new(false));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let seen = Arc::clone(&silenced);
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from_client.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buffer[..n]);
            let line = text.lines().next().unwrap_or_default();
            let path = line.split(' ').nth(1).unwrap_or_default();
            let path = path.split('?').next().unwrap_or_default();
            if hold.load(Ordering::SeqCst) && line.starts_with("POST ") && path.ends_with(suffix) {
                seen.store(true, Ordering::SeqCst);
            }
            if to_server.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let (mut from_server, mut to_client) = (server, client);
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from_server.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if silenced.load(Ordering::SeqCst) {
                // The answer is lost in flight: keep the client waiting.
                continue;
            }
            if to_client.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        if !silenced.load(Ordering::SeqCst) {
            let _ = to_client.shutdown(Shutdown::Write);
        }
        // A held connection stays open until the client goes away.
        let _ = to_client.read(&mut [0u8; 1]);
    });
}

fn run(base_url: &str, provider: &str, args: &[&str]) -> Output {
    let output = fetch_command_at(base_url, provider, args).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains(CANARY), "a secret was printed: {printed}");
    output
}

fn kill_while_the_create_is_in_flight(provider: &str, suffix: &'static str, dir: &Path) {
    let sim = Sim::start_with(5, 40, &["--generation-ms", "200"]);
    let proxy = HoldingProxy::start(&sim.base_url, suffix);
    let state = dir.join(format!("{provider}.state"));
    let out = dir.join(format!("{provider}.out"));
    let mut args = vec![
        "--json",
        "--state",
        state.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if provider == "amazon-ads" {
        // Sponsored Display v2, whose create has no duplicate answer.
        args.extend(["--api", "v2"]);
    }
    let mut first = fetch_command_at(&proxy.base_url, provider, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sim.accepted("POST", suffix) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{provider}: the create never reached the simulator"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "{provider}: ended early"
        );
        thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL while the create's answer is held back
    first.wait().unwrap();
    proxy.hold.store(false, Ordering::SeqCst);
    assert!(
        state.exists(),
        "{provider}: the state file was written before the create"
    );

    let rerun = run(&proxy.base_url, provider, &args);
    assert_eq!(
        rerun.status.code(),
        Some(1),
        "{provider}: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let outcome = json_outcome(&rerun);
    assert_eq!(outcome["kind"], "report_may_exist", "{provider}: {outcome}");
    assert_eq!(outcome["blame"], "config", "{outcome}");
    assert!(
        String::from_utf8_lossy(&rerun.stderr).contains("--allow-duplicate-report"),
        "{provider}: the message says how to go on"
    );
    assert_eq!(
        sim.accepted("POST", suffix),
        1,
        "{provider}: no second report"
    );
    assert!(state.exists(), "{provider}: the state file is kept");
    assert!(!out.exists());

    if provider != "amazon-ads" {
        // Lingxing's gateway holds the create endpoint for 2 minutes after a
        // lost answer, and Yandex's generate quota is as slow to return: the
        // second create is shown once, on Amazon Ads.
        return;
    }
    // Asked for explicitly, a second report is made and fetched.
    let mut allowed = args.to_vec();
    allowed.push("--allow-duplicate-report");
    let done = run(&proxy.base_url, provider, &allowed);
    assert!(
        done.status.success(),
        "{provider}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(json_outcome(&done)["outcome"], "done");
    assert_eq!(sim.accepted("POST", suffix), 2, "{provider}");
    assert!(!state.exists());
}

#[test]
fn a_fetch_killed_with_its_create_in_flight_never_silently_makes_a_second_report() {
    let dir = tempfile::tempdir().unwrap();
    for (provider, suffix) in CREATES {
        kill_while_the_create_is_in_flight(provider, suffix, dir.path());
    }
}
