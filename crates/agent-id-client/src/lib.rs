//! `agent-id-client`: what an agent program links to use an agent-id server.

pub mod discovery;
pub mod mcp;
pub mod oauth;
