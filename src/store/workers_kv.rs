//! Workers KV adapter (wasm only): one binding per [`Namespace`], called through the KV
//! JavaScript API directly. workers-rs's `KvStore` builds its get and put options with
//! serde-wasm-bindgen, whose serializer costs bundle size; the one option used here
//! (`expirationTtl`) is set by hand (README, "Bundle size and cold start").

use std::cell::OnceCell;

use async_trait::async_trait;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::{Kv, Namespace, StoreError};

/// One namespace binding and the three methods called on it.
struct Store {
    this: JsValue,
    get: Function,
    put: Function,
    delete: Function,
}

impl Store {
    fn bind(env: &Env, ns: Namespace) -> Result<Store, StoreError> {
        let name = ns.binding();
        let this = Reflect::get(env, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        let method = |m: &str| {
            Reflect::get(&this, &JsValue::from_str(m))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .ok_or_else(|| StoreError::Backend(format!("KV binding {name}: no {m} method")))
        };
        Ok(Store {
            get: method("get")?,
            put: method("put")?,
            delete: method("delete")?,
            this,
        })
    }
}

/// Lives as long as the isolate's App: each namespace's binding (and its method lookups) is
/// resolved on first use, not on every call.
pub struct WorkersKv {
    env: Env,
    stores: [OnceCell<Store>; 3],
}

impl WorkersKv {
    pub fn new(env: Env) -> Self {
        Self {
            env,
            stores: Default::default(),
        }
    }

    fn store(&self, ns: Namespace) -> Result<&Store, StoreError> {
        let slot = &self.stores[match ns {
            Namespace::Challenges => 0,
            Namespace::Sessions => 1,
            Namespace::RateLimits => 2,
        }];
        if let Some(store) = slot.get() {
            return Ok(store);
        }
        let store = Store::bind(&self.env, ns)?;
        Ok(slot.get_or_init(|| store))
    }
}

/// Awaits the promise a KV call returned (or the error it threw).
async fn settle(call: Result<JsValue, JsValue>) -> Result<JsValue, StoreError> {
    let promise = js_sys::Promise::resolve(&call.map_err(backend)?);
    JsFuture::from(promise).await.map_err(backend)
}

fn backend(e: JsValue) -> StoreError {
    let msg = match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e
            .as_string()
            .unwrap_or_else(|| "unknown KV error".to_owned()),
    };
    StoreError::Backend(msg)
}

#[async_trait(?Send)]
impl Kv for WorkersKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        let s = self.store(ns)?;
        // Without options, `get` reads the value as text (null when absent).
        let value = settle(s.get.call1(&s.this, &JsValue::from_str(key))).await?;
        Ok(value.as_string())
    }

    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        let s = self.store(ns)?;
        let options = Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("expirationTtl"),
            &JsValue::from_f64(ttl_secs as f64),
        )
        .map_err(backend)?;
        let (key, value) = (JsValue::from_str(key), JsValue::from_str(value));
        settle(s.put.call3(&s.this, &key, &value, &options))
            .await
            .map(|_| ())
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        let s = self.store(ns)?;
        settle(s.delete.call1(&s.this, &JsValue::from_str(key)))
            .await
            .map(|_| ())
    }
}
