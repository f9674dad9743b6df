//! Token revocation (RFC 7009) and introspection (RFC 7662), for the owning client only.
//! Revocation always answers `{}`; introspection answers exactly `{"active": false}` for
//! anything that is not an active token of the caller.

use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::ids::sha256_hex;
use crate::domain::rate_limit::Bucket;
use crate::http::form::Form;
use crate::http::{ApiError, Reply};
use crate::oauth::discovery::{INTROSPECT_PATH, REVOKE_PATH};
use crate::oauth::scope::ScopeToken;
use crate::routes::rate_limit;
use crate::store::agents;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::clients::ClientRow;
use crate::store::grants::{self, RefreshRow, RevokedBecause};

use super::access::{active_access, verified_claims};
use super::{client_auth, invalid_request};

fn token_param(form: &Form) -> Result<&str, ApiError> {
    form.get("token")
        .ok_or_else(|| invalid_request("token is required"))
}

fn revoked_event<'a>(client: &'a ClientRow, agent_id: &'a str, kind: &'static str) -> Event<'a> {
    Event::new("oauth.token_revoked", Actor::Client(&client.id))
        .subject(Subject::Agent(agent_id))
        .agent(agent_id)
        .details(json!({ "token_type": kind }))
}

/// `POST /v1/oauth/revoke`
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::RevokeIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let client = client_auth::authenticate(ctx, &form, REVOKE_PATH).await?;
    rate_limit(ctx, Bucket::Revoke, &client.id).await?;
    let token = token_param(&form)?;
    let mut batch = Batch::new();
    if let Some(claims) = verified_claims(ctx, token).await? {
        if claims.client_id == client.id {
            // Only this access token: its jti is denylisted until it would have expired.
            batch.push(grants::deny_access(
                &claims.jti,
                claims.exp * 1000,
                ctx.now_ms,
            ));
            batch.push(revoked_event(&client, &claims.sub, "access_token").insert(&ctx.stamp()));
        }
    } else if let Some(row) = grants::find_refresh(ctx.db(), &sha256_hex(token)).await? {
        if row.client_id == client.id && !row.grant_revoked {
            batch.push(grants::revoke(
                &row.grant_id,
                RevokedBecause::Revoked,
                ctx.now_ms,
            ));
            batch.push(revoked_event(&client, &row.agent_id, "refresh_token").insert(&ctx.stamp()));
        }
    }
    if !batch.is_empty() {
        batch.run(ctx.db()).await?;
    }
    Ok(Reply::document(&json!({})))
}

/// Whether a refresh token of `client` is active now (RFC 7662 for a refresh token).
fn refresh_active(row: &RefreshRow, client: &ClientRow, now_ms: i64) -> bool {
    row.client_id == client.id
        && row.expires_at > now_ms
        && row.replaced_by.is_none()
        && !row.grant_revoked
        && !row.client_disabled
        && !row.blocked
}

/// `POST /v1/oauth/introspect`
pub async fn introspect(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::IntrospectIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let client = client_auth::authenticate(ctx, &form, INTROSPECT_PATH).await?;
    rate_limit(ctx, Bucket::Introspect, &client.id).await?;
    let token = token_param(&form)?;
    let inactive = || Ok(Reply::document(&json!({"active": false})));
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
            let name = agents::name_of(ctx.db(), &c.sub).await?;
            if let (Some(name), Some(obj)) = (name, body.as_object_mut()) {
                obj.insert("username".into(), json!(name));
            }
        }
        return Ok(Reply::document(&body));
    }
    match grants::find_refresh(ctx.db(), &sha256_hex(token)).await? {
        Some(r) if refresh_active(&r, &client, ctx.now_ms) => Ok(Reply::document(&json!({
            "active": true, "token_type": "refresh_token", "client_id": r.client_id, "sub": r.agent_id,
            "scope": r.scope, "exp": r.expires_at / 1000, "iat": r.issued_at / 1000,
        }))),
        _ => inactive(),
    }
}
