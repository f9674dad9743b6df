//! The OAuth 2.0 endpoints (api.md 2.1, 2.11). Protocol checks live in `crate::oauth`; these
//! handlers add storage, time and randomness.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod resource;
pub mod revocation;
pub mod token;
pub mod tokens;

use http::StatusCode;

use crate::auth::dpop::{self, ProofContext, ProofError, VerifiedProof};
use crate::auth::replay::{self, MarkerKind};
use crate::config::SigningKeys;
use crate::ctx::Ctx;
use crate::http::{ApiError, Credential, Sent};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jws::Alg;

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

/// Why a client's DPoP proof failed, for the endpoint to phrase in its own format.
pub enum ProofFailure {
    Invalid(&'static str),
    /// A fresh nonce to send with `use_dpop_nonce`.
    UseNonce(String),
}

/// Checks the single `DPoP` header of a client request (token endpoint, userinfo) and consumes
/// its `jti`. `Ok(None)` when no header was sent.
pub async fn client_proof(
    ctx: &Ctx<'_>,
    fallback_key: Option<&Ed25519PublicKey>,
    access_token: Option<&str>,
) -> Result<Result<Option<VerifiedProof>, ProofFailure>, ApiError> {
    let value = match ctx.req.credential(Credential::Dpop) {
        Sent::Absent => return Ok(Ok(None)),
        Sent::Repeated => return Ok(Err(ProofFailure::Invalid("more than one DPoP header"))),
        Sent::Once(v) => match v.to_str() {
            Ok(v) => v,
            Err(_) => {
                return Ok(Err(ProofFailure::Invalid(
                    "DPoP header is not a compact JWS",
                )))
            }
        },
    };
    let nonce_key = ctx
        .config
        .dpop_nonce_key
        .as_ref()
        .map_err(ApiError::configuration);
    let expected_url = format!("{}{}", ctx.issuer, ctx.req.path);
    let key_bytes: &[u8] = match (&nonce_key, ctx.config.dpop_require_nonce) {
        (Ok(k), _) => k,
        (Err(e), true) => return Err(e.clone()),
        (Err(_), false) => &[],
    };
    let pctx = ProofContext {
        method: ctx.req.method.as_str(),
        expected_url: &expected_url,
        allowed_algs: CLIENT_DPOP_ALGS,
        jwk_required: fallback_key.is_none(),
        fallback_key,
        now_s: ctx.now_s(),
        iat_past_secs: ctx.config.dpop_iat_past_secs,
        iat_future_secs: ctx.config.dpop_iat_future_secs,
        nonce_key: key_bytes,
        require_nonce: ctx.config.dpop_require_nonce,
        access_token,
    };
    match dpop::verify_proof(value, &pctx) {
        Ok(proof) => {
            let fresh = replay::first_use(
                ctx,
                MarkerKind::Dpop,
                &proof.replay_hash,
                proof.accepted_through,
            )
            .await?;
            Ok(if fresh {
                Ok(Some(proof))
            } else {
                Err(ProofFailure::Invalid("DPoP proof has already been used"))
            })
        }
        Err(ProofError::Invalid(reason)) => Ok(Err(ProofFailure::Invalid(reason))),
        Err(ProofError::UseNonce) => match nonce_key {
            Ok(k) => Ok(Err(ProofFailure::UseNonce(dpop::nonce::issue(
                k,
                ctx.now_s(),
            )))),
            Err(e) => Err(e),
        },
    }
}
