//! Agents: registration, keys (current and rotated), status and profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::audit::{Event, Stamp};
use super::batch::{Batch, Guard};
use super::{markers, Db, StoreError};
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
    db.run(stmt!(
        format!(
            "SELECT {COLUMNS}, {} FROM agents WHERE id = ?1",
            markers::revoked_column(2)
        ),
        id,
        token_hash
    ))
    .await?
    .first()
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
    pub new_key: &'a str,
    pub now_ms: i64,
}

/// Replaces the agent's key if it still holds `old_key`, ending its sessions (the epoch moves
/// on); `event` is written only if this request made the change.
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
            new_key: new,
            now_ms,
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
