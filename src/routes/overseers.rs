//! Overseer accounts (api.md 2.6): sign-up and log-in with e-mail and password, sessions as
//! Bearer tokens and HttpOnly cookies, logout everywhere at once, and the self views.

use http::header::{HeaderValue, SET_COOKIE};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::password;
use crate::auth::session::{self, AccountKind};
use crate::ctx::Ctx;
use crate::domain::ids::uuid_v4;
use crate::domain::overseer::{self, OverseerRow, OverseerView};
use crate::domain::rate_limit::Bucket;
use crate::domain::subscription;
use crate::domain::text;
use crate::domain::time::rfc3339_ms;
use crate::http::body::{self, JsonBody};
use crate::http::pagination::{Cursor, Page};
use crate::http::query;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::rate_limit;
use crate::stmt;
use crate::store::Statement;

/// An audit event by an overseer about itself.
fn own_event<'a>(kind: &'static str, overseer_id: &'a str) -> Event<'a> {
    Event {
        kind,
        actor_type: "overseer",
        actor_id: Some(overseer_id),
        subject_type: Some("overseer"),
        subject_id: Some(overseer_id),
        overseer_id: Some(overseer_id),
        agent_id: None,
        details: json!({}),
    }
}

#[derive(Serialize)]
struct Authenticated<'a> {
    success: bool,
    overseer: OverseerView<'a>,
    session_id: &'a str,
    expires_in: i64,
}

/// Answers a new session in the body and as the cookie.
async fn signed_in(
    ctx: &Ctx<'_>,
    overseer: &OverseerRow,
    status: StatusCode,
) -> Result<Reply, ApiError> {
    let session = session::create(
        ctx,
        AccountKind::Overseer,
        &overseer.id,
        overseer.session_epoch,
    )
    .await?;
    let cookie = session::cookie(Some(&session.session_id), session.expires_in);
    let reply = Reply::json(
        status,
        &Authenticated {
            success: true,
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
    let taken = !ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE email = ?1",
            email.as_str()
        ))
        .await?
        .rows
        .is_empty();
    if taken {
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
    };
    let hash = password::hash(ctx.rng(), password, ctx.config.bcrypt_cost)?;
    let insert = stmt!(
        "INSERT INTO overseers (id, kind, name, email, password_hash, session_epoch, created_at, updated_at) \
         VALUES (?1, 'human', ?2, ?3, ?4, 0, ?5, ?5)",
        row.id.as_str(),
        row.name.as_deref(),
        row.email.as_deref(),
        hash,
        row.created_at
    );
    let registered = audit::insert(ctx, &own_event("overseer.registered", &row.id))?;
    let login = audit::insert(ctx, &own_event("overseer.login", &row.id))?;
    match ctx.services.db.batch(vec![insert, registered, login]).await {
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
    signed_in(ctx, &row, StatusCode::CREATED).await
}

fn email_taken() -> ApiError {
    ApiError::new(
        ErrorCode::EmailTaken,
        "An account with this email already exists",
    )
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(flatten)]
    overseer: OverseerRow,
    password_hash: String,
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
        return Err(overseer::too_long());
    }
    rate_limit(ctx, Bucket::OverseerLoginEmail, &email).await?;
    let found: Option<Credentials> = ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT {}, password_hash FROM overseers WHERE email = ?1 AND kind = 'human'",
                OverseerRow::COLUMNS
            ),
            vec![email.as_str().into()],
        ))
        .await?
        .first()?;
    let Some(c) = found else {
        password::verify_nothing(password, ctx.config.bcrypt_cost);
        return Err(invalid_credentials());
    };
    if !password::verify(password, &c.password_hash) {
        audit::record(ctx, &own_event("overseer.login_failed", &c.overseer.id)).await?;
        return Err(invalid_credentials());
    }
    audit::record(ctx, &own_event("overseer.login", &c.overseer.id)).await?;
    signed_in(ctx, &c.overseer, StatusCode::OK).await
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "Invalid email or password")
}

#[derive(Serialize)]
struct Message {
    success: bool,
    message: &'static str,
}

