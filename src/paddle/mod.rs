//! Paddle Billing integration (`api.md` §7): webhook signature verification, the checkout link
//! signatures that make browser-supplied `custom_data` trustworthy, the typed webhook payloads,
//! and the API calls that run after the response (`calls`). Everything but `calls` is pure.

pub mod api;
pub mod calls;
pub mod event;
mod fields;
pub mod link;
pub mod signature;

#[cfg(test)]
mod vectors;
