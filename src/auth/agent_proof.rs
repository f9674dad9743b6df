//! Agent authentication by a DPoP proof alone (login, rotate-key complete, claim completion
//! and authorize): the proof's `jwk` must be an Ed25519 key (security.md 2.3).

use crate::auth::dpop::{ProofKey, VerifiedProof};
use crate::auth::dpop_request::{self, Expect, HeaderProof};
use crate::auth::replay::{self, MarkerKind};
use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jwk::PublicJwk;
use crate::jose::jws::Alg;
use crate::store::agents::{self, Jti};

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
pub async fn verify(ctx: &Ctx<'_>, challenge: Challenge) -> Result<AgentProof, ApiError> {
    let expect = Expect {
        algs: AGENT_ALGS,
        fallback_key: None,
        access_token: None,
    };
    match dpop_request::check(ctx, expect).await? {
        HeaderProof::Absent => Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "DPoP proof required",
        )
        .with_challenge(challenge)),
        HeaderProof::Verified(proof) => match &proof.key {
            ProofKey::Jwk(PublicJwk::Ed25519(k)) => {
                let key = k.clone();
                Ok(AgentProof { proof, key })
            }
            _ => Err(invalid_proof(
                "agent proofs must use an Ed25519 key",
                challenge,
            )),
        },
        HeaderProof::Invalid(reason) => Err(invalid_proof(reason, challenge)),
        HeaderProof::UseNonce(nonce) => {
            let mut e = ApiError::new(
                ErrorCode::UseDpopNonce,
                "Authorization server requires nonce in DPoP proof",
            )
            .with_challenge(challenge);
            e.extra_mut().dpop_nonce = Some(nonce);
            Err(e)
        }
    }
}

/// The agent whose current key made the proof, if any.
pub async fn agent_by_key(
    ctx: &Ctx<'_>,
    key: &Ed25519PublicKey,
) -> Result<Option<AgentRow>, ApiError> {
    Ok(agents::find_by_public_key(ctx.db(), &key.canonical()).await?)
}

/// Log-in by this proof in one D1 round trip ([`agents::log_in`]): the `jti` marker goes into
/// the batch when D1 holds the markers; a replay store elsewhere decides it first.
pub async fn log_in(
    ctx: &Ctx<'_>,
    proof: &VerifiedProof,
    login: &agents::Login<'_>,
) -> Result<agents::LoggedIn, ApiError> {
    let mark = replay::mark(
        ctx,
        MarkerKind::Dpop,
        &proof.thumbprint,
        &proof.replay_hash,
        proof.accepted_through,
    );
    let replays = &ctx.services.replays;
    let jti = match replays.in_batch(&mark) {
        Some(marker) => Jti::InBatch(marker, mark.unused()),
        None => Jti::Decided(
            replays
                .first_use(ctx.db(), &ctx.services.meter, &mark)
                .await?,
        ),
    };
    Ok(agents::log_in(ctx.db(), login, jti).await?)
}

/// P15: the proof's `jti` is used once (D1 primary key); the last check before acting.
pub async fn consume(
    ctx: &Ctx<'_>,
    proof: &VerifiedProof,
    challenge: Challenge,
) -> Result<(), ApiError> {
    if dpop_request::consume(ctx, proof).await? {
        Ok(())
    } else {
        Err(invalid_proof(dpop_request::REPLAYED, challenge))
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
    let proof = verify(ctx, CH).await?;
    let agent = agent_by_key(ctx, &proof.key)
        .await?
        .ok_or_else(|| invalid_proof("no agent has this DPoP key", CH))?;
    consume(ctx, &proof.proof, CH).await?;
    Ok(agent)
}
