//! An agent's live grants (issue 12 item 7): the agent itself and its active overseer list the
//! grants the agent has given to OAuth clients, and revoke one. A revoked grant's refresh
//! family ends (refresh → `invalid_grant`) and its access tokens are inactive at userinfo and
//! introspection from the next request on: both read the grant's state from D1 every time.
//!
//! Lists cost one D1 round trip (the session check carries the reads); a revocation two (the
//! reads, then one batch that revokes and audits only while the grant is still live and, for
//! an overseer, the oversight still active).

use serde::Serialize;
use serde_json::json;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::time::rfc3339_ms;
use crate::http::error::Challenge;
use crate::http::pagination::{Cursor, Page};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::{Batch, Outcomes, Step};
use crate::store::grants::RevokedBecause;
use crate::store::live_grants::{self, Before, ConsentedBy, LiveGrantRow, Revocation};
use crate::store::oversights::{self, Overseen};

fn no_active_oversight() -> ApiError {
    ApiError::new(
        ErrorCode::NoActiveOversight,
        "You do not actively oversee this agent",
    )
}

fn grant_not_found() -> ApiError {
    ApiError::new(ErrorCode::GrantNotFound, "No such live grant")
}

/// The client a grant was given to.
#[derive(Serialize)]
struct GrantClient {
    id: String,
    name: String,
}

/// One live grant on the wire.
#[derive(Serialize)]
struct GrantView {
    id: String,
    client: GrantClient,
    /// Space-separated, as granted.
    scopes: String,
    /// Resource indicators the grant is limited to; `null` until grants carry resources.
    resources: Option<Vec<String>>,
    consented_at: String,
    consented_by: ConsentedBy,
    /// The last token issuance (code exchange or refresh), not every use of an access token.
    last_used_at: String,
}

impl From<LiveGrantRow> for GrantView {
    fn from(r: LiveGrantRow) -> Self {
        Self {
            id: r.id,
            client: GrantClient {
                id: r.client_id,
                name: r.client_name,
            },
            scopes: r.scope,
            resources: None,
            consented_at: rfc3339_ms(r.consented_at),
            consented_by: r.consented_by,
            last_used_at: rfc3339_ms(r.last_used_at),
        }
    }
}

#[derive(Serialize)]
struct Listed<'a> {
    agent_id: &'a str,
    grants: Vec<GrantView>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct Revoked<'a> {
    message: &'static str,
    grant_id: &'a str,
}

/// The page asked for, as a keyset position.
fn page_of(ctx: &Ctx<'_>) -> Result<(Page, Option<(i64, String)>), ApiError> {
    let page = Page::from_query(ctx.req.query.as_deref())?;
    let before = page.cursor.as_ref().map(Cursor::parts);
    Ok((page, before))
}

fn before_of(before: &Option<(i64, String)>) -> Option<Before<'_>> {
    before.as_ref().map(|(ms, id)| Before {
        consented_at: *ms,
        id,
    })
}

/// The page's rows and the cursor of the next one.
fn listed(
    page: &Page,
    out: &mut Outcomes,
    rows: Step,
) -> Result<(Vec<GrantView>, Option<String>), ApiError> {
    let rows: Vec<LiveGrantRow> = out.take(rows).decode()?;
    let (rows, next) = page.split(rows, |r| Cursor::new(r.consented_at, &r.id));
    Ok((rows.into_iter().map(GrantView::from).collect(), next))
}

/// The audit row of a revocation by `actor`.
fn revoked_event<'a>(actor: Actor<'a>, grant: &'a LiveGrantRow, agent_id: &'a str) -> Event<'a> {
    let revoked_by = actor.kind();
    Event::new("oauth.grant_revoked", actor)
        .subject(Subject::Client(&grant.client_id))
        .agent(agent_id)
        .client(&grant.client_id)
        .details(json!({
            "agent_id": agent_id,
            "client_id": grant.client_id,
            "client_name": grant.client_name,
            "grant_id": grant.id,
            "scopes": grant.scope,
            "consented_by": grant.consented_by,
            "revoked_by": revoked_by,
        }))
}

// --- the agent's own ---

/// `GET /v1/agents/me/grants`: the caller's live grants, newest consent first (paginated).
pub async fn agent_list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (page, before) = page_of(ctx)?;
    let now = ctx.now_ms;
    let (s, (rows, mut out)) =
        session::require_agent_reading(ctx, Challenge::Bearer, |id, batch| {
            batch.push(live_grants::list_statement(
                id,
                now,
                before_of(&before),
                page.limit + 1,
            ))
        })
        .await?;
    let (grants, next_cursor) = listed(&page, &mut out, rows)?;
    Ok(Reply::ok(&Listed {
        agent_id: &s.agent.id,
        grants,
        next_cursor,
    }))
}

