//! In-memory KV for native tests, as strict as Workers KV: TTLs against the App's clock, the
//! one-write-per-key-per-second limit, the 60 s minimum TTL, key and value size limits, and an
//! opt-in stale-read mode. Every operation is counted, so tests can assert KV costs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use async_trait::async_trait;

use super::{Kv, Namespace, StoreError, KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES, KV_MIN_TTL_SECS};
use crate::clock::Clock;

/// How long after a write a stale read may still return the value from before it.
pub const STALE_READ_MS: i64 = 60_000;
/// The platform's per-key write spacing.
pub const WRITE_SPACING_MS: i64 = 1_000;

/// Operations attempted on one namespace (refused ones included: they cost a round trip too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub reads: u64,
    /// Puts and deletes.
    pub writes: u64,
}

type Key = (Namespace, String);

/// A live value and when it expires (Unix ms).
#[derive(Clone, Debug)]
struct Entry {
    value: String,
    expires_at: i64,
}

/// What one key looks like: its current value, the one before the last write (for stale
/// reads) and when it was last written.
#[derive(Default)]
struct Slot {
    current: Option<Entry>,
    previous: Option<Entry>,
    written_at: Option<i64>,
}

/// A KV store that refuses what Workers KV refuses and forgets entries once their TTL passed.
pub struct MemoryKv {
    clock: Rc<dyn Clock>,
    stale_reads: bool,
    slots: RefCell<HashMap<Key, Slot>>,
    ops: RefCell<HashMap<Namespace, OpCounts>>,
}

impl MemoryKv {
    /// Strict and read-your-writes consistent (one location).
    pub fn new(clock: Rc<dyn Clock>) -> Self {
        Self {
            clock,
            stale_reads: false,
            slots: RefCell::new(HashMap::new()),
            ops: RefCell::new(HashMap::new()),
        }
    }

    /// Strict, and every read within [`STALE_READ_MS`] of a key's last write returns the value
    /// from before that write: the worst a reader in another location may see.
    pub fn with_stale_reads(clock: Rc<dyn Clock>) -> Self {
        Self {
            stale_reads: true,
            ..Self::new(clock)
        }
    }

    /// Number of live entries in a namespace (tests assert "nothing was written").
    pub fn len(&self, ns: Namespace) -> usize {
        self.dump(ns).len()
    }

    /// Whether a namespace holds no live entry.
    pub fn is_empty(&self, ns: Namespace) -> bool {
        self.len(ns) == 0
    }

    /// Every live (key, value) of a namespace as last written, for tests that inspect stored
    /// forms. Not counted as reads.
    pub fn dump(&self, ns: Namespace) -> Vec<(String, String)> {
        let now = self.clock.now_ms();
        self.slots
            .borrow()
            .iter()
            .filter(|((n, _), _)| *n == ns)
            .filter_map(|((_, k), s)| {
                s.current
                    .as_ref()
                    .filter(|e| e.expires_at > now)
                    .map(|e| (k.clone(), e.value.clone()))
            })
            .collect()
    }

    /// Operations attempted on `ns` so far.
    pub fn ops(&self, ns: Namespace) -> OpCounts {
        self.ops.borrow().get(&ns).copied().unwrap_or_default()
    }

    fn count(&self, ns: Namespace, write: bool) {
        let mut ops = self.ops.borrow_mut();
        let c = ops.entry(ns).or_default();
        if write {
            c.writes += 1;
        } else {
            c.reads += 1;
        }
    }

