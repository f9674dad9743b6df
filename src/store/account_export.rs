//! The reads of an account's data export (`GET /v1/overseers/me/export`): the account without
//! its password hash, oversights, OAuth clients without keys, client blocks, subscriptions,
//! sessions and the most recent audit events. Rows are returned as stored (times in Unix
//! milliseconds) so the export is what the service holds, not a view of it.

use crate::stmt;
use crate::store::Statement;

/// The most recent audit events an export carries; older ones are left out (and the export
/// says so). The trail itself is paged at `GET /v1/overseers/me/audit`.
pub const AUDIT_EVENTS_MAX: i64 = 1000;

pub fn overseer(id: &str) -> Statement {
    stmt!(
        "SELECT id, name, email, paddle_customer_id, created_at, updated_at \
         FROM overseers WHERE id = ?1",
        id
    )
}

pub fn oversights(id: &str) -> Statement {
    stmt!(
        "SELECT o.agent_id, a.name AS agent_name, o.active, o.deactivated_reason, \
           o.marked_for_cancellation, o.activated_at, o.deactivated_at, o.created_at \
         FROM oversights o JOIN agents a ON a.id = o.agent_id \
         WHERE o.overseer_id = ?1 ORDER BY o.created_at, o.agent_id",
        id
    )
}

pub fn clients(id: &str) -> Statement {
    stmt!(
        "SELECT id, name, redirect_uris, scope, key_thumbprint, token_endpoint_auth_method, \
           application_type, dpop_bound_access_tokens, marked_for_cancellation, disabled, \
           disabled_reason, created_at, updated_at \
         FROM oauth_clients WHERE owner_type = 'overseer' AND owner_id = ?1 ORDER BY created_at, id",
        id
    )
}

/// The protected resources the account registered; `scopes` is the stored JSON text.
pub fn resources(id: &str) -> Statement {
    stmt!(
        "SELECT id, uri, name, scopes, dpop_bound_access_tokens, access_token_alg, created_at, \
           updated_at \
         FROM protected_resources WHERE overseer_id = ?1 ORDER BY created_at, id",
        id
    )
}

pub fn client_blocks(id: &str) -> Statement {
    stmt!(
        "SELECT agent_id, client_id, created_at FROM client_blocks \
         WHERE overseer_id = ?1 ORDER BY created_at",
        id
    )
}

pub fn subscriptions(id: &str) -> Statement {
    stmt!(
        "SELECT id, status, tier, price_id, current_period_start, current_period_end, \
           next_billed_at, scheduled_change_action, scheduled_change_at, paused_at, canceled_at, \
           cancel_requested_at, created_at, updated_at \
         FROM subscriptions WHERE overseer_id = ?1 ORDER BY created_at, id",
        id
    )
}

pub fn sessions(id: &str) -> Statement {
    stmt!(
        "SELECT id, user_agent, ip, created_at, expires_at FROM overseer_sessions \
         WHERE overseer_id = ?1 ORDER BY created_at DESC, id",
        id
    )
}

/// The newest [`AUDIT_EVENTS_MAX`] + 1 events (one more, to tell whether any were left out).
pub fn audit_events(id: &str) -> Statement {
    super::audit::trail_statement(id, None, None, AUDIT_EVENTS_MAX + 1)
}
