//! The SAML IdPs' metadata as the runtime holds it, and its background refresh (federation.md
//! §2.5, requirement 27). Each connection has a [`MetadataCell`] whose document is replaced
//! whole; a login holds the `Arc` it read, so a refresh never changes a document under it.
//!
//! - A document from a URL is fetched again at least daily, sooner when its `cacheDuration`
//!   or `validUntil` says so (never more often than every five minutes).
//! - A refresh that fails keeps the last good document and logs; from the third failure in a
//!   row each failure is a warning for operators; a failed refresh is retried in 15 minutes.
//! - A refresh can only bring keys and endpoints: what must be signed, the algorithms and the
//!   clock skew come from the config. One that names another entity ID is refused, as a
//!   failure: who the IdP is does not change behind the operator's back.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::saml_metadata::IdpMetadata;

const DAY_SECS: i64 = 86_400;
const MIN_REFRESH_SECS: i64 = 5 * 60;
/// How soon a failed refresh is tried again.
pub const RETRY_SECS: u64 = 15 * 60;
/// Consecutive failures from which each one is a warning.
pub const WARN_AFTER_FAILURES: u32 = 3;

/// One connection's metadata: none until a URL's first fetch.
#[derive(Default)]
pub struct MetadataCell {
    current: RwLock<Option<Arc<IdpMetadata>>>,
    failures: AtomicU32,
}

impl MetadataCell {
    pub fn holding(metadata: IdpMetadata) -> MetadataCell {
        MetadataCell {
            current: RwLock::new(Some(Arc::new(metadata))),
            failures: AtomicU32::new(0),
        }
    }

    pub fn get(&self) -> Option<Arc<IdpMetadata>> {
        // A writer that panicked left a whole document behind: the swap is one assignment.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Takes a freshly fetched document, unless it names another entity than the one held.
    pub fn replace(&self, metadata: IdpMetadata) -> Result<(), String> {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = current.as_ref() {
            if held.entity_id != metadata.entity_id {
                return Err(format!(
                    "the refreshed metadata names the entity {:?}, not {:?}: kept the last good metadata",
                    metadata.entity_id, held.entity_id
                ));
            }
        }
        *current = Some(Arc::new(metadata));
        self.failures.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Counts a failed refresh; the number of failures in a row.
    pub fn failed(&self) -> u32 {
        self.failures.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Refreshes that failed since the last one that did not.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// Seconds from `now` (seconds since the epoch) until `metadata` is fetched again.
pub fn refresh_after(metadata: &IdpMetadata, now: i64) -> u64 {
    let mut secs = DAY_SECS;
    if let Some(cache) = metadata.cache_duration_secs {
        secs = secs.min(cache);
    }
    if let Some(until) = metadata.valid_until {
        secs = secs.min(until - now);
    }
    secs.clamp(MIN_REFRESH_SECS, DAY_SECS) as u64
}

/// Logs a failed refresh of `realm`/`alias`, the `failures`-th in a row.
pub fn log_failure(realm: &str, alias: &str, failures: u32, error: &str) {
    if failures >= WARN_AFTER_FAILURES {
        tracing::warn!(
            realm,
            identity_provider = alias,
            failures,
            error,
            "SAML metadata refresh keeps failing; logins use the last good metadata: check the IdP's metadata URL"
        );
    } else {
        tracing::info!(
            realm,
            identity_provider = alias,
            failures,
            error,
            "SAML metadata refresh failed; logins use the last good metadata"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(entity: &str, valid_until: Option<i64>, cache: Option<i64>) -> IdpMetadata {
        IdpMetadata {
            entity_id: entity.into(),
            single_sign_on: Vec::new(),
            single_logout: Vec::new(),
            certificates: Vec::new(),
            wants_authn_requests_signed: false,
            valid_until,
            cache_duration_secs: cache,
            entity: samael::metadata::EntityDescriptor::default(),
        }
    }

    const NOW: i64 = 1_900_000_000;

    #[test]
    fn metadata_is_refreshed_daily_or_sooner_when_it_says_so() {
        assert_eq!(refresh_after(&metadata("e", None, None), NOW), 86_400);
        assert_eq!(refresh_after(&metadata("e", None, Some(3_600)), NOW), 3_600);
        assert_eq!(
            refresh_after(&metadata("e", Some(NOW + 7_200), Some(36_000)), NOW),
            7_200
        );
        // A week's cacheDuration does not stretch the daily refresh.
        assert_eq!(
            refresh_after(&metadata("e", None, Some(7 * 86_400)), NOW),
            86_400
        );
        // Nor does a past validUntil or a zero cacheDuration make it hammer the IdP.
        assert_eq!(
            refresh_after(&metadata("e", Some(NOW - 10), None), NOW),
            300
        );
        assert_eq!(refresh_after(&metadata("e", None, Some(0)), NOW), 300);
    }

    #[test]
    fn a_refresh_replaces_the_document_of_the_same_entity_only() {
        let cell = MetadataCell::default();
        assert!(cell.get().is_none());
        cell.replace(metadata("https://idp.test", None, None))
            .unwrap();
        let held = cell.get().unwrap();
        assert_eq!(cell.failed(), 1);
        assert_eq!(cell.failed(), 2);
        let err = cell
            .replace(metadata("https://evil.test", None, None))
            .unwrap_err();
        assert!(err.contains("https://evil.test"), "{err}");
        assert!(Arc::ptr_eq(&held, &cell.get().unwrap()));
        assert_eq!(cell.failures(), 2);
        cell.replace(metadata("https://idp.test", Some(NOW), None))
            .unwrap();
        assert_eq!(cell.get().unwrap().valid_until, Some(NOW));
        assert_eq!(cell.failures(), 0);
    }
}
