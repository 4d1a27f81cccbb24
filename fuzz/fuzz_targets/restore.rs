//! `ReportJob::restore` on mutated snapshots: real snapshots of every
//! provider at every persisted point of a run, with JSON values replaced,
//! removed or retyped by the fuzzer (or raw fuzzer text), restored with the
//! host's config and driven on. Never a panic; no allocation beyond the
//! limits (run with `-malloc_limit_mb`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow::{ReportJob, Snapshot};
use reportflow_fuzz::{credentials, drive, snapshots, Bytes, START};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let all = snapshots();
    let (provider, config, saved) = &all[usize::from(bytes.byte()) % all.len()];
    let Some(original) = saved.get(usize::from(bytes.byte()) % saved.len().max(1)) else {
        return;
    };
    let text = if bytes.byte() % 8 == 0 {
        String::from_utf8_lossy(bytes.0).into_owned()
    } else {
        let mut value: Value = serde_json::from_str(original).expect("own snapshot");
        for _ in 0..(1 + bytes.byte() % 4) {
            mutate(&mut value, &mut bytes);
        }
        value.to_string()
    };
    let Ok(snapshot) = Snapshot::from_json(&text) else {
        return;
    };
    let now = START.saturating_add(bytes.u64() % (48 * 3_600_000));
    if let Ok(mut job) = ReportJob::restore(snapshot, config.clone(), credentials(*provider), now) {
        let _ = job.snapshot().to_json();
        drive(&mut job, now, 64);
    }
});

/// Replaces (or removes) one value of `value`, chosen by the fuzzer.
fn mutate(value: &mut Value, bytes: &mut Bytes<'_>) {
    let mut count = 0usize;
    count_nodes(value, &mut count);
    let target = (bytes.u64() as usize) % count.max(1);
    let mut index = 0usize;
    replace(value, target, &mut index, bytes);
}

fn count_nodes(value: &Value, count: &mut usize) {
    *count += 1;
    match value {
        Value::Array(items) => items.iter().for_each(|v| count_nodes(v, count)),
        Value::Object(map) => map.values().for_each(|v| count_nodes(v, count)),
        _ => {}
    }
}

fn replace(value: &mut Value, target: usize, index: &mut usize, bytes: &mut Bytes<'_>) -> bool {
    if *index == target {
        *value = fresh(value, bytes);
        return true;
    }
    *index += 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace(v, target, index, bytes)),
        Value::Object(map) => {
            let mut removed = None;
            let mut done = false;
            for (key, v) in map.iter_mut() {
                if *index == target && bytes.byte() % 5 == 0 {
                    removed = Some(key.clone());
                    done = true;
                    break;
                }
                if replace(v, target, index, bytes) {
                    done = true;
                    break;
                }
            }
            if let Some(key) = removed {
                map.remove(&key);
            }
            done
        }
        _ => false,
    }
}

/// A new value, often of the same type as `old` (so deeper checks run).
fn fresh(old: &Value, bytes: &mut Bytes<'_>) -> Value {
    match bytes.byte() % 9 {
        0 => Value::Null,
        1 => Value::Bool(bytes.byte() % 2 == 0),
        2 => Value::from(bytes.u64()),
        3 => Value::from(
            [0u64, 1, u64::from(u32::MAX), u64::MAX, 1 << 53][usize::from(bytes.byte()) % 5],
        ),
        4 => Value::from(-(bytes.u64() as i64).abs()),
        5 => {
            let n = usize::from(bytes.byte());
            Value::from(String::from_utf8_lossy(bytes.take(n)).into_owned())
        }
        6 => match old {
            Value::Number(n) => {
                Value::from(n.as_u64().unwrap_or(0).wrapping_add(bytes.u64() % 1_000))
            }
            Value::String(s) => {
                Value::from(format!("{s}{}", String::from_utf8_lossy(bytes.take(4))))
            }
            Value::Array(items) => {
                Value::Array(items.iter().chain(items.iter()).cloned().collect())
            }
            other => other.clone(),
        },
        7 => Value::Array(Vec::new()),
        _ => Value::Object(serde_json::Map::new()),
    }
}
