//! Versioned, secret-free snapshots of a job.

use serde::{Deserialize, Serialize};

use crate::action::{Phase, Summary};
use crate::config::JobConfig;
use crate::error::{Error, RestoreError};
use crate::json_fields;
use crate::providers::registry::{SavedMachine, SavedMachineRef};
use crate::time::Millis;

/// The snapshot format this build writes and reads.
///
/// Version 3 (hardening) records a create request that went out before its
/// answer was seen (`machine.life.createSent`) and the job's absolute
/// deadline (`job.deadline`); version 2 snapshots lack both and cannot say
/// whether a create is in flight, so they are refused with
/// [`RestoreError::UnsupportedVersion`].
///
/// Version 2 (the provider kit) keeps a provider's machine as its protocol
/// state plus the shared lifecycle (`machine.protocol`, `machine.life`)
/// and the job's own state apart (`job`). Version 1 snapshots are refused
/// with [`RestoreError::UnsupportedVersion`]: their machine layout cannot
/// be mapped onto the new one without guessing budgets, so a job saved by
/// 0.1 is finished by 0.1 (or started afresh).
pub const FORMAT_VERSION: u32 = 3;

/// A job as plain data: provider state, counters, report id, clock. Contains
/// no credentials, tokens or signed URLs, so it can be stored anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub(crate) format_version: u32,
    pub(crate) machine: SavedMachine,
    pub(crate) job: JobState,
}

crate::json_fields::deserialize_struct! {
    Snapshot, fields = Camel, unknown = Ignore;
    format_version, machine, job
}

/// A [`Snapshot`] borrowed from a running job: the same JSON, written
/// without copying the machine and the job's state first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotRef<'a> {
    pub(crate) format_version: u32,
    pub(crate) machine: SavedMachineRef<'a>,
    pub(crate) job: &'a JobState,
}

impl SnapshotRef<'_> {
    /// The snapshot as JSON text ([`Snapshot::to_json`]'s).
    pub(crate) fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The job's own state, whatever its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobState {
    pub(crate) config: JobConfig,
    pub(crate) clock: Millis,
    pub(crate) started_at: Millis,
    /// When the job fails with `DeadlineExceeded` (absolute, so a host can
    /// move it: `ReportJob::set_deadline`).
    pub(crate) deadline: Millis,
    pub(crate) next_request_id: u64,
    pub(crate) requests: u32,
    pub(crate) phase: Phase,
    pub(crate) terminal: Option<Terminal>,
}

crate::json_fields::deserialize_struct! {
    JobState, fields = Camel, unknown = Ignore;
    config, clock, started_at, deadline, next_request_id, requests, phase, terminal
}

/// How a job ended: `{"type": "done" | "failed", "value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub(crate) enum Terminal {
    Done(Summary),
    Failed(Error),
}

crate::json_fields::deserialize_tagged! {
    Terminal, tag = "type", content = "value", fields = Verbatim;
    "done" => Done(Summary),
    "failed" => Failed(Error),
}

impl Snapshot {
    /// The format version the snapshot was written in.
    pub const fn format_version(&self) -> u32 {
        self.format_version
    }

    /// The snapshot as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses JSON text written by [`Self::to_json`].
    ///
    /// The version is checked first, so a snapshot from a newer format gives
    /// `UnsupportedVersion` rather than a parse error.
    pub fn from_json(text: &str) -> Result<Self, RestoreError> {
        let malformed = |detail: String| RestoreError::Malformed { detail };
        let value =
            json_fields::value_from_slice(text.as_bytes()).map_err(|e| malformed(e.to_string()))?;
        let found = match value.as_object().map(|object| object.get("formatVersion")) {
            None => return Err(malformed("a snapshot is a JSON object".to_owned())),
            Some(None) => return Err(malformed("missing field `formatVersion`".to_owned())),
            Some(Some(version)) => version
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    malformed("field `formatVersion`: not a format version number".to_owned())
                })?,
        };
        if found != FORMAT_VERSION {
            return Err(RestoreError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        Self::deserialize(value).map_err(|e| malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A finished job's `terminal` keeps the version-3 form, in either key
    /// order, and reads back to the same value.
    #[test]
    fn terminal_keeps_the_version_3_form() {
        let summary = json!({
            "provider": "amazon-ads", "reportId": "r-1", "outcome": "complete",
            "contentType": "application/json", "recordFormat": "json_array",
            "rawBytes": 10, "bytes": 20, "md5": "00112233445566778899aabbccddeeff",
            "md5Check": "computed", "gzip": true, "rows": 2, "requests": 5,
        });
        let failed = json!({"type": "retriesExhausted", "detail": {
            "attempts": 3, "last": {"type": "transport", "detail": "reset"},
        }});
        for (form, expected) in [
            (json!({"type": "done", "value": summary}), "done"),
            (json!({"value": summary, "type": "done"}), "done"),
            (json!({"type": "failed", "value": failed}), "failed"),
            (
                json!({"value": {"type": "cancelled"}, "type": "failed"}),
                "failed",
            ),
        ] {
            let terminal: Terminal = serde_json::from_value(form.clone()).expect("reads");
            let kind = match &terminal {
                Terminal::Done(summary) => {
                    assert_eq!(summary.rows, 2);
                    "done"
                }
                Terminal::Failed(error) => {
                    assert!(matches!(
                        error,
                        Error::Cancelled | Error::RetriesExhausted { attempts: 3, .. }
                    ));
                    "failed"
                }
            };
            assert_eq!(kind, expected);
            let written: Value = serde_json::to_value(&terminal).expect("writes");
            assert_eq!(written, form, "written back in the same form");
        }
        let unknown = json!({"type": "paused", "value": {}});
        assert!(serde_json::from_value::<Terminal>(unknown).is_err());
    }
}
