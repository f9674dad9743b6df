//! Tiers (data seeded by migration, api.md §6) and the effective tier of an agent (5.7).

use std::cell::OnceCell;
use std::rc::Rc;

use serde::Serialize;

use crate::domain::subscription::Status;
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::store::batch::{Batch, Outcomes, Step};
use crate::store::overseers::OverseerKind;
use crate::store::subscriptions::{self, AgentStandingRow, SummaryReads, SummaryRows};
use crate::store::{Db, StoreError};

/// The tier rows and their loader live in the subscriptions store; callers keep finding them here.
pub use crate::store::subscriptions::{TierRow, Tiers};

/// The tiers, read from D1 once per isolate: migrations seed them and nothing changes them at
/// runtime. Lives on `Services`, which the edge builds once per isolate.
#[derive(Default)]
pub struct TierCache(OnceCell<Rc<Tiers>>);

impl TierCache {
    /// The tiers if already read.
    pub fn cached(&self) -> Option<Rc<Tiers>> {
        self.0.get().cloned()
    }

    /// Keeps `tiers` (read by the caller, e.g. in its own batch); the first kept wins.
    pub fn keep(&self, tiers: Tiers) -> Rc<Tiers> {
        self.0.get_or_init(|| Rc::new(tiers)).clone()
    }

    /// The tiers, read now if not yet cached.
    pub async fn get(&self, db: &dyn Db) -> Result<Rc<Tiers>, StoreError> {
        match self.cached() {
            Some(tiers) => Ok(tiers),
            None => Ok(self.keep(Tiers::load(db).await?)),
        }
    }

    /// Adds the tier read to `batch` unless the tiers are cached; [`TierCache::resolve`] takes
    /// them back from its outcomes.
    pub fn read_into(&self, batch: &mut Batch) -> TierRead {
        match self.cached() {
            Some(tiers) => TierRead::Cached(tiers),
            None => TierRead::Batched(batch.push(Tiers::statement())),
        }
    }

    /// The tiers of a [`TierCache::read_into`], cached from now on.
    pub fn resolve(&self, read: TierRead, out: &mut Outcomes) -> Result<Rc<Tiers>, StoreError> {
        match read {
            TierRead::Cached(tiers) => Ok(tiers),
            TierRead::Batched(step) => Ok(self.keep(Tiers::from_outcome(out.take(step))?)),
        }
    }
}

/// The tiers from the cache, or the batch step that reads them.
pub enum TierRead {
    Cached(Rc<Tiers>),
    Batched(Step),
}

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
    Ok(standing_of(standing, agent_id, now_ms))
}

/// The effective tier decided from the agent's active oversight row (`None`: none).
fn standing_of(standing: Option<AgentStandingRow>, agent_id: &str, now_ms: i64) -> AgentStanding {
    let own = || Pool::Agent(agent_id.to_owned());
    match standing {
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
    }
}

/// The effective tier of a human overseer: its current subscription's while active, else
/// FREE; `None` when no such overseer exists.
pub async fn overseer_tier(db: &dyn Db, overseer_id: &str) -> Result<Option<String>, StoreError> {
    Ok(subscriptions::human_standing(db, overseer_id)
        .await?
        .map(subscriptions::Standing::tier))
}

/// Computes the agent's subscription summary: its standing, its client pool and this
/// month's approved authorizations, in one round trip.
pub async fn agent_summary(
    db: &dyn Db,
    agent_id: &str,
    now_ms: i64,
) -> Result<AgentSummary, StoreError> {
    let mut batch = Batch::new();
    let reads = SummaryReads::push(&mut batch, agent_id, month_bounds_ms(now_ms));
    let tiers = batch.push(Tiers::statement());
    let mut out = batch.run(db).await?;
    let tiers = Tiers::from_outcome(out.take(tiers))?;
    summarize(reads.take(&mut out)?, &tiers, agent_id, now_ms)
}

/// The summary of [`SummaryReads`]' rows (api.md 1.9).
pub fn summarize(
    rows: SummaryRows,
    tiers: &Tiers,
    agent_id: &str,
    now_ms: i64,
) -> Result<AgentSummary, StoreError> {
    let AgentStanding {
        tier,
        source,
        billing_end,
        pool: _,
    } = standing_of(rows.standing, agent_id, now_ms);
    let (period_start, period_end) = month_bounds_ms(now_ms);
    let tier_row = tiers.get(&tier)?;
    Ok(AgentSummary {
        tier: tier_row.public_name.clone(),
        source,
        max_clients: tier_row.max_clients,
        max_oauth_per_period: tier_row.max_oauth_per_period,
        clients_registered: rows.clients,
        oauth_count: rows.oauth,
        period_start: rfc3339_ms(period_start),
        period_end: rfc3339_ms(period_end),
        billing_period_end: billing_end.map(rfc3339_ms),
    })
}
