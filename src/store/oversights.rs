//! Oversights: which overseer oversees which agent (the active one, the history), claims and declaims, client blocks.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by identity ---

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
    db.run(crate::stmt!(
        "SELECT ov.id, ov.kind = 'shadow' AS is_shadow, ov.name, o.activated_at, \
                s.status AS sub_status, s.tier AS sub_tier, \
                (SELECT MAX(valid_until) FROM shadow_payments sp \
                  WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
         FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    ))
    .await?
    .first()
}
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
