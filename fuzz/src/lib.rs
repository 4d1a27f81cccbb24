//! What the fuzz targets share: jobs of every provider at every step of a
//! simulated run, and a bounded drive of a job.

use std::sync::OnceLock;

use reportflow::providers::Provider;
use reportflow::sim::{amazon_ads, lingxing, yandex_market, Harness, Sandbox, SandboxConfig};
use reportflow::{Action, Credentials, Input, JobConfig, JobSpec, Millis, ReportJob};

/// 2024-03-01T00:00:00Z.
pub const START: Millis = Millis(1_709_251_200_000);

/// Every provider, in a fixed order (the fuzzer picks by index).
pub const PROVIDERS: [Provider; 3] = [
    Provider::AmazonAds,
    Provider::Lingxing,
    Provider::YandexMarket,
];

/// The provider picked by `byte`.
pub fn provider(byte: u8) -> Provider {
    PROVIDERS[usize::from(byte) % PROVIDERS.len()]
}

/// The simulator's spec for `provider`.
pub fn spec(provider: Provider) -> JobSpec {
    match provider {
        Provider::AmazonAds => amazon_ads::sample_spec(START),
        Provider::Lingxing => lingxing::sample_spec(),
        _ => yandex_market::sample_spec(START),
    }
}

/// The simulator's credentials for `provider`.
pub fn credentials(provider: Provider) -> Credentials {
    match provider {
        Provider::AmazonAds => amazon_ads::credentials(),
        Provider::Lingxing => lingxing::credentials(),
        _ => yandex_market::credentials(),
    }
}

/// A sandbox and a fresh job for `provider`.
pub fn job(provider: Provider) -> (Sandbox, JobConfig, ReportJob) {
    let sandbox = Sandbox::new(
        SandboxConfig::default()
            .with_rows(8)
            .with_generation_ms(2_000),
    );
    let config = sandbox.job_config(provider);
    let job = ReportJob::new(spec(provider), config.clone(), credentials(provider), START)
        .expect("the simulator's spec is valid");
    (sandbox, config, job)
}

/// Every snapshot a host persists over a clean run of each provider (before
/// each send and at each wait), with the host's config.
pub fn snapshots() -> &'static [(Provider, JobConfig, Vec<String>)] {
    static SNAPSHOTS: OnceLock<Vec<(Provider, JobConfig, Vec<String>)>> = OnceLock::new();
    SNAPSHOTS.get_or_init(|| {
        PROVIDERS
            .iter()
            .map(|&provider| {
                let (sandbox, config, job) = job(provider);
                let mut harness = Harness::new(job, sandbox, START);
                let run = harness.drive_bounded(10_000).expect("a clean run ends");
                (provider, config, run.snapshots)
            })
            .collect()
    })
}

/// Polls `job` for at most `budget` actions, jumping to each wait and
/// answering each request with a transport failure: enough to run every
/// decision a restored or answered job makes next. Must never panic.
pub fn drive(job: &mut ReportJob, mut now: Millis, budget: usize) {
    for _ in 0..budget {
        match job.poll(now) {
            Action::Send(request) => {
                let _ = job.handle(
                    now,
                    Input::TransportFailed {
                        id: request.id,
                        failure: reportflow::TransportFailure::Connect,
                    },
                );
            }
            Action::Wait { until, .. } => now = now.max(until),
            Action::Done(_) | Action::Failed(_) => return,
            _ => {}
        }
    }
}

/// Reads fuzzer bytes front to back.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    /// The next byte, or 0 once the input is spent.
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    /// The next `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// The next 8 bytes as a little-endian integer.
    pub fn u64(&mut self) -> u64 {
        let mut buffer = [0u8; 8];
        let taken = self.take(8);
        buffer[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(buffer)
    }

    /// Whether input is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
