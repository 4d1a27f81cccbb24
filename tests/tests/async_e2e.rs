//! End to end over real loopback HTTP with the async host
//! (`reportflow_host::nonblocking`): every provider's sample report, faults,
//! many jobs on one connection pool, cancellation — and the same bytes as
//! the blocking host.

use std::ops::ControlFlow;
use std::sync::Arc;

use reportflow::providers::Provider;
use reportflow::sim::{self, FaultPlan, SandboxConfig};
use reportflow::{Error, Event, JobConfig, PollPolicy, ReportJob, RetryPolicy, Summary};
use reportflow_host::nonblocking::{drive, Step, Transport};
use reportflow_host::signer::{RsaSigner, Signer};
use reportflow_host::sim_server::SimServer;
use reportflow_host::{blocking, wall_clock};

const SEED: u64 = 11;
const ROWS: u32 = 200;

fn server(faults: &str) -> SimServer {
    let plan = if faults.is_empty() {
        FaultPlan::none()
    } else {
        FaultPlan::parse(faults).unwrap()
    };
    let config = SandboxConfig::default()
        .with_seed(SEED)
        .with_rows(ROWS)
        .with_generation_ms(300)
        .with_faults(plan);
    SimServer::start("127.0.0.1:0", config).unwrap()
}

/// The simulated merchant's key, for the providers whose requests the host
/// signs (Amazon Pay).
fn signer() -> Arc<dyn Signer> {
    Arc::new(RsaSigner::from_pem(sim::keys::MERCHANT_PRIVATE_KEY_PEM).unwrap())
}

/// One connection pool for every job of a test, with the simulated signer.
fn transport() -> Transport {
    Transport::new().with_signer(signer())
}

/// The sandbox's job config with eager polling and retries, so faults cost
/// fractions of a second (a `Retry-After` still rules).
fn fast_config(server: &SimServer, provider: Provider) -> JobConfig {
    let mut config = server.with_sandbox(|sandbox| sandbox.job_config(provider));
    config.poll = PollPolicy::new(100, 1_000);
    config.retry = RetryPolicy::new(6, 100, 1_000);
    config
}

fn job(server: &SimServer, provider: Provider) -> ReportJob {
    let now = wall_clock();
    let (spec, credentials) = sim::sample_job(provider, now);
    ReportJob::new(spec, fast_config(server, provider), credentials, now).unwrap()
}

/// What a host keeps: the decoded bytes (voided on `DataReset`) and the outcome.
struct Fetched {
    outcome: Result<Summary, Error>,
    data: Vec<u8>,
}

/// Keeps `Data`, voids it on `DataReset`.
fn keep(data: &mut Vec<u8>, step: &Step<'_>) {
    match step {
        Step::Event(Event::Data(chunk)) => {
            assert_eq!(
                chunk.offset,
                data.len() as u64,
                "Data offsets are contiguous"
            );
            data.extend_from_slice(&chunk.bytes);
        }
        Step::Event(Event::DataReset { .. }) => data.clear(),
        _ => {}
    }
}

async fn fetch_async(mut job: ReportJob, transport: &Transport) -> Fetched {
    let mut data = Vec::new();
    let outcome = drive(&mut job, transport, |_, step| {
        keep(&mut data, &step);
        ControlFlow::Continue(())
    })
    .await;
    Fetched { outcome, data }
}

