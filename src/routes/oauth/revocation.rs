//! Token revocation (RFC 7009) and introspection (RFC 7662), for the owning client only. A
//! public client revokes its own tokens with its `client_id` alone (RFC 7009 §2.1);
//! introspection is for confidential clients.
//! Revocation always answers `{}`; introspection answers exactly `{"active": false}` for
//! anything that is not an active token of the caller. Each reads the client with the token's
//! state in one D1 round trip and spends the assertion's `jti` (with the revocation) in a second;
//! introspection with the client's key cached in the isolate does both in one.

use serde_json::json;

use crate::ctx::Ctx;
use crate::domain::ids::sha256_hex;
use crate::domain::rate_limit::Bucket;
use crate::http::form::Form;
use crate::http::{ApiError, Reply};
use crate::oauth::access_token::AccessClaims;
use crate::oauth::discovery::{INTROSPECT_PATH, REVOKE_PATH};
use crate::oauth::scope::ScopeToken;
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::{Batch, Guard, Outcomes, Step};
use crate::store::clients::{self, ClientRow};
use crate::store::grants::{self, RefreshRow, RevokedBecause};

use super::access::{verified_claims, AccessLookup};
use super::single_use::{Marked, Spend};
use super::{client_auth, invalid_request};

fn revoked_event<'a>(client: &'a ClientRow, agent_id: &'a str, kind: &'static str) -> Event<'a> {
    Event::new("oauth.token_revoked", Actor::Client(&client.id))
        .subject(Subject::Agent(agent_id))
        .agent(agent_id)
        .details(json!({ "token_type": kind }))
}

/// What a token parameter turned out to be, read in the client's round trip.
enum Presented {
    /// No `token` parameter.
    Missing,
    /// A validly signed access token of this issuer (revocation needs no more).
    Access(Box<AccessClaims>),
    /// The same, with its state queued for reading (introspection).
    Checked(Box<AccessLookup>),
    /// Anything else: perhaps a refresh token.
    Other(Step),
}

/// The `token` parameter, classified before any storage is read.
enum Token {
    Missing,
    /// A validly signed, unexpired access token of this issuer.
    Access(Box<AccessClaims>),
    /// Anything else, by its SHA-256 (hex): perhaps a refresh token.
    Other(String),
}

impl Token {
    /// Reads the `token` parameter. A configuration error (no signing key) is held by the
    /// caller until the client has authenticated, where it was always raised.
    async fn read(ctx: &Ctx<'_>, form: &Form) -> Result<Self, ApiError> {
        let Some(token) = form.get("token") else {
            return Ok(Token::Missing);
        };
        Ok(match verified_claims(ctx, token).await? {
            Some(claims) => Token::Access(Box::new(claims)),
            None => Token::Other(sha256_hex(token)),
        })
    }
}

impl Presented {
    /// Queues the lookup of `token` on `reads`. `with_state`: also an access token's state.
    fn push(token: Token, reads: &mut Batch, with_state: bool) -> Self {
        match token {
            Token::Missing => Presented::Missing,
            Token::Access(claims) if with_state => {
                Presented::Checked(Box::new(AccessLookup::push(reads, *claims)))
            }
            Token::Access(claims) => Presented::Access(claims),
            Token::Other(hash) => {
                Presented::Other(reads.push(grants::find_refresh_statement(&hash)))
            }
        }
    }
}

/// Reads the client and what its `token` names in one round trip, then verifies the client's
/// assertion with the stored key, which the isolate's cache keeps for the next request (when
/// the markers live in D1, where a cached key can save a round trip). The assertion's `jti` is
/// still to be spent.
async fn authenticate(
    ctx: &Ctx<'_>,
    presented: client_auth::Presented<'_>,
    form: &Form,
    path: &str,
    with_state: bool,
) -> Result<
    (
        client_auth::Authenticated,
        Result<Presented, ApiError>,
        Outcomes,
    ),
    ApiError,
> {
    let mut reads = Batch::new();
    let client_step = reads.push(clients::find_statement(presented.client_id()));
    let token = Token::read(ctx, form)
        .await
        .map(|t| Presented::push(t, &mut reads, with_state));
    let mut found = reads.run(ctx.db()).await?;
    let auth = presented
        .verify(ctx, found.take(client_step).first()?, path)
        .await?;
    let c = &auth.client;
    let markers_in_d1 = auth
        .mark(ctx.now_ms)
        .is_some_and(|m| ctx.services.replays.in_batch(&m).is_some());
    if let (true, Some(key)) = (markers_in_d1, c.credential().public_key()) {
        ctx.services
            .client_keys
            .keep(&c.id, key, !c.disabled, ctx.now_ms);
    }
    Ok((auth, token, found))
}

