//! End to end over real loopback HTTP: the simulators behind `SimServer`,
//! jobs driven by the same blocking host loop the CLI uses.

use std::io::Read;
use std::ops::ControlFlow;

use reportflow::providers::Provider;
use reportflow::sim::{amazon_ads, Fault, FaultPlan, LoggedRequest, SandboxConfig};
use reportflow::{Blame, Error, Event, JobConfig, PollPolicy, ReportJob, RetryPolicy, Summary};
use reportflow_host::blocking::{drive, Step, Transport};
use reportflow_host::sim_server::{SimServer, REPORT_CONTENT_PREFIX, REQUEST_LOG_PATH};
use reportflow_host::wall_clock;

const SEED: u64 = 7;
/// Retry-After of the simulator's `throttle` fault.
const THROTTLE_RETRY_AFTER_MS: u64 = 2_000;

/// A server with fast report generation and the given faults.
fn server(faults: &str) -> SimServer {
    let plan = if faults.is_empty() {
        FaultPlan::none()
    } else {
        FaultPlan::parse(faults).unwrap()
    };
    let config = SandboxConfig::default()
        .with_seed(SEED)
        .with_rows(300)
        .with_generation_ms(300)
        .with_faults(plan);
    SimServer::start("127.0.0.1:0", config).unwrap()
}

/// The sandbox's job config with eager polling and retries, so faults cost
/// fractions of a second (a `Retry-After` still rules).
fn fast_config(server: &SimServer) -> JobConfig {
    let mut config = server.with_sandbox(|sandbox| sandbox.job_config(Provider::AmazonAds));
    config.poll = PollPolicy::new(100, 1_000);
    config.retry = RetryPolicy::new(6, 100, 1_000);
    config
}

struct Fetched {
    outcome: Result<Summary, Error>,
    /// Decoded bytes as the host would keep them (voided on `DataReset`).
    data: Vec<u8>,
    events: Vec<Event>,
}

fn fetch(server: &SimServer) -> Fetched {
    let now = wall_clock();
    let mut job = ReportJob::new(
        amazon_ads::sample_spec(now),
        fast_config(server),
        amazon_ads::credentials(),
        now,
    )
    .unwrap();
    let mut data = Vec::new();
    let mut events = Vec::new();
    let outcome = drive(&mut job, &mut Transport::new(), |_, step| {
        if let Step::Event(event) = step {
            match event {
                Event::Data(chunk) => {
                    // A host that appends `Data` and truncates on `DataReset`
                    // relies on this; a restart without a reset would corrupt it.
                    assert_eq!(
                        chunk.offset,
                        data.len() as u64,
                        "Data offsets continue where the last left off"
                    );
                    data.extend_from_slice(&chunk.bytes);
                }
                Event::DataReset { .. } => data.clear(),
                _ => {}
            }
            events.push(event.clone());
        }
        ControlFlow::Continue(())
    });
    Fetched {
        outcome,
        data,
        events,
    }
}

fn http_get(url: &str) -> (u16, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent.get(url).call().unwrap();
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .unwrap();
    (response.status().as_u16(), body)
}

fn assert_no_credentials_on_downloads(log: &[LoggedRequest]) {
    let downloads: Vec<&LoggedRequest> = log.iter().filter(|r| r.path.contains("/_s3/")).collect();
    assert!(
        !downloads.is_empty(),
        "the report was downloaded from the simulated S3"
    );
    for download in downloads {
        assert!(
            !download.has_header("authorization"),
            "S3 request carried Authorization: {download:?}"
        );
        assert!(
            !download.has_header("amazon-advertising-api-clientid"),
            "S3 request carried Ads headers: {download:?}"
        );
    }
}

#[test]
fn a_report_over_http_equals_the_simulators_ground_truth() {
    let server = server("");
    let fetched = fetch(&server);
    let summary = fetched.outcome.unwrap();
    let truth = server.report_content(&summary.report_id).unwrap();
    assert_eq!(fetched.data, truth);
    assert_eq!(summary.bytes, truth.len() as u64);
    assert_eq!(summary.rows, 300);
    assert!(summary.gzip);
    assert!(fetched.events.iter().any(
        |e| matches!(e, Event::ReportCreated { report_id } if *report_id == summary.report_id)
    ));

    // The same ground truth and log are served over HTTP for other hosts.
    let (status, body) = http_get(&format!(
        "{}{REPORT_CONTENT_PREFIX}{}",
        server.base_url(),
        summary.report_id
    ));
    assert_eq!((status, body), (200, truth));
    let (status, body) = http_get(&format!("{}{REQUEST_LOG_PATH}", server.base_url()));
    assert_eq!(status, 200);
    let log: Vec<LoggedRequest> = serde_json::from_slice(&body).unwrap();
    assert_eq!(log, server.requests());
    assert_eq!(
        log.len() as u32,
        summary.requests,
        "every request the job sent reached the simulator once"
    );
    assert_no_credentials_on_downloads(&log);
}

