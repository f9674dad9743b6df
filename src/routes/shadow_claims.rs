//! Shadow claims (api.md 2.5, 5.5): an anonymous sponsor pays for one agent's PAID tier, only
//! after the agent confirmed. The shadow overseer id is a keyed function of the agent id, so
//! renewals reuse it and nobody can forge one (9.9).
//!
//! Serves the wire paths `/v1/agents/malice/*` (the protocol's historical name for shadow
//! claims); the agent's confirmation arrives at `claim/complete` (`routes::claims`).

use serde::Serialize;
use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::challenge::{Record, ShadowClaim, ShadowStatus};
use crate::domain::claims::{ClaimError, SHADOW_KV_GRACE_SECS};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::shadow;
use crate::domain::tier::Tiers;
use crate::domain::time::rfc3339_ms;
use crate::http::body;
use crate::http::{ApiError, Reply};
use crate::paddle::link;
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::challenges as kv_challenges;
use crate::store::oversights::ShadowClaimFacts;
use crate::store::{agents, overseers, oversights};

#[derive(Serialize)]
struct Started<'a> {
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
    let agent_id = canonical_uuid(ctx.param("agent_id")).ok_or(ClaimError::AgentNotFound)?;
    rate_limit(ctx, Bucket::MaliceAgent, &agent_id).await?;
    if !agents::exists(ctx.db(), &agent_id).await? {
        return Err(ClaimError::AgentNotFound.into());
    }
    let active = oversights::active(ctx.db(), &agent_id).await?;
    if active.is_some_and(|o| o.is_human()) {
        return Err(ClaimError::AlreadyClaimed { by_caller: false }.into());
    }
    let existing = overseers::shadow_of(ctx.db(), &agent_id).await?;
    let secret = ctx
        .config
        .shadow_secret
        .as_ref()
        .map_err(ApiError::configuration)?;
    let shadow_overseer_id = shadow::overseer_id(secret, &agent_id, existing);
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
    let record = Record::Shadow(claim.clone());
    kv_challenges::save(ctx.kv(), &record, ctx.now_ms, SHADOW_KV_GRACE_SECS).await?;
    let event = Event::new("shadow_claim.initiated", Actor::Anonymous)
        .subject(Subject::Agent(&agent_id))
        .details(json!({ "challenge_id": claim.challenge_id }));
    ctx.audit(&event).await?;
    Ok(Reply::ok(&Started {
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

/// Brings the KV record up to what D1 knows and answers its status. D1 is authoritative: a
/// recorded confirmation moves an initiated claim on (the KV rewrite may be refused or stale),
/// and a recorded payment completes it even before KV says so.
fn reconcile(
    claim: &mut ShadowClaim,
    facts: &ShadowClaimFacts,
    ttl_secs: i64,
    now_ms: i64,
) -> &'static str {
    if let (ShadowStatus::Initiated, Some(at)) = (claim.status, facts.confirmed_at) {
        claim.status = ShadowStatus::AwaitingPayment;
        claim.confirmed_at = Some(at);
        claim.expires_at = at + ttl_secs * 1000;
    }
    match claim.status {
        ShadowStatus::Completed => "completed",
        _ if facts.paid => "completed",
        _ if claim.expires_at <= now_ms => "expired",
        s => s.as_str(),
    }
}

/// The signed checkout data. The same link on every poll: it is issued as of the
/// confirmation, not of the request.
fn checkout_link<'a>(claim: &'a ShadowClaim, link_key: &[u8]) -> CustomData<'a> {
    let issued_at = claim
        .confirmed_at
        .unwrap_or(claim.created_at)
        .div_euclid(1000);
    CustomData {
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
    }
}

/// `GET /v1/agents/malice/status/:challengeId` (anonymous, always 200). The signed checkout
/// `custom_data` appears only once the agent confirmed.
pub async fn status(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let raw_id = ctx.param("challenge_id");
    let Some(Record::Shadow(mut claim)) = oversights::claim_record(ctx.kv(), raw_id).await? else {
        return Ok(Reply::ok(
            &json!({"challenge_id": raw_id, "status": "expired"}),
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

    let facts = oversights::shadow_claim_facts(
        ctx.db(),
        &claim.agent_id,
        &claim.challenge_id,
        claim.created_at,
    )
    .await?;
    let status = reconcile(
        &mut claim,
        &facts,
        ctx.config.shadow_challenge_ttl_secs,
        ctx.now_ms,
    );
    let tiers = Tiers::load(ctx.db()).await?;
    let shadow = tiers.get("SHADOW")?;
    let custom_data = (status == "awaiting-payment").then(|| checkout_link(&claim, link_key));
    Ok(Reply::ok(&StatusView {
        challenge_id: &claim.challenge_id,
        status,
        agent_id: &claim.agent_id,
        agent_name: facts.agent_name,
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
