//! Overseer accounts (api.md 2.6): sign-up and log-in with e-mail and password, sessions as
//! Bearer tokens and HttpOnly cookies, logout everywhere at once, and the self views.

use http::header::{HeaderValue, SET_COOKIE};
use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::auth::password;
use crate::auth::session::{self, AccountKind, NewSession};
use crate::ctx::Ctx;
use crate::domain::ids::uuid_v4;
use crate::domain::overseer::{self, AccountError, OverseenAgent, OverseerRow, OverseerView};
use crate::domain::rate_limit::Bucket;
use crate::domain::subscription::SubscriptionView;
use crate::domain::text;
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::http::body::{self, JsonBody};
use crate::http::pagination::{Cursor, Page};
use crate::http::query;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::rate_limit;
use crate::store::audit::{self, Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::subscriptions::SubscriptionRow;
use crate::store::{overseer_sessions, overseers, oversights, subscriptions};

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::InvalidEmail => {
                ApiError::new(ErrorCode::InvalidEmail, "Invalid email address")
            }
            AccountError::PasswordTooShort => ApiError::new(
                ErrorCode::PasswordTooShort,
                "Password must be at least 8 bytes (UTF-8)",
            ),
            AccountError::PasswordTooLong => ApiError::new(
                ErrorCode::PasswordTooLong,
                "Password must be at most 72 bytes (UTF-8)",
            ),
            AccountError::PasswordHasNul => {
                ApiError::invalid_field("password", "must not contain NUL characters")
            }
        }
    }
}

/// An audit event by an overseer about its own account.
pub(crate) fn own_event<'a>(kind: &'static str, overseer_id: &'a str) -> Event<'a> {
    Event::new(kind, Actor::Overseer(overseer_id))
        .subject(Subject::Overseer(overseer_id))
        .overseer(overseer_id)
}

#[derive(Serialize)]
struct Authenticated<'a> {
    overseer: OverseerView<'a>,
    session_id: &'a str,
    expires_in: i64,
}

/// Answers a new session in the body and as the cookie.
pub(crate) fn signed_in(
    overseer: &OverseerRow,
    session: &NewSession,
    status: StatusCode,
) -> Result<Reply, ApiError> {
    let cookie = session::cookie(Some(&session.session_id), session.expires_in);
    let reply = Reply::success(
        status,
        &Authenticated {
            overseer: overseer.view(),
            session_id: &session.session_id,
            expires_in: session.expires_in,
        },
    );
    Ok(reply.header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    ))
}

/// `POST /v1/overseers/register`
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::OverseerRegister, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let name = text::name("name", body.req_str("name")?)?;
    let email = overseer::email(body.req_str("email")?)?;
    let password = overseer::new_password(
        body.opt_str("password")?
            .ok_or_else(|| ApiError::missing_field("password"))?,
    )?;
    if overseers::email_taken(ctx.db(), &email).await? {
        return Err(email_taken());
    }
    let row = OverseerRow {
        id: uuid_v4(ctx.rng())?,
        name: Some(name),
        email: Some(email),
        paddle_customer_id: None,
        current_subscription_id: None,
        session_epoch: 0,
        created_at: ctx.now_ms,
        updated_at: ctx.now_ms,
        email_verified_at: None,
    };
    let hash = password::hash(ctx.rng(), password, ctx.config.bcrypt_cost)?;
    let stamp = ctx.stamp();
    let minted = session::mint(ctx, AccountKind::Overseer, &row.id, row.session_epoch)?;
    let mut batch = Batch::new();
    batch.push(overseers::insert_human(&row, &hash));
    batch.push(own_event("overseer.registered", &row.id).insert(&stamp));
    batch.push(own_event("overseer.login", &row.id).insert(&stamp));
    batch.push(minted.index(ctx)?);
    batch.extend(crate::routes::email_verification::send_link(
        ctx,
        &row.id,
        row.email.as_deref().unwrap_or(""),
    )?);
    match batch.run(ctx.db()).await {
        Ok(_) => {}
        Err(e) if e.is_unique_violation() => return Err(email_taken()),
        Err(e) => return Err(e.into()),
    }
    crate::paddle::calls::defer_create_customer(
        ctx,
        &row.id,
        row.email.as_deref().unwrap_or(""),
        row.name.as_deref().unwrap_or(""),
    );
    let session = minted.store(ctx).await?;
    signed_in(&row, &session, StatusCode::CREATED)
}

fn email_taken() -> ApiError {
    ApiError::new(
        ErrorCode::EmailTaken,
        "An account with this email already exists",
    )
}

