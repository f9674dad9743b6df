//! The client library for agents of an agent-id server, native and `wasm32-unknown-unknown`.
//!
//! - [`AgentKey`]: Ed25519 keys, generated from the OS, wiped on drop, never printed;
//!   [`Profile`]: the per-server state directory (`0600` files, `0700` directory, crash-safe
//!   rotation), native Unix only.
//! - [`Client`]: one server over a [`Transport`] (rustls natively, `fetch` on wasm32, or your
//!   own): [`register`](Client::register), [`login`](Client::login), [`me`](Client::me),
//!   [`rotate_key`](Client::rotate_key), [`logout`](Client::logout),
//!   [`accept_claim`](Client::accept_claim), [`history`](Client::history),
//!   [`overseer`](Client::overseer), [`authorize`](Client::authorize) (consent).
//! - [`DpopClient`]: DPoP proofs for any request at any server, with per-origin nonces and one
//!   retry on `use_dpop_nonce`.
//! - [`RequestSigner`]: Web Bot Auth, HTTP message signatures (RFC 9421) on the agent's
//!   outgoing requests, naming its card as `Signature-Agent`.
//! - [`Error`]: the server's refusals with their `code`, transport, local and protocol errors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agent_id_client::Error> {
//! use agent_id_client::{Client, Profile, ServerUrl};
//! let server = ServerUrl::parse("http://127.0.0.1:8787")?;
//! let profile = Profile::for_server(&server)?;
//! let key = profile.generate_key()?;
//! let client = Client::new(server)?;
//! let registered = client.register(&key, "Demo Agent", None).await?;
//! profile.save_session(&registered.session)?;
//! let me = client.me(&registered.session).await?;
//! assert_eq!(me.agent.public_key, key.public_b64());
//! # Ok(()) }
//! ```

mod client;
pub mod clock;
mod consent;
pub mod discovery;
pub mod dpop;
pub mod error;
#[cfg(unix)]
mod files;
mod identity;
pub mod keys;
pub mod mcp;
pub mod oauth;
#[cfg(unix)]
pub mod profile;
mod random;
pub mod server;
pub mod session;
pub mod signing;
pub mod transport;

pub use agent_id_protocol::dpop::ProofSigner;
pub use client::{AgentAuth, Client};
pub use consent::{Authorization, AuthorizationRequest};
pub use dpop::DpopClient;
pub use error::{Error, LocalError, ProtocolError, ServerError, TransportError};
pub use identity::{
    AgentInfo, ClaimAccepted, HistoryEntry, HistoryPage, Me, OverseerInfo, Registered, Rotated,
};
pub use keys::{AgentKey, KeyFormatError};
#[cfg(unix)]
pub use profile::{Profile, Recovery};
pub use server::ServerUrl;
pub use session::{Secret, Session};
pub use signing::{RequestSigner, SignatureHeaders, SigningError};
pub use transport::{HttpRequest, HttpResponse, Transport};
