//! Human claims of agents (api.md 2.4, 5.4, 5.6): an overseer initiates, the agent confirms.
//! Initiation never touches an oversight; only the agent's completion does, in one batch whose
//! partial unique index and capacity guard decide races.

use serde::Serialize;
use serde_json::json;

use crate::auth::agent_proof;
use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::challenge::{Claim, ClaimStatus, Record, ShadowClaim, ShadowStatus};
use crate::domain::claims::{ClaimError, Room, SHADOW_KV_GRACE_SECS};
use crate::domain::enforcement::{overseer_pool_statements, unclaimed_pool_statements, Cause};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::shadow;
use crate::domain::tier::{overseer_tier, Tiers};
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::challenges::{self as kv_challenges, Update};
use crate::store::oversights::{self, ClaimOutcome, Claiming, Deactivation};
use crate::store::{agents, overseers};

/// How long a claim's status stays reportable after it expired (api.md 2.4).
const STATUS_GRACE_SECS: i64 = 3600;

/// The answers of api.md 2.4/2.5 to a refused claim; shadow claims answer the same way.
impl From<ClaimError> for ApiError {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::AgentNotFound => ApiError::new(ErrorCode::AgentNotFound, "Agent not found"),
            ClaimError::AlreadyClaimed { by_caller: true } => {
                ApiError::new(ErrorCode::AlreadyClaimed, "You already oversee this agent")
            }
            ClaimError::AlreadyClaimed { by_caller: false } => ApiError::new(
                ErrorCode::AlreadyClaimed,
                "Agent already claimed by another overseer",
            ),
            ClaimError::OverseerMismatch => ApiError::new(
                ErrorCode::OverseerMismatch,
                "overseer_id does not match the challenge",
            ),
        }
    }
}

fn tier_limit() -> ApiError {
    ApiError::new(
        ErrorCode::TierLimitReached,
        "Your tier does not allow another agent",
    )
}

/// A human overseer's room for agents; `None` if the overseer no longer exists.
async fn capacity(ctx: &Ctx<'_>, overseer_id: &str) -> Result<Option<Room>, ApiError> {
    let Some(tier) = overseer_tier(ctx.db(), overseer_id).await? else {
        return Ok(None);
    };
    let active = oversights::count_active(ctx.db(), overseer_id).await?;
    let tiers = Tiers::load(ctx.db()).await?;
    let max_agents = tiers.get(&tier)?.max_agents;
    Ok(Some(Room { active, max_agents }))
}

#[derive(Serialize)]
struct Initiated<'a> {
    challenge_id: &'a str,
    complete_url: String,
    overseer_id: &'a str,
    agent_id: &'a str,
    expires_at: String,
    expires_in: i64,
    message: &'static str,
}

/// `POST /v1/agents/claim/initiate`
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    crate::routes::email_verification::require_verified(ctx, &s.overseer)?;
    let agent_id = body.req_uuid("agent_id")?;
    if !agents::exists(ctx.db(), &agent_id).await? {
        return Err(ClaimError::AgentNotFound.into());
    }
    if let Some(current) = oversights::active(ctx.db(), &agent_id).await? {
        if current.is_human() {
            let by_caller = current.overseer_id == s.overseer.id;
            return Err(ClaimError::AlreadyClaimed { by_caller }.into());
        }
    }
    let room = capacity(ctx, &s.overseer.id)
        .await?
        .ok_or_else(|| ApiError::internal("overseer vanished"))?;
    if !room.has_room() {
        return Err(tier_limit());
    }

    let ttl = ctx.config.claim_challenge_ttl_secs;
    let claim = Claim {
        challenge_id: uuid_v4(ctx.rng())?,
        agent_id: agent_id.clone(),
        overseer_id: s.overseer.id.clone(),
        status: ClaimStatus::Pending,
        created_at: ctx.now_ms,
        expires_at: ctx.now_ms + ttl * 1000,
        completed_at: None,
    };
    store_claim(ctx, &claim).await?;
    let event = Event::new("claim.initiated", Actor::Overseer(&s.overseer.id))
        .subject(Subject::Agent(&agent_id))
        .overseer(&s.overseer.id)
        .agent(&agent_id)
        .details(json!({ "challenge_id": claim.challenge_id }));
    ctx.audit(&event).await?;
    Ok(Reply::ok(&Initiated {
        challenge_id: &claim.challenge_id,
        complete_url: format!(
            "{}/v1/agents/claim/complete/{}",
            ctx.issuer, claim.challenge_id
        ),
        overseer_id: &s.overseer.id,
        agent_id: &agent_id,
        expires_at: rfc3339_ms(claim.expires_at),
        expires_in: ttl,
        message: "Give the agent the challenge_id and your overseer_id; it must confirm the claim.",
    }))
}

