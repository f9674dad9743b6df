//! Access and refresh tokens as stored (api.md 3.3): an access token is valid only while its
//! signature, its issuance row, its grant, its client and the agent's blocks all agree.

use serde::Deserialize;

use crate::ctx::Ctx;
use crate::domain::ids::{opaque_token, sha256_hex};
use crate::http::ApiError;
use crate::oauth::access_token::{self, AccessClaims};
use crate::oauth::scope::Scope;
use crate::stmt;
use crate::store::Statement;

/// An access token that passed every check of security.md §4 (T1–T6).
pub struct ActiveAccess {
    pub claims: AccessClaims,
    pub grant_id: String,
    /// The client's registered key (for the compatible userinfo mode).
    pub client_key: String,
}

#[derive(Deserialize)]
struct AccessRow {
    grant_id: String,
    grant_revoked: i64,
    denied: i64,
    client_disabled: i64,
    client_key: String,
    blocked: i64,
}

/// The SQL condition "the client is blocked for the agent by its active overseer", over the
/// given column names or placeholders.
pub fn blocked(client: &str, agent: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM client_blocks b JOIN oversights o \
         ON o.overseer_id = b.overseer_id AND o.agent_id = b.agent_id AND o.active = 1 \
         WHERE b.agent_id = {agent} AND b.client_id = {client})"
    )
}

/// Checks T1–T6; `None` for anything that is not an active access token of this issuer.
pub async fn active_access(ctx: &Ctx<'_>, token: &str) -> Result<Option<ActiveAccess>, ApiError> {
    let keys = super::signing_keys(ctx)?;
    let current = keys.current.verifying_key();
    let previous = keys.previous.as_ref().map(|k| k.verifying_key());
    let mut list = vec![&current];
    list.extend(previous.as_ref());
    let Ok(claims) = access_token::verify(token, &ctx.issuer, &list, ctx.now_s()) else {
        return Ok(None);
    };
    let row: Option<AccessRow> = ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT t.grant_id, (g.revoked_at IS NOT NULL) AS grant_revoked, \
                   EXISTS (SELECT 1 FROM revoked_jtis r WHERE r.jti = t.jti) AS denied, \
                   c.disabled AS client_disabled, c.public_key AS client_key, {} AS blocked \
                 FROM access_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
                   JOIN oauth_clients c ON c.id = t.client_id JOIN agents a ON a.id = t.agent_id \
                 WHERE t.client_id = ?1 AND t.agent_id = ?2 AND t.jti = ?3",
                blocked("?1", "?2")
            ),
            vec![
                claims.client_id.as_str().into(),
                claims.sub.as_str().into(),
                claims.jti.as_str().into(),
            ],
        ))
        .await?
        .first()?;
    Ok(row
        .filter(|r| {
            r.grant_revoked == 0 && r.denied == 0 && r.client_disabled == 0 && r.blocked == 0
        })
        .map(|r| ActiveAccess {
            claims,
            grant_id: r.grant_id,
            client_key: r.client_key,
        }))
}

/// A freshly minted access token with its issuance row (to go into the caller's batch).
pub struct Minted {
    pub token: String,
    pub claims: AccessClaims,
    pub row: Statement,
}

/// Mints an access token for the grant; the row is inserted only if `guard` (an SQL condition
/// over `?9`, bound to `guard_param`) holds inside the batch — i.e. only if the statement that
/// decided single use took effect.
#[allow(clippy::too_many_arguments)]
pub fn mint(
    ctx: &Ctx<'_>,
    grant_id: &str,
    client_id: &str,
    agent_id: &str,
    scope: Scope,
    jkt: &str,
    guard: &'static str,
    guard_param: &str,
) -> Result<Minted, ApiError> {
    let keys = super::signing_keys(ctx)?;
    let mut random = [0u8; 16];
    ctx.rng().fill(&mut random)?;
    let iat = ctx.now_s();
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: agent_id.to_owned(),
        aud: client_id.to_owned(),
        client_id: client_id.to_owned(),
        scope,
        iat,
        exp: iat + ctx.config.access_token_ttl_secs,
        jti: access_token::new_jti(&random),
        jkt: jkt.to_owned(),
    };
    let token = access_token::mint(&claims, &keys.current);
    let row = Statement::new(
        format!(
            "INSERT INTO access_tokens (jti, grant_id, client_id, agent_id, jkt, scope, issued_at, expires_at) \
             SELECT ?1, ?8, ?2, ?3, ?4, ?5, ?6, ?7 WHERE {guard}"
        ),
        vec![
            claims.jti.as_str().into(),
            client_id.into(),
            agent_id.into(),
            jkt.into(),
            scope.to_string().into(),
            (iat * 1000).into(),
            (claims.exp * 1000).into(),
            grant_id.into(),
            guard_param.into(),
        ],
    );
    Ok(Minted { token, claims, row })
}

/// A new refresh token (value, stored hash).
pub fn new_refresh(ctx: &Ctx<'_>) -> Result<(String, String), ApiError> {
    let token = opaque_token(ctx.rng())?;
    let hash = sha256_hex(&token);
    Ok((token, hash))
}

/// Revokes a whole grant: every refresh and access token of the family stops working.
pub fn revoke_grant(grant_id: &str, reason: &'static str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        grant_id,
        now_ms,
        reason
    )
}
