//! The mail outbox (`mail_outbox`): messages written with the change that caused them, sent
//! after the response, retried by the cron job. A delivery first *claims* the row (one attempt
//! counted, the next attempt pushed back), so the deferred send and the cron job never send the
//! same message at the same time, and a message whose batch never committed is never sent.

use serde::Deserialize;

use crate::mail::{Kind, Message};
use crate::stmt;
use crate::store::{Db, Statement, StoreError};

/// A message to deliver and the attempt this delivery is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub msg: Message,
    /// 1 for the send right after the request; the row's `attempts + 1` for a retry.
    pub attempt: i64,
}

impl Pending {
    pub fn first_attempt(id: String, msg: Message) -> Self {
        Self {
            id,
            msg,
            attempt: 1,
        }
    }
}

/// The outbox INSERT of a new message, due now. An `INSERT … SELECT` without `WHERE`, so a
/// caller can guard it ([`Statement::only_if`]): "send only if the change happened".
pub fn insert(id: &str, msg: &Message, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO mail_outbox (id, kind, overseer_id, recipient, subject, body_text, body_html, \
           status, attempts, next_attempt_at, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8",
        id,
        msg.kind.as_str(),
        msg.overseer_id.as_deref(),
        msg.to.as_str(),
        msg.subject.as_str(),
        msg.text.as_str(),
        msg.html.as_str(),
        now_ms
    )
}

/// Takes attempt `attempt` of message `id` if it is pending, due, and no other delivery took
/// that attempt; the next attempt is due at `retry_at`. One change when claimed.
pub fn claim(id: &str, attempt: i64, now_ms: i64, retry_at: i64) -> Statement {
    stmt!(
        "UPDATE mail_outbox SET attempts = ?2, next_attempt_at = ?4 \
         WHERE id = ?1 AND status = 'pending' AND attempts = ?2 - 1 AND next_attempt_at <= ?3",
        id,
        attempt,
        now_ms,
        retry_at
    )
}

/// Marks `id` sent and blanks its bodies (they may hold a one-time link).
pub fn mark_sent(id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE mail_outbox SET status = 'sent', sent_at = ?2, body_text = '', body_html = '', \
           last_error = NULL WHERE id = ?1",
        id,
        now_ms
    )
}

/// Records why the attempt failed (the row stays pending for the cron job).
pub fn record_failure(id: &str, error: &str) -> Statement {
    stmt!(
        "UPDATE mail_outbox SET last_error = ?2 WHERE id = ?1",
        id,
        error
    )
}

/// Gives `id` up: failed, bodies blanked.
pub fn give_up(id: &str, error: &str) -> Statement {
    stmt!(
        "UPDATE mail_outbox SET status = 'failed', last_error = ?2, body_text = '', body_html = '' \
         WHERE id = ?1 AND status = 'pending'",
        id,
        error
    )
}

#[derive(Deserialize)]
struct Row {
    id: String,
    kind: String,
    overseer_id: Option<String>,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    attempts: i64,
}

/// Pending messages due at `now_ms`, oldest due first, at most `limit`.
pub async fn due(db: &dyn Db, now_ms: i64, limit: i64) -> Result<Vec<Pending>, StoreError> {
    let rows: Vec<Row> = db
        .run(stmt!(
            "SELECT id, kind, overseer_id, recipient, subject, body_text, body_html, attempts \
             FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at, id LIMIT ?2",
            now_ms,
            limit
        ))
        .await?
        .decode()?;
    rows.into_iter()
        .map(|r| {
            let kind = Kind::parse(&r.kind)
                .ok_or_else(|| StoreError::Decode(format!("unknown mail kind {}", r.kind)))?;
            Ok(Pending {
                id: r.id,
                attempt: r.attempts + 1,
                msg: Message {
                    kind,
                    overseer_id: r.overseer_id,
                    to: r.recipient,
                    subject: r.subject,
                    text: r.body_text,
                    html: r.body_html,
                },
            })
        })
        .collect()
}

/// Deletes up to 500 messages sent or given up before `cutoff` (the cron job; their bodies are
/// already blank, the row is only the delivery record).
pub fn purge_done(cutoff: i64) -> Statement {
    stmt!(
        "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
         WHERE status IN ('sent','failed') AND created_at < ?1 LIMIT 500)",
        cutoff
    )
}
