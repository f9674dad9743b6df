//! Oversights: which overseer oversees which agent (the active one, the history), claims and declaims, client blocks.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.
//!
//! One home for the lookups several places wrote by hand: the agent's active oversight
//! ([`active`]), "does this overseer actively oversee that agent" ([`active_between`],
//! [`active_guard`]) and an overseer's agent count ([`count_active`]).

use serde::Deserialize;

use crate::domain::challenge::{self, Record};
use crate::domain::ids::canonical_uuid;
use crate::guard;
use crate::stmt;
use crate::store::audit::{Event, Stamp};
use crate::store::batch::{Batch, Guard};
use crate::store::clients::{ClientRow, OVERSEER_POOL};
use crate::store::flag;
use crate::store::overseers::OverseerKind;
use crate::store::{Constraint, Db, Namespace, Statement, StoreError};

// --- active oversights ---

/// The agent's active oversight (at most one, by a partial unique index).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ActiveOversight {
    pub overseer_id: String,
    pub kind: OverseerKind,
}

impl ActiveOversight {
    pub fn is_human(&self) -> bool {
        self.kind == OverseerKind::Human
    }
}

/// The agent's active oversight and its overseer's kind, if any.
pub async fn active(db: &dyn Db, agent_id: &str) -> Result<Option<ActiveOversight>, StoreError> {
    db.run(stmt!(
        "SELECT o.overseer_id, ov.kind FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    ))
    .await?
    .first()
}

/// One overseer's active oversight of one agent.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Overseen {
    #[serde(deserialize_with = "flag::deserialize")]
    pub marked_for_cancellation: bool,
}

/// `overseer_id`'s active oversight of `agent_id`, if it has one.
pub async fn active_between(
    db: &dyn Db,
    overseer_id: &str,
    agent_id: &str,
) -> Result<Option<Overseen>, StoreError> {
    db.run(active_between_statement(overseer_id, agent_id))
        .await?
        .first()
}

/// The SELECT of [`active_between`], for a batch of reads.
pub fn active_between_statement(overseer_id: &str, agent_id: &str) -> Statement {
    stmt!(
        "SELECT marked_for_cancellation FROM oversights \
         WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
        overseer_id,
        agent_id
    )
}

/// Holds while `overseer_id` actively oversees `agent_id`, inside a batch.
pub fn active_guard(overseer_id: &str, agent_id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1)",
        overseer_id,
        agent_id
    )
}

/// How many agents `overseer_id` actively oversees.
pub async fn count_active(db: &dyn Db, overseer_id: &str) -> Result<i64, StoreError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let count: Option<Count> = db
        .run(stmt!(
            "SELECT COUNT(*) AS n FROM oversights WHERE overseer_id = ?1 AND active = 1",
            overseer_id
        ))
        .await?
        .first()?;
    Ok(count.map_or(0, |c| c.n))
}

// --- claims and their end ---

/// A human overseer taking an agent, as the agent confirmed it.
#[derive(Clone, Copy, Debug)]
pub struct Claiming<'a> {
    /// The new oversight row's id (kept if the pair had one before).
    pub id: &'a str,
    pub overseer_id: &'a str,
    pub agent_id: &'a str,
    /// The shadow overseer whose active oversight the claim ends.
    pub replaces_shadow: Option<&'a str>,
    /// The overseer's tier limit; negative is unlimited.
    pub max_agents: i64,
}

/// How a claim's batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// Another oversight became active first (the partial unique index refused).
    AlreadyClaimed,
    /// A concurrent claim took the overseer's last slot (the capacity guard refused).
    TierLimitReached,
}

