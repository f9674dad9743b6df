//! Symmetric primitives shared by webhook verification, link signatures and shadow ids, and the
//! one hex codec: from the `agent-id-protocol` crate (DPoP nonces use them too).

pub use agent_id_protocol::{hex, mac};
