//! Storage seams: SQL (D1 in production, SQLite natively) and KV (Workers KV or memory).
//!
//! Handlers speak only these two small traits, so the same code runs in workerd and in
//! `cargo test`. SQL is written once, valid on both SQLite and D1, and lives in this module:
//! one submodule per aggregate (agents, overseers, oversights, clients, grants,
//! subscriptions, pools, markers, webhooks, retention, audit, the mail outbox, and the KV
//! challenge records)
//! with a small typed API each. [`batch`] builds guarded batches; [`flag`] decodes 0/1 columns;
//! [`meter`] counts each request's round trips.

use std::borrow::Cow;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

pub mod account_erasure;
pub mod account_export;
pub mod agent_keys;
pub mod agents;
pub mod audit;
pub mod batch;
pub mod challenges;
pub mod clients;
pub mod consent;
#[cfg(target_arch = "wasm32")]
pub mod d1;
pub mod durable_markers;
pub mod email_changes;
pub mod flag;
pub mod grants;
pub mod live_grants;
pub mod markers;
#[cfg(not(target_arch = "wasm32"))]
pub mod memory;
pub mod meter;
pub mod outbox;
pub mod overseer_sessions;
pub mod overseer_tokens;
pub mod overseers;
pub mod oversights;
pub mod payment_problems;
pub mod pools;
#[cfg(target_arch = "wasm32")]
pub mod replay_object;
pub mod resources;
pub mod retention;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
pub mod subscriptions;
pub mod webhooks;
#[cfg(target_arch = "wasm32")]
pub mod workers_kv;

/// A positional SQL parameter. Integers are bound to D1 as JS numbers (exact below 2^53).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement with its bound parameters.
#[derive(Clone, Debug)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

/// Builds a [`Statement`]: `stmt!("SELECT … WHERE id = ?1", id)`.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::store::Statement::new($sql, vec![$($crate::store::Value::from($p)),*])
    };
}

/// A row as a JSON object keyed by column name.
pub type Row = Map<String, Json>;

/// What one statement produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    /// Rows changed by an INSERT/UPDATE/DELETE.
    pub changes: u64,
}

impl Outcome {
    /// Decodes every row into `T`.
    pub fn decode<T: DeserializeOwned>(self) -> Result<Vec<T>, StoreError> {
        self.rows.into_iter().map(decode_row).collect()
    }

    /// Decodes the first row, if any.
    pub fn first<T: DeserializeOwned>(self) -> Result<Option<T>, StoreError> {
        self.rows.into_iter().next().map(decode_row).transpose()
    }
}

/// Decodes one row with the row map itself as the deserializer, which only ever offers a map:
/// through `serde_json::Value` every row type would also compile its sequence visitor (a row
/// is never an array), about a third of each type's decoding code in the Worker bundle.
fn decode_row<T: DeserializeOwned>(row: Row) -> Result<T, StoreError> {
    T::deserialize(row).map_err(StoreError::decode)
}

/// Storage failures. `Conflict` is a constraint violation (UNIQUE/CHECK), which callers may
/// turn into a 409 or treat as "lost the race"; everything else is an internal error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Conflict(Constraint, String),
    Backend(String),
    Decode(String),
}

/// Which kind of constraint a write violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// UNIQUE or PRIMARY KEY: somebody else holds that key (a duplicate, or a lost race).
    Unique,
    /// CHECK: a batch guard (api.md 3.5) refused, so the whole batch rolled back.
    Check,
    Other,
}

impl Constraint {
    /// Classifies by SQLite's message text, which D1 passes through.
    pub fn from_message(msg: &str) -> Constraint {
        if msg.contains("UNIQUE constraint failed") || msg.contains("PRIMARY KEY constraint failed")
        {
            Constraint::Unique
        } else if msg.contains("CHECK constraint failed") {
            Constraint::Check
        } else {
            Constraint::Other
        }
    }
}

