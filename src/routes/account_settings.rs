//! Account settings that need the current password (Settings page): change the password, and
//! change the e-mail address through a link sent to the new address.

use serde::Serialize;

use crate::auth::password;
use crate::auth::session::{self, OverseerSession};
use crate::ctx::Ctx;
use crate::domain::ids::{opaque_token, sha256_hex};
use crate::domain::overseer::{self, AccountError, OverseerRow};
use crate::domain::rate_limit::Bucket;
use crate::domain::time::rfc3339_ms;
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::account_mail;
use crate::routes::overseer_account::own_event;
use crate::routes::rate_limit;
use crate::store::batch::Batch;
use crate::store::email_changes::{self, PendingRow};
use crate::store::overseer_sessions::{self, Ended};
use crate::store::overseers::{self, PasswordHash};
use crate::store::{Constraint, StoreError};

/// A password field given to confirm a change: present and non-empty, at most 72 bytes (any
/// longer cannot be the password), never validated further.
pub(crate) fn confirming_password<'a>(
    body: &'a JsonBody,
    field: &str,
) -> Result<&'a str, ApiError> {
    let given = body
        .opt_str(field)?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::missing_field(field))?;
    if given.len() > overseer::PASSWORD_MAX_BYTES {
        return Err(ApiError::invalid_field(
            field,
            "is longer than any password",
        ));
    }
    Ok(given)
}

/// Checks the account's current password. Attempts count in the log-in's per-address bucket,
/// so a stolen session cannot guess the password faster than a log-in form could.
pub(crate) async fn check_password(
    ctx: &Ctx<'_>,
    s: &OverseerSession,
    stored: &PasswordHash,
    given: &str,
) -> Result<(), ApiError> {
    let email = s.overseer.email.as_deref().unwrap_or("");
    rate_limit(ctx, Bucket::OverseerLoginEmail, email).await?;
    if password::verify(given, &stored.password_hash) {
        return Ok(());
    }
    ctx.audit(&own_event("overseer.password_check_failed", &s.overseer.id))
        .await?;
    Err(ApiError::new(
        ErrorCode::WrongPassword,
        "The current password is not correct",
    ))
}

/// The session check with the password hash read alongside it (one round trip).
pub(crate) async fn session_with_hash(
    ctx: &Ctx<'_>,
) -> Result<(OverseerSession, PasswordHash), ApiError> {
    let (s, (hash, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        batch.push(overseers::password_hash(id))
    })
    .await?;
    let hash = out
        .take(hash)
        .first::<PasswordHash>()?
        .ok_or_else(|| session::invalid_session(crate::http::error::Challenge::Bearer))?;
    Ok((s, hash))
}

#[derive(Serialize)]
struct PasswordChanged {
    message: &'static str,
    sessions_ended: usize,
}

/// `POST /v1/overseers/me/password` `{"current_password", "new_password"}`: sets the new
/// password (8..72 bytes, bcrypt) and ends every other session; this one stays signed in.
pub async fn change_password(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, stored) = session_with_hash(ctx).await?;
    let body = JsonBody::parse(ctx.req)?;
    let current = confirming_password(&body, "current_password")?;
    let new = overseer::new_password(
        body.opt_str("new_password")?
            .ok_or_else(|| ApiError::missing_field("new_password"))?,
    )
    .map_err(|e| match e {
        AccountError::PasswordHasNul => {
            ApiError::invalid_field("new_password", "must not contain NUL characters")
        }
        other => other.into(),
    })?;
    check_password(ctx, &s, &stored, current).await?;
    let hash = password::hash(ctx.rng(), new, ctx.config.bcrypt_cost)?;
    let me = s.overseer.id.as_str();
    let mut batch = Batch::new();
    batch.push(overseers::set_password(me, &hash, ctx.now_ms));
    let ended = batch.push(overseer_sessions::end_others(me, &s.token_hash));
    batch.push(own_event("overseer.password_changed", me).insert(&ctx.stamp()));
    let mut out = batch.run(ctx.db()).await?;
    let ended: Vec<Ended> = out.take(ended).decode()?;
    let sessions_ended = ended.len();
    session::forget(ctx, ended.into_iter().map(|e| e.token_hash).collect());
    Ok(Reply::ok(&PasswordChanged {
        message: "Password changed; your other sessions have ended",
        sessions_ended,
    }))
}

fn email_taken() -> ApiError {
    ApiError::new(
        ErrorCode::EmailTaken,
        "An account with this email already exists",
    )
}

