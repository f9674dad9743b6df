//! Subscriptions, tiers and shadow payments, as Paddle's webhooks report them.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::batch::{Batch, Guard, Outcomes, Step};
use super::{Db, Statement, StoreError};
use crate::domain::payment_problem::ProblemKind;
use crate::domain::subscription::{ScheduledChange, Status};
use crate::{guard, stmt};

// --- tiers -------------------------------------------------------------------------------

/// A row of `subscription_tiers` (seeded by migration, api.md §6).
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
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub is_hidden: bool,
    /// Protected resources the overseer may register (issue 10; −1 unlimited).
    pub max_resources: i64,
}

const TIER_COLUMNS: &str = "tier, public_name, max_agents, max_clients, max_oauth_per_period, \
     price_cents, currency, billing, is_hidden, max_resources";

/// Every tier, in display order (a handful of rows; read once per request that needs them).
pub struct Tiers(Vec<TierRow>);

impl Tiers {
    pub async fn load(db: &dyn Db) -> Result<Self, StoreError> {
        Self::from_outcome(db.run(Self::statement()).await?)
    }

    /// The statement [`Tiers::load`] runs, for a caller's batch.
    pub fn statement() -> Statement {
        let sql = format!("SELECT {TIER_COLUMNS} FROM subscription_tiers ORDER BY sort_order");
        Statement::new(sql, vec![])
    }

    /// Decodes what [`Tiers::statement`] returned.
    pub fn from_outcome(outcome: super::Outcome) -> Result<Self, StoreError> {
        Ok(Self(outcome.decode()?))
    }

    pub fn get(&self, tier: &str) -> Result<&TierRow, StoreError> {
        self.0
            .iter()
            .find(|t| t.tier == tier)
            .ok_or_else(|| StoreError::Decode(format!("tier {tier} is not seeded")))
    }

    /// The tiers anyone may see (SHADOW is hidden).
    pub fn public(&self) -> impl Iterator<Item = &TierRow> {
        self.0.iter().filter(|t| !t.is_hidden)
    }
}

// --- subscriptions -----------------------------------------------------------------------

/// An overseer's subscription as mirrored from Paddle.
#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub status: Status,
    pub tier: Option<String>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub next_billed_at: Option<i64>,
    pub scheduled_change_action: Option<ScheduledChange>,
    pub scheduled_change_at: Option<i64>,
    pub cancel_requested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while a payment is failing (migration 0006; `store::payment_problems`).
    pub payment_problem_kind: Option<ProblemKind>,
    pub payment_problem_since: Option<i64>,
}

/// The columns of [`SubscriptionRow`].
const SUBSCRIPTION_COLUMNS: &str =
    "id, customer_id, status, tier, current_period_start, current_period_end, \
     next_billed_at, scheduled_change_action, scheduled_change_at, cancel_requested_at, \
     created_at, updated_at, payment_problem_kind, payment_problem_since";

/// The subscription `id`, if it exists.
pub async fn find(db: &dyn Db, id: &str) -> Result<Option<SubscriptionRow>, StoreError> {
    db.run(stmt!(
        format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?1"),
        id
    ))
    .await?
    .first()
}

/// Overseer `overseer_id`'s current subscription (one [`SubscriptionRow`], or none), for a
/// session check's batch.
pub fn current_statement(overseer_id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = \
             (SELECT current_subscription_id FROM overseers WHERE id = ?1)"
        ),
        overseer_id
    )
}

/// The state of a subscription a webhook decides on.
#[derive(Clone, Debug, Deserialize)]
pub struct Stored {
    pub id: String,
    pub overseer_id: String,
    pub status: Status,
    pub tier: Option<String>,
    pub scheduled_change_action: Option<ScheduledChange>,
    pub cancel_requested_at: Option<i64>,
    pub last_event_occurred_us: i64,
    pub created_at: i64,
}

