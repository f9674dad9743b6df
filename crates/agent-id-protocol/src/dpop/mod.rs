//! DPoP proof validation (RFC 9449; `security.md` §2). [`verify_proof`] runs checks P1–P13 as pure
//! functions of the header value and a [`ProofContext`]; the caller does P14 (key binding, which
//! depends on the endpoint) and P15 (the replay-marker insert, a database write) with the values in
//! [`VerifiedProof`]. [`build_proof`] makes proofs as clients send them.

mod accepted;
pub mod build;
mod checks;
pub mod htu;
pub mod nonce;

use std::fmt;

use sha2::{Digest, Sha256};

use crate::b64;
use crate::ed25519::Ed25519PublicKey;
use crate::hex;
use crate::jwk::PublicJwk;
use crate::jws::Alg;

pub use accepted::AcceptedThrough;
pub use build::{build_proof, ProofClaims, ProofSigner};
pub use htu::normalize_htu;

/// Longest `DPoP` header value accepted (P1).
pub const MAX_PROOF_LEN: usize = 8192;

/// Everything about the request and configuration that a proof is checked against.
#[derive(Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request method, compared with `htm` exactly.
    pub method: &'a str,
    /// Issuer + request path, without query (`security.md` 2.2).
    pub expected_url: &'a str,
    /// Algorithms allowed in this context (`security.md` 2.3).
    pub allowed_algs: &'a [Alg],
    /// Whether the header must carry a `jwk` (false only for userinfo).
    pub jwk_required: bool,
    /// Compatible userinfo mode: a proof without `jwk` is verified with this key (the client's
    /// registered key); `alg` must then be `EdDSA`/`Ed25519`.
    pub fallback_key: Option<&'a Ed25519PublicKey>,
    /// Current time, Unix seconds (injected: no clock access here).
    pub now_s: i64,
    /// `DPOP_IAT_PAST_SECS`.
    pub iat_past_secs: i64,
    /// `DPOP_IAT_FUTURE_SECS`.
    pub iat_future_secs: i64,
    /// Key for server nonces (`api.md` 9.10).
    pub nonce_key: &'a [u8],
    /// `DPOP_REQUIRE_NONCE`.
    pub require_nonce: bool,
    /// The presented access token at a resource: `ath` is then required and compared.
    pub access_token: Option<&'a str>,
}

impl ProofContext<'_> {
    /// P11's lower bound turned around: a proof made at `iat` is accepted through
    /// `iat + DPOP_IAT_PAST_SECS`, and its replay marker lives exactly that long.
    pub const fn accepted_through(&self, iat: i64) -> AcceptedThrough {
        AcceptedThrough::second(iat.saturating_add(self.iat_past_secs))
    }
}

/// Written by hand so that logging a context never prints the nonce key.
impl fmt::Debug for ProofContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofContext")
            .field("method", &self.method)
            .field("expected_url", &self.expected_url)
            .field("allowed_algs", &self.allowed_algs)
            .field("jwk_required", &self.jwk_required)
            .field(
                "fallback_key",
                &self.fallback_key.map(Ed25519PublicKey::canonical),
            )
            .field("now_s", &self.now_s)
            .field("iat_past_secs", &self.iat_past_secs)
            .field("iat_future_secs", &self.iat_future_secs)
            .field("nonce_key", &"<redacted>")
            .field("require_nonce", &self.require_nonce)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// The key a proof was verified with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and moved once; boxing would only add an allocation"
)]
pub enum ProofKey {
    /// The `jwk` of the proof header.
    Jwk(PublicJwk),
    /// No `jwk`: verified with [`ProofContext::fallback_key`] (compatible userinfo mode).
    Fallback,
}

/// A proof that passed P1–P13, with what P14 and P15 need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    pub key: ProofKey,
    /// RFC 7638 thumbprint of the verifying key (for `cnf.jkt`, `dpop_jkt` and binding checks).
    pub thumbprint: String,
    pub jti: String,
    /// `iat` in whole seconds (a fractional value is truncated).
    pub iat: i64,
    /// `jti_markers.hash` for this proof (`api.md` 9.11).
    pub replay_hash: String,
    /// The last second the proof is accepted (`iat + iat_past_secs`); the replay marker's
    /// lifetime.
    pub accepted_through: AcceptedThrough,
}

/// Why a proof was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// `invalid_dpop_proof`, with a short reason naming the failed check (safe to send as
    /// `error_description`: ASCII, no quotes, no input echoed).
    Invalid(&'static str),
    /// `use_dpop_nonce`: the nonce is required and absent, or present and invalid/stale. Only
    /// reported for proofs that pass every other check.
    UseNonce,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Invalid(reason) => f.write_str(reason),
            ProofError::UseNonce => f.write_str("a fresh DPoP nonce is required"),
        }
    }
}

impl std::error::Error for ProofError {}

/// Validates one `DPoP` header value (P1–P13). The caller has already rejected requests with more
/// than one `DPoP` header; it must still bind the key (P14) and insert the replay marker (P15).
/// Async only because the wasm build verifies the signature through WebCrypto.
pub async fn verify_proof(
    header_value: &str,
    ctx: &ProofContext<'_>,
) -> Result<VerifiedProof, ProofError> {
    checks::single_value(header_value)?; // P1
    let jws = checks::compact_jws(header_value)?; // P2
    checks::typ(&jws.header)?; // P3
    let alg = checks::alg(&jws.header, ctx.allowed_algs)?; // P4 (name, context)
    checks::no_forbidden_members(&jws.header)?; // P5
    let key = checks::proof_key(&jws.header, alg, ctx)?; // P6, P4 (key type)
    checks::signature(alg, &key, &jws, ctx).await?; // P7
    let claims = checks::claims(&jws.payload)?; // P8
    checks::htm(&claims, ctx)?; // P9
    checks::htu(&claims, ctx)?; // P10
    checks::freshness(&claims, ctx)?; // P11
    checks::ath(&claims, ctx)?; // P13
    checks::nonce(&claims, ctx)?; // P12, last: only sound proofs are told to retry

    let thumbprint = match (&key, ctx.fallback_key) {
        (ProofKey::Jwk(jwk), _) => jwk.thumbprint(),
        (ProofKey::Fallback, Some(fallback)) => fallback.thumbprint(),
        (ProofKey::Fallback, None) => return Err(ProofError::Invalid("DPoP proof jwk is missing")),
    };
    let jti = claims.jti.to_owned();
    let iat = claims.iat;
    Ok(VerifiedProof {
        replay_hash: replay_hash("dpop", &thumbprint, &jti),
        accepted_through: ctx.accepted_through(iat),
        key,
        thumbprint,
        jti,
        iat,
    })
}

/// `jti_markers.hash` (`api.md` 9.11): `hex(SHA-256(kind "|" scope "|" jti))`; kind `dpop` with the
/// key thumbprint as scope, or `client_assertion` with the client id.
pub fn replay_hash(kind: &str, scope: &str, jti: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in [kind, scope, jti].into_iter().enumerate() {
        if i > 0 {
            hasher.update(b"|");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize())
}

/// `ath` for an access token: `BASE64URL(SHA-256(ASCII(token)))`.
pub fn ath(access_token: &str) -> String {
    b64::encode(&Sha256::digest(access_token.as_bytes()))
}

#[cfg(test)]
mod tests;
