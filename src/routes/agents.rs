//! Agent login, logout and self-service reads (api.md 2.2).

use std::convert::Infallible;

use serde::Serialize;
use serde_json::json;

use crate::auth::session::{self, AccountKind};
use crate::auth::{agent_proof, dpop_request};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentView, PublicAgentView};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::tier::{is_active_status, summarize, AgentSummary};
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::pagination::{Cursor, Page};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::rate_limit;
use crate::store::agents;
use crate::store::audit::Event;
use crate::store::grants::{self, Before, RequestStatus};
use crate::store::live_grants::ConsentedBy;
use crate::store::markers::Use;
use crate::store::oversights::{self, AgentsOverseer};
use crate::store::subscriptions::SummaryReads;

#[derive(Serialize)]
struct LoggedIn<'a> {
    session_id: &'a str,
    expires_in: i64,
    agent_id: &'a str,
}

fn agent_not_found() -> ApiError {
    ApiError::new(ErrorCode::AgentNotFound, "Agent not found")
}

/// `POST /v1/agents/login`: one DPoP proof, no challenge round trip (api.md 5.2). The lookup,
/// the `jti` and the audit row are one D1 batch; the answers keep the order of api.md 5.2
/// (unknown agent or key before replay, replay before the per-agent limit).
pub async fn login(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    const CH: Challenge = Challenge::Dpop;
    rate_limit(ctx, Bucket::AgentLogin, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let wanted = body.opt_uuid("agent_id")?;
    let proof = agent_proof::verify(ctx, CH).await?;
    let audit_id = uuid_v4(ctx.rng())?;
    let details = json!({ "method": "dpop" }).to_string();
    let login = agents::Login {
        public_key: &proof.key.canonical(),
        wanted: wanted.as_deref(),
        audit_id: &audit_id,
        details: &details,
        stamp: ctx.stamp(),
    };
    let outcome = agent_proof::log_in(ctx, &proof.proof, &login).await?;
    let agent = match (wanted, outcome.agent) {
        (None, Some(agent)) => agent,
        (Some(id), Some(agent)) if agent.id == id => agent,
        (Some(id), _) => match key_mismatch(ctx, &id).await? {},
        (None, None) => return Err(agent_proof::invalid_proof("no agent has this DPoP key", CH)),
    };
    if outcome.jti == Use::Replay {
        return Err(agent_proof::invalid_proof(dpop_request::REPLAYED, CH));
    }
    if let Err(limited) = rate_limit(ctx, Bucket::AgentLoginAgent, &agent.id).await {
        if outcome.audited {
            agents::withdraw_login(ctx.db(), &audit_id).await?;
        }
        return Err(limited);
    }
    let session = session::create(ctx, AccountKind::Agent, &agent.id, agent.session_epoch).await?;
    Ok(Reply::ok(&LoggedIn {
        session_id: &session.session_id,
        expires_in: session.expires_in,
        agent_id: &agent.id,
    }))
}

/// Refuses a login naming an agent whose current key did not sign the proof: `404` when the
/// agent does not exist, otherwise an audited `401`.
async fn key_mismatch(ctx: &Ctx<'_>, agent_id: &str) -> Result<Infallible, ApiError> {
    if !agents::exists(ctx.db(), agent_id).await? {
        return Err(agent_not_found());
    }
    ctx.audit(
        &Event::by_agent("agent.login_failed", agent_id)
            .details(json!({ "reason": "key_mismatch" })),
    )
    .await?;
    Err(agent_proof::invalid_proof(
        "DPoP key is not the agent's current key",
        Challenge::Dpop,
    ))
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// `POST /v1/agents/logout`: effective immediately, everywhere (D1 marker).
pub async fn logout(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    session::revoke(ctx, &s.token_hash, s.expires_at_ms).await?;
    ctx.audit(&Event::by_agent("agent.logout", &s.agent.id))
        .await?;
    Ok(Reply::ok(&Message {
        message: "Logged out",
    }))
}

#[derive(Serialize)]
struct Me<'a> {
    agent: AgentView<'a>,
    subscription: AgentSummary,
}

/// `GET /v1/agents/me`: the session check and the summary's reads in one D1 batch; the tiers
/// come from the isolate's cache.
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let period = month_bounds_ms(ctx.now_ms);
    let cache = &ctx.services.tiers;
    let (s, ((reads, tiers), mut out)) =
        session::require_agent_reading(ctx, Challenge::Bearer, |id, batch| {
            (
                SummaryReads::push(batch, id, period),
                cache.read_into(batch),
            )
        })
        .await?;
    let tiers = cache.resolve(tiers, &mut out)?;
    let subscription = summarize(reads.take(&mut out)?, &tiers, &s.agent.id, ctx.now_ms)?;
    Ok(Reply::ok(&Me {
        agent: s.agent.view(),
        subscription,
    }))
}

