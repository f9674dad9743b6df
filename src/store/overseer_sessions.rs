//! The index of overseer sessions (`overseer_sessions`): what the Settings page lists, and
//! what keeps a session alive. KV holds the session record itself; a session whose row is gone
//! is refused by the session check, so ending sessions is a DELETE here, in the batch that
//! decides it, and their KV records are removed after the response.
//!
//! Functions here take plain values and return statements for the caller's batch (or typed
//! rows); they never see the HTTP request.

use serde::Deserialize;

use crate::store::batch::Guard;
use crate::store::Statement;
use crate::{guard, stmt};

/// The longest `User-Agent` kept (bytes, cut at a character boundary): enough to tell browsers
/// apart in the list, too little to store a fingerprint's worth of text.
pub const USER_AGENT_MAX_BYTES: usize = 200;

/// A session to index, written with the log-in's own batch.
#[derive(Debug)]
pub struct NewIndexed<'a> {
    /// The public handle (a UUID), never the token or its hash.
    pub id: &'a str,
    pub token_hash: &'a str,
    pub overseer_id: &'a str,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// The account's session epoch the session was made in.
    pub epoch: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// `user_agent` cut to [`USER_AGENT_MAX_BYTES`].
pub fn summarise_user_agent(user_agent: &str) -> &str {
    let ua = user_agent.trim();
    if ua.len() <= USER_AGENT_MAX_BYTES {
        return ua;
    }
    let mut end = USER_AGENT_MAX_BYTES;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

pub fn insert(s: &NewIndexed<'_>) -> Statement {
    stmt!(
        "INSERT INTO overseer_sessions (id, token_hash, overseer_id, user_agent, ip, epoch, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        s.id,
        s.token_hash,
        s.overseer_id,
        s.user_agent,
        s.ip,
        s.epoch,
        s.created_at,
        s.expires_at
    )
}

/// The SQL condition (over the token hash bound at `?{param}`) under which an overseer session
/// is still indexed, i.e. was not ended.
pub(super) fn indexed(param: usize) -> String {
    format!("EXISTS (SELECT 1 FROM overseer_sessions WHERE token_hash = ?{param})")
}

/// A listed session.
#[derive(Debug, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The overseer's live sessions, newest first (rows of [`SessionRow`]): unexpired, and made in
/// the account's current epoch (a password reset or a logout everywhere ended the others). A
/// session lasts `SESSION_TTL_SECS`, so the list is as long as the log-ins of that window.
pub fn list(overseer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "SELECT s.id, s.token_hash, s.user_agent, s.ip, s.created_at, s.expires_at \
         FROM overseer_sessions s JOIN overseers o ON o.id = s.overseer_id \
         WHERE s.overseer_id = ?1 AND s.expires_at > ?2 AND s.epoch = o.session_epoch \
         ORDER BY s.created_at DESC, s.id",
        overseer_id,
        now_ms
    )
}

/// A token hash returned by the DELETEs below, to remove its KV record after the response.
#[derive(Debug, Deserialize)]
pub struct Ended {
    pub token_hash: String,
}

/// Holds while the overseer's session `id` is indexed (guards the audit row of its end).
pub fn exists(overseer_id: &str, id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM overseer_sessions WHERE overseer_id = ?1 AND id = ?2)",
        overseer_id,
        id
    )
}

/// Ends the overseer's session `id` (none if it is not theirs); returns its [`Ended`] row.
pub fn end_one(overseer_id: &str, id: &str) -> Statement {
    stmt!(
        "DELETE FROM overseer_sessions WHERE overseer_id = ?1 AND id = ?2 RETURNING token_hash",
        overseer_id,
        id
    )
}

/// Ends every session of the overseer but `keep_token_hash`; returns the [`Ended`] rows.
pub fn end_others(overseer_id: &str, keep_token_hash: &str) -> Statement {
    stmt!(
        "DELETE FROM overseer_sessions WHERE overseer_id = ?1 AND token_hash <> ?2 \
         RETURNING token_hash",
        overseer_id,
        keep_token_hash
    )
}

/// Ends every session of the overseer; returns the [`Ended`] rows.
pub fn end_all(overseer_id: &str) -> Statement {
    stmt!(
        "DELETE FROM overseer_sessions WHERE overseer_id = ?1 RETURNING token_hash",
        overseer_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_user_agents_are_cut_at_a_character_boundary() {
        let ua = "é".repeat(150);
        let cut = summarise_user_agent(&ua);
        assert!(cut.len() <= USER_AGENT_MAX_BYTES && cut.len() >= USER_AGENT_MAX_BYTES - 1);
        assert!(ua.starts_with(cut));
        assert_eq!(summarise_user_agent("  curl/8 "), "curl/8");
    }
}
