//! Workers KV adapter (wasm only): one binding per [`Namespace`].

use std::cell::OnceCell;

use async_trait::async_trait;
use worker::{kv::KvStore, Env};

use super::{Kv, Namespace, StoreError};

/// Lives as long as the isolate's App: each namespace's binding (and its five method lookups)
/// is resolved on first use, not on every call.
pub struct WorkersKv {
    env: Env,
    stores: [OnceCell<KvStore>; 3],
}

impl WorkersKv {
    pub fn new(env: Env) -> Self {
        Self {
            env,
            stores: Default::default(),
        }
    }

    fn store(&self, ns: Namespace) -> Result<&KvStore, StoreError> {
        let slot = &self.stores[match ns {
            Namespace::Challenges => 0,
            Namespace::Sessions => 1,
            Namespace::RateLimits => 2,
        }];
        if let Some(store) = slot.get() {
            return Ok(store);
        }
        let store = self
            .env
            .kv(ns.binding())
            .map_err(|e| StoreError::Backend(format!("KV binding {}: {e}", ns.binding())))?;
        Ok(slot.get_or_init(|| store))
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait(?Send)]
impl Kv for WorkersKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        self.store(ns)?.get(key).text().await.map_err(backend)
    }

    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        self.store(ns)?
            .put(key, value)
            .map_err(backend)?
            .expiration_ttl(ttl_secs)
            .execute()
            .await
            .map_err(backend)
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        self.store(ns)?.delete(key).await.map_err(backend)
    }
}