/// Writes a human claim; it stays readable for an hour after expiry for the status endpoint.
async fn store_claim(ctx: &Ctx<'_>, claim: &Claim) -> Result<(), ApiError> {
    let record = Record::Claim(claim.clone());
    Ok(kv_challenges::save(ctx.kv(), &record, ctx.now_ms, STATUS_GRACE_SECS).await?)
}

#[derive(Serialize)]
struct Completed<'a> {
    message: &'static str,
    status: &'static str,
    overseer_id: &'a str,
    agent_id: &'a str,
}

/// `POST /v1/agents/claim/complete/:challengeId` — the agent's consent, for human and shadow
/// claims alike (dual-mode authentication).
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let agent = agent_proof::session_or_proof(ctx).await?;
    let overseer_id = body.req_uuid("overseer_id")?;
    let record = oversights::claim_record(ctx.kv(), ctx.param("challenge_id"))
        .await?
        .filter(|r| r.expires_at() > ctx.now_ms)
        .ok_or_else(ApiError::challenge_not_found)?;
    let (challenge_agent, challenge_overseer) = match &record {
        Record::Claim(c) if c.status == ClaimStatus::Pending => (&c.agent_id, &c.overseer_id),
        Record::Shadow(c) if c.status != ShadowStatus::Completed => {
            (&c.agent_id, &c.shadow_overseer_id)
        }
        _ => return Err(ApiError::challenge_not_found()),
    };
    if *challenge_agent != agent.id {
        return Err(ApiError::new(
            ErrorCode::ChallengeMismatch,
            "Challenge belongs to another agent",
        ));
    }
    if *challenge_overseer != overseer_id {
        return Err(ClaimError::OverseerMismatch.into());
    }
    match record {
        // The KV record is rewritten after the commit, so D1 says whether it was used already.
        Record::Claim(claim) if completed_in_d1(ctx, &claim).await? => {
            Err(ApiError::challenge_not_found())
        }
        Record::Claim(claim) => complete_human(ctx, claim).await,
        Record::Shadow(claim) => confirm_shadow(ctx, claim).await,
        _ => Err(ApiError::challenge_not_found()),
    }
}

async fn complete_human(ctx: &Ctx<'_>, mut claim: Claim) -> Result<Reply, ApiError> {
    let current = oversights::active(ctx.db(), &claim.agent_id).await?;
    let replaces_shadow = match &current {
        Some(c) if c.overseer_id == claim.overseer_id => {
            return finish(ctx, claim).await; // idempotent: already this overseer's agent
        }
        Some(c) if c.is_human() => {
            return Err(ClaimError::AlreadyClaimed { by_caller: false }.into())
        }
        Some(c) => Some(c.overseer_id.as_str()),
        None => None,
    };
    let room = capacity(ctx, &claim.overseer_id).await?;
    let Some(room) = room.filter(|r| r.has_room()) else {
        return Err(tier_limit());
    };
    let id = uuid_v4(ctx.rng())?;
    let claiming = Claiming {
        id: &id,
        overseer_id: &claim.overseer_id,
        agent_id: &claim.agent_id,
        replaces_shadow,
        max_agents: room.max_agents,
    };
    let details =
        json!({ "challenge_id": claim.challenge_id, "replaced_shadow": replaces_shadow.is_some() });
    let event = Event::by_agent("claim.completed", &claim.agent_id)
        .overseer(&claim.overseer_id)
        .details(details);
    // The agent's clients join the overseer's pool (api.md 5.8), in the same batch: a claim is
    // never committed without its enforcement.
    let enforce = overseer_pool_statements(
        ctx.db(),
        &ctx.stamp(),
        Actor::System,
        &claim.overseer_id,
        Cause::Limits,
    )
    .await?;
    let outcome =
        oversights::complete_claim(ctx.db(), &claiming, &event, &ctx.stamp(), enforce).await?;
    match outcome {
        ClaimOutcome::Claimed => {}
        ClaimOutcome::AlreadyClaimed => {
            return Err(ClaimError::AlreadyClaimed { by_caller: false }.into())
        }
        ClaimOutcome::TierLimitReached => return Err(tier_limit()),
    }
    claim.completed_at = Some(ctx.now_ms);
    finish(ctx, claim).await
}

