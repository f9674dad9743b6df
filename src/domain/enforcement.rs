//! Tier limit enforcement over client pools (`api.md` 5.8) and the oversight suspensions of
//! pauses and cancellations (5.13).
//!
//! Every rule is a self-contained SQL statement that selects its victims *when it runs*, so the
//! statements can be appended to the batch that changes a pool (a webhook, a claim) and see the
//! state that batch produced: the change and its enforcement commit together or not at all.
//! Each change is preceded by an audit `INSERT … SELECT` over exactly the same selection.
//!
//! Victim order: oversights `marked_for_cancellation` first, then the most recently claimed;
//! clients `marked_for_cancellation` first, then the newest.

use serde::Deserialize;

use crate::ctx::Ctx;
use crate::domain::tier::{is_active_status, Tiers};
use crate::http::ApiError;
use crate::stmt;
use crate::store::{Db, Statement, StoreError, Value};

/// Who causes the changes and when; stamped on every audit row.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    pub now_ms: i64,
    pub request_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// `paddle` (webhooks), `system` (cron), `overseer` / `agent` (claims).
    pub actor_type: &'static str,
    pub actor_id: Option<&'a str>,
}

impl<'a> Stamp<'a> {
    pub fn of(ctx: &'a Ctx<'_>, actor_type: &'static str, actor_id: Option<&'a str>) -> Self {
        Self {
            now_ms: ctx.now_ms,
            request_id: Some(ctx.request_id),
            ip: ctx.ip(),
            actor_type,
            actor_id,
        }
    }

    /// `?1` now, `?2` request id, `?3` ip, `?4` actor type, `?5` actor id; then `extra`.
    fn params(&self, extra: Vec<Value>) -> Vec<Value> {
        let mut p = vec![
            Value::Int(self.now_ms),
            Value::from(self.request_id),
            Value::from(self.ip),
            Value::from(self.actor_type),
            Value::from(self.actor_id),
        ];
        p.extend(extra);
        p
    }
}

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

impl Cause {
    const fn client_reason(self) -> &'static str {
        match self {
            Cause::Limits => "tier_limit",
            Cause::Pause => "subscription_paused",
        }
    }
}

/// A random UUID v4 computed by SQLite/D1, for audit rows written by `INSERT … SELECT`.
const SQL_UUID: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
     substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
     substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

const AUDIT_COLUMNS: &str = "INSERT INTO audit_events (id, type, actor_type, actor_id, \
     subject_type, subject_id, overseer_id, agent_id, client_id, ip, request_id, details, created_at)";

/// Audit `oversight.deactivated` for the oversights `selection` (ids) names, then deactivate them.
fn deactivate(
    stamp: &Stamp<'_>,
    selection: &str,
    reason: &'static str,
    extra: Vec<Value>,
) -> Vec<Statement> {
    let audit = format!(
        "{AUDIT_COLUMNS} SELECT {SQL_UUID}, 'oversight.deactivated', ?4, ?5, 'agent', o.agent_id, \
         o.overseer_id, o.agent_id, NULL, ?3, ?2, json_object('reason', '{reason}', 'oversight_id', o.id), ?1 \
         FROM oversights o WHERE o.id IN ({selection})"
    );
    let update = format!(
        "UPDATE oversights SET active = 0, deactivated_reason = '{reason}', deactivated_at = ?1, \
         updated_at = ?1 WHERE id IN ({selection})"
    );
    vec![
        Statement::new(audit, stamp.params(extra.clone())),
        Statement::new(update, stamp.params(extra)),
    ]
}

/// Audit `client.disabled` for the clients `selection` names (tagged `overseer_sql`), then
/// disable them.
fn disable(
    stamp: &Stamp<'_>,
    selection: &str,
    overseer_sql: &str,
    cause: Cause,
    extra: Vec<Value>,
) -> Vec<Statement> {
    let reason = cause.client_reason();
    let audit = format!(
        "{AUDIT_COLUMNS} SELECT {SQL_UUID}, 'client.disabled', ?4, ?5, 'client', c.id, {overseer_sql}, \
         CASE WHEN c.owner_type = 'agent' THEN c.owner_id END, c.id, ?3, ?2, \
         json_object('reason', '{reason}'), ?1 FROM oauth_clients c WHERE c.id IN ({selection})"
    );
    let update = format!(
        "UPDATE oauth_clients SET disabled = 1, disabled_at = ?1, disabled_reason = '{reason}', \
         updated_at = ?1 WHERE id IN ({selection})"
    );
    vec![
        Statement::new(audit, stamp.params(extra.clone())),
        Statement::new(update, stamp.params(extra)),
    ]
}

