//! `subscription.*` events (`api.md` 7.4, 5.13): attribute, order, upsert, choose the current
//! subscription, apply the transition effects — all in the event's batch.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{AfterCommit, Decision};
use crate::audit::{self, Event};
use crate::ctx::Ctx;
use crate::domain::enforcement::{self, Cause, Limits, Stamp};
use crate::domain::ids::canonical_uuid;
use crate::domain::tier::is_active_status;
use crate::http::ApiError;
use crate::paddle::event::{self, Envelope, SubscriptionData};
use crate::paddle::link;
use crate::stmt;
use crate::store::Statement;

/// The stored state of a subscription the event may change.
#[derive(Clone, Debug, Deserialize)]
struct Stored {
    id: String,
    overseer_id: String,
    status: String,
    tier: Option<String>,
    scheduled_change_action: Option<String>,
    cancel_requested_at: Option<i64>,
    last_event_occurred_us: i64,
    created_at: i64,
}

const STORED: &str = "SELECT id, overseer_id, status, tier, scheduled_change_action, \
     cancel_requested_at, last_event_occurred_us, created_at FROM subscriptions WHERE id = ?1";

#[derive(Deserialize)]
struct Owner {
    current_subscription_id: Option<String>,
}

pub(super) async fn handle(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    // A malformed entity is an attributable-but-incomplete event: 200 ignored (security.md §16.3).
    let Ok(data) = event::subscription(&env.data) else {
        return Ok(Decision::ignore("subscription data incomplete"));
    };
    let db = ctx.services.db.as_ref();
    let existing: Option<Stored> = db
        .run(Statement::new(STORED, vec![data.id.as_str().into()]))
        .await?
        .first()?;

    let overseer_id = match &existing {
        Some(row) => row.overseer_id.clone(),
        None => match attribute(ctx, &data).await? {
            Ok(id) => id,
            Err(why) => {
                if data.custom_data.is_none() {
                    return Ok(Decision::ignore(why));
                }
                let ev = Event {
                    kind: "subscription.link_rejected",
                    actor_type: "paddle",
                    actor_id: None,
                    subject_type: Some("subscription"),
                    subject_id: Some(&data.id),
                    overseer_id: None,
                    agent_id: None,
                    details: json!({"event_id": env.event_id, "reason": why}),
                };
                return Ok(Decision::Ignore {
                    why,
                    stmts: vec![audit::insert(ctx, &ev)?],
                });
            }
        },
    };
    if existing
        .as_ref()
        .is_some_and(|r| env.occurred_at_us < r.last_event_occurred_us)
    {
        return Ok(Decision::ignore("stale event"));
    }

    let owner: Option<Owner> = db
        .run(stmt!(
            "SELECT current_subscription_id FROM overseers WHERE id = ?1",
            overseer_id.as_str()
        ))
        .await?
        .first()?;
    let Some(owner) = owner else {
        return Ok(Decision::ignore("overseer no longer exists"));
    };
    let current: Option<Stored> = match &owner.current_subscription_id {
        Some(id) if *id == data.id => existing.clone(),
        Some(id) => db
            .run(Statement::new(STORED, vec![id.as_str().into()]))
            .await?
            .first()?,
        None => None,
    };

    let (price_id, tier) = price_and_tier(ctx, &data);
    let is_current_now = owner.current_subscription_id.as_deref() == Some(data.id.as_str());
    let becomes_current = !is_current_now
        && data.status != "canceled"
        && match &current {
            None => true,
            Some(c) => {
                c.status == "canceled"
                    || existing
                        .as_ref()
                        .is_none_or(|e| e.created_at > c.created_at)
            }
        };

    // Everything below was decided on `existing`, `owner` and `current`: the batch goes through
    // only if none of them changed meanwhile, so a concurrent event's upsert can never be paired
    // with effects computed for another state (an older event's suspension after a newer resume,
    // or a newer event's effects computed before an older one committed).
    let mut stmts = unchanged_guard(
        &data.id,
        existing.as_ref(),
        &overseer_id,
        owner.current_subscription_id.as_deref(),
        current.as_ref(),
    );
    stmts.push(upsert(
        ctx,
        env,
        &data,
        &overseer_id,
        price_id.as_deref(),
        tier,
    ));
    let mut after = Vec::new();
    if becomes_current {
        stmts.push(stmt!(
            "UPDATE overseers SET current_subscription_id = ?2, updated_at = ?3 WHERE id = ?1",
            overseer_id.as_str(),
            data.id.as_str(),
            ctx.now_ms
        ));
        // The replaced subscription stops renewing at the end of its period (7.4).
        if let Some(prev) = current.as_ref().filter(|c| {
            is_active_status(&c.status)
                && c.scheduled_change_action.as_deref() != Some("cancel")
                && c.cancel_requested_at.is_none()
        }) {
            stmts.push(stmt!(
                "UPDATE subscriptions SET cancel_requested_at = ?2, cancel_attempts = 0, updated_at = ?2 \
                 WHERE id = ?1 AND cancel_requested_at IS NULL",
                prev.id.as_str(),
                ctx.now_ms
            ));
            after.push(AfterCommit::CancelAtPeriodEnd(prev.id.clone()));
        }
    }
    if let Some(customer) = &data.customer_id {
        stmts.push(stmt!(
            "UPDATE overseers SET paddle_customer_id = ?2, updated_at = ?3 \
             WHERE id = ?1 AND paddle_customer_id IS NULL",
            overseer_id.as_str(),
            customer.as_str(),
            ctx.now_ms
        ));
    }

    // Transition effects apply to the overseer's current subscription only (5.13).
    let before = if is_current_now {
        existing.as_ref()
    } else {
        current.as_ref()
    };
    let old_state = before.map(|c| (c.status.as_str(), c.tier.as_deref()));
    if is_current_now || becomes_current {
        stmts.extend(effects(ctx, &overseer_id, old_state, &data.status, tier).await?);
    }

    let kind = if existing.is_none() {
        "subscription.linked"
    } else {
        "subscription.updated"
    };
    let old = existing.as_ref();
    let ev = Event {
        kind,
        actor_type: "paddle",
        actor_id: None,
        subject_type: Some("subscription"),
        subject_id: Some(&data.id),
        overseer_id: Some(&overseer_id),
        agent_id: None,
        details: json!({
            "event_id": env.event_id,
            "event_type": env.event_type,
            "old_status": old.map(|o| o.status.as_str()),
            "new_status": data.status,
            "old_tier": old.and_then(|o| o.tier.as_deref()),
            "new_tier": tier,
        }),
    };
    stmts.push(audit::insert(ctx, &ev)?);
    Ok(Decision::Apply { stmts, after })
}

