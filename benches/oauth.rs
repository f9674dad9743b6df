//! The cryptography of one OAuth request, natively: at the token endpoint a client-assertion
//! verification, a DPoP proof verification and an access-token signature; at userinfo an
//! access-token verification and a DPoP proof verification with `ath`.

mod common;

use common::ready;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::SigningKey;

use agent_id::auth::dpop::{verify_proof, ProofContext};
use agent_id::jose::b64;
use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id::jose::ed25519_signing::Ed25519SigningKey;
use agent_id::jose::jws::{sign_ed25519, Alg};
use agent_id::oauth::access_token::{self, AccessClaims, Signer, TokenKeys, TokenScope};
use agent_id::oauth::assertion::{self, AssertionContext};
use agent_id::oauth::scope::Scope;

const T0: i64 = 1_767_225_600;
const ISSUER: &str = "https://id.example.com";
const CLIENT: &str = "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20";
const AGENT: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";

fn proof(key: &SigningKey, method: &str, url: &str, ath: Option<&str>) -> String {
    let x = b64::encode(key.verifying_key().as_bytes());
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}}}"#
    );
    let ath = ath.map(|a| format!(r#","ath":"{a}""#)).unwrap_or_default();
    let payload = format!(r#"{{"jti":"j-1","htm":"{method}","htu":"{url}","iat":{T0}{ath}}}"#);
    sign_ed25519(&header, &payload, key)
}

fn ctx<'a>(method: &'a str, url: &'a str, access_token: Option<&'a str>) -> ProofContext<'a> {
    ProofContext {
        method,
        expected_url: url,
        allowed_algs: &[Alg::EdDSA, Alg::Ed25519, Alg::ES256],
        jwk_required: true,
        fallback_key: None,
        now_s: T0,
        iat_past_secs: 300,
        iat_future_secs: 60,
        nonce_key: &[0u8; 32],
        require_nonce: false,
        access_token,
    }
}

fn bench(c: &mut Criterion) {
    let server = SigningKey::from_bytes(&core::array::from_fn(|i| i as u8));
    let client = SigningKey::from_bytes(&core::array::from_fn(|i| 0x20 + i as u8));
    let client_pub = Ed25519PublicKey::from_bytes(client.verifying_key().as_bytes()).unwrap();
    let dpop_key = SigningKey::from_bytes(&[9u8; 32]);
    let token_url = format!("{ISSUER}/v1/oauth/token");
    let userinfo_url = format!("{ISSUER}/v1/oauth/userinfo");

    let assertion_jwt = sign_ed25519(
        r#"{"alg":"EdDSA","typ":"JWT"}"#,
        &format!(
            r#"{{"iss":"{CLIENT}","sub":"{CLIENT}","aud":"{token_url}","iat":{T0},"exp":{},"jti":"a-1"}}"#,
            T0 + 60
        ),
        &client,
    );
    let token_proof = proof(&dpop_key, "POST", &token_url, None);
    let actx = AssertionContext {
        issuer: ISSUER,
        endpoint_url: &token_url,
        now_s: T0,
        max_lifetime_secs: 300,
        skew_secs: 60,
    };
    let claims = AccessClaims {
        iss: ISSUER.into(),
        sub: AGENT.into(),
        aud: CLIENT.into(),
        client_id: CLIENT.into(),
        scope: TokenScope::Identity(Scope::parse("id name").unwrap()),
        iat: T0,
        exp: T0 + 300,
        jti: "Yk3n0vXoQ7mJ5uR2tW8zAA".into(),
        jkt: Some("AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc".into()),
        agent: None,
    };
    let server_key = Ed25519SigningKey::from_seed(&server.to_bytes());
    let signer = Signer::EdDSA(&server_key);
    let access = ready(access_token::mint(&claims, signer)).unwrap();
    let ath = agent_id::auth::dpop::ath(&access);
    let userinfo_proof = proof(&dpop_key, "GET", &userinfo_url, Some(&ath));
    let server_pub = [Ed25519PublicKey::from_bytes(server.verifying_key().as_bytes()).unwrap()];
    let keys = TokenKeys {
        ed25519: &server_pub,
        es256: &[],
    };

    let mut g = c.benchmark_group("oauth");
    g.bench_function("token_request_crypto", |b| {
        b.iter(|| {
            ready(assertion::verify(
                &assertion_jwt,
                CLIENT,
                &client_pub,
                &actx,
            ))
            .unwrap();
            ready(verify_proof(&token_proof, &ctx("POST", &token_url, None))).unwrap();
            ready(access_token::mint(&claims, signer)).unwrap()
        })
    });
    g.bench_function("userinfo_request_crypto", |b| {
        b.iter(|| {
            ready(access_token::verify(&access, ISSUER, keys, T0)).unwrap();
            ready(verify_proof(
                &userinfo_proof,
                &ctx("GET", &userinfo_url, Some(&access)),
            ))
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
