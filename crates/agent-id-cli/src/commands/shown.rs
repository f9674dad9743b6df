//! Output objects several commands print, with their `--json` field names (`docs/cli.md`).

use agent_id_client::{AgentInfo, Session};
use serde::Serialize;

/// An agent (api.md 1.9's Agent object, same field names).
#[derive(Debug, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub public_key: String,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl From<AgentInfo> for Agent {
    fn from(info: AgentInfo) -> Self {
        Self {
            id: info.id,
            name: info.name,
            description: info.description,
            public_key: info.public_key,
            created_at: info.created_at,
            updated_at: info.updated_at,
        }
    }
}

/// When a saved session ends (never the session itself): `expires_at` in Unix seconds and
/// `expires_in` seconds from now.
#[derive(Debug, Serialize)]
pub struct SessionTimes {
    pub expires_at: i64,
    pub expires_in: i64,
}

impl SessionTimes {
    pub fn of(session: &Session, now_s: i64) -> Self {
        Self {
            expires_at: session.expires_at,
            expires_in: (session.expires_at - now_s).max(0),
        }
    }
}
