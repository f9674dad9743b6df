//! Rules of the service that do not depend on HTTP: ids, text, time, challenges, tiers.

pub mod agent;
pub mod challenge;
pub mod claims;
pub mod client;
pub mod enforcement;
pub mod ids;
pub mod overseer;
pub mod rate_limit;
pub mod rfc3339;
pub mod shadow;
pub mod subscription;
pub mod text;
pub mod tier;
pub mod time;
