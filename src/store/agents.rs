//! Agents: registration, keys (current and rotated), status and profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::agent_keys;
use super::audit::{self, Event, Stamp};
use super::batch::{Batch, Guard, Step};
use super::markers::Use;
use super::{markers, Db, Statement, StoreError};
use crate::domain::agent::AgentRow;
use crate::{guard, stmt};

/// The columns of [`AgentRow`], in its order.
pub const COLUMNS: &str =
    "id, name, description, public_key, session_epoch, created_at, updated_at";

/// The agent `id`, if it exists.
pub async fn find(db: &dyn Db, id: &str) -> Result<Option<AgentRow>, StoreError> {
    db.run(stmt!(
        format!("SELECT {COLUMNS} FROM agents WHERE id = ?1"),
        id
    ))
    .await?
    .first()
}

/// The agent whose current key is `public_key` (canonical base64url), if any.
pub async fn find_by_public_key(
    db: &dyn Db,
    public_key: &str,
) -> Result<Option<AgentRow>, StoreError> {
    db.run(stmt!(
        format!("SELECT {COLUMNS} FROM agents WHERE public_key = ?1"),
        public_key
    ))
    .await?
    .first()
}

/// The agent's name, if it exists (introspection with the `name` scope).
pub async fn name_of(db: &dyn Db, agent_id: &str) -> Result<Option<String>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Name {
        name: String,
    }
    Ok(db
        .run(stmt!("SELECT name FROM agents WHERE id = ?1", agent_id))
        .await?
        .first::<Name>()?
        .map(|n| n.name))
}

/// Whether the agent `id` exists.
pub async fn exists(db: &dyn Db, id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!("SELECT 1 AS one FROM agents WHERE id = ?1", id))
        .await?
        .rows
        .is_empty())
}

/// Whether an agent holds `public_key` (canonical form) as its current key.
pub async fn key_in_use(db: &dyn Db, public_key: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM agents WHERE public_key = ?1",
            public_key
        ))
        .await?
        .rows
        .is_empty())
}

/// An agent with whether the session being checked was revoked.
#[derive(Deserialize)]
pub struct SessionAgent {
    #[serde(flatten)]
    pub agent: AgentRow,
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub revoked: bool,
}

/// The agent `id` and whether the session `token_hash` was revoked, in one round trip.
pub async fn for_session(
    db: &dyn Db,
    id: &str,
    token_hash: &str,
) -> Result<Option<SessionAgent>, StoreError> {
    db.run(session_check(id, token_hash)).await?.first()
}

/// The statement of [`for_session`] (one [`SessionAgent`] row, or none), for a session
/// check batched with the handler's reads.
pub fn session_check(id: &str, token_hash: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {COLUMNS}, {} FROM agents WHERE id = ?1",
            markers::revoked_column(2)
        ),
        id,
        token_hash
    )
}

/// An agent log-in by DPoP key (api.md 5.2), to decide in one batch.
pub struct Login<'a> {
    /// The proof's key, canonical base64url.
    pub public_key: &'a str,
    /// The agent the body named: the key must be its current key.
    pub wanted: Option<&'a str>,
    /// The id of the `agent.login` row, so a refusal decided after the batch (the per-agent
    /// rate limit) can take it back ([`withdraw_login`]).
    pub audit_id: &'a str,
    /// The row's `details`, a JSON object.
    pub details: &'a str,
    pub stamp: Stamp<'a>,
}

/// How the proof's `jti` is spent: its marker statement inside the log-in batch with the guard
/// "the marker is unused", or already decided by a replay store outside D1.
pub enum Jti {
    InBatch(Statement, Guard),
    Decided(Use),
}

/// What a log-in batch found and did.
#[derive(Debug)]
pub struct LoggedIn {
    /// The agent whose current key made the proof.
    pub agent: Option<AgentRow>,
    pub jti: Use,
    /// Whether the `agent.login` row was written: the agent exists (and is the one named), and
    /// the `jti` was unused.
    pub audited: bool,
}

