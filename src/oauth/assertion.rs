//! Client assertions (`private_key_jwt`, RFC 7523; `api.md` 9.4, `security.md` §3).
//!
//! Two steps, because the verifying key lives in the database: [`peek_client_id`] reads `iss`
//! from the unverified token so the caller can load the client (C5), then [`verify`] checks the
//! header (C3), signature (C6) and claims (C4, C7–C11 except the replay insert). The caller still
//! checks C1/C2 (request shape), the form `client_id` ([`form_client_id_matches`]) and inserts the
//! replay marker from [`VerifiedAssertion`] as the last step (C11). Every error is
//! `401 invalid_client`.

use std::fmt;

use serde_json::{Map, Value};

use crate::auth::dpop::{normalize_htu, replay_hash};
use crate::auth::replay::AcceptedThrough;
use crate::domain::ids::canonical_uuid;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jws::{self, Alg};
use crate::jose::verify as verifier;

use super::client_metadata::{is_url_client_id, ClientJwk, ClientKey, MAX_URL_LEN};

/// Longest accepted assertion (C3).
pub const MAX_ASSERTION_LEN: usize = 8192;
/// The only `client_assertion_type` (C1).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const MAX_JTI_CHARS: usize = 128;
/// Same list as DPoP P5: members that would fetch keys, change payload encoding or demand
/// extensions we do not implement.
const FORBIDDEN_HEADER_MEMBERS: [&str; 5] = ["crit", "jku", "x5u", "x5c", "b64"];
/// RFC 7523bis explicit type; with it only the issuer is an acceptable audience.
const TYP_CLIENT_AUTH: &str = "client-authentication+jwt";

/// What an assertion is checked against.
#[derive(Clone, Copy, Debug)]
pub struct AssertionContext<'a> {
    /// `PUBLIC_BASE_URL`.
    pub issuer: &'a str,
    /// Absolute URL of the endpoint receiving the request (token, revoke or introspect), built
    /// from the issuer.
    pub endpoint_url: &'a str,
    /// Current time, Unix seconds.
    pub now_s: i64,
    /// `CLIENT_ASSERTION_MAX_LIFETIME_SECS` (300).
    pub max_lifetime_secs: i64,
    /// `CLOCK_SKEW_SECS`.
    pub skew_secs: i64,
}

/// An assertion that passed every stateless check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    /// `jti_markers.hash` (`api.md` 9.11: kind `client_assertion`, scope = client id).
    pub replay_hash: String,
    /// The last second the assertion is accepted (`exp + CLOCK_SKEW_SECS`, C8); the replay
    /// marker's lifetime.
    pub accepted_through: AcceptedThrough,
}

/// Why an assertion was refused. The Display texts are short, ASCII and echo no input, so they
/// can be sent as `error_description`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionError {
    /// Longer than 8,192 bytes.
    TooLong,
    /// Not a compact JWS with duplicate-free JSON header and payload.
    Malformed,
    /// `iss` missing, not a string or not a UUID.
    Issuer,
    /// `alg` other than `EdDSA`/`Ed25519`.
    Alg,
    /// `typ` other than absent, `JWT` or `client-authentication+jwt`.
    Typ,
    /// `crit`, `jku`, `x5u`, `x5c` or `b64` in the header.
    ForbiddenHeader,
    /// The signature does not verify with the client's key.
    Signature,
    /// `sub` ≠ `iss`, or `iss` is not the authenticated client.
    Subject,
    /// `aud` is not the issuer or this endpoint's URL (or not allowed for the `typ`).
    Audience,
    /// `exp` missing or not a number.
    MissingExpiry,
    /// `now > exp + skew`.
    Expired,
    /// `iat` not a number, or in the future beyond the skew.
    IssuedAt,
    /// Lifetime above the maximum.
    Lifetime,
    /// `nbf` not a number, or in the future beyond the skew.
    NotBefore,
    /// `jti` missing, not a string, empty or longer than 128 characters.
    Jti,
    /// A metadata-document client's assertion with an `alg` other than `EdDSA`, `Ed25519`,
    /// `ES256` or `RS256`.
    MetadataAlg,
    /// A metadata-document client's assertion whose `kid` (or, without one, whose `alg`)
    /// matches none of the client's keys.
    UnknownKey,
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssertionError::TooLong => "client assertion is too long",
            AssertionError::Malformed => "client assertion is not a well-formed JWT",
            AssertionError::Issuer => "client assertion iss is missing or not a client id",
            AssertionError::Alg => "client assertion alg must be EdDSA or Ed25519",
            AssertionError::Typ => "client assertion typ is not allowed",
            AssertionError::ForbiddenHeader => {
                "client assertion header contains a forbidden member"
            }
            AssertionError::Signature => "client assertion signature is invalid",
            AssertionError::Subject => "client assertion iss and sub must be the client id",
            AssertionError::Audience => "client assertion aud is not valid for this endpoint",
            AssertionError::MissingExpiry => "client assertion exp is missing or not a number",
            AssertionError::Expired => "client assertion has expired",
            AssertionError::IssuedAt => "client assertion iat is invalid or in the future",
            AssertionError::Lifetime => "client assertion lifetime is too long",
            AssertionError::NotBefore => "client assertion nbf is invalid or in the future",
            AssertionError::Jti => "client assertion jti is missing or invalid",
            AssertionError::MetadataAlg => {
                "client assertion alg must be EdDSA, Ed25519, ES256 or RS256"
            }
            AssertionError::UnknownKey => {
                "client assertion kid or alg matches no key of the client"
            }
        })
    }
}

