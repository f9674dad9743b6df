//! Password reset (issue 12): a request that answers and works the same for every address,
//! and its completion with the e-mailed token, which sets the password and ends every session.

use http::StatusCode;
use serde::Serialize;

use crate::auth::password;
use crate::ctx::Ctx;
use crate::domain::email_token::{self, EmailToken, RESET_TTL_MS};
use crate::domain::overseer;
use crate::domain::rate_limit::Bucket;
use crate::http::body::JsonBody;
use crate::http::{ApiError, Reply};
use crate::mail::{self, templates};
use crate::routes::email_verification::token_invalid;
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::overseer_tokens::{self, Purpose};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// `POST /v1/overseers/password-reset` `{"email"}`: `202` with the same body for every
/// well-formed address. Known or not, the request makes the same storage calls — one read and
/// one batch of the same three statements, whose INSERTs select the account and so insert
/// nothing for an unknown address — and no bcrypt.
pub async fn request(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::PasswordReset, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let email = overseer::email(body.req_str("email")?)?;
    rate_limit(ctx, Bucket::PasswordResetEmail, &email).await?;
    let token = EmailToken::new(ctx.rng())?;
    let account = overseer_tokens::account_for_address(ctx.db(), &email).await?;
    let overseer_id = account.as_deref().unwrap_or("");
    let msg = templates::password_reset(&ctx.issuer, account.as_deref(), &email, &token.value);
    let issued = overseer_tokens::issued(&token.hash);
    let event = Event::new("overseer.password_reset_requested", Actor::Anonymous)
        .subject(Subject::Overseer(overseer_id))
        .overseer(overseer_id);
    let mut batch = Batch::new();
    batch.push(overseer_tokens::issue_for_address(
        &token.hash,
        Purpose::PasswordReset,
        &email,
        ctx.now_ms + RESET_TTL_MS,
        ctx.now_ms,
    ));
    batch.push_if(mail::enqueue(ctx, &msg)?, issued.clone());
    batch.push_if(event.insert(&ctx.stamp()), issued);
    batch.run(ctx.db()).await?;
    Ok(Reply::success(
        StatusCode::ACCEPTED,
        &Message {
            message: "If an account uses this address, a reset link is on its way",
        },
    ))
}

/// `POST /v1/overseers/password-reset/complete` `{"token", "password"}`: the sign-up password
/// rule and bcrypt; every session ends, older reset links die, the address counts as verified,
/// and a notice goes to it.
pub async fn complete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::EmailToken, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let token = body.req_str("token")?;
    let new_password = overseer::new_password(
        body.opt_str("password")?
            .ok_or_else(|| ApiError::missing_field("password"))?,
    )?;
    let hash = email_token::hash_of(token).ok_or_else(token_invalid)?;
    let live = overseer_tokens::live(ctx.db(), &hash, Purpose::PasswordReset, ctx.now_ms)
        .await?
        .ok_or_else(token_invalid)?;
    let password_hash = password::hash(ctx.rng(), new_password, ctx.config.bcrypt_cost)?;
    let consumed = overseer_tokens::consumed_by(&hash, ctx.request_id);
    let id = live.overseer_id.as_str();
    let event = Event::new("overseer.password_reset", Actor::Overseer(id))
        .subject(Subject::Overseer(id))
        .overseer(id);
    let notice = templates::password_reset_done(id, &live.email);
    let mut batch = Batch::new();
    let used = batch.push(overseer_tokens::consume(
        &hash,
        Purpose::PasswordReset,
        ctx.request_id,
        ctx.now_ms,
    ));
    batch.push(
        overseer_tokens::reset_password(id, &password_hash, ctx.now_ms).and_if(consumed.clone()),
    );
    batch.push(
        overseer_tokens::void_others(id, Purpose::PasswordReset, ctx.now_ms)
            .and_if(consumed.clone()),
    );
    batch.push_if(event.insert(&ctx.stamp()), consumed.clone());
    batch.push_if(mail::enqueue(ctx, &notice)?, consumed);
    if !batch.run(ctx.db()).await?.changed(used) {
        return Err(token_invalid());
    }
    Ok(Reply::ok(&Message {
        message: "Password reset: every session was signed out; sign in with the new password",
    }))
}
