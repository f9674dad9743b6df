//! Shadow claims (api.md 2.5, 5.5): an anonymous sponsor pays for one agent's PAID tier, only
//! after the agent confirmed. The shadow overseer id is a keyed function of the agent id, so
//! renewals reuse it and nobody can forge one (9.9).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::ctx::Ctx;
use crate::domain::challenge::{Record, ShadowClaim, ShadowStatus};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::shadow as shadow_id;
use crate::domain::tier::Tiers;
use crate::domain::time::rfc3339_ms;
use crate::http::body;
use crate::http::{ApiError, Reply};
use crate::paddle::link;
use crate::routes::challenges::{self, Update};
use crate::routes::claims::{
    active_oversight, agent_not_found, already_claimed, load_claim, overseer_mismatch,
};
use crate::routes::rate_limit;
use crate::stmt;
use crate::store::Value;

/// Extra KV lifetime after expiry, so a late payment can still mark the challenge completed.
const KV_GRACE_SECS: i64 = 86_400;

/// The shadow overseer id for an agent: its existing shadow overseer row (so rotating
/// `SHADOW_SECRET` never orphans one), else derived from the secret.
async fn shadow_overseer_for(ctx: &Ctx<'_>, agent_id: &str) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let existing: Option<Row> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT id FROM overseers WHERE kind = 'shadow' AND shadow_agent_id = ?1",
            agent_id
        ))
        .await?
        .first()?;
    let secret = ctx
        .config
        .shadow_secret
        .as_ref()
        .map_err(ApiError::configuration)?;
    Ok(existing.map_or_else(|| shadow_id::derive_id(secret, agent_id), |r| r.id))
}

async fn store(ctx: &Ctx<'_>, claim: &ShadowClaim) -> Result<(), ApiError> {
    challenges::save(ctx, &Record::Shadow(claim.clone()), KV_GRACE_SECS).await
}

#[derive(Serialize)]
struct Started<'a> {
    success: bool,
    challenge_id: &'a str,
    shadow_overseer_id: &'a str,
    agent_id: &'a str,
    expires_at: String,
    expires_in: i64,
    complete_url: String,
    message: &'static str,
}

/// `POST /v1/agents/malice/:agentId` (anonymous). Writes no database row: the shadow overseer
/// only comes into being with a verified payment.
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::Malice, ctx.ip().unwrap_or("unknown")).await?;
    body::ignore(ctx.req)?;
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or_else(agent_not_found)?;
    rate_limit(ctx, Bucket::MaliceAgent, &agent_id).await?;
    if !crate::routes::claims::agent_exists(ctx, &agent_id).await? {
        return Err(agent_not_found());
    }
    if active_oversight(ctx, &agent_id)
        .await?
        .is_some_and(|o| o.is_human())
    {
        return Err(already_claimed(false));
    }
    let shadow_overseer_id = shadow_overseer_for(ctx, &agent_id).await?;
    let ttl = ctx.config.shadow_challenge_ttl_secs;
    let claim = ShadowClaim {
        challenge_id: uuid_v4(ctx.rng())?,
        agent_id: agent_id.clone(),
        shadow_overseer_id,
        status: ShadowStatus::Initiated,
        created_at: ctx.now_ms,
        expires_at: ctx.now_ms + ttl * 1000,
        confirmed_at: None,
        completed_at: None,
        transaction_id: None,
    };
    store(ctx, &claim).await?;
    let event = Event {
        kind: "shadow_claim.initiated",
        actor_type: "anonymous",
        actor_id: None,
        subject_type: Some("agent"),
        subject_id: Some(&agent_id),
        overseer_id: None,
        agent_id: None,
        details: json!({ "challenge_id": claim.challenge_id }),
    };
    audit::record(ctx, &event).await?;
    Ok(Reply::ok(&Started {
        success: true,
        challenge_id: &claim.challenge_id,
        shadow_overseer_id: &claim.shadow_overseer_id,
        agent_id: &agent_id,
        expires_at: rfc3339_ms(claim.expires_at),
        expires_in: ttl,
        complete_url: format!(
            "{}/v1/agents/claim/complete/{}",
            ctx.issuer, claim.challenge_id
        ),
        message: "Challenge created. Agent must confirm before payment.",
    }))
}

