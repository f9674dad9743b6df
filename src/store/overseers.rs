//! Overseers: accounts, password hashes, profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by identity ---

/// A human overseer with whether the session being checked was revoked.
#[derive(serde::Deserialize)]
pub struct SessionOverseer {
    #[serde(flatten)]
    pub overseer: crate::domain::overseer::OverseerRow,
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub revoked: bool,
}

/// The human overseer `id` and whether the session `token_hash` was revoked, in one round
/// trip (shadow overseers have no sessions).
pub async fn for_session(
    db: &dyn super::Db,
    id: &str,
    token_hash: &str,
) -> Result<Option<SessionOverseer>, super::StoreError> {
    db.run(crate::stmt!(
        format!(
            "SELECT {}, {} FROM overseers WHERE id = ?1 AND kind = 'human'",
            crate::domain::overseer::OverseerRow::COLUMNS,
            super::markers::revoked_column(2)
        ),
        id,
        token_hash
    ))
    .await?
    .first()
}
// --- used by billing ---

use serde::Deserialize;

use super::{Db, Statement, StoreError};
use crate::stmt;

/// `overseers.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverseerKind {
    Human,
    Shadow,
}

/// Overseer `id`'s current subscription: `None` when the overseer does not exist, `Some(None)`
/// when it has none.
pub async fn current_subscription_id(
    db: &dyn Db,
    id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        current_subscription_id: Option<String>,
    }
    Ok(db
        .run(stmt!(
            "SELECT current_subscription_id FROM overseers WHERE id = ?1",
            id
        ))
        .await?
        .first::<Row>()?
        .map(|r| r.current_subscription_id))
}

/// Whether `id` is an existing human overseer.
pub async fn is_human(db: &dyn Db, id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human'",
            id
        ))
        .await?
        .rows
        .is_empty())
}

/// Whether `id` is a human overseer without a Paddle customer yet.
pub async fn lacks_customer(db: &dyn Db, id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human' AND paddle_customer_id IS NULL",
            id
        ))
        .await?
        .rows
        .is_empty())
}

/// Makes `subscription_id` the overseer's current subscription.
pub fn set_current_subscription(id: &str, subscription_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET current_subscription_id = ?2, updated_at = ?3 WHERE id = ?1",
        id,
        subscription_id,
        now_ms
    )
}

/// Stores the overseer's Paddle customer id unless it already has one.
pub fn set_customer_if_unset(id: &str, customer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET paddle_customer_id = ?2, updated_at = ?3 \
         WHERE id = ?1 AND paddle_customer_id IS NULL",
        id,
        customer_id,
        now_ms
    )
}

/// Creates the shadow overseer of an agent on its first payment (nothing if it exists).
pub fn insert_shadow(id: &str, agent_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO overseers (id, kind, shadow_agent_id, session_epoch, created_at, updated_at) \
         VALUES (?1, 'shadow', ?2, 0, ?3, ?3) ON CONFLICT(id) DO NOTHING",
        id,
        agent_id,
        now_ms
    )
}

/// An existing agent and the id of its shadow overseer, if one was created.
#[derive(Debug, Deserialize)]
pub struct AgentShadow {
    pub shadow_id: Option<String>,
}

/// `None` when the agent does not exist.
pub async fn shadow_of_agent(
    db: &dyn Db,
    agent_id: &str,
) -> Result<Option<AgentShadow>, StoreError> {
    db.run(stmt!(
        "SELECT (SELECT id FROM overseers WHERE shadow_agent_id = a.id LIMIT 1) AS shadow_id \
         FROM agents a WHERE a.id = ?1",
        agent_id
    ))
    .await?
    .first()
}
