//! Shared fixtures of the fuzz targets: the fixed keys, identifiers and clock of the known-answer
//! vectors (so seeds built from them pass every check and mutations start deep in the validators),
//! and small helpers to build inputs.
//!
//! Structured targets read their input as a few leading flag bytes followed by free-form bytes
//! (see each target's doc comment); seeds in `fuzz/seeds/<target>/` follow the same layout.

use agent_id::jose::b64;
use ed25519_dalek::{Signer, SigningKey};

/// The vectors' frozen clock, `2026-01-01T00:00:00Z`.
pub const T0: i64 = 1_767_225_600;
/// The clock of the RFC 9449 examples (their proofs pass P11 only then).
pub const T_RFC9449: i64 = 1_562_262_616;

/// Issuer `I` of the vectors.
pub const ISSUER: &str = "https://id.example.com";
pub const LOGIN_URL: &str = "https://id.example.com/v1/agents/login";
pub const TOKEN_URL: &str = "https://id.example.com/v1/oauth/token";
pub const REVOKE_URL: &str = "https://id.example.com/v1/oauth/revoke";
pub const USERINFO_URL: &str = "https://id.example.com/v1/oauth/userinfo";
/// The RFC 9449 Figure 1 token endpoint.
pub const RFC_TOKEN_URL: &str = "https://server.example.com/token";

/// Client id of the vectors (the `iss`/`sub` of the client assertion of §5.4).
pub const CLIENT_ID: &str = "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20";

/// Agent key KA (the RFC 8037 key): seed bytes.
pub const KA_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
/// Client key KC: seed bytes `20 21 … 3f`.
pub const KC_SEED: [u8; 32] = seq_seed(0x20);
/// Server signing key: seed bytes `00 01 … 1f`.
pub const SERVER_SEED: [u8; 32] = seq_seed(0x00);

/// The access token of vectors §5.5 (its `ath` is in the userinfo proof of §5.6).
pub const ACCESS_TOKEN_5_5: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFkiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiNmYxYzJiOWUtM2Q0YS00YzViLThlN2YtMGExYjJjM2Q0ZTVmIiwiYXVkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwiY2xpZW50X2lkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwic2NvcGUiOiJpZCBuYW1lIGRlc2NyaXB0aW9uIHN1YnNjcmlwdGlvbiIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiJZazNuMHZYb1E3bUo1dVIydFc4ekFBIiwiY25mIjp7ImprdCI6IkFrWElaRnpvbmI1OVptR3d5S2dpM0gzQndNaTZhbWV2cWRLUWlMWmhkdGMifX0.yRCoM6hiqq-E9wmuuyTFhy8-1R7jlWcOSuL61QfgBHCAlS77TCC3mvL_hegdIUDlhMzjFQc6lM8zdrZndQjEAA";

/// The project's Paddle webhook secret (vectors §5.12).
pub const PADDLE_SECRET: &str = "pdl_ntfset_01test_secret_for_vectors_only";

const fn seq_seed(first: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        seed[i] = first + i as u8;
        i += 1;
    }
    seed
}

/// Splits `bytes` at the first `\n`: `(before, after)`, or `(bytes, [])` without one.
pub fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// A compact JWS over arbitrary header and payload bytes (base64url-encoded as given, so the
/// validators see exactly the fuzzed JSON), really signed with `seed`'s Ed25519 key: the signature
/// check passes and the fuzzer reaches the header and claim checks behind it.
pub fn sign_compact(header: &[u8], payload: &[u8], seed: &[u8; 32]) -> String {
    let signing_input = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let signature = SigningKey::from_bytes(seed).sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(&signature.to_bytes()))
}

/// Percent-encodes every byte (the most escaped spelling a form decoder must undo).
pub fn percent_encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Natively the signature verifier's futures complete on their first poll (they are async only
/// for the wasm build's WebCrypto): poll once.
pub fn ready<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("native verification never waits"),
    }
}
