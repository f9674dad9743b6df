//! Web Bot Auth verification natively: parsing the `Signature-Input` / `Signature` pair, the
//! draft's parameter and coverage rules, the signature base and the strict Ed25519 check,
//! against one raw `verify_strict` of the same base.

mod common;

use common::ready;
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey};

use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id_protocol::httpsig::base::signature_base;
use agent_id_protocol::httpsig::message::HttpRequest;
use agent_id_protocol::httpsig::signature::{parse_fields, sign_ed25519};
use agent_id_protocol::httpsig::webbot::{self, SignerParams, Window};

const T0: i64 = 1_767_225_600;
const CARD: &str = "https://id.example.com/v1/agents/0f8fad5b-d9cb-469f-a165-70867728950e/card";

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = Ed25519PublicKey::from_bytes(key.verifying_key().as_bytes()).unwrap();
    let agent = webbot::signature_agent_field("agent1", CARD);
    let headers = [("Signature-Agent", agent.as_str())];
    let req = HttpRequest {
        method: "GET",
        url: "https://shop.example/item?id=7",
        headers: &headers,
    };
    let params = webbot::signer_params(
        &SignerParams {
            label: "sig1",
            created: T0,
            expires: T0 + 60,
            signature_agent: Some(("agent1", CARD)),
            nonce: Some("bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U"),
        },
        &public,
    );
    let signed = sign_ed25519("sig1", &params, &req, &key).unwrap();
    let window = Window {
        now: T0 + 1,
        max_skew_secs: 60,
        max_lifetime_secs: Some(86_400),
    };
    let verify_all = || {
        let sigs = parse_fields(&signed.signature_input, &signed.signature).unwrap();
        let sig = webbot::select(&sigs).unwrap();
        webbot::check_params(&sig.params, true, &window).unwrap();
        webbot::signature_agent_url(&sig.params, &agent).unwrap();
        ready(webbot::verify(sig, &req, &public))
    };
    assert!(verify_all().is_ok());

    let base = signature_base(&params, &req).unwrap();
    let signature = key.sign(base.as_bytes());
    let verifying = key.verifying_key();

    let mut group = c.benchmark_group("http_signature");
    group.bench_function("raw_verify_strict", |b| {
        b.iter(|| verifying.verify_strict(std::hint::black_box(base.as_bytes()), &signature))
    });
    group.bench_function("parse_fields", |b| {
        b.iter(|| {
            parse_fields(
                std::hint::black_box(&signed.signature_input),
                &signed.signature,
            )
        })
    });
    group.bench_function("web_bot_auth_verify_full", |b| b.iter(verify_all));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
