//! Key rotation with both keys proven (api.md 2.3, 5.3): a DPoP proof by the current key and
//! a signature by the new key over the server's `challenge_data`.

use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::agent_proof;
use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::agent::{AgentRow, AgentView};
use crate::domain::challenge::{self, Record, Rotation};
use crate::domain::ids::canonical_uuid;
use crate::http::body::JsonBody;
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::routes::challenges::{self, Update, Window};
use crate::routes::registration::{
    challenge_not_found, duplicate_key, invalid_public_key, key_in_use, public_key_field,
    signature_field,
};
use crate::stmt;
use crate::store::Value;
use http::StatusCode;

/// `POST /v1/agents/rotate-key/initiate`
pub async fn initiate(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let new_key = public_key_field(&body, "new_public_key")?.canonical();
    if new_key == s.agent.public_key {
        return Err(invalid_public_key("new key equals the current key"));
    }
    if key_in_use(ctx, &new_key).await? {
        return Err(duplicate_key());
    }
    let window = Window::open(ctx, ctx.config.rotation_challenge_ttl_secs)?;
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
    let key = challenge::rotation_key(&window.id);
    challenges::issue(ctx, &window, &key, &record, &challenge_data, StatusCode::OK).await
}

#[derive(Serialize)]
struct Rotated<'a> {
    success: bool,
    session_id: &'a str,
    expires_in: i64,
    agent: AgentView<'a>,
}

/// `POST /v1/agents/rotate-key/complete/:challengeId`, in the order of api.md 2.3.
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    const CH: Challenge = Challenge::Dpop;
    let body = JsonBody::parse(ctx.req)?;
    let signature = signature_field(&body)?;
    let proof = agent_proof::verify(ctx, CH)?;
    let agent = agent_proof::agent_by_key(ctx, &proof.key)
        .await?
        .ok_or_else(|| agent_proof::invalid_proof("no agent has this DPoP key", CH))?;

    let id = canonical_uuid(ctx.param("challenge_id")).ok_or_else(challenge_not_found)?;
    let kv_key = challenge::rotation_key(&id);
    let rotation = match challenges::load(ctx, &kv_key).await? {
        Some(Record::RotateKey(r)) if r.challenge_id == id => r,
        _ => return Err(challenge_not_found()),
    };
    if rotation.agent_id != agent.id {
        return Err(ApiError::new(
            ErrorCode::ChallengeMismatch,
            "Challenge belongs to another agent",
        ));
    }
    if rotation.old_public_key != agent.public_key {
        return Err(challenge_not_found());
    }
    let new_key = Ed25519PublicKey::parse(&rotation.new_public_key)
        .map_err(|_| ApiError::internal("stored rotation key invalid"))?;
    if !new_key.verify_strict(rotation.challenge_data.as_bytes(), &signature) {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "Signature by the new key does not verify",
        ));
    }
    agent_proof::consume(ctx, &proof.proof, CH).await?;

    let update = stmt!(
        "UPDATE agents SET public_key = ?1, session_epoch = session_epoch + 1, updated_at = ?2 \
         WHERE id = ?3 AND public_key = ?4",
        rotation.new_public_key.as_str(),
        ctx.now_ms,
        agent.id.as_str(),
        rotation.old_public_key.as_str()
    );
    let audit_row = audit::insert_where(
        ctx,
        &Event::by_agent("agent.key_rotated", &agent.id).details(json!({
            "challenge_id": rotation.challenge_id,
            "old_key_thumbprint": proof.key.thumbprint(),
            "new_key_thumbprint": new_key.thumbprint(),
        })),
        Some((
            "EXISTS (SELECT 1 FROM agents WHERE id = ?13 AND public_key = ?14)",
            vec![
                Value::from(agent.id.as_str()),
                Value::from(rotation.new_public_key.as_str()),
            ],
        )),
    )?;
    let changed = match ctx.services.db.batch(vec![update, audit_row]).await {
        Ok(outcomes) => outcomes.first().map_or(0, |o| o.changes),
        Err(e) if e.is_unique_violation() => return Err(duplicate_key()),
        Err(e) => return Err(e.into()),
    };
    if changed != 1 {
        return Err(challenge_not_found());
    }
    // Reuse is refused by D1 (the UPDATE needs the old key), so the delete is only tidying up.
    challenges::defer_update(ctx, Update::Delete(kv_key));

    let rotated = AgentRow {
        public_key: rotation.new_public_key,
        session_epoch: agent.session_epoch + 1,
        updated_at: ctx.now_ms,
        ..agent
    };
    let session =
        session::create(ctx, AccountKind::Agent, &rotated.id, rotated.session_epoch).await?;
    Ok(Reply::ok(&Rotated {
        success: true,
        session_id: &session.session_id,
        expires_in: session.expires_in,
        agent: rotated.view(),
    }))
}
