//! Oversights: which overseer oversees which agent (the active one, the history), claims and declaims, client blocks.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by billing ---

use serde::Deserialize;

use super::overseers::OverseerKind;
use super::{Db, Statement, StoreError};
use crate::stmt;

/// The overseer actively overseeing an agent.
#[derive(Clone, Debug, Deserialize)]
pub struct ActiveOverseer {
    pub overseer_id: String,
    pub kind: OverseerKind,
}

pub async fn active_overseer(
    db: &dyn Db,
    agent_id: &str,
) -> Result<Option<ActiveOverseer>, StoreError> {
    db.run(stmt!(
        "SELECT o.overseer_id, ov.kind FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    ))
    .await?
    .first()
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
