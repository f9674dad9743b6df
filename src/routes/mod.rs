//! Handlers, one module per resource. Each is `async fn(&Ctx) -> Result<Reply, ApiError>`.

pub mod agents;
pub mod challenges;
pub mod claims;
pub mod clients;
pub mod oauth;
pub mod openapi;
pub mod overseen;
pub mod overseer_account;
pub mod paddle_calls;
pub mod registration;
pub mod rotation;
pub mod service;
pub mod shadow_claims;
pub mod subscriptions;
pub mod webhooks;

use crate::ctx::Ctx;
use crate::http::router::Endpoint;
use crate::http::{ApiError, Reply};

pub async fn dispatch(ctx: &Ctx<'_>, endpoint: Endpoint) -> Result<Reply, ApiError> {
    match endpoint {
        Endpoint::Root | Endpoint::ServiceInfo => Ok(service::info(ctx)),
        Endpoint::Health => Ok(service::health(Ok(ctx.config))),
        Endpoint::OpenApi => Ok(openapi::document()),
        Endpoint::RegisterInitiate => registration::initiate(ctx).await,
        Endpoint::RegisterComplete => registration::complete(ctx).await,
        Endpoint::AgentLogin => agents::login(ctx).await,
        Endpoint::AgentLogout => agents::logout(ctx).await,
        Endpoint::AgentMe => agents::me(ctx).await,
        Endpoint::AgentOauthHistory => agents::oauth_history(ctx).await,
        Endpoint::AgentOverseer => agents::overseer(ctx).await,
        Endpoint::AgentProfile => agents::profile(ctx).await,
        Endpoint::RotateKeyInitiate => rotation::initiate(ctx).await,
        Endpoint::RotateKeyComplete => rotation::complete(ctx).await,
        Endpoint::ClaimInitiate => claims::initiate(ctx).await,
        Endpoint::ClaimComplete => claims::complete(ctx).await,
        Endpoint::ClaimStatus => claims::status(ctx).await,
        Endpoint::RevokeOverseer => claims::revoke_overseer(ctx).await,
        Endpoint::Declaim => claims::declaim(ctx).await,
        Endpoint::MaliceInitiate => shadow_claims::initiate(ctx).await,
        Endpoint::MaliceStatus => shadow_claims::status(ctx).await,
        Endpoint::BlockClient => overseen::block(ctx).await,
        Endpoint::UnblockClient => overseen::unblock(ctx).await,
        Endpoint::BlockedClients => overseen::blocked(ctx).await,
        Endpoint::OverseerAgentsById => overseen::agents(ctx).await,
        Endpoint::MarkAgent => overseen::mark_agent(ctx).await,
        Endpoint::OverseerClientsById => overseen::clients(ctx).await,
        Endpoint::MarkClient => overseen::mark_client(ctx).await,
        Endpoint::ClientRegister => clients::register(ctx).await,
        Endpoint::ClientList => clients::list(ctx).await,
        Endpoint::ClientKey => clients::rekey(ctx).await,
        Endpoint::ClientDelete => clients::delete(ctx).await,
        Endpoint::ClientEnable => clients::enable(ctx).await,
        Endpoint::Discovery => Ok(oauth::discovery::metadata(ctx)),
        Endpoint::Jwks => oauth::discovery::jwks(ctx),
        Endpoint::AuthorizePost => oauth::authorize::post(ctx).await,
        Endpoint::AuthorizeGet => oauth::authorize::get(ctx).await,
        Endpoint::Token => oauth::token::token(ctx).await,
        Endpoint::Userinfo => oauth::resource::userinfo(ctx).await,
        Endpoint::Revoke => oauth::revocation::revoke(ctx).await,
        Endpoint::Introspect => oauth::revocation::introspect(ctx).await,
        Endpoint::OverseerRegister => overseer_account::register(ctx).await,
        Endpoint::OverseerLogin => overseer_account::login(ctx).await,
        Endpoint::OverseerLogout => overseer_account::logout(ctx).await,
        Endpoint::OverseerMe => overseer_account::me(ctx).await,
        Endpoint::OverseerAgents => overseer_account::my_agents(ctx).await,
        Endpoint::OverseerAudit => overseer_account::my_audit(ctx).await,
        Endpoint::SubscriptionTiers => subscriptions::tiers(ctx).await,
        Endpoint::SubscriptionMe => subscriptions::me(ctx).await,
        Endpoint::SubscriptionUsage => subscriptions::usage_route(ctx).await,
        Endpoint::SubscriptionUpgrade => subscriptions::upgrade(ctx).await,
        Endpoint::SubscriptionCancel => subscriptions::cancel(ctx).await,
        Endpoint::PaddleWebhook => webhooks::paddle(ctx).await,
    }
}

/// Counts one attempt in a rate-limit bucket; `429` when over (no-op when limits are off).
/// A KV failure is logged (bucket only, never the subject) and the request goes on.
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
    match counted.verdict {
        Verdict::Allowed => Ok(()),
        Verdict::Limited { retry_after } => Err(ApiError::rate_limited(retry_after)),
    }
}
