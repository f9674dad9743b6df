//! ES256 access tokens for resources that accept only ES256 (docs/resources.md "Access-token
//! signing algorithm"): signed with `OAUTH_ES256_SIGNING_KEY`, published in the JWKS after the
//! Ed25519 keys, checked here with the `p256` crate against the published JWK (not with the
//! server's verifier); without the key, no resource is promised ES256 and the v1 JWKS is
//! unchanged.

mod common;

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{json, Value};

use agent_id::jose::b64;
use agent_id::store::Value as SqlValue;

use common::oauth::{World, REDIRECT, VERIFIER};
use common::{Harness, Req, Resp, TestKey, ES256_JWK, ES256_JWK_PREVIOUS, ISSUER};

const MCP: &str = "https://mcp.example.com/mcp";
const RESOURCES: &str = "/v1/overseers/me/resources";

fn es256_world(vars: &[(&str, &str)]) -> World {
    World::on(Harness::with_vars(vars))
}

/// Registers MCP through the API with `access_token_alg`.
fn register(w: &World, alg: &str) -> Resp {
    w.h.send(
        Req::post(RESOURCES)
            .bearer(&w.overseer.session)
            .json(json!({"uri": MCP, "name": "MCP", "access_token_alg": alg,
                         "scopes": [{"name": "tools.read", "description": "Read tools"}]})),
    )
}