/// Activates the oversight in one batch with its audit row and `enforce` (the pool limits that
/// must commit with it). The partial unique index and the capacity guard decide races.
pub async fn complete_claim(
    db: &dyn Db,
    claim: &Claiming<'_>,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
    enforce: Vec<Statement>,
) -> Result<ClaimOutcome, StoreError> {
    let now = stamp.now_ms;
    let mut batch = Batch::new();
    if let Some(shadow_id) = claim.replaces_shadow {
        batch.push(stmt!(
            "UPDATE oversights SET active = 0, deactivated_reason = 'replaced_by_overseer', \
             deactivated_at = ?3, updated_at = ?3 WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            shadow_id,
            claim.agent_id,
            now
        ));
    }
    batch.push(stmt!(
        "INSERT INTO oversights (id, overseer_id, agent_id, active, marked_for_cancellation, activated_at, \
           created_at, updated_at) VALUES (?1, ?2, ?3, 1, 0, ?4, ?4, ?4) \
         ON CONFLICT (overseer_id, agent_id) DO UPDATE SET active = 1, deactivated_reason = NULL, \
           deactivated_at = NULL, marked_for_cancellation = 0, activated_at = ?4, updated_at = ?4",
        claim.id,
        claim.overseer_id,
        claim.agent_id,
        now
    ));
    if claim.max_agents >= 0 {
        // api.md 3.5: abort the whole batch if a concurrent claim filled the last slot.
        batch.push(stmt!(
            "INSERT INTO batch_guards (ok) SELECT CASE WHEN \
               (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?1 AND active = 1) <= ?2 THEN 1 ELSE 0 END",
            claim.overseer_id,
            claim.max_agents
        ));
        batch.push(stmt!("DELETE FROM batch_guards"));
    }
    batch.push(audit.insert(stamp));
    batch.extend(enforce);
    match batch.run(db).await {
        Ok(_) => Ok(ClaimOutcome::Claimed),
        Err(StoreError::Conflict(Constraint::Unique, _)) => Ok(ClaimOutcome::AlreadyClaimed),
        Err(StoreError::Conflict(Constraint::Check, _)) => Ok(ClaimOutcome::TierLimitReached),
        Err(e) => Err(e),
    }
}

/// Whether the claim `challenge_id` was completed: its `claim.completed` audit row, written in
/// the completing batch, exists. Only the overseer's rows since `since_ms` (the claim's
/// creation) are scanned (indexed).
pub async fn claim_completed(
    db: &dyn Db,
    overseer_id: &str,
    since_ms: i64,
    challenge_id: &str,
) -> Result<bool, StoreError> {
    let found = db
        .run(stmt!(
            "SELECT 1 AS done FROM audit_events WHERE overseer_id = ?1 AND created_at >= ?2 \
             AND type = 'claim.completed' AND json_extract(details, '$.challenge_id') = ?3 LIMIT 1",
            overseer_id,
            since_ms,
            challenge_id
        ))
        .await?;
    Ok(!found.rows.is_empty())
}

/// Why an oversight ended (`oversights.deactivated_reason`), for the ends a request causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deactivation {
    /// The overseer let the agent go.
    Declaimed,
    /// The agent ended its own oversight.
    RevokedByAgent,
}

impl Deactivation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Deactivation::Declaimed => "declaimed",
            Deactivation::RevokedByAgent => "revoked_by_agent",
        }
    }
}

/// Ends `overseer_id`'s active oversight of `agent_id` in one batch with its audit row and
/// `then` (enforcement that must commit with it). `false` when there was no such oversight;
/// then the audit row is not written either (it is guarded on the same pre-state).
pub async fn deactivate(
    db: &dyn Db,
    overseer_id: &str,
    agent_id: &str,
    reason: Deactivation,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
    then: Vec<Statement>,
) -> Result<bool, StoreError> {
    let mut batch = Batch::new();
    let [audited, end] = deactivation(overseer_id, agent_id, reason, audit, stamp);
    batch.push(audited);
    let ended = batch.push(end);
    batch.extend(then);
    Ok(batch.run(db).await?.changed(ended))
}

