//! Single-use markers: replayed JWT ids (DPoP proofs, client assertions) and session revocations.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use async_trait::async_trait;

use super::batch::Guard;
use super::meter::Meter;
use super::{Db, Statement, StoreError};
use crate::stmt;

/// What a replay marker protects (`jti_markers.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    Dpop,
    ClientAssertion,
}

impl MarkerKind {
    /// The stored name (`jti_markers.kind`, and the Durable Object's `markers.kind`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Dpop => "dpop",
            MarkerKind::ClientAssertion => "client_assertion",
        }
    }

    /// The kind a stored name stands for.
    pub fn from_name(name: &str) -> Option<MarkerKind> {
        match name {
            "dpop" => Some(MarkerKind::Dpop),
            "client_assertion" => Some(MarkerKind::ClientAssertion),
            _ => None,
        }
    }
}

/// Which [`ReplayStore`] the Worker uses (`REPLAY_STORE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayBackend {
    /// `d1`: the `jti_markers` table, foldable into the caller's batch ([`D1Markers`]).
    #[default]
    D1,
    /// `durable_object`: one SQLite-backed Durable Object per signer (`REPLAY_MARKERS` binding).
    DurableObject,
}

impl ReplayBackend {
    /// The setting's value for this backend.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplayBackend::D1 => "d1",
            ReplayBackend::DurableObject => "durable_object",
        }
    }

    /// The backend a `REPLAY_STORE` value names (exact, lower case).
    pub fn from_setting(value: &str) -> Option<ReplayBackend> {
        match value {
            "d1" => Some(ReplayBackend::D1),
            "durable_object" => Some(ReplayBackend::DurableObject),
            _ => None,
        }
    }
}

/// Whether a `jti` hash was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// The marker was written (or an expired one taken over): the first use.
    First,
    /// A live marker exists: a replay.
    Replay,
}

/// One use of a `jti` hash to record: used until `expires_at_ms`, observed at `now_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Mark<'a> {
    pub kind: MarkerKind,
    /// Which signer's markers these are: the DPoP key's RFC 7638 thumbprint, or the client id
    /// of a client assertion. D1 ignores it; a sharded store routes by it.
    pub shard: &'a str,
    pub hash: &'a str,
    pub expires_at_ms: i64,
    pub now_ms: i64,
}

impl Mark<'_> {
    /// The D1 statement recording this use: it changes one row on first use (or when it takes
    /// over an expired marker not yet purged) and none on a replay. The primary key decides
    /// races.
    pub fn statement(&self) -> Statement {
        stmt!(
            "INSERT INTO jti_markers (hash, kind, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at \
             WHERE jti_markers.expires_at <= ?4",
            self.hash,
            self.kind.as_str(),
            self.expires_at_ms,
            self.now_ms
        )
    }

    /// [`Mark::statement`], recording nothing unless `guard` holds.
    pub fn statement_if(&self, guard: Guard) -> Statement {
        let mut s = stmt!(
            "INSERT INTO jti_markers (hash, kind, expires_at) SELECT ?1, ?2, ?3",
            self.hash,
            self.kind.as_str(),
            self.expires_at_ms,
            self.now_ms
        )
        .only_if(guard);
        // `?4` (now) is bound by the upsert clause, which follows the SELECT's WHERE (so that
        // SQLite does not read `ON` as a join constraint).
        s.sql = format!(
            "{} ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, \
             expires_at = excluded.expires_at WHERE jti_markers.expires_at <= ?4",
            s.sql
        )
        .into();
        s
    }
}

/// Where replay markers live. D1 ([`D1Markers`]) is the default; a store elsewhere (Durable
/// Objects) keeps the same single-use guarantee.
#[async_trait(?Send)]
pub trait ReplayStore {
    /// The statement that records `mark` inside the caller's own D1 batch (its `changes` is 1
    /// on first use), when D1 holds the markers. `None`: call [`ReplayStore::first_use`]
    /// before the batch instead.
    fn in_batch(&self, mark: &Mark<'_>) -> Option<Statement>;

    /// Like [`ReplayStore::in_batch`], the marker taking effect only where `guard` holds (a
    /// batch whose every effect depends on D1 state read in it). `None` when the markers live
    /// outside D1, where a D1 condition cannot hold them back: the caller then keeps to the
    /// path that spends them with [`ReplayStore::first_use`].
    fn in_batch_if(&self, _mark: &Mark<'_>, _guard: Guard) -> Option<Statement> {
        None
    }

    /// Records `mark` on its own. `db` and `meter` are the request's.
    async fn first_use(
        &self,
        db: &dyn Db,
        meter: &Meter,
        mark: &Mark<'_>,
    ) -> Result<Use, StoreError>;
}

/// Replay markers in D1's `jti_markers` table.
pub struct D1Markers;

#[async_trait(?Send)]
impl ReplayStore for D1Markers {
    fn in_batch(&self, mark: &Mark<'_>) -> Option<Statement> {
        Some(mark.statement())
    }

