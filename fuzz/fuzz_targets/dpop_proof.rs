//! Compact JWS parsing and DPoP `verify_proof` (P1–P13).
//!
//! Input: `flags` byte, then the rest.
//! - `flags & 1 == 0`: the rest is the `DPoP` header value as received (lossy UTF-8).
//! - `flags & 1 == 1`: the rest is `header JSON \n payload JSON`, signed for real here with KA (or
//!   KC when `flags & 0x10`), so mutations reach the header, key and claim checks.
//! - `(flags >> 1) & 3` picks the context: agent login, token endpoint (ES256 too), userinfo in
//!   compatible mode (no `jwk` needed, fallback key KC, `ath` of the §5.5 token), a resource.
//! - `flags & 8`: the server requires a nonce; `flags & 0x20`: the clock of RFC 9449's examples
//!   instead of `T0`.
#![no_main]

use agent_id::auth::dpop::{self, nonce, ProofContext, ProofKey, MAX_PROOF_LEN};
use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id::jose::jws::{self, Alg};
use agent_id_fuzz::*;
use arbitrary::Arbitrary;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    flags: u8,
    rest: &'a [u8],
}

const AGENT_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519];
const ALL_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519, Alg::ES256];

fuzz_target!(|case: Case| {
    let seed = if case.flags & 0x10 == 0 {
        &KA_SEED
    } else {
        &KC_SEED
    };
    let value = if case.flags & 1 == 0 {
        String::from_utf8_lossy(case.rest).into_owned()
    } else {
        let (header, payload) = split_line(case.rest);
        sign_compact(header, payload, seed)
    };

    check_compact_jws(&value);

    let kc =
        Ed25519PublicKey::from_bytes(SigningKey::from_bytes(&KC_SEED).verifying_key().as_bytes())
            .expect("KC is a valid key");
    let nonce_key = nonce::nonce_key(&SERVER_SEED);
    let now_s = if case.flags & 0x20 == 0 {
        T0
    } else {
        T_RFC9449
    };
    let base = ProofContext {
        method: "POST",
        expected_url: LOGIN_URL,
        allowed_algs: AGENT_ALGS,
        jwk_required: true,
        fallback_key: None,
        now_s,
        iat_past_secs: 300,
        iat_future_secs: 60,
        nonce_key: &nonce_key,
        require_nonce: case.flags & 8 != 0,
        access_token: None,
    };
    let ctx = match (case.flags >> 1) & 3 {
        0 => base,
        1 => ProofContext {
            expected_url: if now_s == T0 {
                TOKEN_URL
            } else {
                RFC_TOKEN_URL
            },
            allowed_algs: ALL_ALGS,
            ..base
        },
        2 => ProofContext {
            method: "GET",
            expected_url: USERINFO_URL,
            allowed_algs: ALL_ALGS,
            jwk_required: false,
            fallback_key: Some(&kc),
            access_token: Some(ACCESS_TOKEN_5_5),
            ..base
        },
        _ => ProofContext {
            method: "GET",
            expected_url: "https://resource.example.org/protectedresource",
            allowed_algs: ALL_ALGS,
            access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            ..base
        },
    };

    let Ok(proof) = ready(dpop::verify_proof(&value, &ctx)) else {
        return;
    };
    // An accepted proof is one well-formed compact JWS within the size limit…
    assert!(value.len() <= MAX_PROOF_LEN);
    assert!(!value.contains([',', ' ']));
    let parsed = jws::parse(&value).expect("accepted proofs parse");
    // …fresh by the context's clock…
    assert!(proof.iat >= now_s - ctx.iat_past_secs && proof.iat <= now_s + ctx.iat_future_secs);
    // …with a usable jti and the replay marker of api.md 9.11 for exactly this key and jti.
    assert!(!proof.jti.is_empty() && proof.jti.chars().count() <= 128);
    assert_eq!(
        proof.replay_hash,
        dpop::replay_hash("dpop", &proof.thumbprint, &proof.jti)
    );
    // The marker lives exactly as long as the proof is accepted: through iat + the past window.
    assert_eq!(
        proof.accepted_through.last_s(),
        proof.iat + ctx.iat_past_secs
    );
    assert!(proof.accepted_through.accepts(now_s));
    match &proof.key {
        ProofKey::Jwk(jwk) => assert_eq!(proof.thumbprint, jwk.thumbprint()),
        ProofKey::Fallback => {
            assert!(!ctx.jwk_required);
            assert!(!parsed.header.contains_key("jwk"));
            assert_eq!(proof.thumbprint, kc.thumbprint());
        }
    }
});

/// `jws::parse` invariants: three non-empty segments, and the signing input is the received text
/// up to the second dot (never re-serialised).
fn check_compact_jws(value: &str) {
    let Ok(parsed) = jws::parse(value) else {
        return;
    };
    let mut segments = value.split('.');
    let (h, p, s) = (
        segments.next().unwrap(),
        segments.next().unwrap(),
        segments.next().unwrap(),
    );
    assert!(segments.next().is_none());
    assert!(!h.is_empty() && !p.is_empty() && !s.is_empty());
    assert_eq!(parsed.signing_input, format!("{h}.{p}"));
    assert_eq!(agent_id::jose::b64::encode(&parsed.signature), s);
}
