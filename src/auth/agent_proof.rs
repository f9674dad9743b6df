//! Agent authentication by a DPoP proof alone (login, rotate-key complete, and later claim
//! completion and authorize): the proof's `jwk` must be an Ed25519 key (security.md 2.3).

use crate::auth::dpop::{self, ProofContext, ProofError, ProofKey, VerifiedProof};
use crate::auth::replay::{self, MarkerKind};
use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::http::error::Challenge;
use crate::http::{ApiError, Credential, ErrorCode, Sent};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jwk::PublicJwk;
use crate::jose::jws::Alg;
use crate::stmt;

/// Agents are Ed25519 identities: ES256 proofs are refused here.
const AGENT_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519];

/// A proof that passed every stateless check, with the agent key it was made with.
pub struct AgentProof {
    pub proof: VerifiedProof,
    pub key: Ed25519PublicKey,
}

pub fn invalid_proof(message: &'static str, challenge: Challenge) -> ApiError {
    ApiError::new(ErrorCode::InvalidDpopProof, message).with_challenge(challenge)
}

/// Checks P1–P13 of the `DPoP` header for this request.
pub fn verify(ctx: &Ctx<'_>, challenge: Challenge) -> Result<AgentProof, ApiError> {
    let value = match ctx.req.credential(Credential::Dpop) {
        Sent::Absent => {
            return Err(
                ApiError::new(ErrorCode::AuthenticationRequired, "DPoP proof required")
                    .with_challenge(challenge),
            )
        }
        Sent::Repeated => return Err(invalid_proof("more than one DPoP header", challenge)),
        Sent::Once(v) => v
            .to_str()
            .map_err(|_| invalid_proof("DPoP header is not a compact JWS", challenge))?,
    };
    let nonce_key = ctx.config.dpop_nonce_key.as_ref().ok();
    if ctx.config.dpop_require_nonce {
        if let Err(e) = &ctx.config.dpop_nonce_key {
            return Err(ApiError::configuration(e));
        }
    }
    let expected_url = format!("{}{}", ctx.issuer, ctx.req.path);
    let pctx = ProofContext {
        method: ctx.req.method.as_str(),
        expected_url: &expected_url,
        allowed_algs: AGENT_ALGS,
        jwk_required: true,
        fallback_key: None,
        now_s: ctx.now_s(),
        iat_past_secs: ctx.config.dpop_iat_past_secs,
        iat_future_secs: ctx.config.dpop_iat_future_secs,
        nonce_key: nonce_key.map_or(&[][..], Vec::as_slice),
        require_nonce: ctx.config.dpop_require_nonce,
        access_token: None,
    };
    match dpop::verify_proof(value, &pctx) {
        Ok(proof) => match &proof.key {
            ProofKey::Jwk(PublicJwk::Ed25519(k)) => {
                let key = k.clone();
                Ok(AgentProof { proof, key })
            }
            _ => Err(invalid_proof(
                "agent proofs must use an Ed25519 key",
                challenge,
            )),
        },
        Err(ProofError::Invalid(reason)) => Err(invalid_proof(reason, challenge)),
        Err(ProofError::UseNonce) => {
            // A nonce can only be handed out with a nonce key; without one, fail closed.
            let Some(key) = nonce_key else {
                return Err(ctx.config.dpop_nonce_key.as_ref().err().map_or_else(
                    || ApiError::internal("nonce key missing"),
                    ApiError::configuration,
                ));
            };
            let mut e = ApiError::new(
                ErrorCode::UseDpopNonce,
                "Authorization server requires nonce in DPoP proof",
            )
            .with_challenge(challenge);
            e.extra_mut().dpop_nonce = Some(dpop::nonce::issue(key, ctx.now_s()));
            Err(e)
        }
    }
}

/// The agent whose current key made the proof, if any.
pub async fn agent_by_key(
    ctx: &Ctx<'_>,
    key: &Ed25519PublicKey,
) -> Result<Option<AgentRow>, ApiError> {
    Ok(ctx
        .services
        .db
        .run(stmt!(
            "SELECT id, name, description, public_key, session_epoch, created_at, updated_at \
             FROM agents WHERE public_key = ?1",
            key.canonical()
        ))
        .await?
        .first()?)
}

/// P15: the proof's `jti` is used once (D1 primary key); the last check before acting.
pub async fn consume(
    ctx: &Ctx<'_>,
    proof: &VerifiedProof,
    challenge: Challenge,
) -> Result<(), ApiError> {
    let fresh = replay::first_use(
        ctx,
        MarkerKind::Dpop,
        &proof.replay_hash,
        proof.accepted_through,
    )
    .await?;
    if fresh {
        Ok(())
    } else {
        Err(invalid_proof("DPoP proof has already been used", challenge))
    }
}

/// Dual-mode agent authentication (api.md 1.4): with an `Authorization` header, the agent
/// session alone decides (no fallback to DPoP); without one, a DPoP proof by the agent's
/// current key, consumed here. Both headers at once are ambiguous.
pub async fn session_or_proof(ctx: &Ctx<'_>) -> Result<AgentRow, ApiError> {
    const CH: Challenge = Challenge::BearerAndDpop;
    let has_authorization = ctx.req.headers.contains_key("authorization");
    if has_authorization && ctx.req.headers.contains_key("dpop") {
        return Err(ApiError::new(
            ErrorCode::AmbiguousAuthentication,
            "Send either Authorization or DPoP, not both",
        ));
    }
    if has_authorization {
        return Ok(crate::auth::session::require_agent(ctx, CH).await?.agent);
    }
    let proof = verify(ctx, CH)?;
    let agent = agent_by_key(ctx, &proof.key)
        .await?
        .ok_or_else(|| invalid_proof("no agent has this DPoP key", CH))?;
    consume(ctx, &proof.proof, CH).await?;
    Ok(agent)
}
