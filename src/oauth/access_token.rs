//! Access tokens: RFC 9068 JWTs signed with `OAUTH_SIGNING_KEY` (`api.md` 9.6, `security.md` §4),
//! or with `OAUTH_ES256_SIGNING_KEY` for a resource that accepts only ES256, and the JWKS
//! document that publishes the verification keys (`api.md` 2.1).
//!
//! [`verify`] covers T1–T3 (format, key, signature, claims). The database checks (T4 token row,
//! T5 denylist and grant, T6 client/agent state) and the DPoP binding (T7) are the caller's.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::agent_claim::{AgentClaim, Oversight};
use super::scope::Scope;
use super::target::ResourceScope;
use crate::domain::ids::canonical_uuid;
use crate::jose::b64;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::ed25519_signing::Ed25519SigningKey;
use crate::jose::es256::{Es256SigningKey, SignError};
use crate::jose::{jws, verify as verifier};

/// The JWS `typ` of access tokens (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";
/// Longest string accepted as an access token; ours are about 700 bytes.
pub const MAX_TOKEN_LEN: usize = 4096;
const MAX_JTI_CHARS: usize = 128;
/// A `cnf.jkt` is a base64url SHA-256: 43 characters.
const JKT_LEN: usize = 43;

/// What a token is for, and so what its `scope` means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// An identity token (`aud` = `client_id`): scopes of the registry, for userinfo.
    Identity(Scope),
    /// A resource token (`aud` = the resource URI): the resource's own scope names.
    Resource(ResourceScope),
}

impl TokenScope {
    /// The identity scope, or `None` for a resource token.
    pub fn identity(&self) -> Option<Scope> {
        match self {
            TokenScope::Identity(s) => Some(*s),
            TokenScope::Resource(_) => None,
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenScope::Identity(s) => s.fmt(f),
            TokenScope::Resource(s) => s.fmt(f),
        }
    }
}

/// The claims of an access token. An identity token's `aud` and `client_id` are both the client
/// id (RFC 9068 §3); a resource token's `aud` is the resource URI and it carries `agent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// The issuer (`PUBLIC_BASE_URL`).
    pub iss: String,
    /// The agent id.
    pub sub: String,
    /// The client id, or the resource URI.
    pub aud: String,
    /// The client id.
    pub client_id: String,
    pub scope: TokenScope,
    pub iat: i64,
    /// `iat + ACCESS_TOKEN_TTL_SECS`.
    pub exp: i64,
    /// 16 random bytes, base64url ([`new_jti`]).
    pub jti: String,
    /// `cnf.jkt`: thumbprint of the DPoP key (or, in compatible mode, of the client key);
    /// `None` for a Bearer token.
    pub jkt: Option<String>,
    /// Resource tokens only: who oversees the agent and its tier.
    pub agent: Option<AgentClaim>,
}

impl AccessClaims {
    /// `DPoP` for a key-bound token, `Bearer` otherwise (RFC 9449 §5, RFC 6750).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

/// Why a string is not a valid access token of this issuer. All variants are `invalid_token` at
/// userinfo and `{"active": false}` at introspection; the reason is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Too long, or not a compact JWS with duplicate-free JSON.
    Malformed,
    /// Header `typ` is not exactly `at+jwt`.
    Typ,
    /// Header `alg` is not exactly `EdDSA` or `ES256`, or `ES256` on an identity token.
    Alg,
    /// Header members other than `alg`, `kid`, `typ` (we never mint any).
    Header,
    /// `kid` missing or not the thumbprint of the current or previous key.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `iss` is not this issuer.
    Issuer,
    /// `exp <= now`.
    Expired,
    /// A required claim is missing or mistyped, or (identity token) `aud` ≠ `client_id`.
    Claims,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "access token is malformed",
            TokenError::Typ => "access token typ must be at+jwt",
            TokenError::Alg => "access token alg must be EdDSA (or ES256 for a resource)",
            TokenError::Header => "access token header has unexpected members",
            TokenError::UnknownKey => "access token key is unknown",
            TokenError::Signature => "access token signature is invalid",
            TokenError::Issuer => "access token issuer is invalid",
            TokenError::Expired => "access token has expired",
            TokenError::Claims => "access token claims are invalid",
        })
    }
}

