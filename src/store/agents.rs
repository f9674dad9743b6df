//! Agents: registration, keys (current and rotated), status and profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oversight ---

/// Whether the agent exists.
pub async fn exists(
    db: &dyn crate::store::Db,
    agent_id: &str,
) -> Result<bool, crate::store::StoreError> {
    let found = db
        .run(crate::stmt!(
            "SELECT 1 AS one FROM agents WHERE id = ?1",
            agent_id
        ))
        .await?;
    Ok(!found.rows.is_empty())
}
