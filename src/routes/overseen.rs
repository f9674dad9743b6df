//! What an overseer does with the agents it oversees (api.md 2.7): block OAuth clients per
//! agent, and mark agents and clients for cancellation before a downgrade. The owner is always
//! the session's overseer; `:id` in a path must be the caller.
//!
//! Blocks belong to the overseer who made them (key `(overseer_id, agent_id, client_id)`):
//! listing, blocking and unblocking act on the caller's own blocks only, and only the blocks of
//! the agent's *current* overseer are enforced. A previous overseer's blocks stay in its name,
//! unlisted and unenforced, and apply again only if that overseer oversees the agent again.

use http::StatusCode;
use serde_json::json;

use crate::auth::session::{self, OverseerSession};
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::overseer::OverseenAgent;
use crate::domain::subscription;
use crate::domain::tier::{TierRow, Tiers};
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::clients;
use crate::store::clients::{ClientRow, OwnerType};
use crate::store::oversights::{self, Block, BlockOutcome, Overseen};
use crate::store::subscriptions::SubscriptionRow;

fn no_active_oversight() -> ApiError {
    ApiError::new(
        ErrorCode::NoActiveOversight,
        "You do not actively oversee this agent",
    )
}

fn client_not_found() -> ApiError {
    ApiError::new(ErrorCode::ClientNotFound, "Client not found")
}

/// `:id` routes act on the caller only (security.md §16 item 23).
fn own_id(ctx: &Ctx<'_>, s: &OverseerSession) -> Result<(), ApiError> {
    match canonical_uuid(ctx.param("id")) {
        Some(id) if id == s.overseer.id => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::Forbidden,
            "You can only act on your own account",
        )),
    }
}

/// The path's `:agent_id`, which the caller must actively oversee, and that oversight.
async fn overseen_agent(
    ctx: &Ctx<'_>,
    s: &OverseerSession,
) -> Result<(String, Overseen), ApiError> {
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or_else(no_active_oversight)?;
    match oversights::active_between(ctx.db(), &s.overseer.id, &agent_id).await? {
        Some(oversight) => Ok((agent_id, oversight)),
        None => Err(no_active_oversight()),
    }
}

/// The caller's event about one of its agents.
fn agent_event<'a>(kind: &'static str, s: &'a OverseerSession, agent_id: &'a str) -> Event<'a> {
    Event::new(kind, Actor::Overseer(&s.overseer.id))
        .subject(Subject::Agent(agent_id))
        .overseer(&s.overseer.id)
        .agent(agent_id)
}

/// The caller's event about a client; `agent_id` is the agent it concerns (blocks) or owning
/// it (marks), if any.
fn client_event<'a>(
    kind: &'static str,
    s: &'a OverseerSession,
    agent_id: Option<&'a str>,
    client_id: &'a str,
) -> Event<'a> {
    let ev = Event::new(kind, Actor::Overseer(&s.overseer.id))
        .subject(Subject::Client(client_id))
        .overseer(&s.overseer.id)
        .details(json!({ "agent_id": agent_id.unwrap_or_default(), "client_id": client_id }));
    match agent_id {
        Some(agent) => ev.agent(agent),
        None => ev,
    }
}

/// The limits of the tier in force for the caller (a paused or canceled subscription counts
/// as FREE).
async fn limits(ctx: &Ctx<'_>, s: &OverseerSession) -> Result<TierRow, ApiError> {
    let current = subscription::current(ctx.db(), &s.overseer).await?;
    let tiers = Tiers::load(ctx.db()).await?;
    let tier = current
        .as_ref()
        .map_or("FREE", SubscriptionRow::effective_tier);
    Ok(tiers.get(tier)?.clone())
}

/// `POST /v1/overseers/agents/:agentId/block-client`: the client can no longer get codes for
/// the agent, and its existing grants for the agent are revoked in the same batch.
pub async fn block(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let client_id = client_ref(body.req_str("client_id")?)
        .ok_or_else(|| ApiError::invalid_field("client_id", "must be a UUID"))?;
    let (agent_id, _) = overseen_agent(ctx, &s).await?;
    let client_name = clients::name(ctx.db(), &client_id)
        .await?
        .ok_or_else(client_not_found)?;
    let now = ctx.now_ms;
    let block = Block {
        overseer_id: &s.overseer.id,
        agent_id: &agent_id,
        client_id: &client_id,
    };
    let ev = client_event("client.blocked", &s, Some(&agent_id), &client_id);
    if oversights::block(ctx.db(), &block, &ev, &ctx.stamp()).await? == BlockOutcome::AlreadyBlocked
    {
        return Err(ApiError::new(
            ErrorCode::AlreadyBlocked,
            "Client is already blocked for this agent",
        ));
    }
    Ok(Reply::success(
        StatusCode::CREATED,
        &json!({"block": {"agent_id": agent_id, "client_id": client_id,
                 "client_name": client_name, "created_at": rfc3339_ms(now)}}),
    ))
}