/// `POST /v1/overseers/login`: one message for unknown e-mail and wrong password, and one
/// bcrypt computation either way.
pub async fn login(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::OverseerLogin, ctx.ip().unwrap_or("unknown")).await?;
    let body = JsonBody::parse(ctx.req)?;
    let email = body.req_str("email")?.trim().to_lowercase();
    let password = body
        .opt_str("password")?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::missing_field("password"))?;
    if password.len() > overseer::PASSWORD_MAX_BYTES {
        return Err(AccountError::PasswordTooLong.into());
    }
    rate_limit(ctx, Bucket::OverseerLoginEmail, &email).await?;
    let Some(c) = overseers::credentials(ctx.db(), &email).await? else {
        password::verify_nothing(password, ctx.config.bcrypt_cost);
        return Err(invalid_credentials());
    };
    if !password::verify(password, &c.password_hash) {
        ctx.audit(&own_event("overseer.login_failed", &c.overseer.id))
            .await?;
        return Err(invalid_credentials());
    }
    // The audit row and the sessions index row share the log-in's second round trip.
    let o = &c.overseer;
    let minted = session::mint(ctx, AccountKind::Overseer, &o.id, o.session_epoch)?;
    let mut batch = Batch::new();
    batch.push(own_event("overseer.login", &o.id).insert(&ctx.stamp()));
    batch.push(minted.index(ctx)?);
    batch.run(ctx.db()).await?;
    let session = minted.store(ctx).await?;
    signed_in(o, &session, StatusCode::OK)
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "Invalid email or password")
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// `POST /v1/overseers/logout`: every session of the overseer ends (epoch + 1), and this
/// one is also marked revoked; the cookie is cleared.
pub async fn logout(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let mut batch = Batch::new();
    batch.push(overseers::end_sessions(&s.overseer.id, ctx.now_ms));
    let ended = batch.push(overseer_sessions::end_all(&s.overseer.id));
    batch.push(own_event("overseer.logout", &s.overseer.id).insert(&ctx.stamp()));
    let mut out = batch.run(ctx.db()).await?;
    let others: Vec<overseer_sessions::Ended> = out.take(ended).decode()?;
    session::forget(
        ctx,
        others
            .into_iter()
            .map(|e| e.token_hash)
            .filter(|h| *h != s.token_hash)
            .collect(),
    );
    session::revoke(ctx, &s.token_hash, s.expires_at_ms).await?;
    let cookie = session::cookie(None, 0);
    Ok(Reply::ok(&Message {
        message: "Logged out",
    })
    .header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    ))
}

#[derive(Serialize)]
struct MeOverseer<'a> {
    #[serde(flatten)]
    overseer: OverseerView<'a>,
    paddle_customer_id: Option<&'a str>,
    paddle_subscription_id: Option<&'a str>,
    subscription: SubscriptionView,
    /// Whether the current address was proved by its e-mailed link (issue 12).
    email_verified: bool,
    email_verified_at: Option<String>,
}

#[derive(Serialize)]
struct Me<'a> {
    overseer: MeOverseer<'a>,
}

/// `GET /v1/overseers/me`: the session check and the current subscription in one D1 batch;
/// the tiers come from the isolate's cache.
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let cache = &ctx.services.tiers;
    let (s, ((current, tiers), mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        (
            batch.push(subscriptions::current_statement(id)),
            cache.read_into(batch),
        )
    })
    .await?;
    let tiers = cache.resolve(tiers, &mut out)?;
    let current: Option<SubscriptionRow> = out.take(current).first()?;
    let shown = tiers.get(SubscriptionView::shown_tier(current.as_ref()))?;
    let subscription = SubscriptionView::new(current.as_ref(), shown);
    Ok(Reply::ok(&Me {
        overseer: MeOverseer {
            overseer: s.overseer.view(),
            paddle_customer_id: s.overseer.paddle_customer_id.as_deref(),
            paddle_subscription_id: current
                .as_ref()
                .filter(|c| c.status != "canceled")
                .map(|c: &SubscriptionRow| c.id.as_str()),
            subscription,
            email_verified: s.overseer.email_verified_at.is_some(),
            email_verified_at: s.overseer.email_verified_at.map(rfc3339_ms),
        },
    }))
}

/// `GET /v1/overseers/me/agents`
pub async fn my_agents(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let period = month_bounds_ms(ctx.now_ms);
    let (_, (rows, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        batch.push(oversights::overseen_agents_statement(id, period))
    })
    .await?;
    let rows: Vec<oversights::OverseenAgentRow> = out.take(rows).decode()?;
    let agents: Vec<OverseenAgent> = rows.into_iter().map(OverseenAgent::from).collect();
    Ok(Reply::ok(&json!({"agents": agents})))
}

#[derive(Serialize)]
struct AuditEvent {
    id: String,
    r#type: String,
    actor_type: String,
    actor_id: Option<String>,
    subject_type: Option<String>,
    subject_id: Option<String>,
    details: serde_json::Value,
    ip: Option<String>,
    created_at: String,
}

/// `GET /v1/overseers/me/audit` (paginated, optional exact `type` filter).
pub async fn my_audit(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let page = Page::from_query(ctx.req.query.as_deref())?;
    let kind = query::pairs(ctx.req.query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v);
    let before = page.cursor.is_some().then(|| page.before());
    let before = before.as_ref().map(|(ms, id)| (*ms, id.as_str()));
    let (s, (rows, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        batch.push(audit::trail_statement(
            id,
            kind.as_deref(),
            before,
            page.limit + 1,
        ))
    })
    .await?;
    let rows: Vec<audit::TrailRow> = out.take(rows).decode()?;
    let (rows, next_cursor) = page.split(rows, |r| Cursor::new(r.created_at, &r.id));
    let me = s.overseer.id.as_str();
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .map(|r| AuditEvent {
            // The IP is shown only for the overseer's own actions.
            ip: r.ip.filter(|_| {
                r.actor_type == Actor::Overseer(me).kind() && r.actor_id.as_deref() == Some(me)
            }),
            details: serde_json::from_str(&r.details).unwrap_or_else(|_| json!({})),
            id: r.id,
            r#type: r.r#type,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            created_at: rfc3339_ms(r.created_at),
        })
        .collect();
    Ok(Reply::ok(
        &json!({"events": events, "next_cursor": next_cursor}),
    ))
}
