//! Time as plain data: the host hands it in, the core never reads a clock.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as read from the host's wall clock.
///
/// Wall-clock rather than monotonic because provider signatures, token
/// expiries and report windows are real dates. The job never lets its own
/// notion of time go backwards: it schedules with the largest `Millis` it
/// has seen (see [`crate::ReportJob::poll`]). Arithmetic saturates; it never
/// panics.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// The Unix epoch.
    pub const ZERO: Self = Self(0);

    /// This instant plus `ms` milliseconds, saturating at `u64::MAX`.
    #[must_use]
    pub const fn saturating_add(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The raw millisecond count.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        assert_eq!(Millis(u64::MAX).saturating_add(5), Millis(u64::MAX));
        assert_eq!(Millis(3).saturating_since(Millis(10)), 0);
        assert_eq!(Millis(10).saturating_since(Millis(3)), 7);
    }
}
