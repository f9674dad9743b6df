//! The token endpoint (api.md 2.11, security.md §5, §7, §8): code redemption and refresh
//! rotation, each one D1 batch whose first conditional statement decides single use — a
//! batch that lost the race writes nothing and is answered as a reuse.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::auth::dpop::VerifiedProof;
use crate::auth::dpop_request::HeaderProof;
use crate::ctx::Ctx;
use crate::domain::ids::{opaque_token, sha256_hex, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::http::form::Form;
use crate::http::{ApiError, Reply};
use crate::oauth::discovery::TOKEN_PATH;
use crate::oauth::pkce;
use crate::oauth::scope::{self, Scope};
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::clients::ClientRow;
use crate::store::grants::{
    self, CodeRow, NewRefresh, RedeemOutcome, Redemption, RefreshRow, RevokedBecause,
    RotateOutcome, Rotation,
};

use super::access;
use super::{client_auth, client_proof, invalid_grant, invalid_request, oauth_error};

#[derive(Serialize)]
struct Issued<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: &'a str,
    scope: String,
}

/// What a successful grant request hands out.
struct Tokens {
    access: String,
    refresh: String,
    scope: Scope,
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
    let proof = token_proof(ctx, &client).await?;
    // Key binding: the proof's key, or (compatible mode) the client's registered key.
    let proof_jkt = proof.as_ref().map(|p| p.thumbprint.as_str());
    let jkt = proof_jkt.unwrap_or(&client.key_thumbprint);
    let tokens = if grant_type == "authorization_code" {
        redeem_code(ctx, &form, &client, proof_jkt, jkt).await?
    } else {
        rotate_refresh(ctx, &form, &client, jkt).await?
    };
    Ok(Reply::document(&Issued {
        access_token: &tokens.access,
        token_type: "DPoP",
        expires_in: ctx.config.access_token_ttl_secs,
        refresh_token: &tokens.refresh,
        scope: tokens.scope.to_string(),
    }))
}

/// The client's DPoP proof, consumed; required for clients registered with
/// `dpop_bound_access_tokens`.
async fn token_proof(ctx: &Ctx<'_>, client: &ClientRow) -> Result<Option<VerifiedProof>, ApiError> {
    match client_proof(ctx, None, None).await? {
        HeaderProof::Verified(p) => Ok(Some(p)),
        HeaderProof::Absent if client.dpop_bound_access_tokens => Err(dpop_error(
            "invalid_dpop_proof",
            "this client must send a DPoP proof",
        )),
        HeaderProof::Absent => Ok(None),
        HeaderProof::Invalid(reason) => Err(dpop_error("invalid_dpop_proof", reason)),
        HeaderProof::UseNonce(nonce) => {
            let mut e = dpop_error(
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
            );
            e.extra_mut().dpop_nonce = Some(nonce);
            Err(e)
        }
    }
}

/// An event by the client about the agent whose grant it uses.
fn client_event<'a>(
    kind: &'static str,
    client: &'a ClientRow,
    agent_id: &'a str,
    details: serde_json::Value,
) -> Event<'a> {
    Event::new(kind, Actor::Client(&client.id))
        .subject(Subject::Agent(agent_id))
        .agent(agent_id)
        .details(details)
}

fn stored_scope(scope: &str) -> Result<Scope, ApiError> {
    Scope::parse(scope).map_err(|_| ApiError::internal("stored scope invalid"))
}

/// A new refresh token: its value (sent once) and its row (id, hash, expiry).
struct FreshRefresh {
    token: String,
    id: String,
    hash: String,
    expires_at_ms: i64,
}

impl FreshRefresh {
    fn new(ctx: &Ctx<'_>) -> Result<Self, ApiError> {
        let token = opaque_token(ctx.rng())?;
        Ok(Self {
            hash: sha256_hex(&token),
            id: uuid_v4(ctx.rng())?,
            expires_at_ms: ctx.now_ms + ctx.config.refresh_token_ttl_secs * 1000,
            token,
        })
    }

    fn row(&self) -> NewRefresh<'_> {
        NewRefresh {
            id: &self.id,
            hash: &self.hash,
            expires_at_ms: self.expires_at_ms,
        }
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
) -> Result<Tokens, ApiError> {
    let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri")) else {
        return Err(invalid_request("code and redirect_uri are required"));
    };
    let verifier = form
        .get("code_verifier")
        .filter(|v| pkce::is_valid_verifier(v))
        .ok_or_else(|| invalid_grant("code_verifier is missing or malformed"))?;
    let invalid = || invalid_grant("authorization code is invalid or expired");
    let row = grants::find_code(ctx.db(), &sha256_hex(code))
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != client.id || row.expires_at <= ctx.now_ms {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        return Err(refuse_replay(ctx, client, Replay::Code(&row)).await);
    }
    check_code(&row, verifier, redirect_uri, proof_jkt)?;
    let scope = stored_scope(&row.scope)?;

    let grant_id = uuid_v4(ctx.rng())?;
    let refresh = FreshRefresh::new(ctx)?;
    let minted = access::mint(ctx, &grant_id, &client.id, &row.agent_id, scope, jkt)?;
    let details = json!({"grant_id": grant_id, "grant_type": "authorization_code"});
    let event = client_event("oauth.token_issued", client, &row.agent_id, details);
    let redemption = Redemption {
        code_id: &row.id,
        oauth_request_id: row.oauth_request_id.as_deref(),
        grant_id: &grant_id,
        client_id: &client.id,
        agent_id: &row.agent_id,
        scope: &row.scope,
        refresh: refresh.row(),
        now_ms: ctx.now_ms,
    };
    let issued = [minted.row, event.insert(&ctx.stamp())];
    match grants::redeem_code(ctx.db(), &redemption, issued).await? {
        RedeemOutcome::Redeemed => Ok(Tokens {
            access: minted.token,
            refresh: refresh.token,
            scope,
        }),
        // A concurrent redemption won: this is a reuse.
        RedeemOutcome::AlreadyUsed => Err(refuse_replay(ctx, client, Replay::Code(&row)).await),
    }
}