/// The two statements of [`deactivate`] for a caller's own batch (an account deletion ends
/// every oversight of the account in one): the guarded audit row, then the UPDATE.
pub fn deactivation(
    overseer_id: &str,
    agent_id: &str,
    reason: Deactivation,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> [Statement; 2] {
    [
        audit
            .insert(stamp)
            .only_if(active_guard(overseer_id, agent_id)),
        stmt!(
            "UPDATE oversights SET active = 0, deactivated_reason = ?3, deactivated_at = ?4, updated_at = ?4 \
             WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            overseer_id,
            agent_id,
            reason.as_str(),
            stamp.now_ms
        ),
    ]
}

/// The agents `overseer_id` actively oversees (rows with `agent_id`).
pub fn active_agents(overseer_id: &str) -> Statement {
    stmt!(
        "SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1 ORDER BY agent_id",
        overseer_id
    )
}

// --- shadow claims ---

/// Records the agent's confirmation of the shadow claim `challenge_id` (its audit row), once:
/// a second confirmation since `since_ms` (the claim's creation) writes nothing.
pub async fn confirm_shadow_claim(
    db: &dyn Db,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
    since_ms: i64,
    challenge_id: &str,
) -> Result<(), StoreError> {
    let once = guard!(
        "NOT EXISTS (SELECT 1 FROM audit_events WHERE created_at >= ?1 \
         AND type = 'shadow_claim.confirmed' AND json_extract(details, '$.challenge_id') = ?2)",
        since_ms,
        challenge_id
    );
    db.run(audit.insert(stamp).only_if(once)).await.map(drop)
}

/// What D1 knows about a shadow claim; KV's record of it may be stale.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ShadowClaimFacts {
    pub agent_name: Option<String>,
    /// A payment for the claim was applied.
    #[serde(deserialize_with = "flag::deserialize")]
    pub paid: bool,
    /// When the agent confirmed (the first confirmation's audit row).
    pub confirmed_at: Option<i64>,
}

/// The facts of the shadow claim `challenge_id` of `agent_id`, created at `since_ms`.
pub async fn shadow_claim_facts(
    db: &dyn Db,
    agent_id: &str,
    challenge_id: &str,
    since_ms: i64,
) -> Result<ShadowClaimFacts, StoreError> {
    let facts = db
        .run(stmt!(
            "SELECT (SELECT name FROM agents WHERE id = ?1) AS agent_name, \
                    EXISTS (SELECT 1 FROM shadow_payments WHERE challenge_id = ?2 AND applied = 1) AS paid, \
                    (SELECT MIN(created_at) FROM audit_events WHERE created_at >= ?3 \
                       AND type = 'shadow_claim.confirmed' \
                       AND json_extract(details, '$.challenge_id') = ?2) AS confirmed_at",
            agent_id,
            challenge_id,
            since_ms
        ))
        .await?
        .first()?;
    Ok(facts.unwrap_or_default())
}

// --- an overseer's agents and clients ---

/// An actively overseen agent with this month's counts.
#[derive(Clone, Debug, Deserialize)]
pub struct OverseenAgentRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub public_key: String,
    pub created_at: i64,
    pub claimed_at: i64,
    #[serde(deserialize_with = "flag::deserialize")]
    pub marked_for_cancellation: bool,
    /// Approved authorizations in `[start, end)`.
    pub oauth_count: i64,
    /// Enabled clients the agent registered.
    pub clients_registered: i64,
}

/// The agents `overseer_id` actively oversees, most recently claimed first, with approved
/// authorizations counted in `[start_ms, end_ms)`.
pub async fn overseen_agents(
    db: &dyn Db,
    overseer_id: &str,
    (start_ms, end_ms): (i64, i64),
) -> Result<Vec<OverseenAgentRow>, StoreError> {
    db.run(overseen_agents_statement(overseer_id, (start_ms, end_ms)))
        .await?
        .decode()
}

/// The statement of [`overseen_agents`], for a caller's batch (a session check with its reads).
pub fn overseen_agents_statement(
    overseer_id: &str,
    (start_ms, end_ms): (i64, i64),
) -> crate::store::Statement {
    stmt!(
        "SELECT a.id, a.name, a.description, a.public_key, a.created_at, \
                o.activated_at AS claimed_at, o.marked_for_cancellation, \
                (SELECT COUNT(*) FROM oauth_requests r WHERE r.agent_id = a.id AND r.status = 'approved' \
                   AND r.created_at >= ?2 AND r.created_at < ?3) AS oauth_count, \
                (SELECT COUNT(*) FROM oauth_clients c WHERE c.owner_type = 'agent' AND c.owner_id = a.id \
                   AND c.disabled = 0) AS clients_registered \
         FROM oversights o JOIN agents a ON a.id = o.agent_id \
         WHERE o.overseer_id = ?1 AND o.active = 1 ORDER BY o.activated_at DESC, a.id",
        overseer_id,
        start_ms,
        end_ms
    )
}

