//! Subscription reads (api.md 2.9): the public tier list, the overseer's subscription and its
//! usage — all from local state.

use http::header::{HeaderValue, CACHE_CONTROL};
use serde::Serialize;
use serde_json::json;

use crate::app::Ctx;
use crate::auth::session::{self, OverseerSession};
use crate::domain::overseer::OverseerRow;
use crate::domain::subscription::{SubscriptionRow, SubscriptionView};
use crate::domain::tier::{TierRow, Tiers};
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::http::{ApiError, Reply};
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
    let tiers = Tiers::load(ctx.app.db.as_ref()).await?;
    let list: Vec<PublicTier<'_>> = tiers.public().map(PublicTier::from).collect();
    Ok(Reply::ok(&json!({"success": true, "tiers": list})).header(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    ))
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
        .app
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
    let tiers = Tiers::load(ctx.app.db.as_ref()).await?;
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
    let tiers = Tiers::load(ctx.app.db.as_ref()).await?;
    let limits = tiers.get(
        current
            .as_ref()
            .map_or("FREE", SubscriptionRow::effective_tier),
    )?;
    let (start, end) = month_bounds_ms(ctx.now_ms);
    let counts: Option<Counts> = ctx
        .app
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
