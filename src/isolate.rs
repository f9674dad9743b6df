//! State built once per Worker isolate and reused by the requests it serves.
//!
//! workerd runs many requests in one isolate, one at a time or interleaved at `await` points.
//! What does not depend on the request (the parsed configuration, the route table, the storage
//! and Paddle clients, the rate tally) is built on the first request and kept; what does (the
//! storage meter, the deferred queue) comes from [`crate::ctx::Services::for_request`].
//!
//! The cache is keyed by what it was built from: at the edge, the identity of the `env` object.
//! workerd passes the same `env` object (equal by identity) to every request as long as the
//! environment has not changed; a deploy that changes only vars or secrets may keep the isolate
//! and pass a new `env`, which makes the next request rebuild.

use std::cell::RefCell;
use std::rc::Rc;

/// One value per isolate, rebuilt when its key changes. Requests already holding the previous
/// value keep it (an [`Rc`]) until they finish.
pub struct IsolateCache<K, V> {
    slot: RefCell<Option<(K, Rc<V>)>>,
}

impl<K, V> Default for IsolateCache<K, V> {
    fn default() -> Self {
        Self {
            slot: RefCell::new(None),
        }
    }
}

impl<K: PartialEq, V> IsolateCache<K, V> {
    /// The value built for `key`: the cached one if it was built for an equal key, otherwise
    /// `build(&key)`, which then replaces it. A failed build is not cached (the next request
    /// tries again).
    pub fn get_or_try_build<E>(
        &self,
        key: K,
        build: impl FnOnce(&K) -> Result<V, E>,
    ) -> Result<Rc<V>, E> {
        if let Some((cached, value)) = &*self.slot.borrow() {
            if *cached == key {
                return Ok(Rc::clone(value));
            }
        }
        let value = Rc::new(build(&key)?);
        *self.slot.borrow_mut() = Some((key, Rc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Debug)]
    struct Built {
        from: &'static str,
    }

    fn cache_counting(
        builds: &Cell<u32>,
    ) -> impl Fn(&IsolateCache<&'static str, Built>, &'static str) -> Rc<Built> + '_ {
        move |cache, key| {
            cache
                .get_or_try_build(key, |k| {
                    builds.set(builds.get() + 1);
                    Ok::<_, ()>(Built { from: k })
                })
                .unwrap()
        }
    }

    #[test]
    fn the_same_key_reuses_the_value_built_for_it() {
        let builds = Cell::new(0);
        let get = cache_counting(&builds);
        let cache = IsolateCache::default();
        let first = get(&cache, "env-a");
        let second = get(&cache, "env-a");
        assert!(Rc::ptr_eq(&first, &second));
        assert_eq!(builds.get(), 1);
    }

    #[test]
    fn another_key_rebuilds_and_requests_in_flight_keep_the_old_value() {
        let builds = Cell::new(0);
        let get = cache_counting(&builds);
        let cache = IsolateCache::default();
        let old = get(&cache, "env-a");
        let new = get(&cache, "env-b");
        assert_eq!((old.from, new.from), ("env-a", "env-b"));
        assert!(!Rc::ptr_eq(&old, &new));
        assert!(Rc::ptr_eq(&new, &get(&cache, "env-b")));
        // Only the latest environment is kept: going back builds again.
        assert_eq!(get(&cache, "env-a").from, "env-a");
        assert_eq!(builds.get(), 3);
    }

    #[test]
    fn a_failed_build_is_not_cached() {
        let cache: IsolateCache<&str, Built> = IsolateCache::default();
        assert_eq!(
            cache
                .get_or_try_build("env-a", |_| Err("no DB binding"))
                .unwrap_err(),
            "no DB binding"
        );
        let built = cache
            .get_or_try_build("env-a", |k| Ok::<_, &str>(Built { from: k }))
            .unwrap();
        assert_eq!(built.from, "env-a");
    }
}
