//! OAuth 2.0 authorization server building blocks (`api.md` 2.1, 2.11, 9.4–9.7; `security.md`
//! §3–§6). Everything here is pure: no storage, no clock, no randomness. Handlers pass the time,
//! random bytes and keys in, and do the database steps (client lookup, replay markers, code
//! redemption, revocation lists) with the values returned.

pub mod access_token;
pub mod agent_claim;
pub mod assertion;
pub mod client_metadata;
pub mod discovery;
pub mod pkce;
pub mod redirect;
pub mod resource_metadata;
pub mod scope;
pub mod target;
