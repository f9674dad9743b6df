//! E-mail changes awaiting their link: `overseer_tokens` rows of purpose `email_change`, whose
//! `email` is the new address. It takes effect only when the token mailed to that address
//! comes back. Tokens are stored as SHA-256 hashes and used once.
//!
//! Functions here return statements for the caller's batch and typed rows; they never see the
//! HTTP request.

use serde::Deserialize;

use crate::stmt;
use crate::store::Statement;

/// How long a change link stays valid: a day, so that a link read the next morning still works.
pub const TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Replaces any change the overseer still has pending: only the latest link works.
pub fn forget_pending(overseer_id: &str) -> Statement {
    stmt!(
        "DELETE FROM overseer_tokens WHERE overseer_id = ?1 AND purpose = 'email_change' \
         AND used_at IS NULL",
        overseer_id
    )
}

pub fn insert(token_hash: &str, overseer_id: &str, new_email: &str, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO overseer_tokens (token_hash, purpose, overseer_id, email, expires_at, created_at) \
         VALUES (?1, 'email_change', ?2, ?3, ?4, ?5)",
        token_hash,
        overseer_id,
        new_email,
        now_ms + TTL_MS,
        now_ms
    )
}

/// A stored change, looked up by its token hash.
#[derive(Debug, Deserialize)]
pub struct PendingRow {
    pub overseer_id: String,
    /// The new address.
    pub email: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// The change a token hash names (one [`PendingRow`], or none; tokens of other purposes are
/// not changes).
pub fn by_token(token_hash: &str) -> Statement {
    stmt!(
        "SELECT overseer_id, email, expires_at, used_at FROM overseer_tokens \
         WHERE token_hash = ?1 AND purpose = 'email_change'",
        token_hash
    )
}

/// Marks the change used, once and only while valid: a concurrent second use changes nothing.
pub fn consume(token_hash: &str, overseer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseer_tokens SET used_at = ?3 WHERE token_hash = ?1 AND overseer_id = ?2 \
         AND purpose = 'email_change' AND used_at IS NULL AND expires_at > ?3",
        token_hash,
        overseer_id,
        now_ms
    )
}

/// A batch guard: aborts the whole batch (`CHECK` on `batch_guards`) unless [`consume`] at
/// `now_ms` took effect before it, so a concurrent second use changes and sends nothing.
pub fn abort_unless_consumed(token_hash: &str, now_ms: i64) -> [Statement; 2] {
    [
        stmt!(
            "INSERT INTO batch_guards (ok) SELECT CASE WHEN EXISTS (SELECT 1 FROM overseer_tokens \
               WHERE token_hash = ?1 AND used_at = ?2) THEN 1 ELSE 0 END",
            token_hash,
            now_ms
        ),
        stmt!("DELETE FROM batch_guards"),
    ]
}