impl std::error::Error for AssertionError {}

fn parse(assertion: &str) -> Result<jws::CompactJws, AssertionError> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(AssertionError::TooLong);
    }
    jws::parse(assertion).map_err(|_| AssertionError::Malformed)
}

/// Reads `iss` WITHOUT verifying anything, to find the client whose key verifies the assertion.
/// Returns the canonical lowercase UUID of a registered client, or the exact URL of a
/// metadata-document client. Nothing from this call may be trusted before [`verify`].
pub fn peek_client_id(assertion: &str) -> Result<String, AssertionError> {
    let jws = parse(assertion)?;
    let iss = jws.payload.get("iss").and_then(Value::as_str);
    iss.and_then(canonical_uuid)
        .or_else(|| iss.filter(|i| is_metadata_client_id(i)).map(str::to_owned))
        .ok_or(AssertionError::Issuer)
}

/// A `client_id` that is a metadata document's URL (checked in full when it is fetched).
fn is_metadata_client_id(client_id: &str) -> bool {
    is_url_client_id(client_id) && client_id.len() <= MAX_URL_LEN
}

/// C4 (second half): a form `client_id`, when sent, must name the same client as `iss`
/// (UUIDs compared case-insensitively, like every id of the service; URLs exactly).
pub fn form_client_id_matches(form_client_id: Option<&str>, client_id: &str) -> bool {
    match form_client_id {
        None => true,
        Some(form) if is_metadata_client_id(client_id) => form == client_id,
        Some(form) => canonical_uuid(form).is_some_and(|f| Some(f) == canonical_uuid(client_id)),
    }
}

/// The keys an assertion may be verified with.
#[derive(Clone, Copy, Debug)]
pub enum ClientKeys<'a> {
    /// A registered client's one Ed25519 key (`EdDSA`/`Ed25519` only).
    Registered(&'a Ed25519PublicKey),
    /// A metadata-document client's key set: `EdDSA`, `ES256` or `RS256`; the header's `kid`
    /// selects the key when present, otherwise every key of the algorithm's type is tried.
    Metadata(&'a [ClientJwk]),
}

/// Verifies an assertion for `client_id` (the client loaded from [`peek_client_id`]) with its
/// registered key: header (C3), signature over the received bytes (C6), then the claims (C4,
/// C7–C10, C11 shape). Replay is the caller's last step, with the returned marker.
pub async fn verify(
    assertion: &str,
    client_id: &str,
    client_key: &Ed25519PublicKey,
    ctx: &AssertionContext<'_>,
) -> Result<VerifiedAssertion, AssertionError> {
    verify_with(
        assertion,
        client_id,
        ClientKeys::Registered(client_key),
        ctx,
    )
    .await
}

/// [`verify`] with the keys of any kind of client.
pub async fn verify_with(
    assertion: &str,
    client_id: &str,
    keys: ClientKeys<'_>,
    ctx: &AssertionContext<'_>,
) -> Result<VerifiedAssertion, AssertionError> {
    let jws = parse(assertion)?;
    let issuer_only = match keys {
        ClientKeys::Registered(client_key) => {
            let issuer_only = check_header(&jws.header)?;
            if !client_key
                .verify_strict(jws.signing_input.as_bytes(), &jws.signature)
                .await
            {
                return Err(AssertionError::Signature);
            }
            issuer_only
        }
        ClientKeys::Metadata(set) => {
            let (alg, issuer_only) = check_metadata_header(&jws.header)?;
            let kid = jws.header.get("kid").and_then(Value::as_str);
            let candidates: Vec<&ClientKey> = set
                .iter()
                .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
                .map(|k| &k.key)
                .filter(|k| alg.fits(k))
                .collect();
            if candidates.is_empty() {
                return Err(AssertionError::UnknownKey);
            }
            let mut verified = false;
            for key in candidates {
                if alg
                    .verify(key, jws.signing_input.as_bytes(), &jws.signature)
                    .await
                {
                    verified = true;
                    break;
                }
            }
            if !verified {
                return Err(AssertionError::Signature);
            }
            issuer_only
        }
    };
    let claims = &jws.payload;
    check_subject(claims, client_id)?;
    check_audience(claims, ctx, issuer_only)?;
    let accepted_through = check_times(claims, ctx)?;
    let jti = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() && jti.chars().count() <= MAX_JTI_CHARS => {
            jti.clone()
        }
        _ => return Err(AssertionError::Jti),
    };
    let scope = canonical_uuid(client_id)
        .or_else(|| is_metadata_client_id(client_id).then(|| client_id.to_owned()))
        .ok_or(AssertionError::Subject)?;
    Ok(VerifiedAssertion {
        replay_hash: replay_hash("client_assertion", &scope, &jti),
        accepted_through,
        jti,
    })
}

