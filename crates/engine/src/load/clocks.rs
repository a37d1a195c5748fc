//! The two clocks of an attack: the monotonic one that paces and measures, and the wall clock that names
//! each second and a synchronised start.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock time of an instant, given one pairing of the two clocks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clocks {
    pub(super) instant: Instant,
    pub(super) wall: SystemTime,
}

impl Clocks {
    pub(super) fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    pub(super) fn unix_nanos(&self, at: Instant) -> i128 {
        let base = self.wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        if at >= self.instant {
            base + (at - self.instant).as_nanos() as i128
        } else {
            base - (self.instant - at).as_nanos() as i128
        }
    }

    pub(super) fn unix_second(&self, at: Instant) -> i64 {
        self.unix_nanos(at).div_euclid(1_000_000_000) as i64
    }

    pub(super) fn unix_millis(&self, at: Instant) -> i64 {
        self.unix_nanos(at).div_euclid(1_000_000) as i64
    }
}

/// Waits for a synchronised start: the instant matching `start_at` on this machine's clock.
pub(super) async fn wait_for(start_at: SystemTime) -> Instant {
    let now = Clocks::now();
    match start_at.duration_since(now.wall) {
        Ok(ahead) => {
            let at = now.instant + ahead;
            tokio::time::sleep_until(at.into()).await;
            at
        }
        // Already past: start now, and the skew will show how late.
        Err(_) => Instant::now(),
    }
}
