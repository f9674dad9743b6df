//! OAuth grants and what hangs off them: authorization requests (history), codes, refresh-token families, issued access tokens, revocation.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.