/// Runs the sample report with `faults` and checks it ends byte-identical
/// to a fault-free run with the same seed, with every fault actually fired.
fn assert_recovers_from(faults: &str, expected: &[Fault]) -> Vec<LoggedRequest> {
    let clean_server = server("");
    let clean = fetch(&clean_server);
    let clean_summary = clean.outcome.unwrap();

    let faulty_server = server(faults);
    let faulty = fetch(&faulty_server);
    let log = faulty_server.requests();
    let summary = faulty
        .outcome
        .unwrap_or_else(|error| panic!("{faults}: {error}; log: {log:#?}"));
    assert_eq!(
        faulty.data, clean.data,
        "{faults}: decoded bytes differ from the fault-free run"
    );
    assert_eq!(
        summary.md5, clean_summary.md5,
        "{faults}: transferred bytes differ"
    );
    assert_eq!(summary.rows, clean_summary.rows);
    for fault in expected {
        assert!(
            log.iter().any(|r| r.fault == Some(*fault)),
            "{faults}: {fault} never fired; log: {log:#?}"
        );
    }
    assert_no_credentials_on_downloads(&log);
    log
}

#[test]
fn throttling_is_waited_out_as_retry_after_says() {
    let log = assert_recovers_from("throttle:2", &[Fault::Throttle]);
    let throttled: Vec<&LoggedRequest> = log
        .iter()
        .filter(|r| r.fault == Some(Fault::Throttle))
        .collect();
    assert_eq!(throttled.len(), 2);
    for throttle in throttled {
        let window_end = throttle.at.saturating_add(THROTTLE_RETRY_AFTER_MS);
        let inside: Vec<&LoggedRequest> = log
            .iter()
            .filter(|r| r.at > throttle.at && r.at < window_end)
            .collect();
        assert!(
            inside.is_empty(),
            "requests inside the Retry-After window of {throttle:?}: {inside:#?}"
        );
    }
}

#[test]
fn server_errors_are_retried() {
    assert_recovers_from("server-error:2", &[Fault::ServerError]);
}

#[test]
fn an_expired_link_is_refreshed_without_a_second_report() {
    let log = assert_recovers_from("expired-link", &[Fault::ExpiredLink]);
    let creates = log
        .iter()
        .filter(|r| r.path.ends_with("/report") && r.method == reportflow::Method::Post)
        .count();
    assert_eq!(creates, 1, "{log:#?}");
}

#[test]
fn a_corrupt_body_is_downloaded_again() {
    assert_recovers_from("corrupt-body", &[Fault::CorruptBody]);
}

#[test]
fn a_download_broken_mid_body_recovers() {
    assert_recovers_from("disconnect", &[Fault::Disconnect]);
}

#[test]
fn a_body_corrupt_on_every_link_fails_with_an_integrity_error() {
    let server = server("corrupt-body:always");
    let fetched = fetch(&server);
    let error = fetched.outcome.unwrap_err();
    assert!(matches!(error, Error::Integrity(_)), "{error:?}");
    assert_eq!(error.blame(), Blame::Data);
    assert!(
        ["md5_mismatch", "gzip"].contains(&error.kind().as_str()),
        "{}",
        error.kind()
    );
    // Whether any data went out before the check failed depends on where the
    // flipped byte lands; whatever went out must have been voided.
    assert!(fetched.data.is_empty(), "provisional data was voided");
}

#[test]
fn cors_preflight_and_headers_let_browsers_in() {
    let server = server("");
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let preflight = agent
        .run(
            ureq::http::Request::builder()
                .method("OPTIONS")
                .uri(format!("{}/amazon-ads/v2/reports/x", server.base_url()))
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", "GET")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization, amazon-advertising-api-scope",
                )
                .body(())
                .unwrap(),
        )
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert_eq!(
        header("access-control-allow-headers"),
        "authorization, amazon-advertising-api-scope"
    );
    assert!(header("access-control-allow-methods").contains("POST"));
    assert!(
        server.requests().is_empty(),
        "preflights are not simulator traffic"
    );

    let response = agent
        .get(format!("{}/amazon-ads/nowhere", server.base_url()))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let expose = response
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap();
    for name in [
        "Location",
        "Retry-After",
        "X-RateLimit-Resource-Until",
        "Content-MD5",
    ] {
        assert!(expose.contains(name), "{expose}");
    }
}

