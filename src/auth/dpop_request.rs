//! The one path from a request's `DPoP` header to a checked proof, shared by agent
//! authentication and the OAuth client endpoints (token, userinfo): read the single header,
//! check P1–P13 against this request and the configuration, hand out a fresh nonce when one
//! is required, and consume the proof's `jti` (P15). Each caller phrases the outcome in its
//! own error format and does its own key binding (P14).

use crate::auth::dpop::{self, ProofContext, ProofError, VerifiedProof};
use crate::auth::replay::{self, MarkerKind};
use crate::ctx::Ctx;
use crate::http::{ApiError, Credential, Sent};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jws::Alg;

/// What the endpoint accepts.
#[derive(Clone, Copy)]
pub struct Expect<'a> {
    pub algs: &'a [Alg],
    /// Compatible userinfo mode: a proof without `jwk` is verified with this key.
    pub fallback_key: Option<&'a Ed25519PublicKey>,
    /// The access token presented with the proof (its `ath` is then required).
    pub access_token: Option<&'a str>,
}

/// What the request's `DPoP` header amounted to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once; boxing would only add an allocation"
)]
pub enum HeaderProof {
    /// No `DPoP` header.
    Absent,
    /// P1–P13 hold; P14 and P15 are the caller's.
    Verified(VerifiedProof),
    /// `invalid_dpop_proof`, with a short reason safe to send.
    Invalid(&'static str),
    /// `use_dpop_nonce`, with the fresh nonce to send.
    UseNonce(String),
}

/// Checks the request's single `DPoP` header against `expect`. Errors are configuration
/// errors only: a nonce is required (or must be handed out) but no nonce key is configured.
pub fn check(ctx: &Ctx<'_>, expect: Expect<'_>) -> Result<HeaderProof, ApiError> {
    let value = match ctx.req.credential(Credential::Dpop) {
        Sent::Absent => return Ok(HeaderProof::Absent),
        Sent::Repeated => return Ok(HeaderProof::Invalid("more than one DPoP header")),
        Sent::Once(v) => match v.to_str() {
            Ok(v) => v,
            Err(_) => return Ok(HeaderProof::Invalid("DPoP header is not a compact JWS")),
        },
    };
    let nonce_key = ctx
        .config
        .dpop_nonce_key
        .as_ref()
        .map_err(ApiError::configuration);
    let key_bytes: &[u8] = match (&nonce_key, ctx.config.dpop_require_nonce) {
        (Ok(k), _) => k,
        (Err(e), true) => return Err(e.clone()),
        (Err(_), false) => &[],
    };
    let expected_url = format!("{}{}", ctx.issuer, ctx.req.path);
    let pctx = ProofContext {
        method: ctx.req.method.as_str(),
        expected_url: &expected_url,
        allowed_algs: expect.algs,
        jwk_required: expect.fallback_key.is_none(),
        fallback_key: expect.fallback_key,
        now_s: ctx.now_s(),
        iat_past_secs: ctx.config.dpop_iat_past_secs,
        iat_future_secs: ctx.config.dpop_iat_future_secs,
        nonce_key: key_bytes,
        require_nonce: ctx.config.dpop_require_nonce,
        access_token: expect.access_token,
    };
    match dpop::verify_proof(value, &pctx) {
        Ok(proof) => Ok(HeaderProof::Verified(proof)),
        Err(ProofError::Invalid(reason)) => Ok(HeaderProof::Invalid(reason)),
        // A nonce can only be handed out with a nonce key; without one, fail closed.
        Err(ProofError::UseNonce) => Ok(HeaderProof::UseNonce(dpop::nonce::issue(
            nonce_key?,
            ctx.now_s(),
        ))),
    }
}

/// P15: the proof's `jti` is used once (a D1 primary key); the last check before acting.
/// `false` when the proof was already used.
pub async fn consume(ctx: &Ctx<'_>, proof: &VerifiedProof) -> Result<bool, ApiError> {
    replay::first_use(
        ctx,
        MarkerKind::Dpop,
        &proof.replay_hash,
        proof.accepted_through,
    )
    .await
}

/// Reason sent when [`consume`] finds the proof used.
pub const REPLAYED: &str = "DPoP proof has already been used";