/// `POST /v1/overseers/me/email` `{"new_email", "password"}`: sends a link to the new address
/// (`202`); the address changes only when it is used. A newer request replaces an older one.
pub async fn request_email_change(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, stored) = session_with_hash(ctx).await?;
    let body = JsonBody::parse(ctx.req)?;
    let new_email = overseer::email(body.req_str("new_email")?)?;
    let given = confirming_password(&body, "password")?;
    if s.overseer.email.as_deref() == Some(new_email.as_str()) {
        return Err(ApiError::invalid_field(
            "new_email",
            "is already this account's address",
        ));
    }
    check_password(ctx, &s, &stored, given).await?;
    if overseers::email_taken(ctx.db(), &new_email).await? {
        return Err(email_taken());
    }
    let token = opaque_token(ctx.rng())?;
    let me = s.overseer.id.as_str();
    let mut batch = Batch::new();
    batch.push(email_changes::forget_pending(me));
    batch.push(email_changes::insert(
        &sha256_hex(&token),
        me,
        &new_email,
        ctx.now_ms,
    ));
    batch.push(own_event("overseer.email_change_requested", me).insert(&ctx.stamp()));
    batch.push(account_mail::change_link(ctx, me, &new_email, &token)?);
    batch.run(ctx.db()).await?;
    Ok(Reply::success(
        http::StatusCode::ACCEPTED,
        &serde_json::json!({
            "message": "A confirmation link was sent to the new address",
            "expires_at": rfc3339_ms(ctx.now_ms + email_changes::TTL_MS),
        }),
    ))
}

fn invalid_token() -> ApiError {
    ApiError::new(
        ErrorCode::TokenInvalid,
        "The link is invalid, used or expired",
    )
}

/// `POST /v1/overseers/me/email/confirm` `{"token"}`: the link's token, used by the account
/// that asked for the change; the address is re-checked for uniqueness and the old address is
/// told.
pub async fn confirm_email_change(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    // The session is checked first (a request without one is a 401 whatever its body); the
    // token's row is read in the same round trip when the body names one.
    let body = JsonBody::parse(ctx.req);
    let token = body.as_ref().ok().and_then(|b| b.req_str("token").ok());
    let token_hash = token.map(sha256_hex);
    let (s, (pending, mut out)) = session::require_overseer_reading(ctx, |_, batch| {
        token_hash
            .as_deref()
            .map(|h| batch.push(email_changes::by_token(h)))
    })
    .await?;
    let token = body?.req_str("token")?.to_owned();
    let (Some(pending), Some(token_hash)) = (pending, token_hash) else {
        return Err(invalid_token());
    };
    if token.len() > 128 {
        return Err(invalid_token());
    }
    let me = s.overseer.id.as_str();
    let pending: PendingRow = out
        .take(pending)
        .first()?
        .filter(|p: &PendingRow| {
            p.overseer_id == me && p.used_at.is_none() && p.expires_at > ctx.now_ms
        })
        .ok_or_else(invalid_token)?;
    if overseers::email_taken(ctx.db(), &pending.email).await? {
        return Err(email_taken());
    }
    let old_email = s.overseer.email.clone().unwrap_or_default();
    let mut batch = Batch::new();
    batch.push(email_changes::consume(&token_hash, me, ctx.now_ms));
    batch.extend(email_changes::abort_unless_consumed(
        &token_hash,
        ctx.now_ms,
    ));
    batch.push(overseers::set_verified_email(
        me,
        &pending.email,
        ctx.now_ms,
    ));
    batch.push(own_event("overseer.email_changed", me).insert(&ctx.stamp()));
    batch.push(account_mail::changed_notice(
        ctx,
        me,
        &old_email,
        &pending.email,
    )?);
    match batch.run(ctx.db()).await {
        Ok(_) => {}
        Err(StoreError::Conflict(Constraint::Check, _)) => return Err(invalid_token()),
        Err(e) if e.is_unique_violation() => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    }
    let mut overseer = s.overseer;
    overseer.email = Some(pending.email);
    overseer.email_verified_at = Some(ctx.now_ms);
    overseer.updated_at = ctx.now_ms;
    Ok(Reply::ok(
        &serde_json::json!({ "overseer": view(&overseer) }),
    ))
}

fn view(o: &OverseerRow) -> overseer::OverseerView<'_> {
    o.view()
}