/// One round trip for a log-in: the `agent.login` audit row (guarded), the `jti` marker and the
/// agent lookup. The audit row runs first, guarded by "no live marker" — exactly when the
/// marker statement after it changes a row — so it is written only by the first use. An
/// unknown key or a named agent that does not hold it writes no row; its `jti` is still spent,
/// which is harmless: the proof was never valid for any agent.
pub async fn log_in(db: &dyn Db, login: &Login<'_>, jti: Jti) -> Result<LoggedIn, StoreError> {
    let audit_row = stmt!(
        format!(
            "{} SELECT ?1, 'agent.login', 'agent', a.id, 'agent', a.id, \
               (SELECT overseer_id FROM oversights WHERE agent_id = a.id AND active = 1), \
               a.id, NULL, ?2, ?3, ?4, ?5 FROM agents a \
             WHERE a.public_key = ?6 AND (?7 IS NULL OR a.id = ?7)",
            audit::COLUMNS
        ),
        login.audit_id,
        login.stamp.ip,
        login.stamp.request_id,
        login.details,
        login.stamp.now_ms,
        login.public_key,
        login.wanted
    );
    enum Spent {
        Marker(Step),
        Known(Use),
    }
    let mut batch = Batch::new();
    let (audited, spent) = match jti {
        Jti::InBatch(marker, unused) => (
            Some(batch.push(audit_row.and_if(unused))),
            Spent::Marker(batch.push(marker)),
        ),
        Jti::Decided(used) => (
            (used == Use::First).then(|| batch.push(audit_row)),
            Spent::Known(used),
        ),
    };
    let found = batch.push(stmt!(
        format!("SELECT {COLUMNS} FROM agents WHERE public_key = ?1"),
        login.public_key
    ));
    let mut out = batch.run(db).await?;
    let jti = match spent {
        Spent::Marker(step) => Use::from_changes(out.changes(step)),
        Spent::Known(used) => used,
    };
    Ok(LoggedIn {
        agent: out.take(found).first()?,
        jti,
        audited: audited.is_some_and(|step| out.changed(step)),
    })
}

/// Takes back the `agent.login` row of a log-in refused after its batch (the per-agent rate
/// limit runs once the agent is known), so the trail shows only log-ins that happened.
pub async fn withdraw_login(db: &dyn Db, audit_id: &str) -> Result<(), StoreError> {
    db.run(stmt!(
        "DELETE FROM audit_events WHERE id = ?1 AND type = 'agent.login'",
        audit_id
    ))
    .await
    .map(drop)
}

/// Whether an agent was registered through `challenge_id`: D1 decides a registration
/// challenge's single use, since the KV delete after it may be refused or not yet visible
/// elsewhere. Only the audit rows since the challenge was created (`since_ms`) are scanned.
pub async fn registered_through(
    db: &dyn Db,
    challenge_id: &str,
    since_ms: i64,
) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS used FROM audit_events WHERE created_at >= ?1 AND type = 'agent.registered' \
             AND json_extract(details, '$.challenge_id') = ?2 LIMIT 1",
            since_ms,
            challenge_id
        ))
        .await?
        .rows
        .is_empty())
}

/// What a registration or key rotation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The agent now holds the key; the audit rows were written.
    Done,
    /// Another agent holds the key (the UNIQUE constraint decided a race). Nothing was written.
    KeyTaken,
    /// Rotation only: the agent's current key is no longer the one the challenge was issued
    /// for (a concurrent rotation won). Nothing was written.
    KeyChanged,
}

