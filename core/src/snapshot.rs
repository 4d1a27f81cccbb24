//! Versioned, secret-free snapshots of a job.

use serde::{Deserialize, Serialize};

use crate::action::{Phase, Summary};
use crate::config::JobConfig;
use crate::error::{Error, RestoreError};
use crate::providers::registry::SavedMachine;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub(crate) format_version: u32,
    pub(crate) machine: SavedMachine,
    pub(crate) job: JobState,
}

/// The job's own state, whatever its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub(crate) enum Terminal {
    Done(Summary),
    Failed(Error),
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
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(|e| RestoreError::Malformed {
            detail: e.to_string(),
        })?;
        if version.format_version != FORMAT_VERSION {
            return Err(RestoreError::UnsupportedVersion {
                found: version.format_version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_str(text).map_err(|e| RestoreError::Malformed {
            detail: e.to_string(),
        })
    }
}
