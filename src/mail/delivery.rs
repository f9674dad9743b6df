//! One delivery attempt of an outbox message, shared by the send after the response and the
//! cron job's retries: claim → send → record, and after the last attempt, give up and audit.

use serde_json::json;

use super::mailer::Mailer;
use crate::log;
use crate::store::audit::{Actor, Event, Stamp, Subject};
use crate::store::batch::Batch;
use crate::store::outbox::{self, Pending};
use crate::store::{Db, StoreError};

/// Attempts before a message is given up (`mail.failed` audited).
pub const MAX_ATTEMPTS: i64 = 6;

const MINUTE_MS: i64 = 60_000;

/// How long after attempt `attempt` the next one is due: 5 min, 15 min, 1 h, 4 h, 12 h. The
/// cron job runs every 15 minutes, so the short ones are "the next run". A claimed attempt
/// also holds the message this long, so a slow send is never doubled by the cron job.
pub const fn backoff_ms(attempt: i64) -> i64 {
    MINUTE_MS
        * match attempt {
            ..=1 => 5,
            2 => 15,
            3 => 60,
            4 => 240,
            _ => 720,
        }
}

/// What one attempt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The provider accepted the message.
    Sent,
    /// It failed; the cron job retries.
    Failed,
    /// It failed for the last time: given up and audited.
    GaveUp,
    /// Not ours to send: already sent, taken by another delivery, not yet due, or never
    /// committed.
    Skipped,
}

impl Delivery {
    pub const fn as_str(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::GaveUp => "gave_up",
            Delivery::Skipped => "skipped",
        }
    }
}

/// Attempts `pending` at `now_ms`.
pub async fn deliver(
    db: &dyn Db,
    mailer: &dyn Mailer,
    pending: &Pending,
    now_ms: i64,
) -> Result<Delivery, StoreError> {
    let retry_at = now_ms + backoff_ms(pending.attempt);
    let claimed = db
        .run(outbox::claim(
            &pending.id,
            pending.attempt,
            now_ms,
            retry_at,
        ))
        .await?;
    if claimed.changes == 0 {
        return Ok(Delivery::Skipped);
    }
    let error = match mailer.send(&pending.id, &pending.msg).await {
        Ok(()) => {
            db.run(outbox::mark_sent(&pending.id, now_ms)).await?;
            return Ok(Delivery::Sent);
        }
        Err(e) => e.to_string(),
    };
    if pending.attempt < MAX_ATTEMPTS {
        db.run(outbox::record_failure(&pending.id, &error)).await?;
        return Ok(Delivery::Failed);
    }
    let kind = pending.msg.kind.as_str();
    let details = json!({"outbox_id": pending.id, "kind": kind, "attempts": pending.attempt,
        "error": error});
    let mut event = Event::new("mail.failed", Actor::System).details(details);
    if let Some(o) = pending.msg.overseer_id.as_deref() {
        event = event.subject(Subject::Overseer(o)).overseer(o);
    }
    let mut batch = Batch::new();
    batch.push(outbox::give_up(&pending.id, &error));
    batch.push(event.insert(&Stamp::system(now_ms)));
    batch.run(db).await?;
    Ok(Delivery::GaveUp)
}

/// [`deliver`], logging the outcome (ids, kind and error only: never the address or body).
pub async fn deliver_logged(
    db: &dyn Db,
    mailer: &dyn Mailer,
    pending: &Pending,
    now_ms: i64,
    request_id: Option<&str>,
) -> Option<Delivery> {
    let mut line = json!({"task": "mail_send", "outbox_id": pending.id,
        "kind": pending.msg.kind.as_str(), "attempt": pending.attempt});
    if let Some(id) = request_id {
        line["request_id"] = id.into();
    }
    match deliver(db, mailer, pending, now_ms).await {
        Ok(d) => {
            line["outcome"] = d.as_str().into();
            match d {
                Delivery::Sent | Delivery::Skipped => log::info(&line),
                Delivery::Failed | Delivery::GaveUp => log::warn(&line),
            }
            Some(d)
        }
        Err(e) => {
            line["outcome"] = "store_error".into();
            line["detail"] = e.to_string().into();
            log::warn(&line);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let steps: Vec<i64> = (1..=MAX_ATTEMPTS).map(backoff_ms).collect();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(backoff_ms(1), 5 * MINUTE_MS);
        assert_eq!(backoff_ms(99), 720 * MINUTE_MS);
    }
}
