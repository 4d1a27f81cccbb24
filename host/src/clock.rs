//! The time a host hands its jobs: the wall clock, or the wall clock
//! running `scale` times faster from an instant on (compressed time).
//!
//! Compressed time is for simulations: a plan whose quotas allow one
//! create a minute takes hours of wall time, and the fleet's scheduling is
//! only shown by running it. With the simulators and the fleet on one
//! compressed [`Clock`], a provider's minute passes in 600 ms at 100×,
//! while the network, the store and the CPU keep their real speed. So
//! whatever takes real time (a store write, a request on its way) weighs
//! `scale` times more in the simulation than in production: the fleet's
//! send margin ([`crate::fleet::FleetConfig::send_margin_ms`]) is counted
//! in real milliseconds for that reason.

use std::time::Duration;

use reportflow::Millis;

use crate::wall_clock;

/// A clock: `now` is `origin + (wall − origin) × scale`, so at `origin`
/// both read the same and from then on this one runs `scale` times faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    origin: Millis,
    scale: u32,
    /// Reads `origin` forever (tests of what the fleet decides at an
    /// instant).
    frozen: bool,
}

impl Default for Clock {
    fn default() -> Self {
        Self::WALL
    }
}

impl Clock {
    /// The wall clock itself.
    pub const WALL: Self = Self {
        origin: Millis(0),
        scale: 1,
        frozen: false,
    };

    /// A clock that reads the wall clock's time now and from then on runs
    /// `scale` times faster (a scale of 0 is taken as 1).
    pub fn compressed(scale: u32) -> Self {
        Self {
            origin: wall_clock(),
            scale: scale.max(1),
            frozen: false,
        }
    }

    /// A clock that always reads `at` (and converts wall time as the wall
    /// clock does).
    #[cfg(test)]
    pub(crate) const fn frozen(at: Millis) -> Self {
        Self {
            origin: at,
            scale: 1,
            frozen: true,
        }
    }

    /// How many times faster than the wall clock this clock runs.
    pub const fn scale(&self) -> u32 {
        self.scale
    }

    /// The time now, on this clock.
    pub fn now(&self) -> Millis {
        if self.frozen {
            return self.origin;
        }
        let real = wall_clock().saturating_since(self.origin);
        self.origin
            .saturating_add(real.saturating_mul(u64::from(self.scale)))
    }

    /// The wall time it takes this clock to run `clock_ms` (rounded up,
    /// so a sleep never ends before its instant).
    pub fn real_duration(&self, clock_ms: u64) -> Duration {
        Duration::from_millis(clock_ms.div_ceil(u64::from(self.scale)))
    }

    /// `real_ms` of wall time, counted on this clock.
    pub fn from_real_ms(&self, real_ms: u64) -> u64 {
        real_ms.saturating_mul(u64::from(self.scale))
    }

    /// How long to sleep (on the wall clock) until this clock reads
    /// `until`: zero when it already has.
    pub fn until(&self, until: Millis) -> Duration {
        self.real_duration(until.saturating_since(self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_is_the_wall_clock() {
        let before = wall_clock();
        let now = Clock::WALL.now();
        assert!(now >= before && now.saturating_since(before) < 1_000);
        assert_eq!(
            Clock::WALL.real_duration(1_500),
            Duration::from_millis(1_500)
        );
    }

    #[test]
    fn a_compressed_clock_starts_at_the_wall_clock_and_runs_faster() {
        let clock = Clock::compressed(100);
        let start = clock.now();
        assert!(start.saturating_since(wall_clock()) < 1_000);
        std::thread::sleep(Duration::from_millis(20));
        let elapsed = clock.now().saturating_since(start);
        // 20 ms of wall time (or a little more) is 2 s or more here.
        assert!((2_000..60_000).contains(&elapsed), "{elapsed} ms");
        assert_eq!(clock.real_duration(60_000), Duration::from_millis(600));
        assert_eq!(
            clock.real_duration(150),
            Duration::from_millis(2),
            "rounded up"
        );
        assert_eq!(clock.from_real_ms(5), 500);
        assert_eq!(Clock::compressed(0).scale(), 1);
    }
}