/// The clients of `overseer_id`'s pool (api.md 5.8), newest first.
pub async fn pool_clients(db: &dyn Db, overseer_id: &str) -> Result<Vec<ClientRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM oauth_clients c WHERE {OVERSEER_POOL} ORDER BY c.created_at DESC, c.id",
        ClientRow::C_COLUMNS
    );
    db.run(Statement::new(sql, vec![overseer_id.into()]))
        .await?
        .decode()
}

// --- client blocks ---

/// One overseer's block of one client for one agent.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    pub overseer_id: &'a str,
    pub agent_id: &'a str,
    pub client_id: &'a str,
}

/// How a block request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    Blocked,
    /// The overseer already blocks this client for this agent; nothing was written.
    AlreadyBlocked,
}

/// Blocks the client for the agent and revokes the client's live grants for the agent, with
/// the audit row, in one batch.
pub async fn block(
    db: &dyn Db,
    block: &Block<'_>,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<BlockOutcome, StoreError> {
    let mut batch = Batch::new();
    batch.push(stmt!(
        "INSERT INTO client_blocks (agent_id, client_id, overseer_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        block.agent_id,
        block.client_id,
        block.overseer_id,
        stamp.now_ms
    ));
    batch.push(super::grants::revoke_for_block(
        block.client_id,
        block.agent_id,
        stamp.now_ms,
    ));
    batch.push(audit.insert(stamp));
    match batch.run(db).await {
        Ok(_) => Ok(BlockOutcome::Blocked),
        // Only the overseer's own block of this client for this agent conflicts.
        Err(e) if e.is_unique_violation() => Ok(BlockOutcome::AlreadyBlocked),
        Err(e) => Err(e),
    }
}

/// Lifts the block with its audit row; `false` (and nothing written) when there was none.
/// Grants revoked by the block stay revoked.
pub async fn unblock(
    db: &dyn Db,
    block: &Block<'_>,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<bool, StoreError> {
    let exists = guard!(
        "EXISTS (SELECT 1 FROM client_blocks WHERE overseer_id = ?1 AND agent_id = ?2 AND client_id = ?3)",
        block.overseer_id,
        block.agent_id,
        block.client_id
    );
    let mut batch = Batch::new();
    batch.push_if(audit.insert(stamp), exists);
    let deleted = batch.push(stmt!(
        "DELETE FROM client_blocks WHERE overseer_id = ?1 AND agent_id = ?2 AND client_id = ?3",
        block.overseer_id,
        block.agent_id,
        block.client_id
    ));
    Ok(batch.run(db).await?.changed(deleted))
}

/// A block as its overseer lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct BlockRow {
    pub client_id: String,
    /// `None` if the client was deleted meanwhile.
    pub client_name: Option<String>,
    pub created_at: i64,
}

/// `overseer_id`'s own blocks for `agent_id`, newest first.
pub async fn blocks(
    db: &dyn Db,
    overseer_id: &str,
    agent_id: &str,
) -> Result<Vec<BlockRow>, StoreError> {
    db.run(stmt!(
        "SELECT b.client_id, c.name AS client_name, b.created_at FROM client_blocks b \
         LEFT JOIN oauth_clients c ON c.id = b.client_id WHERE b.overseer_id = ?1 AND b.agent_id = ?2 \
         ORDER BY b.created_at DESC",
        overseer_id,
        agent_id
    ))
    .await?
    .decode()
}

// --- cancellation marks ---

