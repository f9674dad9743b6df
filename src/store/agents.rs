//! Agents: registration, keys (current and rotated), status and profile.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oauth ---

/// The agent whose current key is `public_key` (canonical base64url), if any.
pub async fn find_by_public_key(
    db: &dyn super::Db,
    public_key: &str,
) -> Result<Option<crate::domain::agent::AgentRow>, super::StoreError> {
    db.run(crate::stmt!(
        format!(
            "SELECT {} FROM agents WHERE public_key = ?1",
            crate::domain::agent::AgentRow::COLUMNS
        ),
        public_key
    ))
    .await?
    .first()
}

/// The agent with this id, if any (userinfo).
pub async fn find_by_id(
    db: &dyn super::Db,
    agent_id: &str,
) -> Result<Option<crate::domain::agent::AgentRow>, super::StoreError> {
    db.run(crate::stmt!(
        format!(
            "SELECT {} FROM agents WHERE id = ?1",
            crate::domain::agent::AgentRow::COLUMNS
        ),
        agent_id
    ))
    .await?
    .first()
}

/// The agent's name, if it exists (introspection with the `name` scope).
pub async fn name_of(
    db: &dyn super::Db,
    agent_id: &str,
) -> Result<Option<String>, super::StoreError> {
    #[derive(serde::Deserialize)]
    struct Name {
        name: String,
    }
    Ok(db
        .run(crate::stmt!(
            "SELECT name FROM agents WHERE id = ?1",
            agent_id
        ))
        .await?
        .first::<Name>()?
        .map(|n| n.name))
}
