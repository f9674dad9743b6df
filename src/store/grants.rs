//! OAuth grants and what hangs off them: authorization requests (history), codes, refresh-token families, issued access tokens, revocation.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oversight ---

/// Revokes the client's live grants for the agent, in the batch that blocks the client.
pub fn revoke_for_block(client_id: &str, agent_id: &str, now_ms: i64) -> crate::store::Statement {
    crate::stmt!(
        "UPDATE oauth_grants SET revoked_at = ?3, revoked_reason = 'client_blocked' \
         WHERE client_id = ?1 AND agent_id = ?2 AND revoked_at IS NULL",
        client_id,
        agent_id,
        now_ms
    )
}
