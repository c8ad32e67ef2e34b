//! What the issuer keeps in memory so that hot paths need no database trip: values by key, each
//! answering for a fixed time after it was read. Another process (the CLI, another instance)
//! changing the database is seen once that time has passed.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::db::Micros;

/// Entries a cache holds at most; past that it starts afresh rather than grow without bound.
const MAX_ENTRIES: usize = 10_000;

/// Values by key, fresh for `lifetime` microseconds after they were put.
pub struct Timed<V> {
    lifetime: Micros,
    entries: RwLock<HashMap<String, (V, Micros)>>,
}

impl<V: Clone> Timed<V> {
    pub fn new(lifetime: Micros) -> Self {
        Timed {
            lifetime,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The value, when it was put less than the lifetime ago (and not in the clock's future).
    pub fn get(&self, key: &str, now: Micros) -> Option<V> {
        let entries = self.entries.read().ok()?;
        let (value, at) = entries.get(key)?;
        (now >= *at && now - at < self.lifetime).then(|| value.clone())
    }

    /// Keeps `value`, just read from the database, under `key`.
    pub fn put(&self, key: String, value: V, now: Micros) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (value, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_answers_for_its_lifetime_only() {
        let cache = Timed::new(2_000_000);
        cache.put("realm".into(), 7, 10_000_000);
        assert_eq!(cache.get("realm", 10_000_000), Some(7));
        assert_eq!(cache.get("realm", 11_999_999), Some(7));
        assert_eq!(cache.get("realm", 12_000_000), None, "expired");
        assert_eq!(
            cache.get("realm", 9_999_999),
            None,
            "put in the clock's future"
        );
        assert_eq!(cache.get("other", 10_000_000), None);
    }
}
