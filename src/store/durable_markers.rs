//! Replay markers in SQLite-backed Durable Objects (`REPLAY_STORE=durable_object`): one object
//! per signer — the DPoP key's thumbprint, or the client id of a client assertion — so a
//! signer's markers live together and one object's throughput bounds one signer, never the
//! service (docs/scaling.md).
//!
//! The Worker sends each [`Mark`] to its signer's object as a [`MarkRequest`]
//! ([`DurableMarkers`], wasm); the object ([`super::replay_object`], wasm) runs [`UPSERT`] on its
//! own `markers` table: the D1 rule exactly (a live marker refuses, an expired one is taken
//! over) and the object's single-threaded execution decides races. Natively, [`SqliteShards`]
//! runs the same statements on one SQLite database per shard, so the path that calls
//! [`ReplayStore::first_use`] before the batch is tested against the same semantics.

use serde::Deserialize;

use super::markers::{MarkerKind, ReplayBackend, Use};
use super::meter::Usage;
use crate::config::ConfigError;

#[cfg(not(target_arch = "wasm32"))]
use super::markers::{Mark, ReplayStore};

/// The Worker binding of the Durable Object namespace (`wrangler.toml`).
pub const BINDING: &str = "REPLAY_MARKERS";

/// The object's table, created on its first request. `WITHOUT ROWID`: the hash is the key.
pub const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS markers (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, \
     expires_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS markers_by_expiry ON markers (expires_at)",
];

/// Records a use; bound to (hash, kind, expires_at, now). Returns one row on first use (or on
/// taking over an expired marker) and none on a replay: `jti_markers`' statement on D1.
pub const UPSERT: &str = "INSERT INTO markers (hash, kind, expires_at) VALUES (?, ?, ?) \
     ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at \
     WHERE markers.expires_at <= ? RETURNING hash";

/// How many expired markers one clean-up deletes at most (the alarm re-arms for the rest).
pub const PURGE_LIMIT: i64 = 500;

/// Deletes at most (second binding, [`PURGE_LIMIT`]) markers expired at the first binding's
/// time, oldest first.
pub const PURGE: &str = "DELETE FROM markers WHERE hash IN \
     (SELECT hash FROM markers WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)";

/// The earliest expiry left (`next`, NULL when the table is empty).
pub const NEXT_EXPIRY: &str = "SELECT MIN(expires_at) AS next FROM markers";

/// The largest integer a JS number holds exactly: the object binds times as numbers.
const MAX_SAFE_MS: i64 = (1 << 53) - 1;

/// What one call to an object costs the request's meter.
pub const OBJECT_CALL: Usage = Usage {
    d1_round_trips: 0,
    d1_statements: 0,
    kv_reads: 0,
    kv_writes: 0,
    durable_object_calls: 1,
};

/// One use of a marker, as the object receives it (the JSON body of its `POST`): validated,
/// so the object never stores a malformed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkRequest {
    pub kind: MarkerKind,
    pub hash: String,
    pub expires_at_ms: i64,
    pub now_ms: i64,
}

/// Why an object refused a request body (answered `400`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadMark {
    /// Not the JSON object below (unknown or missing members, wrong types).
    Malformed,
    UnknownKind,
    /// Empty, longer than 128 characters, or not `[A-Za-z0-9_-]`.
    BadHash,
    /// A time outside `0..=2^53-1` milliseconds.
    BadTime,
}

impl std::fmt::Display for BadMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadMark::Malformed => "body must be {kind, hash, expires_at, now}",
            BadMark::UnknownKind => "unknown marker kind",
            BadMark::BadHash => "hash must be 1..128 characters of [A-Za-z0-9_-]",
            BadMark::BadTime => "times must be integers in 0..2^53 milliseconds",
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    kind: String,
    hash: String,
    expires_at: i64,
    now: i64,
}

