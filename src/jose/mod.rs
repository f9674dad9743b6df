//! JOSE building blocks (base64url, strict JSON, Ed25519/P-256 keys, JWK, compact JWS) shared by DPoP, client assertions and access tokens.

pub mod b64;
pub mod ed25519;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod verify;
