//! JOSE building blocks (base64url, strict JSON, Ed25519/P-256 keys, JWK, compact JWS) shared by
//! DPoP, client assertions and access tokens. They live in the `agent-id-protocol` crate, which
//! the clients share; these are the Worker's names for them.

pub use agent_id_protocol::{
    b64, ed25519, ed25519_signing, es256, json, jwk, jws, rsa_key, verify,
};
