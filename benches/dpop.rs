//! Full DPoP proof validation (P1–P14) against one raw Ed25519 `verify_strict`.
//! The budget (DESIGN.md) is a ratio of at most 1.3.

mod common;

use common::ready;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey};

use agent_id::auth::dpop::{verify_proof, ProofContext};
use agent_id::jose::b64;
use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id::jose::jws::{self, sign_ed25519, Alg};

const T0: i64 = 1_767_225_600;
const URL: &str = "https://id.example.com/v1/agents/login";

fn proof(key: &SigningKey) -> String {
    let x = b64::encode(key.verifying_key().as_bytes());
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}}}"#
    );
    let payload = format!(
        r#"{{"jti":"5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42","htm":"POST","htu":"{URL}","iat":{T0}}}"#
    );
    sign_ed25519(&header, &payload, key)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let token = proof(&key);
    let ctx = ProofContext {
        method: "POST",
        expected_url: URL,
        allowed_algs: &[Alg::EdDSA, Alg::Ed25519],
        jwk_required: true,
        fallback_key: None,
        now_s: T0,
        iat_past_secs: 300,
        iat_future_secs: 60,
        nonce_key: &[0u8; 32],
        require_nonce: false,
        access_token: None,
    };
    assert!(ready(verify_proof(&token, &ctx)).is_ok());

    let message = b"eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJqdGkiOiJ4In0";
    let signature = key.sign(message);
    let verifying = key.verifying_key();

    let mut group = c.benchmark_group("dpop");
    group.bench_function("raw_verify_strict", |b| {
        b.iter(|| verifying.verify_strict(std::hint::black_box(message), &signature))
    });
    let x = *verifying.as_bytes();
    group.bench_function("key_from_bytes_and_verify_strict", |b| {
        b.iter(|| {
            let k = ed25519_dalek::VerifyingKey::from_bytes(std::hint::black_box(&x)).unwrap();
            k.verify_strict(message, &signature)
        })
    });
    group.bench_function("key_parse_checked", |b| {
        b.iter(|| Ed25519PublicKey::from_bytes(std::hint::black_box(&x)))
    });
    group.bench_function("jws_parse", |b| {
        b.iter(|| jws::parse(std::hint::black_box(&token)))
    });
    group.bench_function("verify_proof_full", |b| {
        b.iter(|| ready(verify_proof(std::hint::black_box(&token), &ctx)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