/// The agent's confirmation (from `claim/complete`), after the shared checks matched the
/// challenge's agent and shadow id.
pub async fn confirm(ctx: &Ctx<'_>, mut claim: ShadowClaim) -> Result<Reply, ApiError> {
    let expected = shadow_overseer_for(ctx, &claim.agent_id).await?;
    let secret = ctx
        .config
        .shadow_secret
        .as_ref()
        .map_err(ApiError::configuration)?;
    let verifies = claim.shadow_overseer_id == expected
        || shadow_id::verify_id(secret, &claim.agent_id, &claim.shadow_overseer_id);
    if !verifies {
        return Err(overseer_mismatch());
    }
    if active_oversight(ctx, &claim.agent_id)
        .await?
        .is_some_and(|o| o.is_human())
    {
        return Err(already_claimed(false));
    }
    if claim.status == ShadowStatus::Initiated {
        claim.status = ShadowStatus::AwaitingPayment;
        claim.confirmed_at = Some(ctx.now_ms);
        claim.expires_at = ctx.now_ms + ctx.config.shadow_challenge_ttl_secs * 1000;
        let event = Event {
            kind: "shadow_claim.confirmed",
            actor_type: "agent",
            actor_id: Some(&claim.agent_id),
            subject_type: Some("agent"),
            subject_id: Some(&claim.agent_id),
            overseer_id: None,
            agent_id: None,
            details: json!({ "challenge_id": claim.challenge_id }),
        };
        // D1 holds the confirmation (once per challenge); the KV record follows after the
        // response, since KV may refuse a rewrite of a key created less than a second ago.
        ctx.services
            .db
            .run(audit::insert_where(
                ctx,
                &event,
                Some((
                    "NOT EXISTS (SELECT 1 FROM audit_events WHERE created_at >= ?13 \
                     AND type = 'shadow_claim.confirmed' \
                     AND json_extract(details, '$.challenge_id') = ?14)",
                    vec![
                        Value::from(claim.created_at),
                        Value::from(claim.challenge_id.as_str()),
                    ],
                )),
            )?)
            .await?;
        challenges::defer_update(
            ctx,
            Update::Save {
                record: Record::Shadow(claim.clone()),
                grace_secs: KV_GRACE_SECS,
            },
        );
    }
    Ok(Reply::ok(&json!({
        "success": true,
        "message": "Shadow claim confirmed. Awaiting payment.",
        "status": "awaiting-payment",
        "challenge_id": claim.challenge_id,
        "agent_id": claim.agent_id,
        "overseer_id": claim.shadow_overseer_id,
        "shadow_overseer_id": claim.shadow_overseer_id,
    })))
}

#[derive(Serialize)]
struct Capabilities {
    max_clients: i64,
    max_oauth_per_period: i64,
    validity_days: i64,
}

/// The signed checkout `custom_data` (api.md 7.3). `issued_at` (Unix seconds) is the agent's
/// confirmation time: the link is paid within `SHADOW_LINK_TTL_SECS` of it, and a payment never
/// re-activates an oversight the agent revoked after it.
#[derive(Serialize)]
struct CustomData<'a> {
    is_shadow_claim: bool,
    challenge_id: &'a str,
    agent_id: &'a str,
    shadow_overseer_id: &'a str,
    issued_at: i64,
    link_sig: String,
}

#[derive(Serialize)]
struct StatusView<'a> {
    success: bool,
    challenge_id: &'a str,
    status: &'static str,
    agent_id: &'a str,
    agent_name: Option<String>,
    shadow_overseer_id: &'a str,
    expires_at: String,
    paddle_price_id: &'a str,
    price: serde_json::Value,
    currency: String,
    capabilities: Capabilities,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_data: Option<CustomData<'a>>,
    paddle_environment: &'a str,
    paddle_client_token: &'a str,
}

