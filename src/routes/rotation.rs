//! Key rotation with both keys proven (api.md 2.3, 5.3): a DPoP proof by the current key and
//! a signature by the new key over the server's `challenge_data`.

use serde::Serialize;
use serde_json::json;

use crate::auth::agent_proof;
use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentRow, AgentView};
use crate::domain::challenge::{self, Record, Rotation, Window};
use crate::domain::ids::canonical_uuid;
use crate::http::body::JsonBody;
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::store::agents::{self, KeyChange, KeyOutcome};
use crate::store::audit::Event;
use crate::store::challenges::{self as kv_challenges, Update};

/// `POST /v1/agents/rotate-key/initiate`
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let new_key = body.public_key("new_public_key")?.canonical();
    if new_key == s.agent.public_key {
        return Err(ApiError::invalid_public_key(
            "new key equals the current key",
        ));
    }
    if agents::key_in_use(ctx.db(), &new_key).await? {
        return Err(ApiError::duplicate_public_key());
    }
    let window = Window::open(
        ctx.rng(),
        ctx.now_ms,
        ctx.config.rotation_challenge_ttl_secs,
    )?;
    let challenge_data = challenge::rotation_data(
        &ctx.issuer,
        &s.agent.id,
        &window.id,
        &window.expires_at_text,
        &window.nonce,
        &new_key,
    );
    let record = Record::RotateKey(Rotation {
        challenge_id: window.id.clone(),
        agent_id: s.agent.id.clone(),
        old_public_key: s.agent.public_key.clone(),
        new_public_key: new_key,
        challenge_data: challenge_data.clone(),
        created_at: window.created_at,
        expires_at: window.expires_at,
    });
    kv_challenges::put(ctx.kv(), &record, window.ttl_secs).await?;
    Ok(Reply::ok(&window.offer(&challenge_data)))
}

#[derive(Serialize)]
struct Rotated<'a> {
    session_id: &'a str,
    expires_in: i64,
    agent: AgentView<'a>,
}

/// The live rotation challenge `raw_id` issued to `agent` for its current key.
async fn load(ctx: &Ctx<'_>, raw_id: &str, agent: &AgentRow) -> Result<Rotation, ApiError> {
    let id = canonical_uuid(raw_id).ok_or_else(ApiError::challenge_not_found)?;
    let rotation =
        match kv_challenges::load(ctx.kv(), &challenge::rotation_key(&id), ctx.now_ms).await? {
            Some(Record::RotateKey(r)) if r.challenge_id == id => r,
            _ => return Err(ApiError::challenge_not_found()),
        };
    if rotation.agent_id != agent.id {
        return Err(ApiError::new(
            ErrorCode::ChallengeMismatch,
            "Challenge belongs to another agent",
        ));
    }
    if rotation.old_public_key != agent.public_key {
        return Err(ApiError::challenge_not_found());
    }
    Ok(rotation)
}

/// `POST /v1/agents/rotate-key/complete/:challengeId`, in the order of api.md 2.3.
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    const CH: Challenge = Challenge::Dpop;
    let body = JsonBody::parse(ctx.req)?;
    let signature = body.signature()?;
    let proof = agent_proof::verify(ctx, CH).await?;
    let agent = agent_proof::agent_by_key(ctx, &proof.key)
        .await?
        .ok_or_else(|| agent_proof::invalid_proof("no agent has this DPoP key", CH))?;
    let rotation = load(ctx, ctx.param("challenge_id"), &agent).await?;
    let new_key = Ed25519PublicKey::parse(&rotation.new_public_key)
        .map_err(|_| ApiError::internal("stored rotation key invalid"))?;
    if !new_key
        .verify_strict(rotation.challenge_data.as_bytes(), &signature)
        .await
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "Signature by the new key does not verify",
        ));
    }
    agent_proof::consume(ctx, &proof.proof, CH).await?;

    let old_thumbprint = proof.key.thumbprint();
    let change = KeyChange {
        agent_id: &agent.id,
        old_key: &rotation.old_public_key,
        old_thumbprint: &old_thumbprint,
        new_key: &rotation.new_public_key,
        now_ms: ctx.now_ms,
        old_listed_until: ctx.now_ms + ctx.config.key_directory_overlap_secs * 1000,
    };
    let event = Event::by_agent("agent.key_rotated", &agent.id).details(json!({
        "challenge_id": rotation.challenge_id,
        "old_key_thumbprint": old_thumbprint,
        "new_key_thumbprint": new_key.thumbprint(),
    }));
    match agents::rotate_key(ctx.db(), &change, &event, &ctx.stamp()).await? {
        KeyOutcome::Done => {}
        KeyOutcome::KeyTaken => return Err(ApiError::duplicate_public_key()),
        KeyOutcome::KeyChanged => return Err(ApiError::challenge_not_found()),
    }
    // Reuse is refused by D1 (the key change needs the old key), so the delete only tidies up.
    ctx.defer(kv_challenges::settle(
        ctx.services.kv.clone(),
        Update::Delete(challenge::rotation_key(&rotation.challenge_id)),
        ctx.now_ms,
        ctx.request_id.to_owned(),
    ));
    let rotated = AgentRow {
        public_key: rotation.new_public_key,
        session_epoch: agent.session_epoch + 1,
        updated_at: ctx.now_ms,
        ..agent
    };
    let session =
        session::create(ctx, AccountKind::Agent, &rotated.id, rotated.session_epoch).await?;
    Ok(Reply::ok(&Rotated {
        session_id: &session.session_id,
        expires_in: session.expires_in,
        agent: rotated.view(),
    }))
}
