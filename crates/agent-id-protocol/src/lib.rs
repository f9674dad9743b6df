//! The Agent-ID protocol code that both sides need, written once so that the server (the
//! `agent-id` Worker) and its clients (`agent-id-client`, the `agent-id` CLI) cannot drift:
//!
//! - [`b64`], [`hex`], [`json`] (strict JSON objects), [`mac`] (HMAC-SHA-256);
//! - keys and tokens: [`ed25519`] public keys, [`jwk`] with RFC 7638 thumbprints, compact [`jws`]
//!   and the strict signature checks of [`verify`];
//! - [`dpop`]: RFC 9449 proofs, checked (P1–P13) and built;
//! - [`challenge`]: the canonical `challenge_data` an agent signs;
//! - [`httpsig`]: HTTP Message Signatures (RFC 9421) and Web Bot Auth, signed and verified.
//!
//! It builds for native targets and for `wasm32-unknown-unknown`; on wasm32 signatures are
//! verified through the runtime's WebCrypto (see [`verify`]).

pub mod b64;
pub mod challenge;
pub mod dpop;
pub mod ed25519;
pub mod ed25519_signing;
pub mod es256;
pub mod hex;
pub mod httpsig;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod mac;
pub mod rsa_key;
pub mod verify;
#[cfg(target_arch = "wasm32")]
mod webcrypto;
