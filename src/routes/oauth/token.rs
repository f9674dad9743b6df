//! The token endpoint (api.md 2.11, security.md §5, §7, §8): code redemption and refresh
//! rotation, each one D1 batch whose first conditional statement decides single use — a
//! batch that lost the race writes nothing and is answered as a reuse.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::dpop_request::HeaderProof;
use crate::ctx::Ctx;
use crate::domain::ids::{sha256_hex, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::http::form::Form;
use crate::http::{ApiError, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::discovery::TOKEN_PATH;
use crate::oauth::pkce;
use crate::oauth::scope::{self, Scope};
use crate::routes::rate_limit;
use crate::stmt;
use crate::store::clients::ClientRow;
use crate::store::{Statement, Value};

use super::tokens::{self, blocked};
use super::{client_auth, client_proof, invalid_grant, invalid_request, oauth_error};

#[derive(Serialize)]
struct Issued<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: &'a str,
    scope: String,
}

fn dpop_error(error: &'static str, description: &'static str) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// `POST /v1/oauth/token`
pub async fn token(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::TokenIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is required"))?;
    let client = client_auth::authenticate(ctx, &form, TOKEN_PATH).await?;
    rate_limit(ctx, Bucket::Token, &client.id).await?;
    if client.disabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client is disabled",
        ));
    }
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type is not supported",
        ));
    }
    let proof = match client_proof(ctx, None, None).await? {
        HeaderProof::Verified(p) => Some(p),
        HeaderProof::Absent if client.dpop_bound_access_tokens => {
            return Err(dpop_error(
                "invalid_dpop_proof",
                "this client must send a DPoP proof",
            ))
        }
        HeaderProof::Absent => None,
        HeaderProof::Invalid(reason) => return Err(dpop_error("invalid_dpop_proof", reason)),
        HeaderProof::UseNonce(nonce) => {
            let mut e = dpop_error(
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
            );
            e.extra_mut().dpop_nonce = Some(nonce);
            return Err(e);
        }
    };
    // Key binding: the proof's key, or (compatible mode) the client's registered key.
    let jkt = match &proof {
        Some(p) => p.thumbprint.clone(),
        None => client.key_thumbprint.clone(),
    };
    let (access, refresh, scope) = if grant_type == "authorization_code" {
        redeem_code(
            ctx,
            &form,
            &client,
            proof.as_ref().map(|p| p.thumbprint.as_str()),
            &jkt,
        )
        .await?
    } else {
        rotate_refresh(ctx, &form, &client, &jkt).await?
    };
    Ok(Reply::ok(&Issued {
        access_token: &access,
        token_type: "DPoP",
        expires_in: ctx.config.access_token_ttl_secs,
        refresh_token: &refresh,
        scope: scope.to_string(),
    }))
}

#[derive(Deserialize)]
struct CodeRow {
    id: String,
    client_id: String,
    agent_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    dpop_jkt: Option<String>,
    oauth_request_id: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
    grant_id: Option<String>,
    blocked: i64,
}

fn client_event<'a>(
    kind: &'static str,
    client: &'a ClientRow,
    agent_id: &'a str,
    details: serde_json::Value,
) -> Event<'a> {
    Event {
        kind,
        actor_type: "client",
        actor_id: Some(&client.id),
        subject_type: Some("agent"),
        subject_id: Some(agent_id),
        overseer_id: None,
        agent_id: Some(agent_id),
        details,
    }
}

