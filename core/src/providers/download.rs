//! The one download policy: what a failed report download means, for every
//! provider.
//!
//! | what happened | verdict |
//! |---|---|
//! | body damaged (gzip framing, CRC-32, sizes, MD5, ZIP corruption) | fresh link, within `max_link_refreshes` |
//! | link expired (the host held the request past it, or 4xx from the link) | fresh link, within `max_link_refreshes` |
//! | report over `report_limits` (raw, decoded, ZIP totals) | fails at once: [`Error::ReportTooLarge`] |
//! | archive unsafe (bomb, `../` name, encryption, too many members) | fails at once: [`Error::Zip`] |
//! | rows do not parse (the bytes passed every check) | fails at once: [`Error::Records`] |
//! | 5xx from the link, transport failure, timeout, huge headers | retry with backoff (same link while it lives) |
//!
//! A report over a limit is not damage: downloading it again gives the
//! same bytes, so the job stops after one download and says which limit to
//! raise.

use super::contract::Verdict;
use super::vocabulary::ExchangeFailure;
use crate::error::{Error, ReportLimit};
use crate::http::TransportFailure;
use crate::integrity::{IntegrityError, Limits, ZipError};
use crate::provider::Provider;
use crate::providers::excerpt;

/// The verdict on a report download that failed while it streamed.
pub(crate) fn judge_download(failure: ExchangeFailure, endpoint: &str, limits: &Limits) -> Verdict {
    let too_large =
        |limit: ReportLimit, bytes: u64| Verdict::Fatal(Error::ReportTooLarge { limit, bytes });
    match failure {
        ExchangeFailure::Integrity(IntegrityError::CompressedTooLarge { limit }) => {
            too_large(ReportLimit::MaxCompressedBytes, limit)
        }
        ExchangeFailure::Integrity(IntegrityError::DecompressedTooLarge { limit }) => {
            too_large(ReportLimit::MaxDecompressedBytes, limit)
        }
        ExchangeFailure::Integrity(IntegrityError::RatioExceeded { limit, .. }) => {
            too_large(ReportLimit::MaxRatio, u64::from(limit))
        }
        ExchangeFailure::Zip(ZipError::TooLarge { .. } | ZipError::EntryTooLarge { .. }) => {
            too_large(
                ReportLimit::MaxDecompressedBytes,
                limits.max_decompressed_bytes,
            )
        }
        ExchangeFailure::Integrity(error) => Verdict::RefreshLink(Error::Integrity(error)),
        ExchangeFailure::Zip(error) if error.is_corruption() => {
            Verdict::RefreshLink(Error::Zip(error))
        }
        ExchangeFailure::Zip(error) => Verdict::Fatal(Error::Zip(error)),
        ExchangeFailure::Records(error) => Verdict::Fatal(Error::Records(error)),
        ExchangeFailure::Transport(TransportFailure::Expired) => {
            Verdict::RefreshLink(Error::Transport(TransportFailure::Expired))
        }
        failure @ (ExchangeFailure::Transport(_)
        | ExchangeFailure::TimedOut
        | ExchangeFailure::TooLarge { .. }) => Verdict::retry_failure(failure, endpoint),
    }
}

/// The verdict on a download link that answered with `status` instead of
/// the report: 5xx is the storage host's trouble (retry); anything else
/// (S3's 403 "Request has expired", 404, 410) means the link is no good.
pub(crate) fn judge_link_status(
    provider: Provider,
    endpoint: &str,
    status: u16,
    body: &[u8],
) -> Verdict {
    let cause = Error::UnexpectedStatus {
        provider,
        endpoint: endpoint.to_owned(),
        status,
        detail: excerpt(body, 300),
    };
    if status >= 500 {
        Verdict::Retry {
            cause,
            at_least: None,
        }
    } else {
        Verdict::RefreshLink(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(failure: ExchangeFailure) -> Verdict {
        judge_download(failure, "GET <link>", &Limits::default())
    }

    #[test]
    fn a_report_over_a_limit_fails_at_once_naming_the_limit() {
        for (failure, limit) in [
            (
                ExchangeFailure::Integrity(IntegrityError::CompressedTooLarge { limit: 9 }),
                ReportLimit::MaxCompressedBytes,
            ),
            (
                ExchangeFailure::Integrity(IntegrityError::DecompressedTooLarge { limit: 9 }),
                ReportLimit::MaxDecompressedBytes,
            ),
            (
                ExchangeFailure::Zip(ZipError::TooLarge { limit: 9 }),
                ReportLimit::MaxDecompressedBytes,
            ),
        ] {
            match judge(failure) {
                Verdict::Fatal(error @ Error::ReportTooLarge { .. }) => {
                    assert!(!error.is_retryable());
                    assert!(error.to_string().contains(limit.field()), "{error}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn damage_and_expiry_want_a_fresh_link_and_transport_trouble_a_retry() {
        let damaged = judge(ExchangeFailure::Integrity(IntegrityError::CrcMismatch {
            expected: 1,
            actual: 2,
        }));
        assert!(matches!(damaged, Verdict::RefreshLink(Error::Integrity(_))));
        let expired = judge(ExchangeFailure::Transport(TransportFailure::Expired));
        assert!(matches!(expired, Verdict::RefreshLink(_)));
        let reset = judge(ExchangeFailure::Transport(TransportFailure::Reset));
        assert!(matches!(reset, Verdict::Retry { .. }));
        let bomb = judge(ExchangeFailure::Zip(ZipError::Bomb {
            name: "x".into(),
            ratio: 5_000,
            limit: 1_000,
        }));
        assert!(matches!(bomb, Verdict::Fatal(Error::Zip(_))));
        assert!(matches!(
            judge_link_status(Provider::AmazonAds, "GET <link>", 403, b"expired"),
            Verdict::RefreshLink(_)
        ));
        assert!(matches!(
            judge_link_status(Provider::AmazonAds, "GET <link>", 503, b""),
            Verdict::Retry { .. }
        ));
    }
}