impl MarkRequest {
    /// The request for `mark`. A marker that would outlive 2^53 ms (only a saturated
    /// acceptance window) is kept until then: as good as forever.
    pub fn body_of(kind: MarkerKind, hash: &str, expires_at_ms: i64, now_ms: i64) -> String {
        serde_json::json!({
            "kind": kind.as_str(),
            "hash": hash,
            "expires_at": expires_at_ms.clamp(0, MAX_SAFE_MS),
            "now": now_ms.clamp(0, MAX_SAFE_MS),
        })
        .to_string()
    }

    /// Parses and checks a request body.
    pub fn parse(body: &str) -> Result<MarkRequest, BadMark> {
        let wire: Wire = serde_json::from_str(body).map_err(|_| BadMark::Malformed)?;
        let kind = MarkerKind::from_name(&wire.kind).ok_or(BadMark::UnknownKind)?;
        let hash_ok = (1..=128).contains(&wire.hash.len())
            && wire
                .hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !hash_ok {
            return Err(BadMark::BadHash);
        }
        let time_ok = |t: i64| (0..=MAX_SAFE_MS).contains(&t);
        if !time_ok(wire.expires_at) || !time_ok(wire.now) {
            return Err(BadMark::BadTime);
        }
        Ok(MarkRequest {
            kind,
            hash: wire.hash,
            expires_at_ms: wire.expires_at,
            now_ms: wire.now,
        })
    }
}

impl Use {
    /// The object's answer body.
    pub const fn as_answer(self) -> &'static str {
        match self {
            Use::First => "first",
            Use::Replay => "replay",
        }
    }

    /// The use an object's answer body names.
    pub fn from_answer(body: &str) -> Option<Use> {
        match body {
            "first" => Some(Use::First),
            "replay" => Some(Use::Replay),
            _ => None,
        }
    }
}

/// When an object's clean-up alarm should fire next, given the earliest expiry left after a
/// purge: then, but never sooner than a second from now (a purge that hit its limit leaves
/// expired rows; they go in the next round, not in a busy loop). `None`: nothing left.
pub fn next_alarm_ms(next_expiry_ms: Option<i64>, now_ms: i64) -> Option<i64> {
    next_expiry_ms.map(|next| next.max(now_ms.saturating_add(1000)))
}

/// What the configured backend needs from the edge. `Ok(Some(binding))`: use the objects;
/// `Ok(None)`: D1 (the binding is not needed); `Err`: `durable_object` without the binding, a
/// configuration error like any other (every request answers 503).
pub fn choose<N>(
    backend: ReplayBackend,
    binding: impl FnOnce() -> Option<N>,
) -> Result<Option<N>, ConfigError> {
    match backend {
        ReplayBackend::D1 => Ok(None),
        ReplayBackend::DurableObject => binding().map(Some).ok_or(ConfigError {
            name: "REPLAY_STORE",
            problem: "is `durable_object` but the REPLAY_MARKERS binding is missing",
        }),
    }
}

/// The Worker's client of the objects.
#[cfg(target_arch = "wasm32")]
mod edge {
    use std::rc::Rc;

    use async_trait::async_trait;
    use worker::{Env, ObjectNamespace};

    use super::{choose, MarkRequest, BINDING, OBJECT_CALL};
    use crate::app::App;
    use crate::store::markers::{Mark, ReplayStore, Use};
    use crate::store::meter::Meter;
    use crate::store::{Db, StoreError};

    /// Replay markers in the `REPLAY_MARKERS` namespace, one object per [`Mark::shard`].
    pub struct DurableMarkers {
        namespace: ObjectNamespace,
    }

    /// Switches `app` to Durable Object markers when its configuration asks for them; a
    /// missing binding makes the configuration unusable.
    pub fn attach(env: &Env, app: &mut App) {
        let Ok(config) = &app.config else { return };
        match choose(config.replay_store, || env.durable_object(BINDING).ok()) {
            Ok(Some(namespace)) => app.services.replays = Rc::new(DurableMarkers { namespace }),
            Ok(None) => {}
            Err(e) => app.config = Err(e),
        }
    }

