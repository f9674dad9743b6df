//! The one-time tokens of e-mailed links (`overseer_tokens`), stored as SHA-256 only and bound
//! to the address they were sent to. A token is consumed by an UPDATE that records the request
//! using it, and that request's other statements are guarded on [`consumed_by`], so a token
//! raced by two requests takes effect once.

use serde::Deserialize;

use crate::guard;
use crate::stmt;
use crate::store::batch::Guard;
use crate::store::{Db, Statement, StoreError};

/// What a token is for (the `purpose` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    EmailVerification,
    PasswordReset,
    /// Confirming a new address (account settings).
    EmailChange,
}

impl Purpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email_verification",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
        }
    }
}

/// A new token for `overseer_id` at `email`, usable until `expires_at` (Unix ms).
pub fn issue(
    hash: &str,
    purpose: Purpose,
    overseer_id: &str,
    email: &str,
    expires_at: i64,
    now_ms: i64,
) -> Statement {
    stmt!(
        "INSERT INTO overseer_tokens (token_hash, purpose, overseer_id, email, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        hash,
        purpose.as_str(),
        overseer_id,
        email,
        expires_at,
        now_ms
    )
}

/// A new token for the human account using `email`, if there is one: the same statement
/// whether or not there is (nothing is inserted for an unknown address).
pub fn issue_for_address(
    hash: &str,
    purpose: Purpose,
    email: &str,
    expires_at: i64,
    now_ms: i64,
) -> Statement {
    stmt!(
        "INSERT INTO overseer_tokens (token_hash, purpose, overseer_id, email, expires_at, created_at) \
         SELECT ?1, ?2, id, email, ?4, ?5 FROM overseers WHERE email = ?3 AND kind = 'human'",
        hash,
        purpose.as_str(),
        email,
        expires_at,
        now_ms
    )
}

/// Whether the token `hash` was issued in this batch (an INSERT that may have inserted nothing).
pub fn issued(hash: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM overseer_tokens WHERE token_hash = ?1)",
        hash
    )
}

/// A live token: its account and the address it was sent to.
#[derive(Clone, Debug, Deserialize)]
pub struct LiveToken {
    pub overseer_id: String,
    pub email: String,
}

/// The token `hash` of `purpose` if it is unused, unexpired, and its account still has the
/// address it was sent to.
pub async fn live(
    db: &dyn Db,
    hash: &str,
    purpose: Purpose,
    now_ms: i64,
) -> Result<Option<LiveToken>, StoreError> {
    db.run(stmt!(
        "SELECT t.overseer_id, t.email FROM overseer_tokens t \
         JOIN overseers o ON o.id = t.overseer_id AND o.email = t.email \
         WHERE t.token_hash = ?1 AND t.purpose = ?2 AND t.used_at IS NULL AND t.expires_at > ?3",
        hash,
        purpose.as_str(),
        now_ms
    ))
    .await?
    .first()
}

/// Uses the token `hash` of `purpose` for request `request_id`, under the conditions of
/// [`live`]. One change when it was used now.
pub fn consume(hash: &str, purpose: Purpose, request_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseer_tokens SET used_at = ?4, used_by = ?3 \
         WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?4 \
           AND email = (SELECT email FROM overseers WHERE id = overseer_tokens.overseer_id)",
        hash,
        purpose.as_str(),
        request_id,
        now_ms
    )
}

/// Whether request `request_id` consumed the token `hash` (in this batch).
pub fn consumed_by(hash: &str, request_id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM overseer_tokens WHERE token_hash = ?1 AND used_by = ?2)",
        hash,
        request_id
    )
}

/// Ends every other unused token of `purpose` of the account (after a reset, older reset links
/// must not work).
pub fn void_others(overseer_id: &str, purpose: Purpose, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseer_tokens SET used_at = ?3 \
         WHERE overseer_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        overseer_id,
        purpose.as_str(),
        now_ms
    )
}

/// Deletes tokens that expired before `cutoff` (the cron job's purge).
pub fn purge_expired(cutoff: i64) -> Statement {
    stmt!(
        "DELETE FROM overseer_tokens WHERE token_hash IN \
         (SELECT token_hash FROM overseer_tokens WHERE expires_at < ?1 LIMIT 500)",
        cutoff
    )
}

// --- what a used token changes on the account ---

/// The id of the human account using `email` (already normalised), if any.
pub async fn account_for_address(db: &dyn Db, email: &str) -> Result<Option<String>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    Ok(db
        .run(stmt!(
            "SELECT id FROM overseers WHERE email = ?1 AND kind = 'human'",
            email
        ))
        .await?
        .first::<Row>()?
        .map(|r| r.id))
}

/// Marks `email` proved for `overseer_id` (if it is still the account's address). A `WHERE`
/// clause, for [`Statement::and_if`].
pub fn mark_verified(overseer_id: &str, email: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET email_verified_at = COALESCE(email_verified_at, ?3), updated_at = ?3 \
         WHERE id = ?1 AND email = ?2",
        overseer_id,
        email,
        now_ms
    )
}

/// Sets a new password hash and ends every session (epoch + 1). The reset link proved the
/// address, so it is marked verified too. A `WHERE` clause, for [`Statement::and_if`].
pub fn reset_password(overseer_id: &str, password_hash: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET password_hash = ?2, session_epoch = session_epoch + 1, \
           email_verified_at = COALESCE(email_verified_at, ?3), updated_at = ?3 \
         WHERE id = ?1 AND kind = 'human'",
        overseer_id,
        password_hash,
        now_ms
    )
}