/// `GET /v1/agents/malice/status/:challengeId` (anonymous, always 200). The signed checkout
/// `custom_data` appears only once the agent confirmed.
pub async fn status(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let raw_id = ctx.param("challenge_id");
    let Some(Record::Shadow(mut claim)) = load_claim(ctx, raw_id).await? else {
        return Ok(Reply::ok(
            &json!({"success": true, "challenge_id": raw_id, "status": "expired"}),
        ));
    };
    let paddle = &ctx.config.paddle;
    let price_id = paddle
        .price_shadow
        .as_ref()
        .map_err(ApiError::configuration)?;
    let client_token = paddle
        .client_token
        .as_ref()
        .map_err(ApiError::configuration)?;
    let link_key = ctx
        .config
        .link_key
        .as_ref()
        .map_err(ApiError::configuration)?;

    #[derive(Deserialize)]
    struct Facts {
        name: Option<String>,
        paid: i64,
        confirmed_at: Option<i64>,
    }
    let facts: Option<Facts> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT (SELECT name FROM agents WHERE id = ?1) AS name, \
                    EXISTS (SELECT 1 FROM shadow_payments WHERE challenge_id = ?2 AND applied = 1) AS paid, \
                    (SELECT MIN(created_at) FROM audit_events WHERE created_at >= ?3 \
                       AND type = 'shadow_claim.confirmed' \
                       AND json_extract(details, '$.challenge_id') = ?2) AS confirmed_at",
            claim.agent_id.as_str(),
            claim.challenge_id.as_str(),
            claim.created_at
        ))
        .await?
        .first()?;
    let (agent_name, paid, confirmed_at) = facts.map_or((None, false, None), |f| {
        (f.name, f.paid == 1, f.confirmed_at)
    });
    // D1 is authoritative for the confirmation too: the KV rewrite may be refused or stale.
    if let (ShadowStatus::Initiated, Some(at)) = (claim.status, confirmed_at) {
        claim.status = ShadowStatus::AwaitingPayment;
        claim.confirmed_at = Some(at);
        claim.expires_at = at + ctx.config.shadow_challenge_ttl_secs * 1000;
    }
    // D1 is authoritative: a recorded payment completes the claim even before KV says so.
    let status = match claim.status {
        ShadowStatus::Completed => "completed",
        _ if paid => "completed",
        _ if claim.expires_at <= ctx.now_ms => "expired",
        s => s.as_str(),
    };
    let tiers = Tiers::load(ctx.services.db.as_ref()).await?;
    let shadow = tiers.get("SHADOW")?;
    // The same link on every poll: it is issued as of the confirmation, not of the request.
    let issued_at = claim
        .confirmed_at
        .unwrap_or(claim.created_at)
        .div_euclid(1000);
    let custom_data = (status == "awaiting-payment").then(|| CustomData {
        is_shadow_claim: true,
        challenge_id: &claim.challenge_id,
        agent_id: &claim.agent_id,
        shadow_overseer_id: &claim.shadow_overseer_id,
        issued_at,
        link_sig: link::shadow_sig(
            link_key,
            &claim.challenge_id,
            &claim.agent_id,
            &claim.shadow_overseer_id,
            issued_at,
        ),
    });
    Ok(Reply::ok(&StatusView {
        success: true,
        challenge_id: &claim.challenge_id,
        status,
        agent_id: &claim.agent_id,
        agent_name,
        shadow_overseer_id: &claim.shadow_overseer_id,
        expires_at: rfc3339_ms(claim.expires_at),
        paddle_price_id: price_id,
        price: crate::domain::tier::price(shadow.price_cents),
        currency: shadow.currency.clone(),
        capabilities: Capabilities {
            max_clients: shadow.max_clients,
            max_oauth_per_period: shadow.max_oauth_per_period,
            validity_days: ctx.config.shadow_validity_days,
        },
        custom_data,
        paddle_environment: &paddle.environment,
        paddle_client_token: client_token,
    }))
}
