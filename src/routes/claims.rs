//! Human claims of agents (api.md 2.4, 5.4, 5.6): an overseer initiates, the agent confirms.
//! Initiation never touches an oversight; only the agent's completion does, in one batch whose
//! partial unique index and capacity guard decide races.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::agent_proof;
use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::challenge::{self, Claim, ClaimStatus, Record};
use crate::domain::enforcement::{overseer_pool_statements, unclaimed_pool_statements, Cause};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::tier::{overseer_tier, Tiers};
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::challenges::{self, Update};
use crate::routes::registration::challenge_not_found;
use crate::routes::shadow;
use crate::stmt;
use crate::store::audit::Actor;
use crate::store::{Constraint, Namespace, Statement, StoreError, Value};

/// How long a claim's status stays reportable after it expired (api.md 2.4).
const STATUS_GRACE_SECS: i64 = 3600;

pub fn agent_not_found() -> ApiError {
    ApiError::new(ErrorCode::AgentNotFound, "Agent not found")
}

pub fn already_claimed(by_caller: bool) -> ApiError {
    let message = if by_caller {
        "You already oversee this agent"
    } else {
        "Agent already claimed by another overseer"
    };
    ApiError::new(ErrorCode::AlreadyClaimed, message)
}

fn tier_limit() -> ApiError {
    ApiError::new(
        ErrorCode::TierLimitReached,
        "Your tier does not allow another agent",
    )
}

/// The agent's active oversight, if any.
#[derive(Debug, Deserialize)]
pub struct ActiveOversight {
    pub overseer_id: String,
    pub kind: String,
}

impl ActiveOversight {
    pub fn is_human(&self) -> bool {
        self.kind == "human"
    }
}

pub async fn active_oversight(
    ctx: &Ctx<'_>,
    agent_id: &str,
) -> Result<Option<ActiveOversight>, ApiError> {
    Ok(ctx
        .services
        .db
        .run(stmt!(
            "SELECT o.overseer_id, ov.kind FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             WHERE o.agent_id = ?1 AND o.active = 1",
            agent_id
        ))
        .await?
        .first()?)
}

pub async fn agent_exists(ctx: &Ctx<'_>, agent_id: &str) -> Result<bool, ApiError> {
    Ok(!ctx
        .services
        .db
        .run(stmt!("SELECT 1 AS one FROM agents WHERE id = ?1", agent_id))
        .await?
        .rows
        .is_empty())
}

/// A human overseer's room for agents: `(active oversights, max_agents)`; `None` if the
/// overseer no longer exists. `-1` means unlimited.
async fn capacity(ctx: &Ctx<'_>, overseer_id: &str) -> Result<Option<(i64, i64)>, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let db = ctx.services.db.as_ref();
    let Some(tier) = overseer_tier(db, overseer_id).await? else {
        return Ok(None);
    };
    let active = db
        .run(stmt!(
            "SELECT COUNT(*) AS n FROM oversights WHERE overseer_id = ?1 AND active = 1",
            overseer_id
        ))
        .await?
        .first::<Count>()?
        .map_or(0, |c| c.n);
    let tiers = Tiers::load(db).await?;
    Ok(Some((active, tiers.get(&tier)?.max_agents)))
}

fn has_room((active, max): (i64, i64)) -> bool {
    max < 0 || active < max
}