/// Enabled clients of a human overseer's pool (`?6` = overseer id): its own and those of the
/// agents it actively oversees.
const POOL: &str = "c.disabled = 0 AND ((c.owner_type = 'overseer' AND c.owner_id = ?6) OR \
     (c.owner_type = 'agent' AND c.owner_id IN \
       (SELECT agent_id FROM oversights WHERE overseer_id = ?6 AND active = 1)))";

/// Enforcement of a human overseer's pool under `limits` (5.8 steps 1 and 2), plus the pools of
/// agents this batch released from it (oversight deactivated now, no other active one), which
/// fall back to `released` (the FREE limits) per agent.
pub fn overseer_pool(
    stamp: &Stamp<'_>,
    overseer_id: &str,
    limits: Limits,
    released: Limits,
    cause: Cause,
) -> Vec<Statement> {
    let mut out = Vec::new();
    if limits.max_agents >= 0 {
        out.extend(deactivate(
            stamp,
            "SELECT id FROM oversights WHERE overseer_id = ?6 AND active = 1 \
             ORDER BY marked_for_cancellation ASC, activated_at ASC, id ASC LIMIT -1 OFFSET ?7",
            "tier_downgrade",
            vec![overseer_id.into(), limits.max_agents.into()],
        ));
    }
    if limits.max_clients >= 0 {
        out.extend(disable(
            stamp,
            &format!(
                "SELECT c.id FROM oauth_clients c WHERE {POOL} \
                 ORDER BY c.marked_for_cancellation ASC, c.created_at ASC, c.id ASC LIMIT -1 OFFSET ?7"
            ),
            "?6",
            cause,
            vec![overseer_id.into(), limits.max_clients.into()],
        ));
    }
    if released.max_clients >= 0 {
        out.extend(disable(
            stamp,
            "SELECT id FROM (SELECT c.id, ROW_NUMBER() OVER (PARTITION BY c.owner_id \
               ORDER BY c.marked_for_cancellation ASC, c.created_at ASC, c.id ASC) AS rn \
             FROM oauth_clients c WHERE c.disabled = 0 AND c.owner_type = 'agent' AND c.owner_id IN \
               (SELECT agent_id FROM oversights WHERE overseer_id = ?6 AND active = 0 AND deactivated_at = ?1) \
             AND NOT EXISTS (SELECT 1 FROM oversights x WHERE x.agent_id = c.owner_id AND x.active = 1)) \
             WHERE rn > ?7",
            "?6",
            cause,
            vec![overseer_id.into(), released.max_clients.into()],
        ));
    }
    out
}

/// Enforcement of an agent's own pool (shadow-sponsored or unclaimed) under `max_clients`.
/// `Scope::Unclaimed` applies it only if the agent has no active oversight when it runs (after
/// an expiry that a concurrent renewal may have prevented).
pub fn agent_pool(
    stamp: &Stamp<'_>,
    agent_id: &str,
    max_clients: i64,
    cause: Cause,
    scope: Scope,
) -> Vec<Statement> {
    if max_clients < 0 {
        return Vec::new();
    }
    let condition = match scope {
        Scope::Always => "",
        Scope::Unclaimed => {
            "AND NOT EXISTS (SELECT 1 FROM oversights WHERE agent_id = ?6 AND active = 1)"
        }
    };
    disable(
        stamp,
        &format!(
            "SELECT c.id FROM oauth_clients c WHERE c.disabled = 0 AND c.owner_type = 'agent' \
             AND c.owner_id = ?6 {condition} \
             ORDER BY c.marked_for_cancellation ASC, c.created_at ASC, c.id ASC LIMIT -1 OFFSET ?7"
        ),
        "(SELECT overseer_id FROM oversights WHERE agent_id = ?6 AND active = 1)",
        cause,
        vec![agent_id.into(), max_clients.into()],
    )
}

