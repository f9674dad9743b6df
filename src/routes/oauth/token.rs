//! The token endpoint (api.md 2.11, security.md §5, §7, §8): code redemption and refresh
//! rotation, each one D1 batch whose first conditional statement decides single use — a
//! batch that lost the race (or whose assertion or proof was replayed) writes nothing and is
//! answered as a reuse (or a replay).

use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::auth::dpop::VerifiedProof;
use crate::auth::dpop_request::{self, HeaderProof};
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
use crate::store::batch::{Batch, Guard, Outcomes, Step};
use crate::store::clients::{self, ClientRow};
use crate::store::grants::{
    self, CodeRow, NewRefresh, RedeemOutcome, Redemption, RefreshRow, RevokedBecause,
    RotateOutcome, Rotation, RotationEvents,
};

use super::access;
use super::single_use::{Marked, Spend, Spent};
use super::token_policy::{self, token_type, Decided, Grant};
use super::{
    check_client_proof, client_auth, invalid_grant, invalid_request, oauth_error, proof_mark,
};

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
    token_type: &'static str,
    refresh: String,
    scope: String,
}

fn dpop_error(error: &'static str, description: &'static str) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// `POST /v1/oauth/token`: one D1 round trip reads the client with the code or refresh token
/// it presents; a second spends the assertion's and the proof's `jti`s and, gated by both, writes
/// the grant (`single_use`). Refusals keep their order: a replayed assertion, then the checks
/// that follow client authentication, then a replayed proof, then the grant's own checks.
pub async fn token(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::TokenIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is required"))?;
    let presented = client_auth::Presented::from_form(ctx, &form)?;
    let mut reads = Batch::new();
    let client_step = reads.push(clients::find_statement(presented.client_id()));
    let lookup = Lookup::push(&mut reads, grant_type, &form);
    let mut found = reads.run(ctx.db()).await?;
    let auth = presented
        .verify(ctx, found.take(client_step).first()?, TOKEN_PATH)
        .await?;
    let held = lookup.decode(&mut found)?;
    let client = &auth.client;

    let mut spend = Spend::new();
    let assertion = auth.mark(ctx.now_ms).map(|m| spend.mark(m));
    let proof = match admit(ctx, grant_type, client).await {
        Ok(proof) => proof,
        Err(e) => return Err(refuse(ctx, spend, assertion, None, e).await),
    };
    let dpop = proof
        .as_ref()
        .map(|p| spend.mark(proof_mark(p, ctx.now_ms)));
    // Key binding (token_policy): the proof's key, the client's registered key (compatible
    // mode), or none (Bearer).
    let proof_jkt = proof.as_ref().map(|p| p.thumbprint.as_str());
    let plan = match held {
        Held::Code(row) => plan_redemption(ctx, &form, client, row, proof_jkt).await,
        Held::Refresh(row) => plan_rotation(ctx, &form, client, row, proof_jkt).await,
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => return Err(refuse(ctx, spend, assertion, dpop, e).await),
    };
    let spent = spend
        .with(ctx, |batch, gate| plan.push(ctx, client, batch, gate))
        .await?;
    precedence(ctx, &spent, assertion, dpop)?;
    let decided = match spent.written() {
        (Some(step), Some(outcomes)) => outcomes.changed(step),
        _ => false,
    };
    let tokens = plan.finish(ctx, client, decided).await?;
    Ok(Reply::document(&Issued {
        access_token: &tokens.access,
        token_type: tokens.token_type,
        expires_in: ctx.config.access_token_ttl_secs,
        refresh_token: &tokens.refresh,
        scope: tokens.scope,
    }))
}

