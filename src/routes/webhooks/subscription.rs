//! `subscription.*` events (`api.md` 7.4, 5.13): attribute, order, upsert, choose the current
//! subscription, apply the transition effects — all in the event's batch.

use serde_json::{json, Value};

use super::{AfterCommit, Decision};
use crate::ctx::Ctx;
use crate::domain::enforcement::{self, Cause};
use crate::domain::ids::canonical_uuid;
use crate::domain::payment_problem::Signal;
use crate::domain::subscription::{Status, Transition};
use crate::http::ApiError;
use crate::paddle::event::{self, Envelope, SubscriptionData};
use crate::paddle::link;
use crate::store::audit::{Actor, Event, Stamp, Subject};
use crate::store::batch::Batch;
use crate::store::pools::{self, Deactivation};
use crate::store::subscriptions::{self, DecidedOn, Mirror, Stored};
use crate::store::{overseers, payment_problems, Db, Statement, StoreError};

/// Who a subscription seen for the first time belongs to.
enum Attribution {
    /// Its signed `custom_data` names this human overseer.
    Linked(String),
    /// Why it cannot be linked (for the log and the audit row).
    Rejected(&'static str),
}

/// What the decision reads: the event's subscription as stored, its overseer, and that
/// overseer's current subscription.
struct State<'a> {
    data: &'a SubscriptionData,
    status: Status,
    existing: Option<Stored>,
    overseer_id: String,
    current_id: Option<String>,
    current: Option<Stored>,
}

pub(super) async fn handle(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    // A malformed entity is an attributable-but-incomplete event: 200 ignored (security.md §16.3).
    let Ok(data) = event::subscription(&env.data) else {
        return Ok(Decision::ignore("subscription data incomplete"));
    };
    let db = ctx.db();
    let existing = subscriptions::stored(db, &data.id).await?;
    let overseer_id = match &existing {
        Some(row) => row.overseer_id.clone(),
        None => match attribute(ctx, &data).await? {
            Attribution::Linked(id) => id,
            Attribution::Rejected(why) => return Ok(rejected(ctx, env, &data, why)),
        },
    };
    if existing
        .as_ref()
        .is_some_and(|r| env.occurred_at_us < r.last_event_occurred_us)
    {
        return Ok(Decision::ignore("stale event"));
    }
    let Some(current_id) = overseers::current_subscription_id(db, &overseer_id).await? else {
        return Ok(Decision::ignore("overseer no longer exists"));
    };
    let current = match &current_id {
        Some(id) if *id == data.id => existing.clone(),
        Some(id) => subscriptions::stored(db, id).await?,
        None => None,
    };
    let state = State {
        status: Status::from(data.status.as_str()),
        data: &data,
        existing,
        overseer_id,
        current_id,
        current,
    };
    apply(ctx, env, &state).await
}

/// An unlinkable new subscription: ignored, and audited when it carried a link at all.
fn rejected(ctx: &Ctx<'_>, env: &Envelope, data: &SubscriptionData, why: &'static str) -> Decision {
    if data.custom_data.is_none() {
        return Decision::ignore(why);
    }
    let event = Event::new("subscription.link_rejected", Actor::Paddle)
        .subject(Subject::Subscription(&data.id))
        .details(json!({"event_id": env.event_id, "reason": why}));
    Decision::ignored_with(why, event.insert(&ctx.stamp()))
}

/// The event's batch: a guard on the state it was decided on, the upsert, the current
/// subscription's replacement, the transition effects and the audit row.
async fn apply(ctx: &Ctx<'_>, env: &Envelope, s: &State<'_>) -> Result<Decision, ApiError> {
    let data = s.data;
    let (price_id, tier) = price_and_tier(ctx, data);
    let is_current_now = s.current_id.as_deref() == Some(data.id.as_str());
    let becomes_current = !is_current_now
        && s.status != Status::Canceled
        && s.current.as_ref().is_none_or(|c| {
            c.status == Status::Canceled
                || s.existing
                    .as_ref()
                    .is_none_or(|e| e.created_at > c.created_at)
        });

    // Everything below was decided on `existing`, the current subscription id and `current`:
    // the batch goes through only if none of them changed meanwhile, so a concurrent event's
    // upsert can never be paired with effects computed for another state.
    let mut batch = Batch::new();
    batch.extend(subscriptions::unchanged(&DecidedOn {
        subscription_id: &data.id,
        subscription_event_us: s.existing.as_ref().map(|e| e.last_event_occurred_us),
        overseer_id: &s.overseer_id,
        current_id: s.current_id.as_deref(),
        current_event_us: s.current.as_ref().map(|c| c.last_event_occurred_us),
    }));
    batch.push(subscriptions::upsert(
        &mirror(env, data, &s.overseer_id, price_id.as_deref(), tier),
        ctx.now_ms,
    ));
    // The status also says whether a payment problem started or ended (issue 12 item 6).
    if let Some(signal) = Signal::of_status(&s.status) {
        batch.push(payment_problems::apply(
            &data.id,
            signal,
            env.occurred_at_us,
        ));
    }
    let mut after = Vec::new();
    if becomes_current {
        batch.push(overseers::set_current_subscription(
            &s.overseer_id,
            &data.id,
            ctx.now_ms,
        ));
        // The replaced subscription stops renewing at the end of its period (7.4).
        if let Some(prev) = s.current.as_ref().filter(|c| c.renews()) {
            batch.push(subscriptions::request_cancel(&prev.id, ctx.now_ms));
            after.push(AfterCommit::CancelAtPeriodEnd(prev.id.clone()));
        }
    }
    if let Some(customer) = &data.customer_id {
        batch.push(overseers::set_customer_if_unset(
            &s.overseer_id,
            customer,
            ctx.now_ms,
        ));
    }
    // Transition effects apply to the overseer's current subscription only (5.13).
    if is_current_now || becomes_current {
        let before = if is_current_now {
            &s.existing
        } else {
            &s.current
        };
        let transition = Transition::between(before.as_ref().map(|c| &c.status), &s.status);
        let stamp = ctx.stamp();
        batch.extend(effects(ctx.db(), &stamp, &s.overseer_id, transition, tier).await?);
    }
    batch.push(audit(env, s, tier).insert(&ctx.stamp()));
    Ok(Decision::Apply { batch, after })
}

