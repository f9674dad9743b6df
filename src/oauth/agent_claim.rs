//! The `agent` claim of resource access tokens: what a resource server may rely on about the
//! agent behind a token, computed at mint from the agent's standing (api.md 5.7).

use std::fmt;

use crate::domain::tier::{AgentStanding, Source};

/// Who oversees the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversight {
    /// A human overseer claimed it.
    Human,
    /// A shadow sponsor pays for it (within the sponsorship's validity).
    Shadow,
    /// Nobody: an unclaimed agent.
    None,
}

impl Oversight {
    pub const fn as_str(self) -> &'static str {
        match self {
            Oversight::Human => "human",
            Oversight::Shadow => "shadow",
            Oversight::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Oversight::Human, Oversight::Shadow, Oversight::None]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Oversight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"oversight": "human"|"shadow"|"none", "tier": "FREE"|"BASIC"|"PRO"|"PREMIUM"|"SHADOW"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentClaim {
    pub oversight: Oversight,
    /// The agent's effective tier (its overseer's, `SHADOW` while sponsored, else `FREE`).
    pub tier: String,
}

impl From<AgentStanding> for AgentClaim {
    fn from(s: AgentStanding) -> Self {
        let oversight = match s.source {
            Source::Overseer => Oversight::Human,
            Source::Shadow => Oversight::Shadow,
            Source::None => Oversight::None,
        };
        Self {
            oversight,
            tier: s.tier,
        }
    }
}

impl AgentClaim {
    /// The claim as JSON, members in the documented order.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"oversight":"{}","tier":{}}}"#,
            self.oversight,
            serde_json::Value::from(self.tier.as_str())
        )
    }
}