impl Stored {
    /// Active and not yet on its way out (by Paddle's schedule or our own request).
    pub fn renews(&self) -> bool {
        self.status.is_active()
            && self.scheduled_change_action != Some(ScheduledChange::Cancel)
            && self.cancel_requested_at.is_none()
    }
}

pub async fn stored(db: &dyn Db, id: &str) -> Result<Option<Stored>, StoreError> {
    db.run(stmt!(
        "SELECT id, overseer_id, status, tier, scheduled_change_action, cancel_requested_at, \
           last_event_occurred_us, created_at FROM subscriptions WHERE id = ?1",
        id
    ))
    .await?
    .first()
}

/// Active oversights, enabled pool clients and this period's approved authorizations of a
/// human overseer, and its protected resources.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Usage {
    pub agents: i64,
    pub clients: i64,
    pub oauth: i64,
    pub resources: i64,
}

/// What an overseer uses in `[start_ms, end_ms)`; zeros for an overseer with nothing.
pub async fn usage(
    db: &dyn Db,
    overseer_id: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Usage, StoreError> {
    Ok(db
        .run(stmt!(
            "SELECT \
               (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?1 AND active = 1) AS agents, \
               (SELECT COUNT(*) FROM oauth_clients c WHERE c.disabled = 0 AND \
                  ((c.owner_type = 'overseer' AND c.owner_id = ?1) OR (c.owner_type = 'agent' AND c.owner_id IN \
                    (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)))) AS clients, \
               (SELECT COUNT(*) FROM oauth_requests r WHERE r.status = 'approved' AND r.created_at >= ?2 \
                  AND r.created_at < ?3 AND r.agent_id IN \
                    (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)) AS oauth, \
               (SELECT COUNT(*) FROM protected_resources WHERE overseer_id = ?1) AS resources",
            overseer_id,
            start_ms,
            end_ms
        ))
        .await?
        .first()?
        .unwrap_or_default())
}

/// Records a cancellation request (the cron job retries Paddle until it accepts). Changes
/// nothing when one is already recorded.
pub fn request_cancel(id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE subscriptions SET cancel_requested_at = ?2, cancel_attempts = 0, updated_at = ?2 \
         WHERE id = ?1 AND cancel_requested_at IS NULL",
        id,
        now_ms
    )
}

/// Holds once [`request_cancel`] at `now_ms` took effect in this batch.
pub fn cancel_requested_at(id: &str, now_ms: i64) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM subscriptions WHERE id = ?1 AND cancel_requested_at = ?2)",
        id,
        now_ms
    )
}

/// Paddle accepted the cancellation: store the change it reports, keeping what a webhook may
/// already have stored when its answer lacks it.
pub async fn store_scheduled_change(
    db: &dyn Db,
    id: &str,
    action: Option<&str>,
    at_ms: Option<i64>,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.run(stmt!(
        "UPDATE subscriptions SET scheduled_change_action = COALESCE(?2, scheduled_change_action), \
         scheduled_change_at = COALESCE(?3, scheduled_change_at), updated_at = ?4 WHERE id = ?1",
        id,
        action,
        at_ms,
        now_ms
    ))
    .await
    .map(drop)
}

/// Paddle refused or failed: one more attempt, unless the request was abandoned.
pub async fn count_cancel_attempt(db: &dyn Db, id: &str) -> Result<(), StoreError> {
    db.run(stmt!(
        "UPDATE subscriptions SET cancel_attempts = cancel_attempts + 1 \
         WHERE id = ?1 AND cancel_attempts >= 0",
        id
    ))
    .await
    .map(drop)
}

/// A cancellation requested but neither confirmed by Paddle nor abandoned.
#[derive(Clone, Debug, Deserialize)]
pub struct PendingCancel {
    pub id: String,
    pub overseer_id: String,
    pub cancel_requested_at: i64,
    pub cancel_attempts: i64,
}

