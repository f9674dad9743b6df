//! Token revocation (RFC 7009) and introspection (RFC 7662), for the owning client only.
//! Revocation always answers `{}`; introspection answers exactly `{"active": false}` for
//! anything that is not an active token of the caller.

use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event};
use crate::ctx::Ctx;
use crate::domain::ids::sha256_hex;
use crate::domain::rate_limit::Bucket;
use crate::http::form::Form;
use crate::http::{ApiError, Reply};
use crate::oauth::access_token;
use crate::oauth::discovery::{INTROSPECT_PATH, REVOKE_PATH};
use crate::oauth::scope::ScopeToken;
use crate::routes::rate_limit;
use crate::stmt;
use crate::store::clients::ClientRow;
use crate::store::Statement;

use super::tokens::{active_access, blocked, revoke_grant};
use super::{client_auth, invalid_request};

#[derive(Deserialize)]
struct RefreshRow {
    grant_id: String,
    client_id: String,
    agent_id: String,
    scope: String,
    issued_at: i64,
    expires_at: i64,
    rotated: i64,
    grant_revoked: i64,
    client_disabled: i64,
    blocked: i64,
}

async fn refresh_row(ctx: &Ctx<'_>, token: &str) -> Result<Option<RefreshRow>, ApiError> {
    Ok(ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT r.grant_id, g.client_id, g.agent_id, g.scope, r.issued_at, r.expires_at, \
                   (r.replaced_by IS NOT NULL) AS rotated, (g.revoked_at IS NOT NULL) AS grant_revoked, \
                   c.disabled AS client_disabled, {} AS blocked \
                 FROM refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id \
                   JOIN oauth_clients c ON c.id = g.client_id WHERE r.token_hash = ?1",
                blocked("g.client_id", "g.agent_id")
            ),
            vec![sha256_hex(token).into()],
        ))
        .await?
        .first()?)
}

fn token_param(form: &Form) -> Result<&str, ApiError> {
    form.get("token")
        .ok_or_else(|| invalid_request("token is required"))
}

fn revoked_event<'a>(client: &'a ClientRow, agent_id: &'a str, kind: &'static str) -> Event<'a> {
    Event {
        kind: "oauth.token_revoked",
        actor_type: "client",
        actor_id: Some(&client.id),
        subject_type: Some("agent"),
        subject_id: Some(agent_id),
        overseer_id: None,
        agent_id: Some(agent_id),
        details: json!({ "token_type": kind }),
    }
}

/// `POST /v1/oauth/revoke`
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::RevokeIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let client = client_auth::authenticate(ctx, &form, REVOKE_PATH).await?;
    rate_limit(ctx, Bucket::Revoke, &client.id).await?;
    let token = token_param(&form)?;
    let keys = super::signing_keys(ctx)?;
    let current = keys.current.verifying_key();
    let previous = keys.previous.as_ref().map(|k| k.verifying_key());
    let mut list = vec![&current];
    list.extend(previous.as_ref());
    if let Ok(claims) = access_token::verify(token, &ctx.issuer, &list, ctx.now_s()) {
        if claims.client_id == client.id {
            // Only this access token: its jti is denylisted until it would have expired.
            ctx.services
                .db
                .batch(vec![
                    stmt!(
                        "INSERT INTO revoked_jtis (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3) ON CONFLICT (jti) DO NOTHING",
                        claims.jti.as_str(),
                        claims.exp * 1000,
                        ctx.now_ms
                    ),
                    audit::insert(ctx, &revoked_event(&client, &claims.sub, "access_token"))?,
                ])
                .await?;
        }
    } else if let Some(row) = refresh_row(ctx, token).await? {
        if row.client_id == client.id && row.grant_revoked == 0 {
            ctx.services
                .db
                .batch(vec![
                    revoke_grant(&row.grant_id, "revoked", ctx.now_ms),
                    audit::insert(ctx, &revoked_event(&client, &row.agent_id, "refresh_token"))?,
                ])
                .await?;
        }
    }
    Ok(Reply::ok(&json!({})))
}

/// `POST /v1/oauth/introspect`
pub async fn introspect(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::IntrospectIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let client = client_auth::authenticate(ctx, &form, INTROSPECT_PATH).await?;
    rate_limit(ctx, Bucket::Introspect, &client.id).await?;
    let token = token_param(&form)?;
    let inactive = || Ok(Reply::ok(&json!({"active": false})));
    if let Some(access) = active_access(ctx, token).await? {
        let c = access.claims;
        if c.client_id != client.id {
            return inactive();
        }
        let mut body = json!({
            "active": true, "token_type": "DPoP", "client_id": c.client_id, "sub": c.sub, "aud": c.aud,
            "iss": c.iss, "scope": c.scope.to_string(), "exp": c.exp, "iat": c.iat, "jti": c.jti,
            "cnf": {"jkt": c.jkt},
        });
        if c.scope.contains(ScopeToken::Name) {
            #[derive(Deserialize)]
            struct Name {
                name: String,
            }
            let name: Option<Name> = ctx
                .services
                .db
                .run(stmt!(
                    "SELECT name FROM agents WHERE id = ?1",
                    c.sub.as_str()
                ))
                .await?
                .first()?;
            if let (Some(n), Some(obj)) = (name, body.as_object_mut()) {
                obj.insert("username".into(), json!(n.name));
            }
        }
        return Ok(Reply::ok(&body));
    }
    match refresh_row(ctx, token).await? {
        Some(r)
            if r.client_id == client.id
                && r.expires_at > ctx.now_ms
                && r.rotated == 0
                && r.grant_revoked == 0
                && r.client_disabled == 0
                && r.blocked == 0 =>
        {
            Ok(Reply::ok(&json!({
                "active": true, "token_type": "refresh_token", "client_id": r.client_id, "sub": r.agent_id,
                "scope": r.scope, "exp": r.expires_at / 1000, "iat": r.issued_at / 1000,
            })))
        }
        _ => inactive(),
    }
}