/// Sets the cancellation mark of `overseer_id`'s active oversight of `agent_id`, with its
/// audit row; `false` (and nothing written) when the oversight is no longer active.
pub async fn mark_agent(
    db: &dyn Db,
    overseer_id: &str,
    agent_id: &str,
    marked: bool,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<bool, StoreError> {
    let mut batch = Batch::new();
    let updated = batch.push(stmt!(
        "UPDATE oversights SET marked_for_cancellation = ?3, updated_at = ?4 \
         WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
        overseer_id,
        agent_id,
        marked,
        stamp.now_ms
    ));
    batch.push_if(audit.insert(stamp), active_guard(overseer_id, agent_id));
    Ok(batch.run(db).await?.changed(updated))
}

/// Sets the cancellation mark of a client of the caller's pool, with its audit row.
pub async fn mark_client(
    db: &dyn Db,
    client_id: &str,
    marked: bool,
    audit: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    batch.push(stmt!(
        "UPDATE oauth_clients SET marked_for_cancellation = ?2, updated_at = ?3 WHERE id = ?1",
        client_id,
        marked,
        stamp.now_ms
    ));
    batch.push(audit.insert(stamp));
    batch.run(db).await.map(drop)
}

// --- claim records (KV) ---

/// A claim or shadow-claim record by its challenge id (any spelling), expired or not: the
/// status endpoints report expiry themselves. Unknown and unreadable ids are `None`.
pub async fn claim_record(
    kv: &dyn crate::store::Kv,
    raw_id: &str,
) -> Result<Option<Record>, StoreError> {
    let Some(id) = canonical_uuid(raw_id) else {
        return Ok(None);
    };
    let value = kv
        .get(Namespace::Challenges, &challenge::claim_key(&id))
        .await?;
    Ok(value
        .and_then(|v| serde_json::from_str::<Record>(&v).ok())
        .filter(|r| match r {
            Record::Claim(c) => c.challenge_id == id,
            Record::Shadow(c) => c.challenge_id == id,
            _ => false,
        }))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;

    use super::*;
    use crate::store::audit::{Actor, Subject};
    use crate::store::sqlite::SqliteDb;

    const HUMAN: &str = "11111111-1111-4111-8111-111111111111";
    const OTHER: &str = "22222222-2222-4222-8222-222222222222";
    const SHADOW: &str = "33333333-3333-8333-8333-333333333333";
    const AGENT: &str = "44444444-4444-4444-8444-444444444444";
    const CLIENT: &str = "55555555-5555-4555-8555-555555555555";
    const NOW: i64 = 1_700_000_000_000;

    fn stamp() -> Stamp<'static> {
        Stamp::system(NOW)
    }

    fn run(db: &SqliteDb, stmt: Statement) -> crate::store::Outcome {
        block_on(db.run(stmt)).unwrap()
    }

    /// Two human overseers, a shadow overseer sponsoring the agent, an agent and a client.
    fn world() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        run(&db, stmt!(
            "INSERT INTO agents (id, name, public_key, created_at, updated_at) VALUES (?1, 'A', 'pk', ?2, ?2)",
            AGENT,
            NOW
        ));
        for (id, email) in [(HUMAN, "h@example.test"), (OTHER, "o@example.test")] {
            run(&db, stmt!(
                "INSERT INTO overseers (id, kind, name, email, password_hash, created_at, updated_at) \
                 VALUES (?1, 'human', 'H', ?2, 'x', ?3, ?3)",
                id,
                email,
                NOW
            ));
        }
        run(
            &db,
            stmt!(
                "INSERT INTO overseers (id, kind, shadow_agent_id, created_at, updated_at) \
             VALUES (?1, 'shadow', ?2, ?3, ?3)",
                SHADOW,
                AGENT,
                NOW
            ),
        );
        run(&db, stmt!(
            "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, updated_at) \
             VALUES ('o-shadow', ?1, ?2, 1, ?3, ?3, ?3)",
            SHADOW,
            AGENT,
            NOW
        ));
        run(&db, stmt!(
            "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, public_key, \
             key_thumbprint, created_at, updated_at) VALUES (?1, 'agent', ?2, 'C', '[]', 'k', 't', ?3, ?3)",
            CLIENT,
            AGENT,
            NOW
        ));
        db
    }

    fn audits(db: &SqliteDb, kind: &str) -> i64 {
        let rows = run(
            db,
            stmt!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE type = ?1",
                kind
            ),
        );
        rows.rows[0]["n"].as_i64().unwrap()
    }

    fn claim<'a>(overseer_id: &'a str, replaces: Option<&'a str>, max: i64) -> Claiming<'a> {
        Claiming {
            id: overseer_id,
            overseer_id,
            agent_id: AGENT,
            replaces_shadow: replaces,
            max_agents: max,
        }
    }

    fn claimed(overseer_id: &str) -> Event<'_> {
        Event::by_agent("claim.completed", AGENT).overseer(overseer_id)
    }

    #[test]
    fn a_claim_replaces_the_shadow_and_names_each_refusal() {
        let db = world();
        let active = |db: &SqliteDb| block_on(active(db, AGENT)).unwrap().unwrap();
        assert_eq!(active(&db).kind, OverseerKind::Shadow);
        let full = claim(HUMAN, Some(SHADOW), 0);
        let out = block_on(complete_claim(
            &db,
            &full,
            &claimed(HUMAN),
            &stamp(),
            vec![],
        ));
        assert_eq!(out.unwrap(), ClaimOutcome::TierLimitReached);
        assert_eq!(
            active(&db).overseer_id,
            SHADOW,
            "a refused batch ends nothing"
        );
        assert_eq!(audits(&db, "claim.completed"), 0);

        let ok = claim(HUMAN, Some(SHADOW), 1);
        let out = block_on(complete_claim(&db, &ok, &claimed(HUMAN), &stamp(), vec![]));
        assert_eq!(out.unwrap(), ClaimOutcome::Claimed);
        assert_eq!(
            active(&db),
            ActiveOversight {
                overseer_id: HUMAN.into(),
                kind: OverseerKind::Human
            }
        );
        assert!(active(&db).is_human());

        let late = claim(OTHER, None, -1);
        let out = block_on(complete_claim(
            &db,
            &late,
            &claimed(OTHER),
            &stamp(),
            vec![],
        ));
        assert_eq!(out.unwrap(), ClaimOutcome::AlreadyClaimed);
        assert_eq!(audits(&db, "claim.completed"), 1);
        assert_eq!(block_on(count_active(&db, HUMAN)).unwrap(), 1);
    }

    #[test]
    fn an_oversight_ends_once_with_one_audit_row() {
        let db = world();
        let ev = Event::by_agent("oversight.revoked_by_agent", AGENT).overseer(SHADOW);
        let end = || {
            block_on(deactivate(
                &db,
                SHADOW,
                AGENT,
                Deactivation::RevokedByAgent,
                &ev,
                &stamp(),
                vec![],
            ))
            .unwrap()
        };
        assert!(end());
        assert!(!end(), "the second request finds nothing to end");
        assert_eq!(audits(&db, "oversight.revoked_by_agent"), 1);
        assert_eq!(block_on(active(&db, AGENT)).unwrap(), None);
    }

    /// A mark racing the end of its oversight: the UPDATE matches nothing, and the audit row,
    /// guarded on the same pre-state, is not written either.
    #[test]
    fn a_mark_on_an_ended_oversight_writes_nothing() {
        let db = world();
        let ev = Event::new("oversight.marked_for_cancellation", Actor::Overseer(SHADOW))
            .subject(Subject::Agent(AGENT))
            .details(json!({"marked": true}));
        assert!(block_on(mark_agent(&db, SHADOW, AGENT, true, &ev, &stamp())).unwrap());
        let seen = block_on(active_between(&db, SHADOW, AGENT)).unwrap();
        assert_eq!(
            seen,
            Some(Overseen {
                marked_for_cancellation: true
            })
        );
        run(&db, stmt!("UPDATE oversights SET active = 0"));
        assert!(!block_on(mark_agent(&db, SHADOW, AGENT, false, &ev, &stamp())).unwrap());
        assert_eq!(audits(&db, "oversight.marked_for_cancellation"), 1);
    }

    #[test]
    fn a_block_conflicts_once_and_an_unblock_without_one_writes_nothing() {
        let db = world();
        let b = Block {
            overseer_id: SHADOW,
            agent_id: AGENT,
            client_id: CLIENT,
        };
        let ev = |kind| Event::new(kind, Actor::Overseer(SHADOW)).subject(Subject::Client(CLIENT));
        let blocked = ev("client.blocked");
        let unblocked = ev("client.unblocked");
        let block_once = || block_on(block(&db, &b, &blocked, &stamp())).unwrap();
        assert_eq!(block_once(), BlockOutcome::Blocked);
        assert_eq!(block_once(), BlockOutcome::AlreadyBlocked);
        assert_eq!(audits(&db, "client.blocked"), 1);
        assert_eq!(block_on(blocks(&db, SHADOW, AGENT)).unwrap().len(), 1);
        assert!(block_on(unblock(&db, &b, &unblocked, &stamp())).unwrap());
        assert!(!block_on(unblock(&db, &b, &unblocked, &stamp())).unwrap());
        assert_eq!(audits(&db, "client.unblocked"), 1);
    }

    #[test]
    fn a_shadow_confirmation_is_recorded_once() {
        let db = world();
        let ev = Event::new("shadow_claim.confirmed", Actor::Agent(AGENT))
            .subject(Subject::Agent(AGENT))
            .details(json!({"challenge_id": "c1"}));
        for at in [NOW, NOW + 5] {
            let s = Stamp::system(at);
            block_on(confirm_shadow_claim(&db, &ev, &s, NOW - 1, "c1")).unwrap();
        }
        assert_eq!(audits(&db, "shadow_claim.confirmed"), 1);
        let facts = block_on(shadow_claim_facts(&db, AGENT, "c1", NOW - 1)).unwrap();
        assert_eq!(
            facts,
            ShadowClaimFacts {
                agent_name: Some("A".into()),
                paid: false,
                confirmed_at: Some(NOW)
            }
        );
    }
}

