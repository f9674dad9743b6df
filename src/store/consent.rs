//! Consent by the overseer (issue 10 item 5): the agents an overseer could consent for, with
//! what decides whether it may, and the agent's own setting that forbids it
//! (`agents.overseer_consent`).
//!
//! Functions here return statements for the caller's batch and decode plain rows; they never
//! see the HTTP request or build responses.

use serde::Deserialize;

use super::{flag, Statement};
use crate::stmt;

/// One agent `overseer_id` actively oversees, as the consent page lists it for one client.
#[derive(Clone, Debug, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// The agent allows its overseer to consent in its name.
    #[serde(deserialize_with = "flag::deserialize")]
    pub overseer_consent: bool,
    /// The overseer blocked the client for this agent.
    #[serde(deserialize_with = "flag::deserialize")]
    pub blocked: bool,
    /// Approved authorizations in the period asked for.
    pub oauth_count: i64,
}

/// The agents `overseer_id` actively oversees (most recently claimed first), each with its
/// setting, whether `client_id` is blocked for it, and its approvals in `[start_ms, end_ms)`.
pub fn candidates_statement(
    overseer_id: &str,
    client_id: &str,
    (start_ms, end_ms): (i64, i64),
) -> Statement {
    stmt!(
        "SELECT a.id, a.name, a.overseer_consent, \
                EXISTS (SELECT 1 FROM client_blocks b WHERE b.overseer_id = o.overseer_id \
                          AND b.agent_id = a.id AND b.client_id = ?2) AS blocked, \
                (SELECT COUNT(*) FROM oauth_requests r WHERE r.agent_id = a.id \
                   AND r.status = 'approved' AND r.created_at >= ?3 AND r.created_at < ?4) AS oauth_count \
         FROM oversights o JOIN agents a ON a.id = o.agent_id \
         WHERE o.overseer_id = ?1 AND o.active = 1 ORDER BY o.activated_at DESC, a.id",
        overseer_id,
        client_id,
        start_ms,
        end_ms
    )
}

/// The agent `agent_id` if `overseer_id` actively oversees it: an [`crate::domain::agent::AgentRow`]
/// plus its [`Setting`] (decode the same row as both).
pub fn overseen_agent_statement(overseer_id: &str, agent_id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {}, a.overseer_consent FROM agents a JOIN oversights o \
             ON o.agent_id = a.id AND o.overseer_id = ?1 AND o.active = 1 WHERE a.id = ?2",
            super::agents::COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        overseer_id,
        agent_id
    )
}

/// The agent's setting, as stored.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Setting {
    #[serde(deserialize_with = "flag::deserialize")]
    pub overseer_consent: bool,
}

/// The agent's [`Setting`], for a batch of reads.
pub fn setting_statement(agent_id: &str) -> Statement {
    stmt!(
        "SELECT overseer_consent FROM agents WHERE id = ?1",
        agent_id
    )
}

/// Sets whether the agent allows its overseer to consent in its name.
pub fn set_statement(agent_id: &str, allowed: bool, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE agents SET overseer_consent = ?2, updated_at = ?3 WHERE id = ?1",
        agent_id,
        i64::from(allowed),
        now_ms
    )
}