/// When an agent pool's enforcement applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Always,
    Unclaimed,
}

/// Deactivates one shadow oversight whose paid validity has ended by the time the statement
/// runs (`shadow_expired`); a renewal committed meanwhile keeps it active.
pub fn expire_shadow(stamp: &Stamp<'_>, oversight_id: &str) -> Vec<Statement> {
    deactivate(
        stamp,
        "SELECT o.id FROM oversights o WHERE o.id = ?6 AND o.active = 1 AND COALESCE((SELECT \
         MAX(valid_until) FROM shadow_payments WHERE overseer_id = o.overseer_id AND applied = 1), 0) <= ?1",
        "shadow_expired",
        vec![oversight_id.into()],
    )
}

/// Deactivates every active oversight of an overseer (`subscription_paused` or
/// `subscription_canceled`).
pub fn suspend_all(stamp: &Stamp<'_>, overseer_id: &str, reason: &'static str) -> Vec<Statement> {
    deactivate(
        stamp,
        "SELECT id FROM oversights WHERE overseer_id = ?6 AND active = 1",
        reason,
        vec![overseer_id.into()],
    )
}

/// A resume (5.13): reactivates oversights suspended by the pause whose agent is not otherwise
/// claimed, in claim order, within `limits.max_agents`; then re-enables pool clients disabled by
/// the pause, oldest first, within `limits.max_clients`. Nothing else is restored.
pub fn resume(stamp: &Stamp<'_>, overseer_id: &str, limits: Limits) -> Vec<Statement> {
    let agents = "SELECT o.id FROM oversights o WHERE o.overseer_id = ?6 AND o.active = 0 \
         AND o.deactivated_reason = 'subscription_paused' \
         AND NOT EXISTS (SELECT 1 FROM oversights x WHERE x.agent_id = o.agent_id AND x.active = 1) \
         ORDER BY o.activated_at ASC, o.id ASC \
         LIMIT CASE WHEN ?7 < 0 THEN -1 ELSE \
           MAX(0, ?7 - (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?6 AND active = 1)) END";
    let reactivate_audit = format!(
        "{AUDIT_COLUMNS} SELECT {SQL_UUID}, 'oversight.reactivated', ?4, ?5, 'agent', o.agent_id, \
         o.overseer_id, o.agent_id, NULL, ?3, ?2, json_object('oversight_id', o.id), ?1 \
         FROM oversights o WHERE o.id IN ({agents})"
    );
    let reactivate = format!(
        "UPDATE oversights SET active = 1, deactivated_reason = NULL, deactivated_at = NULL, \
         updated_at = ?1 WHERE id IN ({agents})"
    );
    let clients = "SELECT c.id FROM oauth_clients c WHERE c.disabled = 1 \
         AND c.disabled_reason = 'subscription_paused' AND ((c.owner_type = 'overseer' AND c.owner_id = ?6) OR \
         (c.owner_type = 'agent' AND c.owner_id IN \
           (SELECT agent_id FROM oversights WHERE overseer_id = ?6 AND active = 1))) \
         ORDER BY c.created_at ASC, c.id ASC \
         LIMIT CASE WHEN ?7 < 0 THEN -1 ELSE MAX(0, ?7 - (SELECT COUNT(*) FROM oauth_clients c WHERE \
           c.disabled = 0 AND ((c.owner_type = 'overseer' AND c.owner_id = ?6) OR (c.owner_type = 'agent' \
           AND c.owner_id IN (SELECT agent_id FROM oversights WHERE overseer_id = ?6 AND active = 1))))) END";
    let enable_audit = format!(
        "{AUDIT_COLUMNS} SELECT {SQL_UUID}, 'client.enabled', ?4, ?5, 'client', c.id, ?6, \
         CASE WHEN c.owner_type = 'agent' THEN c.owner_id END, c.id, ?3, ?2, \
         json_object('reason', 'subscription_resumed'), ?1 FROM oauth_clients c WHERE c.id IN ({clients})"
    );
    let enable = format!(
        "UPDATE oauth_clients SET disabled = 0, disabled_at = NULL, disabled_reason = NULL, \
         updated_at = ?1 WHERE id IN ({clients})"
    );
    let agent_params = || stamp.params(vec![overseer_id.into(), limits.max_agents.into()]);
    let client_params = || stamp.params(vec![overseer_id.into(), limits.max_clients.into()]);
    vec![
        Statement::new(reactivate_audit, agent_params()),
        Statement::new(reactivate, agent_params()),
        Statement::new(enable_audit, client_params()),
        Statement::new(enable, client_params()),
    ]
}

