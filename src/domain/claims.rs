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

/// Whether an overseer with `active` agents may take one more under `max_agents` (negative is
/// unlimited).
pub const fn has_room(active: i64, max_agents: i64) -> bool {
    max_agents < 0 || active < max_agents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_up_to_the_limit_and_negative_is_unlimited() {
        assert!(has_room(0, 1));
        assert!(!has_room(1, 1));
        assert!(!has_room(0, 0));
        assert!(has_room(1_000, -1));
    }
}
