//! One function per DPoP check of `security.md` 2.1, in the order [`super::verify_proof`] runs them.
//! Each returns the `invalid_dpop_proof` reason of the check that failed.

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{ath as expected_ath, nonce as server_nonce, normalize_htu};
use super::{ProofContext, ProofError, ProofKey, MAX_PROOF_LEN};
use crate::jwk::{JwkError, PublicJwk};
use crate::jws::{self, Alg, CompactJws};

type Check<T = ()> = Result<T, ProofError>;

/// Header members that would make the verifier fetch keys, change how the payload is encoded, or
/// demand extensions we do not implement (P5).
const FORBIDDEN_HEADER_MEMBERS: [&str; 5] = ["crit", "jku", "x5u", "x5c", "b64"];
const MAX_JTI_CHARS: usize = 128;

fn invalid<T>(reason: &'static str) -> Check<T> {
    Err(ProofError::Invalid(reason))
}

/// P1: one proof only. Fetch joins repeated headers with `", "`, and no valid compact JWS contains
/// a comma or whitespace, so either means more than one header (or garbage).
pub(super) fn single_value(value: &str) -> Check {
    if value.len() > MAX_PROOF_LEN {
        return invalid("DPoP proof is too long");
    }
    if value.chars().any(|c| c == ',' || c.is_whitespace()) {
        return invalid("DPoP header must carry exactly one proof");
    }
    Ok(())
}

/// P2: compact JWS, strict base64url, duplicate-free JSON objects.
pub(super) fn compact_jws(value: &str) -> Check<CompactJws> {
    jws::parse(value).or(invalid("DPoP proof is not a well-formed compact JWS"))
}

/// P3: `typ` is exactly `dpop+jwt`, so other JWTs (ID tokens, access tokens) are never proofs.
pub(super) fn typ(header: &Map<String, Value>) -> Check {
    match header.get("typ").and_then(Value::as_str) {
        Some("dpop+jwt") => Ok(()),
        _ => invalid("DPoP proof typ must be dpop+jwt"),
    }
}

/// P4 (first half): a known algorithm that this context allows.
pub(super) fn alg(header: &Map<String, Value>, allowed: &[Alg]) -> Check<Alg> {
    let Some(alg) = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::parse)
    else {
        return invalid("DPoP proof alg is not supported");
    };
    if !allowed.contains(&alg) {
        return invalid("DPoP proof alg is not allowed here");
    }
    Ok(alg)
}

/// P5: no `crit`, `jku`, `x5u`, `x5c` or `b64`. Keys are never fetched; `kid` is ignored.
pub(super) fn no_forbidden_members(header: &Map<String, Value>) -> Check {
    if FORBIDDEN_HEADER_MEMBERS
        .iter()
        .any(|m| header.contains_key(*m))
    {
        return invalid("DPoP proof header contains a forbidden member");
    }
    Ok(())
}

/// P6, and P4 (second half: the key type matches `alg`). Without `jwk`, only the compatible
/// userinfo mode (`jwk` optional and a fallback key configured) proceeds, with an Ed25519 `alg`.
pub(super) fn proof_key(
    header: &Map<String, Value>,
    alg: Alg,
    ctx: &ProofContext,
) -> Check<ProofKey> {
    let Some(jwk) = header.get("jwk") else {
        return match (ctx.jwk_required, ctx.fallback_key) {
            (false, Some(_)) if alg.is_ed25519() => Ok(ProofKey::Fallback),
            (false, Some(_)) => invalid("DPoP proof without jwk must use EdDSA or Ed25519"),
            _ => invalid("DPoP proof jwk is missing"),
        };
    };
    let jwk = PublicJwk::from_json(jwk).or_else(|err| match err {
        JwkError::PrivateMember => invalid("DPoP proof jwk must not contain private key members"),
        _ => invalid("DPoP proof jwk is not a valid public key"),
    })?;
    let matches = match &jwk {
        PublicJwk::Ed25519(_) => alg.is_ed25519(),
        PublicJwk::P256 { .. } => alg == Alg::ES256,
    };
    if !matches {
        return invalid("DPoP proof alg does not match the jwk key type");
    }
    Ok(ProofKey::Jwk(jwk))
}

