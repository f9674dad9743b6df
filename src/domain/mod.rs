//! Rules of the service, free of HTTP and of the request context: ids, text and time rules,
//! challenge windows, claims, tiers and subscriptions, shadow sponsorship, rate limits and pool
//! enforcement. They take plain values (and a `Db` or an audit `Stamp` where they must) and
//! return domain errors, which the routes map to API errors.

pub mod agent;
pub mod challenge;
pub mod claims;
pub mod client;
pub mod client_keys;
pub mod email_token;
pub mod enforcement;
pub mod ids;
pub mod overseer;
pub mod payment_problem;
pub mod rate_limit;
pub mod resource;
pub mod rfc3339;
pub mod shadow;
pub mod subscription;
pub mod text;
pub mod tier;
pub mod time;
pub mod web_bot_auth;