#[derive(Serialize)]
struct Initiated<'a> {
    success: bool,
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
    let agent_id = body.req_uuid("agent_id")?;
    if !agent_exists(ctx, &agent_id).await? {
        return Err(agent_not_found());
    }
    if let Some(current) = active_oversight(ctx, &agent_id).await? {
        if current.is_human() {
            return Err(already_claimed(current.overseer_id == s.overseer.id));
        }
    }
    let room = capacity(ctx, &s.overseer.id)
        .await?
        .ok_or_else(|| ApiError::internal("overseer vanished"))?;
    if !has_room(room) {
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
    let event = Event {
        kind: "claim.initiated",
        actor_type: "overseer",
        actor_id: Some(&s.overseer.id),
        subject_type: Some("agent"),
        subject_id: Some(&agent_id),
        overseer_id: Some(&s.overseer.id),
        agent_id: Some(&agent_id),
        details: json!({ "challenge_id": claim.challenge_id }),
    };
    audit::record(ctx, &event).await?;
    Ok(Reply::ok(&Initiated {
        success: true,
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
    challenges::save(ctx, &Record::Claim(claim.clone()), STATUS_GRACE_SECS).await
}

/// Any claim record, expired or not (the status endpoint reports expiry itself).
pub async fn load_claim(ctx: &Ctx<'_>, raw_id: &str) -> Result<Option<Record>, ApiError> {
    let Some(id) = canonical_uuid(raw_id) else {
        return Ok(None);
    };
    Ok(ctx
        .services
        .kv
        .get(Namespace::Challenges, &challenge::claim_key(&id))
        .await?
        .and_then(|v| serde_json::from_str::<Record>(&v).ok())
        .filter(|r| match r {
            Record::Claim(c) => c.challenge_id == id,
            Record::Shadow(c) => c.challenge_id == id,
            _ => false,
        }))
}

#[derive(Serialize)]
struct Completed<'a> {
    success: bool,
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
    let record = load_claim(ctx, ctx.param("challenge_id"))
        .await?
        .filter(|r| r.expires_at() > ctx.now_ms)
        .ok_or_else(challenge_not_found)?;
    let (challenge_agent, challenge_overseer) = match &record {
        Record::Claim(c) if c.status == ClaimStatus::Pending => (&c.agent_id, &c.overseer_id),
        Record::Shadow(c) if c.status != crate::domain::challenge::ShadowStatus::Completed => {
            (&c.agent_id, &c.shadow_overseer_id)
        }
        _ => return Err(challenge_not_found()),
    };
    if *challenge_agent != agent.id {
        return Err(ApiError::new(
            ErrorCode::ChallengeMismatch,
            "Challenge belongs to another agent",
        ));
    }
    if *challenge_overseer != overseer_id {
        return Err(overseer_mismatch());
    }
    match record {
        // The KV record is rewritten after the commit, so D1 says whether it was used already.
        Record::Claim(claim) if completed_in_d1(ctx, &claim).await? => Err(challenge_not_found()),
        Record::Claim(claim) => complete_human(ctx, claim).await,
        Record::Shadow(claim) => shadow::confirm(ctx, claim).await,
        _ => Err(challenge_not_found()),
    }
}

pub fn overseer_mismatch() -> ApiError {
    ApiError::new(
        ErrorCode::OverseerMismatch,
        "overseer_id does not match the challenge",
    )
}

async fn complete_human(ctx: &Ctx<'_>, mut claim: Claim) -> Result<Reply, ApiError> {
    let current = active_oversight(ctx, &claim.agent_id).await?;
    let replaces_shadow = match &current {
        Some(c) if c.overseer_id == claim.overseer_id => {
            return finish(ctx, claim).await; // idempotent: already this overseer's agent
        }
        Some(c) if c.is_human() => return Err(already_claimed(false)),
        Some(c) => Some(c.overseer_id.clone()),
        None => None,
    };
    let Some(room) = capacity(ctx, &claim.overseer_id).await? else {
        return Err(tier_limit());
    };
    if !has_room(room) {
        return Err(tier_limit());
    }

    let now = ctx.now_ms;
    let mut batch = Vec::new();
    if let Some(shadow_id) = &replaces_shadow {
        batch.push(stmt!(
            "UPDATE oversights SET active = 0, deactivated_reason = 'replaced_by_overseer', \
             deactivated_at = ?3, updated_at = ?3 WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            shadow_id.as_str(),
            claim.agent_id.as_str(),
            now
        ));
    }
    batch.push(stmt!(
        "INSERT INTO oversights (id, overseer_id, agent_id, active, marked_for_cancellation, activated_at, \
           created_at, updated_at) VALUES (?1, ?2, ?3, 1, 0, ?4, ?4, ?4) \
         ON CONFLICT (overseer_id, agent_id) DO UPDATE SET active = 1, deactivated_reason = NULL, \
           deactivated_at = NULL, marked_for_cancellation = 0, activated_at = ?4, updated_at = ?4",
        uuid_v4(ctx.rng())?,
        claim.overseer_id.as_str(),
        claim.agent_id.as_str(),
        now
    ));
    let (_, max_agents) = room;
    if max_agents >= 0 {
        // api.md 3.5: abort the whole batch if a concurrent claim filled the last slot.
        batch.push(stmt!(
            "INSERT INTO batch_guards (ok) SELECT CASE WHEN \
               (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?1 AND active = 1) <= ?2 THEN 1 ELSE 0 END",
            claim.overseer_id.as_str(),
            max_agents
        ));
        batch.push(stmt!("DELETE FROM batch_guards"));
    }
    let event = Event {
        kind: "claim.completed",
        actor_type: "agent",
        actor_id: Some(&claim.agent_id),
        subject_type: Some("agent"),
        subject_id: Some(&claim.agent_id),
        overseer_id: Some(&claim.overseer_id),
        agent_id: Some(&claim.agent_id),
        details: json!({ "challenge_id": claim.challenge_id, "replaced_shadow": replaces_shadow.is_some() }),
    };
    batch.push(audit::insert(ctx, &event)?);
    // The agent's clients join the overseer's pool (api.md 5.8), in the same batch: a claim is
    // never committed without its enforcement.
    batch.extend(
        overseer_pool_statements(
            ctx.db(),
            &ctx.stamp(),
            Actor::System,
            &claim.overseer_id,
            Cause::Limits,
        )
        .await?,
    );
    match ctx.services.db.batch(batch).await {
        Ok(_) => {}
        Err(StoreError::Conflict(Constraint::Unique, _)) => return Err(already_claimed(false)),
        Err(StoreError::Conflict(Constraint::Check, _)) => return Err(tier_limit()),
        Err(e) => return Err(e.into()),
    }
    claim.completed_at = Some(now);
    finish(ctx, claim).await
}

/// Marks the claim completed (after the commit, best effort: the status endpoint asks D1 when
/// the record still says pending) and answers the agent.
async fn finish(ctx: &Ctx<'_>, mut claim: Claim) -> Result<Reply, ApiError> {
    claim.status = ClaimStatus::Completed;
    claim.completed_at.get_or_insert(ctx.now_ms);
    let reply = Reply::ok(&Completed {
        success: true,
        message: "Claim accepted",
        status: "completed",
        overseer_id: &claim.overseer_id,
        agent_id: &claim.agent_id,
    });
    challenges::defer_update(
        ctx,
        Update::Save {
            record: Record::Claim(claim),
            grace_secs: STATUS_GRACE_SECS,
        },
    );
    Ok(reply)
}

/// Whether D1 recorded this claim's completion (its `claim.completed` audit row, written in
/// the completing batch): true even if the KV record, rewritten after the commit, still says
/// pending. Only the overseer's rows since the claim was created are scanned (indexed).
async fn completed_in_d1(ctx: &Ctx<'_>, claim: &Claim) -> Result<bool, ApiError> {
    Ok(!ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS done FROM audit_events WHERE overseer_id = ?1 AND created_at >= ?2 \
             AND type = 'claim.completed' AND json_extract(details, '$.challenge_id') = ?3 LIMIT 1",
            claim.overseer_id.as_str(),
            claim.created_at,
            claim.challenge_id.as_str()
        ))
        .await?
        .rows
        .is_empty())
}