#[derive(Serialize)]
struct Profile<'a> {
    agent: PublicAgentView<'a>,
}

/// `GET /v1/agents/:id` (public).
pub async fn profile(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let id = canonical_uuid(ctx.param("id")).ok_or_else(agent_not_found)?;
    let agent = agents::find(ctx.db(), &id)
        .await?
        .ok_or_else(agent_not_found)?;
    Ok(Reply::ok(&Profile {
        agent: agent.public_view(),
    }))
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
    overseer: Option<OverseerView>,
}

/// The overseer as its agent sees it, or `None` for a shadow sponsor whose paid validity
/// ended (the oversight is already inactive for the agent).
fn overseer_view(r: AgentsOverseer, now_ms: i64) -> Option<OverseerView> {
    if r.is_shadow {
        let until = r.shadow_valid_until.filter(|v| *v > now_ms)?;
        return Some(OverseerView {
            id: r.id,
            name: None,
            is_shadow: true,
            tier: "PAID".to_owned(),
            since: rfc3339_ms(r.activated_at),
            valid_until: Some(rfc3339_ms(until)),
        });
    }
    let paid = r.sub_status.as_deref().is_some_and(is_active_status);
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
}

/// `GET /v1/agents/me/overseer`: always 200; `null` without an active oversight. The
/// overseer's e-mail is never shown to agents.
pub async fn overseer(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (_, (row, mut out)) =
        session::require_agent_reading(ctx, Challenge::Bearer, |id, batch| {
            batch.push(oversights::overseer_of_statement(id))
        })
        .await?;
    let overseer = out
        .take(row)
        .first::<AgentsOverseer>()?
        .and_then(|r| overseer_view(r, ctx.now_ms));
    Ok(Reply::ok(&MyOverseer { overseer }))
}

#[derive(Serialize)]
struct HistoryEntry {
    id: String,
    client_id: String,
    client_name: String,
    scopes: String,
    status: RequestStatus,
    reason: Option<String>,
    created_at: String,
    exchanged_at: Option<String>,
    /// Additive (issue 10): `"overseer"` when the overseer decided in the browser.
    consented_by: ConsentedBy,
}

#[derive(Serialize)]
struct History {
    history: Vec<HistoryEntry>,
    next_cursor: Option<String>,
}

/// `GET /v1/agents/me/oauth-history` (paginated, newest first, never pruned).
pub async fn oauth_history(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let page = Page::from_query(ctx.req.query.as_deref())?;
    let before = page.cursor.as_ref().map(Cursor::parts);
    let before = before.as_ref().map(|(created_at, id)| Before {
        created_at: *created_at,
        id,
    });
    let (_, (rows, mut out)) =
        session::require_agent_reading(ctx, Challenge::Bearer, |id, batch| {
            batch.push(grants::history_statement(id, before, page.limit + 1))
        })
        .await?;
    let rows: Vec<grants::HistoryRow> = out.take(rows).decode()?;
    let (rows, next_cursor) = page.split(rows, |r| Cursor::new(r.created_at, &r.id));
    Ok(Reply::ok(&History {
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
                consented_by: r.consented_by,
            })
            .collect(),
        next_cursor,
    }))
}
