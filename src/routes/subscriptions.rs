//! Subscription reads (api.md 2.9): the public tier list, the overseer's subscription and its
//! usage — all from local state; upgrade (checkout parameters) and cancel (at period end).

use http::header::{HeaderValue, CACHE_CONTROL};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::session::{self, OverseerSession};
use crate::ctx::Ctx;
use crate::domain::overseer::OverseerRow;
use crate::domain::subscription::{SubscriptionRow, SubscriptionView};
use crate::domain::tier::{is_active_status, TierRow, Tiers};
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::http::body::{self, JsonBody};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::b64;
use crate::paddle::link;
use crate::stmt;
use crate::store::Statement;

/// A price in the tier's currency: whole amounts as integers (`5`), others with cents.
pub fn price(cents: i64) -> serde_json::Value {
    if cents % 100 == 0 {
        json!(cents / 100)
    } else {
        json!(cents as f64 / 100.0)
    }
}

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
        }
    }
}

/// `GET /v1/subscriptions/tiers` (public; a session, if sent, is ignored).
pub async fn tiers(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let tiers = Tiers::load(ctx.services.db.as_ref()).await?;
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
        Reply::ok(&json!({"success": true, "tiers": list, "billing": billing})).header(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
    )
}

/// The overseer's current subscription row, if it has one.
pub async fn current_subscription(
    ctx: &Ctx<'_>,
    overseer: &OverseerRow,
) -> Result<Option<SubscriptionRow>, ApiError> {
    let Some(id) = &overseer.current_subscription_id else {
        return Ok(None);
    };
    Ok(ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT {} FROM subscriptions WHERE id = ?1",
                SubscriptionRow::COLUMNS
            ),
            vec![id.as_str().into()],
        ))
        .await?
        .first()?)
}

pub async fn subscription_view(
    ctx: &Ctx<'_>,
    current: Option<&SubscriptionRow>,
) -> Result<SubscriptionView, ApiError> {
    let tiers = Tiers::load(ctx.services.db.as_ref()).await?;
    let shown = tiers.get(SubscriptionView::shown_tier(current))?;
    Ok(SubscriptionView::new(current, shown))
}

/// `GET /v1/subscriptions/me`
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let current = current_subscription(ctx, &s.overseer).await?;
    let view = subscription_view(ctx, current.as_ref()).await?;
    Ok(Reply::ok(&json!({"success": true, "subscription": view})))
}

#[derive(Serialize)]
pub struct Usage {
    pub agents_claimed: i64,
    pub clients_registered: i64,
    pub oauth_count: i64,
    pub max_agents: i64,
    pub max_clients: i64,
    pub max_oauth_per_period: i64,
    period_start: String,
    period_end: String,
}

#[derive(serde::Deserialize)]
struct Counts {
    agents: i64,
    clients: i64,
    oauth: i64,
}

/// Usage against the effective limits (a paused or canceled subscription counts as FREE).
/// Never fails for an overseer without agents, clients or history (security.md §16 item 2).
pub async fn usage(ctx: &Ctx<'_>, s: &OverseerSession) -> Result<Usage, ApiError> {
    let current = current_subscription(ctx, &s.overseer).await?;
    let tiers = Tiers::load(ctx.services.db.as_ref()).await?;
    let limits = tiers.get(
        current
            .as_ref()
            .map_or("FREE", SubscriptionRow::effective_tier),
    )?;
    let (start, end) = month_bounds_ms(ctx.now_ms);
    let counts: Option<Counts> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT \
               (SELECT COUNT(*) FROM oversights WHERE overseer_id = ?1 AND active = 1) AS agents, \
               (SELECT COUNT(*) FROM oauth_clients c WHERE c.disabled = 0 AND \
                  ((c.owner_type = 'overseer' AND c.owner_id = ?1) OR (c.owner_type = 'agent' AND c.owner_id IN \
                    (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)))) AS clients, \
               (SELECT COUNT(*) FROM oauth_requests r WHERE r.status = 'approved' AND r.created_at >= ?2 \
                  AND r.created_at < ?3 AND r.agent_id IN \
                    (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)) AS oauth",
            s.overseer.id.as_str(),
            start,
            end
        ))
        .await?
        .first()?;
    let c = counts.unwrap_or(Counts {
        agents: 0,
        clients: 0,
        oauth: 0,
    });
    Ok(Usage {
        agents_claimed: c.agents,
        clients_registered: c.clients,
        oauth_count: c.oauth,
        max_agents: limits.max_agents,
        max_clients: limits.max_clients,
        max_oauth_per_period: limits.max_oauth_per_period,
        period_start: rfc3339_ms(start),
        period_end: rfc3339_ms(end),
    })
}

