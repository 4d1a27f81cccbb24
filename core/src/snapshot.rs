//! Versioned, secret-free snapshots of a job.

use serde::{Deserialize, Serialize};

use crate::error::RestoreError;
use crate::job::State;

/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A job as plain data: provider state, counters, report id, clock. Contains
/// no credentials, tokens or signed URLs, so it can be stored anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub(crate) format_version: u32,
    pub(crate) state: State,
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
