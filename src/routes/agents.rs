//! Agent login, logout and self-service reads (api.md 2.2).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::agent_proof;
use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentRow, AgentView, PublicAgentView};
use crate::domain::ids::canonical_uuid;
use crate::domain::rate_limit::Bucket;
use crate::domain::tier::{agent_summary, AgentSummary};
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::pagination::{Cursor, Page};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::rate_limit;
use crate::stmt;

#[derive(Serialize)]
struct LoggedIn<'a> {
    success: bool,
    session_id: &'a str,
    expires_in: i64,
    agent_id: &'a str,
}

fn agent_not_found() -> ApiError {
    ApiError::new(ErrorCode::AgentNotFound, "Agent not found")
}

/// `POST /v1/agents/login`: one DPoP proof, no challenge round trip (api.md 5.2).
pub async fn login(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    const CH: Challenge = Challenge::Dpop;
    rate_limit(ctx, Bucket::AgentLogin, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let wanted = body.opt_uuid("agent_id")?;
    let proof = agent_proof::verify(ctx, CH)?;
    let by_key = agent_proof::agent_by_key(ctx, &proof.key).await?;
    let agent = match (wanted, by_key) {
        (None, Some(agent)) => agent,
        (Some(id), Some(agent)) if agent.id == id => agent,
        (Some(id), _) => return Err(key_mismatch(ctx, &id).await?),
        (None, None) => return Err(agent_proof::invalid_proof("no agent has this DPoP key", CH)),
    };
    agent_proof::consume(ctx, &proof.proof, CH).await?;
    rate_limit(ctx, Bucket::AgentLoginAgent, &agent.id).await?;
    let session = session::create(ctx, AccountKind::Agent, &agent.id, agent.session_epoch).await?;
    audit::record(
        ctx,
        &Event::by_agent("agent.login", &agent.id).details(json!({ "method": "dpop" })),
    )
    .await?;
    Ok(Reply::ok(&LoggedIn {
        success: true,
        session_id: &session.session_id,
        expires_in: session.expires_in,
        agent_id: &agent.id,
    }))
}

/// A login naming an agent whose current key did not sign the proof: `404` when the agent
/// does not exist, otherwise an audited `401`.
async fn key_mismatch(ctx: &Ctx<'_>, agent_id: &str) -> Result<ApiError, ApiError> {
    let unknown = ctx
        .services
        .db
        .run(stmt!("SELECT 1 AS one FROM agents WHERE id = ?1", agent_id))
        .await?
        .rows
        .is_empty();
    if unknown {
        return Ok(agent_not_found());
    }
    let failed = audit::insert(
        ctx,
        &Event::by_agent("agent.login_failed", agent_id)
            .details(json!({ "reason": "key_mismatch" })),
    )?;
    ctx.services.db.run(failed).await?;
    Ok(agent_proof::invalid_proof(
        "DPoP key is not the agent's current key",
        Challenge::Dpop,
    ))
}

#[derive(Serialize)]
struct Message {
    success: bool,
    message: &'static str,
}

/// `POST /v1/agents/logout`: effective immediately, everywhere (D1 marker).
pub async fn logout(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    session::revoke(ctx, &s.token_hash, s.expires_at_ms).await?;
    audit::record(ctx, &Event::by_agent("agent.logout", &s.agent.id)).await?;
    Ok(Reply::ok(&Message {
        success: true,
        message: "Logged out",
    }))
}

#[derive(Serialize)]
struct Me<'a> {
    success: bool,
    agent: AgentView<'a>,
    subscription: AgentSummary,
}

/// `GET /v1/agents/me`
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let subscription = agent_summary(ctx.services.db.as_ref(), &s.agent.id, ctx.now_ms).await?;
    Ok(Reply::ok(&Me {
        success: true,
        agent: s.agent.view(),
        subscription,
    }))
}

#[derive(Serialize)]
struct Profile<'a> {
    success: bool,
    agent: PublicAgentView<'a>,
}

/// `GET /v1/agents/:id` (public).
pub async fn profile(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let id = canonical_uuid(ctx.param("id")).ok_or_else(agent_not_found)?;
    let agent: AgentRow = ctx
        .services
        .db
        .run(stmt!(
            "SELECT id, name, description, public_key, session_epoch, created_at, updated_at FROM agents WHERE id = ?1",
            id.as_str()
        ))
        .await?
        .first()?
        .ok_or_else(agent_not_found)?;
    Ok(Reply::ok(&Profile {
        success: true,
        agent: agent.public_view(),
    }))
}