/// `POST /v1/overseers/logout`: every session of the overseer ends (epoch + 1), and this
/// one is also marked revoked; the cookie is cleared.
pub async fn logout(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    ctx.services
        .db
        .batch(vec![
            stmt!(
                "UPDATE overseers SET session_epoch = session_epoch + 1, updated_at = ?2 WHERE id = ?1",
                s.overseer.id.as_str(),
                ctx.now_ms
            ),
            audit::insert(ctx, &own_event("overseer.logout", &s.overseer.id))?,
        ])
        .await?;
    session::revoke(ctx, &s.token_hash, s.expires_at_ms).await?;
    let cookie = session::cookie(None, 0);
    Ok(Reply::ok(&Message {
        success: true,
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
    subscription: crate::domain::subscription::SubscriptionView,
}

#[derive(Serialize)]
struct Me<'a> {
    success: bool,
    overseer: MeOverseer<'a>,
}

/// `GET /v1/overseers/me`
pub async fn me(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let current = subscription::current(ctx.db(), &s.overseer).await?;
    let subscription = subscription::view(ctx.db(), current.as_ref()).await?;
    Ok(Reply::ok(&Me {
        success: true,
        overseer: MeOverseer {
            overseer: s.overseer.view(),
            paddle_customer_id: s.overseer.paddle_customer_id.as_deref(),
            paddle_subscription_id: current
                .as_ref()
                .filter(|c| c.status != "canceled")
                .map(|c| c.id.as_str()),
            subscription,
        },
    }))
}

#[derive(Deserialize)]
struct OverseenRow {
    id: String,
    name: String,
    description: Option<String>,
    public_key: String,
    created_at: i64,
    claimed_at: i64,
    marked_for_cancellation: i64,
    oauth_count: i64,
    clients_registered: i64,
}

/// An actively overseen agent as its overseer sees it.
#[derive(Serialize)]
pub struct OverseenAgent {
    id: String,
    name: String,
    description: Option<String>,
    public_key: String,
    created_at: String,
    claimed_at: String,
    marked_for_cancellation: bool,
    oauth_count: i64,
    clients_registered: i64,
}

/// The agents an overseer actively oversees, most recently claimed first; `oauth_count` is
/// this calendar month's.
pub async fn overseen_agents(
    ctx: &Ctx<'_>,
    overseer_id: &str,
) -> Result<Vec<OverseenAgent>, ApiError> {
    let (start, end) = crate::domain::time::month_bounds_ms(ctx.now_ms);
    let rows: Vec<OverseenRow> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT a.id, a.name, a.description, a.public_key, a.created_at, \
                    o.activated_at AS claimed_at, o.marked_for_cancellation, \
                    (SELECT COUNT(*) FROM oauth_requests r WHERE r.agent_id = a.id AND r.status = 'approved' \
                       AND r.created_at >= ?2 AND r.created_at < ?3) AS oauth_count, \
                    (SELECT COUNT(*) FROM oauth_clients c WHERE c.owner_type = 'agent' AND c.owner_id = a.id \
                       AND c.disabled = 0) AS clients_registered \
             FROM oversights o JOIN agents a ON a.id = o.agent_id \
             WHERE o.overseer_id = ?1 AND o.active = 1 ORDER BY o.activated_at DESC, a.id",
            overseer_id,
            start,
            end
        ))
        .await?
        .decode()?;
    Ok(rows
        .into_iter()
        .map(|r| OverseenAgent {
            id: r.id,
            name: r.name,
            description: r.description,
            public_key: r.public_key,
            created_at: rfc3339_ms(r.created_at),
            claimed_at: rfc3339_ms(r.claimed_at),
            marked_for_cancellation: r.marked_for_cancellation != 0,
            oauth_count: r.oauth_count,
            clients_registered: r.clients_registered,
        })
        .collect())
}

/// `GET /v1/overseers/me/agents`
pub async fn my_agents(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let s = session::require_overseer(ctx).await?;
    let agents = overseen_agents(ctx, &s.overseer.id).await?;
    Ok(Reply::ok(&json!({"success": true, "agents": agents})))
}

#[derive(Deserialize)]
struct AuditRow {
    id: String,
    r#type: String,
    actor_type: String,
    actor_id: Option<String>,
    subject_type: Option<String>,
    subject_id: Option<String>,
    details: String,
    ip: Option<String>,
    created_at: i64,
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
    let s = session::require_overseer(ctx).await?;
    let (before_ms, before_id) = page.before();
    let rows: Vec<AuditRow> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT id, type, actor_type, actor_id, subject_type, subject_id, details, ip, created_at \
             FROM audit_events WHERE overseer_id = ?1 AND (?2 IS NULL OR type = ?2) \
               AND (?3 = 0 OR created_at < ?4 OR (created_at = ?4 AND id < ?5)) \
             ORDER BY created_at DESC, id DESC LIMIT ?6",
            s.overseer.id.as_str(),
            kind,
            i64::from(page.cursor.is_some()),
            before_ms,
            before_id.as_str(),
            page.limit + 1
        ))
        .await?
        .decode()?;
    let (rows, next_cursor) = page.split(rows, |r| Cursor::new(r.created_at, &r.id));
    let me = s.overseer.id.as_str();
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .map(|r| AuditEvent {
            // The IP is shown only for the overseer's own actions.
            ip: r
                .ip
                .filter(|_| r.actor_type == "overseer" && r.actor_id.as_deref() == Some(me)),
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
        &json!({"success": true, "events": events, "next_cursor": next_cursor}),
    ))
}
