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
use crate::config::{Es256Keys, SigningKeys};
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

/// The ES256 token keys, `None` when this deployment has none; a malformed key is a
/// configuration error on every path that signs or verifies access tokens.
pub fn es256_keys<'c>(ctx: &'c Ctx<'_>) -> Result<Option<&'c Es256Keys>, ApiError> {
    ctx.config
        .es256_keys
        .as_ref()
        .map(Option::as_ref)
        .map_err(ApiError::configuration)
}

/// Every key access tokens are verified with and the JWKS publishes, in the caller's
/// [`KeyRing`] (the Ed25519 public keys are derived, once per isolate in wasm; the ES256 ones
/// are borrowed).
pub async fn token_keys<'c>(ctx: &'c Ctx<'_>) -> Result<KeyRing<'c>, ApiError> {
    let keys = signing_keys(ctx)?;
    let es256_keys = es256_keys(ctx)?;
    let derive_failed = |_| ApiError::internal("Ed25519 public key derivation failed");
    let mut ed25519 = vec![keys.current.public_key().await.map_err(derive_failed)?];
    if let Some(previous) = &keys.previous {
        ed25519.push(previous.public_key().await.map_err(derive_failed)?);
    }
    let mut es256 = Vec::new();
    if let Some(ec) = es256_keys {
        es256.push(&ec.current);
        es256.extend(ec.previous.as_ref());
    }
    Ok(KeyRing { ed25519, es256 })
}

/// Owns what [`crate::oauth::access_token::TokenKeys`] borrows.
pub struct KeyRing<'c> {
    ed25519: Vec<Ed25519PublicKey>,
    es256: Vec<&'c crate::jose::es256::Es256SigningKey>,
}

impl KeyRing<'_> {
    pub fn keys(&self) -> crate::oauth::access_token::TokenKeys<'_> {
        crate::oauth::access_token::TokenKeys {
            ed25519: &self.ed25519,
            es256: &self.es256,
        }
    }
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
