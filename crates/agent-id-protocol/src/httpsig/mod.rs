//! HTTP Message Signatures (RFC 9421) and their Web Bot Auth profile, shared by the server's
//! verifier and the SDK's signer so that both compute one signature base.
//!
//! - [`sf`]: the RFC 8941 structured fields the signature fields are made of;
//! - [`base`]: covered components, signature parameters and the signature base (§2);
//! - [`message`]: a whole request as a component source (method, URI, header fields);
//! - [`signature`]: the `Signature-Input` / `Signature` pair, Ed25519 signing and verification;
//! - [`webbot`]: the Web Bot Auth rules (tag, `created`/`expires`, `keyid` = JWK thumbprint,
//!   `@authority` and `Signature-Agent` coverage).

pub mod base;
pub mod message;
pub mod sf;
pub mod signature;
pub mod webbot;

#[cfg(test)]
mod tests;
