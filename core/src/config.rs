//! [`JobConfig`]: how a job behaves, whatever its provider.

use serde::{Deserialize, Serialize};

use crate::integrity::Limits;
use crate::retry::{PollPolicy, RetryPolicy};

/// How a job behaves, independent of the provider. Every field has a
/// sensible default; override what you need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct JobConfig {
    /// Replaces the provider's API origin (scheme, host, optional path
    /// prefix), e.g. a simulator's `http://127.0.0.1:8080/amazon-ads`.
    pub base_url: Option<String>,
    /// Replaces the provider's auth origin (token endpoints).
    pub auth_base_url: Option<String>,
    /// Seeds jitter; the same seed replays the same waits.
    pub seed: u64,
    /// The job fails with `DeadlineExceeded` this long after it started.
    pub deadline_ms: u64,
    /// Timeout of an API request.
    pub request_timeout_ms: u64,
    /// Timeout of a report download.
    pub download_timeout_ms: u64,
    /// Retries of failing steps.
    pub retry: RetryPolicy,
    /// Pacing of status polls.
    pub poll: PollPolicy,
    /// Limits on the report body (raw and decoded).
    pub report_limits: Limits,
    /// Largest API (non-report) response body.
    pub max_api_body_bytes: u64,
    /// Largest response header block.
    pub max_header_bytes: u64,
    /// Fresh download links to fetch after an expired link or a corrupt
    /// download, before the job gives up (or re-requests the report where the
    /// provider allows nothing else).
    pub max_link_refreshes: u32,
    /// Largest `Event::Data` chunk.
    pub data_chunk_bytes: u32,

    // Download verification (issue 16).
    /// Compute the MD5 of a report's raw bytes even when the provider
    /// publishes no digest to verify it against: the summary's `md5` is then
    /// a fingerprint a host can compare. Default on. Off saves the hashing
    /// (about as much work as inflating); a published digest (`Content-MD5`,
    /// an MD5 in an API answer) is verified whatever this says.
    /// [`Summary::md5_check`](crate::Summary::md5_check) says which happened.
    pub md5_fingerprint: bool,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            auth_base_url: None,
            seed: 0,
            deadline_ms: 6 * 60 * 60 * 1000,
            request_timeout_ms: 60_000,
            download_timeout_ms: 30 * 60 * 1000,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            report_limits: Limits::default(),
            max_api_body_bytes: 4 << 20,
            max_header_bytes: 64 << 10,
            max_link_refreshes: 3,
            data_chunk_bytes: 64 << 10,
            md5_fingerprint: true,
        }
    }
}