    fn backend(e: worker::Error) -> StoreError {
        StoreError::Backend(format!("replay marker object: {e}"))
    }

    #[async_trait(?Send)]
    impl ReplayStore for DurableMarkers {
        fn in_batch(&self, _mark: &Mark<'_>) -> Option<crate::store::Statement> {
            None
        }

        async fn first_use(
            &self,
            _db: &dyn Db,
            meter: &Meter,
            mark: &Mark<'_>,
        ) -> Result<Use, StoreError> {
            meter.add(OBJECT_CALL);
            let body = MarkRequest::body_of(mark.kind, mark.hash, mark.expires_at_ms, mark.now_ms);
            let stub = self
                .namespace
                .id_from_name(mark.shard)
                .and_then(|id| id.get_stub())
                .map_err(backend)?;
            let req = crate::http::outbound::request(
                "POST",
                "https://replay-markers.internal/mark",
                None,
                Some(&body),
            )
            .map_err(backend)?;
            let mut res = stub.fetch_with_request(req).await.map_err(backend)?;
            let status = res.status_code();
            let text = res.text().await.map_err(backend)?;
            match (status, Use::from_answer(&text)) {
                (200, Some(used)) => Ok(used),
                _ => Err(StoreError::Backend(format!(
                    "replay marker object answered {status}"
                ))),
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use edge::{attach, DurableMarkers};

/// Native stand-in for the objects, as strict as they are: one SQLite database per shard
/// running [`SCHEMA`] and [`UPSERT`], reached through the same [`MarkRequest`] body, one call at
/// a time (an object is single-threaded), never folded into a D1 batch.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
pub struct SqliteShards {
    shards: std::cell::RefCell<std::collections::HashMap<String, rusqlite::Connection>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl SqliteShards {
    fn with_shard<T>(
        &self,
        shard: &str,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, super::StoreError> {
        let backend = |e: rusqlite::Error| super::StoreError::Backend(e.to_string());
        let mut shards = self.shards.borrow_mut();
        if !shards.contains_key(shard) {
            let conn = rusqlite::Connection::open_in_memory().map_err(backend)?;
            for stmt in SCHEMA {
                conn.execute(stmt, []).map_err(backend)?;
            }
            shards.insert(shard.to_owned(), conn);
        }
        f(&shards[shard]).map_err(backend)
    }

    /// The shards that hold markers, by name (which objects a run touched).
    pub fn shard_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shards.borrow().keys().cloned().collect();
        names.sort();
        names
    }

    /// The number of markers in `shard`.
    pub fn len(&self, shard: &str) -> Result<i64, super::StoreError> {
        self.with_shard(shard, |c| {
            c.query_row("SELECT COUNT(*) FROM markers", [], |r| r.get(0))
        })
    }

    /// What the object's alarm does: [`PURGE`] at `now_ms`, then the next alarm time.
    pub fn purge(&self, shard: &str, now_ms: i64) -> Result<Option<i64>, super::StoreError> {
        self.with_shard(shard, |c| {
            c.execute(PURGE, [now_ms, PURGE_LIMIT])?;
            let next: Option<i64> = c.query_row(NEXT_EXPIRY, [], |r| r.get(0))?;
            Ok(next_alarm_ms(next, now_ms))
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[async_trait::async_trait(?Send)]
impl ReplayStore for SqliteShards {
    fn in_batch(&self, _mark: &Mark<'_>) -> Option<super::Statement> {
        None
    }

    async fn first_use(
        &self,
        _db: &dyn super::Db,
        meter: &super::meter::Meter,
        mark: &Mark<'_>,
    ) -> Result<Use, super::StoreError> {
        meter.add(OBJECT_CALL);
        let body = MarkRequest::body_of(mark.kind, mark.hash, mark.expires_at_ms, mark.now_ms);
        let req = MarkRequest::parse(&body)
            .map_err(|e| super::StoreError::Backend(format!("replay marker object: {e}")))?;
        let rows = self.with_shard(mark.shard, |c| {
            let mut stmt = c.prepare_cached(UPSERT)?;
            let mut rows = stmt.query(rusqlite::params![
                req.hash,
                req.kind.as_str(),
                req.expires_at_ms,
                req.now_ms
            ])?;
            let mut n = 0;
            while rows.next()?.is_some() {
                n += 1;
            }
            Ok(n)
        })?;
        Ok(if rows == 1 { Use::First } else { Use::Replay })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::store::markers::D1Markers;
    use crate::store::meter::Meter;
    use crate::store::sqlite::SqliteDb;

    fn d1() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        SqliteDb::in_memory(&dir).unwrap()
    }

    fn mark<'a>(shard: &'a str, hash: &'a str, expires_at_ms: i64, now_ms: i64) -> Mark<'a> {
        Mark {
            kind: MarkerKind::Dpop,
            shard,
            hash,
            expires_at_ms,
            now_ms,
        }
    }

    /// The objects answer exactly as D1's `jti_markers` does, use after use: first use, replay
    /// while live, take-over at and after expiry (never before), across interleaved hashes.
    #[test]
    fn the_objects_decide_exactly_as_d1_does() {
        let db = d1();
        let objects = SqliteShards::default();
        let meter = Meter::default();
        let mut uses = 0;
        for step in 0..400_i64 {
            let hash = format!("h{}", step % 7);
            let now = 1_000 * (step / 3) + step % 3 * 499;
            let expires = now + 1 + (step * 7919) % 2_500;
            let m = mark("thumb", &hash, expires, now);
            let want = block_on(D1Markers.first_use(&db, &meter, &m)).unwrap();
            let got = block_on(objects.first_use(&db, &meter, &m)).unwrap();
            assert_eq!(got, want, "step {step}: {hash} expires {expires} at {now}");
            uses += usize::from(want == Use::First);
        }
        assert!(
            uses > 7 && uses < 400,
            "both outcomes exercised ({uses} first uses)"
        );
        assert_eq!(meter.usage().durable_object_calls, 400);
        assert_eq!(objects.shard_names(), ["thumb"]);
    }

    #[test]
    fn a_live_marker_refuses_and_an_expired_one_is_taken_over() {
        let objects = SqliteShards::default();
        let db = d1();
        let meter = Meter::default();
        let used = |expires, now| {
            block_on(objects.first_use(&db, &meter, &mark("k", "h", expires, now))).unwrap()
        };
        assert_eq!(used(2_000, 1_000), Use::First);
        assert_eq!(used(3_000, 1_999), Use::Replay);
        assert_eq!(used(3_000, 2_000), Use::First, "expired at 2000 ms");
        assert_eq!(used(9_000, 2_999), Use::Replay, "the takeover set 3000 ms");
        // Another signer's object knows nothing of this hash.
        let other = block_on(objects.first_use(&db, &meter, &mark("other", "h", 9_000, 2_999)));
        assert_eq!(other.unwrap(), Use::First);
        assert_eq!(objects.shard_names(), ["k", "other"]);
    }

    #[test]
    fn the_alarm_purges_expired_markers_in_bounded_rounds() {
        let objects = SqliteShards::default();
        let db = d1();
        let meter = Meter::default();
        let n = PURGE_LIMIT + 20;
        for i in 0..n {
            let hash = format!("h{i}");
            block_on(objects.first_use(&db, &meter, &mark("k", &hash, 1_000 + i, 0))).unwrap();
        }
        block_on(objects.first_use(&db, &meter, &mark("k", "live", 50_000, 0))).unwrap();
        // Everything but "live" expired by 10 s: one round takes PURGE_LIMIT, and re-arms soon.
        assert_eq!(objects.purge("k", 10_000).unwrap(), Some(11_000));
        assert_eq!(objects.len("k").unwrap(), n - PURGE_LIMIT + 1);
        // The next round takes the rest and arms for the live marker's expiry.
        assert_eq!(objects.purge("k", 11_000).unwrap(), Some(50_000));
        assert_eq!(objects.len("k").unwrap(), 1);
        assert_eq!(objects.purge("k", 50_000).unwrap(), None);
        assert_eq!(objects.len("k").unwrap(), 0);
    }

    #[test]
    fn the_object_body_round_trips_and_bad_bodies_are_refused() {
        let body = MarkRequest::body_of(MarkerKind::ClientAssertion, "ab-_9Z", i64::MAX, 5);
        assert_eq!(
            MarkRequest::parse(&body).unwrap(),
            MarkRequest {
                kind: MarkerKind::ClientAssertion,
                hash: "ab-_9Z".into(),
                expires_at_ms: MAX_SAFE_MS,
                now_ms: 5,
            }
        );
        let long = "a".repeat(129);
        for (body, why) in [
            ("", BadMark::Malformed),
            ("[]", BadMark::Malformed),
            (
                r#"{"kind":"dpop","hash":"h","expires_at":1}"#,
                BadMark::Malformed,
            ),
            (
                r#"{"kind":"dpop","hash":"h","expires_at":1,"now":1,"x":1}"#,
                BadMark::Malformed,
            ),
            (
                r#"{"kind":"dpop","hash":"h","expires_at":1.5,"now":1}"#,
                BadMark::Malformed,
            ),
            (
                r#"{"kind":"session","hash":"h","expires_at":1,"now":1}"#,
                BadMark::UnknownKind,
            ),
            (
                r#"{"kind":"dpop","hash":"","expires_at":1,"now":1}"#,
                BadMark::BadHash,
            ),
            (
                r#"{"kind":"dpop","hash":"a b","expires_at":1,"now":1}"#,
                BadMark::BadHash,
            ),
            (
                r#"{"kind":"dpop","hash":"h","expires_at":-1,"now":1}"#,
                BadMark::BadTime,
            ),
            (
                r#"{"kind":"dpop","hash":"h","expires_at":1,"now":9007199254740992}"#,
                BadMark::BadTime,
            ),
        ] {
            assert_eq!(MarkRequest::parse(body), Err(why), "{body}");
        }
        let body = format!(r#"{{"kind":"dpop","hash":"{long}","expires_at":1,"now":1}}"#);
        assert_eq!(MarkRequest::parse(&body), Err(BadMark::BadHash));
        assert_eq!(Use::from_answer(Use::First.as_answer()), Some(Use::First));
        assert_eq!(Use::from_answer(Use::Replay.as_answer()), Some(Use::Replay));
        assert_eq!(Use::from_answer("First"), None);
    }

    #[test]
    fn durable_object_without_its_binding_is_a_configuration_error() {
        assert_eq!(choose(ReplayBackend::D1, || Some(1)), Ok(None));
        assert_eq!(choose(ReplayBackend::D1, || None::<u8>), Ok(None));
        assert_eq!(
            choose(ReplayBackend::DurableObject, || Some(1)),
            Ok(Some(1))
        );
        let e = choose(ReplayBackend::DurableObject, || None::<u8>).unwrap_err();
        assert_eq!(e.name, "REPLAY_STORE");
        assert!(e.to_string().contains("REPLAY_MARKERS"));
    }

    #[test]
    fn the_alarm_never_fires_in_a_busy_loop() {
        assert_eq!(next_alarm_ms(None, 5_000), None);
        assert_eq!(next_alarm_ms(Some(4_000), 5_000), Some(6_000));
        assert_eq!(next_alarm_ms(Some(60_000), 5_000), Some(60_000));
    }
}