impl StoreError {
    /// Whether this is a UNIQUE/PRIMARY KEY violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Conflict(Constraint::Unique, _))
    }

    fn decode(e: serde_json::Error) -> Self {
        StoreError::Decode(e.to_string())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict(c, m) => write!(f, "{c:?} constraint violation: {m}"),
            StoreError::Backend(m) => write!(f, "storage error: {m}"),
            StoreError::Decode(m) => write!(f, "row decode error: {m}"),
        }
    }
}

/// SQL database: D1 in workerd, SQLite natively.
#[async_trait(?Send)]
pub trait Db {
    /// Runs one statement.
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError>;
    /// Runs statements atomically in order (D1 `batch`, a SQLite transaction): all or nothing.
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError>;
}

/// The KV namespaces of api.md §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    Challenges,
    Sessions,
    RateLimits,
}

impl Namespace {
    pub const fn binding(self) -> &'static str {
        match self {
            Namespace::Challenges => "CHALLENGES",
            Namespace::Sessions => "SESSIONS",
            Namespace::RateLimits => "RATE_LIMITS",
        }
    }
}

/// KV's minimum `expirationTtl`: a shorter one is an error, so callers raise their own.
pub const KV_MIN_TTL_SECS: u64 = 60;
/// Workers KV's largest key, in bytes.
pub const KV_MAX_KEY_BYTES: usize = 512;
/// Workers KV's largest value, in bytes (25 MiB).
pub const KV_MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;

/// The KV TTL for a record that must stay readable `secs` more seconds: at least the minimum.
/// The record's own `expires_at` stays authoritative; the TTL only collects garbage.
pub fn kv_ttl(secs: i64) -> u64 {
    secs.unsigned_abs().max(KV_MIN_TTL_SECS)
}

/// Eventually consistent key-value store with Workers KV's rules. Never decides single use,
/// revocation or exact limits (D1 does), because:
///
/// - a write (put or delete) to a key written less than a second ago may be refused (429), so
///   a second write to one key inside a request burst must never fail a decided request;
/// - a read elsewhere may return the value from before a write for up to 60 s;
/// - keys are at most [`KV_MAX_KEY_BYTES`], values at most [`KV_MAX_VALUE_BYTES`].
#[async_trait(?Send)]
pub trait Kv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` for `ttl_secs`, which must be at least [`KV_MIN_TTL_SECS`] (see
    /// [`kv_ttl`]); a shorter TTL is an error, as on the platform.
    async fn put(
        &self,
        ns: Namespace,
        key: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError>;
    /// Removes `key`; a write like `put`, under the same per-key limit.
    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::{Outcome, Row, StoreError};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        id: String,
        n: i64,
        note: Option<String>,
    }

    fn row(v: serde_json::Value) -> Row {
        match v {
            serde_json::Value::Object(o) => o,
            _ => unreachable!("rows are objects"),
        }
    }

    fn outcome(rows: Vec<serde_json::Value>) -> Outcome {
        Outcome {
            rows: rows.into_iter().map(row).collect(),
            changes: 0,
        }
    }

    #[test]
    fn rows_decode_by_column_name_and_ignore_other_columns() {
        let out = outcome(vec![
            json!({ "n": 2, "id": "a", "note": null, "extra": 1 }),
            json!({ "id": "b", "n": 3, "note": "x" }),
        ]);
        let want = vec![
            Pair {
                id: "a".into(),
                n: 2,
                note: None,
            },
            Pair {
                id: "b".into(),
                n: 3,
                note: Some("x".into()),
            },
        ];
        assert_eq!(out.clone().decode::<Pair>().unwrap(), want);
        let first = out.first::<Pair>().unwrap();
        assert_eq!(first.as_ref(), want.first());
        assert_eq!(outcome(vec![]).first::<Pair>().unwrap(), None);
    }

    #[test]
    fn a_row_of_the_wrong_shape_is_a_decode_error() {
        for bad in [
            json!({ "id": "a" }),
            json!({ "id": 1, "n": 2 }),
            json!({ "id": "a", "n": 2.5 }),
            json!({ "id": "a", "n": "2" }),
        ] {
            let err = outcome(vec![bad.clone()]).first::<Pair>().unwrap_err();
            assert!(matches!(err, StoreError::Decode(_)), "{bad}: {err:?}");
        }
    }
}
