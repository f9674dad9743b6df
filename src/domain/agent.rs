//! Agents as stored and as shown.

use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;

/// An agent as stored: `store::agents` reads and writes it.
#[derive(Clone, Debug, Deserialize)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub public_key: String,
    pub session_epoch: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AgentRow {
    /// Transitional alias of [`crate::store::agents::COLUMNS`] for `routes/oauth/resource.rs`,
    /// which moves to `store::agents::find` at the merge; then this goes.
    pub const COLUMNS: &'static str = crate::store::agents::COLUMNS;

    pub fn view(&self) -> AgentView<'_> {
        AgentView {
            id: &self.id,
            name: &self.name,
            description: self.description.as_deref(),
            public_key: &self.public_key,
            created_at: rfc3339_ms(self.created_at),
            updated_at: rfc3339_ms(self.updated_at),
        }
    }

    pub fn public_view(&self) -> PublicAgentView<'_> {
        PublicAgentView {
            id: &self.id,
            name: &self.name,
            description: self.description.as_deref(),
            public_key: &self.public_key,
            created_at: rfc3339_ms(self.created_at),
        }
    }
}

/// The Agent object of api.md 1.9.
#[derive(Debug, Serialize)]
pub struct AgentView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub public_key: &'a str,
    pub created_at: String,
    pub updated_at: String,
}

/// The public profile (`GET /v1/agents/:id`).
#[derive(Debug, Serialize)]
pub struct PublicAgentView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub public_key: &'a str,
    pub created_at: String,
}