/// Marks the claim completed (after the commit, best effort: the status endpoint asks D1 when
/// the record still says pending) and answers the agent.
async fn finish(ctx: &Ctx<'_>, mut claim: Claim) -> Result<Reply, ApiError> {
    claim.status = ClaimStatus::Completed;
    claim.completed_at.get_or_insert(ctx.now_ms);
    let reply = Reply::ok(&Completed {
        message: "Claim accepted",
        status: "completed",
        overseer_id: &claim.overseer_id,
        agent_id: &claim.agent_id,
    });
    defer_update(
        ctx,
        Update::Save {
            record: Record::Claim(claim),
            grace_secs: STATUS_GRACE_SECS,
        },
    );
    Ok(reply)
}

/// Whether D1 recorded this claim's completion: true even if the KV record, rewritten after
/// the commit, still says pending.
async fn completed_in_d1(ctx: &Ctx<'_>, claim: &Claim) -> Result<bool, ApiError> {
    Ok(oversights::claim_completed(
        ctx.db(),
        &claim.overseer_id,
        claim.created_at,
        &claim.challenge_id,
    )
    .await?)
}

/// The agent's confirmation of a shadow claim, after the checks of [`complete`] matched the
/// challenge's agent and shadow id.
async fn confirm_shadow(ctx: &Ctx<'_>, mut claim: ShadowClaim) -> Result<Reply, ApiError> {
    let existing = overseers::shadow_of(ctx.db(), &claim.agent_id).await?;
    let secret = ctx
        .config
        .shadow_secret
        .as_ref()
        .map_err(ApiError::configuration)?;
    let expected = shadow::overseer_id(secret, &claim.agent_id, existing);
    let verifies = claim.shadow_overseer_id == expected
        || shadow::verify_id(secret, &claim.agent_id, &claim.shadow_overseer_id);
    if !verifies {
        return Err(ClaimError::OverseerMismatch.into());
    }
    let active = oversights::active(ctx.db(), &claim.agent_id).await?;
    if active.is_some_and(|o| o.is_human()) {
        return Err(ClaimError::AlreadyClaimed { by_caller: false }.into());
    }
    if claim.status == ShadowStatus::Initiated {
        claim.status = ShadowStatus::AwaitingPayment;
        claim.confirmed_at = Some(ctx.now_ms);
        claim.expires_at = ctx.now_ms + ctx.config.shadow_challenge_ttl_secs * 1000;
        let event = Event::new("shadow_claim.confirmed", Actor::Agent(&claim.agent_id))
            .subject(Subject::Agent(&claim.agent_id))
            .details(json!({ "challenge_id": claim.challenge_id }));
        // D1 holds the confirmation (once per challenge); the KV record follows after the
        // response, since KV may refuse a rewrite of a key created less than a second ago.
        oversights::confirm_shadow_claim(
            ctx.db(),
            &event,
            &ctx.stamp(),
            claim.created_at,
            &claim.challenge_id,
        )
        .await?;
        defer_update(
            ctx,
            Update::Save {
                record: Record::Shadow(claim.clone()),
                grace_secs: SHADOW_KV_GRACE_SECS,
            },
        );
    }
    Ok(Reply::ok(&json!({
        "message": "Shadow claim confirmed. Awaiting payment.",
        "status": "awaiting-payment",
        "challenge_id": claim.challenge_id,
        "agent_id": claim.agent_id,
        "overseer_id": claim.shadow_overseer_id,
        "shadow_overseer_id": claim.shadow_overseer_id,
    })))
}

#[derive(Serialize)]
struct Status<'a> {
    challenge_id: &'a str,
    agent_id: &'a str,
    status: &'static str,
    expires_at: String,
}