fn fetch_blocking(mut job: ReportJob) -> Fetched {
    let mut data = Vec::new();
    let mut transport = blocking::Transport::new().with_signer(signer());
    let outcome = blocking::drive(&mut job, &mut transport, |_, step| {
        keep(&mut data, &step);
        ControlFlow::Continue(())
    });
    Fetched { outcome, data }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_provider_ends_done_with_the_ground_truth_and_the_blocking_hosts_bytes() {
    let rt = runtime();
    let transport = transport();
    for &provider in Provider::ALL {
        let async_server = server("");
        let fetched = rt.block_on(fetch_async(job(&async_server, provider), &transport));
        let summary = fetched
            .outcome
            .unwrap_or_else(|error| panic!("{provider}: {error}"));
        let truth = async_server.report_content(&summary.report_id).unwrap();
        assert_eq!(fetched.data, truth, "{provider}: the simulator's report");
        assert_eq!(summary.bytes, truth.len() as u64);
        assert_eq!(
            summary.requests as usize,
            async_server.requests().len(),
            "{provider}: every request reached the simulator once"
        );

        let blocking_server = server("");
        let reference = fetch_blocking(job(&blocking_server, provider));
        let reference_summary = reference.outcome.unwrap();
        assert_eq!(fetched.data, reference.data, "{provider}: same bytes");
        assert_eq!(
            summary.md5, reference_summary.md5,
            "{provider}: same transfer"
        );
        assert_eq!(summary.rows, reference_summary.rows);
    }
}

#[test]
fn faults_are_recovered_byte_identical_to_a_clean_run() {
    let rt = runtime();
    let transport = transport();
    let clean_server = server("");
    let clean = rt.block_on(fetch_async(
        job(&clean_server, Provider::AmazonAds),
        &transport,
    ));
    let clean_summary = clean.outcome.unwrap();
    for faults in [
        "throttle:2",
        "server-error:2",
        "expired-link",
        "corrupt-body",
        "disconnect",
    ] {
        let faulty_server = server(faults);
        let faulty = rt.block_on(fetch_async(
            job(&faulty_server, Provider::AmazonAds),
            &transport,
        ));
        let summary = faulty
            .outcome
            .unwrap_or_else(|error| panic!("{faults}: {error}"));
        assert_eq!(faulty.data, clean.data, "{faults}: decoded bytes");
        assert_eq!(
            summary.md5, clean_summary.md5,
            "{faults}: transferred bytes"
        );
        assert!(
            faulty_server.requests().iter().any(|r| r.fault.is_some()),
            "{faults}: the fault fired"
        );
    }
}

#[test]
fn many_jobs_share_one_transport_and_run_interleaved() {
    const JOBS: usize = 12;
    let rt = runtime();
    let transport = transport();
    let shared = server("");
    let outcomes = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..JOBS {
            let job = job(&shared, Provider::AmazonAds);
            let transport = transport.clone();
            set.spawn(async move { fetch_async(job, &transport).await });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            outcomes.push(joined.unwrap());
        }
        outcomes
    });
    assert_eq!(outcomes.len(), JOBS);
    let mut reports = Vec::new();
    for fetched in outcomes {
        let summary = fetched.outcome.unwrap();
        assert_eq!(
            fetched.data,
            shared.report_content(&summary.report_id).unwrap()
        );
        reports.push(summary.report_id);
    }
    reports.sort();
    reports.dedup();
    assert_eq!(reports.len(), JOBS, "one report per job");

    // On one thread, this order proves the jobs waited for the simulator
    // concurrently rather than one after another: every job created its
    // report before the first report was downloaded.
    let log = shared.requests();
    let downloads = shared.download_base_url().to_owned();
    let last_create = log
        .iter()
        .rposition(|r| r.path.ends_with("/report") && r.method == reportflow::Method::Post);
    let first_download = log.iter().position(|r| downloads.starts_with(&r.origin));
    assert!(
        last_create < first_download && first_download.is_some(),
        "jobs ran one after another: {log:#?}"
    );
}

#[test]
fn an_observer_that_breaks_cancels_the_job() {
    let rt = runtime();
    let server = server("");
    let mut job = job(&server, Provider::AmazonAds);
    let transport = transport();
    let mut sent = 0;
    let outcome = rt.block_on(drive(&mut job, &transport, |_, step| {
        if matches!(step, Step::Sending(_)) {
            sent += 1;
        }
        if sent == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }));
    assert!(matches!(outcome, Err(Error::Cancelled)), "{outcome:?}");
    assert_eq!(
        server.requests().len(),
        1,
        "the request the observer stopped never went out"
    );
}
