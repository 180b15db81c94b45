//! The throttle on failed logins, per account and per client address. After a few failures
//! each further answer is delayed, doubling each time; once a subject has used up its
//! allowance it is locked and every login for it is refused (429, with when to try again)
//! without looking at the password, until the allowance grows back. The allowance is a
//! `governor` quota (GCRA): a burst of failures, then one more per period. A success clears
//! the account's count, never the address's: one valid account must not launder an address's
//! guesses at others.
//!
//! The state lives in this process: a restart forgets it, which is no help to an attacker
//! (restarts are not theirs to make) and spares a database write per failure. Administrators
//! see and clear it through [`LoginThrottle::locks`] and [`LoginThrottle::clear`].

use chrono::{DateTime, Utc};
use domain::logins::{LoginLock, LoginSubject};
use governor::{clock::Clock, clock::DefaultClock, DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// The first delay, doubled with each further failure, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(2);
/// A subject's count starts again after this long without a failure.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failures answered without delay: a typo or two for an account; more for an address, which
/// may be a whole office.
fn free_failures(subject: &LoginSubject) -> u32 {
    match subject {
        LoginSubject::Account(_) => 2,
        LoginSubject::Address(_) => 10,
    }
}

/// How many failures each kind of subject may make at once, and how often one more.
fn quota(subject: &LoginSubject) -> Quota {
    let (burst, period) = match subject {
        // A person who forgot their password gets five tries, then one each 15 minutes.
        LoginSubject::Account(_) => (5, WINDOW),
        // An address may be a whole office behind one NAT: more at once, sooner back.
        LoginSubject::Address(_) => (20, Duration::from_secs(60)),
    };
    Quota::with_period(period)
        .expect("the period is not zero")
        .allow_burst(NonZeroU32::new(burst).expect("the burst is not zero"))
}

struct Entry {
    allowance: DefaultDirectRateLimiter,
    failures: u32,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// Why a login is not even tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    pub subject: LoginSubject,
    pub until: DateTime<Utc>,
}

impl Locked {
    /// Whole seconds to wait, at least one (for `Retry-After`).
    pub fn retry_after(&self, now: DateTime<Utc>) -> u64 {
        (self.until - now).num_seconds().max(1) as u64
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<LoginSubject, Entry>>,
}

fn subjects(username: &str, address: Option<IpAddr>) -> Vec<LoginSubject> {
    let mut subjects = vec![LoginSubject::account(username)];
    subjects.extend(address.map(|a| LoginSubject::Address(a.to_string())));
    subjects
}

impl LoginThrottle {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<LoginSubject, Entry>> {
        // A panic while holding the lock leaves counts, never a broken invariant: keep going.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a login for a locked account or address, before its password is checked.
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), Locked> {
        let now = Utc::now();
        let entries = self.entries();
        for subject in subjects(username, address) {
            if let Some(until) = entries
                .get(&subject)
                .and_then(|e| e.locked_until)
                .filter(|until| *until > now)
            {
                return Err(Locked { subject, until });
            }
        }
        Ok(())
    }

    /// Counts a failed login; returns how long to wait before answering it.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) -> Duration {
        let now = Utc::now();
        let mut entries = self.entries();
        prune(&mut entries, now);
        let mut wait = Duration::ZERO;
        for subject in subjects(username, address) {
            let entry = entries.entry(subject.clone()).or_insert_with(|| Entry {
                allowance: RateLimiter::direct(quota(&subject)),
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            entry.failures += 1;
            entry.last_failure = now;
            if let Err(not_until) = entry.allowance.check() {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                entry.locked_until =
                    Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
                tracing::warn!(subject = %subject.describe(), failures = entry.failures,
                    "logins locked after repeated failures");
            }
            wait = wait.max(delay(entry.failures, free_failures(&subject)));
        }
        wait
    }

    /// A successful login clears its account's failures (not its address's).
    pub fn succeeded(&self, username: &str) {
        self.entries().remove(&LoginSubject::account(username));
    }

    /// Every account and address with recent failures, locked ones first.
    pub fn locks(&self) -> Vec<LoginLock> {
        let now = Utc::now();
        let mut entries = self.entries();
        prune(&mut entries, now);
        let mut locks: Vec<LoginLock> = entries
            .iter()
            .map(|(subject, e)| LoginLock {
                subject: subject.clone(),
                failures: e.failures,
                last_failure: e.last_failure,
                locked_until: e.locked_until.filter(|until| *until > now),
            })
            .collect();
        locks.sort_by(|a, b| {
            (b.locked_until.is_some(), b.last_failure)
                .cmp(&(a.locked_until.is_some(), a.last_failure))
        });
        locks
    }

    /// Forgets a subject's failures and lock; returns whether there was anything to clear.
    pub fn clear(&self, subject: &LoginSubject) -> bool {
        self.entries().remove(subject).is_some()
    }
}

/// Forgets subjects whose last failure is older than the window and that are not locked, so
/// the map holds only recent trouble.
fn prune(entries: &mut HashMap<LoginSubject, Entry>, now: DateTime<Utc>) {
    let window = chrono::Duration::from_std(WINDOW).unwrap_or_default();
    entries.retain(|_, e| {
        e.last_failure > now - window || e.locked_until.is_some_and(|until| until > now)
    });
}

/// The wait before answering the `failures`-th failure in a row, after `free` without one.
fn delay(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free + 1) {
        None => Duration::ZERO,
        Some(doublings) => FIRST_DELAY
            .saturating_mul(1 << doublings.min(16))
            .min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_slowed_then_locked_per_account() {
        let throttle = LoginThrottle::default();
        let address = Some("192.0.2.7".parse().unwrap());
        let delays: Vec<Duration> = (0..6).map(|_| throttle.failed("Admin", address)).collect();
        assert_eq!(delays[0], Duration::ZERO);
        assert_eq!(delays[2], FIRST_DELAY);
        assert!(
            delays[3] > delays[2] && delays[5] <= MAX_DELAY,
            "{delays:?}"
        );
        // Five failures are the account's burst; the sixth locks it, for any spelling.
        let locked = throttle.check("admin", None).unwrap_err();
        assert_eq!(locked.subject, LoginSubject::Account("admin".into()));
        assert!(locked.retry_after(Utc::now()) > 60);
        // The address has room left, so another account from it may still try.
        assert!(throttle.check("ann", address).is_ok());
        let locks = throttle.locks();
        assert!(locks[0].locked_until.is_some() && locks.len() == 2);
        assert!(throttle.clear(&LoginSubject::Account("admin".into())));
        assert!(throttle.check("admin", address).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_not_the_address() {
        let throttle = LoginThrottle::default();
        let address: Option<IpAddr> = Some("192.0.2.8".parse().unwrap());
        for _ in 0..3 {
            throttle.failed("ann", address);
        }
        throttle.succeeded("ann");
        let locks = throttle.locks();
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0].subject, LoginSubject::Address("192.0.2.8".into()));
        assert_eq!(locks[0].failures, 3);
    }

    #[test]
    fn delays_double_up_to_a_cap() {
        assert_eq!(delay(1, 2), Duration::ZERO);
        assert_eq!(delay(3, 2), Duration::from_millis(250));
        assert_eq!(delay(4, 2), Duration::from_millis(500));
        assert_eq!(delay(40, 2), MAX_DELAY);
        assert_eq!(delay(10, 10), Duration::ZERO);
    }
}