/// P7: the signature over the segments as received.
pub(super) async fn signature(
    alg: Alg,
    key: &ProofKey,
    jws: &CompactJws,
    ctx: &ProofContext<'_>,
) -> Check {
    let input = jws.signing_input.as_bytes();
    let valid = match (key, ctx.fallback_key) {
        (ProofKey::Jwk(jwk), _) => jws::verify(alg, jwk, input, &jws.signature).await,
        (ProofKey::Fallback, Some(fallback)) => {
            alg.is_ed25519() && fallback.verify_strict(input, &jws.signature).await
        }
        (ProofKey::Fallback, None) => false,
    };
    if !valid {
        return invalid("DPoP proof signature is invalid");
    }
    Ok(())
}

/// The payload claims the checks use, typed (P8).
pub(super) struct Claims<'a> {
    pub jti: &'a str,
    pub htm: &'a str,
    pub htu: &'a str,
    pub iat: i64,
    pub ath: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// P8: claims present and of the right JSON types. `iat` must be a number (a fraction is
/// truncated); strings such as `"1767225600"` are refused.
pub(super) fn claims(payload: &Map<String, Value>) -> Check<Claims<'_>> {
    let string = |name: &str| payload.get(name).and_then(Value::as_str);
    let optional = |name: &str, reason: &'static str| match payload.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => invalid(reason),
    };
    let jti = match string("jti") {
        Some(jti) if !jti.is_empty() && jti.chars().count() <= MAX_JTI_CHARS => jti,
        _ => return invalid("DPoP proof jti is missing or invalid"),
    };
    let Some(htm) = string("htm") else {
        return invalid("DPoP proof htm is missing or not a string");
    };
    let Some(htu) = string("htu") else {
        return invalid("DPoP proof htu is missing or not a string");
    };
    let Some(iat) = payload.get("iat").and_then(whole_seconds) else {
        return invalid("DPoP proof iat is missing or not a number");
    };
    Ok(Claims {
        jti,
        htm,
        htu,
        iat,
        ath: optional("ath", "DPoP proof ath is not a string")?,
        nonce: optional("nonce", "DPoP proof nonce is not a string")?,
    })
}

/// A JSON number as whole seconds (truncated toward zero); `None` for non-numbers and values
/// outside `i64`.
fn whole_seconds(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None; // above i64::MAX
    }
    let f = n.as_f64()?.trunc();
    // i64::MIN and i64::MAX + 1 are exact powers of two in f64.
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Some(f as i64)
    } else {
        None
    }
}

/// P9: `htm` equals the request method exactly (`post` is not `POST`).
pub(super) fn htm(claims: &Claims, ctx: &ProofContext) -> Check {
    if claims.htm != ctx.method {
        return invalid("DPoP proof htm does not match the request method");
    }
    Ok(())
}

/// P10: `htu` equals the expected URL after normalisation of both (`security.md` 2.2).
pub(super) fn htu(claims: &Claims, ctx: &ProofContext) -> Check {
    match (normalize_htu(claims.htu), normalize_htu(ctx.expected_url)) {
        (Some(claimed), Some(expected)) if claimed == expected => Ok(()),
        _ => invalid("DPoP proof htu does not match the request URL"),
    }
}

/// P11: `now − past ≤ iat ≤ now + future`.
pub(super) fn freshness(claims: &Claims, ctx: &ProofContext) -> Check {
    if !ctx.accepted_through(claims.iat).accepts(ctx.now_s) {
        return invalid("DPoP proof iat is too old");
    }
    if claims.iat > ctx.now_s.saturating_add(ctx.iat_future_secs) {
        return invalid("DPoP proof iat is in the future");
    }
    Ok(())
}

/// P13: at a resource, `ath` must be the hash of the presented token (constant-time compare);
/// elsewhere it is ignored.
pub(super) fn ath(claims: &Claims, ctx: &ProofContext) -> Check {
    let Some(token) = ctx.access_token else {
        return Ok(());
    };
    let Some(ath) = claims.ath else {
        return invalid("DPoP proof ath is missing");
    };
    if !bool::from(ath.as_bytes().ct_eq(expected_ath(token).as_bytes())) {
        return invalid("DPoP proof ath does not match the access token");
    }
    Ok(())
}

/// P12: a present nonce must be valid even when nonces are optional (RFC 9449 §8); an absent one
/// is an error only when required. Either failure asks the client to retry with a fresh nonce.
pub(super) fn nonce(claims: &Claims, ctx: &ProofContext) -> Check {
    let ok = match claims.nonce {
        Some(nonce) => server_nonce::is_valid(ctx.nonce_key, nonce, ctx.now_s),
        None => !ctx.require_nonce,
    };
    if ok {
        Ok(())
    } else {
        Err(ProofError::UseNonce)
    }
}