/// The oldest `limit` pending cancellations.
pub async fn pending_cancellations(
    db: &dyn Db,
    limit: i64,
) -> Result<Vec<PendingCancel>, StoreError> {
    db.run(stmt!(
        "SELECT id, overseer_id, cancel_requested_at, cancel_attempts FROM subscriptions \
         WHERE cancel_requested_at IS NOT NULL AND cancel_attempts >= 0 AND status != 'canceled' \
           AND COALESCE(scheduled_change_action, '') != 'cancel' \
         ORDER BY cancel_requested_at LIMIT ?1",
        limit
    ))
    .await?
    .decode()
}

/// Gives up retrying a cancellation (`cancel_attempts = -1`).
pub fn abandon_cancel(id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE subscriptions SET cancel_attempts = -1, updated_at = ?2 WHERE id = ?1",
        id,
        now_ms
    )
}

/// The local mirror of one `subscription.*` event. Timestamps are Unix ms; `occurred_us` is the
/// event's `occurred_at` in µs, which orders events.
pub struct Mirror<'a> {
    pub id: &'a str,
    pub overseer_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub status: &'a str,
    pub price_id: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub next_billed_at: Option<i64>,
    pub scheduled_change_action: Option<&'a str>,
    pub scheduled_change_at: Option<i64>,
    pub paused_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub occurred_us: i64,
}

/// Inserts or updates the local mirror. The `WHERE` keeps a newer event's state.
pub fn upsert(m: &Mirror<'_>, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO subscriptions (id, overseer_id, customer_id, status, price_id, tier, \
           current_period_start, current_period_end, next_billed_at, scheduled_change_action, \
           scheduled_change_at, paused_at, canceled_at, last_event_occurred_us, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) \
         ON CONFLICT(id) DO UPDATE SET customer_id = COALESCE(excluded.customer_id, customer_id), \
           status = excluded.status, price_id = excluded.price_id, tier = excluded.tier, \
           current_period_start = excluded.current_period_start, \
           current_period_end = excluded.current_period_end, next_billed_at = excluded.next_billed_at, \
           scheduled_change_action = excluded.scheduled_change_action, \
           scheduled_change_at = excluded.scheduled_change_at, paused_at = excluded.paused_at, \
           canceled_at = excluded.canceled_at, last_event_occurred_us = excluded.last_event_occurred_us, \
           updated_at = excluded.updated_at \
         WHERE excluded.last_event_occurred_us >= subscriptions.last_event_occurred_us",
        m.id,
        m.overseer_id,
        m.customer_id,
        m.status,
        m.price_id,
        m.tier,
        m.period_start,
        m.period_end,
        m.next_billed_at,
        m.scheduled_change_action,
        m.scheduled_change_at,
        m.paused_at,
        m.canceled_at,
        m.occurred_us,
        now_ms
    )
}

/// What a `subscription.*` decision read: the event's subscription, the overseer's current
/// subscription id and that one's last event (`None` = absent).
pub struct DecidedOn<'a> {
    pub subscription_id: &'a str,
    pub subscription_event_us: Option<i64>,
    pub overseer_id: &'a str,
    pub current_id: Option<&'a str>,
    pub current_event_us: Option<i64>,
}

/// A batch guard (api.md 3.5): the first statements of the event's batch, which abort it
/// (`CHECK` on `batch_guards`) unless the state it was decided on is unchanged, so a concurrent
/// event's upsert is never paired with effects computed for another state.
pub fn unchanged(d: &DecidedOn<'_>) -> [Statement; 2] {
    [
        stmt!(
            "INSERT INTO batch_guards (ok) SELECT CASE WHEN \
               COALESCE((SELECT last_event_occurred_us FROM subscriptions WHERE id = ?1), -1) = ?2 \
               AND COALESCE((SELECT current_subscription_id FROM overseers WHERE id = ?3), '') = ?4 \
               AND COALESCE((SELECT last_event_occurred_us FROM subscriptions WHERE id = ?4), -1) = ?5 \
             THEN 1 ELSE 0 END",
            d.subscription_id,
            d.subscription_event_us.unwrap_or(-1),
            d.overseer_id,
            d.current_id.unwrap_or(""),
            d.current_event_us.unwrap_or(-1)
        ),
        stmt!("DELETE FROM batch_guards"),
    ]
}

