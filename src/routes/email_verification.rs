//! E-mail verification (issue 12): a one-time link sent at sign-up and on request, completed
//! with its token. `GET /v1/overseers/me` shows the state; `REQUIRE_VERIFIED_EMAIL` makes claims
//! and subscriptions wait for it ([`require_verified`]).

use http::StatusCode;
use serde::Serialize;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::email_token::{self, EmailToken, VERIFICATION_TTL_MS};
use crate::domain::overseer::OverseerRow;
use crate::domain::rate_limit::Bucket;
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::{ApiError, ErrorCode, Reply};
use crate::mail::{self, templates};
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::overseer_tokens::{self, Purpose};
use crate::store::Statement;

/// The refusal of an e-mailed link that cannot be used.
pub fn token_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::TokenInvalid,
        "This link is invalid, already used or expired",
    )
}

/// `403 email_not_verified` when `REQUIRE_VERIFIED_EMAIL` is on and `overseer` has not proved
/// its address (claims and subscriptions).
pub fn require_verified(ctx: &Ctx<'_>, overseer: &OverseerRow) -> Result<(), ApiError> {
    if ctx.config.mail.require_verified_email && overseer.email_verified_at.is_none() {
        return Err(ApiError::new(
            ErrorCode::EmailNotVerified,
            "Verify your e-mail address first (POST /v1/overseers/email-verification re-sends the link)",
        ));
    }
    Ok(())
}

/// The statements that send `overseer`'s address a verification link: a new token and its
/// e-mail, for the caller's batch (sign-up, re-send).
pub fn send_link(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    email: &str,
) -> Result<[Statement; 2], ApiError> {
    let token = EmailToken::new(ctx.rng())?;
    let msg = templates::verification(&ctx.issuer, overseer_id, email, &token.value);
    Ok([
        overseer_tokens::issue(
            &token.hash,
            Purpose::EmailVerification,
            overseer_id,
            email,
            ctx.now_ms + VERIFICATION_TTL_MS,
            ctx.now_ms,
        ),
        mail::enqueue(ctx, &msg)?,
    ])
}

fn own_event<'a>(kind: &'static str, overseer_id: &'a str) -> Event<'a> {
    Event::new(kind, Actor::Overseer(overseer_id))
        .subject(Subject::Overseer(overseer_id))
        .overseer(overseer_id)
}

#[derive(Serialize)]
struct Sent {
    message: &'static str,
}

/// `POST /v1/overseers/email-verification`: sends a new link to the session's address.
pub async fn resend(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let o = &s.overseer;
    if o.email_verified_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::EmailAlreadyVerified,
            "This e-mail address is already verified",
        ));
    }
    rate_limit(ctx, Bucket::EmailVerificationSend, &o.id).await?;
    let mut batch = Batch::new();
    batch.extend(send_link(ctx, &o.id, o.email.as_deref().unwrap_or(""))?);
    batch.push(own_event("overseer.email_verification_sent", &o.id).insert(&ctx.stamp()));
    batch.run(ctx.db()).await?;
    Ok(Reply::success(
        StatusCode::ACCEPTED,
        &Sent {
            message: "Verification e-mail sent",
        },
    ))
}

#[derive(Serialize)]
struct Verified {
    email_verified: bool,
    email_verified_at: String,
}

/// `POST /v1/overseers/email-verification/complete` `{"token"}`: no session needed (the link
/// may be opened on another device); the token alone proves the address.
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::EmailToken, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let hash = email_token::hash_of(body.req_str("token")?).ok_or_else(token_invalid)?;
    let live = overseer_tokens::live(ctx.db(), &hash, Purpose::EmailVerification, ctx.now_ms)
        .await?
        .ok_or_else(token_invalid)?;
    let consumed = overseer_tokens::consumed_by(&hash, ctx.request_id);
    let mut batch = Batch::new();
    let used = batch.push(overseer_tokens::consume(
        &hash,
        Purpose::EmailVerification,
        ctx.request_id,
        ctx.now_ms,
    ));
    batch.push(
        overseer_tokens::mark_verified(&live.overseer_id, &live.email, ctx.now_ms)
            .and_if(consumed.clone()),
    );
    let event = Event::new("overseer.email_verified", Actor::Anonymous)
        .subject(Subject::Overseer(&live.overseer_id))
        .overseer(&live.overseer_id);
    batch.push_if(event.insert(&ctx.stamp()), consumed);
    if !batch.run(ctx.db()).await?.changed(used) {
        return Err(token_invalid());
    }
    Ok(Reply::ok(&Verified {
        email_verified: true,
        email_verified_at: rfc3339_ms(ctx.now_ms),
    }))
}
