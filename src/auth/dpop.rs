//! DPoP proof validation (RFC 9449; P1–P13), from the `agent-id-protocol` crate that the clients
//! share: the Worker does P14 (key binding) and P15 (the replay marker) around it.

pub use agent_id_protocol::dpop::*;