impl std::error::Error for TokenError {}

/// RFC 7638 thumbprint of a server key: the `kid` of its tokens and JWKS entry.
pub fn key_id(key: &Ed25519PublicKey) -> String {
    key.thumbprint()
}

/// A JSON string literal, escaped by `serde_json`.
fn json_str(s: &str) -> String {
    Value::from(s).to_string()
}

/// The key a token is signed with. Identity tokens are always `EdDSA` (v1); a resource token is
/// signed with the algorithm its resource accepts.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'a> {
    EdDSA(&'a Ed25519SigningKey),
    ES256(&'a Es256SigningKey),
}

/// Mints the compact JWS: [`signing_input`], signed. Only ES256 signing can fail (wasm:
/// WebCrypto refused the key).
pub async fn mint(claims: &AccessClaims, signer: Signer<'_>) -> Result<String, SignError> {
    let (alg, kid) = match signer {
        Signer::EdDSA(key) => ("EdDSA", key_id(&key.public_key().await?)),
        Signer::ES256(key) => ("ES256", key.kid()),
    };
    let input = signing_input(claims, alg, &kid);
    let signature = match signer {
        Signer::EdDSA(key) => key.sign(input.as_bytes()).await?,
        Signer::ES256(key) => key.sign(input.as_bytes()).await?,
    };
    Ok(format!("{input}.{}", b64::encode(&signature)))
}

/// The token's header and payload, encoded. The JSON is written by hand because the member
/// order is part of the contract (vectors.md 5.5 must be reproduced byte for byte) and
/// `serde_json::Map` sorts keys. `cnf` only when bound; `agent` (resource tokens) last.
pub fn signing_input(claims: &AccessClaims, alg: &str, kid: &str) -> String {
    let header = format!(r#"{{"alg":"{alg}","kid":{},"typ":"{TYP}"}}"#, json_str(kid));
    let mut payload = format!(
        r#"{{"iss":{},"sub":{},"aud":{},"client_id":{},"scope":{},"iat":{},"exp":{},"jti":{}"#,
        json_str(&claims.iss),
        json_str(&claims.sub),
        json_str(&claims.aud),
        json_str(&claims.client_id),
        json_str(&claims.scope.to_string()),
        claims.iat,
        claims.exp,
        json_str(&claims.jti),
    );
    if let Some(jkt) = &claims.jkt {
        payload.push_str(&format!(r#","cnf":{{"jkt":{}}}"#, json_str(jkt)));
    }
    if let Some(agent) = &claims.agent {
        payload.push_str(&format!(r#","agent":{}"#, agent.to_json()));
    }
    payload.push('}');
    jws::signing_input(&header, &payload)
}

/// Shape of a JWK thumbprint (`cnf.jkt`, and `dpop_jkt` at authorize, Z18): 43 characters of
/// unpadded base64url decoding to a 32-byte SHA-256 output.
pub fn is_valid_jkt(jkt: &str) -> bool {
    jkt.len() == JKT_LEN && b64::decode_strict(jkt).is_some_and(|b| b.len() == 32)
}

/// A token id: 16 random bytes (from the caller's CSPRNG) as base64url, 22 characters.
pub fn new_jti(random16: &[u8; 16]) -> String {
    b64::encode(random16)
}

/// The keys access tokens of this issuer are verified with and published under: the Ed25519
/// keys (current, then previous) and the ES256 keys (current, then previous; none when unset).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenKeys<'a> {
    pub ed25519: &'a [Ed25519PublicKey],
    pub es256: &'a [&'a Es256SigningKey],
}

/// Verifies an access token (T1–T3): header exactly `{alg, kid, typ: at+jwt}` with `alg`
/// `EdDSA` (or `ES256`, for resource tokens only) and `kid` naming one of `keys` of that
/// algorithm, the signature over the received bytes (strict for Ed25519, raw `r‖s` for ES256),
/// `iss` = `issuer`, `exp` > `now_s` (no leeway), every claim present and well-typed.
pub async fn verify(
    token: &str,
    issuer: &str,
    keys: TokenKeys<'_>,
    now_s: i64,
) -> Result<AccessClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let jws = jws::parse(token).map_err(|_| TokenError::Malformed)?;
    let header = &jws.header;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(TokenError::Typ);
    }
    let es256 = match header.get("alg").and_then(Value::as_str) {
        Some("EdDSA") => false,
        Some("ES256") => true,
        _ => return Err(TokenError::Alg),
    };
    if header.len() != 3 {
        return Err(TokenError::Header);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(TokenError::UnknownKey)?;
    let input = jws.signing_input.as_bytes();
    let verified = if es256 {
        let key = keys
            .es256
            .iter()
            .find(|k| k.kid() == kid)
            .ok_or(TokenError::UnknownKey)?;
        verifier::es256(key.verifying_key(), input, &jws.signature).await
    } else {
        let key = keys
            .ed25519
            .iter()
            .find(|k| key_id(k) == kid)
            .ok_or(TokenError::UnknownKey)?;
        key.verify_strict(input, &jws.signature).await
    };
    if !verified {
        return Err(TokenError::Signature);
    }

    let claims = read_claims(&jws.payload)?;
    if es256 && claims.agent.is_none() {
        return Err(TokenError::Alg);
    }
    if claims.iss != issuer {
        return Err(TokenError::Issuer);
    }
    if claims.exp <= now_s {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// T3 typing. Ids must be canonical lowercase UUIDs, as minted (a metadata-document client's
/// id is its URL); times integers; `cnf.jkt` a 43-character base64url thumbprint. An identity
/// token (`aud` = `client_id`) has a registry `scope` and `cnf`; a resource token (`aud` an
/// absolute URI) has the resource's scope names, `agent`, and `cnf` when bound.
fn read_claims(p: &Map<String, Value>) -> Result<AccessClaims, TokenError> {
    let string = |name: &str| {
        p.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(TokenError::Claims)
    };
    let uuid = |name: &str| {
        let s = string(name)?;
        match canonical_uuid(&s) {
            Some(c) if c == s => Ok(s),
            _ => Err(TokenError::Claims),
        }
    };
    let int = |name: &str| {
        p.get(name)
            .and_then(Value::as_i64)
            .ok_or(TokenError::Claims)
    };
    // A client is named by its UUID, or (Client ID Metadata Documents) by its document's URL.
    let client = |name: &str| match uuid(name) {
        Ok(id) => Ok(id),
        Err(_) => string(name).and_then(|s| {
            if super::client_metadata::is_url_client_id(&s)
                && s.len() <= super::client_metadata::MAX_URL_LEN
            {
                Ok(s)
            } else {
                Err(TokenError::Claims)
            }
        }),
    };
    let iss = string("iss")?;
    let sub = uuid("sub")?;
    let client_id = client("client_id")?;
    let aud = string("aud")?;
    let resource = aud != client_id;
    if resource && !aud.contains("://") {
        return Err(TokenError::Claims);
    }
    let scope = string("scope")?;
    let scope = if resource {
        TokenScope::Resource(ResourceScope::parse(&scope).map_err(|_| TokenError::Claims)?)
    } else {
        TokenScope::Identity(Scope::parse(&scope).map_err(|_| TokenError::Claims)?)
    };
    let iat = int("iat")?;
    let exp = int("exp")?;
    let jti = string("jti")?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(TokenError::Claims);
    }
    let jkt = match p.get("cnf") {
        None if resource => None,
        cnf => Some(
            cnf.and_then(|c| c.get("jkt"))
                .and_then(Value::as_str)
                .filter(|j| is_valid_jkt(j))
                .ok_or(TokenError::Claims)?
                .to_owned(),
        ),
    };
    let agent = if resource {
        Some(read_agent(p.get("agent")).ok_or(TokenError::Claims)?)
    } else {
        None
    };
    Ok(AccessClaims {
        iss,
        sub,
        aud,
        client_id,
        scope,
        iat,
        exp,
        jti,
        jkt,
        agent,
    })
}

/// The `agent` claim of a resource token.
fn read_agent(v: Option<&Value>) -> Option<AgentClaim> {
    let v = v?;
    Some(AgentClaim {
        oversight: Oversight::parse(v.get("oversight")?.as_str()?)?,
        tier: v.get("tier")?.as_str()?.to_owned(),
    })
}

/// One JWKS entry; fields in the order of `api.md` 2.1 (`y` only for an EC key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

/// The JWKS document (`GET /.well-known/jwks.json`), typed for the reply serialiser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JwksDocument {
    pub keys: Vec<Jwk>,
}

/// The JWKS document for `keys`: the Ed25519 keys first (current, then previous when
/// configured), as v1 publishes them, then the ES256 keys.
pub fn jwks_document(keys: TokenKeys<'_>) -> JwksDocument {
    let ed25519 = keys.ed25519.iter().map(|k| Jwk {
        kty: "OKP",
        crv: "Ed25519",
        x: k.canonical(),
        y: None,
        kid: key_id(k),
        use_: "sig",
        alg: "EdDSA",
    });
    let es256 = keys.es256.iter().map(|k| {
        let (x, y) = k.coordinates();
        Jwk {
            kty: "EC",
            crv: "P-256",
            x: x.to_owned(),
            y: Some(y.to_owned()),
            kid: k.kid(),
            use_: "sig",
            alg: "ES256",
        }
    });
    JwksDocument {
        keys: ed25519.chain(es256).collect(),
    }
}

/// The JWKS document as a JSON value (member order is not preserved by `Value`; serialise
/// [`jwks_document`] when the order matters).
pub fn jwks(keys: TokenKeys<'_>) -> Value {
    serde_json::to_value(jwks_document(keys)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod es256_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use ed25519_dalek::{SigningKey, VerifyingKey};

    fn public(keys: &[&VerifyingKey]) -> Vec<Ed25519PublicKey> {
        keys.iter()
            .map(|k| Ed25519PublicKey::try_from(*k).unwrap())
            .collect()
    }

    /// The verifier is async for the wasm build; natively it is ready at once. Ed25519 keys only.
    fn verify(
        token: &str,
        issuer: &str,
        keys: &[&VerifyingKey],
        now_s: i64,
    ) -> Result<AccessClaims, TokenError> {
        let ed25519 = public(keys);
        let keys = TokenKeys {
            ed25519: &ed25519,
            es256: &[],
        };
        futures::executor::block_on(super::verify(token, issuer, keys, now_s))
    }

    /// An `EdDSA` token, as v1 mints them, by the server key with `key`'s seed.
    fn mint(claims: &AccessClaims, key: &SigningKey) -> String {
        let key = Ed25519SigningKey::from_seed(&key.to_bytes());
        futures::executor::block_on(super::mint(claims, Signer::EdDSA(&key))).unwrap()
    }

    /// The JWKS of Ed25519 keys, as a JSON value.
    fn jwks(keys: &[&VerifyingKey]) -> Value {
        super::jwks(TokenKeys {
            ed25519: &public(keys),
            es256: &[],
        })
    }

    fn key_id(key: &VerifyingKey) -> String {
        super::key_id(&Ed25519PublicKey::try_from(key).unwrap())
    }
    use crate::jose::b64::{decode_strict, encode};

    const ISSUER: &str = "https://id.example.com";
    const AGENT_ID: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
    const CLIENT_ID: &str = "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20";
    const T0: i64 = 1_767_225_600;
    const SERVER_KID: &str = "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y";
    const SERVER_X: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
    const KC_THUMBPRINT: &str = "AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc";
    /// vectors.md 5.5
    const VECTOR: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFkiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiNmYxYzJiOWUtM2Q0YS00YzViLThlN2YtMGExYjJjM2Q0ZTVmIiwiYXVkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwiY2xpZW50X2lkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwic2NvcGUiOiJpZCBuYW1lIGRlc2NyaXB0aW9uIHN1YnNjcmlwdGlvbiIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiJZazNuMHZYb1E3bUo1dVIydFc4ekFBIiwiY25mIjp7ImprdCI6IkFrWElaRnpvbmI1OVptR3d5S2dpM0gzQndNaTZhbWV2cWRLUWlMWmhkdGMifX0.yRCoM6hiqq-E9wmuuyTFhy8-1R7jlWcOSuL61QfgBHCAlS77TCC3mvL_hegdIUDlhMzjFQc6lM8zdrZndQjEAA";

    fn seed_key(first: u8) -> SigningKey {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = first + i as u8;
        }
        SigningKey::from_bytes(&seed)
    }

    fn server() -> SigningKey {
        seed_key(0x00)
    }

    fn previous() -> SigningKey {
        seed_key(0x60)
    }

    fn vector_claims() -> AccessClaims {
        AccessClaims {
            iss: ISSUER.to_owned(),
            sub: AGENT_ID.to_owned(),
            aud: CLIENT_ID.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            scope: TokenScope::Identity(Scope::parse("id name description subscription").unwrap()),
            iat: T0,
            exp: T0 + 300,
            jti: "Yk3n0vXoQ7mJ5uR2tW8zAA".to_owned(),
            jkt: Some(KC_THUMBPRINT.to_owned()),
            agent: None,
        }
    }

    fn check(token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        verify(token, ISSUER, &[&server().verifying_key()], now)
    }

    /// Signs arbitrary header/payload JSON with `key` (for negative cases).
    fn forge(key: &SigningKey, header: &Value, payload: &Value) -> String {
        jws::sign_ed25519(&header.to_string(), &payload.to_string(), key)
    }

    fn good_header() -> Value {
        json!({"alg": "EdDSA", "kid": SERVER_KID, "typ": "at+jwt"})
    }

    fn good_payload() -> Value {
        json!({"iss": ISSUER, "sub": AGENT_ID, "aud": CLIENT_ID, "client_id": CLIENT_ID,
               "scope": "id name", "iat": T0, "exp": T0 + 300, "jti": "abc",
               "cnf": {"jkt": KC_THUMBPRINT}})
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
    fn mint_reproduces_the_vector() {
        assert_eq!(key_id(&server().verifying_key()), SERVER_KID);
        assert_eq!(mint(&vector_claims(), &server()), VECTOR);
        // ath of the vector (vectors.md 5.5).
        assert_eq!(
            crate::auth::dpop::ath(VECTOR),
            "eePNXD4-VPGt41sR2HjS26qndIpSfvxZYO8BVmcONtE"
        );
    }

    #[test]
    fn vector_verifies_until_exp() {
        assert_eq!(check(VECTOR, T0), Ok(vector_claims()));
        assert_eq!(check(VECTOR, T0 + 299), Ok(vector_claims()));
        // U14: no leeway.
        assert_eq!(check(VECTOR, T0 + 300), Err(TokenError::Expired));
        assert_eq!(check(VECTOR, T0 + 301), Err(TokenError::Expired));
        assert_eq!(
            verify(
                VECTOR,
                "https://other.example",
                &[&server().verifying_key()],
                T0
            ),
            Err(TokenError::Issuer)
        );
        assert_eq!(
            verify(
                VECTOR,
                "https://id.example.com/",
                &[&server().verifying_key()],
                T0
            ),
            Err(TokenError::Issuer)
        );
    }

    #[test]
    fn current_and_previous_keys() {
        let (cur, prev) = (server().verifying_key(), previous().verifying_key());
        let by_prev = mint(&vector_claims(), &previous());
        // Previous-key acceptance, in either position.
        assert!(verify(&by_prev, ISSUER, &[&cur, &prev], T0).is_ok());
        assert!(verify(&by_prev, ISSUER, &[&prev, &cur], T0).is_ok());
        assert!(verify(VECTOR, ISSUER, &[&cur, &prev], T0).is_ok());
        // Once the previous key is dropped its tokens are unknown.
        assert_eq!(
            verify(&by_prev, ISSUER, &[&cur], T0),
            Err(TokenError::UnknownKey)
        );
        assert_eq!(verify(VECTOR, ISSUER, &[], T0), Err(TokenError::UnknownKey));
    }

    #[test]
    fn other_keys_and_kid_mismatch() {
        // U17: signed with an unknown key (its own kid).
        let stranger = seed_key(0x20);
        let token = mint(&vector_claims(), &stranger);
        assert_eq!(check(&token, T0), Err(TokenError::UnknownKey));
        // Signed with an unknown key but claiming the server's kid.
        let token = forge(&stranger, &good_header(), &good_payload());
        assert_eq!(check(&token, T0), Err(TokenError::Signature));
        // kid of the previous key, signature by the current one.
        let (cur, prev) = (server().verifying_key(), previous().verifying_key());
        let h = with(good_header(), "kid", json!(key_id(&prev)));
        let token = forge(&server(), &h, &good_payload());
        assert_eq!(
            verify(&token, ISSUER, &[&cur, &prev], T0),
            Err(TokenError::Signature)
        );
        for kid in [json!(null), json!(1), json!(""), json!(SERVER_X)] {
            let token = forge(
                &server(),
                &with(good_header(), "kid", kid.clone()),
                &good_payload(),
            );
            assert_eq!(check(&token, T0), Err(TokenError::UnknownKey), "{kid}");
        }
        let token = forge(&server(), &without(good_header(), "kid"), &good_payload());
        assert_eq!(check(&token, T0), Err(TokenError::Header));
    }

    #[test]
    fn header_must_be_exact() {
        assert!(check(&forge(&server(), &good_header(), &good_payload()), T0).is_ok());
        // typ JWT, dpop+jwt, missing, case variants, media-type form.
        for typ in [
            json!("JWT"),
            json!("dpop+jwt"),
            json!("AT+JWT"),
            json!("application/at+jwt"),
            json!(null),
        ] {
            let token = forge(
                &server(),
                &with(good_header(), "typ", typ.clone()),
                &good_payload(),
            );
            assert_eq!(check(&token, T0), Err(TokenError::Typ), "{typ}");
        }
        let token = forge(&server(), &without(good_header(), "typ"), &good_payload());
        assert_eq!(check(&token, T0), Err(TokenError::Typ));
        for alg in ["Ed25519", "none", "HS256", "eddsa"] {
            let token = forge(
                &server(),
                &with(good_header(), "alg", json!(alg)),
                &good_payload(),
            );
            assert_eq!(check(&token, T0), Err(TokenError::Alg), "{alg}");
        }
        // ES256 names the EC keys: an Ed25519 kid is none of them.
        let token = forge(
            &server(),
            &with(good_header(), "alg", json!("ES256")),
            &good_payload(),
        );
        assert_eq!(check(&token, T0), Err(TokenError::UnknownKey));
        for (name, value) in [
            ("crit", json!(["exp"])),
            ("jku", json!("https://evil.example")),
            ("jwk", json!({})),
            ("cty", json!("JWT")),
        ] {
            let token = forge(
                &server(),
                &with(good_header(), name, value),
                &good_payload(),
            );
            assert_eq!(check(&token, T0), Err(TokenError::Header), "{name}");
        }
    }

    #[test]
    fn alg_none_and_tampering() {
        let parts: Vec<&str> = VECTOR.split('.').collect();
        // U16: re-signed with alg none.
        let none_header = encode(
            br#"{"alg":"none","kid":"1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y","typ":"at+jwt"}"#,
        );
        assert_eq!(
            check(&format!("{none_header}.{}.", parts[1]), T0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            check(&format!("{none_header}.{}.AA", parts[1]), T0),
            Err(TokenError::Alg)
        );
        // HS256 keyed with the public key (classic confusion).
        let hs_header = encode(br#"{"alg":"HS256","kid":"1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y","typ":"at+jwt"}"#);
        let input = format!("{hs_header}.{}", parts[1]);
        let mac =
            crate::crypto::mac::hmac_sha256(server().verifying_key().as_bytes(), input.as_bytes());
        assert_eq!(
            check(&format!("{input}.{}", encode(&mac)), T0),
            Err(TokenError::Alg)
        );
        // U15: payload modified (scope widened) under the original signature.
        let mut payload: Value = serde_json::from_slice(&decode_strict(parts[1]).unwrap()).unwrap();
        payload["scope"] = json!("id name description pub_key subscription");
        let widened = format!(
            "{}.{}.{}",
            parts[0],
            encode(payload.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(check(&widened, T0), Err(TokenError::Signature));
        // Flipped signature bit, truncated signature.
        let mut sig = decode_strict(parts[2]).unwrap();
        sig[63] ^= 0x01;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], encode(&sig));
        assert_eq!(check(&flipped, T0), Err(TokenError::Signature));
        let short = format!("{}.{}.{}", parts[0], parts[1], encode(&sig[..63]));
        assert_eq!(check(&short, T0), Err(TokenError::Signature));
        // Garbage, refresh tokens (U20), padding, oversize.
        for bad in [
            "",
            "garbage",
            "a.b",
            "a.b.c.d",
            "4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_v8",
        ] {
            assert_eq!(check(bad, T0), Err(TokenError::Malformed), "{bad}");
        }
        assert_eq!(check(&format!("{VECTOR}="), T0), Err(TokenError::Malformed));
        assert_eq!(
            check(&"a".repeat(MAX_TOKEN_LEN + 1), T0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn claims_must_be_present_and_typed() {
        for name in [
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "iat",
            "exp",
            "jti",
            "cnf",
        ] {
            let token = forge(&server(), &good_header(), &without(good_payload(), name));
            assert_eq!(check(&token, T0), Err(TokenError::Claims), "missing {name}");
        }
        let other = "a4b3c2d1-e5f6-4789-8abc-def012345678";
        for (name, value) in [
            ("aud", json!(other)), // aud ≠ client_id
            ("aud", json!([CLIENT_ID])),
            ("sub", json!(AGENT_ID.to_ascii_uppercase())),
            ("sub", json!("agent")),
            ("client_id", json!(1)),
            ("scope", json!("openid")),
            ("scope", json!("")),
            ("scope", json!(["id"])),
            ("iat", json!("1767225600")),
            ("iat", json!(1.5)),
            ("exp", json!(1767225900.5)),
            ("jti", json!("")),
            ("jti", json!("x".repeat(129))),
            ("jti", json!(7)),
            ("cnf", json!({})),
            ("cnf", json!({"jkt": "abc"})),
            ("cnf", json!({"jkt": 1})),
            ("cnf", json!("AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc")),
            (
                "cnf",
                json!({"jkt": "AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdt+"}),
            ),
        ] {
            let token = forge(
                &server(),
                &good_header(),
                &with(good_payload(), name, value.clone()),
            );
            assert_eq!(
                check(&token, T0),
                Err(TokenError::Claims),
                "{name}: {value}"
            );
        }
        let token = forge(
            &server(),
            &good_header(),
            &with(good_payload(), "iss", json!(1)),
        );
        assert_eq!(check(&token, T0), Err(TokenError::Claims));
        // Extra claims are ignored.
        let token = forge(
            &server(),
            &good_header(),
            &with(good_payload(), "extra", json!(1)),
        );
        assert!(check(&token, T0).is_ok());
    }

    fn resource_claims(jkt: Option<&str>) -> AccessClaims {
        AccessClaims {
            aud: "https://mcp.example.com/mcp".to_owned(),
            scope: TokenScope::Resource(ResourceScope::parse("tools.read").unwrap()),
            jkt: jkt.map(str::to_owned),
            agent: Some(AgentClaim {
                oversight: Oversight::Shadow,
                tier: "SHADOW".to_owned(),
            }),
            ..vector_claims()
        }
    }

    #[test]
    fn resource_tokens_round_trip_with_their_own_claims() {
        for jkt in [None, Some(KC_THUMBPRINT)] {
            let claims = resource_claims(jkt);
            let token = mint(&claims, &server());
            assert_eq!(check(&token, T0), Ok(claims.clone()));
            assert_eq!(
                claims.token_type(),
                if jkt.is_some() { "DPoP" } else { "Bearer" }
            );
            let payload: Value =
                serde_json::from_slice(&decode_strict(token.split('.').nth(1).unwrap()).unwrap())
                    .unwrap();
            assert_eq!(
                payload["agent"],
                json!({"oversight": "shadow", "tier": "SHADOW"})
            );
            assert_eq!(payload.get("cnf").is_some(), jkt.is_some());
        }
    }

    #[test]
    fn resource_tokens_need_an_agent_claim_and_an_absolute_audience() {
        let good = json!({"iss": ISSUER, "sub": AGENT_ID, "aud": "https://r.example/",
               "client_id": CLIENT_ID, "scope": "a b", "iat": T0, "exp": T0 + 300, "jti": "abc",
               "agent": {"oversight": "none", "tier": "FREE"}});
        assert!(check(&forge(&server(), &good_header(), &good), T0).is_ok());
        for bad in [
            without(good.clone(), "agent"),
            with(
                good.clone(),
                "agent",
                json!({"oversight": "robot", "tier": "FREE"}),
            ),
            with(good.clone(), "agent", json!({"oversight": "none"})),
            with(good.clone(), "aud", json!("r.example")),
            with(good.clone(), "scope", json!("a\"b")),
            with(good.clone(), "cnf", json!({})),
        ] {
            let token = forge(&server(), &good_header(), &bad);
            assert_eq!(check(&token, T0), Err(TokenError::Claims), "{bad}");
        }
    }

    #[test]
    fn jwks_matches_the_vector_entry() {
        let entry = json!({"kty":"OKP","crv":"Ed25519","x":SERVER_X,"kid":SERVER_KID,"use":"sig","alg":"EdDSA"});
        let cur = server().verifying_key();
        assert_eq!(jwks(&[&cur]), json!({ "keys": [entry.clone()] }));
        // Typed document keeps the spec's member order.
        assert_eq!(
            serde_json::to_string(&jwks_document(TokenKeys {
                ed25519: &public(&[&cur]),
                es256: &[]
            }))
            .unwrap(),
            format!(
                r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{SERVER_X}","kid":"{SERVER_KID}","use":"sig","alg":"EdDSA"}}]}}"#
            )
        );
        let prev = previous().verifying_key();
        let both = jwks(&[&cur, &prev]);
        assert_eq!(both["keys"][0], entry);
        assert_eq!(both["keys"][1]["kid"], json!(key_id(&prev)));
        assert_eq!(both["keys"][1]["x"], json!(encode(prev.as_bytes())));
        assert_eq!(jwks(&[]), json!({"keys": []}));
    }

    #[test]
    fn jkt_shape() {
        assert!(is_valid_jkt(KC_THUMBPRINT));
        assert!(is_valid_jkt(SERVER_KID));
        assert!(is_valid_jkt("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")); // vectors.md 2.2
        assert!(!is_valid_jkt("abc")); // Z18
        assert!(!is_valid_jkt(""));
        assert!(!is_valid_jkt(&format!("{KC_THUMBPRINT}=")));
        assert!(!is_valid_jkt("NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs"));
        // Non-zero trailing bits: not the encoding of any 32 bytes.
        assert!(!is_valid_jkt("AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtd"));
    }

    #[test]
    fn jti_is_16_bytes_base64url() {
        let jti = new_jti(&[0xff; 16]);
        assert_eq!(jti, "_____________________w");
        assert_eq!(jti.len(), 22);
        assert_eq!(new_jti(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn errors_have_short_reasons() {
        assert_eq!(TokenError::Expired.to_string(), "access token has expired");
    }
}
