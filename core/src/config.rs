//! [`JobConfig`]: how a job behaves, whatever its provider.

use serde::Serialize;

use crate::error::ConfigError;
use crate::integrity::Limits;
use crate::retry::{PollPolicy, RetryPolicy};

/// How a job behaves, independent of the provider. Every field has a
/// sensible default; override what you need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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
    /// Largest response header block: names and values, plus 32 bytes per
    /// header (HTTP/2's accounting), so the number of headers is bounded too.
    pub max_header_bytes: u64,
    /// Fresh download links to fetch after an expired link or a corrupt
    /// download, before the job gives up (or re-requests the report where the
    /// provider allows nothing else).
    pub max_link_refreshes: u32,
    /// When a report-creating request's answer is lost (the connection
    /// broke, it timed out, or the host stopped while it was in flight),
    /// create again even though the provider may then hold two reports.
    /// Off by default: the job fails with `ReportMayExist` unless the
    /// provider offers a safe recovery (an idempotency key, a way to find
    /// the report).
    pub allow_duplicate_reports: bool,
    /// Largest `Event::Data` chunk: 1 byte to
    /// [`MAX_DATA_CHUNK_BYTES`](Self::MAX_DATA_CHUNK_BYTES).
    pub data_chunk_bytes: u32,

    // Download verification (issue 16).
    /// Compute the MD5 of a report's raw bytes even when the provider
    /// publishes no digest to verify it against: the summary's `md5` is then
    /// a fingerprint a host can compare. Default on. Off saves the hashing
    /// (about as much work as inflating); a published digest (`Content-MD5`,
    /// an MD5 in an API answer) is verified whatever this says.
    /// [`Summary::md5_check`](crate::action::Summary::md5_check) says which happened.
    pub md5_fingerprint: bool,
}

crate::json_fields::deserialize_struct! {
    JobConfig, fields = Camel, unknown = Deny, default;
    base_url, auth_base_url, seed, deadline_ms, request_timeout_ms, download_timeout_ms, retry, poll, report_limits, max_api_body_bytes, max_header_bytes, max_link_refreshes, allow_duplicate_reports, data_chunk_bytes, md5_fingerprint
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
            allow_duplicate_reports: false,
            data_chunk_bytes: 64 << 10,
            md5_fingerprint: true,
        }
    }
}

impl JobConfig {
    /// Largest [`data_chunk_bytes`](Self::data_chunk_bytes): 16 MiB. Each
    /// `poll` may allocate one chunk, so the bound is a memory bound.
    pub const MAX_DATA_CHUNK_BYTES: u32 = 16 << 20;

    /// Refuses values no job can run with. `ReportJob::new` and
    /// `ReportJob::restore` both call it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, url) in [
            ("baseUrl", &self.base_url),
            ("authBaseUrl", &self.auth_base_url),
        ] {
            if let Some(url) = url {
                check_origin(field, url)?;
            }
        }
        if self.data_chunk_bytes == 0 || self.data_chunk_bytes > Self::MAX_DATA_CHUNK_BYTES {
            return Err(ConfigError::invalid(
                "dataChunkBytes",
                format!(
                    "{} is out of range: give 1 to {} (default {})",
                    self.data_chunk_bytes,
                    Self::MAX_DATA_CHUNK_BYTES,
                    Self::default().data_chunk_bytes
                ),
            ));
        }
        for (field, value) in [
            ("deadlineMs", self.deadline_ms),
            ("requestTimeoutMs", self.request_timeout_ms),
            ("downloadTimeoutMs", self.download_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(
                    field,
                    "must be at least 1 ms (a zero timeout fails every request)",
                ));
            }
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "retry.maxAttempts",
                "must be at least 1 (the first attempt counts)",
            ));
        }
        validate_report_limits(&self.report_limits)
    }
}

/// Refuses report limits no report fits in.
fn validate_report_limits(limits: &Limits) -> Result<(), ConfigError> {
    if limits.max_compressed_bytes == 0 || limits.max_decompressed_bytes == 0 {
        return Err(ConfigError::invalid(
            "reportLimits",
            "byte limits must be at least 1",
        ));
    }
    if limits.max_ratio == 0 {
        return Err(ConfigError::invalid(
            "reportLimits.maxRatio",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// An origin credentials may be sent to: `http(s)://host[:port][/prefix]`,
/// nothing a request line or header could be split with.
fn check_origin(field: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(ConfigError::invalid(
            field,
            "must start with http:// or https://",
        ));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::invalid(field, "names no host"));
    }
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '@'))
    {
        return Err(ConfigError::invalid(
            field,
            "must be a plain origin (no spaces, control characters, credentials, query or fragment)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused() {
        assert_eq!(JobConfig::default().validate(), Ok(()));
        let bad = [
            JobConfig {
                data_chunk_bytes: 0,
                ..JobConfig::default()
            },
            JobConfig {
                data_chunk_bytes: u32::MAX,
                ..JobConfig::default()
            },
            JobConfig {
                request_timeout_ms: 0,
                ..JobConfig::default()
            },
            JobConfig {
                base_url: Some("file:///etc/passwd".into()),
                ..JobConfig::default()
            },
            JobConfig {
                auth_base_url: Some("https://a.example\r\nX-Injected: 1".into()),
                ..JobConfig::default()
            },
            JobConfig {
                base_url: Some("https://user:pw@a.example".into()),
                ..JobConfig::default()
            },
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(ConfigError::Invalid { .. })),
                "{config:?}"
            );
        }
        let simulator = JobConfig {
            base_url: Some("http://127.0.0.1:8080/amazon-ads".into()),
            ..JobConfig::default()
        };
        assert_eq!(simulator.validate(), Ok(()));
    }
}
