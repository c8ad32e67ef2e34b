//! Brute-force protection of the login form. Every attempt is counted *before* its password is
//! verified, in the write transaction that also locks the counter, so concurrent guesses are
//! counted one after the other and at most the limit is ever verified per lockout window.
//!
//! Counters are per realm: a person (by user id, or by the name typed when no such user exists,
//! so that unknown names lock exactly like real ones and a lockout reveals no account) and a
//! client address (with a higher limit: many people share an office's address). A success
//! clears the person's counter, never the address's: an attacker's own account must not reset
//! the count of the addresses it sprays from.

use crate::config::IssuerConfig;
use crate::db::models::sessions::{self as rows, Failures};
use crate::db::{DbConnection, DbError, Micros};

/// Which limit a counter has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Person,
    Address,
}

/// One brute-force counter: its database key and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub key: String,
    pub kind: KeyKind,
}

impl Key {
    /// The counter of a user of the realm.
    pub fn user(realm_id: &str, user_id: &str) -> Key {
        Key {
            key: format!("{realm_id}/user/{user_id}"),
            kind: KeyKind::Person,
        }
    }

    /// The counter of a name typed into the form that names no user of the realm.
    pub fn unknown_name(realm_id: &str, login: &str) -> Key {
        Key {
            key: format!("{realm_id}/name/{}", login.trim().to_lowercase()),
            kind: KeyKind::Person,
        }
    }

    /// The counter of a client address.
    pub fn address(realm_id: &str, address: &str) -> Key {
        Key {
            key: format!("{realm_id}/address/{address}"),
            kind: KeyKind::Address,
        }
    }
}

/// The limits, from the issuer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts per person before the lockout starts; the last of them is still verified.
    pub max_failures: i32,
    /// The same for a client address.
    pub max_failures_per_address: i32,
    /// The first lockout; it doubles with each further failure, up to `max_wait`.
    pub wait: Micros,
    pub max_wait: Micros,
    /// A counter without failures for this long starts again from zero.
    pub reset_after: Micros,
}

impl Policy {
    pub fn new(settings: &IssuerConfig) -> Policy {
        Policy {
            max_failures: settings.brute_force_max_failures.max(1),
            max_failures_per_address: settings.brute_force_max_failures_per_address.max(1),
            wait: settings.brute_force_wait_secs.max(1) * 1_000_000,
            max_wait: settings.brute_force_max_wait_secs.max(1) * 1_000_000,
            reset_after: settings.brute_force_failure_reset_secs.max(1) * 1_000_000,
        }
    }

    fn limit(&self, kind: KeyKind) -> i32 {
        match kind {
            KeyKind::Person => self.max_failures,
            KeyKind::Address => self.max_failures_per_address,
        }
    }

    /// What one more attempt on a counter does: refused while it is locked; otherwise counted
    /// (as a failure until it proves otherwise), and the attempt that reaches the limit locks
    /// the counter for everyone after it.
    pub fn attempt(&self, kind: KeyKind, before: Failures, now: Micros) -> Option<Failures> {
        if before.locked_until > now {
            return None;
        }
        let stale = before.last_failure_at + self.reset_after <= now;
        let failures = if stale { 0 } else { before.failures }.saturating_add(1);
        let over = failures - self.limit(kind);
        let locked_until = if over >= 0 {
            now + (self.wait << over.min(20)).min(self.max_wait)
        } else {
            0
        };
        Some(Failures {
            failures,
            last_failure_at: now,
            locked_until,
        })
    }
}

/// Counts one attempt on every key; false (and nothing counted) when any of them is locked.
pub fn reserve(
    conn: &mut DbConnection,
    policy: &Policy,
    keys: &[Key],
    now: Micros,
) -> Result<bool, DbError> {
    let mut counted = Vec::with_capacity(keys.len());
    for key in keys {
        let before = rows::lock_failures(conn, &key.key)?;
        match policy.attempt(key.kind, before, now) {
            Some(after) => counted.push((key, after)),
            None => return Ok(false),
        }
    }
    for (key, after) in counted {
        rows::set_failures(conn, &key.key, &after)?;
    }
    Ok(true)
}

/// A verified password: the person's counters start again (the address's keep counting).
pub fn clear_person(conn: &mut DbConnection, keys: &[Key]) -> Result<(), DbError> {
    for key in keys.iter().filter(|k| k.kind == KeyKind::Person) {
        rows::clear_failures(conn, &key.key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Micros = 1_000_000;

    fn policy() -> Policy {
        Policy {
            max_failures: 3,
            max_failures_per_address: 10,
            wait: 2 * S,
            max_wait: 60 * S,
            reset_after: 3600 * S,
        }
    }

    fn counter(failures: i32, last: Micros, locked_until: Micros) -> Failures {
        Failures {
            failures,
            last_failure_at: last,
            locked_until,
        }
    }

    #[test]
    fn the_attempt_that_reaches_the_limit_is_verified_and_locks_the_rest() {
        let p = policy();
        let now = 1000 * S;
        let mut c = counter(0, 0, 0);
        for expected in 1..=2 {
            c = p.attempt(KeyKind::Person, c, now).expect("allowed");
            assert_eq!((c.failures, c.locked_until), (expected, 0));
        }
        c = p
            .attempt(KeyKind::Person, c, now)
            .expect("the third is still verified");
        assert_eq!((c.failures, c.locked_until), (3, now + 2 * S));
        assert_eq!(p.attempt(KeyKind::Person, c, now), None);
        assert_eq!(p.attempt(KeyKind::Person, c, now + 2 * S - 1), None);
    }

    #[test]
    fn after_the_lockout_one_attempt_is_verified_and_the_wait_doubles() {
        let p = policy();
        let locked = counter(3, 0, 10 * S);
        let next = p.attempt(KeyKind::Person, locked, 10 * S).expect("allowed");
        assert_eq!((next.failures, next.locked_until), (4, 14 * S));
        let after = p.attempt(KeyKind::Person, next, 14 * S).expect("allowed");
        assert_eq!(after.locked_until, 14 * S + 8 * S);
    }

    #[test]
    fn the_wait_is_capped() {
        let p = policy();
        let next = p
            .attempt(KeyKind::Person, counter(40, 0, 0), S)
            .expect("allowed");
        assert_eq!(next.locked_until, S + 60 * S);
    }

    #[test]
    fn an_address_has_its_own_higher_limit() {
        let p = policy();
        let c = p
            .attempt(KeyKind::Address, counter(3, 0, 0), S)
            .expect("allowed");
        assert_eq!((c.failures, c.locked_until), (4, 0));
        let c = p
            .attempt(KeyKind::Address, counter(9, 0, 0), S)
            .expect("allowed");
        assert_eq!(c.locked_until, S + 2 * S);
    }

    #[test]
    fn a_quiet_counter_starts_again() {
        let p = policy();
        let c = p
            .attempt(KeyKind::Person, counter(2, S, 0), S + 3600 * S)
            .expect("allowed");
        assert_eq!((c.failures, c.locked_until), (1, 0));
    }

    #[test]
    fn keys_are_per_realm() {
        assert_ne!(Key::user("r1", "u"), Key::user("r2", "u"));
        assert_ne!(Key::address("r1", "::1"), Key::address("r2", "::1"));
        assert_eq!(
            Key::unknown_name("r", " Zed@Example.TEST "),
            Key::unknown_name("r", "zed@example.test")
        );
    }
}