/// An agent's active overseer as the agent may see it (never the e-mail), with what decides
/// the tier it is shown: the overseer's current subscription, or a shadow sponsor's paid
/// validity.
#[derive(serde::Deserialize)]
pub struct AgentsOverseer {
    pub id: String,
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub is_shadow: bool,
    pub name: Option<String>,
    pub activated_at: i64,
    pub sub_status: Option<String>,
    pub sub_tier: Option<String>,
    /// The end of the latest applied shadow payment (shadow overseers only).
    pub shadow_valid_until: Option<i64>,
}

/// The active overseer of `agent_id`, if any.
pub async fn overseer_of(
    db: &dyn super::Db,
    agent_id: &str,
) -> Result<Option<AgentsOverseer>, super::StoreError> {
    db.run(overseer_of_statement(agent_id)).await?.first()
}

/// The statement of [`overseer_of`], for a caller's batch (a session check with its reads).
pub fn overseer_of_statement(agent_id: &str) -> crate::store::Statement {
    crate::stmt!(
        "SELECT ov.id, ov.kind = 'shadow' AS is_shadow, ov.name, o.activated_at, \
                s.status AS sub_status, s.tier AS sub_tier, \
                (SELECT MAX(valid_until) FROM shadow_payments sp \
                  WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
         FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    )
}
/// Whether the agent revoked overseer `overseer_id` at or after `since_ms`.
pub async fn revoked_by_agent_since(
    db: &dyn Db,
    overseer_id: &str,
    agent_id: &str,
    since_ms: i64,
) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 0 \
             AND deactivated_reason = 'revoked_by_agent' AND deactivated_at >= ?3",
            overseer_id,
            agent_id,
            since_ms
        ))
        .await?
        .rows
        .is_empty())
}