#[derive(Serialize)]
struct Status<'a> {
    success: bool,
    challenge_id: &'a str,
    agent_id: &'a str,
    status: &'static str,
    expires_at: String,
}

/// `GET /v1/agents/claim/status/:challengeId` — only for the overseer that created it.
pub async fn status(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let claim = match load_claim(ctx, ctx.param("challenge_id")).await? {
        Some(Record::Claim(c)) if c.overseer_id == s.overseer.id => c,
        _ => return Err(challenge_not_found()),
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
        return Err(challenge_not_found());
    };
    Ok(Reply::ok(&Status {
        success: true,
        challenge_id: &claim.challenge_id,
        agent_id: &claim.agent_id,
        status,
        expires_at: rfc3339_ms(claim.expires_at),
    }))
}

fn no_active_oversight() -> ApiError {
    ApiError::new(ErrorCode::NoActiveOversight, "No active oversight")
}

/// Deactivates one oversight with a reason and its audit row, in one batch that ends with
/// `then` (enforcement that must commit together with the deactivation).
async fn deactivate(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    agent_id: &str,
    reason: &'static str,
    event: Event<'_>,
    then: Vec<Statement>,
) -> Result<bool, ApiError> {
    // The audit row goes first, guarded on the same pre-state the UPDATE needs (the oversight
    // is active), so both take effect or neither does.
    let mut batch = vec![
        audit::insert_where(
            ctx,
            &event,
            Some((
                "EXISTS (SELECT 1 FROM oversights WHERE overseer_id = ?13 AND agent_id = ?14 AND active = 1)",
                vec![Value::from(overseer_id), Value::from(agent_id)],
            )),
        )?,
        stmt!(
            "UPDATE oversights SET active = 0, deactivated_reason = ?3, deactivated_at = ?4, updated_at = ?4 \
             WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 1",
            overseer_id,
            agent_id,
            reason,
            ctx.now_ms
        ),
    ];
    batch.extend(then);
    let outcomes = ctx.services.db.batch(batch).await?;
    Ok(outcomes.get(1).is_some_and(|o| o.changes == 1))
}

