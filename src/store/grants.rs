//! OAuth grants and what hangs off them: authorization requests (history), codes, refresh-token families, issued access tokens, revocation.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by identity ---

/// How an authorization request ended (`oauth_requests.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Approved,
    Denied,
}

/// One authorization request in an agent's OAuth history.
#[derive(serde::Deserialize)]
pub struct HistoryRow {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub status: RequestStatus,
    pub reason: Option<String>,
    pub created_at: i64,
    pub exchanged_at: Option<i64>,
}

/// Keyset position: rows strictly before `(created_at, id)` in newest-first order.
#[derive(Clone, Copy, Debug)]
pub struct Before<'a> {
    pub created_at: i64,
    pub id: &'a str,
}

/// Up to `limit` requests of `agent_id`, newest first, after `before` when given.
pub async fn history(
    db: &dyn super::Db,
    agent_id: &str,
    before: Option<Before<'_>>,
    limit: i64,
) -> Result<Vec<HistoryRow>, super::StoreError> {
    let (before_ms, before_id) = before.map_or((0, ""), |b| (b.created_at, b.id));
    db.run(crate::stmt!(
        "SELECT id, client_id, client_name, scope, status, reason, created_at, exchanged_at \
         FROM oauth_requests WHERE agent_id = ?1 \
           AND (created_at < ?2 OR (created_at = ?2 AND id < ?3) OR ?4 = 0) \
         ORDER BY created_at DESC, id DESC LIMIT ?5",
        agent_id,
        before_ms,
        before_id,
        before.is_some(),
        limit
    ))
    .await?
    .decode()
}
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