/// The tier in force for an overseer's subscription, as the join of overseer and subscription.
#[derive(Debug, Deserialize)]
pub struct Standing {
    pub status: Option<Status>,
    pub tier: Option<String>,
}

impl Standing {
    /// The subscribed tier while active, else FREE.
    pub fn tier(self) -> String {
        match (self.tier, self.status) {
            (Some(t), Some(s)) if s.is_active() => t,
            _ => "FREE".to_owned(),
        }
    }
}

/// The current subscription's standing of overseer `id` (any kind); `None` when it does not
/// exist.
pub async fn overseer_standing(db: &dyn Db, id: &str) -> Result<Option<Standing>, StoreError> {
    db.run(stmt!(
        "SELECT s.status, s.tier FROM overseers ov \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id WHERE ov.id = ?1",
        id
    ))
    .await?
    .first()
}

/// Like [`overseer_standing`], for human overseers only.
pub async fn human_standing(db: &dyn Db, id: &str) -> Result<Option<Standing>, StoreError> {
    db.run(stmt!(
        "SELECT s.status, s.tier FROM overseers ov \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
         WHERE ov.id = ?1 AND ov.kind = 'human'",
        id
    ))
    .await?
    .first()
}

/// The active oversight of an agent with what decides its tier (api.md 5.7).
#[derive(Debug, Deserialize)]
pub struct AgentStandingRow {
    pub overseer_id: String,
    pub overseer_kind: super::overseers::OverseerKind,
    pub sub_status: Option<Status>,
    pub sub_tier: Option<String>,
    pub sub_period_end: Option<i64>,
    pub shadow_valid_until: Option<i64>,
}

pub async fn agent_standing(
    db: &dyn Db,
    agent_id: &str,
) -> Result<Option<AgentStandingRow>, StoreError> {
    db.run(standing_statement(agent_id)).await?.first()
}

fn standing_statement(agent_id: &str) -> Statement {
    stmt!(
        "SELECT ov.id AS overseer_id, ov.kind AS overseer_kind, s.status AS sub_status, \
                s.tier AS sub_tier, s.current_period_end AS sub_period_end, \
                (SELECT MAX(valid_until) FROM shadow_payments sp \
                  WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
         FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    )
}

/// The human overseer actively overseeing agent `?1`, or NULL: whose client pool the agent's
/// clients count in (api.md 5.8).
const HUMAN_OVERSEER_OF: &str = "(SELECT o.overseer_id FROM oversights o \
     JOIN overseers ov ON ov.id = o.overseer_id \
     WHERE o.agent_id = ?1 AND o.active = 1 AND ov.kind = 'human')";

/// The reads of an agent's subscription summary in a caller's batch: its standing, the enabled
/// clients of its pool (chosen in SQL from the standing, so no read waits for another) and its
/// approved authorizations in a period.
pub struct SummaryReads {
    standing: Step,
    clients: Step,
    oauth: Step,
}

/// What [`SummaryReads`] read.
pub struct SummaryRows {
    pub standing: Option<AgentStandingRow>,
    pub clients: i64,
    pub oauth: i64,
}