    /// Checks the key and the per-key write spacing, then applies `new` as the key's value.
    fn write(&self, ns: Namespace, key: &str, new: Option<Entry>) -> Result<(), StoreError> {
        self.count(ns, true);
        check_key(key)?;
        let now = self.clock.now_ms();
        let mut slots = self.slots.borrow_mut();
        let slot = slots.entry((ns, key.to_owned())).or_default();
        if slot
            .written_at
            .is_some_and(|at| now - at < WRITE_SPACING_MS)
        {
            return Err(StoreError::Backend(format!(
                "KV write refused: 429 Too Many Requests (a {} key written less than 1 s ago)",
                ns.binding()
            )));
        }
        slot.previous = std::mem::replace(&mut slot.current, new);
        slot.written_at = Some(now);
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key == "." || key == ".." {
        return Err(StoreError::Backend("KV key is empty, '.' or '..'".into()));
    }
    if key.len() > KV_MAX_KEY_BYTES {
        return Err(StoreError::Backend(format!(
            "KV key of {} bytes exceeds {KV_MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

#[async_trait(?Send)]
impl Kv for MemoryKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        self.count(ns, false);
        check_key(key)?;
        let now = self.clock.now_ms();
        let slots = self.slots.borrow();
        let Some(slot) = slots.get(&(ns, key.to_owned())) else {
            return Ok(None);
        };
        let stale = self.stale_reads && slot.written_at.is_some_and(|at| now - at < STALE_READ_MS);
        let seen = if stale { &slot.previous } else { &slot.current };
        Ok(seen
            .as_ref()
            .filter(|e| e.expires_at > now)
            .map(|e| e.value.clone()))
    }

    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        if ttl_secs < KV_MIN_TTL_SECS {
            self.count(ns, true);
            return Err(StoreError::Backend(format!(
                "KV PUT failed: 400 Invalid expiration_ttl of {ttl_secs}; must be at least {KV_MIN_TTL_SECS}"
            )));
        }
        if value.len() > KV_MAX_VALUE_BYTES {
            self.count(ns, true);
            return Err(StoreError::Backend(format!(
                "KV PUT failed: 413 value of {} bytes exceeds {KV_MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let ttl_ms = i64::try_from(ttl_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let entry = Entry {
            value: value.to_owned(),
            expires_at: self.clock.now_ms().saturating_add(ttl_ms),
        };
        self.write(ns, key, Some(entry))
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        self.write(ns, key, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use futures::executor::block_on;

    const NS: Namespace = Namespace::Challenges;

    fn kv() -> (Rc<ManualClock>, MemoryKv) {
        let clock = Rc::new(ManualClock::at_secs(1_000));
        (clock.clone(), MemoryKv::new(clock))
    }

    #[test]
    fn a_second_write_within_a_second_is_refused() {
        let (clock, kv) = kv();
        block_on(kv.put(NS, "k", "1", 60)).unwrap();
        clock.set_ms(1_000_999);
        assert!(block_on(kv.put(NS, "k", "2", 60)).is_err());
        assert!(block_on(kv.delete(NS, "k")).is_err());
        assert_eq!(block_on(kv.get(NS, "k")).unwrap().as_deref(), Some("1"));
        block_on(kv.put(NS, "other", "x", 60)).unwrap();
        clock.set_ms(1_001_000);
        block_on(kv.delete(NS, "k")).unwrap();
        assert!(
            block_on(kv.put(NS, "k", "3", 60)).is_err(),
            "a delete is a write"
        );
        assert_eq!(
            kv.ops(NS),
            OpCounts {
                reads: 1,
                writes: 6
            }
        );
    }

    #[test]
    fn short_ttls_and_oversized_keys_and_values_are_refused() {
        let (_, kv) = kv();
        assert!(block_on(kv.put(NS, "k", "v", 59)).is_err());
        assert!(block_on(kv.put(NS, &"k".repeat(513), "v", 60)).is_err());
        assert!(block_on(kv.put(NS, "", "v", 60)).is_err());
        let big = "v".repeat(KV_MAX_VALUE_BYTES + 1);
        assert!(block_on(kv.put(NS, "k", &big, 60)).is_err());
        assert!(kv.is_empty(NS));
        block_on(kv.put(NS, &"k".repeat(512), "v", 60)).unwrap();
        assert_eq!(kv.len(NS), 1);
    }

    #[test]
    fn entries_expire_on_the_clock() {
        let (clock, kv) = kv();
        block_on(kv.put(NS, "k", "v", 60)).unwrap();
        clock.advance_secs(59);
        assert!(block_on(kv.get(NS, "k")).unwrap().is_some());
        clock.advance_secs(1);
        assert!(block_on(kv.get(NS, "k")).unwrap().is_none());
    }

    #[test]
    fn stale_reads_see_the_previous_value_for_sixty_seconds() {
        let clock = Rc::new(ManualClock::at_secs(1_000));
        let kv = MemoryKv::with_stale_reads(clock.clone());
        block_on(kv.put(NS, "k", "old", 600)).unwrap();
        assert_eq!(block_on(kv.get(NS, "k")).unwrap(), None);
        clock.advance_secs(60);
        assert_eq!(block_on(kv.get(NS, "k")).unwrap().as_deref(), Some("old"));
        block_on(kv.put(NS, "k", "new", 600)).unwrap();
        clock.advance_secs(59);
        assert_eq!(block_on(kv.get(NS, "k")).unwrap().as_deref(), Some("old"));
        clock.advance_secs(1);
        assert_eq!(block_on(kv.get(NS, "k")).unwrap().as_deref(), Some("new"));
    }
}
