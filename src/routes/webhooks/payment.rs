//! Payment events of subscriptions (issue 12 item 6). `transaction.payment_failed` and
//! `transaction.past_due` record a payment problem on the mirrored subscription they name, and
//! audit `subscription.payment_problem` for its overseer; the `subscription.*` event that brings
//! the subscription back to `active` ends it (`subscription.rs`; a `transaction.completed` stays
//! ignored as api.md 7.4 says, since Paddle also moves the subscription out of `past_due`). Ordering is by `occurred_at` on the payment columns alone
//! (`store::payment_problems::apply`), so these events never race the subscription mirror's
//! batch guard. Nothing here enforces: see `domain::payment_problem` for the dunning rule.

use serde_json::json;

use super::Decision;
use crate::ctx::Ctx;
use crate::domain::payment_problem::Signal;
use crate::guard;
use crate::http::ApiError;
use crate::paddle::event::{self, Envelope};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::payment_problems;

pub(super) async fn handle(
    ctx: &Ctx<'_>,
    env: &Envelope,
    signal: Signal,
) -> Result<Decision, ApiError> {
    let Ok(txn) = event::transaction(&env.data) else {
        return Ok(Decision::ignore("transaction data incomplete"));
    };
    let Some(subscription_id) = txn.subscription_id.as_deref() else {
        return Ok(Decision::ignore("not a subscription payment"));
    };
    let Some(owner) = payment_problems::owner(ctx.db(), subscription_id).await? else {
        return Ok(Decision::ignore("unknown subscription"));
    };
    let mut batch = Batch::new();
    batch.push(payment_problems::apply(
        subscription_id,
        signal,
        env.occurred_at_us,
    ));
    if let Signal::Problem(kind) = signal {
        let event = Event::new("subscription.payment_problem", Actor::Paddle)
            .subject(Subject::Subscription(subscription_id))
            .overseer(&owner.overseer_id)
            .details(json!({
                "event_id": env.event_id,
                "event_type": env.event_type,
                "transaction_id": txn.id,
                "kind": kind.as_str(),
            }));
        // Audited only when this event's signal was applied (not older than the last one).
        batch.push_if(
            event.insert(&ctx.stamp()),
            guard!(
                "EXISTS (SELECT 1 FROM subscriptions WHERE id = ?1 AND payment_event_us = ?2)",
                subscription_id,
                env.occurred_at_us
            ),
        );
    }
    Ok(Decision::Apply {
        batch,
        after: Vec::new(),
    })
}