/// Links a subscription seen for the first time through its server-signed `custom_data`
/// (7.3): valid `link_sig`, an existing human overseer, a price among the items that maps to the
/// named purchasable tier. `Err` names the reason (for the log and the audit row).
async fn attribute(
    ctx: &Ctx<'_>,
    data: &SubscriptionData,
) -> Result<Result<String, &'static str>, ApiError> {
    let Some(custom) = &data.custom_data else {
        return Ok(Err("unknown subscription without custom_data"));
    };
    let text = |k: &str| custom.get(k).and_then(Value::as_str);
    let (Some(overseer_raw), Some(price_id), Some(nonce), Some(sig), Some(tier)) = (
        text("overseer_id"),
        text("price_id"),
        text("nonce"),
        text("link_sig"),
        text("tier"),
    ) else {
        return Ok(Err("custom_data incomplete"));
    };
    let Some(overseer_id) = canonical_uuid(overseer_raw) else {
        return Ok(Err("custom_data overseer_id invalid"));
    };
    let key = ctx.config.link_key.as_ref()?;
    let expected = link::subscription_sig(key, &overseer_id, price_id, nonce);
    if !link::verify_sig(&expected, sig) {
        return Ok(Err("link_sig does not verify"));
    }
    if !data.price_ids.iter().any(|p| p == price_id) {
        return Ok(Err("custom_data price_id not among the items"));
    }
    match ctx.config.paddle.tier_of(price_id) {
        Some(t) if t != "SHADOW" && t.eq_ignore_ascii_case(tier) => {}
        _ => return Ok(Err("custom_data price_id does not map to its tier")),
    }
    let human = !ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human'",
            overseer_id.as_str()
        ))
        .await?
        .rows
        .is_empty();
    Ok(if human {
        Ok(overseer_id)
    } else {
        Err("custom_data overseer does not exist")
    })
}

