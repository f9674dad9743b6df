//! Symmetric primitives shared by webhook verification, link signatures and shadow ids.

pub mod mac;
