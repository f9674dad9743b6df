//! The Paddle API calls of `api.md` 7.5, always after the response: cancel at period end (sent
//! after the request that recorded `cancel_requested_at`, retried by the cron job until Paddle
//! accepts) and best-effort customer creation after an overseer signs up.

use std::rc::Rc;

use serde_json::json;

use crate::ctx::Ctx;
use crate::log;
use crate::paddle::api::PaddleApi;
use crate::store::{overseers, subscriptions, Db, StoreError};

/// Queues the Paddle call for after the response.
pub fn defer_cancel(ctx: &Ctx<'_>, subscription_id: String) {
    let db: Rc<dyn Db> = ctx.services.db.clone();
    let paddle: Rc<dyn PaddleApi> = ctx.services.paddle.clone();
    let request_id = ctx.request_id.to_owned();
    let now_ms = ctx.now_ms;
    ctx.defer(async move {
        let sent = send_cancel(
            db.as_ref(),
            paddle.as_ref(),
            &subscription_id,
            now_ms,
            Some(&request_id),
        );
        if let Err(e) = sent.await {
            log::warn(&json!({"request_id": request_id, "task": "paddle_cancel",
                "subscription_id": subscription_id, "detail": e.to_string()}));
        }
    });
}

/// Asks Paddle once. Success stores the scheduled change Paddle reports; failure counts an
/// attempt (the cron job retries). Returns whether Paddle accepted. `request_id` names the
/// request whose deferred work this is (the cron job has none), so its log line keeps it.
pub async fn send_cancel(
    db: &dyn Db,
    paddle: &dyn PaddleApi,
    subscription_id: &str,
    now_ms: i64,
    request_id: Option<&str>,
) -> Result<bool, StoreError> {
    let line = |mut fields: serde_json::Value| {
        if let Some(id) = request_id {
            fields["request_id"] = id.into();
        }
        fields
    };
    match paddle.cancel_at_period_end(subscription_id).await {
        Ok(change) => {
            let (action, at) = match &change {
                Some(c) => (Some(c.action.as_str()), c.effective_at_ms),
                None => (None, None),
            };
            subscriptions::store_scheduled_change(db, subscription_id, action, at, now_ms).await?;
            log::info(&line(
                json!({"task": "paddle_cancel", "subscription_id": subscription_id, "outcome": "accepted"}),
            ));
            Ok(true)
        }
        Err(e) => {
            subscriptions::count_cancel_attempt(db, subscription_id).await?;
            log::warn(&line(
                json!({"task": "paddle_cancel", "subscription_id": subscription_id,
                "outcome": "failed", "detail": e.to_string()}),
            ));
            Ok(false)
        }
    }
}

/// After sign-up: create the Paddle customer (best effort; skipped without `PADDLE_API_KEY`).
/// Its id is stored only if the overseer still has none; any error is logged and ignored.
pub fn defer_create_customer(ctx: &Ctx<'_>, overseer_id: &str, email: &str, name: &str) {
    let (Ok(_), Ok(key)) = (&ctx.config.paddle.api_key, &ctx.config.link_key) else {
        log::info(
            &json!({"request_id": ctx.request_id, "task": "paddle_customer",
            "outcome": "skipped", "reason": "PADDLE_API_KEY or link key not configured"}),
        );
        return;
    };
    let custom = json!({"overseer_id": overseer_id,
        "link_sig": crate::paddle::link::customer_sig(key, overseer_id)});
    let db: Rc<dyn Db> = ctx.services.db.clone();
    let paddle: Rc<dyn PaddleApi> = ctx.services.paddle.clone();
    let (overseer_id, email, name) = (overseer_id.to_owned(), email.to_owned(), name.to_owned());
    let now_ms = ctx.now_ms;
    let request_id = ctx.request_id.to_owned();
    ctx.defer(async move {
        let outcome = match paddle.create_customer(&email, &name, custom).await {
            Ok(customer_id) => db
                .run(overseers::set_customer_if_unset(
                    &overseer_id,
                    &customer_id,
                    now_ms,
                ))
                .await
                .map(|_| "created".to_owned())
                .unwrap_or_else(|e| e.to_string()),
            Err(e) => e.to_string(),
        };
        log::info(&json!({"request_id": request_id, "task": "paddle_customer",
            "overseer_id": overseer_id, "outcome": outcome}));
    });
}
