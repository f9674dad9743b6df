//! The overseer's sessions (Settings page): list them, end one, end all the others. The list is
//! the D1 sessions index written at log-in; ending a session deletes its row, which the session
//! check refuses at once, and removes its KV record after the response.

use http::header::{HeaderValue, SET_COOKIE};
use serde::Serialize;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::time::rfc3339_ms;
use crate::http::body;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::routes::overseer_account::own_event;
use crate::store::batch::Batch;
use crate::store::overseer_sessions::{self, Ended, SessionRow};

#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    /// The session this request was made with.
    current: bool,
}

/// `GET /v1/overseers/me/sessions`: the session check and the list in one round trip.
pub async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, (rows, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        batch.push(overseer_sessions::list(id, ctx.now_ms))
    })
    .await?;
    let rows: Vec<SessionRow> = out.take(rows).decode()?;
    let sessions: Vec<SessionView> = rows
        .into_iter()
        .map(|r| SessionView {
            current: r.token_hash == s.token_hash,
            id: r.id,
            created_at: rfc3339_ms(r.created_at),
            expires_at: rfc3339_ms(r.expires_at),
            user_agent: r.user_agent,
            ip: r.ip,
        })
        .collect();
    Ok(Reply::ok(&serde_json::json!({ "sessions": sessions })))
}

fn session_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::SessionNotFound,
        "No such session of this account",
    )
}

/// `DELETE /v1/overseers/me/sessions/{session_id}`: ends one of the overseer's sessions (the
/// current one too, which also clears the cookie). Another account's session is not found.
pub async fn end_one(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let id = canonical_uuid(ctx.param("session_id")).ok_or_else(session_not_found)?;
    let me = s.overseer.id.as_str();
    let mut batch = Batch::new();
    batch.push_if(
        own_event("overseer.session_ended", me).insert(&ctx.stamp()),
        overseer_sessions::exists(me, &id),
    );
    let ended = batch.push(overseer_sessions::end_one(me, &id));
    let mut out = batch.run(ctx.db()).await?;
    let ended: Vec<Ended> = out.take(ended).decode()?;
    let Some(ended) = ended.into_iter().next() else {
        return Err(session_not_found());
    };
    let was_current = ended.token_hash == s.token_hash;
    session::forget(ctx, vec![ended.token_hash]);
    let reply = Reply::ok(&serde_json::json!({
        "message": "Session ended", "session_id": id, "current": was_current,
    }));
    if !was_current {
        return Ok(reply);
    }
    let cookie = session::cookie(None, 0);
    Ok(reply.header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    ))
}

/// `DELETE /v1/overseers/me/sessions`: ends every session of the overseer but this one.
pub async fn end_others(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let me = s.overseer.id.as_str();
    let mut batch = Batch::new();
    let ended = batch.push(overseer_sessions::end_others(me, &s.token_hash));
    batch.push(own_event("overseer.sessions_ended", me).insert(&ctx.stamp()));
    let mut out = batch.run(ctx.db()).await?;
    let ended: Vec<Ended> = out.take(ended).decode()?;
    let count = ended.len();
    session::forget(ctx, ended.into_iter().map(|e| e.token_hash).collect());
    Ok(Reply::ok(&serde_json::json!({
        "message": "Other sessions ended", "ended": count,
    })))
}