/// The algorithms of a metadata-document client's assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetadataAlg {
    Ed25519,
    Es256,
    Rs256,
}

impl MetadataAlg {
    fn fits(self, key: &ClientKey) -> bool {
        matches!(
            (self, key),
            (MetadataAlg::Ed25519, ClientKey::Ed25519(_))
                | (MetadataAlg::Es256, ClientKey::P256(_))
                | (MetadataAlg::Rs256, ClientKey::Rsa(_))
        )
    }

    async fn verify(self, key: &ClientKey, msg: &[u8], sig: &[u8]) -> bool {
        match key {
            ClientKey::Ed25519(k) => k.verify_strict(msg, sig).await,
            ClientKey::P256(k) => verifier::es256(k, msg, sig).await,
            ClientKey::Rsa(k) => verifier::rs256(k, msg, sig).await,
        }
    }
}

/// C3 for a metadata-document client: as [`check_header`], with `ES256` and `RS256` allowed.
fn check_metadata_header(
    header: &Map<String, Value>,
) -> Result<(MetadataAlg, bool), AssertionError> {
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("EdDSA" | "Ed25519") => MetadataAlg::Ed25519,
        Some("ES256") => MetadataAlg::Es256,
        Some("RS256") => MetadataAlg::Rs256,
        _ => return Err(AssertionError::MetadataAlg),
    };
    let mut rest = header.clone();
    rest.insert("alg".into(), Value::from("EdDSA"));
    if header.get("kid").is_some_and(|k| !k.is_string()) {
        return Err(AssertionError::Malformed);
    }
    Ok((alg, check_header(&rest)?))
}

/// C3. Returns whether the explicit `client-authentication+jwt` type restricts `aud` to the
/// issuer. `kid` is ignored: the client has exactly one registered key.
fn check_header(header: &Map<String, Value>) -> Result<bool, AssertionError> {
    match header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::parse)
    {
        Some(alg) if alg.is_ed25519() => {}
        _ => return Err(AssertionError::Alg),
    }
    let issuer_only = match header.get("typ") {
        None => false,
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => false,
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case(TYP_CLIENT_AUTH) => true,
        Some(_) => return Err(AssertionError::Typ),
    };
    if FORBIDDEN_HEADER_MEMBERS
        .iter()
        .any(|m| header.contains_key(*m))
    {
        return Err(AssertionError::ForbiddenHeader);
    }
    Ok(issuer_only)
}

/// C4: `iss` and `sub` are the same string and name the authenticated client.
fn check_subject(claims: &Map<String, Value>, client_id: &str) -> Result<(), AssertionError> {
    let iss = claims.get("iss").and_then(Value::as_str);
    let sub = claims.get("sub").and_then(Value::as_str);
    match (iss, sub) {
        (Some(iss), Some(sub))
            if iss == sub
                && canonical_uuid(iss).is_some()
                && canonical_uuid(iss) == canonical_uuid(client_id) =>
        {
            Ok(())
        }
        (Some(iss), Some(sub)) if iss == sub && iss == client_id && is_metadata_client_id(iss) => {
            Ok(())
        }
        _ => Err(AssertionError::Subject),
    }
}

/// C7: `aud` is one string (or an array of exactly one), equal after the `htu` normalisation of
/// `security.md` 2.2 to the issuer or — unless `issuer_only` — to this endpoint's URL. A query or
/// fragment never matches (the normalisation would otherwise drop it).
fn check_audience(
    claims: &Map<String, Value>,
    ctx: &AssertionContext,
    issuer_only: bool,
) -> Result<(), AssertionError> {
    let aud = match claims.get("aud") {
        Some(Value::String(aud)) => aud.as_str(),
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(aud)] => aud.as_str(),
            _ => return Err(AssertionError::Audience),
        },
        _ => return Err(AssertionError::Audience),
    };
    if aud.contains(['?', '#']) {
        return Err(AssertionError::Audience);
    }
    let Some(aud) = normalize_htu(aud) else {
        return Err(AssertionError::Audience);
    };
    let is = |url: &str| normalize_htu(url).is_some_and(|u| u == aud);
    if is(ctx.issuer) || (!issuer_only && is(ctx.endpoint_url)) {
        Ok(())
    } else {
        Err(AssertionError::Audience)
    }
}

