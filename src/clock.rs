//! Time, injected: production reads the system clock, tests hold a fixed one.

use std::sync::atomic::{AtomicI64, Ordering};

/// Microseconds since the epoch, the unit of every timestamp (and timestamp column).
pub type Micros = i64;

pub trait Clock: Send + Sync {
    /// Microseconds since the Unix epoch.
    fn now(&self) -> Micros;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        chrono::Utc::now().timestamp_micros()
    }
}

/// A clock that only moves when told to.
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(at: Micros) -> Self {
        FixedClock(AtomicI64::new(at))
    }
    pub fn advance(&self, micros: Micros) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 with microseconds, the form `meta.created` and `meta.lastModified` take.
pub fn rfc3339(micros: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 timestamp into microseconds.
pub fn parse_rfc3339(s: &str) -> Option<Micros> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}
