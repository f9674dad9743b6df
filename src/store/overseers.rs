//! Overseers: accounts, password hashes, profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by identity ---

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
    db.run(crate::stmt!(
        format!(
            "SELECT {}, {} FROM overseers WHERE id = ?1 AND kind = 'human'",
            crate::domain::overseer::OverseerRow::COLUMNS,
            super::markers::revoked_column(2)
        ),
        id,
        token_hash
    ))
    .await?
    .first()
}
