//! Subscription reads (api.md 2.9): the public tier list, the overseer's subscription and its
//! usage — all from local state; upgrade (checkout parameters) and cancel (at period end).

use http::header::{HeaderValue, CACHE_CONTROL};
use serde::Serialize;
use serde_json::json;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::subscription;
use crate::domain::tier::{price, TierRow, Tiers};
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::b64;
use crate::paddle::{calls, link};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::subscriptions::{self, SubscriptionRow};

#[derive(Serialize)]
struct PublicTier<'a> {
    tier: &'a str,
    price: serde_json::Value,
    currency: &'a str,
    billing: &'a str,
    max_agents: i64,
    max_clients: i64,
    max_oauth_per_period: i64,
    oauth_period: &'static str,
    max_resources: i64,
}

impl<'a> From<&'a TierRow> for PublicTier<'a> {
    fn from(t: &'a TierRow) -> Self {
        Self {
            tier: &t.public_name,
            price: price(t.price_cents),
            currency: &t.currency,
            billing: &t.billing,
            max_agents: t.max_agents,
            max_clients: t.max_clients,
            max_oauth_per_period: t.max_oauth_per_period,
            oauth_period: "calendar_month",
            max_resources: t.max_resources,
        }
    }
}

/// `GET /v1/subscriptions/tiers` (public; a session, if sent, is ignored).
pub async fn tiers(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let tiers = Tiers::load(ctx.db()).await?;
    let list: Vec<PublicTier<'_>> = tiers.public().map(PublicTier::from).collect();
    // What the web app needs to open Paddle Checkout, or to say billing is not configured. The
    // client-side token is public by design (api.md 7.6).
    let paddle = &ctx.config.paddle;
    let token = paddle.client_token.as_ref().ok();
    let billing = json!({
        "configured": token.is_some(),
        "paddle_environment": paddle.environment,
        "paddle_client_token": token,
    });
    Ok(
        Reply::ok(&json!({"tiers": list, "billing": billing})).header(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
    )
}

/// `GET /v1/subscriptions/me`
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let current = subscription::current(ctx.db(), &s.overseer).await?;
    let view = subscription::view(ctx.db(), current.as_ref()).await?;
    Ok(Reply::ok(&json!({"subscription": view})))
}

/// `GET /v1/subscriptions/usage`
pub async fn usage_route(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let usage = subscription::usage(ctx.db(), &s.overseer, ctx.now_ms).await?;
    Ok(Reply::ok(&json!({"usage": usage})))
}

/// The purchasable tier named by `target_tier` (case-insensitive), else `400 invalid_tier`.
fn target_tier(body: &JsonBody) -> Result<&'static str, ApiError> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidTier,
            "target_tier must be BASIC, PRO or PREMIUM",
        )
    };
    let raw = body.opt_str("target_tier").map_err(|_| invalid())?;
    match raw.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        Some("BASIC") => Ok("BASIC"),
        Some("PRO") => Ok("PRO"),
        Some("PREMIUM") => Ok("PREMIUM"),
        _ => Err(invalid()),
    }
}

/// Server-signed checkout `custom_data` (api.md 7.3).
#[derive(Serialize, Clone)]
struct CheckoutLink {
    overseer_id: String,
    tier: &'static str,
    price_id: String,
    nonce: String,
    link_sig: String,
}

#[derive(Serialize)]
struct Checkout {
    tier: &'static str,
    price: serde_json::Value,
    currency: String,
    price_id: String,
    customer_email: Option<String>,
    customer_name: Option<String>,
    customer_id: Option<String>,
    custom_data: CheckoutLink,
    #[serde(rename = "customData")]
    custom_data_alias: CheckoutLink,
    replaces_subscription_id: Option<String>,
    paddle_environment: String,
    paddle_client_token: String,
    message: &'static str,
}

/// `POST /v1/subscriptions/upgrade`: checkout parameters only; nothing changes until Paddle's
/// webhook arrives.
pub async fn upgrade(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    crate::routes::email_verification::require_verified(ctx, &s.overseer)?;
    let tier = target_tier(&body)?;
    let paddle = &ctx.config.paddle;
    let price_id = paddle
        .price_for(tier)
        .ok_or_else(|| ApiError::internal("purchasable tier without a price setting"))?
        .as_ref()?
        .clone();
    let key = ctx.config.link_key.as_ref()?;
    let client_token = paddle.client_token.as_ref()?.clone();
    let current = subscription::current(ctx.db(), &s.overseer).await?;
    let renewing_same = current.as_ref().is_some_and(|c| {
        c.status.is_active() && c.tier.as_deref() == Some(tier) && c.scheduled_cancel_at().is_none()
    });
    if renewing_same {
        return Err(ApiError::new(
            ErrorCode::AlreadySubscribed,
            "An active subscription on this tier already exists",
        ));
    }
    let tiers = Tiers::load(ctx.db()).await?;
    let row = tiers.get(tier)?;
    let mut nonce = [0u8; 16];
    ctx.rng().fill(&mut nonce)?;
    let nonce = b64::encode(&nonce);
    let link = CheckoutLink {
        overseer_id: s.overseer.id.clone(),
        tier,
        link_sig: link::subscription_sig(key, &s.overseer.id, &price_id, &nonce),
        price_id: price_id.clone(),
        nonce,
    };
    Ok(Reply::ok(&Checkout {
        tier,
        price: price(row.price_cents),
        currency: row.currency.clone(),
        price_id,
        customer_email: s.overseer.email.clone(),
        customer_name: s.overseer.name.clone(),
        customer_id: s.overseer.paddle_customer_id.clone(),
        custom_data: link.clone(),
        custom_data_alias: link,
        replaces_subscription_id: current.filter(|c| c.status.is_active()).map(|c| c.id),
        paddle_environment: paddle.environment.clone(),
        paddle_client_token: client_token,
        message: "Complete payment to upgrade your subscription",
    }))
}

/// `POST /v1/subscriptions/cancel`: records the request and answers at once; Paddle is asked
/// after the response (and by the cron job until it accepts).
pub async fn cancel(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let current = subscription::current(ctx.db(), &s.overseer)
        .await?
        .filter(|c| c.status.is_active())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSubscription,
                "No active subscription to cancel",
            )
        })?;
    ctx.config.paddle.api_key.as_ref()?;
    if current.scheduled_cancel_at().is_none() {
        request_cancel(ctx, &s.overseer.id, &current).await?;
    }
    let end = current.current_period_end;
    let scheduled = current.scheduled_cancel_at().or(end);
    Ok(Reply::ok(&json!({
        "message": "Subscription will be canceled at the end of the billing period",
        "billing_period_end": end.map(rfc3339_ms),
        "scheduled_cancel_at": scheduled.map(rfc3339_ms),
    })))
}

/// Records the cancellation request with its audit row (only if this request recorded it) and
/// asks Paddle after the response.
async fn request_cancel(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    current: &SubscriptionRow,
) -> Result<(), ApiError> {
    let event = Event::new(
        "subscription.cancel_requested",
        Actor::Overseer(overseer_id),
    )
    .subject(Subject::Subscription(&current.id))
    .overseer(overseer_id);
    let mut batch = Batch::new();
    let marked = batch.push(subscriptions::request_cancel(&current.id, ctx.now_ms));
    batch.push_if(
        event.insert(&ctx.stamp()),
        subscriptions::cancel_requested_at(&current.id, ctx.now_ms),
    );
    if batch.run(ctx.db()).await?.changed(marked) {
        calls::defer_cancel(ctx, current.id.clone());
    }
    Ok(())
}
