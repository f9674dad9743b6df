//! `POST /v1/webhooks/paddle` (`api.md` 7.1): rate limit, size, configuration, signature over
//! the raw bytes, envelope, dedup, dispatch, and one D1 batch holding every effect of the event
//! together with its `webhook_events` row. Work that must follow the commit (Paddle calls, KV
//! challenge updates) is deferred until after the response.
//!
//! Where the spec leaves room, this module decides:
//! * an event with `occurred_at` *equal* to the stored one is applied (only older is stale);
//! * a `transaction.completed` whose `txn_…` was already applied is answered `ignored` (no effect);
//! * a late shadow payment is stored with an empty validity (`valid_from = valid_until = now`);
//! * rejected links are audited without an overseer tag: the named overseer is untrusted input;
//! * an entity whose fields have the wrong types is an incomplete event: `200 ignored`, never 400
//!   (the envelope alone decides `invalid_payload`);
//! * a `subscription.*` batch starts with a guard on the state it was decided on (api.md 3.5), so
//!   its upsert and its effects commit together only if no concurrent event changed that state;
//!   otherwise the event is decided again (then it is stale and ignored, or its effects are
//!   computed from the newer state).

mod customer;
mod shadow_payment;
mod subscription;

use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::rate_limit::Bucket;
use crate::http::{body, ApiError, ErrorCode, Reply};
use crate::log;
use crate::paddle::event::{parse_envelope, Envelope, EventKind};
use crate::paddle::signature;
use crate::routes::rate_limit;
use crate::stmt;
use crate::store::{Constraint, Statement, StoreError};

/// Decisions per delivery: a guarded batch refused because a concurrent event changed the state
/// it was decided on is decided again on the new state, at most this many times in all (then
/// `500`, and Paddle delivers again later).
const MAX_ATTEMPTS: u32 = 3;

/// What a handler decided for one event.
pub(crate) enum Decision {
    /// Apply `stmts` (the `webhook_events` row is added), then run `after`.
    Apply {
        stmts: Vec<Statement>,
        after: Vec<AfterCommit>,
    },
    /// Record the event as ignored, with `stmts` (e.g. a `*.link_rejected` audit row).
    Ignore {
        why: &'static str,
        stmts: Vec<Statement>,
    },
}

impl Decision {
    pub(crate) fn ignore(why: &'static str) -> Self {
        Decision::Ignore {
            why,
            stmts: Vec::new(),
        }
    }
}

/// Work that runs after the event's batch committed, after the response.
pub(crate) enum AfterCommit {
    /// Ask Paddle to cancel a replaced subscription at the end of its period.
    CancelAtPeriodEnd(String),
    /// Mark the shadow challenge paid in KV (if it still exists).
    CompleteShadowChallenge {
        challenge_id: String,
        agent_id: String,
        transaction_id: String,
    },
}

/// `POST /v1/webhooks/paddle`
pub async fn paddle(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::Webhook, ctx.ip().unwrap_or("unknown")).await?;
    let raw = body::raw(ctx.req)?;
    let secret = ctx.config.paddle.webhook_secret.as_ref()?;
    let header = ctx.req.header("paddle-signature").ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingSignature,
            "Missing Paddle-Signature header",
        )
    })?;
    if let Err(e) = signature::verify(
        header,
        raw,
        secret,
        ctx.now_s(),
        ctx.config.paddle.webhook_tolerance_secs,
    ) {
        let mut err = ApiError::new(
            ErrorCode::InvalidWebhookSignature,
            "Invalid webhook signature",
        );
        err.extra_mut().log_detail = Some(e.to_string());
        return Err(err);
    }
    let envelope = parse_envelope(raw).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            format!("Invalid webhook payload: {e}"),
        )
    })?;
    let mut attempt = 1;
    let (after, outcome, why) = loop {
        if seen(ctx, &envelope.event_id).await? {
            return Ok(duplicate(ctx, &envelope));
        }
        let decision = dispatch(ctx, &envelope).await?;
        let (mut stmts, after, outcome, why) = match decision {
            Decision::Apply { stmts, after } => (stmts, after, "processed", None),
            Decision::Ignore { why, stmts } => (stmts, Vec::new(), "ignored", Some(why)),
        };
        stmts.push(stmt!(
            "INSERT INTO webhook_events (event_id, event_type, notification_id, occurred_at_us, outcome, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            envelope.event_id.as_str(),
            envelope.event_type.as_str(),
            envelope.notification_id.as_deref(),
            envelope.occurred_at_us,
            outcome,
            ctx.now_ms
        ));
        match ctx.services.db.batch(stmts).await {
            Ok(_) => break (after, outcome, why),
            // A pre-state guard refused: a concurrent event changed what this one was decided
            // on, and nothing of it was committed. Decide again on the new state.
            Err(StoreError::Conflict(Constraint::Check, _)) if attempt < MAX_ATTEMPTS => {
                attempt += 1;
            }
            // The event row lost a race with a concurrent delivery of the same event: nothing of
            // this delivery was committed and the other one applied the effects.
            Err(e) if e.is_unique_violation() && seen(ctx, &envelope.event_id).await? => {
                return Ok(duplicate(ctx, &envelope));
            }
            Err(e) => return Err(e.into()),
        }
    };
    if outcome == "ignored" {
        log_outcome(ctx, &envelope, "ignored", why);
        return Ok(Reply::ok(
            &json!({"success": true, "received": true, "ignored": true}),
        ));
    }
    log_outcome(ctx, &envelope, "processed", None);
    for task in after {
        schedule(ctx, task);
    }
    Ok(Reply::ok(&json!({"success": true, "received": true})))
}

async fn dispatch(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    let kind = env.kind();
    if kind.is_subscription() {
        return subscription::handle(ctx, env).await;
    }
    match kind {
        EventKind::TransactionCompleted => shadow_payment::handle(ctx, env).await,
        EventKind::CustomerCreated => customer::handle(ctx, env).await,
        _ => Ok(Decision::ignore("unhandled event type")),
    }
}

async fn seen(ctx: &Ctx<'_>, event_id: &str) -> Result<bool, ApiError> {
    Ok(!ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM webhook_events WHERE event_id = ?1",
            event_id
        ))
        .await?
        .rows
        .is_empty())
}

fn duplicate(ctx: &Ctx<'_>, env: &Envelope) -> Reply {
    log_outcome(ctx, env, "duplicate", None);
    Reply::ok(&json!({"success": true, "received": true, "duplicate": true}))
}

/// Event id, type and outcome only: never the body or the signature (security.md PW12).
fn log_outcome(ctx: &Ctx<'_>, env: &Envelope, outcome: &str, why: Option<&str>) {
    log::info(&json!({
        "request_id": ctx.request_id,
        "webhook_event_id": env.event_id,
        "webhook_event_type": env.event_type,
        "outcome": outcome,
        "reason": why,
    }));
}

fn schedule(ctx: &Ctx<'_>, task: AfterCommit) {
    match task {
        AfterCommit::CancelAtPeriodEnd(subscription_id) => {
            crate::routes::paddle_calls::defer_cancel(ctx, subscription_id);
        }
        AfterCommit::CompleteShadowChallenge {
            challenge_id,
            agent_id,
            transaction_id,
        } => shadow_payment::defer_complete_challenge(ctx, challenge_id, agent_id, transaction_id),
    }
}