/// The price id and tier of the first item whose price maps to BASIC/PRO/PREMIUM; otherwise the
/// first item's price and no tier (the subscription then grants FREE limits).
fn price_and_tier(
    ctx: &Ctx<'_>,
    data: &SubscriptionData,
) -> (Option<String>, Option<&'static str>) {
    for p in &data.price_ids {
        if let Some(t) = ctx.config.paddle.tier_of(p).filter(|t| *t != "SHADOW") {
            return (Some(p.clone()), Some(t));
        }
    }
    (data.price_ids.first().cloned(), None)
}

/// A batch guard (api.md 3.5) that aborts the event's batch unless the subscription's
/// `last_event_occurred_us`, the overseer's current subscription and that one's
/// `last_event_occurred_us` are still what the decision read (`-1`/`''` stand for "none").
/// The webhook route then decides the event again on the new state.
fn unchanged_guard(
    subscription_id: &str,
    existing: Option<&Stored>,
    overseer_id: &str,
    current_id: Option<&str>,
    current: Option<&Stored>,
) -> Vec<Statement> {
    vec![
        stmt!(
            "INSERT INTO batch_guards (ok) SELECT CASE WHEN \
               COALESCE((SELECT last_event_occurred_us FROM subscriptions WHERE id = ?1), -1) = ?2 \
               AND COALESCE((SELECT current_subscription_id FROM overseers WHERE id = ?3), '') = ?4 \
               AND COALESCE((SELECT last_event_occurred_us FROM subscriptions WHERE id = ?4), -1) = ?5 \
             THEN 1 ELSE 0 END",
            subscription_id,
            existing.map_or(-1, |e| e.last_event_occurred_us),
            overseer_id,
            current_id.unwrap_or(""),
            current.map_or(-1, |c| c.last_event_occurred_us)
        ),
        stmt!("DELETE FROM batch_guards"),
    ]
}

fn ms(us: Option<i64>) -> Option<i64> {
    us.map(|v| v.div_euclid(1000))
}

/// Insert or update the local mirror. The `WHERE` keeps a newer event (the guard in front of it
/// already refuses any concurrent change).
fn upsert(
    ctx: &Ctx<'_>,
    env: &Envelope,
    data: &SubscriptionData,
    overseer_id: &str,
    price_id: Option<&str>,
    tier: Option<&str>,
) -> Statement {
    let sc = data.scheduled_change.as_ref();
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
        data.id.as_str(),
        overseer_id,
        data.customer_id.as_deref(),
        data.status.as_str(),
        price_id,
        tier,
        ms(data.period_start_us),
        ms(data.period_end_us),
        ms(data.next_billed_at_us),
        sc.map(|c| c.action.as_str()),
        ms(sc.and_then(|c| c.effective_at_us)),
        ms(data.paused_at_us),
        ms(data.canceled_at_us),
        env.occurred_at_us,
        ctx.now_ms
    )
}

/// The effects of 5.13 for a change of the current subscription from `old` (status, tier;
/// `None` = no subscription) to `new_status`/`new_tier`.
async fn effects(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    old: Option<(&str, Option<&str>)>,
    new_status: &str,
    new_tier: Option<&str>,
) -> Result<Vec<Statement>, ApiError> {
    let db = ctx.services.db.as_ref();
    let stamp = Stamp::of(ctx, "paddle", None);
    let free = enforcement::tier_limits(db, "FREE").await?;
    let was_paused = old.is_some_and(|(s, _)| s == "paused");
    let was_canceled = old.is_some_and(|(s, _)| s == "canceled");
    let mut out = Vec::new();
    match new_status {
        "paused" if !was_paused => {
            out.extend(enforcement::suspend_all(
                &stamp,
                overseer_id,
                "subscription_paused",
            ));
            out.extend(enforcement::overseer_pool(
                &stamp,
                overseer_id,
                free,
                free,
                Cause::Pause,
            ));
        }
        "canceled" if !was_canceled => {
            out.extend(enforcement::suspend_all(
                &stamp,
                overseer_id,
                "subscription_canceled",
            ));
            out.extend(enforcement::overseer_pool(
                &stamp,
                overseer_id,
                free,
                free,
                Cause::Limits,
            ));
        }
        s if is_active_status(s) => {
            let limits: Limits = match new_tier {
                Some(t) => enforcement::tier_limits(db, t).await?,
                None => free,
            };
            if was_paused {
                out.extend(enforcement::resume(&stamp, overseer_id, limits));
            }
            out.extend(enforcement::overseer_pool(
                &stamp,
                overseer_id,
                limits,
                free,
                Cause::Limits,
            ));
        }
        _ => {}
    }
    Ok(out)
}