/// `GET /v1/subscriptions/usage`
pub async fn usage_route(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    Ok(Reply::ok(
        &json!({"success": true, "usage": usage(ctx, &s).await?}),
    ))
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
    success: bool,
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
    let tier = target_tier(&body)?;
    let paddle = &ctx.config.paddle;
    let price_id = paddle
        .price_for(tier)
        .ok_or_else(|| ApiError::internal("purchasable tier without a price setting"))?
        .as_ref()?
        .clone();
    let key = ctx.config.link_key.as_ref()?;
    let client_token = paddle.client_token.as_ref()?.clone();
    let current = current_subscription(ctx, &s.overseer).await?;
    let renewing_same = current.as_ref().is_some_and(|c| {
        is_active_status(&c.status)
            && c.tier.as_deref() == Some(tier)
            && c.scheduled_cancel_at().is_none()
    });
    if renewing_same {
        return Err(ApiError::new(
            ErrorCode::AlreadySubscribed,
            "An active subscription on this tier already exists",
        ));
    }
    let tiers = Tiers::load(ctx.services.db.as_ref()).await?;
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
        success: true,
        tier,
        price: price(row.price_cents),
        currency: row.currency.clone(),
        price_id,
        customer_email: s.overseer.email.clone(),
        customer_name: s.overseer.name.clone(),
        customer_id: s.overseer.paddle_customer_id.clone(),
        custom_data: link.clone(),
        custom_data_alias: link,
        replaces_subscription_id: current
            .filter(|c| is_active_status(&c.status))
            .map(|c| c.id),
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
    let current = current_subscription(ctx, &s.overseer)
        .await?
        .filter(|c| is_active_status(&c.status))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSubscription,
                "No active subscription to cancel",
            )
        })?;
    ctx.config.paddle.api_key.as_ref()?;
    let already = current.scheduled_cancel_at().is_some();
    if !already {
        let mark = stmt!(
            "UPDATE subscriptions SET cancel_requested_at = ?2, cancel_attempts = 0, updated_at = ?2 \
             WHERE id = ?1 AND cancel_requested_at IS NULL",
            current.id.as_str(),
            ctx.now_ms
        );
        let ev = Event {
            kind: "subscription.cancel_requested",
            actor_type: "overseer",
            actor_id: Some(&s.overseer.id),
            subject_type: Some("subscription"),
            subject_id: Some(&current.id),
            overseer_id: Some(&s.overseer.id),
            agent_id: None,
            details: json!({}),
        };
        let guard = (
            "EXISTS (SELECT 1 FROM subscriptions WHERE id = ?13 AND cancel_requested_at = ?14)",
            vec![current.id.as_str().into(), ctx.now_ms.into()],
        );
        let audit_row = audit::insert_where(ctx, &ev, Some(guard))?;
        let out = ctx.services.db.batch(vec![mark, audit_row]).await?;
        if out.first().is_some_and(|o| o.changes == 1) {
            crate::routes::paddle_calls::defer_cancel(ctx, current.id.clone());
        }
    }
    let end = current.current_period_end;
    let scheduled = current.scheduled_cancel_at().or(end);
    Ok(Reply::ok(&json!({
        "success": true,
        "message": "Subscription will be canceled at the end of the billing period",
        "billing_period_end": end.map(rfc3339_ms),
        "scheduled_cancel_at": scheduled.map(rfc3339_ms),
    })))
}
