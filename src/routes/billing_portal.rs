//! `POST /v1/subscriptions/portal` (issue 12 item 5): a Paddle customer-portal session for the
//! overseer's own Paddle customer, where it updates its payment method, sees its invoices and
//! cancels. The customer id is the one stored for the session's overseer, never one from the
//! request. Unlike every other Paddle call this one runs on the request path, because the
//! overseer waits for the link; Paddle's failures become `503 paddle_unavailable` (unreachable,
//! timeout) or `502 paddle_error` (an error status or an unusable answer). The links sign the
//! customer in, so they are neither stored nor logged.

use serde::Serialize;
use serde_json::json;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::subscription::Status;
use crate::http::{body, ApiError, ErrorCode, Reply};
use crate::log;
use crate::paddle::api::{valid_customer_id, PaddleApiError, PortalSession};
use crate::store::subscriptions::{self, SubscriptionRow};

/// The answer: the portal's overview link, and the deep links of the current subscription.
#[derive(Serialize)]
struct Portal {
    url: String,
    subscriptions: Vec<SubscriptionPortal>,
}

#[derive(Serialize)]
struct SubscriptionPortal {
    id: String,
    cancel_url: String,
    update_payment_method_url: String,
}

impl From<PortalSession> for Portal {
    fn from(s: PortalSession) -> Self {
        Portal {
            url: s.overview,
            subscriptions: s
                .subscriptions
                .into_iter()
                .map(|l| SubscriptionPortal {
                    id: l.id,
                    cancel_url: l.cancel_subscription,
                    update_payment_method_url: l.update_subscription_payment_method,
                })
                .collect(),
        }
    }
}

/// `POST /v1/subscriptions/portal` (any body is ignored: nothing in it is trusted).
pub async fn portal(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let (s, (current, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        batch.push(subscriptions::current_statement(id))
    })
    .await?;
    ctx.config.paddle.api_key.as_ref()?;
    let customer_id = s.overseer.paddle_customer_id.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NoBillingCustomer,
            "No Paddle customer yet: subscribe first",
        )
    })?;
    if !valid_customer_id(customer_id) {
        return Err(ApiError::internal("stored Paddle customer id is malformed"));
    }
    // Deep links only for a live subscription of this very customer (Paddle refuses others).
    let current: Option<SubscriptionRow> = out.take(current).first()?;
    let subscription_ids: Vec<String> = current
        .filter(|c| c.status != Status::Canceled && c.customer_id.as_deref() == Some(customer_id))
        .map(|c| c.id)
        .into_iter()
        .collect();
    let session = ctx
        .services
        .paddle
        .create_portal_session(customer_id, &subscription_ids)
        .await
        .map_err(|e| paddle_failed(ctx, &e))?;
    Ok(Reply::ok(&Portal::from(session)))
}

/// The answer to a failed Paddle call; the detail goes to the log only (it never holds a link).
fn paddle_failed(ctx: &Ctx<'_>, e: &PaddleApiError) -> ApiError {
    log::warn(
        &json!({"request_id": ctx.request_id, "task": "paddle_portal",
        "outcome": "failed", "detail": e.to_string()}),
    );
    match e {
        PaddleApiError::NotConfigured => {
            ApiError::new(ErrorCode::ConfigurationError, "Service unavailable")
        }
        PaddleApiError::Transport(_) => ApiError::new(
            ErrorCode::PaddleUnavailable,
            "The billing provider is unreachable; try again shortly",
        ),
        PaddleApiError::Status(_) | PaddleApiError::Response(_) => ApiError::new(
            ErrorCode::PaddleError,
            "The billing provider could not open the portal",
        ),
    }
}
