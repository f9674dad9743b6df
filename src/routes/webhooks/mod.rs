//! `POST /v1/webhooks/paddle` (`api.md` 7.1): rate limit, size, configuration, signature over
//! the raw bytes, envelope, dedup, dispatch, and one D1 batch holding every effect of the event
//! together with its `webhook_events` row. Work that must follow the commit (Paddle calls, KV
//! challenge updates) is deferred until after the response.
//!
//! Where the spec leaves room, this module decides:
//! * an event with `occurred_at` *equal* to the stored one is applied (only older is stale);
//! * a `transaction.completed` whose `txn_…` was already applied is answered `ignored` (no effect);
//! * a `transaction.completed` that is not a shadow claim stays ignored (api.md 7.4), also when it
//!   names a mirrored subscription: a payment problem ends with the `subscription.*` event that
//!   brings the subscription back to `active` (`payment.rs`), so the v1 answers are unchanged;
//! * a late shadow payment is stored with an empty validity (`valid_from = valid_until = now`);
//! * rejected links are audited without an overseer tag: the named overseer is untrusted input;
//! * an entity whose fields have the wrong types is an incomplete event: `200 ignored`, never 400
//!   (the envelope alone decides `invalid_payload`);
//! * a `subscription.*` batch starts with a guard on the state it was decided on (api.md 3.5), so
//!   its upsert and its effects commit together only if no concurrent event changed that state;
//!   otherwise the event is decided again (then it is stale and ignored, or its effects are
//!   computed from the newer state).

mod customer;
mod payment;
mod shadow_payment;
mod subscription;

use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::payment_problem::{ProblemKind, Signal};
use crate::domain::rate_limit::Bucket;
use crate::http::{body, ApiError, ErrorCode, Reply};
use crate::log;
use crate::paddle::calls;
use crate::paddle::event::{parse_envelope, Envelope, EventKind};
use crate::paddle::signature;
use crate::routes::rate_limit;
use crate::store::batch::Batch;
use crate::store::webhooks::{self, Delivery, Outcome};
use crate::store::{Constraint, Statement, StoreError};

/// Decisions per delivery: a guarded batch refused because a concurrent event changed the state
/// it was decided on is decided again on the new state, at most this many times in all (then
/// `500`, and Paddle delivers again later).
const MAX_ATTEMPTS: u32 = 3;

/// What a handler decided for one event.
pub(crate) enum Decision {
    /// Apply `batch` (the `webhook_events` row is added), then run `after`.
    Apply {
        batch: Batch,
        after: Vec<AfterCommit>,
    },
    /// Record the event as ignored, with `batch` (e.g. a `*.link_rejected` audit row).
    Ignore { why: &'static str, batch: Batch },
}

impl Decision {
    pub(crate) fn ignore(why: &'static str) -> Self {
        Decision::Ignore {
            why,
            batch: Batch::new(),
        }
    }

    /// Ignored, recording `stmt` (an audit row) with the event.
    pub(crate) fn ignored_with(why: &'static str, stmt: Statement) -> Self {
        let mut batch = Batch::new();
        batch.push(stmt);
        Decision::Ignore { why, batch }
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

/// How a delivery ended.
enum Delivered {
    /// The event was recorded before (or by a concurrent delivery that won the race).
    Duplicate,
    /// Its effects committed.
    Processed(Vec<AfterCommit>),
    /// Recorded as ignored, for this reason.
    Ignored(&'static str),
}

/// `POST /v1/webhooks/paddle`
pub async fn paddle(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::Webhook, ctx.ip().unwrap_or("unknown")).await?;
    let envelope = authenticate(ctx)?;
    match deliver(ctx, &envelope).await? {
        Delivered::Duplicate => {
            log_outcome(ctx, &envelope, "duplicate", None);
            Ok(Reply::ok(&json!({"received": true, "duplicate": true})))
        }
        Delivered::Ignored(why) => {
            log_outcome(ctx, &envelope, "ignored", Some(why));
            Ok(Reply::ok(&json!({"received": true, "ignored": true})))
        }
        Delivered::Processed(after) => {
            log_outcome(ctx, &envelope, "processed", None);
            for task in after {
                schedule(ctx, task);
            }
            Ok(Reply::ok(&json!({"received": true})))
        }
    }
}

/// Size, configuration, the signature over the raw bytes, then the envelope.
fn authenticate(ctx: &Ctx<'_>) -> Result<Envelope, ApiError> {
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
    parse_envelope(raw).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            format!("Invalid webhook payload: {e}"),
        )
    })
}

/// Dedup, decide, and commit the decision with the event's `webhook_events` row.
async fn deliver(ctx: &Ctx<'_>, envelope: &Envelope) -> Result<Delivered, ApiError> {
    let db = ctx.db();
    let delivery = Delivery {
        event_id: &envelope.event_id,
        event_type: &envelope.event_type,
        notification_id: envelope.notification_id.as_deref(),
        occurred_at_us: envelope.occurred_at_us,
    };
    let mut attempt = 1;
    loop {
        if webhooks::seen(db, &envelope.event_id).await? {
            return Ok(Delivered::Duplicate);
        }
        let (mut batch, outcome, delivered) = match dispatch(ctx, envelope).await? {
            Decision::Apply { batch, after } => {
                (batch, Outcome::Processed, Delivered::Processed(after))
            }
            Decision::Ignore { why, batch } => (batch, Outcome::Ignored, Delivered::Ignored(why)),
        };
        batch.push(webhooks::record(&delivery, outcome, ctx.now_ms));
        match batch.run(db).await {
            Ok(_) => return Ok(delivered),
            // A pre-state guard refused: a concurrent event changed what this one was decided
            // on, and nothing of it was committed. Decide again on the new state.
            Err(StoreError::Conflict(Constraint::Check, _)) if attempt < MAX_ATTEMPTS => {
                attempt += 1;
            }
            // The event row lost a race with a concurrent delivery of the same event: nothing of
            // this delivery was committed and the other one applied the effects.
            Err(e) if e.is_unique_violation() && webhooks::seen(db, &envelope.event_id).await? => {
                return Ok(Delivered::Duplicate);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn dispatch(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    let kind = env.kind();
    if kind.is_subscription() {
        return subscription::handle(ctx, env).await;
    }
    match kind {
        EventKind::TransactionCompleted => shadow_payment::handle(ctx, env).await,
        EventKind::TransactionPaymentFailed => {
            payment::handle(ctx, env, Signal::Problem(ProblemKind::PaymentFailed)).await
        }
        EventKind::TransactionPastDue => {
            payment::handle(ctx, env, Signal::Problem(ProblemKind::PastDue)).await
        }
        EventKind::CustomerCreated => customer::handle(ctx, env).await,
        _ => Ok(Decision::ignore("unhandled event type")),
    }
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
            calls::defer_cancel(ctx, subscription_id);
        }
        AfterCommit::CompleteShadowChallenge {
            challenge_id,
            agent_id,
            transaction_id,
        } => shadow_payment::defer_complete_challenge(ctx, challenge_id, agent_id, transaction_id),
    }
}