#[derive(Deserialize)]
struct Standing {
    status: Option<String>,
    tier: Option<String>,
}

/// The limits in force for a human overseer (its current subscription's tier while active).
pub async fn overseer_limits(db: &dyn Db, overseer_id: &str) -> Result<Limits, StoreError> {
    let standing: Option<Standing> = db
        .run(stmt!(
            "SELECT s.status, s.tier FROM overseers ov \
             LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id WHERE ov.id = ?1",
            overseer_id
        ))
        .await?
        .first()?;
    let tier = match standing {
        Some(Standing {
            status: Some(status),
            tier: Some(tier),
        }) if is_active_status(&status) => tier,
        _ => "FREE".to_owned(),
    };
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
    ctx: &Ctx<'_>,
    overseer_id: &str,
    cause: Cause,
) -> Result<Vec<Statement>, ApiError> {
    let db = ctx.services.db.as_ref();
    let limits = overseer_limits(db, overseer_id).await?;
    let free = tier_limits(db, "FREE").await?;
    let stamp = Stamp::of(ctx, "system", None);
    Ok(overseer_pool(&stamp, overseer_id, limits, free, cause))
}

/// The statements that enforce an agent's own pool under the FREE limits once it has no active
/// overseer (a declaim), for the caller's batch. Conditional on the agent being unclaimed when
/// the batch runs, like the cron job's shadow expiry.
pub async fn unclaimed_pool_statements(
    ctx: &Ctx<'_>,
    agent_id: &str,
    cause: Cause,
) -> Result<Vec<Statement>, ApiError> {
    let free = tier_limits(ctx.services.db.as_ref(), "FREE").await?;
    let stamp = Stamp::of(ctx, "system", None);
    Ok(agent_pool(
        &stamp,
        agent_id,
        free.max_clients,
        cause,
        Scope::Unclaimed,
    ))
}

/// Enforces a human overseer's pool now, as its own batch.
pub async fn enforce_overseer_pool(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    cause: Cause,
) -> Result<(), ApiError> {
    let stmts = overseer_pool_statements(ctx, overseer_id, cause).await?;
    ctx.services.db.batch(stmts).await?;
    Ok(())
}

#[derive(Deserialize)]
struct Oversight {
    overseer_id: String,
    kind: String,
}

/// Enforces the pool an agent belongs to now: its human overseer's pool, or its own pool under
/// the SHADOW limits (paid and valid) or the FREE limits. Call after an agent gains or loses an
/// overseer.
pub async fn enforce_agent_pool(
    ctx: &Ctx<'_>,
    agent_id: &str,
    cause: Cause,
) -> Result<(), ApiError> {
    let db = ctx.services.db.as_ref();
    let current: Option<Oversight> = db
        .run(stmt!(
            "SELECT o.overseer_id, ov.kind FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             WHERE o.agent_id = ?1 AND o.active = 1",
            agent_id
        ))
        .await?
        .first()?;
    if let Some(o) = current.as_ref().filter(|o| o.kind == "human") {
        return enforce_overseer_pool(ctx, &o.overseer_id, cause).await;
    }
    let summary = crate::domain::tier::agent_summary(db, agent_id, ctx.now_ms).await?;
    let stamp = Stamp::of(ctx, "system", None);
    db.batch(agent_pool(
        &stamp,
        agent_id,
        summary.max_clients,
        cause,
        Scope::Always,
    ))
    .await?;
    Ok(())
}
