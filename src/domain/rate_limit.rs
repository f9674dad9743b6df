//! Best-effort fixed-window rate limits kept in KV (security.md §13).
//!
//! Counters are approximate under concurrency by design: they slow abuse down; nothing that
//! must be exact (single use, revocation, tier limits) is decided here.

use std::collections::HashMap;

use crate::domain::ids::sha256_hex;
use crate::store::{Kv, Namespace, StoreError};

/// The rate-limit buckets and their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    AgentRegister,
    AgentLogin,
    AgentLoginAgent,
    OverseerRegister,
    OverseerLogin,
    OverseerLoginEmail,
    Malice,
    MaliceAgent,
    Token,
    TokenIp,
    Webhook,
    /// Revocation, per authenticated client.
    Revoke,
    /// Revocation, per IP (counted before the form is parsed).
    RevokeIp,
    /// Introspection, per authenticated client.
    Introspect,
    /// Introspection, per IP (counted before the form is parsed).
    IntrospectIp,
    /// Authorization attempts, per authenticated agent (bounds refusals and their history rows).
    AuthorizeAgent,
}

impl Bucket {
    const ALL: [Bucket; 16] = [
        Bucket::AgentRegister,
        Bucket::AgentLogin,
        Bucket::AgentLoginAgent,
        Bucket::OverseerRegister,
        Bucket::OverseerLogin,
        Bucket::OverseerLoginEmail,
        Bucket::Malice,
        Bucket::MaliceAgent,
        Bucket::Token,
        Bucket::TokenIp,
        Bucket::Webhook,
        Bucket::Revoke,
        Bucket::RevokeIp,
        Bucket::Introspect,
        Bucket::IntrospectIp,
        Bucket::AuthorizeAgent,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Bucket::AgentRegister => "agent_register",
            Bucket::AgentLogin => "agent_login",
            Bucket::AgentLoginAgent => "agent_login_agent",
            Bucket::OverseerRegister => "overseer_register",
            Bucket::OverseerLogin => "overseer_login",
            Bucket::OverseerLoginEmail => "overseer_login_email",
            Bucket::Malice => "malice",
            Bucket::MaliceAgent => "malice_agent",
            Bucket::Token => "token",
            Bucket::TokenIp => "token_ip",
            Bucket::Webhook => "webhook",
            Bucket::Revoke => "revoke",
            Bucket::RevokeIp => "revoke_ip",
            Bucket::Introspect => "introspect",
            Bucket::IntrospectIp => "introspect_ip",
            Bucket::AuthorizeAgent => "authorize_agent",
        }
    }

    pub fn from_name(name: &str) -> Option<Bucket> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    const fn default_limit(self) -> Limit {
        let (count, window_secs) = match self {
            Bucket::AgentRegister => (20, 600),
            Bucket::AgentLogin => (60, 60),
            Bucket::AgentLoginAgent => (20, 60),
            Bucket::OverseerRegister => (10, 3600),
            Bucket::OverseerLogin => (20, 60),
            Bucket::OverseerLoginEmail => (10, 900),
            Bucket::Malice => (10, 3600),
            Bucket::MaliceAgent => (20, 3600),
            Bucket::Token => (120, 60),
            Bucket::TokenIp => (300, 60),
            Bucket::Webhook => (100, 60),
            Bucket::Revoke => (120, 60),
            Bucket::RevokeIp => (300, 60),
            // Resource servers may introspect on every request they serve.
            Bucket::Introspect => (600, 60),
            Bucket::IntrospectIp => (1200, 60),
            Bucket::AuthorizeAgent => (30, 60),
        };
        Limit { count, window_secs }
    }
}

/// `count` attempts per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u64,
    pub window_secs: u64,
}

/// Limits per bucket: the defaults of security.md §13 with `RATE_LIMIT_CONFIG` overrides.
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    overrides: HashMap<Bucket, Limit>,
}

impl RateLimits {
    pub fn set(&mut self, bucket: Bucket, limit: Limit) {
        self.overrides.insert(bucket, limit);
    }

    pub fn limit(&self, bucket: Bucket) -> Limit {
        self.overrides
            .get(&bucket)
            .copied()
            .unwrap_or(bucket.default_limit())
    }
}

/// The outcome of counting one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit; retry after this many seconds.
    Limited {
        retry_after: u64,
    },
}

/// Counts an attempt against `bucket` for `subject` (IP, e-mail, agent id or client id).
pub async fn hit(
    kv: &dyn Kv,
    limits: &RateLimits,
    bucket: Bucket,
    subject: &str,
    now_s: i64,
) -> Result<Verdict, StoreError> {
    let limit = limits.limit(bucket);
    let now = u64::try_from(now_s).unwrap_or(0);
    let window = now / limit.window_secs;
    let window_end = (window + 1) * limit.window_secs;
    let subject_hash = sha256_hex(subject);
    let key = format!(
        "rl:{}:{}:{window}",
        bucket.name(),
        subject_hash.get(..32).unwrap_or(&subject_hash)
    );
    let count = kv
        .get(Namespace::RateLimits, &key)
        .await?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if count >= limit.count {
        return Ok(Verdict::Limited {
            retry_after: (window_end - now).max(1),
        });
    }
    kv.put(
        Namespace::RateLimits,
        &key,
        &(count + 1).to_string(),
        window_end - now + 60,
    )
    .await?;
    Ok(Verdict::Allowed)
}
