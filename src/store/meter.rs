//! Counting storage calls per request: the round-trip budgets (tests) and the per-endpoint
//! metrics (production) read the same numbers.
//!
//! A D1 round trip is one `run` or one `batch` (however many statements it holds); a KV
//! operation is one `get`, `put` or `delete`. [`MeteredDb`] and [`MeteredKv`] wrap the real
//! stores for one request and add to that request's [`Meter`].

use std::cell::Cell;
use std::ops::Add;
use std::rc::Rc;

use async_trait::async_trait;

use super::{Db, Kv, Namespace, Outcome, Statement, StoreError};

/// The storage calls one request made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// D1 calls: a `run` or a `batch` counts once.
    pub d1_round_trips: u32,
    /// Statements sent to D1 across those calls.
    pub d1_statements: u32,
    pub kv_reads: u32,
    /// `put`s and `delete`s.
    pub kv_writes: u32,
    /// Calls to Durable Objects (replay markers when configured there).
    pub durable_object_calls: u32,
}

impl Usage {
    /// KV reads and writes together.
    pub const fn kv_operations(&self) -> u32 {
        self.kv_reads + self.kv_writes
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, o: Usage) -> Usage {
        Usage {
            d1_round_trips: self.d1_round_trips + o.d1_round_trips,
            d1_statements: self.d1_statements + o.d1_statements,
            kv_reads: self.kv_reads + o.kv_reads,
            kv_writes: self.kv_writes + o.kv_writes,
            durable_object_calls: self.durable_object_calls + o.durable_object_calls,
        }
    }
}

/// One request's running [`Usage`]; clones share the count.
#[derive(Clone, Debug, Default)]
pub struct Meter(Rc<Cell<Usage>>);

impl Meter {
    pub fn usage(&self) -> Usage {
        self.0.get()
    }

    /// Adds `more` to the count.
    pub fn add(&self, more: Usage) {
        self.0.set(self.0.get() + more);
    }
}

/// A [`Db`] that counts into a [`Meter`].
pub struct MeteredDb {
    pub inner: Rc<dyn Db>,
    pub meter: Meter,
}

#[async_trait(?Send)]
impl Db for MeteredDb {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        self.meter.add(Usage {
            d1_round_trips: 1,
            d1_statements: 1,
            ..Usage::default()
        });
        self.inner.run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        self.meter.add(Usage {
            d1_round_trips: 1,
            d1_statements: u32::try_from(stmts.len()).unwrap_or(u32::MAX),
            ..Usage::default()
        });
        self.inner.batch(stmts).await
    }
}

/// A [`Kv`] that counts into a [`Meter`].
pub struct MeteredKv {
    pub inner: Rc<dyn Kv>,
    pub meter: Meter,
}

const READ: Usage = Usage {
    d1_round_trips: 0,
    d1_statements: 0,
    kv_reads: 1,
    kv_writes: 0,
    durable_object_calls: 0,
};
const WRITE: Usage = Usage {
    kv_reads: 0,
    kv_writes: 1,
    ..READ
};

#[async_trait(?Send)]
impl Kv for MeteredKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        self.meter.add(READ);
        self.inner.get(ns, key).await
    }

    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        self.meter.add(WRITE);
        self.inner.put(ns, key, value, ttl_secs).await
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        self.meter.add(WRITE);
        self.inner.delete(ns, key).await
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::clock::ManualClock;
    use crate::stmt;
    use crate::store::memory::MemoryKv;
    use crate::store::sqlite::SqliteDb;

    #[test]
    fn a_batch_is_one_round_trip_and_kv_calls_count_by_kind() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let meter = Meter::default();
        let db = MeteredDb {
            inner: Rc::new(SqliteDb::in_memory(&dir).unwrap()),
            meter: meter.clone(),
        };
        block_on(db.run(stmt!("SELECT 1"))).unwrap();
        block_on(db.batch(vec![stmt!("SELECT 1"), stmt!("SELECT 2")])).unwrap();
        let kv = MeteredKv {
            inner: Rc::new(MemoryKv::new(Rc::new(ManualClock::at_secs(0)))),
            meter: meter.clone(),
        };
        block_on(kv.put(Namespace::Sessions, "k", "v", 60)).unwrap();
        block_on(kv.get(Namespace::Sessions, "k")).unwrap();
        block_on(kv.delete(Namespace::Sessions, "other")).unwrap();
        assert_eq!(
            meter.usage(),
            Usage {
                d1_round_trips: 2,
                d1_statements: 3,
                kv_reads: 1,
                kv_writes: 2,
                durable_object_calls: 0,
            }
        );
    }
}