impl SummaryReads {
    /// Pushes the reads for `agent_id` and `[start_ms, end_ms)`.
    pub fn push(batch: &mut Batch, agent_id: &str, (start_ms, end_ms): (i64, i64)) -> Self {
        let human_pool = super::clients::OVERSEER_POOL.replace("?1", HUMAN_OVERSEER_OF);
        SummaryReads {
            standing: batch.push(standing_statement(agent_id)),
            clients: batch.push(stmt!(
                format!(
                    "SELECT COUNT(*) AS n FROM oauth_clients c WHERE c.disabled = 0 AND \
                     CASE WHEN {HUMAN_OVERSEER_OF} IS NULL \
                       THEN (c.owner_type = 'agent' AND c.owner_id = ?1) ELSE {human_pool} END"
                ),
                agent_id
            )),
            oauth: batch.push(oauth_count_statement(agent_id, start_ms, end_ms)),
        }
    }

    pub fn take(self, out: &mut Outcomes) -> Result<SummaryRows, StoreError> {
        Ok(SummaryRows {
            standing: out.take(self.standing).first()?,
            clients: count(out.take(self.clients))?,
            oauth: count(out.take(self.oauth))?,
        })
    }
}

fn count(o: super::Outcome) -> Result<i64, StoreError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    Ok(o.first::<Count>()?.map_or(0, |c| c.n))
}

fn oauth_count_statement(agent_id: &str, start_ms: i64, end_ms: i64) -> Statement {
    stmt!(
        "SELECT COUNT(*) AS n FROM oauth_requests WHERE agent_id = ?1 AND status = 'approved' \
         AND created_at >= ?2 AND created_at < ?3",
        agent_id,
        start_ms,
        end_ms
    )
}

// --- shadow payments ---------------------------------------------------------------------

/// Whether the Paddle transaction was already recorded.
pub async fn payment_recorded(db: &dyn Db, transaction_id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM shadow_payments WHERE transaction_id = ?1",
            transaction_id
        ))
        .await?
        .rows
        .is_empty())
}

/// One shadow payment to record.
pub struct Payment<'a> {
    pub transaction_id: &'a str,
    pub shadow_overseer_id: &'a str,
    pub agent_id: &'a str,
    pub challenge_id: &'a str,
    pub price_id: &'a str,
    pub customer_id: Option<&'a str>,
    /// Whether the payment activates the sponsorship (else it is late: recorded, no effect).
    pub applied: bool,
    pub validity_ms: i64,
}

/// Records a payment. Renewals stack: the new period starts when the current one ends, or now
/// (5.5). A late payment gets an empty validity (`valid_from = valid_until = now`).
pub fn record_payment(p: &Payment<'_>, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO shadow_payments (transaction_id, overseer_id, agent_id, challenge_id, price_id, \
           customer_id, applied, paid_at, valid_from, valid_until, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, v.start, \
           CASE WHEN ?7 = 1 THEN v.start + ?9 ELSE v.start END, ?8 \
         FROM (SELECT CASE WHEN ?7 = 0 THEN ?8 ELSE MAX(?8, COALESCE((SELECT MAX(valid_until) \
           FROM shadow_payments WHERE overseer_id = ?2 AND applied = 1), 0)) END AS start) v",
        p.transaction_id,
        p.shadow_overseer_id,
        p.agent_id,
        p.challenge_id,
        p.price_id,
        p.customer_id,
        p.applied,
        now_ms,
        p.validity_ms
    )
}

/// An active shadow oversight whose paid validity is over at `now_ms`.
#[derive(Clone, Debug, Deserialize)]
pub struct ExpiredShadow {
    pub id: String,
    pub agent_id: String,
}

/// At most `limit` shadow oversights past their validity.
pub async fn expired_shadows(
    db: &dyn Db,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<ExpiredShadow>, StoreError> {
    db.run(stmt!(
        "SELECT o.id, o.agent_id FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         WHERE ov.kind = 'shadow' AND o.active = 1 AND COALESCE((SELECT MAX(valid_until) \
           FROM shadow_payments sp WHERE sp.overseer_id = o.overseer_id AND sp.applied = 1), 0) <= ?1 \
         LIMIT ?2",
        now_ms,
        limit
    ))
    .await?
    .decode()
}
