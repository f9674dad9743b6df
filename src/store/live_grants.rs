//! An agent's live grants as its overseer and the agent itself see them, and their revocation
//! one by one.
//!
//! A grant is *live* while its refresh family is alive: not revoked, and holding a refresh
//! token that was neither rotated nor has expired. Revoking it sets `revoked_at`, which every
//! access-token check reads from D1 (`grants::access_state_statement`), so its access tokens stop
//! working at userinfo and introspection at the next request; nothing about a grant is cached.

use serde::Deserialize;

use super::audit::{Event, Stamp};
use super::batch::{Batch, Guard};
use super::grants::RevokedBecause;
use super::{Db, Statement, StoreError};
use crate::stmt;

/// The SQL condition "grant `g` is live at `now`", over the given column name or placeholder.
fn live(grant: &str, now: &str) -> String {
    format!(
        "{grant}.revoked_at IS NULL AND EXISTS (SELECT 1 FROM refresh_tokens r \
         WHERE r.grant_id = {grant}.id AND r.replaced_by IS NULL AND r.expires_at > {now})"
    )
}

/// Who gave the consent a grant stands on (`oauth_grants.consented_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentedBy {
    /// The agent, at the authorization endpoint (session or DPoP proof).
    Agent,
    /// The agent's overseer on its behalf, in the browser.
    Overseer,
}

impl ConsentedBy {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsentedBy::Agent => "agent",
            ConsentedBy::Overseer => "overseer",
        }
    }
}

/// One live grant, as listed.
#[derive(Clone, Debug, Deserialize)]
pub struct LiveGrantRow {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    /// When the agent approved the request the grant was redeemed from (Unix ms).
    pub consented_at: i64,
    pub consented_by: ConsentedBy,
    /// The grant's last token issuance: the code exchange or the latest refresh (Unix ms).
    pub last_used_at: i64,
}

/// Keyset position: rows strictly before `(consented_at, id)` in newest-first order.
#[derive(Clone, Copy, Debug)]
pub struct Before<'a> {
    pub consented_at: i64,
    pub id: &'a str,
}

/// Up to `limit` live grants of `agent_id` at `now_ms`, newest consent first, after `before`.
pub fn list_statement(
    agent_id: &str,
    now_ms: i64,
    before: Option<Before<'_>>,
    limit: i64,
) -> Statement {
    let (before_ms, before_id) = before.map_or((0, ""), |b| (b.consented_at, b.id));
    stmt!(
        format!(
            "SELECT id, client_id, client_name, scope, consented_at, consented_by, last_used_at \
             FROM (SELECT g.id, g.client_id, c.name AS client_name, g.scope, \
                     COALESCE(g.consented_at, g.created_at) AS consented_at, g.consented_by, \
                     g.last_used_at \
                   FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id \
                   WHERE g.agent_id = ?1 AND {}) AS l \
             WHERE ?3 = 0 OR consented_at < ?4 OR (consented_at = ?4 AND id < ?5) \
             ORDER BY consented_at DESC, id DESC LIMIT ?6",
            live("g", "?2")
        ),
        agent_id,
        now_ms,
        before.is_some(),
        before_ms,
        before_id,
        limit
    )
}

/// The live grant `grant_id` of `agent_id` at `now_ms` (at most one row), for a batch of reads.
pub fn find_statement(grant_id: &str, agent_id: &str, now_ms: i64) -> Statement {
    stmt!(
        format!(
            "SELECT g.id, g.client_id, c.name AS client_name, g.scope, \
               COALESCE(g.consented_at, g.created_at) AS consented_at, g.consented_by, \
               g.last_used_at \
             FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id \
             WHERE g.id = ?1 AND g.agent_id = ?2 AND {}",
            live("g", "?3")
        ),
        grant_id,
        agent_id,
        now_ms
    )
}

/// One revocation from the live-grants list.
pub struct Revocation<'a> {
    pub grant_id: &'a str,
    pub agent_id: &'a str,
    pub because: RevokedBecause,
    /// A further condition the revocation needs at the moment of writing (the overseer's
    /// oversight of the agent still active).
    pub only_while: Option<Guard>,
}