/// `GET /v1/agents/claim/status/:challengeId` — only for the overseer that created it.
pub async fn status(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let claim = match oversights::claim_record(ctx.kv(), ctx.param("challenge_id")).await? {
        Some(Record::Claim(c)) if c.overseer_id == s.overseer.id => c,
        _ => return Err(ApiError::challenge_not_found()),
    };
    // A pending record may just not show the completion yet: D1 decides.
    let completed = match claim.status {
        ClaimStatus::Completed => true,
        ClaimStatus::Pending => completed_in_d1(ctx, &claim).await?,
    };
    let status = if completed {
        "completed"
    } else if claim.expires_at > ctx.now_ms {
        "pending"
    } else if claim.expires_at + STATUS_GRACE_SECS * 1000 > ctx.now_ms {
        "expired"
    } else {
        return Err(ApiError::challenge_not_found());
    };
    Ok(Reply::ok(&Status {
        challenge_id: &claim.challenge_id,
        agent_id: &claim.agent_id,
        status,
        expires_at: rfc3339_ms(claim.expires_at),
    }))
}

fn no_active_oversight() -> ApiError {
    ApiError::new(ErrorCode::NoActiveOversight, "No active oversight")
}

/// `POST /v1/agents/revoke-overseer`: the agent ends its own oversight (no parameters).
pub async fn revoke_overseer(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let current = oversights::active(ctx.db(), &s.agent.id)
        .await?
        .ok_or_else(no_active_oversight)?;
    let reason = Deactivation::RevokedByAgent;
    let event = Event::by_agent("oversight.revoked_by_agent", &s.agent.id)
        .overseer(&current.overseer_id)
        .details(json!({ "reason": reason.as_str() }));
    // The agent leaves its overseer's pool for its own, under the FREE limits (api.md 5.8): the
    // excess clients are disabled in the same batch, so paying once and revoking can never keep
    // more clients enabled than FREE allows. `Unclaimed` re-checks at commit time that no other
    // oversight became active meanwhile.
    let enforce = unclaimed_pool_statements(
        ctx.db(),
        &ctx.stamp(),
        Actor::System,
        &s.agent.id,
        Cause::Limits,
    )
    .await?;
    let (db, stamp) = (ctx.db(), ctx.stamp());
    let (overseer, agent) = (current.overseer_id.as_str(), s.agent.id.as_str());
    if !oversights::deactivate(db, overseer, agent, reason, &event, &stamp, enforce).await? {
        return Err(no_active_oversight());
    }
    Ok(Reply::ok(
        &json!({"message": "Overseer revoked", "overseer_id": current.overseer_id}),
    ))
}

/// `POST /v1/agents/declaim/:agentId`: the overseer lets an agent go.
pub async fn declaim(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or_else(no_active_oversight)?;
    let reason = Deactivation::Declaimed;
    let event = Event::new("oversight.declaimed", Actor::Overseer(&s.overseer.id))
        .subject(Subject::Agent(&agent_id))
        .overseer(&s.overseer.id)
        .agent(&agent_id)
        .details(json!({ "reason": reason.as_str() }));
    // Checked first so that a refused declaim writes nothing; the batch re-checks it.
    let current = oversights::active(ctx.db(), &agent_id).await?;
    if current.is_none_or(|c| c.overseer_id != s.overseer.id) {
        return Err(no_active_oversight());
    }
    // The agent leaves with its own pool under the FREE limits, in the same batch.
    let pool = unclaimed_pool_statements(
        ctx.db(),
        &ctx.stamp(),
        Actor::System,
        &agent_id,
        Cause::Limits,
    )
    .await?;
    let (db, stamp) = (ctx.db(), ctx.stamp());
    let overseer = s.overseer.id.as_str();
    if !oversights::deactivate(db, overseer, &agent_id, reason, &event, &stamp, pool).await? {
        return Err(no_active_oversight());
    }
    Ok(Reply::ok(
        &json!({"message": "Agent declaimed", "agent_id": agent_id}),
    ))
}

/// Writes `update` to KV after the response; the decision is already in D1.
fn defer_update(ctx: &Ctx<'_>, update: Update) {
    ctx.defer(kv_challenges::settle(
        ctx.services.kv.clone(),
        update,
        ctx.now_ms,
        ctx.request_id.to_owned(),
    ));
}