/// `POST /v1/oauth/revoke`: one round trip reads the client (and a refresh token); a second
/// spends the assertion's `jti` and, gated by it, revokes.
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::RevokeIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let presented = client_auth::Presented::from_form(ctx, &form)?;
    let (auth, token, mut found) = authenticate(ctx, presented, &form, REVOKE_PATH, false).await?;
    let client = &auth.client;
    let mut spend = Spend::new();
    let assertion = auth.mark(ctx.now_ms).map(|m| spend.mark(m));
    let token = match admit(ctx, Bucket::Revoke, client, token, None).await {
        Ok(token) => token,
        Err(e) => return Err(refuse(ctx, spend, assertion, e).await),
    };
    // What this client may revoke: its own access token, or its own live refresh family.
    let target = match token {
        Presented::Access(claims) => {
            (claims.client_id == client.id).then_some(Revocation::Access(claims))
        }
        Presented::Other(step) => found
            .take(step)
            .first::<RefreshRow>()?
            .filter(|row| row.client_id == client.id && !row.grant_revoked)
            .map(|row| Revocation::Refresh(Box::new(row))),
        Presented::Checked(_) | Presented::Missing => None,
    };
    let spent = spend
        .with(ctx, |batch, gate| {
            if let Some(target) = &target {
                target.push(ctx, client, batch, gate);
            }
        })
        .await?;
    if assertion.is_some_and(|a| spent.replayed(a)) {
        return Err(client_auth::replayed(ctx));
    }
    Ok(Reply::document(&json!({})))
}

/// A revocation this client may make.
enum Revocation {
    /// Only this access token: its jti is denylisted until it would have expired.
    Access(Box<AccessClaims>),
    /// The whole grant of a refresh token.
    Refresh(Box<RefreshRow>),
}

impl Revocation {
    fn push(&self, ctx: &Ctx<'_>, client: &ClientRow, batch: &mut Batch, gate: Guard) {
        let (revoke, event) = match self {
            Revocation::Access(c) => (
                grants::deny_access_if(&c.jti, c.exp * 1000, ctx.now_ms, gate.clone()),
                revoked_event(client, &c.sub, "access_token"),
            ),
            Revocation::Refresh(row) => (
                grants::revoke(&row.grant_id, RevokedBecause::Revoked, ctx.now_ms)
                    .and_if(gate.clone()),
                revoked_event(client, &row.agent_id, "refresh_token"),
            ),
        };
        batch.push(revoke);
        batch.push_if(event.insert(&ctx.stamp()), gate);
    }
}

/// The checks after client authentication: the client's rate limit (unless `counted` already,
/// on a path that verified the assertion with a cached key) and the `token` parameter.
async fn admit(
    ctx: &Ctx<'_>,
    bucket: Bucket,
    client: &ClientRow,
    token: Result<Presented, ApiError>,
    counted: Option<Result<(), ApiError>>,
) -> Result<Presented, ApiError> {
    let limit = match counted {
        Some(limit) => limit,
        None => rate_limit(ctx, bucket, &client.id).await,
    };
    admitted(limit, token)
}

/// The rate limit's verdict, then the `token` parameter's.
fn admitted(
    limit: Result<(), ApiError>,
    token: Result<Presented, ApiError>,
) -> Result<Presented, ApiError> {
    limit?;
    match token? {
        Presented::Missing => Err(invalid_request("token is required")),
        token => Ok(token),
    }
}

