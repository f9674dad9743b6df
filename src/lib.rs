//! agent-id: the identity layer for AI agents, as one Cloudflare Worker.
//!
//! Agents own Ed25519 keys and authenticate with DPoP proofs; state lives in D1 and KV.
//! Everything below [`app::App`] is runtime-neutral and runs natively in `cargo test`; only
//! [`worker_entry`] (wasm) touches workers-rs types.

pub mod app;
pub mod auth;
pub mod cimd;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod ctx;
pub mod domain;
pub mod http;
pub mod isolate;
pub mod jose;
pub mod log;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod paddle;
pub mod routes;
pub mod scheduled;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod worker_entry;
