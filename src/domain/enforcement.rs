//! Tier limit enforcement over client pools (`api.md` 5.8) and the oversight suspensions of
//! pauses and cancellations (5.13): which limits apply and which set-based statements
//! (`store::pools`) enforce them. The statements go into the batch that changes a pool (a
//! webhook, a claim), so a change and its enforcement commit together or not at all.

use crate::store::audit::{Actor, Stamp};
use crate::store::overseers::OverseerKind;
use crate::store::oversights;
use crate::store::subscriptions::{self, Tiers};
use crate::store::{pools, Db, Statement, StoreError};

/// The limits of a pool; `-1` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_agents: i64,
    pub max_clients: i64,
}

/// What made a pool shrink: decides the `disabled_reason` of clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A tier change, a cancellation, an expiry or a membership change: `tier_limit`.
    Limits,
    /// A subscription pause: `subscription_paused` (a resume re-enables these).
    Pause,
}

/// When an agent pool's enforcement applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Always,
    /// Only if the agent has no active oversight when the statement runs (after an expiry or a
    /// declaim that a concurrent claim or renewal may have overtaken).
    Unclaimed,
}

/// The limits in force for a human overseer (its current subscription's tier while active).
pub async fn overseer_limits(db: &dyn Db, overseer_id: &str) -> Result<Limits, StoreError> {
    let tier = subscriptions::overseer_standing(db, overseer_id)
        .await?
        .map_or_else(|| "FREE".to_owned(), subscriptions::Standing::tier);
    tier_limits(db, &tier).await
}

/// The limits of a tier by name.
pub async fn tier_limits(db: &dyn Db, tier: &str) -> Result<Limits, StoreError> {
    let tiers = Tiers::load(db).await?;
    let t = tiers.get(tier)?;
    Ok(Limits {
        max_agents: t.max_agents,
        max_clients: t.max_clients,
    })
}

/// The statements that enforce a human overseer's pool under its current limits, for the
/// caller's own batch: a claim and the enforcement it causes commit together or not at all.
pub async fn overseer_pool_statements(
    db: &dyn Db,
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    overseer_id: &str,
    cause: Cause,
) -> Result<Vec<Statement>, StoreError> {
    let limits = overseer_limits(db, overseer_id).await?;
    let free = tier_limits(db, "FREE").await?;
    Ok(pools::overseer_pool(
        stamp,
        actor,
        overseer_id,
        limits,
        free,
        cause,
    ))
}

/// The statements that enforce an agent's own pool under the FREE limits once it has no active
/// overseer (a declaim), for the caller's batch. Conditional on the agent being unclaimed when
/// the batch runs, like the cron job's shadow expiry.
pub async fn unclaimed_pool_statements(
    db: &dyn Db,
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    agent_id: &str,
    cause: Cause,
) -> Result<Vec<Statement>, StoreError> {
    let free = tier_limits(db, "FREE").await?;
    Ok(pools::agent_pool(
        stamp,
        actor,
        agent_id,
        free.max_clients,
        cause,
        Scope::Unclaimed,
    ))
}

/// Enforces a human overseer's pool now, as its own batch.
pub async fn enforce_overseer_pool(
    db: &dyn Db,
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    overseer_id: &str,
    cause: Cause,
) -> Result<(), StoreError> {
    let stmts = overseer_pool_statements(db, stamp, actor, overseer_id, cause).await?;
    db.batch(stmts).await.map(drop)
}

/// Enforces the pool an agent belongs to now: its human overseer's pool, or its own pool under
/// the SHADOW limits (paid and valid) or the FREE limits. Call after an agent gains or loses an
/// overseer.
pub async fn enforce_agent_pool(
    db: &dyn Db,
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    agent_id: &str,
    cause: Cause,
) -> Result<(), StoreError> {
    let current = oversights::active(db, agent_id).await?;
    if let Some(o) = current.filter(|o| o.kind == OverseerKind::Human) {
        return enforce_overseer_pool(db, stamp, actor, &o.overseer_id, cause).await;
    }
    let summary = crate::domain::tier::agent_summary(db, agent_id, stamp.now_ms).await?;
    let stmts = pools::agent_pool(
        stamp,
        actor,
        agent_id,
        summary.max_clients,
        cause,
        Scope::Always,
    );
    db.batch(stmts).await.map(drop)
}