/// A client id as the block API takes it: a registered client's UUID (canonicalised), or a
/// Client ID Metadata Document client's URL (exact; percent-encoded in a path).
fn client_ref(raw: &str) -> Option<String> {
    use crate::oauth::client_metadata::{is_url_client_id, MAX_URL_LEN};
    if is_url_client_id(raw) && raw.len() <= MAX_URL_LEN {
        Some(raw.to_owned())
    } else {
        canonical_uuid(raw)
    }
}

/// `DELETE /v1/overseers/agents/:agentId/block-client/:clientId` (revoked grants stay revoked).
pub async fn unblock(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let (agent_id, _) = overseen_agent(ctx, &s).await?;
    let not_found = || ApiError::new(ErrorCode::BlockNotFound, "No such client block");
    let client_id =
        client_ref(&crate::http::query::decode(ctx.param("client_id"))).ok_or_else(not_found)?;
    let block = Block {
        overseer_id: &s.overseer.id,
        agent_id: &agent_id,
        client_id: &client_id,
    };
    let ev = client_event("client.unblocked", &s, Some(&agent_id), &client_id);
    if !oversights::unblock(ctx.db(), &block, &ev, &ctx.stamp()).await? {
        return Err(not_found());
    }
    Ok(Reply::ok(&json!({"message": "Client unblocked"})))
}

/// `GET /v1/overseers/agents/:agentId/blocked-clients`: the caller's own blocks of the agent.
pub async fn blocked(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let (agent_id, _) = overseen_agent(ctx, &s).await?;
    let rows = oversights::blocks(ctx.db(), &s.overseer.id, &agent_id).await?;
    let list: Vec<_> = rows
        .into_iter()
        .map(|r| json!({"client_id": r.client_id, "client_name": r.client_name, "created_at": rfc3339_ms(r.created_at)}))
        .collect();
    Ok(Reply::ok(&json!({"blocked_clients": list})))
}

/// `GET /v1/overseers/:id/agents`
pub async fn agents(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let rows =
        oversights::overseen_agents(ctx.db(), &s.overseer.id, month_bounds_ms(ctx.now_ms)).await?;
    let agents: Vec<OverseenAgent> = rows.into_iter().map(OverseenAgent::from).collect();
    let limits = limits(ctx, &s).await?;
    Ok(Reply::ok(
        &json!({"count": agents.len(), "max_agents": limits.max_agents, "agents": agents}),
    ))
}

/// The requested mark: `{"marked": bool}`, or a toggle of `current` when absent.
fn wanted_mark(body: &JsonBody, current: bool) -> Result<bool, ApiError> {
    Ok(body.opt_bool("marked")?.unwrap_or(!current))
}

/// `PUT /v1/overseers/:id/agents/:agentId/cancellation`
pub async fn mark_agent(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let (agent_id, current) = overseen_agent(ctx, &s).await?;
    let marked = wanted_mark(&body, current.marked_for_cancellation)?;
    let ev = agent_event("oversight.marked_for_cancellation", &s, &agent_id)
        .details(json!({"marked": marked}));
    let stamp = ctx.stamp();
    if !oversights::mark_agent(ctx.db(), &s.overseer.id, &agent_id, marked, &ev, &stamp).await? {
        return Err(no_active_oversight());
    }
    Ok(Reply::ok(
        &json!({"agent_id": agent_id, "marked_for_cancellation": marked}),
    ))
}

/// `GET /v1/overseers/:id/clients`
pub async fn clients(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let rows = oversights::pool_clients(ctx.db(), &s.overseer.id).await?;
    let limits = limits(ctx, &s).await?;
    let enabled = rows.iter().filter(|c| !c.disabled).count();
    let views: Vec<_> = rows.iter().map(ClientRow::view).collect();
    Ok(Reply::ok(
        &json!({"clients": views, "count_enabled": enabled, "max_clients": limits.max_clients}),
    ))
}

/// `PUT /v1/overseers/:id/clients/:clientId/cancellation`
pub async fn mark_client(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let client_id = canonical_uuid(ctx.param("client_id")).ok_or_else(client_not_found)?;
    let client = oversights::pool_clients(ctx.db(), &s.overseer.id)
        .await?
        .into_iter()
        .find(|c| c.id == client_id)
        .ok_or_else(client_not_found)?;
    let marked = wanted_mark(&body, client.marked_for_cancellation)?;
    let agent_id = (client.owner_type == OwnerType::Agent).then_some(client.owner_id.as_str());
    let ev = client_event("client.marked_for_cancellation", &s, agent_id, &client_id)
        .details(json!({"marked": marked}));
    oversights::mark_client(ctx.db(), &client_id, marked, &ev, &ctx.stamp()).await?;
    Ok(Reply::ok(
        &json!({"client_id": client_id, "marked_for_cancellation": marked}),
    ))
}