/// The agent's code for MCP, redeemed (with a DPoP proof by `dpop` if given).
fn token_for(w: &World, dpop: Option<&TestKey>) -> Resp {
    let r = w.authorize(json!({"resource": MCP, "scope": "tools.read offline_access"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let code = r.body["code"].as_str().unwrap();
    let req = w.client_form(
        "/v1/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    let req = match dpop {
        Some(k) => req.header("dpop", &w.h.post_proof(k, "/v1/oauth/token")),
        None => req,
    };
    w.h.send(req)
}

fn jwks(h: &Harness) -> Value {
    let r = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Header and claims of `token` after checking its ES256 signature with `p256` against the
/// JWKS entry its `kid` names: what a resource server does.
fn verified_es256(h: &Harness, token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let json =
        |p: &str| -> Value { serde_json::from_slice(&b64::decode_strict(p).unwrap()).unwrap() };
    let (header, claims) = (json(parts[0]), json(parts[1]));
    assert_eq!(header["alg"], "ES256");
    let keys = jwks(h)["keys"].as_array().unwrap().clone();
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in the JWKS");
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
    let coordinate = |name: &str| b64::decode_strict(jwk[name].as_str().unwrap()).unwrap();
    let mut sec1 = vec![0x04];
    sec1.extend(coordinate("x"));
    sec1.extend(coordinate("y"));
    let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let sig = Signature::from_slice(&b64::decode_strict(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("ES256 signature verifies under the published key");
    (header, claims)
}

#[test]
fn an_es256_resource_gets_es256_tokens_that_verify_from_the_jwks() {
    let w = es256_world(&[("OAUTH_ES256_SIGNING_KEY", ES256_JWK)]);
    assert_eq!(register(&w, "ES256").status, 201);
    let r = token_for(&w, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    let token = r.body["access_token"].as_str().unwrap();
    let (header, c) = verified_es256(&w.h, token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        c,
        json!({"iss": ISSUER, "sub": w.agent.id, "aud": MCP, "client_id": w.client.id,
               "scope": "tools.read", "iat": w.h.now_s(),
               "exp": w.h.now_s() + 300, "jti": c["jti"],
               "agent": {"oversight": "human", "tier": "BASIC"}})
    );
    // Introspection verifies our ES256 token and answers as for EdDSA ones.
    let i = w.introspect(token);
    assert_eq!(
        (&i["active"], &i["aud"]),
        (&json!(true), &json!(MCP)),
        "{i}"
    );
    // The refreshed token is ES256 too.
    let refresh = r.body["refresh_token"].as_str().unwrap();
    let r = w.h.send(w.client_form(
        "/v1/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    verified_es256(&w.h, r.body["access_token"].as_str().unwrap());
    // Revoked, it is inactive.
    let r =
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", token)]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.introspect(token), json!({"active": false}));
}

#[test]
fn a_dpop_bound_es256_token_carries_the_proof_key() {
    let w = es256_world(&[("OAUTH_ES256_SIGNING_KEY", ES256_JWK)]);
    assert_eq!(register(&w, "ES256").status, 201);
    let proof_key = TestKey::random();
    let r = token_for(&w, Some(&proof_key));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "DPoP");
    let (_, c) = verified_es256(&w.h, r.body["access_token"].as_str().unwrap());
    assert_eq!(c["cnf"], json!({"jkt": proof_key.proof_thumbprint()}));
}

#[test]
fn eddsa_resources_and_identity_tokens_stay_eddsa_beside_an_es256_key() {
    let w = es256_world(&[("OAUTH_ES256_SIGNING_KEY", ES256_JWK)]);
    assert_eq!(register(&w, "EdDSA").status, 201);
    let r = token_for(&w, None);
    let header = r.body["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let header: Value = serde_json::from_slice(&b64::decode_strict(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let identity = w.client.grant(&w.h, &w.agent).access;
    let header: Value =
        serde_json::from_slice(&b64::decode_strict(identity.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["alg"], "EdDSA");
}

#[test]
fn the_jwks_adds_es256_keys_after_the_ed25519_ones() {
    let h = Harness::with_vars(&[
        ("OAUTH_ES256_SIGNING_KEY", ES256_JWK),
        ("OAUTH_ES256_SIGNING_KEY_PREVIOUS", ES256_JWK_PREVIOUS),
    ]);
    let keys = jwks(&h)["keys"].as_array().unwrap().clone();
    let shape: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k["kty"].as_str().unwrap(), k["alg"].as_str().unwrap()))
        .collect();
    assert_eq!(shape, [("OKP", "EdDSA"), ("EC", "ES256"), ("EC", "ES256")]);
    let current: Value = serde_json::from_str(ES256_JWK).unwrap();
    assert_eq!(
        (&keys[1]["x"], &keys[1]["y"]),
        (&current["x"], &current["y"])
    );
    assert!(keys.iter().all(|k| k.get("d").is_none()), "{keys:?}");
    // Without the key, the v1 document: exactly the Ed25519 key.
    let v1 = jwks(&Harness::new());
    assert_eq!(v1["keys"].as_array().unwrap().len(), 1);
    assert_eq!(v1["keys"][0], keys[0]);
}

#[test]
fn without_an_es256_key_no_resource_is_promised_es256() {
    let w = es256_world(&[]);
    let r = register(&w, "ES256");
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_field")),
        "{}",
        r.body
    );
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM protected_resources"),
        0
    );
    // A resource registered while the key existed, after the key is removed: the token
    // endpoint fails closed rather than mint an EdDSA token the resource would reject.
    w.h.sql(
        "INSERT INTO protected_resources (id, overseer_id, uri, name, scopes, \
           dpop_bound_access_tokens, access_token_alg, created_at, updated_at) \
         VALUES ('r1', ?1, ?2, 'MCP', '[{\"name\":\"tools.read\",\"description\":\"\"}]', 0, 'ES256', 0, 0)",
        vec![SqlValue::from(&w.overseer.id), SqlValue::from(MCP)],
    );
    let r = token_for(&w, None);
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{}",
        r.body
    );
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM access_tokens"), 0);
}

#[test]
fn a_malformed_es256_key_fails_closed_and_is_never_shown() {
    let mismatched = {
        let mut k: Value = serde_json::from_str(ES256_JWK).unwrap();
        let other: Value = serde_json::from_str(ES256_JWK_PREVIOUS).unwrap();
        k["d"] = other["d"].clone();
        k.to_string()
    };
    for bad in [mismatched.as_str(), "{}", "not json", r#"{"kty":"OKP"}"#] {
        let h = Harness::with_vars(&[("OAUTH_ES256_SIGNING_KEY", bad)]);
        let r = h.send(Req::get("/.well-known/jwks.json"));
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (503, Some("configuration_error")),
            "{bad}: {}",
            r.body
        );
        assert!(
            !String::from_utf8_lossy(&r.raw).contains("RsDH7eH1"),
            "{}",
            r.body
        );
    }
    let h = Harness::with_vars(&[("OAUTH_ES256_SIGNING_KEY_PREVIOUS", ES256_JWK_PREVIOUS)]);
    assert_eq!(h.send(Req::get("/.well-known/jwks.json")).status, 503);
}
