//! Paddle Billing integration (`api.md` §7): webhook signature verification, the checkout link
//! signatures that make browser-supplied `custom_data` trustworthy, and the typed webhook payloads.
//! Everything here is pure; storage and HTTP live in the route that calls it.

pub mod api;
pub mod event;
mod fields;
pub mod link;
pub mod signature;

#[cfg(test)]
mod vectors;