/// `POST /v1/agents/revoke-overseer`: the agent ends its own oversight (no parameters).
pub async fn revoke_overseer(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let current = active_oversight(ctx, &s.agent.id)
        .await?
        .ok_or_else(no_active_oversight)?;
    let event = Event {
        kind: "oversight.revoked_by_agent",
        actor_type: "agent",
        actor_id: Some(&s.agent.id),
        subject_type: Some("agent"),
        subject_id: Some(&s.agent.id),
        overseer_id: Some(&current.overseer_id),
        agent_id: Some(&s.agent.id),
        details: json!({ "reason": "revoked_by_agent" }),
    };
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
    if !deactivate(
        ctx,
        &current.overseer_id,
        &s.agent.id,
        "revoked_by_agent",
        event,
        enforce,
    )
    .await?
    {
        return Err(no_active_oversight());
    }
    Ok(Reply::ok(
        &json!({"success": true, "message": "Overseer revoked", "overseer_id": current.overseer_id}),
    ))
}

/// `POST /v1/agents/declaim/:agentId`: the overseer lets an agent go.
pub async fn declaim(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or_else(no_active_oversight)?;
    let event = Event {
        kind: "oversight.declaimed",
        actor_type: "overseer",
        actor_id: Some(&s.overseer.id),
        subject_type: Some("agent"),
        subject_id: Some(&agent_id),
        overseer_id: Some(&s.overseer.id),
        agent_id: Some(&agent_id),
        details: json!({ "reason": "declaimed" }),
    };
    // Checked first so that a refused declaim writes nothing; the batch re-checks it.
    let current = active_oversight(ctx, &agent_id).await?;
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
    if !deactivate(ctx, &s.overseer.id, &agent_id, "declaimed", event, pool).await? {
        return Err(no_active_oversight());
    }
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"success": true, "message": "Agent declaimed", "agent_id": agent_id}),
    ))
}