#[test]
fn shutdown_closes_the_port() {
    let server = server("");
    let addr = server.local_addr();
    server.shutdown();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after shutdown"
    );
}

/// A plain HTTP client (no redirects followed by itself) with non-2xx
/// answers as values.
fn raw_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let end = url
        .get(after_scheme..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |at| after_scheme + at);
    url.get(..end).unwrap_or(url)
}

/// What every widely used client does with the simulators' 307 (the Fetch
/// standard, undici, curl, Python requests): follow it, keeping the
/// request's headers, except `Authorization` when the redirect leaves the
/// origin. The simulated S3 refuses any `Authorization` (as S3 does for a
/// presigned URL), so this works only because the link lives on its own
/// origin, as in production.
#[test]
fn a_client_that_follows_the_307_with_its_authorization_downloads_the_report() {
    let server = server("");
    let report_id = fetch(&server).outcome.unwrap().report_id;
    let agent = raw_agent();
    let api = format!("{}/amazon-ads", server.base_url());
    let mut token_response = agent
        .post(format!("{api}/auth/o2/token"))
        .send_form([
            ("grant_type", "refresh_token"),
            ("client_id", amazon_ads::CLIENT_ID),
            ("client_secret", amazon_ads::CLIENT_SECRET),
            ("refresh_token", amazon_ads::REFRESH_TOKEN),
        ])
        .unwrap();
    assert_eq!(token_response.status().as_u16(), 200);
    let token: serde_json::Value =
        serde_json::from_slice(&token_response.body_mut().read_to_vec().unwrap()).unwrap();
    let authorization = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Amazon-Advertising-API-ClientId", amazon_ads::CLIENT_ID),
        ("Amazon-Advertising-API-Scope", amazon_ads::PROFILE_ID),
    ];
    let get = |url: &str, with_authorization: bool| {
        let mut request = agent.get(url);
        for (name, value) in headers {
            if with_authorization || name != "Authorization" {
                request = request.header(name, value);
            }
        }
        let mut response = request.call().unwrap();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.body_mut().read_to_vec().unwrap();
        (response.status().as_u16(), location, body)
    };

    let (status, location, _) = get(&format!("{api}/v2/reports/{report_id}/download"), true);
    assert_eq!(status, 307);
    let link = location.expect("a 307 names the link");
    assert_eq!(
        origin_of(&link),
        server.download_base_url(),
        "the link is on the download host"
    );
    assert_ne!(origin_of(&link), server.base_url());

    // Cross-origin: the follower drops Authorization and gets the report.
    let (status, _, body) = get(&link, false);
    assert_eq!(status, 200);
    let decoded =
        reportflow::integrity::gunzip(&body, reportflow::integrity::Limits::default()).unwrap();
    assert_eq!(decoded, server.report_content(&report_id).unwrap());
    // A client that kept Authorization would be refused, as by S3.
    assert_eq!(get(&link, true).0, 400);
    // Each host answers only its own paths.
    let on_api_host = link.replacen(server.download_base_url(), server.base_url(), 1);
    assert_eq!(get(&on_api_host, false).0, 404);
    assert_eq!(
        get(
            &format!(
                "{}/amazon-ads/v2/reports/{report_id}",
                server.download_base_url()
            ),
            true
        )
        .0,
        404
    );

    let (status, body) = http_get(&format!("{}/_sim/hosts", server.base_url()));
    assert_eq!(status, 200);
    let hosts: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(hosts["api"], server.base_url());
    assert_eq!(hosts["downloads"], server.download_base_url());
    let log = server.requests();
    let served_by = |path_part: &str| -> Vec<&str> {
        log.iter()
            .filter(|r| r.path.contains(path_part) && r.status != 404)
            .map(|r| r.origin.as_str())
            .collect()
    };
    assert!(served_by("/_s3/")
        .iter()
        .all(|o| *o == server.download_base_url()));
    assert!(served_by("/v2/reports/")
        .iter()
        .any(|o| *o == server.base_url()));
}
