//! The set-based statements of pool enforcement (api.md 5.8) and oversight suspension (5.13).
//!
//! Every statement selects its victims *when it runs*, so the statements can be appended to
//! the batch that changes a pool (a webhook, a claim) and see the state that batch produced.
//! Each change is preceded by an audit `INSERT … SELECT` over exactly the same selection.
//!
//! Victim order: oversights `marked_for_cancellation` first, then the most recently claimed;
//! clients `marked_for_cancellation` first, then the newest.

use super::audit::{Actor, Stamp, COLUMNS, SQL_UUID};
use super::{Statement, Value};
use crate::domain::enforcement::{Cause, Limits, Scope};

/// `?1` now, `?2` request id, `?3` ip, `?4` actor type, `?5` actor id; then `extra`.
fn params(stamp: &Stamp<'_>, actor: Actor<'_>, extra: Vec<Value>) -> Vec<Value> {
    let mut p = vec![
        Value::Int(stamp.now_ms),
        Value::from(stamp.request_id),
        Value::from(stamp.ip),
        Value::from(actor.kind()),
        Value::from(actor.id()),
    ];
    p.extend(extra);
    p
}

/// The `disabled_reason` of clients disabled for `cause`.
const fn client_reason(cause: Cause) -> &'static str {
    match cause {
        Cause::Limits => "tier_limit",
        Cause::Pause => "subscription_paused",
    }
}

/// Why an oversight was deactivated (`deactivated_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deactivation {
    /// Over the tier's `max_agents`.
    TierDowngrade,
    /// A shadow sponsorship's paid validity ended.
    ShadowExpired,
    /// The overseer's subscription was paused (a resume reactivates these).
    Paused,
    /// The overseer's subscription was canceled.
    Canceled,
}

impl Deactivation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Deactivation::TierDowngrade => "tier_downgrade",
            Deactivation::ShadowExpired => "shadow_expired",
            Deactivation::Paused => "subscription_paused",
            Deactivation::Canceled => "subscription_canceled",
        }
    }
}

/// One set-based change: its audit rows, then the change itself (whose row count tells how
/// many rows it changed).
pub struct Change {
    pub audit: Statement,
    pub apply: Statement,
}

impl IntoIterator for Change {
    type Item = Statement;
    type IntoIter = std::array::IntoIter<Statement, 2>;

    fn into_iter(self) -> Self::IntoIter {
        [self.audit, self.apply].into_iter()
    }
}

/// Audit `oversight.deactivated` for the oversights `selection` (ids) names, then deactivate them.
fn deactivate(
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    selection: &str,
    reason: Deactivation,
    extra: Vec<Value>,
) -> Change {
    let reason = reason.as_str();
    let audit = format!(
        "{COLUMNS} SELECT {SQL_UUID}, 'oversight.deactivated', ?4, ?5, 'agent', o.agent_id, \
         o.overseer_id, o.agent_id, NULL, ?3, ?2, json_object('reason', '{reason}', 'oversight_id', o.id), ?1 \
         FROM oversights o WHERE o.id IN ({selection})"
    );
    let update = format!(
        "UPDATE oversights SET active = 0, deactivated_reason = '{reason}', deactivated_at = ?1, \
         updated_at = ?1 WHERE id IN ({selection})"
    );
    Change {
        audit: Statement::new(audit, params(stamp, actor, extra.clone())),
        apply: Statement::new(update, params(stamp, actor, extra)),
    }
}

