//! `ReportJob::restore` on mutated snapshots (the property-based stand-in
//! for the `restore` fuzz target in `fuzz/`): real snapshots of every
//! provider at every point a host persists them, with JSON values replaced,
//! retyped or removed, are refused with a typed error or restored into a
//! job that runs on without a panic.

use proptest::prelude::*;
use reportflow::providers::Provider;
use reportflow::sim::{
    amazon_ads, amazon_mws, lingxing, yandex_market, Harness, Sandbox, SandboxConfig,
};
use reportflow::{
    Action, Credentials, Input, JobConfig, JobSpec, Millis, ReportJob, Snapshot, TransportFailure,
};
use serde_json::Value;

/// 2024-03-01T00:00:00Z.
const START: Millis = Millis(1_709_251_200_000);

fn cases() -> u32 {
    // Tests may read the environment; the core library may not.
    #[allow(clippy::disallowed_methods)]
    let configured = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    configured.unwrap_or(256)
}

fn credentials(provider: Provider) -> Credentials {
    match provider {
        Provider::AmazonAds => amazon_ads::credentials(),
        Provider::Lingxing => lingxing::credentials(),
        Provider::AmazonMws => amazon_mws::credentials(),
        _ => yandex_market::credentials(),
    }
}

fn spec(provider: Provider) -> JobSpec {
    match provider {
        Provider::AmazonAds => amazon_ads::sample_spec(START),
        Provider::Lingxing => lingxing::sample_spec(),
        Provider::AmazonMws => amazon_mws::sample_spec(START),
        _ => yandex_market::sample_spec(START),
    }
}

/// Every snapshot a clean run of each provider persisted, with its config.
fn snapshots() -> Vec<(Provider, JobConfig, Vec<String>)> {
    [
        Provider::AmazonAds,
        Provider::Lingxing,
        Provider::YandexMarket,
        Provider::AmazonMws,
    ]
    .into_iter()
    .map(|provider| {
        let sandbox = Sandbox::new(SandboxConfig::default().with_rows(8));
        let config = sandbox.job_config(provider);
        let job = ReportJob::new(spec(provider), config.clone(), credentials(provider), START)
            .expect("a valid job");
        let run = Harness::new(job, sandbox, START)
            .drive_bounded(10_000)
            .expect("a clean run ends");
        (provider, config, run.snapshots)
    })
    .collect()
}

/// What replaces a value.
#[derive(Debug, Clone)]
enum Edit {
    Null,
    Bool(bool),
    Number(u64),
    Negative(i64),
    Text(String),
    Empty,
    Remove,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        Just(Edit::Null),
        any::<bool>().prop_map(Edit::Bool),
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(u64::from(u32::MAX)),
            Just(u64::MAX),
            any::<u64>()
        ]
        .prop_map(Edit::Number),
        (i64::MIN..0).prop_map(Edit::Negative),
        "[a-z:/.\\-]{0,12}".prop_map(Edit::Text),
        Just(Edit::Empty),
        Just(Edit::Remove),
    ]
}

/// Applies `edit` to the `target`-th node of `value` (pre-order).
fn apply(value: &mut Value, target: usize, edit: &Edit) {
    fn walk(value: &mut Value, target: usize, index: &mut usize, edit: &Edit) -> bool {
        if let Value::Object(map) = value {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                *index += 1;
                if *index == target {
                    match edit {
                        Edit::Remove => {
                            map.remove(&key);
                        }
                        other => {
                            map.insert(key, replacement(other));
                        }
                    }
                    return true;
                }
                if map
                    .get_mut(&key)
                    .is_some_and(|v| walk(v, target, index, edit))
                {
                    return true;
                }
            }
        } else if let Value::Array(items) = value {
            for item in items.iter_mut() {
                *index += 1;
                if *index == target {
                    *item = replacement(edit);
                    return true;
                }
                if walk(item, target, index, edit) {
                    return true;
                }
            }
        }
        false
    }
    let mut index = 0;
    walk(value, target, &mut index, edit);
}

fn replacement(edit: &Edit) -> Value {
    match edit {
        Edit::Null | Edit::Remove => Value::Null,
        Edit::Bool(b) => Value::Bool(*b),
        Edit::Number(n) => Value::from(*n),
        Edit::Negative(n) => Value::from(*n),
        Edit::Text(s) => Value::from(s.clone()),
        Edit::Empty => Value::Object(serde_json::Map::new()),
    }
}

/// Runs a restored job on for a while: waits jumped over, requests failed.
fn drive(job: &mut ReportJob, mut now: Millis) {
    for _ in 0..64 {
        match job.poll(now) {
            Action::Send(request) => {
                let _ = job.handle(
                    now,
                    Input::TransportFailed {
                        id: request.id,
                        failure: TransportFailure::Connect,
                    },
                );
            }
            Action::Wait { until, .. } => now = now.max(until),
            Action::Done(_) | Action::Failed(_) => return,
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_snapshots_are_refused_typed_or_run_on(
        pick in any::<(u8, u8)>(),
        edits in proptest::collection::vec((any::<u16>(), edit()), 1..4),
        later in 0u64..(48 * 3_600_000),
    ) {
        thread_local! {
            static SNAPSHOTS: Vec<(Provider, JobConfig, Vec<String>)> = snapshots();
        }
        SNAPSHOTS.with(|all| {
            let (provider, config, saved) = &all[usize::from(pick.0) % all.len()];
            let original = &saved[usize::from(pick.1) % saved.len()];
            let mut value: Value = serde_json::from_str(original).expect("own snapshot");
            for (target, edit) in &edits {
                apply(&mut value, usize::from(*target) % 400, edit);
            }
            let now = START.saturating_add(later);
            if let Ok(snapshot) = Snapshot::from_json(&value.to_string()) {
                if let Ok(mut job) =
                    ReportJob::restore(snapshot, config.clone(), credentials(*provider), now)
                {
                    drive(&mut job, now);
                }
            }
        });
    }
}
