//! Overseers: accounts, password hashes, profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::{Deserialize, Serialize};

use crate::stmt;
use crate::store::{Db, Statement, StoreError};

/// `overseers.kind`: a person with an account, or the stand-in for an agent's anonymous
/// sponsors (api.md 9.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverseerKind {
    Human,
    Shadow,
}

/// A human overseer's account, the columns of [`OverseerRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct OverseerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub paddle_customer_id: Option<String>,
    pub current_subscription_id: Option<String>,
    pub session_epoch: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the current address was proved (e-mail verification); `None`: not verified.
    #[serde(default)]
    pub email_verified_at: Option<i64>,
}

impl OverseerRow {
    pub const COLUMNS: &'static str =
        "id, name, email, paddle_customer_id, current_subscription_id, \
         session_epoch, created_at, updated_at, email_verified_at";
}

/// An account and its password hash, for the log-in check only.
#[derive(Deserialize)]
pub struct Credentials {
    #[serde(flatten)]
    pub overseer: OverseerRow,
    pub password_hash: String,
}

/// Whether an account already uses `email` (already normalised).
pub async fn email_taken(db: &dyn Db, email: &str) -> Result<bool, StoreError> {
    let found = db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE email = ?1",
            email
        ))
        .await?;
    Ok(!found.rows.is_empty())
}

/// The INSERT of a new human account; a concurrent sign-up with the same e-mail makes it fail
/// with a UNIQUE violation.
pub fn insert_human(row: &OverseerRow, password_hash: &str) -> Statement {
    stmt!(
        "INSERT INTO overseers (id, kind, name, email, password_hash, session_epoch, created_at, updated_at) \
         VALUES (?1, 'human', ?2, ?3, ?4, 0, ?5, ?5)",
        row.id.as_str(),
        row.name.as_deref(),
        row.email.as_deref(),
        password_hash,
        row.created_at
    )
}

/// The human account with this e-mail (already normalised) and its hash.
pub async fn credentials(db: &dyn Db, email: &str) -> Result<Option<Credentials>, StoreError> {
    let sql = format!(
        "SELECT {}, password_hash FROM overseers WHERE email = ?1 AND kind = 'human' \
         AND deleted_at IS NULL",
        OverseerRow::COLUMNS
    );
    db.run(Statement::new(sql, vec![email.into()]))
        .await?
        .first()
}

/// Ends every session of the overseer at once: sessions carry the epoch they were made in.
pub fn end_sessions(overseer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET session_epoch = session_epoch + 1, updated_at = ?2 WHERE id = ?1",
        overseer_id,
        now_ms
    )
}

/// The id of the shadow overseer created for `agent_id` by an earlier sponsorship, if any.
pub async fn shadow_of(db: &dyn Db, agent_id: &str) -> Result<Option<String>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let row: Option<Row> = db
        .run(stmt!(
            "SELECT id FROM overseers WHERE kind = 'shadow' AND shadow_agent_id = ?1",
            agent_id
        ))
        .await?
        .first()?;
    Ok(row.map(|r| r.id))
}

/// A human overseer with whether the session being checked was revoked.
#[derive(serde::Deserialize)]
pub struct SessionOverseer {
    #[serde(flatten)]
    pub overseer: crate::domain::overseer::OverseerRow,
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub revoked: bool,
}

/// The human overseer `id` and whether the session `token_hash` was revoked, in one round
/// trip (shadow overseers have no sessions).
pub async fn for_session(
    db: &dyn super::Db,
    id: &str,
    token_hash: &str,
) -> Result<Option<SessionOverseer>, super::StoreError> {
    db.run(session_check(id, token_hash)).await?.first()
}