/// The checks between client authentication and the grant: the client's rate limit, a
/// disabled client, the grant type, and the client's DPoP proof (verified, not yet spent;
/// required for clients registered with `dpop_bound_access_tokens`).
async fn admit(
    ctx: &Ctx<'_>,
    grant_type: &str,
    client: &ClientRow,
) -> Result<Option<VerifiedProof>, ApiError> {
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
    match check_client_proof(ctx, None, None).await? {
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

/// A replayed assertion, then a replayed proof: the refusals that outrank every other.
fn precedence<W>(
    ctx: &Ctx<'_>,
    spent: &Spent<W>,
    assertion: Option<Marked>,
    dpop: Option<Marked>,
) -> Result<(), ApiError> {
    if assertion.is_some_and(|a| spent.replayed(a)) {
        return Err(client_auth::replayed(ctx));
    }
    if dpop.is_some_and(|d| spent.replayed(d)) {
        return Err(dpop_error("invalid_dpop_proof", dpop_request::REPLAYED));
    }
    Ok(())
}

/// Spends the markers on their own and answers `refusal`, unless a replay outranks it.
async fn refuse(
    ctx: &Ctx<'_>,
    spend: Spend<'_>,
    assertion: Option<Marked>,
    dpop: Option<Marked>,
    refusal: ApiError,
) -> ApiError {
    match spend.alone(ctx).await {
        Ok(spent) => precedence(ctx, &spent, assertion, dpop)
            .err()
            .unwrap_or(refusal),
        Err(e) => e,
    }
}

/// Where the grant's credential is read in the client's round trip.
enum Lookup {
    Code(Option<Step>),
    Refresh(Option<Step>),
}

/// The code or refresh token as stored (`None`: not sent, or unknown).
enum Held {
    Code(Option<CodeRow>),
    Refresh(Option<RefreshRow>),
}

impl Lookup {
    /// Queues the lookup of the credential the form presents for `grant_type` (an unsupported
    /// grant type is refused later and reads as a code that was not sent).
    fn push(reads: &mut Batch, grant_type: &str, form: &Form) -> Self {
        if grant_type == "refresh_token" {
            let step = form
                .get("refresh_token")
                .map(|t| reads.push(grants::find_refresh_statement(&sha256_hex(t))));
            Lookup::Refresh(step)
        } else {
            let step = form
                .get("code")
                .map(|c| reads.push(grants::find_code_statement(&sha256_hex(c))));
            Lookup::Code(step)
        }
    }

    fn decode(self, found: &mut Outcomes) -> Result<Held, ApiError> {
        Ok(match self {
            Lookup::Code(step) => Held::Code(match step {
                Some(s) => found.take(s).first()?,
                None => None,
            }),
            Lookup::Refresh(step) => Held::Refresh(match step {
                Some(s) => found.take(s).first()?,
                None => None,
            }),
        })
    }
}

/// What a grant request writes once its markers are spent.
enum Plan {
    Redeem(Box<Redeem>),
    Rotate(Box<Rotate>),
    /// A single-use credential presented again: revoke what its first use created, then refuse.
    Reuse {
        kind: &'static str,
        because: RevokedBecause,
        refusal: &'static str,
        grant_id: Option<String>,
        agent_id: String,
    },
}

/// A code redemption, ready to write.
struct Redeem {
    row: CodeRow,
    grant_id: String,
    refresh: FreshRefresh,
    minted: access::Minted,
    token_type: &'static str,
    scope: String,
}

/// A refresh rotation, ready to write.
struct Rotate {
    row: RefreshRow,
    successor: FreshRefresh,
    minted: access::Minted,
    token_type: &'static str,
    scope: String,
}

impl Plan {
    fn reuse(replay: Replay<'_>, grant_id: Option<String>) -> Self {
        let (kind, because, refusal) = replay.facts();
        let agent_id = match replay {
            Replay::Code(row) => row.agent_id.clone(),
            Replay::Refresh(row) => row.agent_id.clone(),
        };
        Plan::Reuse {
            kind,
            because,
            refusal,
            grant_id,
            agent_id,
        }
    }

    /// Pushes the writes, their deciding statement gated by `gate`; returns that statement's
    /// step.
    fn push(
        &self,
        ctx: &Ctx<'_>,
        client: &ClientRow,
        batch: &mut Batch,
        gate: Guard,
    ) -> Option<Step> {
        match self {
            Plan::Redeem(r) => {
                let details = json!({"grant_id": r.grant_id, "grant_type": "authorization_code"});
                let event = client_event("oauth.token_issued", client, &r.row.agent_id, details);
                let redemption = Redemption {
                    code_id: &r.row.id,
                    oauth_request_id: r.row.oauth_request_id.as_deref(),
                    grant_id: &r.grant_id,
                    client_id: &client.id,
                    agent_id: &r.row.agent_id,
                    scope: &r.row.scope,
                    refresh: r.refresh.row(),
                    now_ms: ctx.now_ms,
                };
                let issued = [r.minted.row.clone(), event.insert(&ctx.stamp())];
                Some(grants::push_redemption(
                    batch,
                    &redemption,
                    issued,
                    Some(gate),
                ))
            }
            Plan::Rotate(r) => {
                let event = |kind| {
                    let details = json!({"grant_id": r.row.grant_id});
                    client_event(kind, client, &r.row.agent_id, details).insert(&ctx.stamp())
                };
                let events = RotationEvents {
                    rotated: event("oauth.token_refreshed"),
                    retried: event("oauth.refresh_retried"),
                };
                let rotation = Rotation {
                    presented_id: &r.row.id,
                    grant_id: &r.row.grant_id,
                    successor: r.successor.row(),
                    now_ms: ctx.now_ms,
                    grace_ms: ctx.config.refresh_grace_secs * 1000,
                };
                let issued = [r.minted.row.clone()];
                Some(grants::push_rotation(
                    batch,
                    &rotation,
                    issued,
                    events,
                    Some(gate),
                ))
            }
            Plan::Reuse {
                kind,
                because,
                grant_id: Some(grant_id),
                agent_id,
                ..
            } => {
                let details = json!({"grant_id": grant_id});
                let event = client_event(kind, client, agent_id, details).insert(&ctx.stamp());
                let revoke = grants::revoke(grant_id, *because, ctx.now_ms);
                let step = batch.push(revoke.and_if(gate.clone()));
                batch.push_if(event, gate);
                Some(step)
            }
            // Nothing of the first use to revoke.
            Plan::Reuse { grant_id: None, .. } => None,
        }
    }

    /// The answer once the batch ran: `decided` is whether the deciding statement took effect.
    async fn finish(
        self,
        ctx: &Ctx<'_>,
        client: &ClientRow,
        decided: bool,
    ) -> Result<Tokens, ApiError> {
        match self {
            Plan::Redeem(r) => match RedeemOutcome::of(decided) {
                RedeemOutcome::Redeemed => Ok(Tokens {
                    access: r.minted.token,
                    token_type: r.token_type,
                    refresh: r.refresh.token,
                    scope: r.scope,
                }),
                // A concurrent redemption won: this is a reuse.
                RedeemOutcome::AlreadyUsed => {
                    Err(refuse_replay(ctx, client, Replay::Code(&r.row)).await)
                }
            },
            Plan::Rotate(r) => match RotateOutcome::of(decided) {
                RotateOutcome::Rotated => Ok(Tokens {
                    access: r.minted.token,
                    token_type: r.token_type,
                    refresh: r.successor.token,
                    scope: r.scope,
                }),
                RotateOutcome::AlreadyRotated => {
                    Err(refuse_replay(ctx, client, Replay::Refresh(&r.row)).await)
                }
            },
            Plan::Reuse { refusal, .. } => Err(invalid_grant(refusal)),
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

/// A new refresh token: its value (sent once) and its row (id, hash, expiry, DPoP binding).
struct FreshRefresh {
    token: String,
    id: String,
    hash: String,
    expires_at_ms: i64,
    dpop_jkt: Option<String>,
}

impl FreshRefresh {
    fn new(ctx: &Ctx<'_>, dpop_jkt: Option<&str>) -> Result<Self, ApiError> {
        let token = opaque_token(ctx.rng())?;
        Ok(Self {
            hash: sha256_hex(&token),
            id: uuid_v4(ctx.rng())?,
            expires_at_ms: ctx.now_ms + ctx.config.refresh_token_ttl_secs * 1000,
            dpop_jkt: dpop_jkt.map(str::to_owned),
            token,
        })
    }

    fn row(&self) -> NewRefresh<'_> {
        NewRefresh {
            id: &self.id,
            hash: &self.hash,
            expires_at_ms: self.expires_at_ms,
            dpop_jkt: self.dpop_jkt.as_deref(),
        }
    }
}

/// `grant_type=authorization_code`: PKCE, exact redirect URI, `dpop_jkt`, single use; a
/// second redemption revokes the grant the first one created (security.md A5).
async fn plan_redemption(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    row: Option<CodeRow>,
    proof_jkt: Option<&str>,
) -> Result<Plan, ApiError> {
    let (Some(_), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri")) else {
        return Err(invalid_request("code and redirect_uri are required"));
    };
    let verifier = form
        .get("code_verifier")
        .filter(|v| pkce::is_valid_verifier(v))
        .ok_or_else(|| invalid_grant("code_verifier is missing or malformed"))?;
    let invalid = || invalid_grant("authorization code is invalid or expired");
    let row = row.ok_or_else(invalid)?;
    if row.client_id != client.id || row.expires_at <= ctx.now_ms {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        let grant_id = match &row.grant_id {
            Some(g) => Some(g.clone()),
            // Lost a race: the winner's grant was not yet written when the code was read.
            None => grants::grant_of_code(ctx.db(), &row.id).await?,
        };
        return Ok(Plan::reuse(Replay::Code(&row), grant_id));
    }
    check_code(&row, verifier, redirect_uri, proof_jkt)?;
    let grant = Grant {
        agent_id: &row.agent_id,
        scope: &row.scope,
        resources: row.resources.as_deref(),
    };
    let identity = || stored_scope(&row.scope);
    let decided =
        token_policy::decide(ctx, form, client, grant, &identity, None, proof_jkt).await?;
    let grant_id = uuid_v4(ctx.rng())?;
    // RFC 9449 §5: a public client's refresh token is bound to the key of the proof sent with
    // the redemption; a confidential client's is bound to its authentication.
    let refresh_binding = proof_jkt.filter(|_| client.credential().is_public());
    let refresh = FreshRefresh::new(ctx, refresh_binding)?;
    let (minted, token_type, scope) = mint(ctx, &grant_id, client, &row.agent_id, decided).await?;
    Ok(Plan::Redeem(Box::new(Redeem {
        row,
        grant_id,
        refresh,
        minted,
        token_type,
        scope,
    })))
}

/// Mints the decided token; with its `token_type` and the scope the response reports.
async fn mint(
    ctx: &Ctx<'_>,
    grant_id: &str,
    client: &ClientRow,
    agent_id: &str,
    decided: Decided,
) -> Result<(access::Minted, &'static str, String), ApiError> {
    let scope = decided.scope_text();
    let jkt = decided.jkt.as_deref();
    let minted = access::mint(ctx, grant_id, &client.id, agent_id, decided.audience, jkt).await?;
    Ok((minted, token_type(jkt), scope))
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

/// `grant_type=refresh_token`: rotation with reuse detection (security.md §8). A token rotated
/// within the grace window (`REFRESH_GRACE_SECS`) is planned as a rotation too: the batch
/// answers it only while its successor is unused (`grants::push_rotation`).
async fn plan_rotation(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    row: Option<RefreshRow>,
    proof_jkt: Option<&str>,
) -> Result<Plan, ApiError> {
    if form.get("refresh_token").is_none() {
        return Err(invalid_request("refresh_token is required"));
    }
    let row = row
        // Another client's token: refused with no side effects (F5).
        .filter(|r| r.client_id == client.id)
        .ok_or_else(|| invalid_grant("refresh token is invalid"))?;
    if row.grant_revoked {
        return Err(invalid_grant("the grant has been revoked"));
    }
    // RFC 9449 §5: a DPoP-bound refresh token needs a proof by the same key. Refused before
    // anything is written, so a stolen token cannot even revoke the family.
    if row
        .dpop_jkt
        .as_deref()
        .is_some_and(|bound| proof_jkt != Some(bound))
    {
        return Err(invalid_grant(
            "the refresh token is bound to another DPoP key",
        ));
    }
    let grace_ms = ctx.config.refresh_grace_secs * 1000;
    let in_grace = row
        .rotated_at
        .is_some_and(|at| grace_ms > 0 && ctx.now_ms - at <= grace_ms);
    if row.replaced_by.is_some() && !in_grace {
        let grant_id = Some(row.grant_id.clone());
        return Ok(Plan::reuse(Replay::Refresh(&row), grant_id));
    }
    if row.expires_at <= ctx.now_ms {
        return Err(invalid_grant("refresh token has expired"));
    }
    if row.blocked {
        return Err(invalid_grant("the client is blocked for this agent"));
    }
    let grant = Grant {
        agent_id: &row.agent_id,
        scope: &row.scope,
        resources: row.resources.as_deref(),
    };
    let identity = || narrowed_scope(form, stored_scope(&row.scope)?);
    let narrow = form.get("scope");
    let decided =
        token_policy::decide(ctx, form, client, grant, &identity, narrow, proof_jkt).await?;
    // The successor keeps the presented token's DPoP binding.
    let successor = FreshRefresh::new(ctx, row.dpop_jkt.as_deref())?;
    let (minted, token_type, scope) =
        mint(ctx, &row.grant_id, client, &row.agent_id, decided).await?;
    Ok(Plan::Rotate(Box::new(Rotate {
        row,
        successor,
        minted,
        token_type,
        scope,
    })))
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