/// `subscription.linked` (first event) or `subscription.updated`, with the change it records.
fn audit<'a>(env: &'a Envelope, s: &'a State<'_>, tier: Option<&str>) -> Event<'a> {
    let old = s.existing.as_ref();
    let kind = if old.is_none() {
        "subscription.linked"
    } else {
        "subscription.updated"
    };
    Event::new(kind, Actor::Paddle)
        .subject(Subject::Subscription(&s.data.id))
        .overseer(&s.overseer_id)
        .details(json!({
            "event_id": env.event_id,
            "event_type": env.event_type,
            "old_status": old.map(|o| o.status.as_str()),
            "new_status": s.data.status,
            "old_tier": old.and_then(|o| o.tier.as_deref()),
            "new_tier": tier,
        }))
}

/// Links a subscription seen for the first time through its server-signed `custom_data`
/// (7.3): valid `link_sig`, an existing human overseer, a price among the items that maps to the
/// named purchasable tier.
async fn attribute(ctx: &Ctx<'_>, data: &SubscriptionData) -> Result<Attribution, ApiError> {
    use Attribution::Rejected;
    let Some(custom) = &data.custom_data else {
        return Ok(Rejected("unknown subscription without custom_data"));
    };
    let text = |k: &str| custom.get(k).and_then(Value::as_str);
    let (Some(overseer_raw), Some(price_id), Some(nonce), Some(sig), Some(tier)) = (
        text("overseer_id"),
        text("price_id"),
        text("nonce"),
        text("link_sig"),
        text("tier"),
    ) else {
        return Ok(Rejected("custom_data incomplete"));
    };
    let Some(overseer_id) = canonical_uuid(overseer_raw) else {
        return Ok(Rejected("custom_data overseer_id invalid"));
    };
    let key = ctx.config.link_key.as_ref()?;
    let expected = link::subscription_sig(key, &overseer_id, price_id, nonce);
    if !link::verify_sig(&expected, sig) {
        return Ok(Rejected("link_sig does not verify"));
    }
    if !data.price_ids.iter().any(|p| p == price_id) {
        return Ok(Rejected("custom_data price_id not among the items"));
    }
    match ctx.config.paddle.tier_of(price_id) {
        Some(t) if t != "SHADOW" && t.eq_ignore_ascii_case(tier) => {}
        _ => return Ok(Rejected("custom_data price_id does not map to its tier")),
    }
    Ok(if overseers::is_human(ctx.db(), &overseer_id).await? {
        Attribution::Linked(overseer_id)
    } else {
        Rejected("custom_data overseer does not exist")
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

fn ms(us: Option<i64>) -> Option<i64> {
    us.map(|v| v.div_euclid(1000))
}

/// The event's entity as the local mirror stores it.
fn mirror<'a>(
    env: &Envelope,
    data: &'a SubscriptionData,
    overseer_id: &'a str,
    price_id: Option<&'a str>,
    tier: Option<&'a str>,
) -> Mirror<'a> {
    let sc = data.scheduled_change.as_ref();
    Mirror {
        id: &data.id,
        overseer_id,
        customer_id: data.customer_id.as_deref(),
        status: &data.status,
        price_id,
        tier,
        period_start: ms(data.period_start_us),
        period_end: ms(data.period_end_us),
        next_billed_at: ms(data.next_billed_at_us),
        scheduled_change_action: sc.map(|c| c.action.as_str()),
        scheduled_change_at: ms(sc.and_then(|c| c.effective_at_us)),
        paused_at: ms(data.paused_at_us),
        canceled_at: ms(data.canceled_at_us),
        occurred_us: env.occurred_at_us,
    }
}

/// The statements of a transition of the current subscription to `new_tier` (5.13).
async fn effects(
    db: &dyn Db,
    stamp: &Stamp<'_>,
    overseer_id: &str,
    transition: Transition,
    new_tier: Option<&str>,
) -> Result<Vec<Statement>, StoreError> {
    let free = enforcement::tier_limits(db, "FREE").await?;
    let actor = Actor::Paddle;
    let mut out = Vec::new();
    match transition {
        Transition::Pause | Transition::Cancel => {
            let (reason, cause) = if transition == Transition::Pause {
                (Deactivation::Paused, Cause::Pause)
            } else {
                (Deactivation::Canceled, Cause::Limits)
            };
            out.extend(pools::suspend_all(stamp, actor, overseer_id, reason));
            out.extend(pools::overseer_pool(
                stamp,
                actor,
                overseer_id,
                free,
                free,
                cause,
            ));
        }
        Transition::Activate { resumed } => {
            let limits = match new_tier {
                Some(t) => enforcement::tier_limits(db, t).await?,
                None => free,
            };
            if resumed {
                out.extend(pools::resume(stamp, actor, overseer_id, limits));
            }
            out.extend(pools::overseer_pool(
                stamp,
                actor,
                overseer_id,
                limits,
                free,
                Cause::Limits,
            ));
        }
        Transition::None => {}
    }
    Ok(out)
}