/// `grant_type=authorization_code`: PKCE, exact redirect URI, `dpop_jkt`, single use; a
/// second redemption revokes the grant the first one created (security.md A5).
async fn redeem_code(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    proof_jkt: Option<&str>,
    jkt: &str,
) -> Result<(String, String, Scope), ApiError> {
    let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri")) else {
        return Err(invalid_request("code and redirect_uri are required"));
    };
    let verifier = form
        .get("code_verifier")
        .filter(|v| pkce::is_valid_verifier(v))
        .ok_or_else(|| invalid_grant("code_verifier is missing or malformed"))?;
    let code_hash = sha256_hex(code);
    let row: CodeRow = ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT k.id, k.client_id, k.agent_id, k.redirect_uri, k.code_challenge, k.scope, k.dpop_jkt, \
                   k.oauth_request_id, k.expires_at, k.used_at, k.grant_id, \
                   {} AS blocked FROM authorization_codes k WHERE k.code_hash = ?1",
                blocked("k.client_id", "k.agent_id")
            ),
            vec![code_hash.as_str().into()],
        ))
        .await?
        .first()?
        .ok_or_else(|| invalid_grant("authorization code is invalid or expired"))?;
    if row.client_id != client.id || row.expires_at <= ctx.now_ms {
        return Err(invalid_grant("authorization code is invalid or expired"));
    }
    if row.used_at.is_some() {
        return Err(code_reuse(ctx, client, &row).await?);
    }
    if !pkce::verify(verifier, &row.code_challenge) {
        return Err(invalid_grant(
            "code_verifier does not match the code challenge",
        ));
    }
    if row.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if let Some(bound) = &row.dpop_jkt {
        if proof_jkt != Some(bound.as_str()) {
            return Err(invalid_grant("the code is bound to another DPoP key"));
        }
    }
    if row.blocked != 0 {
        return Err(invalid_grant("the client is blocked for this agent"));
    }
    let scope = Scope::parse(&row.scope).map_err(|_| ApiError::internal("stored scope invalid"))?;

    let now = ctx.now_ms;
    let grant_id = uuid_v4(ctx.rng())?;
    let (refresh, refresh_hash) = tokens::new_refresh(ctx)?;
    // Every later statement runs only if the first one claimed the code for this grant.
    const GRANTED: &str = "EXISTS (SELECT 1 FROM oauth_grants WHERE id = ?9)";
    let minted = tokens::mint(
        ctx,
        &grant_id,
        &client.id,
        &row.agent_id,
        scope,
        jkt,
        GRANTED,
        &grant_id,
    )?;
    let claim = stmt!(
        "UPDATE authorization_codes SET used_at = ?2, grant_id = ?3 WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2",
        row.id.as_str(),
        now,
        grant_id.as_str()
    );
    let grant = stmt!(
        "INSERT INTO oauth_grants (id, client_id, agent_id, scope, code_id, created_at, last_used_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6 WHERE EXISTS (SELECT 1 FROM authorization_codes WHERE id = ?5 AND grant_id = ?1)",
        grant_id.as_str(),
        client.id.as_str(),
        row.agent_id.as_str(),
        row.scope.as_str(),
        row.id.as_str(),
        now
    );
    let refresh_row = stmt!(
        "INSERT INTO refresh_tokens (id, grant_id, token_hash, issued_at, expires_at) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM oauth_grants WHERE id = ?2)",
        uuid_v4(ctx.rng())?,
        grant_id.as_str(),
        refresh_hash.as_str(),
        now,
        now + ctx.config.refresh_token_ttl_secs * 1000
    );
    let exchanged = stmt!(
        "UPDATE oauth_requests SET exchanged_at = ?2 WHERE id = ?1 AND EXISTS (SELECT 1 FROM oauth_grants WHERE id = ?3)",
        row.oauth_request_id.as_deref(),
        now,
        grant_id.as_str()
    );
    let audit_row = audit::insert_where(
        ctx,
        &client_event(
            "oauth.token_issued",
            client,
            &row.agent_id,
            json!({"grant_id": grant_id, "grant_type": "authorization_code"}),
        ),
        Some((
            "EXISTS (SELECT 1 FROM oauth_grants WHERE id = ?13)",
            vec![Value::from(grant_id.as_str())],
        )),
    )?;
    let outcomes = ctx
        .services
        .db
        .batch(vec![
            claim,
            grant,
            refresh_row,
            minted.row,
            exchanged,
            audit_row,
        ])
        .await?;
    if outcomes.first().map_or(0, |o| o.changes) != 1 {
        // A concurrent redemption won: this is a reuse.
        let now_row = CodeRow {
            used_at: Some(now),
            grant_id: None,
            ..row
        };
        return Err(code_reuse(ctx, client, &now_row).await?);
    }
    Ok((minted.token, refresh, scope))
}

/// A code presented again: revoke what its first redemption produced, then refuse.
async fn code_reuse(
    ctx: &Ctx<'_>,
    client: &ClientRow,
    row: &CodeRow,
) -> Result<ApiError, ApiError> {
    let grant_id = match &row.grant_id {
        Some(g) => Some(g.clone()),
        None => {
            #[derive(Deserialize)]
            struct G {
                grant_id: Option<String>,
            }
            ctx.services
                .db
                .run(stmt!(
                    "SELECT grant_id FROM authorization_codes WHERE id = ?1",
                    row.id.as_str()
                ))
                .await?
                .first::<G>()?
                .and_then(|g| g.grant_id)
        }
    };
    if let Some(grant_id) = grant_id {
        ctx.services
            .db
            .batch(vec![
                tokens::revoke_grant(&grant_id, "code_reuse", ctx.now_ms),
                audit::insert(
                    ctx,
                    &client_event(
                        "oauth.code_reuse_detected",
                        client,
                        &row.agent_id,
                        json!({"grant_id": grant_id}),
                    ),
                )?,
            ])
            .await?;
    }
    Ok(invalid_grant("authorization code has already been used"))
}