/// `DELETE /v1/agents/me/grants/:grantId`: the caller ends one of its live grants.
pub async fn agent_revoke(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let grant_id = canonical_uuid(ctx.param("grant_id"));
    let now = ctx.now_ms;
    let (s, (found, mut out)) =
        session::require_agent_reading(ctx, Challenge::Bearer, |id, batch| {
            grant_id
                .as_deref()
                .map(|g| batch.push(live_grants::find_statement(g, id, now)))
        })
        .await?;
    let grant_id = grant_id.ok_or_else(grant_not_found)?;
    let grant: LiveGrantRow = found
        .and_then(|step| out.take(step).first().transpose())
        .transpose()?
        .ok_or_else(grant_not_found)?;
    let agent_id = s.agent.id.as_str();
    let ev = revoked_event(Actor::Agent(agent_id), &grant, agent_id);
    let revocation = Revocation {
        grant_id: &grant_id,
        agent_id,
        because: RevokedBecause::RevokedByAgent,
        only_while: None,
    };
    if !live_grants::revoke(ctx.db(), &revocation, &ev, &ctx.stamp()).await? {
        return Err(grant_not_found());
    }
    Ok(Reply::ok(&Revoked {
        message: "Grant revoked",
        grant_id: &grant_id,
    }))
}

// --- an overseer's, for an agent it actively oversees ---

/// The session, the path's agent (which the caller must actively oversee) and the outcome of
/// `reads` pushed alongside, in one round trip.
async fn overseen_reading<R>(
    ctx: &Ctx<'_>,
    reads: impl FnOnce(&str, &mut Batch) -> R,
) -> Result<(session::OverseerSession, String, R, Outcomes), ApiError> {
    let agent_id = canonical_uuid(ctx.param("agent_id"));
    let (s, ((oversight, r), mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        let agent = agent_id.as_deref().unwrap_or_default();
        let oversight = batch.push(oversights::active_between_statement(id, agent));
        (oversight, reads(agent, batch))
    })
    .await?;
    let agent_id = agent_id.ok_or_else(no_active_oversight)?;
    if out.take(oversight).first::<Overseen>()?.is_none() {
        return Err(no_active_oversight());
    }
    Ok((s, agent_id, r, out))
}

/// `GET /v1/overseers/agents/:agentId/grants`: the live grants of an agent the caller actively
/// oversees, newest consent first (paginated).
pub async fn overseer_list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (page, before) = page_of(ctx)?;
    let now = ctx.now_ms;
    let (_, agent_id, rows, mut out) = overseen_reading(ctx, |agent, batch| {
        batch.push(live_grants::list_statement(
            agent,
            now,
            before_of(&before),
            page.limit + 1,
        ))
    })
    .await?;
    let (grants, next_cursor) = listed(&page, &mut out, rows)?;
    Ok(Reply::ok(&Listed {
        agent_id: &agent_id,
        grants,
        next_cursor,
    }))
}

/// `DELETE /v1/overseers/agents/:agentId/grants/:grantId`: the caller ends one live grant of an
/// agent it actively oversees.
pub async fn overseer_revoke(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let grant_id = canonical_uuid(ctx.param("grant_id"));
    let now = ctx.now_ms;
    let (s, agent_id, found, mut out) = overseen_reading(ctx, |agent, batch| {
        grant_id
            .as_deref()
            .map(|g| batch.push(live_grants::find_statement(g, agent, now)))
    })
    .await?;
    let grant_id = grant_id.ok_or_else(grant_not_found)?;
    let grant: LiveGrantRow = found
        .and_then(|step| out.take(step).first().transpose())
        .transpose()?
        .ok_or_else(grant_not_found)?;
    let overseer_id = s.overseer.id.as_str();
    let ev = revoked_event(Actor::Overseer(overseer_id), &grant, &agent_id).overseer(overseer_id);
    let revocation = Revocation {
        grant_id: &grant_id,
        agent_id: &agent_id,
        because: RevokedBecause::RevokedByOverseer,
        only_while: Some(oversights::active_guard(overseer_id, &agent_id)),
    };
    if !live_grants::revoke(ctx.db(), &revocation, &ev, &ctx.stamp()).await? {
        return Err(grant_not_found());
    }
    Ok(Reply::ok(&Revoked {
        message: "Grant revoked",
        grant_id: &grant_id,
    }))
}