/// C8–C10. Returns how long the assertion is accepted (C8), which is also its replay marker's
/// lifetime.
fn check_times(
    claims: &Map<String, Value>,
    ctx: &AssertionContext,
) -> Result<AcceptedThrough, AssertionError> {
    let optional = |name: &str, err: AssertionError| match claims.get(name) {
        None => Ok(None),
        Some(v) => whole_seconds(v).map(Some).ok_or(err),
    };
    let exp = claims
        .get("exp")
        .and_then(whole_seconds)
        .ok_or(AssertionError::MissingExpiry)?;
    let iat = optional("iat", AssertionError::IssuedAt)?;
    let nbf = optional("nbf", AssertionError::NotBefore)?;
    let latest = ctx.now_s.saturating_add(ctx.skew_secs);
    // C8
    let accepted_through = AcceptedThrough::second(exp.saturating_add(ctx.skew_secs));
    if !accepted_through.accepts(ctx.now_s) {
        return Err(AssertionError::Expired);
    }
    // C9
    if iat.is_some_and(|iat| iat > latest) {
        return Err(AssertionError::IssuedAt);
    }
    let lifetime = exp.saturating_sub(iat.unwrap_or(ctx.now_s));
    if lifetime > ctx.max_lifetime_secs {
        return Err(AssertionError::Lifetime);
    }
    // C10
    if nbf.is_some_and(|nbf| nbf > latest) {
        return Err(AssertionError::NotBefore);
    }
    Ok(accepted_through)
}