/// Audit `client.disabled` for the clients `selection` names (tagged `overseer_sql`), then
/// disable them.
fn disable(
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    selection: &str,
    overseer_sql: &str,
    cause: Cause,
    extra: Vec<Value>,
) -> Change {
    let reason = client_reason(cause);
    let audit = format!(
        "{COLUMNS} SELECT {SQL_UUID}, 'client.disabled', ?4, ?5, 'client', c.id, {overseer_sql}, \
         CASE WHEN c.owner_type = 'agent' THEN c.owner_id END, c.id, ?3, ?2, \
         json_object('reason', '{reason}'), ?1 FROM oauth_clients c WHERE c.id IN ({selection})"
    );
    let update = format!(
        "UPDATE oauth_clients SET disabled = 1, disabled_at = ?1, disabled_reason = '{reason}', \
         updated_at = ?1 WHERE id IN ({selection})"
    );
    Change {
        audit: Statement::new(audit, params(stamp, actor, extra.clone())),
        apply: Statement::new(update, params(stamp, actor, extra)),
    }
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
    actor: Actor<'_>,
    overseer_id: &str,
    limits: Limits,
    released: Limits,
    cause: Cause,
) -> Vec<Statement> {
    let mut out = Vec::new();
    if limits.max_agents >= 0 {
        out.extend(deactivate(
            stamp,
            actor,
            "SELECT id FROM oversights WHERE overseer_id = ?6 AND active = 1 \
             ORDER BY marked_for_cancellation ASC, activated_at ASC, id ASC LIMIT -1 OFFSET ?7",
            Deactivation::TierDowngrade,
            vec![overseer_id.into(), limits.max_agents.into()],
        ));
    }
    if limits.max_clients >= 0 {
        out.extend(disable(
            stamp,
            actor,
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
            actor,
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
    actor: Actor<'_>,
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
        actor,
        &format!(
            "SELECT c.id FROM oauth_clients c WHERE c.disabled = 0 AND c.owner_type = 'agent' \
             AND c.owner_id = ?6 {condition} \
             ORDER BY c.marked_for_cancellation ASC, c.created_at ASC, c.id ASC LIMIT -1 OFFSET ?7"
        ),
        "(SELECT overseer_id FROM oversights WHERE agent_id = ?6 AND active = 1)",
        cause,
        vec![agent_id.into(), max_clients.into()],
    )
    .into_iter()
    .collect()
}

/// Deactivates one shadow oversight whose paid validity has ended by the time the statement
/// runs (`shadow_expired`); a renewal committed meanwhile keeps it active.
pub fn expire_shadow(stamp: &Stamp<'_>, actor: Actor<'_>, oversight_id: &str) -> Change {
    deactivate(
        stamp,
        actor,
        "SELECT o.id FROM oversights o WHERE o.id = ?6 AND o.active = 1 AND COALESCE((SELECT \
         MAX(valid_until) FROM shadow_payments WHERE overseer_id = o.overseer_id AND applied = 1), 0) <= ?1",
        Deactivation::ShadowExpired,
        vec![oversight_id.into()],
    )
}

/// Deactivates every active oversight of an overseer (its subscription was paused or
/// canceled).
pub fn suspend_all(
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    overseer_id: &str,
    reason: Deactivation,
) -> Change {
    deactivate(
        stamp,
        actor,
        "SELECT id FROM oversights WHERE overseer_id = ?6 AND active = 1",
        reason,
        vec![overseer_id.into()],
    )
}

/// A resume (5.13): reactivates oversights suspended by the pause whose agent is not otherwise
/// claimed, in claim order, within `limits.max_agents`; then re-enables pool clients disabled by
/// the pause, oldest first, within `limits.max_clients`. Nothing else is restored.
pub fn resume(
    stamp: &Stamp<'_>,
    actor: Actor<'_>,
    overseer_id: &str,
    limits: Limits,
) -> Vec<Statement> {
    let agents = "SELECT o.id FROM oversights o WHERE o.overseer_id = ?6 AND o.active = 0 \
         AND o.deactivated_reason = 'subscription_paused' \
         AND NOT EXISTS (SELECT 1 FROM oversights x WHERE x.agent_id = o.agent_id AND x.active = 1) \
         ORDER BY o.activated_at ASC, o.id ASC \
         LIMIT CASE WHEN ?7 < 0 THEN -1 ELSE \
           MAX(0, ?7 - (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?6 AND active = 1)) END";
    let reactivate_audit = format!(
        "{COLUMNS} SELECT {SQL_UUID}, 'oversight.reactivated', ?4, ?5, 'agent', o.agent_id, \
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
        "{COLUMNS} SELECT {SQL_UUID}, 'client.enabled', ?4, ?5, 'client', c.id, ?6, \
         CASE WHEN c.owner_type = 'agent' THEN c.owner_id END, c.id, ?3, ?2, \
         json_object('reason', 'subscription_resumed'), ?1 FROM oauth_clients c WHERE c.id IN ({clients})"
    );
    let enable = format!(
        "UPDATE oauth_clients SET disabled = 0, disabled_at = NULL, disabled_reason = NULL, \
         updated_at = ?1 WHERE id IN ({clients})"
    );
    let agent_params = || {
        params(
            stamp,
            actor,
            vec![overseer_id.into(), limits.max_agents.into()],
        )
    };
    let client_params = || {
        params(
            stamp,
            actor,
            vec![overseer_id.into(), limits.max_clients.into()],
        )
    };
    vec![
        Statement::new(reactivate_audit, agent_params()),
        Statement::new(reactivate, agent_params()),
        Statement::new(enable_audit, client_params()),
        Statement::new(enable, client_params()),
    ]
}
