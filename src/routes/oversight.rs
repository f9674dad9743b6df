//! What an overseer does with the agents it oversees (api.md 2.7): block OAuth clients per
//! agent, and mark agents and clients for cancellation before a downgrade. The owner is always
//! the session's overseer; `:id` in a path must be the caller.
//!
//! Blocks belong to the overseer who made them (key `(overseer_id, agent_id, client_id)`):
//! listing, blocking and unblocking act on the caller's own blocks only, and only the blocks of
//! the agent's *current* overseer are enforced. A previous overseer's blocks stay in its name,
//! unlisted and unenforced, and apply again only if that overseer oversees the agent again.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::session::{self, OverseerSession};
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::time::rfc3339_ms;
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::overseers::overseen_agents;
use crate::routes::subscriptions::usage;
use crate::stmt;
use crate::store::clients::{ClientRow, OwnerType, OVERSEER_POOL};
use crate::store::{Statement, Value};

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

/// The path's `:agent_id`, which the caller must actively oversee.
async fn overseen_agent(ctx: &Ctx<'_>, s: &OverseerSession) -> Result<String, ApiError> {
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or_else(no_active_oversight)?;
    let active = !ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            s.overseer.id.as_str(),
            agent_id.as_str()
        ))
        .await?
        .rows
        .is_empty();
    if active {
        Ok(agent_id)
    } else {
        Err(no_active_oversight())
    }
}

fn event<'a>(
    kind: &'static str,
    s: &'a OverseerSession,
    agent_id: &'a str,
    client_id: Option<&'a str>,
) -> Event<'a> {
    Event {
        kind,
        actor_type: "overseer",
        actor_id: Some(&s.overseer.id),
        subject_type: Some(if client_id.is_some() {
            "client"
        } else {
            "agent"
        }),
        subject_id: Some(client_id.unwrap_or(agent_id)),
        overseer_id: Some(&s.overseer.id),
        agent_id: Some(agent_id),
        details: json!({ "agent_id": agent_id, "client_id": client_id }),
    }
}

#[derive(Deserialize)]
struct ClientName {
    name: String,
}

/// `POST /v1/overseers/agents/:agentId/block-client`: the client can no longer get codes for
/// the agent, and its existing grants for the agent are revoked in the same batch.
pub async fn block(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let client_id = body.req_uuid("client_id")?;
    let agent_id = overseen_agent(ctx, &s).await?;
    let client: ClientName = ctx
        .services
        .db
        .run(stmt!(
            "SELECT name FROM oauth_clients WHERE id = ?1",
            client_id.as_str()
        ))
        .await?
        .first()?
        .ok_or_else(client_not_found)?;
    let now = ctx.now_ms;
    let result = ctx
        .services
        .db
        .batch(vec![
            stmt!(
                "INSERT INTO client_blocks (agent_id, client_id, overseer_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                agent_id.as_str(),
                client_id.as_str(),
                s.overseer.id.as_str(),
                now
            ),
            stmt!(
                "UPDATE oauth_grants SET revoked_at = ?3, revoked_reason = 'client_blocked' \
                 WHERE client_id = ?1 AND agent_id = ?2 AND revoked_at IS NULL",
                client_id.as_str(),
                agent_id.as_str(),
                now
            ),
            audit::insert(ctx, &event("client.blocked", &s, &agent_id, Some(&client_id)))?,
        ])
        .await;
    match result {
        Ok(_) => {}
        // Only the caller's own block of this client for this agent conflicts.
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::new(
                ErrorCode::AlreadyBlocked,
                "Client is already blocked for this agent",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({"success": true, "block": {"agent_id": agent_id, "client_id": client_id,
                 "client_name": client.name, "created_at": rfc3339_ms(now)}}),
    ))
}

/// `DELETE /v1/overseers/agents/:agentId/block-client/:clientId` (revoked grants stay revoked).
pub async fn unblock(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let agent_id = overseen_agent(ctx, &s).await?;
    let not_found = || ApiError::new(ErrorCode::BlockNotFound, "No such client block");
    let client_id = canonical_uuid(ctx.param("client_id")).ok_or_else(not_found)?;
    let outcomes =
        ctx.services
            .db
            .batch(vec![
            audit::insert_where(
                ctx,
                &event("client.unblocked", &s, &agent_id, Some(&client_id)),
                Some((
                    "EXISTS (SELECT 1 FROM client_blocks WHERE overseer_id = ?13 AND agent_id = ?14 \
                     AND client_id = ?15)",
                    vec![
                        Value::from(s.overseer.id.as_str()),
                        Value::from(agent_id.as_str()),
                        Value::from(client_id.as_str()),
                    ],
                )),
            )?,
            stmt!(
                "DELETE FROM client_blocks WHERE overseer_id = ?1 AND agent_id = ?2 AND client_id = ?3",
                s.overseer.id.as_str(),
                agent_id.as_str(),
                client_id.as_str()
            ),
        ])
            .await?;
    if outcomes.get(1).map_or(0, |o| o.changes) == 0 {
        return Err(not_found());
    }
    Ok(Reply::ok(
        &json!({"success": true, "message": "Client unblocked"}),
    ))
}