/// Revokes the grant with its audit row, both only if it is still live (and `only_while`
/// holds) inside the batch; `false`, and nothing written, otherwise.
pub async fn revoke(
    db: &dyn Db,
    r: &Revocation<'_>,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<bool, StoreError> {
    let now = stamp.now_ms;
    let still = || {
        let live = Guard::new(
            format!(
                "EXISTS (SELECT 1 FROM oauth_grants g WHERE g.id = ?1 AND g.agent_id = ?2 AND {})",
                live("g", "?3")
            ),
            vec![r.grant_id.into(), r.agent_id.into(), now.into()],
        );
        match &r.only_while {
            Some(g) => live.and(g.clone()),
            None => live,
        }
    };
    let mut batch = Batch::new();
    batch.push_if(audit.insert(stamp), still());
    let revoked = batch.push(
        stmt!(
            "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1",
            r.grant_id,
            now,
            r.because.as_str()
        )
        .and_if(still()),
    );
    Ok(batch.run(db).await?.changed(revoked))
}

/// The revocation's guards on SQLite with the real migrations: the batch itself decides, so a
/// revocation that lost a race (the grant already ended, the oversight gone) writes nothing.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::store::audit::Actor;
    use crate::store::sqlite::SqliteDb;

    const NOW: i64 = 1_700_000_000_000;

    /// Agent `a1`, client `c1`, grant `g1` with a live refresh token, overseer `o1` overseeing `a1`.
    fn db() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        for sql in [
            "INSERT INTO agents (id, name, public_key, created_at, updated_at) VALUES ('a1', 'A', 'k', 0, 0)",
            "INSERT INTO overseers (id, kind, email, name, password_hash, created_at, updated_at) \
             VALUES ('o1', 'human', 'o@example.test', 'O', 'x', 0, 0)",
            "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, \
               updated_at) VALUES ('v1', 'o1', 'a1', 1, 0, 0, 0)",
            "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, public_key, \
               key_thumbprint, created_at, updated_at) \
             VALUES ('c1', 'agent', 'a1', 'C', '[]', 'k', 'j', 0, 0)",
            "INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at) \
             VALUES ('g1', 'c1', 'a1', 'id', 0, 0)",
            "INSERT INTO refresh_tokens (id, grant_id, token_hash, issued_at, expires_at) \
             VALUES ('r1', 'g1', 'h', 0, 9000000000000)",
        ] {
            block_on(db.run(stmt!(sql))).unwrap();
        }
        db
    }

    fn revoked_events(db: &SqliteDb) -> i64 {
        let out = block_on(db.run(stmt!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'oauth.grant_revoked'"
        )))
        .unwrap();
        out.rows[0]["n"].as_i64().unwrap()
    }

    fn revocation(only_while: Option<Guard>) -> Revocation<'static> {
        Revocation {
            grant_id: "g1",
            agent_id: "a1",
            because: RevokedBecause::RevokedByOverseer,
            only_while,
        }
    }

    fn run(db: &SqliteDb, r: &Revocation<'_>) -> bool {
        let ev = Event::new("oauth.grant_revoked", Actor::Overseer("o1")).agent("a1");
        block_on(revoke(db, r, &ev, &Stamp::system(NOW))).unwrap()
    }

    #[test]
    fn a_grant_is_revoked_once_with_one_audit_row() {
        let db = db();
        assert!(run(&db, &revocation(None)));
        assert!(!run(&db, &revocation(None)), "no longer live");
        assert_eq!(revoked_events(&db), 1);
        let live = block_on(db.run(list_statement("a1", NOW, None, 10))).unwrap();
        assert!(live.rows.is_empty());
    }

    #[test]
    fn an_ended_oversight_revokes_nothing() {
        let db = db();
        block_on(db.run(stmt!("UPDATE oversights SET active = 0"))).unwrap();
        let gone = crate::store::oversights::active_guard("o1", "a1");
        assert!(!run(&db, &revocation(Some(gone))));
        assert_eq!(revoked_events(&db), 0);
        let live = block_on(db.run(list_statement("a1", NOW, None, 10))).unwrap();
        assert_eq!(live.rows.len(), 1);
    }

    #[test]
    fn an_expired_or_rotated_family_is_not_live() {
        let db = db();
        let listed = |now| {
            block_on(db.run(list_statement("a1", now, None, 10)))
                .unwrap()
                .rows
                .len()
        };
        assert_eq!(listed(NOW), 1);
        assert_eq!(listed(9_000_000_000_000), 0, "expired");
        block_on(db.run(stmt!(
            "UPDATE refresh_tokens SET replaced_by = 'r2', rotated_at = 1"
        )))
        .unwrap();
        assert_eq!(listed(NOW), 0, "rotated, with no successor");
        assert!(!run(&db, &revocation(None)));
    }
}
