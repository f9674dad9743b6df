//! Oversights: which overseer oversees which agent (the active one, the history), claims and declaims, client blocks.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oauth ---

/// The SQL condition "the client is blocked for the agent by its active overseer", over the
/// given column names or placeholders (authorize, token, introspection, userinfo).
pub fn blocked(client: &str, agent: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM client_blocks b JOIN oversights o \
         ON o.overseer_id = b.overseer_id AND o.agent_id = b.agent_id AND o.active = 1 \
         WHERE b.agent_id = {agent} AND b.client_id = {client})"
    )
}

/// Whether the agent's active overseer has blocked the client.
pub async fn is_blocked(
    db: &dyn super::Db,
    client_id: &str,
    agent_id: &str,
) -> Result<bool, super::StoreError> {
    let found = db
        .run(crate::stmt!(
            format!("SELECT 1 AS one WHERE {}", blocked("?1", "?2")),
            client_id,
            agent_id
        ))
        .await?;
    Ok(!found.rows.is_empty())
}
