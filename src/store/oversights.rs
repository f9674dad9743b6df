//! Oversights: which overseer oversees which agent (the active one, the history), claims and declaims, client blocks.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by identity ---

/// An agent's active overseer as the agent may see it (never the e-mail), with what decides
/// the tier it is shown: the overseer's current subscription, or a shadow sponsor's paid
/// validity.
#[derive(serde::Deserialize)]
pub struct AgentsOverseer {
    pub id: String,
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub is_shadow: bool,
    pub name: Option<String>,
    pub activated_at: i64,
    pub sub_status: Option<String>,
    pub sub_tier: Option<String>,
    /// The end of the latest applied shadow payment (shadow overseers only).
    pub shadow_valid_until: Option<i64>,
}

/// The active overseer of `agent_id`, if any.
pub async fn overseer_of(
    db: &dyn super::Db,
    agent_id: &str,
) -> Result<Option<AgentsOverseer>, super::StoreError> {
    db.run(crate::stmt!(
        "SELECT ov.id, ov.kind = 'shadow' AS is_shadow, ov.name, o.activated_at, \
                s.status AS sub_status, s.tier AS sub_tier, \
                (SELECT MAX(valid_until) FROM shadow_payments sp \
                  WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
         FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    ))
    .await?
    .first()
}
