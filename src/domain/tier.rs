//! Tiers (data seeded by migration, api.md §6) and the effective tier of an agent (5.7).

use serde::{Deserialize, Serialize};

use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::stmt;
use crate::store::{Db, StoreError};

/// A row of `subscription_tiers`.
#[derive(Clone, Debug, Deserialize)]
pub struct TierRow {
    pub tier: String,
    pub public_name: String,
    pub max_agents: i64,
    pub max_clients: i64,
    pub max_oauth_per_period: i64,
    pub price_cents: i64,
    pub currency: String,
    pub billing: String,
    pub is_hidden: i64,
}

impl TierRow {
    pub const COLUMNS: &'static str =
        "tier, public_name, max_agents, max_clients, max_oauth_per_period, \
         price_cents, currency, billing, is_hidden";
}

/// Every tier, in display order (a handful of rows; read once per request that needs them).
pub struct Tiers(Vec<TierRow>);

impl Tiers {
    pub async fn load(db: &dyn Db) -> Result<Self, StoreError> {
        let sql = format!(
            "SELECT {} FROM subscription_tiers ORDER BY sort_order",
            TierRow::COLUMNS
        );
        Ok(Self(
            db.run(crate::store::Statement::new(sql, vec![]))
                .await?
                .decode()?,
        ))
    }

    pub fn get(&self, tier: &str) -> Result<&TierRow, StoreError> {
        self.0
            .iter()
            .find(|t| t.tier == tier)
            .ok_or_else(|| StoreError::Decode(format!("tier {tier} is not seeded")))
    }

    /// The tiers anyone may see (SHADOW is hidden).
    pub fn public(&self) -> impl Iterator<Item = &TierRow> {
        self.0.iter().filter(|t| t.is_hidden == 0)
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

/// The active oversight of an agent with what decides its tier.
#[derive(Debug, Deserialize)]
struct Standing {
    overseer_id: String,
    overseer_kind: String,
    sub_status: Option<String>,
    sub_tier: Option<String>,
    sub_period_end: Option<i64>,
    shadow_valid_until: Option<i64>,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
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
    matches!(status, "active" | "trialing" | "past_due")
}

/// A client pool (api.md 5.8): a human overseer's (its clients and its agents'), or an
/// agent's own clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pool {
    Overseer(String),
    Agent(String),
}

impl Pool {
    /// An SQL condition over `oauth_clients c` selecting the pool, with its one parameter `?1`.
    pub fn condition(&self) -> (&'static str, &str) {
        match self {
            Pool::Overseer(id) => (crate::store::clients::OVERSEER_POOL, id),
            Pool::Agent(id) => ("(c.owner_type = 'agent' AND c.owner_id = ?1)", id),
        }
    }
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
    let standing: Option<Standing> = db
        .run(stmt!(
            "SELECT ov.id AS overseer_id, ov.kind AS overseer_kind, s.status AS sub_status, \
                    s.tier AS sub_tier, s.current_period_end AS sub_period_end, \
                    (SELECT MAX(valid_until) FROM shadow_payments sp \
                      WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
             FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
             WHERE o.agent_id = ?1 AND o.active = 1",
            agent_id
        ))
        .await?
        .first()?;
    let own = || Pool::Agent(agent_id.to_owned());
    Ok(match standing {
        Some(s) if s.overseer_kind == "human" => {
            let paid = s.sub_status.as_deref().is_some_and(is_active_status);
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
    #[derive(Deserialize)]
    struct Row {
        status: Option<String>,
        tier: Option<String>,
    }
    let row: Option<Row> = db
        .run(stmt!(
            "SELECT s.status, s.tier FROM overseers ov LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
             WHERE ov.id = ?1 AND ov.kind = 'human'",
            overseer_id
        ))
        .await?
        .first()?;
    Ok(row.map(|r| match (r.tier, r.status.as_deref()) {
        (Some(t), Some(status)) if is_active_status(status) => t,
        _ => "FREE".to_owned(),
    }))
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
    let (condition, pool_param) = pool.condition();
    let pool = crate::store::Statement::new(
        format!("SELECT COUNT(*) AS n FROM oauth_clients c WHERE c.disabled = 0 AND {condition}"),
        vec![pool_param.into()],
    );
    let mut results = db
        .batch(vec![
            crate::store::Statement::new(
                format!("SELECT {} FROM subscription_tiers WHERE tier = ?1", TierRow::COLUMNS),
                vec![tier.as_str().into()],
            ),
            pool,
            stmt!(
                "SELECT COUNT(*) AS n FROM oauth_requests WHERE agent_id = ?1 AND status = 'approved' \
                 AND created_at >= ?2 AND created_at < ?3",
                agent_id,
                period_start,
                period_end
            ),
        ])
        .await?
        .into_iter();
    let mut next = || results.next().unwrap_or_default();
    let tier_row: TierRow = next()
        .first()?
        .ok_or_else(|| StoreError::Decode(format!("tier {tier} is not seeded")))?;
    let clients = next().first::<Count>()?.map_or(0, |c| c.n);
    let oauth = next().first::<Count>()?.map_or(0, |c| c.n);

    Ok(AgentSummary {
        tier: tier_row.public_name,
        source,
        max_clients: tier_row.max_clients,
        max_oauth_per_period: tier_row.max_oauth_per_period,
        clients_registered: clients,
        oauth_count: oauth,
        period_start: rfc3339_ms(period_start),
        period_end: rfc3339_ms(period_end),
        billing_period_end: billing_end.map(rfc3339_ms),
    })
}