/// Inserts `agent` with its audit `events`, all or nothing.
pub async fn register(
    db: &dyn Db,
    agent: &AgentRow,
    events: &[Event<'_>],
    stamp: &Stamp<'_>,
) -> Result<KeyOutcome, StoreError> {
    let mut batch = Batch::new();
    batch.push(stmt!(
        format!("INSERT INTO agents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        agent.id.as_str(),
        agent.name.as_str(),
        agent.description.as_deref(),
        agent.public_key.as_str(),
        agent.session_epoch,
        agent.created_at,
        agent.updated_at
    ));
    batch.extend(events.iter().map(|e| e.insert(stamp)));
    match batch.run(db).await {
        Ok(_) => Ok(KeyOutcome::Done),
        Err(e) if e.is_unique_violation() => Ok(KeyOutcome::KeyTaken),
        Err(e) => Err(e),
    }
}

/// A key rotation decided by the handler: `agent_id` moves from `old_key` to `new_key`.
pub struct KeyChange<'a> {
    pub agent_id: &'a str,
    pub old_key: &'a str,
    /// The old key's RFC 7638 thumbprint, its `kid` in the key directory.
    pub old_thumbprint: &'a str,
    pub new_key: &'a str,
    pub now_ms: i64,
    /// Until when the old key stays in the Web Bot Auth key directory.
    pub old_listed_until: i64,
}

/// Replaces the agent's key if it still holds `old_key`, ending its sessions (the epoch moves
/// on) and listing the old key in its key directory for the overlap; `event` and the listing
/// are written only if this request made the change. One batch, so one round trip.
pub async fn rotate_key(
    db: &dyn Db,
    change: &KeyChange<'_>,
    event: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<KeyOutcome, StoreError> {
    let mut batch = Batch::new();
    let rotated = batch.push(stmt!(
        "UPDATE agents SET public_key = ?1, session_epoch = session_epoch + 1, updated_at = ?2 \
         WHERE id = ?3 AND public_key = ?4",
        change.new_key,
        change.now_ms,
        change.agent_id,
        change.old_key
    ));
    batch.push_if(
        event.insert(stamp),
        holds_key(change.agent_id, change.new_key),
    );
    let retired = agent_keys::Retired {
        agent_id: change.agent_id,
        thumbprint: change.old_thumbprint,
        public_key: change.old_key,
        now_ms: change.now_ms,
        listed_until: change.old_listed_until,
    };
    batch.extend(agent_keys::retire(&retired, || {
        holds_key(change.agent_id, change.new_key)
    }));
    match batch.run(db).await {
        Ok(out) if out.changed(rotated) => Ok(KeyOutcome::Done),
        Ok(_) => Ok(KeyOutcome::KeyChanged),
        Err(e) if e.is_unique_violation() => Ok(KeyOutcome::KeyTaken),
        Err(e) => Err(e),
    }
}

/// "Agent `agent_id` holds `key` now", for statements that must follow a key change.
pub fn holds_key(agent_id: &str, key: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM agents WHERE id = ?1 AND public_key = ?2)",
        agent_id,
        key
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;

    use super::*;
    use crate::store::sqlite::SqliteDb;

    fn db() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        SqliteDb::in_memory(&dir).unwrap()
    }

    fn agent(id: &str, key: &str) -> AgentRow {
        AgentRow {
            id: id.to_owned(),
            name: format!("agent {id}"),
            description: None,
            public_key: key.to_owned(),
            session_epoch: 0,
            created_at: 1_000,
            updated_at: 1_000,
        }
    }

    fn audit_kinds(db: &SqliteDb) -> Vec<String> {
        block_on(db.run(stmt!(
            "SELECT type FROM audit_events ORDER BY created_at, type"
        )))
        .unwrap()
        .rows
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect()
    }

    fn register(db: &SqliteDb, a: &AgentRow) -> KeyOutcome {
        let events = [Event::by_agent("agent.registered", &a.id)];
        block_on(super::register(db, a, &events, &Stamp::system(1_000))).unwrap()
    }

    fn rotate(db: &SqliteDb, id: &str, old: &str, new: &str, now_ms: i64) -> KeyOutcome {
        let change = KeyChange {
            agent_id: id,
            old_key: old,
            old_thumbprint: old,
            new_key: new,
            now_ms,
            old_listed_until: now_ms + 1_000,
        };
        let event = Event::by_agent("agent.key_rotated", id).details(json!({ "at": now_ms }));
        block_on(rotate_key(db, &change, &event, &Stamp::system(now_ms))).unwrap()
    }

    #[test]
    fn a_registration_is_all_or_nothing() {
        let db = db();
        assert_eq!(register(&db, &agent("a1", "k1")), KeyOutcome::Done);
        assert_eq!(register(&db, &agent("a2", "k1")), KeyOutcome::KeyTaken);
        assert!(block_on(exists(&db, "a1")).unwrap());
        assert!(!block_on(exists(&db, "a2")).unwrap());
        assert!(block_on(key_in_use(&db, "k1")).unwrap());
        assert_eq!(
            audit_kinds(&db),
            ["agent.registered"],
            "the loser wrote nothing"
        );
    }

    /// The rotation's audit row is guarded by "the agent holds the new key": a rotation that
    /// lost a race to another (the old key is gone) or to a registration (the new key is
    /// taken) writes no audit row and changes nothing.
    #[test]
    fn only_the_rotation_that_happened_is_audited() {
        let db = db();
        register(&db, &agent("a1", "k1"));
        register(&db, &agent("b1", "kb"));
        assert_eq!(rotate(&db, "a1", "k1", "k2", 2_000), KeyOutcome::Done);
        assert_eq!(rotate(&db, "a1", "k1", "k3", 3_000), KeyOutcome::KeyChanged);
        assert_eq!(rotate(&db, "a1", "k2", "kb", 4_000), KeyOutcome::KeyTaken);
        let a = block_on(find(&db, "a1")).unwrap().unwrap();
        assert_eq!(
            (a.public_key.as_str(), a.session_epoch, a.updated_at),
            ("k2", 1, 2_000)
        );
        assert_eq!(
            audit_kinds(&db),
            ["agent.registered", "agent.registered", "agent.key_rotated"]
        );
    }

    #[test]
    fn a_session_lookup_sees_its_revocation() {
        let db = db();
        register(&db, &agent("a1", "k1"));
        let revoked = |hash: &str| {
            block_on(for_session(&db, "a1", hash))
                .unwrap()
                .map(|s| s.revoked)
        };
        assert_eq!(revoked("h1"), Some(false));
        block_on(markers::revoke_session(&db, "h1", 9_000)).unwrap();
        block_on(markers::revoke_session(&db, "h1", 9_000)).unwrap();
        assert_eq!(revoked("h1"), Some(true));
        assert_eq!(revoked("h2"), Some(false));
        assert!(block_on(for_session(&db, "nobody", "h1"))
            .unwrap()
            .is_none());
    }

    /// Both ways of spending the `jti`: in the batch (D1 markers) and decided before it (a
    /// replay store elsewhere). The audit row follows the first use of a known key only.
    #[test]
    fn a_log_in_batch_audits_only_the_first_use_of_a_known_key() {
        use crate::store::markers::{Mark, MarkerKind};
        let db = db();
        register(&db, &agent("a1", "k1"));
        let log_in = |key: &str, wanted: Option<&str>, jti: Jti| {
            let login = Login {
                public_key: key,
                wanted,
                audit_id: "row",
                details: "{}",
                stamp: Stamp::system(2_000),
            };
            let out = block_on(super::log_in(&db, &login, jti)).unwrap();
            block_on(db.run(stmt!("DELETE FROM audit_events WHERE id = 'row'"))).unwrap();
            (out.agent.map(|a| a.id), out.jti, out.audited)
        };
        let in_batch = |hash: &str| {
            let mark = Mark {
                kind: MarkerKind::Dpop,
                shard: "t",
                hash,
                expires_at_ms: 9_000,
                now_ms: 2_000,
            };
            Jti::InBatch(mark.statement(), mark.unused())
        };
        let a1 = Some("a1".to_owned());
        assert_eq!(
            log_in("k1", None, in_batch("h1")),
            (a1.clone(), Use::First, true)
        );
        assert_eq!(
            log_in("k1", None, in_batch("h1")),
            (a1.clone(), Use::Replay, false)
        );
        assert_eq!(
            log_in("k1", Some("b1"), in_batch("h2")),
            (a1.clone(), Use::First, false)
        );
        assert_eq!(
            log_in("kx", None, in_batch("h3")),
            (None, Use::First, false)
        );
        let decided = |u| Jti::Decided(u);
        assert_eq!(
            log_in("k1", None, decided(Use::First)),
            (a1.clone(), Use::First, true)
        );
        assert_eq!(
            log_in("k1", None, decided(Use::Replay)),
            (a1, Use::Replay, false)
        );
    }

    #[test]
    fn a_registration_challenge_counts_as_used_once_audited() {
        let db = db();
        let a = agent("a1", "k1");
        let events =
            [Event::by_agent("agent.registered", &a.id).details(json!({ "challenge_id": "c1" }))];
        block_on(super::register(&db, &a, &events, &Stamp::system(5_000))).unwrap();
        assert!(block_on(registered_through(&db, "c1", 4_000)).unwrap());
        assert!(!block_on(registered_through(&db, "c2", 4_000)).unwrap());
        assert!(
            !block_on(registered_through(&db, "c1", 6_000)).unwrap(),
            "only rows since the challenge's creation are scanned"
        );
    }
}
