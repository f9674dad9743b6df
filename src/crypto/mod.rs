//! Symmetric primitives shared by webhook verification, link signatures and shadow ids, and the
//! crate's one hex codec.

pub mod hex;
pub mod mac;