/// Spends the assertion's marker on its own and answers `refusal`, unless it was replayed.
async fn refuse(
    ctx: &Ctx<'_>,
    spend: Spend<'_>,
    assertion: Option<Marked>,
    refusal: ApiError,
) -> ApiError {
    match spend.alone(ctx).await {
        Ok(spent) if assertion.is_some_and(|a| spent.replayed(a)) => client_auth::replayed(ctx),
        Ok(_) => refusal,
        Err(e) => e,
    }
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

/// `POST /v1/oauth/introspect`. With the client's key in the isolate's cache, one round trip
/// ([`introspect_cached`]); otherwise, or when D1 disagrees with the cache, one round trip
/// reads the client and the token's state and a second spends the assertion's `jti`.
pub async fn introspect(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(ctx, Bucket::IntrospectIp, ctx.ip().unwrap_or("unknown")).await?;
    let form = Form::parse(ctx.req)?;
    let presented = client_auth::Presented::from_form(ctx, &form)?;
    if presented.is_none() {
        // RFC 7662 §2.1: introspection is for confidential clients (and resource servers).
        return Err(super::oauth_error(
            http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            "introspection requires client authentication with private_key_jwt",
        ));
    }
    let keys = &ctx.services.client_keys;
    let mut counted = None;
    if let Some(key) = keys.get(presented.client_id(), ctx.now_ms) {
        match introspect_cached(ctx, &form, &presented, &key).await? {
            Cached::Answered(answer) => return answer,
            Cached::Stale(limit) => {
                keys.forget(presented.client_id());
                counted = limit;
            }
        }
    }
    let (auth, token, mut found) =
        authenticate(ctx, presented, &form, INTROSPECT_PATH, true).await?;
    let client = &auth.client;
    let mut spend = Spend::new();
    let assertion = auth.mark(ctx.now_ms).map(|m| spend.mark(m));
    let token = match admit(ctx, Bucket::Introspect, client, token, counted).await {
        Ok(token) => token,
        Err(e) => return Err(refuse(ctx, spend, assertion, e).await),
    };
    let spent = spend.alone(ctx).await?;
    if assertion.is_some_and(|a| spent.replayed(a)) {
        return Err(client_auth::replayed(ctx));
    }
    introspection(client, token, &mut found, ctx.now_ms)
}

/// How an introspection with a cached client key ended.
enum Cached {
    /// D1 confirmed the key: the answer, exactly as the uncached path would give it.
    Answered(Result<Reply, ApiError>),
    /// The cached key did not verify the assertion, or D1 no longer holds it for an enabled
    /// client: nothing was written and no marker spent. Carries the client's rate-limit
    /// verdict when it was already counted.
    Stale(Option<Result<(), ApiError>>),
}

/// The assertion is verified with the cached key first, so ONE batch reads the client row and
/// the token's state and spends the assertion's marker, the marker gated on the client still
/// holding exactly that key, enabled: a stale entry spends nothing, and the row read in the
/// same transaction, not the cache, decides.
async fn introspect_cached(
    ctx: &Ctx<'_>,
    form: &Form,
    presented: &client_auth::Presented<'_>,
    key: &str,
) -> Result<Cached, ApiError> {
    let Some(unconfirmed) = presented.verify_cached(ctx, key, INTROSPECT_PATH).await else {
        return Ok(Cached::Stale(None));
    };
    let client_id = unconfirmed.client_id();
    let limit = rate_limit(ctx, Bucket::Introspect, client_id).await;
    let token = Token::read(ctx, form).await;
    let mut spend = Spend::new();
    let assertion = spend.mark(unconfirmed.mark(ctx.now_ms));
    let guard = clients::holds_key(client_id, key);
    let spent = spend
        .confirmed_by(ctx, guard, |reads, _| {
            let client = reads.push(clients::find_statement(client_id));
            (client, token.map(|t| Presented::push(t, reads, true)))
        })
        .await?;
    let Some(spent) = spent else {
        return Ok(Cached::Stale(Some(limit)));
    };
    let replayed = spent.replayed(assertion);
    let ((client, token), found) = spent.written();
    let mut found = found.ok_or_else(|| ApiError::internal("introspection read nothing"))?;
    let row = found.take(client).first()?;
    let Some(auth) = unconfirmed.confirm(row, key) else {
        return Ok(Cached::Stale(Some(limit)));
    };
    if replayed {
        return Ok(Cached::Answered(Err(client_auth::replayed(ctx))));
    }
    Ok(Cached::Answered(admitted(limit, token).and_then(|token| {
        introspection(&auth.client, token, &mut found, ctx.now_ms)
    })))
}

/// RFC 7662's answer for `token` (read into `found`) to the authenticated `client`.
fn introspection(
    client: &ClientRow,
    token: Presented,
    found: &mut Outcomes,
    now_ms: i64,
) -> Result<Reply, ApiError> {
    let inactive = || Ok(Reply::document(&json!({"active": false})));
    match token {
        Presented::Checked(lookup) => {
            let Some(access) = lookup.active(found)? else {
                return inactive();
            };
            let c = access.claims;
            if c.client_id != client.id {
                return inactive();
            }
            let mut body = json!({
                "active": true, "token_type": c.token_type(), "client_id": c.client_id, "sub": c.sub,
                "aud": c.aud, "iss": c.iss, "scope": c.scope.to_string(), "exp": c.exp, "iat": c.iat,
                "jti": c.jti,
            });
            if let Some(obj) = body.as_object_mut() {
                if let Some(jkt) = &c.jkt {
                    obj.insert("cnf".into(), json!({ "jkt": jkt }));
                }
                if let Some(agent) = &c.agent {
                    obj.insert(
                        "agent".into(),
                        json!({"oversight": agent.oversight.as_str(), "tier": agent.tier}),
                    );
                }
                if c.scope
                    .identity()
                    .is_some_and(|s| s.contains(ScopeToken::Name))
                {
                    obj.insert("username".into(), json!(access.state.agent_name));
                }
            }
            Ok(Reply::document(&body))
        }
        Presented::Other(step) => match found.take(step).first::<RefreshRow>()? {
            Some(r) if refresh_active(&r, client, now_ms) => Ok(Reply::document(&json!({
                "active": true, "token_type": "refresh_token", "client_id": r.client_id, "sub": r.agent_id,
                "scope": r.scope, "exp": r.expires_at / 1000, "iat": r.issued_at / 1000,
            }))),
            _ => inactive(),
        },
        Presented::Access(_) | Presented::Missing => inactive(),
    }
}