    fn in_batch_if(&self, mark: &Mark<'_>, guard: Guard) -> Option<Statement> {
        Some(mark.statement_if(guard))
    }

    async fn first_use(
        &self,
        db: &dyn Db,
        _meter: &Meter,
        mark: &Mark<'_>,
    ) -> Result<Use, StoreError> {
        let outcome = db.run(mark.statement()).await?;
        Ok(Use::from_changes(outcome.changes))
    }
}

impl Use {
    /// The use a marker statement's row count means.
    pub const fn from_changes(changes: u64) -> Use {
        if changes == 1 {
            Use::First
        } else {
            Use::Replay
        }
    }
}

/// Marks `hash` as used until `expires_at_ms` in D1. A live marker (expiring after `now_ms`)
/// means a replay; an expired marker not yet purged is taken over.
pub async fn mark_used(
    db: &dyn Db,
    kind: MarkerKind,
    hash: &str,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<Use, StoreError> {
    let mark = Mark {
        kind,
        shard: "",
        hash,
        expires_at_ms,
        now_ms,
    };
    D1Markers.first_use(db, &Meter::default(), &mark).await
}

/// Ends the session whose token hashes to `token_hash`, everywhere at once. Idempotent: a
/// second logout of the same session changes nothing.
pub async fn revoke_session(
    db: &dyn Db,
    token_hash: &str,
    expires_at_ms: i64,
) -> Result<(), StoreError> {
    db.run(stmt!(
        "INSERT INTO session_revocations (token_hash, expires_at) VALUES (?1, ?2) \
         ON CONFLICT (token_hash) DO NOTHING",
        token_hash,
        expires_at_ms
    ))
    .await
    .map(drop)
}

/// A select-list column `revoked` (0/1): whether the session `token_hash` (bound at
/// `?{param}`) was revoked, so the account lookups of session checks stay one round trip.
pub(super) fn revoked_column(param: usize) -> String {
    format!("{} AS revoked", revoked_condition(param))
}

/// The condition of [`revoked_column`], for a check that adds its own.
pub(super) fn revoked_condition(param: usize) -> String {
    format!("EXISTS (SELECT 1 FROM session_revocations WHERE token_hash = ?{param})")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::store::sqlite::SqliteDb;

    #[test]
    fn a_live_marker_refuses_and_an_expired_one_is_taken_over() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        let mark = |expires_at_ms, now_ms| {
            block_on(mark_used(&db, MarkerKind::Dpop, "h", expires_at_ms, now_ms)).unwrap()
        };
        assert_eq!(mark(2_000, 1_000), Use::First);
        assert_eq!(mark(3_000, 1_999), Use::Replay);
        assert_eq!(mark(3_000, 2_000), Use::First, "expired at 2000 ms");
        assert_eq!(mark(9_000, 2_999), Use::Replay, "the takeover set 3000 ms");
        let kind = block_on(mark_used(
            &db,
            MarkerKind::ClientAssertion,
            "h",
            9_000,
            3_000,
        ))
        .unwrap();
        assert_eq!(kind, Use::First);
    }

    #[test]
    fn a_guarded_marker_records_nothing_unless_its_guard_holds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        let mark = |hash, expires_at_ms, now_ms, holds: bool| {
            let m = Mark {
                kind: MarkerKind::ClientAssertion,
                shard: "c",
                hash,
                expires_at_ms,
                now_ms,
            };
            let guard = crate::guard!("?1 = 1", i64::from(holds));
            Use::from_changes(block_on(db.run(m.statement_if(guard))).unwrap().changes)
        };
        assert_eq!(mark("h", 2_000, 1_000, false), Use::Replay, "held back");
        assert_eq!(mark("h", 2_000, 1_000, true), Use::First, "so still unused");
        assert_eq!(mark("h", 3_000, 1_999, true), Use::Replay);
        assert_eq!(mark("h", 3_000, 2_000, false), Use::Replay, "no takeover");
        assert_eq!(
            mark("h", 3_000, 2_000, true),
            Use::First,
            "expired: taken over"
        );
    }
}

// --- used by oauth ---

impl Mark<'_> {
    /// "No live marker holds this hash": exactly when [`Mark::statement`] would change a row.
    /// Writes that a D1 batch places *before* the marker statement, guarded by this, take
    /// effect only when the marker then records a first use (one transaction: both see the
    /// same table), so a replay writes nothing.
    pub fn unused(&self) -> super::batch::Guard {
        crate::guard!(
            "NOT EXISTS (SELECT 1 FROM jti_markers WHERE hash = ?1 AND expires_at > ?2)",
            self.hash,
            self.now_ms
        )
    }
}
