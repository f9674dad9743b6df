//! ES256 resource tokens: minted with `OAUTH_ES256_SIGNING_KEY`, verified by us and by the
//! `p256` crate directly from the published JWK, and never accepted where v1 expects `EdDSA`.

use futures::executor::block_on;
use p256::ecdsa::signature::Verifier;
use serde_json::json;

use super::*;
use crate::jose::jwk::PublicJwk;
use crate::oauth::agent_claim::{AgentClaim, Oversight};

const ISSUER: &str = "https://id.example.com";
const AGENT_ID: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
const CLIENT_ID: &str = "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20";
const T0: i64 = 1_767_225_600;

/// The ES256 key with scalar `first, 0, …, 0, 1`, parsed from its private JWK.
fn ec_key(first: u8) -> Es256SigningKey {
    let mut d = [0u8; 32];
    d[0] = first;
    d[31] = 1;
    let sk = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64::encode(point.x().unwrap()),
        "y": b64::encode(point.y().unwrap()),
        "d": b64::encode(&d),
    });
    Es256SigningKey::from_jwk(&jwk.to_string()).unwrap()
}

fn ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

fn ed_public() -> Ed25519PublicKey {
    Ed25519PublicKey::try_from(&ed_key().verifying_key()).unwrap()
}

fn resource_claims() -> AccessClaims {
    AccessClaims {
        iss: ISSUER.to_owned(),
        sub: AGENT_ID.to_owned(),
        aud: "https://mcp.example.com/mcp".to_owned(),
        client_id: CLIENT_ID.to_owned(),
        scope: TokenScope::Resource(ResourceScope::parse("tools.read").unwrap()),
        iat: T0,
        exp: T0 + 300,
        jti: "es256-jti".to_owned(),
        jkt: None,
        agent: Some(AgentClaim {
            oversight: Oversight::Human,
            tier: "PRO".to_owned(),
        }),
    }
}

fn mint_with(claims: &AccessClaims, signer: Signer<'_>) -> String {
    block_on(mint(claims, signer)).unwrap()
}

fn check(token: &str, ec: &[&Es256SigningKey]) -> Result<AccessClaims, TokenError> {
    let ed25519 = [ed_public()];
    let keys = TokenKeys {
        ed25519: &ed25519,
        es256: ec,
    };
    block_on(verify(token, ISSUER, keys, T0))
}

#[test]
fn an_es256_resource_token_verifies_from_its_published_jwk() {
    let key = ec_key(1);
    let token = mint_with(&resource_claims(), Signer::ES256(&key));
    let jws = jws::parse(&token).unwrap();
    assert_eq!(
        Value::Object(jws.header.clone()),
        json!({"alg": "ES256", "kid": key.kid(), "typ": "at+jwt"})
    );
    // What a resource server does: take the JWKS entry named by `kid` and check r‖s over the
    // signing input with P-256/SHA-256.
    let entry = serde_json::to_value(jwks_document(TokenKeys {
        ed25519: &[],
        es256: &[&key],
    }))
    .unwrap()["keys"][0]
        .clone();
    assert_eq!(entry["kid"], json!(key.kid()));
    let PublicJwk::P256 { key: public, .. } = PublicJwk::from_json(&entry).unwrap() else {
        panic!("not an EC key: {entry}");
    };
    let sig = p256::ecdsa::Signature::from_slice(&jws.signature).unwrap();
    assert!(public.verify(jws.signing_input.as_bytes(), &sig).is_ok());

    assert_eq!(check(&token, &[&key]).unwrap(), resource_claims());
}