#[derive(Deserialize)]
struct BlockRow {
    client_id: String,
    client_name: Option<String>,
    created_at: i64,
}

/// `GET /v1/overseers/agents/:agentId/blocked-clients`: the caller's own blocks of the agent.
pub async fn blocked(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let agent_id = overseen_agent(ctx, &s).await?;
    let rows: Vec<BlockRow> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT b.client_id, c.name AS client_name, b.created_at FROM client_blocks b \
             LEFT JOIN oauth_clients c ON c.id = b.client_id WHERE b.overseer_id = ?1 AND b.agent_id = ?2 \
             ORDER BY b.created_at DESC",
            s.overseer.id.as_str(),
            agent_id.as_str()
        ))
        .await?
        .decode()?;
    let list: Vec<_> = rows
        .into_iter()
        .map(|r| json!({"client_id": r.client_id, "client_name": r.client_name, "created_at": rfc3339_ms(r.created_at)}))
        .collect();
    Ok(Reply::ok(
        &json!({"success": true, "blocked_clients": list}),
    ))
}

/// `GET /v1/overseers/:id/agents`
pub async fn agents(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let agents = overseen_agents(ctx, &s.overseer.id).await?;
    let limits = usage(ctx, &s).await?;
    Ok(Reply::ok(
        &json!({"success": true, "count": agents.len(), "max_agents": limits.max_agents, "agents": agents}),
    ))
}

/// The requested mark: `{"marked": bool}`, or a toggle of `current` when absent.
fn wanted_mark(body: &JsonBody, current: bool) -> Result<bool, ApiError> {
    Ok(body.opt_bool("marked")?.unwrap_or(!current))
}

#[derive(Deserialize)]
struct Mark {
    marked_for_cancellation: i64,
}

/// `PUT /v1/overseers/:id/agents/:agentId/cancellation`
pub async fn mark_agent(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let agent_id = overseen_agent(ctx, &s).await?;
    let current: Mark = ctx
        .services
        .db
        .run(stmt!(
            "SELECT marked_for_cancellation FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            s.overseer.id.as_str(),
            agent_id.as_str()
        ))
        .await?
        .first()?
        .ok_or_else(no_active_oversight)?;
    let marked = wanted_mark(&body, current.marked_for_cancellation != 0)?;
    ctx.services
        .db
        .batch(vec![
            stmt!(
                "UPDATE oversights SET marked_for_cancellation = ?3, updated_at = ?4 \
                 WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
                s.overseer.id.as_str(),
                agent_id.as_str(),
                marked,
                ctx.now_ms
            ),
            audit::insert(
                ctx,
                &event("oversight.marked_for_cancellation", &s, &agent_id, None)
                    .details(json!({"marked": marked})),
            )?,
        ])
        .await?;
    Ok(Reply::ok(
        &json!({"success": true, "agent_id": agent_id, "marked_for_cancellation": marked}),
    ))
}

/// The clients of the caller's pool (api.md 5.8), newest first.
async fn pool(ctx: &Ctx<'_>, s: &OverseerSession) -> Result<Vec<ClientRow>, ApiError> {
    let sql = format!(
        "SELECT {} FROM oauth_clients c WHERE {OVERSEER_POOL} ORDER BY c.created_at DESC, c.id",
        ClientRow::C_COLUMNS
    );
    Ok(ctx
        .services
        .db
        .run(Statement::new(sql, vec![s.overseer.id.as_str().into()]))
        .await?
        .decode()?)
}

/// `GET /v1/overseers/:id/clients`
pub async fn clients(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let rows = pool(ctx, &s).await?;
    let limits = usage(ctx, &s).await?;
    let enabled = rows.iter().filter(|c| !c.disabled).count();
    let views: Vec<_> = rows.iter().map(ClientRow::view).collect();
    Ok(Reply::ok(
        &json!({"success": true, "clients": views, "count_enabled": enabled, "max_clients": limits.max_clients}),
    ))
}

/// `PUT /v1/overseers/:id/clients/:clientId/cancellation`
pub async fn mark_client(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    own_id(ctx, &s)?;
    let client_id = canonical_uuid(ctx.param("client_id")).ok_or_else(client_not_found)?;
    let client = pool(ctx, &s)
        .await?
        .into_iter()
        .find(|c| c.id == client_id)
        .ok_or_else(client_not_found)?;
    let marked = wanted_mark(&body, client.marked_for_cancellation)?;
    let agent_id = if client.owner_type == OwnerType::Agent {
        client.owner_id.as_str()
    } else {
        ""
    };
    let mut ev = event(
        "client.marked_for_cancellation",
        &s,
        agent_id,
        Some(&client_id),
    )
    .details(json!({"marked": marked}));
    if agent_id.is_empty() {
        ev.agent_id = None;
    }
    ctx.services
        .db
        .batch(vec![
            stmt!(
                "UPDATE oauth_clients SET marked_for_cancellation = ?2, updated_at = ?3 WHERE id = ?1",
                client_id.as_str(),
                marked,
                ctx.now_ms
            ),
            audit::insert(ctx, &ev)?,
        ])
        .await?;
    Ok(Reply::ok(
        &json!({"success": true, "client_id": client_id, "marked_for_cancellation": marked}),
    ))
}
