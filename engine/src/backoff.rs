//! How long to wait before trying again: the one shape every retry here has (a first wait,
//! multiplied with each failure in a row, up to a ceiling). Replication runs, requests to a
//! Leader, webhook deliveries and restarted workers each name their own.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// What each further failure multiplies the wait by.
    pub factor: u32,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// A wait that doubles with each failure: `first`, twice that, … up to `max`.
    pub const fn doubling(first: Duration, max: Duration) -> Self {
        Self {
            first,
            factor: 2,
            max,
        }
    }

    /// The wait after the `failures`-th failure in a row (0 and 1 both wait `first`).
    pub fn after(&self, failures: u32) -> Duration {
        let mut wait = self.first;
        for _ in 1..failures {
            if wait >= self.max {
                break;
            }
            wait = wait.saturating_mul(self.factor);
        }
        wait.min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_factor_up_to_the_ceiling() {
        let b = Backoff::doubling(Duration::from_secs(5), Duration::from_secs(60));
        let waits: Vec<u64> = (0..8).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [5, 5, 10, 20, 40, 60, 60, 60]);
        let fours = Backoff {
            first: Duration::from_millis(250),
            factor: 4,
            max: Duration::from_secs(10),
        };
        assert_eq!(fours.after(2), Duration::from_secs(1));
        // However many failures, no overflow.
        assert_eq!(b.after(u32::MAX), Duration::from_secs(60));
    }
}