#[derive(Deserialize)]
struct OverseerRow {
    id: String,
    kind: String,
    name: Option<String>,
    activated_at: i64,
    sub_status: Option<String>,
    sub_tier: Option<String>,
    shadow_valid_until: Option<i64>,
}

#[derive(Serialize)]
struct OverseerView {
    id: String,
    name: Option<String>,
    is_shadow: bool,
    tier: String,
    since: String,
    valid_until: Option<String>,
}

#[derive(Serialize)]
struct MyOverseer {
    success: bool,
    overseer: Option<OverseerView>,
}

/// `GET /v1/agents/me/overseer`: always 200; `null` without an active oversight. The
/// overseer's e-mail is never shown to agents.
pub async fn overseer(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let row: Option<OverseerRow> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT ov.id, ov.kind, ov.name, o.activated_at, s.status AS sub_status, s.tier AS sub_tier, \
                    (SELECT MAX(valid_until) FROM shadow_payments sp \
                      WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
             FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             LEFT JOIN subscriptions s ON s.id = ov.current_subscription_id \
             WHERE o.agent_id = ?1 AND o.active = 1",
            s.agent.id.as_str()
        ))
        .await?
        .first()?;
    let overseer = row.and_then(|r| {
        if r.kind == "shadow" {
            // A shadow oversight past its paid validity is already inactive for the agent.
            let until = r.shadow_valid_until.filter(|v| *v > ctx.now_ms)?;
            return Some(OverseerView {
                id: r.id,
                name: None,
                is_shadow: true,
                tier: "PAID".to_owned(),
                since: rfc3339_ms(r.activated_at),
                valid_until: Some(rfc3339_ms(until)),
            });
        }
        let paid = r
            .sub_status
            .as_deref()
            .is_some_and(crate::domain::tier::is_active_status);
        Some(OverseerView {
            id: r.id,
            name: r.name,
            is_shadow: false,
            tier: r
                .sub_tier
                .filter(|_| paid)
                .unwrap_or_else(|| "FREE".to_owned()),
            since: rfc3339_ms(r.activated_at),
            valid_until: None,
        })
    });
    Ok(Reply::ok(&MyOverseer {
        success: true,
        overseer,
    }))
}

#[derive(Deserialize)]
struct HistoryRow {
    id: String,
    client_id: String,
    client_name: String,
    scope: String,
    status: String,
    reason: Option<String>,
    created_at: i64,
    exchanged_at: Option<i64>,
}

#[derive(Serialize)]
struct HistoryEntry {
    id: String,
    client_id: String,
    client_name: String,
    scopes: String,
    status: String,
    reason: Option<String>,
    created_at: String,
    exchanged_at: Option<String>,
}

#[derive(Serialize)]
struct History {
    success: bool,
    history: Vec<HistoryEntry>,
    next_cursor: Option<String>,
}

/// `GET /v1/agents/me/oauth-history` (paginated, newest first, never pruned).
pub async fn oauth_history(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let page = Page::from_query(ctx.req.query.as_deref())?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let (before_ms, before_id) = page.before();
    let rows: Vec<HistoryRow> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT id, client_id, client_name, scope, status, reason, created_at, exchanged_at \
             FROM oauth_requests WHERE agent_id = ?1 \
               AND (created_at < ?2 OR (created_at = ?2 AND id < ?3) OR ?4 = 0) \
             ORDER BY created_at DESC, id DESC LIMIT ?5",
            s.agent.id.as_str(),
            before_ms,
            before_id.as_str(),
            i64::from(page.cursor.is_some()),
            page.limit + 1
        ))
        .await?
        .decode()?;
    let (rows, next_cursor) = page.split(rows, |r| Cursor::new(r.created_at, &r.id));
    Ok(Reply::ok(&History {
        success: true,
        history: rows
            .into_iter()
            .map(|r| HistoryEntry {
                id: r.id,
                client_id: r.client_id,
                client_name: r.client_name,
                scopes: r.scope,
                status: r.status,
                reason: r.reason,
                created_at: rfc3339_ms(r.created_at),
                exchanged_at: r.exchanged_at.map(rfc3339_ms),
            })
            .collect(),
        next_cursor,
    }))
}