/// The stateless checks of a code presented by its own client: PKCE, the exact redirect URI,
/// the DPoP key it is bound to, and no block by the agent's overseer.
fn check_code(
    row: &CodeRow,
    verifier: &str,
    redirect_uri: &str,
    proof_jkt: Option<&str>,
) -> Result<(), ApiError> {
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
    if row
        .dpop_jkt
        .as_deref()
        .is_some_and(|bound| proof_jkt != Some(bound))
    {
        return Err(invalid_grant("the code is bound to another DPoP key"));
    }
    if row.blocked {
        return Err(invalid_grant("the client is blocked for this agent"));
    }
    Ok(())
}

/// `grant_type=refresh_token`: rotation with reuse detection (security.md §8).
async fn rotate_refresh(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    jkt: &str,
) -> Result<Tokens, ApiError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is required"))?;
    let row = grants::find_refresh(ctx.db(), &sha256_hex(presented))
        .await?
        // Another client's token: refused with no side effects (F5).
        .filter(|r| r.client_id == client.id)
        .ok_or_else(|| invalid_grant("refresh token is invalid"))?;
    if row.grant_revoked {
        return Err(invalid_grant("the grant has been revoked"));
    }
    if row.replaced_by.is_some() {
        return Err(refuse_replay(ctx, client, Replay::Refresh(&row)).await);
    }
    if row.expires_at <= ctx.now_ms {
        return Err(invalid_grant("refresh token has expired"));
    }
    if row.blocked {
        return Err(invalid_grant("the client is blocked for this agent"));
    }
    let scope = narrowed_scope(form, stored_scope(&row.scope)?)?;

    let successor = FreshRefresh::new(ctx)?;
    let minted = access::mint(ctx, &row.grant_id, &client.id, &row.agent_id, scope, jkt)?;
    let details = json!({"grant_id": row.grant_id});
    let event = client_event("oauth.token_refreshed", client, &row.agent_id, details);
    let rotation = Rotation {
        presented_id: &row.id,
        grant_id: &row.grant_id,
        successor: successor.row(),
        now_ms: ctx.now_ms,
    };
    let issued = [minted.row, event.insert(&ctx.stamp())];
    match grants::rotate_refresh(ctx.db(), &rotation, issued).await? {
        RotateOutcome::Rotated => Ok(Tokens {
            access: minted.token,
            refresh: successor.token,
            scope,
        }),
        RotateOutcome::AlreadyRotated => {
            Err(refuse_replay(ctx, client, Replay::Refresh(&row)).await)
        }
    }
}

/// The grant's scope, or the narrower one the client asked for.
fn narrowed_scope(form: &Form, grant_scope: Scope) -> Result<Scope, ApiError> {
    match form.get("scope") {
        None => Ok(grant_scope),
        Some(requested) => scope::granted(Some(requested), Some(&grant_scope))
            .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())),
    }
}

/// A single-use credential presented again.
enum Replay<'a> {
    /// A redeemed code: the grant its first redemption created is revoked.
    Code(&'a CodeRow),
    /// A rotated refresh token: its whole grant is revoked (F3, F4).
    Refresh(&'a RefreshRow),
}

impl Replay<'_> {
    /// The audit event, the revocation reason and the refusal's description.
    const fn facts(&self) -> (&'static str, RevokedBecause, &'static str) {
        match self {
            Replay::Code(_) => (
                "oauth.code_reuse_detected",
                RevokedBecause::CodeReuse,
                "authorization code has already been used",
            ),
            Replay::Refresh(_) => (
                "oauth.refresh_reuse_detected",
                RevokedBecause::RefreshReuse,
                "refresh token has already been used",
            ),
        }
    }
}

/// Revokes what the replayed credential's first use produced and returns the refusal to send
/// (or the storage error that prevented the revocation).
async fn refuse_replay(ctx: &Ctx<'_>, client: &ClientRow, replay: Replay<'_>) -> ApiError {
    let (kind, because, refusal) = replay.facts();
    match revoke_first_use(ctx, client, &replay, kind, because).await {
        Ok(()) => invalid_grant(refusal),
        Err(e) => e,
    }
}

async fn revoke_first_use(
    ctx: &Ctx<'_>,
    client: &ClientRow,
    replay: &Replay<'_>,
    kind: &'static str,
    because: RevokedBecause,
) -> Result<(), ApiError> {
    let (grant_id, agent_id) = match replay {
        Replay::Code(row) => match &row.grant_id {
            Some(g) => (Some(g.clone()), &row.agent_id),
            // Lost a race: the winner's grant was not yet written when the code was read.
            None => (
                grants::grant_of_code(ctx.db(), &row.id).await?,
                &row.agent_id,
            ),
        },
        Replay::Refresh(row) => (Some(row.grant_id.clone()), &row.agent_id),
    };
    let Some(grant_id) = grant_id else {
        return Ok(());
    };
    let event = client_event(kind, client, agent_id, json!({"grant_id": grant_id}));
    let mut batch = Batch::new();
    batch.push(grants::revoke(&grant_id, because, ctx.now_ms));
    batch.push(event.insert(&ctx.stamp()));
    batch.run(ctx.db()).await?;
    Ok(())
}
