//! Rules shared by human claims (api.md 2.4) and shadow claims (2.5), free of HTTP: the refusals
//! both kinds answer with, and an overseer's room for another agent.

/// Why a claim (human or shadow) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    AgentNotFound,
    /// The agent has an active human overseer: the caller (`by_caller`) or another.
    AlreadyClaimed {
        by_caller: bool,
    },
    /// The confirmation names another overseer than the challenge.
    OverseerMismatch,
}

/// How long a shadow claim's KV record outlives its expiry, so a late payment can still mark
/// it completed.
pub const SHADOW_KV_GRACE_SECS: i64 = 86_400;

/// A human overseer's room for agents under its tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// Agents it actively oversees.
    pub active: i64,
    /// The tier's limit; negative is unlimited.
    pub max_agents: i64,
}

impl Room {
    /// Whether one more agent fits.
    pub const fn has_room(self) -> bool {
        self.max_agents < 0 || self.active < self.max_agents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_up_to_the_limit_and_negative_is_unlimited() {
        let room = |active, max_agents| Room { active, max_agents }.has_room();
        assert!(room(0, 1));
        assert!(!room(1, 1));
        assert!(!room(0, 0));
        assert!(room(1_000, -1));
    }
}
