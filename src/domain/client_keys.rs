//! The per-isolate cache of OAuth clients' public keys, so that introspection can verify a
//! client's assertion before its one D1 batch. The cache never decides alone: that batch reads
//! the client row and gates every write (and the assertion's marker) on the row still holding
//! exactly the cached key, enabled. An entry that disagrees with D1 is dropped by the caller.

use std::cell::RefCell;
use std::collections::HashMap;

/// At most this many clients are cached; a full cache is cleared before the next one is kept.
pub const MAX_ENTRIES: usize = 256;
/// How long an entry is trusted to be worth trying (ms): a key replaced elsewhere costs at most
/// this long of fallbacks.
pub const MAX_AGE_MS: i64 = 60_000;

struct Entry {
    public_key: String,
    kept_at_ms: i64,
}

/// Client id → registered public key (base64url), as last read from D1, for enabled clients.
#[derive(Default)]
pub struct ClientKeyCache(RefCell<HashMap<String, Entry>>);

impl ClientKeyCache {
    /// The key cached for `client_id`, unless absent or older than [`MAX_AGE_MS`] at `now_ms`
    /// (an old entry is dropped).
    pub fn get(&self, client_id: &str, now_ms: i64) -> Option<String> {
        let mut entries = self.0.borrow_mut();
        match entries.get(client_id) {
            Some(e) if (0..MAX_AGE_MS).contains(&(now_ms - e.kept_at_ms)) => {
                Some(e.public_key.clone())
            }
            Some(_) => {
                entries.remove(client_id);
                None
            }
            None => None,
        }
    }

    /// Keeps the key of an enabled client just read from D1 (a disabled one is dropped).
    pub fn keep(&self, client_id: &str, public_key: &str, enabled: bool, now_ms: i64) {
        let mut entries = self.0.borrow_mut();
        if !enabled {
            entries.remove(client_id);
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(client_id) {
            entries.clear();
        }
        entries.insert(
            client_id.to_owned(),
            Entry {
                public_key: public_key.to_owned(),
                kept_at_ms: now_ms,
            },
        );
    }

    /// Drops the entry of `client_id` (D1 disagreed with it).
    pub fn forget(&self, client_id: &str) {
        self.0.borrow_mut().remove(client_id);
    }

    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_disabled_clients_are_not_kept() {
        let cache = ClientKeyCache::default();
        cache.keep("c", "k", true, 1_000);
        assert_eq!(cache.get("c", 1_000 + MAX_AGE_MS - 1).as_deref(), Some("k"));
        assert_eq!(cache.get("c", 1_000 + MAX_AGE_MS), None);
        assert!(cache.is_empty(), "an expired entry is dropped");
        cache.keep("c", "k", true, 0);
        cache.keep("c", "k", false, 0);
        assert_eq!(cache.get("c", 0), None);
        cache.keep("c", "k", true, 0);
        cache.forget("c");
        assert_eq!(cache.get("c", 0), None);
        // A clock that went backwards does not extend an entry's life.
        cache.keep("c", "k", true, 5_000);
        assert_eq!(cache.get("c", 4_999), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = ClientKeyCache::default();
        for i in 0..MAX_ENTRIES {
            cache.keep(&format!("c{i}"), "k", true, 0);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.keep("c0", "k2", true, 0);
        assert_eq!(
            cache.len(),
            MAX_ENTRIES,
            "replacing an entry keeps the rest"
        );
        cache.keep("new", "k", true, 0);
        assert_eq!(cache.len(), 1, "full: cleared, then kept");
        assert_eq!(cache.get("new", 0).as_deref(), Some("k"));
    }
}
