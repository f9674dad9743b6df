//! Webhook deliveries: idempotency and ordering records of Paddle events.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use super::{Db, Statement, StoreError};
use crate::stmt;

/// Whether the event was recorded already (processed or ignored).
pub async fn seen(db: &dyn Db, event_id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM webhook_events WHERE event_id = ?1",
            event_id
        ))
        .await?
        .rows
        .is_empty())
}

/// What became of a recorded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    Ignored,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Ignored => "ignored",
        }
    }
}

/// The event as delivered (its envelope).
pub struct Delivery<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub notification_id: Option<&'a str>,
    pub occurred_at_us: i64,
}

/// Records the event, in the batch of its effects. Its primary key makes a concurrent second
/// delivery of the same event fail the whole batch.
pub fn record(d: &Delivery<'_>, outcome: Outcome, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO webhook_events (event_id, event_type, notification_id, occurred_at_us, outcome, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        d.event_id,
        d.event_type,
        d.notification_id,
        d.occurred_at_us,
        outcome.as_str(),
        now_ms
    )
}
