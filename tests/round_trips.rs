//! Storage round-trip budgets: for every endpoint, at most this many D1 round trips (a batch
//! counts once) and KV writes before the answer, checked on the request's metrics record
//! (`Harness::metrics`). Work deferred until after the answer (`waitUntil`) is not counted.

mod common;

// --- the budget table (owned by the OAuth/table work; rows for the hot session paths below) ---

// --- hot session paths: agent and overseer log-in, session reads, rate limits ---

// --- OAuth: token, userinfo, introspection, revocation, authorization ---
