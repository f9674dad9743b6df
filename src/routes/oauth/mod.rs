//! The OAuth 2.0 endpoints (api.md 2.1, 2.11). Protocol checks live in `crate::oauth`; these
//! handlers add storage, time and randomness.

pub mod access;
pub mod authorize;
pub mod client_auth;
pub mod consent;
pub mod discovery;
pub mod resource;
pub mod revocation;
pub mod single_use;
pub mod target;
pub mod token;
pub mod token_policy;

use http::StatusCode;

use crate::auth::dpop::VerifiedProof;
use crate::auth::dpop_request::{self, Expect, HeaderProof};
use crate::config::SigningKeys;
use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jws::Alg;
use crate::store::markers::{Mark, MarkerKind};

/// Clients may prove possession with Ed25519 or P-256 keys.
pub const CLIENT_DPOP_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519, Alg::ES256];

pub fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<std::borrow::Cow<'static, str>>,
) -> ApiError {
    ApiError::oauth(status, error, description)
}

pub fn invalid_request(description: &'static str) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub fn invalid_grant(description: &'static str) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

pub fn signing_keys<'c>(ctx: &'c Ctx<'_>) -> Result<&'c SigningKeys, ApiError> {
    ctx.config
        .signing_keys
        .as_ref()
        .map_err(ApiError::configuration)
}

/// Checks the `DPoP` header of a client request (token endpoint, userinfo) without spending
/// its `jti` (the caller spends [`proof_mark`] with its writes).
pub async fn check_client_proof(
    ctx: &Ctx<'_>,
    fallback_key: Option<&Ed25519PublicKey>,
    access_token: Option<&str>,
) -> Result<HeaderProof, ApiError> {
    let expect = Expect {
        algs: CLIENT_DPOP_ALGS,
        fallback_key,
        access_token,
    };
    dpop_request::check(ctx, expect).await
}

/// The replay marker of a verified proof, observed at `now_ms`.
pub fn proof_mark(proof: &VerifiedProof, now_ms: i64) -> Mark<'_> {
    single_use::mark(
        MarkerKind::Dpop,
        &proof.thumbprint,
        &proof.replay_hash,
        proof.accepted_through,
        now_ms,
    )
}

/// Checks the `DPoP` header of a client request and consumes its `jti` on its own: a replayed
/// proof is [`HeaderProof::Invalid`].
pub async fn client_proof(
    ctx: &Ctx<'_>,
    fallback_key: Option<&Ed25519PublicKey>,
    access_token: Option<&str>,
) -> Result<HeaderProof, ApiError> {
    let proof = check_client_proof(ctx, fallback_key, access_token).await?;
    if let HeaderProof::Verified(p) = &proof {
        if !dpop_request::consume(ctx, p).await? {
            return Ok(HeaderProof::Invalid(dpop_request::REPLAYED));
        }
    }
    Ok(proof)
}