#[derive(Deserialize)]
struct RefreshRow {
    id: String,
    grant_id: String,
    expires_at: i64,
    replaced_by: Option<String>,
    client_id: String,
    agent_id: String,
    scope: String,
    grant_revoked: i64,
    blocked: i64,
}

/// `grant_type=refresh_token`: rotation with reuse detection (security.md §8).
async fn rotate_refresh(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    jkt: &str,
) -> Result<(String, String, Scope), ApiError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is required"))?;
    let row: RefreshRow = ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT r.id, r.grant_id, r.expires_at, r.replaced_by, g.client_id, g.agent_id, g.scope, \
                   (g.revoked_at IS NOT NULL) AS grant_revoked, {} AS blocked \
                 FROM refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id WHERE r.token_hash = ?1",
                blocked("g.client_id", "g.agent_id")
            ),
            vec![sha256_hex(presented).into()],
        ))
        .await?
        .first()?
        .ok_or_else(|| invalid_grant("refresh token is invalid"))?;
    // Another client's token: refused with no side effects (F5).
    if row.client_id != client.id {
        return Err(invalid_grant("refresh token is invalid"));
    }
    if row.grant_revoked != 0 {
        return Err(invalid_grant("the grant has been revoked"));
    }
    if row.replaced_by.is_some() {
        return Err(refresh_reuse(ctx, client, &row).await?);
    }
    if row.expires_at <= ctx.now_ms {
        return Err(invalid_grant("refresh token has expired"));
    }
    if row.blocked != 0 {
        return Err(invalid_grant("the client is blocked for this agent"));
    }
    let grant_scope =
        Scope::parse(&row.scope).map_err(|_| ApiError::internal("stored scope invalid"))?;
    let scope = match form.get("scope") {
        None => grant_scope,
        Some(requested) => scope::granted(Some(requested), Some(&grant_scope))
            .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string()))?,
    };

    let now = ctx.now_ms;
    let new_id = uuid_v4(ctx.rng())?;
    let (refresh, refresh_hash) = tokens::new_refresh(ctx)?;
    let rotate = stmt!(
        "UPDATE refresh_tokens SET rotated_at = ?2, replaced_by = ?3 WHERE id = ?1 AND replaced_by IS NULL",
        row.id.as_str(),
        now,
        new_id.as_str()
    );
    let successor = stmt!(
        "INSERT INTO refresh_tokens (id, grant_id, token_hash, issued_at, expires_at) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?6 AND replaced_by = ?1)",
        new_id.as_str(),
        row.grant_id.as_str(),
        refresh_hash.as_str(),
        now,
        now + ctx.config.refresh_token_ttl_secs * 1000,
        row.id.as_str()
    );
    // The access token row follows only if this request's successor was inserted.
    const SUCCEEDED: &str = "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?9)";
    let minted = tokens::mint(
        ctx,
        &row.grant_id,
        &client.id,
        &row.agent_id,
        scope,
        jkt,
        SUCCEEDED,
        &new_id,
    )?;
    let touch = stmt!(
        "UPDATE oauth_grants SET last_used_at = ?2 WHERE id = ?1",
        row.grant_id.as_str(),
        now
    );
    let audit_row = audit::insert_where(
        ctx,
        &client_event(
            "oauth.token_refreshed",
            client,
            &row.agent_id,
            json!({"grant_id": row.grant_id}),
        ),
        Some((
            "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?13)",
            vec![Value::from(new_id.as_str())],
        )),
    )?;
    let outcomes = ctx
        .services
        .db
        .batch(vec![rotate, successor, minted.row, touch, audit_row])
        .await?;
    if outcomes.get(1).map_or(0, |o| o.changes) != 1 {
        return Err(refresh_reuse(ctx, client, &row).await?);
    }
    Ok((minted.token, refresh, scope))
}

/// A rotated refresh token presented again: the whole grant is revoked (F3, F4).
async fn refresh_reuse(
    ctx: &Ctx<'_>,
    client: &ClientRow,
    row: &RefreshRow,
) -> Result<ApiError, ApiError> {
    ctx.services
        .db
        .batch(vec![
            tokens::revoke_grant(&row.grant_id, "refresh_reuse", ctx.now_ms),
            audit::insert(
                ctx,
                &client_event(
                    "oauth.refresh_reuse_detected",
                    client,
                    &row.agent_id,
                    json!({"grant_id": row.grant_id}),
                ),
            )?,
        ])
        .await?;
    Ok(invalid_grant("refresh token has already been used"))
}

/// The client's registered key, for the compatible userinfo mode.
pub fn client_key(client_key: &str) -> Result<Ed25519PublicKey, ApiError> {
    Ed25519PublicKey::parse(client_key).map_err(|_| ApiError::internal("stored client key invalid"))
}