/// The statement of [`for_session`] (one [`SessionOverseer`] row, or none), for a session
/// check batched with the handler's reads. A session counts as revoked once it has a logout
/// marker or its row in the sessions index is gone (ended from the Settings page, by a
/// password change or by the account's deletion).
pub fn session_check(id: &str, token_hash: &str) -> Statement {
    crate::stmt!(
        format!(
            "SELECT {}, ({} OR NOT {}) AS revoked FROM overseers \
             WHERE id = ?1 AND kind = 'human' AND deleted_at IS NULL",
            crate::domain::overseer::OverseerRow::COLUMNS,
            super::markers::revoked_condition(2),
            super::overseer_sessions::indexed(2)
        ),
        id,
        token_hash
    )
}

/// The overseer's password hash (one [`PasswordHash`] row), read with the session check by the
/// settings that need the current password.
pub fn password_hash(id: &str) -> Statement {
    stmt!(
        "SELECT password_hash FROM overseers WHERE id = ?1 AND kind = 'human'",
        id
    )
}

/// A row of [`password_hash`].
#[derive(Deserialize)]
pub struct PasswordHash {
    pub password_hash: String,
}

pub fn set_password(id: &str, password_hash: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        id,
        password_hash,
        now_ms
    )
}

/// Sets an e-mail address just proven by its link (so verified now); a UNIQUE violation when
/// another account took it meanwhile. Ends in a `WHERE` clause, for the caller's guard.
pub fn set_verified_email(id: &str, email: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET email = ?2, email_verified_at = ?3, updated_at = ?3 WHERE id = ?1",
        id,
        email,
        now_ms
    )
}

/// Overseer `id`'s current subscription: `None` when the overseer does not exist, `Some(None)`
/// when it has none.
pub async fn current_subscription_id(
    db: &dyn Db,
    id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    #[derive(Deserialize)]
    struct Row {
        current_subscription_id: Option<String>,
    }
    Ok(db
        .run(stmt!(
            "SELECT current_subscription_id FROM overseers WHERE id = ?1",
            id
        ))
        .await?
        .first::<Row>()?
        .map(|r| r.current_subscription_id))
}

/// Whether `id` is an existing human overseer.
pub async fn is_human(db: &dyn Db, id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human'",
            id
        ))
        .await?
        .rows
        .is_empty())
}

/// Whether `id` is a human overseer without a Paddle customer yet.
pub async fn lacks_customer(db: &dyn Db, id: &str) -> Result<bool, StoreError> {
    Ok(!db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human' AND paddle_customer_id IS NULL",
            id
        ))
        .await?
        .rows
        .is_empty())
}

/// Makes `subscription_id` the overseer's current subscription.
pub fn set_current_subscription(id: &str, subscription_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET current_subscription_id = ?2, updated_at = ?3 WHERE id = ?1",
        id,
        subscription_id,
        now_ms
    )
}

/// Stores the overseer's Paddle customer id unless it already has one.
pub fn set_customer_if_unset(id: &str, customer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE overseers SET paddle_customer_id = ?2, updated_at = ?3 \
         WHERE id = ?1 AND paddle_customer_id IS NULL",
        id,
        customer_id,
        now_ms
    )
}

/// Creates the shadow overseer of an agent on its first payment (nothing if it exists).
pub fn insert_shadow(id: &str, agent_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO overseers (id, kind, shadow_agent_id, session_epoch, created_at, updated_at) \
         VALUES (?1, 'shadow', ?2, 0, ?3, ?3) ON CONFLICT(id) DO NOTHING",
        id,
        agent_id,
        now_ms
    )
}

/// An existing agent and the id of its shadow overseer, if one was created.
#[derive(Debug, Deserialize)]
pub struct AgentShadow {
    pub shadow_id: Option<String>,
}

/// `None` when the agent does not exist.
pub async fn shadow_of_agent(
    db: &dyn Db,
    agent_id: &str,
) -> Result<Option<AgentShadow>, StoreError> {
    db.run(stmt!(
        "SELECT (SELECT id FROM overseers WHERE shadow_agent_id = a.id LIMIT 1) AS shadow_id \
         FROM agents a WHERE a.id = ?1",
        agent_id
    ))
    .await?
    .first()
}
