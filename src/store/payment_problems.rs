//! The payment-problem columns of `subscriptions` (migration 0006): one conditional statement
//! that applies a payment [`Signal`] in `occurred_at` order, so events may arrive in any order
//! and any number of times and the state is that of the latest one.

use serde::Deserialize;

use super::{Db, Statement, StoreError};
use crate::domain::payment_problem::{ProblemKind, Signal};
use crate::stmt;

/// Applies `signal` of an event that occurred at `occurred_us` to subscription `id`, unless a
/// later payment event was applied already. A new problem starts at the event's time; a
/// continuing one keeps its start, and a failed attempt never turns `past_due` back into
/// `payment_failed`. Changes nothing for a subscription that is not mirrored.
pub fn apply(id: &str, signal: Signal, occurred_us: i64) -> Statement {
    stmt!(
        "UPDATE subscriptions SET \
           payment_problem_kind = CASE WHEN ?2 IS NULL THEN NULL \
             WHEN ?2 = 'payment_failed' AND payment_problem_kind = 'past_due' THEN 'past_due' \
             ELSE ?2 END, \
           payment_problem_since = CASE WHEN ?2 IS NULL THEN NULL \
             ELSE COALESCE(payment_problem_since, ?3) END, \
           payment_event_us = ?4 \
         WHERE id = ?1 AND COALESCE(payment_event_us, -1) <= ?4",
        id,
        signal.kind().map(ProblemKind::as_str),
        occurred_us.div_euclid(1000),
        occurred_us
    )
}

/// A mirrored subscription a transaction event names.
#[derive(Clone, Debug, Deserialize)]
pub struct Owner {
    pub overseer_id: String,
}

/// Whose subscription `id` is, if it is mirrored.
pub async fn owner(db: &dyn Db, id: &str) -> Result<Option<Owner>, StoreError> {
    db.run(stmt!(
        "SELECT overseer_id FROM subscriptions WHERE id = ?1",
        id
    ))
    .await?
    .first()
}
