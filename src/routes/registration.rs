//! Agent registration (api.md 2.2, 5.1): the agent proves its key by signing a server
//! challenge; the UNIQUE public-key constraint decides races.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentRow, AgentView};
use crate::domain::challenge::{self, Record, Registration, Window};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::text;
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::routes::rate_limit;
use crate::store::agents::{self, KeyOutcome};
use crate::store::audit::Event;
use crate::store::challenges::{self as kv_challenges, Update};

/// `POST /v1/agents/register/initiate`
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::AgentRegister, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let name = text::name("name", body.req_str("name")?)?;
    let key = body.public_key("public_key")?;
    let description = text::description("description", body.opt_str("description")?)?;
    let public_key = key.canonical();
    if agents::key_in_use(ctx.db(), &public_key).await? {
        return Err(ApiError::duplicate_public_key());
    }

    let window = Window::open(
        ctx.rng(),
        ctx.now_ms,
        ctx.config.registration_challenge_ttl_secs,
    )?;
    let challenge_data = challenge::registration_data(
        &ctx.issuer,
        &window.id,
        &window.expires_at_text,
        &window.nonce,
        &public_key,
    );
    let record = Record::Register(Registration {
        challenge_id: window.id.clone(),
        name,
        description,
        public_key,
        challenge_data: challenge_data.clone(),
        created_at: window.created_at,
        expires_at: window.expires_at,
    });
    kv_challenges::put(ctx.kv(), &record, window.ttl_secs).await?;
    Ok(Reply::success(
        StatusCode::ACCEPTED,
        &window.offer(&challenge_data),
    ))
}

#[derive(Serialize)]
struct Registered<'a> {
    agent: AgentView<'a>,
    session_id: &'a str,
    expires_in: i64,
}

/// Loads a live registration challenge; unknown, malformed, expired, used or other kinds are
/// all `challenge_not_found`.
async fn load(ctx: &Ctx<'_>, raw_id: &str) -> Result<Registration, ApiError> {
    let id = canonical_uuid(raw_id).ok_or_else(ApiError::challenge_not_found)?;
    let reg =
        match kv_challenges::load(ctx.kv(), &challenge::registration_key(&id), ctx.now_ms).await? {
            Some(Record::Register(r)) if r.challenge_id == id => r,
            _ => return Err(ApiError::challenge_not_found()),
        };
    if agents::registered_through(ctx.db(), &reg.challenge_id, reg.created_at).await? {
        return Err(ApiError::challenge_not_found());
    }
    Ok(reg)
}

/// `POST /v1/agents/register/complete/:challengeId`
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let signature = body.signature()?;
    let reg = load(ctx, ctx.param("challenge_id")).await?;
    let key = Ed25519PublicKey::parse(&reg.public_key)
        .map_err(|_| ApiError::internal("stored key invalid"))?;
    if !key
        .verify_strict(reg.challenge_data.as_bytes(), &signature)
        .await
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "Signature does not verify",
        ));
    }

    let agent = AgentRow {
        id: uuid_v4(ctx.rng())?,
        name: reg.name,
        description: reg.description,
        public_key: reg.public_key,
        session_epoch: 0,
        created_at: ctx.now_ms,
        updated_at: ctx.now_ms,
    };
    let events = [
        Event::by_agent("agent.registered", &agent.id)
            .details(json!({ "challenge_id": reg.challenge_id })),
        Event::by_agent("agent.login", &agent.id).details(json!({ "method": "registration" })),
    ];
    let outcome = agents::register(ctx.db(), &agent, &events, &ctx.stamp()).await?;
    // Reuse is refused by D1 (the key is UNIQUE), so the delete is only tidying up.
    ctx.defer(kv_challenges::settle(
        ctx.services.kv.clone(),
        Update::Delete(challenge::registration_key(&reg.challenge_id)),
        ctx.now_ms,
        ctx.request_id.to_owned(),
    ));
    if outcome == KeyOutcome::KeyTaken {
        return Err(ApiError::duplicate_public_key());
    }
    let session = session::create(ctx, AccountKind::Agent, &agent.id, 0).await?;
    Ok(Reply::success(
        StatusCode::CREATED,
        &Registered {
            agent: agent.view(),
            session_id: &session.session_id,
            expires_in: session.expires_in,
        },
    ))
}
