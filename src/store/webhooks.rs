//! Webhook deliveries: idempotency and ordering records of Paddle events.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.