/// A JSON number as whole seconds (fraction truncated toward zero, as for DPoP `iat`); `None`
/// for other types and values outside `i64`.
fn whole_seconds(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None;
    }
    let f = n.as_f64()?.trunc();
    // i64::MIN and i64::MAX + 1 are exact powers of two in f64.
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Some(f as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    /// The verifier is async for the wasm build; natively it is ready at once.
    fn verify(
        assertion: &str,
        client_id: &str,
        client_key: &Ed25519PublicKey,
        ctx: &AssertionContext,
    ) -> Result<VerifiedAssertion, AssertionError> {
        futures::executor::block_on(super::verify(assertion, client_id, client_key, ctx))
    }

    const ISSUER: &str = "https://id.example.com";
    const TOKEN_URL: &str = "https://id.example.com/v1/oauth/token";
    const REVOKE_URL: &str = "https://id.example.com/v1/oauth/revoke";
    const INTROSPECT_URL: &str = "https://id.example.com/v1/oauth/introspect";
    const CLIENT_ID: &str = "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20";
    const T0: i64 = 1_767_225_600;
    const JTI: &str = "c1a7e3b2-6d4f-4a8b-9c0d-1e2f3a4b5c6d";
    /// vectors.md 5.4, signed with KC.
    const VECTOR: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJzdWIiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJhdWQiOiJodHRwczovL2lkLmV4YW1wbGUuY29tL3YxL29hdXRoL3Rva2VuIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjU2NjAsImp0aSI6ImMxYTdlM2IyLTZkNGYtNGE4Yi05YzBkLTFlMmYzYTRiNWM2ZCJ9.Mvog1EXGkhDz_QH9d3EpLH7GCTiTwASJX7S08iw5c36Sa3jIi1IcbKjSAj1QhuZE5RFOZm_Oy64e-uEI9wIpAw";
    const VECTOR_REPLAY_HASH: &str =
        "3a61bbda1340572957420cc0e5a12d629f08504dbb0cfa9726298ff043b6595d";

    fn seed_key(first: u8) -> SigningKey {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = first + i as u8;
        }
        SigningKey::from_bytes(&seed)
    }

    /// Client key KC (seed bytes 20..3f).
    fn kc() -> SigningKey {
        seed_key(0x20)
    }

    fn public(key: &SigningKey) -> Ed25519PublicKey {
        Ed25519PublicKey::from_bytes(key.verifying_key().as_bytes()).unwrap()
    }

    fn ctx(endpoint_url: &'static str, now_s: i64) -> AssertionContext<'static> {
        AssertionContext {
            issuer: ISSUER,
            endpoint_url,
            now_s,
            max_lifetime_secs: 300,
            skew_secs: 60,
        }
    }

    fn header() -> Value {
        json!({"alg": "EdDSA", "typ": "JWT"})
    }

    fn claims() -> Value {
        json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL,
               "iat": T0, "exp": T0 + 60, "jti": JTI})
    }

    fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
        jws::sign_ed25519(&header.to_string(), &claims.to_string(), key)
    }

    fn check(header: &Value, claims: &Value) -> Result<VerifiedAssertion, AssertionError> {
        check_at(header, claims, TOKEN_URL, T0)
    }

    fn check_at(
        header: &Value,
        claims: &Value,
        url: &'static str,
        now: i64,
    ) -> Result<VerifiedAssertion, AssertionError> {
        let token = sign(&kc(), header, claims);
        verify(&token, CLIENT_ID, &public(&kc()), &ctx(url, now))
    }

    fn with(mut v: Value, name: &str, value: Value) -> Value {
        v[name] = value;
        v
    }

    fn without(mut v: Value, name: &str) -> Value {
        if let Value::Object(map) = &mut v {
            map.remove(name);
        }
        v
    }

    #[test]
    fn vector_is_accepted_at_the_token_endpoint() {
        assert_eq!(peek_client_id(VECTOR).as_deref(), Ok(CLIENT_ID));
        let verified = verify(VECTOR, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)).unwrap();
        assert_eq!(verified.jti, JTI);
        assert_eq!(verified.replay_hash, VECTOR_REPLAY_HASH);
        assert_eq!(verified.accepted_through.last_s(), T0 + 60 + 60);
        // Our own signing reproduces the vector byte for byte (same member order).
        let header = r#"{"alg":"EdDSA","typ":"JWT"}"#;
        let payload = format!(
            r#"{{"iss":"{CLIENT_ID}","sub":"{CLIENT_ID}","aud":"{TOKEN_URL}","iat":{T0},"exp":{},"jti":"{JTI}"}}"#,
            T0 + 60
        );
        assert_eq!(jws::sign_ed25519(header, &payload, &kc()), VECTOR);
    }

    #[test]
    fn vector_is_rejected_at_revoke_and_introspect() {
        // T10 / V06 in reverse: aud is the token endpoint.
        for url in [REVOKE_URL, INTROSPECT_URL] {
            assert_eq!(
                verify(VECTOR, CLIENT_ID, &public(&kc()), &ctx(url, T0)),
                Err(AssertionError::Audience)
            );
        }
    }

    #[test]
    fn vector_time_window() {
        let key = public(&kc());
        // exp = T0 + 60; accepted until now = exp + skew.
        assert!(verify(VECTOR, CLIENT_ID, &key, &ctx(TOKEN_URL, T0 + 120)).is_ok());
        assert_eq!(
            verify(VECTOR, CLIENT_ID, &key, &ctx(TOKEN_URL, T0 + 121)),
            Err(AssertionError::Expired)
        );
        // iat = T0 is in the future beyond the skew for a clock at T0 - 61.
        assert_eq!(
            verify(VECTOR, CLIENT_ID, &key, &ctx(TOKEN_URL, T0 - 61)),
            Err(AssertionError::IssuedAt)
        );
        assert!(verify(VECTOR, CLIENT_ID, &key, &ctx(TOKEN_URL, T0 - 60)).is_ok());
    }

    #[test]
    fn uppercase_client_id_is_canonicalised() {
        let upper = CLIENT_ID.to_ascii_uppercase();
        let c = with(with(claims(), "iss", json!(upper)), "sub", json!(upper));
        let token = sign(&kc(), &header(), &c);
        assert_eq!(peek_client_id(&token).as_deref(), Ok(CLIENT_ID));
        let verified = verify(&token, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)).unwrap();
        assert_eq!(verified.replay_hash, VECTOR_REPLAY_HASH);
    }

    #[test]
    fn peek_rejects_garbage_and_non_uuid_issuers() {
        assert_eq!(peek_client_id("garbage"), Err(AssertionError::Malformed));
        assert_eq!(peek_client_id(""), Err(AssertionError::Malformed));
        assert_eq!(
            peek_client_id(&"a".repeat(MAX_ASSERTION_LEN + 1)),
            Err(AssertionError::TooLong)
        );
        for iss in [json!("client"), json!(42), json!(null), json!([CLIENT_ID])] {
            let token = sign(&kc(), &header(), &with(claims(), "iss", iss));
            assert_eq!(peek_client_id(&token), Err(AssertionError::Issuer));
        }
        let token = sign(&kc(), &header(), &without(claims(), "iss"));
        assert_eq!(peek_client_id(&token), Err(AssertionError::Issuer));
    }

    #[test]
    fn accepts_library_formats() {
        // requests-oauth2client: kid + typ JWT, aud = endpoint URL.
        let h = json!({"alg": "EdDSA", "kid": "whatever", "typ": "JWT"});
        assert!(check(&h, &claims()).is_ok());
        // oauth4webapi: alg Ed25519, no typ, aud = issuer, nbf.
        let h = json!({"alg": "Ed25519"});
        let c = with(with(claims(), "aud", json!(ISSUER)), "nbf", json!(T0));
        assert!(check(&h, &c).is_ok());
        // T12: aud = issuer also works at revoke and introspect.
        for url in [TOKEN_URL, REVOKE_URL, INTROSPECT_URL] {
            assert!(check_at(&header(), &c, url, T0).is_ok());
        }
        // RFC 7523bis: explicit type with aud = issuer (case-insensitive typ).
        for typ in ["client-authentication+jwt", "Client-Authentication+JWT"] {
            let h = json!({"alg": "EdDSA", "typ": typ});
            assert!(check(&h, &with(claims(), "aud", json!(ISSUER))).is_ok());
        }
        assert!(check(&json!({"alg": "EdDSA", "typ": "jwt"}), &claims()).is_ok());
        // aud as an array of one; normalised forms.
        assert!(check(&header(), &with(claims(), "aud", json!([TOKEN_URL]))).is_ok());
        for aud in [
            "HTTPS://ID.Example.COM:443/v1/oauth/token",
            "https://id.example.com/",
            "https://id.example.com:443",
        ] {
            assert!(
                check(&header(), &with(claims(), "aud", json!(aud))).is_ok(),
                "{aud}"
            );
        }
        // iat absent: lifetime counted from now.
        assert!(check(&header(), &without(claims(), "iat")).is_ok());
        // Revoke and introspect with their own URLs.
        assert!(check_at(
            &header(),
            &with(claims(), "aud", json!(REVOKE_URL)),
            REVOKE_URL,
            T0
        )
        .is_ok());
        assert!(check_at(
            &header(),
            &with(claims(), "aud", json!(INTROSPECT_URL)),
            INTROSPECT_URL,
            T0
        )
        .is_ok());
        // Fractional times are truncated.
        assert!(check(&header(), &with(claims(), "exp", json!(T0 as f64 + 60.9))).is_ok());
    }

    #[test]
    fn header_rules() {
        // T22, T23 and other algorithms.
        for alg in [
            json!("HS256"),
            json!("none"),
            json!("ES256"),
            json!("RS256"),
            json!("eddsa"),
            json!(null),
            json!(1),
        ] {
            assert_eq!(
                check(&json!({"alg": alg, "typ": "JWT"}), &claims()),
                Err(AssertionError::Alg),
                "{alg}"
            );
        }
        assert_eq!(
            check(&json!({"typ": "JWT"}), &claims()),
            Err(AssertionError::Alg)
        );
        // T25 and other types.
        for typ in [
            json!("dpop+jwt"),
            json!("at+jwt"),
            json!("JOSE"),
            json!(""),
            json!(null),
            json!(["JWT"]),
        ] {
            assert_eq!(
                check(&json!({"alg": "EdDSA", "typ": typ}), &claims()),
                Err(AssertionError::Typ),
                "{typ}"
            );
        }
        for member in FORBIDDEN_HEADER_MEMBERS {
            let h = with(header(), member, json!(["x"]));
            assert_eq!(
                check(&h, &claims()),
                Err(AssertionError::ForbiddenHeader),
                "{member}"
            );
        }
    }

    #[test]
    fn alg_none_and_hs256_tokens_are_rejected() {
        let b64 = crate::jose::b64::encode;
        let payload = b64(claims().to_string().as_bytes());
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none"}"#));
        assert_eq!(
            verify(&none, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)),
            Err(AssertionError::Malformed)
        );
        let input = format!("{}.{payload}", b64(br#"{"alg":"HS256","typ":"JWT"}"#));
        let mac = crate::crypto::mac::hmac_sha256(public(&kc()).as_bytes(), input.as_bytes());
        let hs = format!("{input}.{}", b64(&mac));
        assert_eq!(
            verify(&hs, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)),
            Err(AssertionError::Alg)
        );
    }

    #[test]
    fn signature_rules() {
        // T24: another key.
        let other = seed_key(0x40);
        let token = sign(&other, &header(), &claims());
        assert_eq!(
            verify(&token, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)),
            Err(AssertionError::Signature)
        );
        // A flipped signature bit, and a payload swapped under the same signature.
        let mut parts: Vec<String> = VECTOR.split('.').map(str::to_owned).collect();
        let mut sig = crate::jose::b64::decode_strict(&parts[2]).unwrap();
        sig[0] ^= 1;
        parts[2] = crate::jose::b64::encode(&sig);
        assert_eq!(
            verify(
                &parts.join("."),
                CLIENT_ID,
                &public(&kc()),
                &ctx(TOKEN_URL, T0)
            ),
            Err(AssertionError::Signature)
        );
        let forged = sign(&kc(), &header(), &with(claims(), "jti", json!("other")));
        let mut parts: Vec<&str> = forged.split('.').collect();
        parts[2] = VECTOR.rsplit('.').next().unwrap();
        assert_eq!(
            verify(
                &parts.join("."),
                CLIENT_ID,
                &public(&kc()),
                &ctx(TOKEN_URL, T0)
            ),
            Err(AssertionError::Signature)
        );
        // Re-encoded with padding: malformed, never re-serialised.
        let padded = VECTOR.replacen('.', "=.", 1);
        assert_eq!(
            verify(&padded, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)),
            Err(AssertionError::Malformed)
        );
    }

    #[test]
    fn subject_rules() {
        let other = "a4b3c2d1-e5f6-4789-8abc-def012345678";
        // T20
        assert_eq!(
            check(&header(), &with(claims(), "sub", json!(other))),
            Err(AssertionError::Subject)
        );
        assert_eq!(
            check(&header(), &without(claims(), "sub")),
            Err(AssertionError::Subject)
        );
        assert_eq!(
            check(&header(), &with(claims(), "sub", json!(1))),
            Err(AssertionError::Subject)
        );
        let upper = CLIENT_ID.to_ascii_uppercase();
        assert_eq!(
            check(&header(), &with(claims(), "sub", json!(upper))),
            Err(AssertionError::Subject)
        );
        // Signed by the right key but naming another client.
        let c = with(with(claims(), "iss", json!(other)), "sub", json!(other));
        assert_eq!(check(&header(), &c), Err(AssertionError::Subject));
        // T21 helper.
        assert!(form_client_id_matches(None, CLIENT_ID));
        assert!(form_client_id_matches(Some(CLIENT_ID), CLIENT_ID));
        assert!(form_client_id_matches(
            Some(&CLIENT_ID.to_ascii_uppercase()),
            CLIENT_ID
        ));
        assert!(!form_client_id_matches(Some(other), CLIENT_ID));
        assert!(!form_client_id_matches(Some(""), CLIENT_ID));
        assert!(!form_client_id_matches(Some("x"), CLIENT_ID));
    }

    #[test]
    fn audience_rules() {
        for aud in [
            json!("https://evil.example/v1/oauth/token"), // T09
            json!(REVOKE_URL),                            // T10
            json!([ISSUER, "https://evil.example"]),      // T11
            json!([ISSUER, ISSUER]),
            json!([]),
            json!([1]),
            json!(1),
            json!(null),
            json!("https://id.example.com/v1/oauth/token?x=1"),
            json!("https://id.example.com/v1/oauth/token#f"),
            json!("https://id.example.com?"),
            json!("https://id.example.com/v1/oauth/token/"),
            json!("https://id.example.com/V1/oauth/token"),
            json!("http://id.example.com/v1/oauth/token"),
            json!("https://id.example.com:8443/v1/oauth/token"),
            json!("https://user@id.example.com/v1/oauth/token"),
            json!("/v1/oauth/token"),
            json!("https://id.example.com/v1/oauth/userinfo"),
            json!("id.example.com"),
        ] {
            assert_eq!(
                check(&header(), &with(claims(), "aud", aud.clone())),
                Err(AssertionError::Audience),
                "{aud}"
            );
        }
        assert_eq!(
            check(&header(), &without(claims(), "aud")),
            Err(AssertionError::Audience)
        );
        // T13: explicit type accepts only the issuer.
        let h = json!({"alg": "EdDSA", "typ": "client-authentication+jwt"});
        assert_eq!(check(&h, &claims()), Err(AssertionError::Audience));
        assert_eq!(
            check_at(
                &h,
                &with(claims(), "aud", json!(REVOKE_URL)),
                REVOKE_URL,
                T0
            ),
            Err(AssertionError::Audience)
        );
    }

    #[test]
    fn time_rules() {
        // T14: exp = now - 120 (beyond the 60 s skew).
        let c = with(
            with(claims(), "exp", json!(T0 - 120)),
            "iat",
            json!(T0 - 180),
        );
        assert_eq!(check(&header(), &c), Err(AssertionError::Expired));
        // Within the skew.
        let c = with(
            with(claims(), "exp", json!(T0 - 60)),
            "iat",
            json!(T0 - 120),
        );
        assert!(check(&header(), &c).is_ok());
        // T15
        assert_eq!(
            check(&header(), &without(claims(), "exp")),
            Err(AssertionError::MissingExpiry)
        );
        for exp in [json!("1767225660"), json!(null), json!(true), json!(1e300)] {
            assert_eq!(
                check(&header(), &with(claims(), "exp", exp)),
                Err(AssertionError::MissingExpiry)
            );
        }
        // T16: lifetime 3,600 s.
        let c = with(claims(), "exp", json!(T0 + 3600));
        assert_eq!(check(&header(), &c), Err(AssertionError::Lifetime));
        // Exactly the maximum is fine; one more is not.
        assert!(check(&header(), &with(claims(), "exp", json!(T0 + 300))).is_ok());
        assert_eq!(
            check(&header(), &with(claims(), "exp", json!(T0 + 301))),
            Err(AssertionError::Lifetime)
        );
        // Without iat the lifetime is counted from now.
        let c = with(without(claims(), "iat"), "exp", json!(T0 + 301));
        assert_eq!(check(&header(), &c), Err(AssertionError::Lifetime));
        let c = with(without(claims(), "iat"), "exp", json!(T0 + 300));
        assert!(check(&header(), &c).is_ok());
        // An old iat cannot be used to stretch the lifetime.
        let c = with(
            with(claims(), "iat", json!(T0 - 3000)),
            "exp",
            json!(T0 + 60),
        );
        assert_eq!(check(&header(), &c), Err(AssertionError::Lifetime));
        // T17: iat = now + 600.
        let c = with(
            with(claims(), "iat", json!(T0 + 600)),
            "exp",
            json!(T0 + 660),
        );
        assert_eq!(check(&header(), &c), Err(AssertionError::IssuedAt));
        let c = with(
            with(claims(), "iat", json!(T0 + 60)),
            "exp",
            json!(T0 + 120),
        );
        assert!(check(&header(), &c).is_ok());
        assert_eq!(
            check(&header(), &with(claims(), "iat", json!("now"))),
            Err(AssertionError::IssuedAt)
        );
        // C10: nbf in the future beyond the skew.
        assert_eq!(
            check(&header(), &with(claims(), "nbf", json!(T0 + 61))),
            Err(AssertionError::NotBefore)
        );
        assert!(check(&header(), &with(claims(), "nbf", json!(T0 + 60))).is_ok());
        assert_eq!(
            check(&header(), &with(claims(), "nbf", json!("0"))),
            Err(AssertionError::NotBefore)
        );
        // Extreme values do not overflow.
        let c = with(
            with(claims(), "exp", json!(i64::MAX)),
            "iat",
            json!(i64::MIN),
        );
        assert_eq!(check(&header(), &c), Err(AssertionError::Lifetime));
        let c = with(claims(), "exp", json!(i64::MIN));
        assert_eq!(check(&header(), &c), Err(AssertionError::Expired));
    }

    #[test]
    fn jti_rules() {
        // T19
        assert_eq!(
            check(&header(), &without(claims(), "jti")),
            Err(AssertionError::Jti)
        );
        for jti in [json!(""), json!(1), json!(null), json!(["a"])] {
            assert_eq!(
                check(&header(), &with(claims(), "jti", jti)),
                Err(AssertionError::Jti)
            );
        }
        assert_eq!(
            check(&header(), &with(claims(), "jti", json!("a".repeat(129)))),
            Err(AssertionError::Jti)
        );
        let v = check(&header(), &with(claims(), "jti", json!("é".repeat(128)))).unwrap();
        assert_eq!(v.jti.chars().count(), 128);
        // Different jti, different marker; same jti, same marker (T18 is the database insert).
        let a = check(&header(), &with(claims(), "jti", json!("a"))).unwrap();
        let b = check(&header(), &with(claims(), "jti", json!("b"))).unwrap();
        assert_ne!(a.replay_hash, b.replay_hash);
        assert_eq!(
            a,
            check(&header(), &with(claims(), "jti", json!("a"))).unwrap()
        );
    }

    #[test]
    fn duplicate_members_and_size_are_rejected() {
        let b64 = crate::jose::b64::encode;
        let h = b64(br#"{"alg":"EdDSA","alg":"none"}"#);
        let p = b64(claims().to_string().as_bytes());
        let token = jws::sign_ed25519(
            r#"{"alg":"EdDSA","alg":"none"}"#,
            &claims().to_string(),
            &kc(),
        );
        assert!(token.starts_with(&format!("{h}.{p}")));
        assert_eq!(
            verify(&token, CLIENT_ID, &public(&kc()), &ctx(TOKEN_URL, T0)),
            Err(AssertionError::Malformed)
        );
        let big = with(claims(), "pad", json!("x".repeat(MAX_ASSERTION_LEN)));
        assert_eq!(check(&header(), &big), Err(AssertionError::TooLong));
    }

    #[test]
    fn errors_have_short_reasons() {
        assert_eq!(
            AssertionError::Audience.to_string(),
            "client assertion aud is not valid for this endpoint"
        );
    }
}