/// Activates (or reactivates) a shadow sponsorship, unless the agent revoked it at or after
/// `issued_at_ms` — re-checked when the statement runs, against a concurrent revocation.
pub fn activate_shadow(
    id: &str,
    overseer_id: &str,
    agent_id: &str,
    now_ms: i64,
    issued_at_ms: i64,
) -> Statement {
    stmt!(
        "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4) \
         ON CONFLICT(overseer_id, agent_id) DO UPDATE SET active = 1, deactivated_reason = NULL, \
           deactivated_at = NULL, \
           activated_at = CASE WHEN oversights.active = 1 THEN oversights.activated_at ELSE excluded.activated_at END, \
           updated_at = excluded.updated_at \
         WHERE NOT (oversights.active = 0 AND oversights.deactivated_reason = 'revoked_by_agent' \
           AND oversights.deactivated_at >= ?5)",
        id,
        overseer_id,
        agent_id,
        now_ms,
        issued_at_ms
    )
}
// --- blocks as the OAuth endpoints check them ---

/// The SQL condition "the client is blocked for the agent by its active overseer", over the
/// given column names or placeholders (authorize, token, introspection, userinfo).
pub fn blocked(client: &str, agent: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM client_blocks b JOIN oversights o \
         ON o.overseer_id = b.overseer_id AND o.agent_id = b.agent_id AND o.active = 1 \
         WHERE b.agent_id = {agent} AND b.client_id = {client})"
    )
}

/// Whether the agent's active overseer has blocked the client.
pub async fn is_blocked(
    db: &dyn super::Db,
    client_id: &str,
    agent_id: &str,
) -> Result<bool, super::StoreError> {
    let found = db
        .run(crate::stmt!(
            format!("SELECT 1 AS one WHERE {}", blocked("?1", "?2")),
            client_id,
            agent_id
        ))
        .await?;
    Ok(!found.rows.is_empty())
}