#[test]
fn the_previous_es256_key_still_verifies_and_a_stranger_does_not() {
    let (current, previous, stranger) = (ec_key(1), ec_key(2), ec_key(3));
    let by_previous = mint_with(&resource_claims(), Signer::ES256(&previous));
    assert!(check(&by_previous, &[&current, &previous]).is_ok());
    assert_eq!(
        check(&by_previous, &[&current]),
        Err(TokenError::UnknownKey)
    );
    let by_stranger = mint_with(&resource_claims(), Signer::ES256(&stranger));
    assert_eq!(
        check(&by_stranger, &[&current]),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(check(&by_stranger, &[]), Err(TokenError::UnknownKey));
}

#[test]
fn the_alg_selects_the_key_family_never_the_kid_alone() {
    let ec = ec_key(1);
    let ed = ed_key();
    let payload = json!({"iss": ISSUER, "sub": AGENT_ID, "aud": "https://mcp.example.com/mcp",
        "client_id": CLIENT_ID, "scope": "tools.read", "iat": T0, "exp": T0 + 300, "jti": "j",
        "agent": {"oversight": "human", "tier": "PRO"}})
    .to_string();
    // An Ed25519 signature under ES256 with the Ed25519 kid: no EC key has that kid.
    let header = json!({"alg": "ES256", "kid": key_id(&ed_public()), "typ": "at+jwt"});
    let token = jws::sign_ed25519(&header.to_string(), &payload, &ed);
    assert_eq!(check(&token, &[&ec]), Err(TokenError::UnknownKey));
    // An ES256 signature under EdDSA with the EC kid: no Ed25519 key has that kid.
    let header = json!({"alg": "EdDSA", "kid": ec.kid(), "typ": "at+jwt"});
    let input = jws::signing_input(&header.to_string(), &payload);
    let sig = block_on(ec.sign(input.as_bytes())).unwrap();
    let token = format!("{input}.{}", b64::encode(&sig));
    assert_eq!(check(&token, &[&ec]), Err(TokenError::UnknownKey));
}

#[test]
fn identity_tokens_are_never_es256() {
    let key = ec_key(1);
    let mut claims = resource_claims();
    claims.aud = CLIENT_ID.to_owned();
    claims.scope = TokenScope::Identity(crate::oauth::scope::Scope::parse("id").unwrap());
    claims.jkt = Some("AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc".to_owned());
    claims.agent = None;
    let token = mint_with(&claims, Signer::ES256(&key));
    assert_eq!(check(&token, &[&key]), Err(TokenError::Alg));
    // The same claims under EdDSA are a v1 identity token.
    let ed = Ed25519SigningKey::from_seed(&ed_key().to_bytes());
    assert!(check(&mint_with(&claims, Signer::EdDSA(&ed)), &[&key]).is_ok());
}

#[test]
fn tampered_and_der_signatures_fail() {
    let key = ec_key(1);
    let token = mint_with(&resource_claims(), Signer::ES256(&key));
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = b64::decode_strict(sig).unwrap();
    raw[10] ^= 1;
    let flipped = format!("{input}.{}", b64::encode(&raw));
    assert_eq!(check(&flipped, &[&key]), Err(TokenError::Signature));
    let der = p256::ecdsa::Signature::from_slice(&b64::decode_strict(sig).unwrap())
        .unwrap()
        .to_der();
    let der = format!("{input}.{}", b64::encode(der.as_bytes()));
    assert_eq!(check(&der, &[&key]), Err(TokenError::Signature));
    // The payload is what was signed: a changed audience breaks it.
    let other = mint_with(
        &AccessClaims {
            aud: "https://other.example.com/".to_owned(),
            ..resource_claims()
        },
        Signer::ES256(&key),
    );
    let forged = format!(
        "{}.{}.{sig}",
        input.split('.').next().unwrap(),
        other.split('.').nth(1).unwrap()
    );
    assert_eq!(check(&forged, &[&key]), Err(TokenError::Signature));
}

#[test]
fn the_jwks_lists_ed25519_keys_first_then_es256_in_member_order() {
    let (current, previous) = (ec_key(1), ec_key(2));
    let ed = ed_public();
    let doc = jwks_document(TokenKeys {
        ed25519: std::slice::from_ref(&ed),
        es256: &[&current, &previous],
    });
    let text = serde_json::to_string(&doc).unwrap();
    let (x, y) = current.coordinates();
    let entry = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"{}","use":"sig","alg":"ES256"}}"#,
        current.kid()
    );
    assert!(
        text.starts_with(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","#),
        "{text}"
    );
    assert!(text.contains(&entry), "{text}");
    let kids: Vec<String> = doc.keys.iter().map(|k| k.kid.clone()).collect();
    assert_eq!(kids, [key_id(&ed), current.kid(), previous.kid()]);
    assert!(!text.contains("\"d\""));
}
