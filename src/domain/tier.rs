//! Tiers (data seeded by migration, api.md §6) and the effective tier of an agent (5.7).

use serde::Serialize;

use crate::domain::subscription::Status;
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::store::overseers::OverseerKind;
use crate::store::subscriptions;
use crate::store::{Db, StoreError};

/// The tier rows and their loader live in the subscriptions store; callers keep finding them here.
pub use crate::store::subscriptions::{TierRow, Tiers};

/// A price in the tier's currency: whole amounts as integers (`5`), others with cents.
pub fn price(cents: i64) -> serde_json::Value {
    if cents % 100 == 0 {
        serde_json::json!(cents / 100)
    } else {
        serde_json::json!(cents as f64 / 100.0)
    }
}

/// Whose tier an agent is under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    None,
    Overseer,
    Shadow,
}

/// The agent subscription summary of api.md 1.9.
#[derive(Debug, Serialize)]
pub struct AgentSummary {
    pub tier: String,
    pub source: Source,
    pub max_clients: i64,
    pub max_oauth_per_period: i64,
    pub clients_registered: i64,
    pub oauth_count: i64,
    pub period_start: String,
    pub period_end: String,
    pub billing_period_end: Option<String>,
}

/// Subscription statuses whose tier is in force.
pub fn is_active_status(status: &str) -> bool {
    Status::from(status).is_active()
}

/// A client pool (api.md 5.8): a human overseer's (its clients and its agents'), or an
/// agent's own clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pool {
    Overseer(String),
    Agent(String),
}

/// Whose limits an agent is under, and which pool its clients count in.
#[derive(Clone, Debug)]
pub struct AgentStanding {
    /// Internal tier name (`SHADOW`, not `PAID`).
    pub tier: String,
    pub source: Source,
    /// The overseer's period end or the shadow validity end, while a paid tier applies.
    pub billing_end: Option<i64>,
    pub pool: Pool,
}

/// The effective tier of an agent (api.md 5.7): its human overseer's, a valid shadow
/// sponsorship (SHADOW), or FREE.
pub async fn agent_standing(
    db: &dyn Db,
    agent_id: &str,
    now_ms: i64,
) -> Result<AgentStanding, StoreError> {
    let standing = subscriptions::agent_standing(db, agent_id).await?;
    let own = || Pool::Agent(agent_id.to_owned());
    Ok(match standing {
        Some(s) if s.overseer_kind == OverseerKind::Human => {
            let paid = s.sub_status.as_ref().is_some_and(Status::is_active);
            let pool = Pool::Overseer(s.overseer_id);
            match s.sub_tier.filter(|_| paid) {
                Some(tier) => AgentStanding {
                    tier,
                    source: Source::Overseer,
                    billing_end: s.sub_period_end,
                    pool,
                },
                None => AgentStanding {
                    tier: "FREE".into(),
                    source: Source::Overseer,
                    billing_end: None,
                    pool,
                },
            }
        }
        Some(s) if s.shadow_valid_until.is_some_and(|v| v > now_ms) => AgentStanding {
            tier: "SHADOW".into(),
            source: Source::Shadow,
            billing_end: s.shadow_valid_until,
            pool: own(),
        },
        // A shadow sponsorship past its validity counts as unclaimed at once.
        _ => AgentStanding {
            tier: "FREE".into(),
            source: Source::None,
            billing_end: None,
            pool: own(),
        },
    })
}

/// The effective tier of a human overseer: its current subscription's while active, else
/// FREE; `None` when no such overseer exists.
pub async fn overseer_tier(db: &dyn Db, overseer_id: &str) -> Result<Option<String>, StoreError> {
    Ok(subscriptions::human_standing(db, overseer_id)
        .await?
        .map(subscriptions::Standing::tier))
}

/// Computes the agent's subscription summary: its standing, its client pool and this
/// month's approved authorizations.
pub async fn agent_summary(
    db: &dyn Db,
    agent_id: &str,
    now_ms: i64,
) -> Result<AgentSummary, StoreError> {
    let AgentStanding {
        tier,
        source,
        billing_end,
        pool,
    } = agent_standing(db, agent_id, now_ms).await?;
    let (period_start, period_end) = month_bounds_ms(now_ms);
    let usage = subscriptions::agent_usage(
        db,
        agent_id,
        &tier,
        crate::store::clients::pool_condition(&pool),
        period_start,
        period_end,
    )
    .await?;
    let tier_row = usage.tier;
    Ok(AgentSummary {
        tier: tier_row.public_name,
        source,
        max_clients: tier_row.max_clients,
        max_oauth_per_period: tier_row.max_oauth_per_period,
        clients_registered: usage.clients,
        oauth_count: usage.oauth,
        period_start: rfc3339_ms(period_start),
        period_end: rfc3339_ms(period_end),
        billing_period_end: billing_end.map(rfc3339_ms),
    })
}
