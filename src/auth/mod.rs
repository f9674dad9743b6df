//! Authentication: sessions (Bearer), agent DPoP proofs, and replay markers.

pub mod agent_proof;
pub mod dpop;
pub mod dpop_request;
pub mod password;
pub mod replay;
pub mod session;
