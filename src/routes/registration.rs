//! Agent registration (api.md 2.2, 5.1): the agent proves its key by signing a server
//! challenge; the UNIQUE public-key constraint decides races.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentRow, AgentView};
use crate::domain::challenge::{self, Record, Registration};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::text;
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::{parse_signature, Ed25519PublicKey};
use crate::routes::challenges::{self, Update, Window};
use crate::routes::rate_limit;
use crate::stmt;

pub fn invalid_public_key(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidPublicKey, message)
}

/// Parses an API `public_key` field (api.md 9.1) into its canonical form.
pub fn public_key_field(
    body: &JsonBody,
    field: &'static str,
) -> Result<Ed25519PublicKey, ApiError> {
    let raw = body.req_str(field)?;
    Ed25519PublicKey::parse(raw).map_err(|_| {
        invalid_public_key("Invalid Ed25519 public key format. Expected base64url-encoded key.")
    })
}

/// Parses a `signature` field: tolerant base64, exactly 64 bytes.
pub fn signature_field(body: &JsonBody) -> Result<[u8; 64], ApiError> {
    let raw = body.req_str("signature")?;
    parse_signature(raw).ok_or_else(|| {
        ApiError::invalid_field(
            "signature",
            "must be a base64url Ed25519 signature of 64 bytes",
        )
    })
}

pub fn duplicate_key() -> ApiError {
    ApiError::new(
        ErrorCode::DuplicatePublicKey,
        "An agent already uses this public key",
    )
}

pub fn challenge_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ChallengeNotFound,
        "Challenge not found or expired",
    )
}

/// Whether an agent already holds `key` (canonical form).
pub async fn key_in_use(ctx: &Ctx<'_>, key: &str) -> Result<bool, ApiError> {
    Ok(!ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM agents WHERE public_key = ?1",
            key
        ))
        .await?
        .rows
        .is_empty())
}

/// `POST /v1/agents/register/initiate`
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::AgentRegister, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let name = text::name("name", body.req_str("name")?)?;
    let key = public_key_field(&body, "public_key")?;
    let description = text::description("description", body.opt_str("description")?)?;
    let public_key = key.canonical();
    if key_in_use(ctx, &public_key).await? {
        return Err(duplicate_key());
    }

    let window = Window::open(ctx, ctx.config.registration_challenge_ttl_secs)?;
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
    let key = challenge::registration_key(&window.id);
    challenges::issue(
        ctx,
        &window,
        &key,
        &record,
        &challenge_data,
        StatusCode::ACCEPTED,
    )
    .await
}

#[derive(Serialize)]
struct Registered<'a> {
    success: bool,
    agent: AgentView<'a>,
    session_id: &'a str,
    expires_in: i64,
}

/// Loads a live registration challenge; unknown, malformed, expired or other kinds are 404.
async fn load(ctx: &Ctx<'_>, raw_id: &str) -> Result<(String, Registration), ApiError> {
    let id = canonical_uuid(raw_id).ok_or_else(challenge_not_found)?;
    let key = challenge::registration_key(&id);
    let reg = match challenges::load(ctx, &key).await? {
        Some(Record::Register(r)) if r.challenge_id == id => r,
        _ => return Err(challenge_not_found()),
    };
    if was_used(ctx, &reg).await? {
        return Err(challenge_not_found());
    }
    Ok((key, reg))
}

/// Whether an agent was already registered with this challenge. D1 decides single use: the KV
/// delete after a registration may be refused or not yet visible elsewhere. Only the audit rows
/// since the challenge was created are scanned.
async fn was_used(ctx: &Ctx<'_>, reg: &Registration) -> Result<bool, ApiError> {
    Ok(!ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS used FROM audit_events WHERE created_at >= ?1 AND type = 'agent.registered' \
             AND json_extract(details, '$.challenge_id') = ?2 LIMIT 1",
            reg.created_at,
            reg.challenge_id.as_str()
        ))
        .await?
        .rows
        .is_empty())
}

/// `POST /v1/agents/register/complete/:challengeId`
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let signature = signature_field(&body)?;
    let (kv_key, reg) = load(ctx, ctx.param("challenge_id")).await?;
    let key = Ed25519PublicKey::parse(&reg.public_key)
        .map_err(|_| ApiError::internal("stored key invalid"))?;
    if !key.verify_strict(reg.challenge_data.as_bytes(), &signature) {
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
    let insert = stmt!(
        "INSERT INTO agents (id, name, description, public_key, session_epoch, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
        agent.id.as_str(),
        agent.name.as_str(),
        agent.description.as_deref(),
        agent.public_key.as_str(),
        agent.created_at
    );
    let registered = audit::insert(
        ctx,
        &Event::by_agent("agent.registered", &agent.id)
            .details(json!({ "challenge_id": reg.challenge_id })),
    )?;
    let login = audit::insert(
        ctx,
        &Event::by_agent("agent.login", &agent.id).details(json!({ "method": "registration" })),
    )?;
    match ctx.services.db.batch(vec![insert, registered, login]).await {
        Ok(_) => {}
        Err(e) if e.is_unique_violation() => {
            challenges::defer_update(ctx, Update::Delete(kv_key));
            return Err(duplicate_key());
        }
        Err(e) => return Err(e.into()),
    }
    // Reuse is refused by D1 (the key is UNIQUE), so the delete is only tidying up.
    challenges::defer_update(ctx, Update::Delete(kv_key));
    let session = session::create(ctx, AccountKind::Agent, &agent.id, 0).await?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &Registered {
            success: true,
            agent: agent.view(),
            session_id: &session.session_id,
            expires_in: session.expires_in,
        },
    ))
}
