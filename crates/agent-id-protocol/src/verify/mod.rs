//! Signature verification, the one seam between the protocol's rules and the code that does the
//! group arithmetic. Every JWS, DPoP proof, client assertion, access token and challenge signature
//! is verified here.
//!
//! - Native builds verify in Rust: ed25519-dalek `verify_strict` and p256 ([`native`]).
//! - The wasm build calls the runtime's WebCrypto (`crypto.subtle`, [`subtle`]): inside workerd it
//!   costs about 100 µs per Ed25519 verification (boundary and promises included) against about
//!   140 µs for ed25519-dalek compiled to wasm, and about 100 µs against 1 ms for ES256.
//!
//! WebCrypto's Ed25519 is laxer than `verify_strict` (it may accept small-order `R`), so the
//! checks that make verification strict run here, in Rust, on both builds ([`strict`]); the keys
//! were already validated when parsed (`Ed25519PublicKey`: canonical, on the curve, not of small
//! order). What is left to the backend is the cofactorless group equation, which both compute.

pub mod strict;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
use native as backend;

#[cfg(target_arch = "wasm32")]
mod subtle;
#[cfg(target_arch = "wasm32")]
use subtle as backend;

use super::ed25519::Ed25519PublicKey;
use super::rsa_key::RsaPublicKey;

/// Strict Ed25519 verification of `sig` over `msg` (`verify_strict` semantics on every build):
/// `false` unless `sig` is 64 bytes with a canonical `S` and an `R` that is canonically encoded
/// and not of small order, and the cofactorless equation holds.
pub async fn ed25519(key: &Ed25519PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    match strict::ed25519_signature(sig) {
        Ok(sig) => backend::ed25519(key, msg, sig).await,
        Err(_) => false,
    }
}

/// ECDSA P-256 with SHA-256 over `msg`; only the 64-byte raw `r‖s` form (DER is refused by length).
pub async fn es256(key: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    match <&[u8; 64]>::try_from(sig) {
        Ok(sig) => backend::es256(key, msg, sig).await,
        Err(_) => false,
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (RS256) over `msg`: `false` unless `sig` is exactly as long as
/// the modulus and verifies. Natively the `rsa` crate; in wasm WebCrypto, which keeps RSA
/// arithmetic out of the Worker's bundle.
pub async fn rs256(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
    sig.len() == key.signature_len() && backend::rs256(key, msg, sig).await
}

#[cfg(test)]
mod tests;
