//! Handlers, one module per resource, and [`table`]: every endpoint with its path, policies and
//! handler, which the App routes by.

pub mod account_data;
pub mod account_mail;
pub mod account_sessions;
pub mod account_settings;
pub mod agent_card;
pub mod agent_settings;
pub mod agents;
pub mod billing_portal;
pub mod claims;
pub mod clients;
pub mod email_verification;
pub mod grants;
pub mod http_signatures;
pub mod key_directory;
pub mod oauth;
pub mod openapi;
pub mod overseen;
pub mod overseer_account;
pub mod password_reset;
pub mod registration;
pub mod resources;
pub mod rotation;
pub mod service;
pub mod shadow_claims;
pub mod subscriptions;
pub mod table;
pub mod webhooks;

use crate::ctx::Ctx;
use crate::http::ApiError;

/// Counts one attempt in a rate-limit bucket; `429` when over (no-op when limits are off).
/// The counter write, when one is due, runs after the answer. A KV failure is logged (bucket
/// only, never the subject) and the request goes on.
pub async fn rate_limit(
    ctx: &Ctx<'_>,
    bucket: crate::domain::rate_limit::Bucket,
    subject: &str,
) -> Result<(), ApiError> {
    use crate::domain::rate_limit::{hit, Verdict};
    let Some(limits) = &ctx.config.rate_limits else {
        return Ok(());
    };
    let counted = hit(
        ctx.kv(),
        &ctx.services.rate_tally,
        limits,
        bucket,
        subject,
        ctx.now_ms,
    )
    .await;
    if let Some(e) = counted.kv_error {
        crate::log::warn(&serde_json::json!({
            "request_id": ctx.request_id,
            "task": "rate_limit",
            "bucket": bucket.name(),
            "detail": e.to_string(),
        }));
    }
    if let Some(flush) = counted.flush {
        let (kv, tally) = (ctx.services.kv.clone(), ctx.services.rate_tally.clone());
        let request_id = ctx.request_id.to_owned();
        ctx.defer(async move {
            if let Err(e) = flush.write(kv.as_ref(), &tally).await {
                crate::log::warn(&serde_json::json!({
                    "request_id": request_id,
                    "task": "rate_limit",
                    "bucket": bucket.name(),
                    "detail": e.to_string(),
                }));
            }
        });
    }
    match counted.verdict {
        Verdict::Allowed => Ok(()),
        Verdict::Limited { retry_after } => Err(ApiError::rate_limited(retry_after)),
    }
}
