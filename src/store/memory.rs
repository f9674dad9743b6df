//! In-memory KV for native tests, honouring TTLs against the App's clock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use async_trait::async_trait;

use super::{Kv, Namespace, StoreError, KV_MIN_TTL_SECS};
use crate::clock::Clock;

/// A KV store that forgets entries once their TTL has passed on the given clock.
pub struct MemoryKv {
    clock: Rc<dyn Clock>,
    entries: RefCell<HashMap<(Namespace, String), (String, i64)>>,
}

impl MemoryKv {
    pub fn new(clock: Rc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// Number of live entries in a namespace (tests assert "nothing was written").
    pub fn len(&self, ns: Namespace) -> usize {
        let now = self.clock.now_ms();
        self.entries
            .borrow()
            .iter()
            .filter(|((n, _), (_, exp))| *n == ns && *exp > now)
            .count()
    }

    /// Whether a namespace holds no live entry.
    pub fn is_empty(&self, ns: Namespace) -> bool {
        self.len(ns) == 0
    }

    /// Every live (key, value) of a namespace, for tests that inspect stored forms.
    pub fn dump(&self, ns: Namespace) -> Vec<(String, String)> {
        let now = self.clock.now_ms();
        self.entries
            .borrow()
            .iter()
            .filter(|((n, _), (_, exp))| *n == ns && *exp > now)
            .map(|((_, k), (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

#[async_trait(?Send)]
impl Kv for MemoryKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self
            .entries
            .borrow()
            .get(&(ns, key.to_owned()))
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone()))
    }

    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        let ttl = i64::try_from(ttl_secs.max(KV_MIN_TTL_SECS)).unwrap_or(i64::MAX / 2000);
        let exp = self.clock.now_ms().saturating_add(ttl.saturating_mul(1000));
        self.entries
            .borrow_mut()
            .insert((ns, key.to_owned()), (value.to_owned(), exp));
        Ok(())
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(&(ns, key.to_owned()));
        Ok(())
    }
}
