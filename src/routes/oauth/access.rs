//! Access tokens as issued and checked (api.md 3.3): an access token is valid only while its
//! signature, its issuance row, its grant, its client and the agent's blocks all agree.

use crate::config::ConfigError;
use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::oauth::access_token::{self, AccessClaims, Signer, TokenScope};
use crate::oauth::agent_claim::AgentClaim;
use crate::oauth::scope::Scope;
use crate::oauth::target::ResourceScope;
use crate::store::batch::{Batch, Outcomes, Step};
use crate::store::grants::{self, AccessRow, AccessState};
use crate::store::resources::TokenAlg;
use crate::store::Statement;

/// An access token that passed every check of security.md §4 (T1–T6), with the agent it
/// speaks for.
pub struct ActiveAccess {
    pub claims: AccessClaims,
    pub state: AccessState,
}

/// The claims of `token` if it is a validly signed, unexpired access token of this issuer.
pub async fn verified_claims(ctx: &Ctx<'_>, token: &str) -> Result<Option<AccessClaims>, ApiError> {
    let ring = super::token_keys(ctx).await?;
    Ok(
        access_token::verify(token, &ctx.issuer, ring.keys(), ctx.now_s())
            .await
            .ok(),
    )
}

/// The state of a verified access token, read in the caller's batch of reads.
pub struct AccessLookup {
    claims: AccessClaims,
    step: Step,
}

impl AccessLookup {
    /// Queues the lookup of the token with `claims` on `reads`.
    pub fn push(reads: &mut Batch, claims: AccessClaims) -> Self {
        let step = reads.push(grants::access_state_statement(
            &claims.client_id,
            &claims.sub,
            &claims.jti,
        ));
        Self { claims, step }
    }

    /// T1–T6 on what the batch read; `None` for anything that is not an active access token.
    pub fn active(self, found: &mut Outcomes) -> Result<Option<ActiveAccess>, ApiError> {
        let state: Option<AccessState> = found.take(self.step).first()?;
        Ok(state
            .filter(AccessState::is_active)
            .map(|state| ActiveAccess {
                claims: self.claims,
                state,
            }))
    }
}

/// A freshly minted access token with its issuance row, for the batch that decides whether
/// the token is issued at all (the caller guards the row).
pub struct Minted {
    pub token: String,
    pub claims: AccessClaims,
    pub row: Statement,
}

/// Whom an access token is for.
pub enum Audience {
    /// The client itself: an identity token for userinfo (v1).
    Client(Scope),
    /// A protected resource (RFC 8707): `aud` is its URI, and the token tells it about the agent.
    Resource {
        uri: String,
        scope: ResourceScope,
        agent: AgentClaim,
        /// The signing algorithm the resource accepts.
        alg: TokenAlg,
    },
}

/// Mints an access token of the grant for `agent_id`, for `audience`, bound to the key
/// thumbprint `jkt` (`None`: a Bearer token), signed with the current key of the algorithm the
/// audience accepts (a resource that asks for ES256 on a deployment without an ES256 key is
/// `503 configuration_error`, never a token it would reject).
pub async fn mint(
    ctx: &Ctx<'_>,
    grant_id: &str,
    client_id: &str,
    agent_id: &str,
    audience: Audience,
    jkt: Option<&str>,
) -> Result<Minted, ApiError> {
    let (claims, signer, row) = prepare(ctx, grant_id, client_id, agent_id, audience, jkt)?;
    let token = access_token::mint(&claims, signer)
        .await
        .map_err(|_| ApiError::internal("access token signing failed"))?;
    Ok(Minted { token, claims, row })
}

/// The claims, the key and the issuance row of [`mint`]: everything but the signature, outside
/// the future so that the wasm build keeps one copy of it.
#[inline(never)]
fn prepare<'c>(
    ctx: &'c Ctx<'_>,
    grant_id: &str,
    client_id: &str,
    agent_id: &str,
    audience: Audience,
    jkt: Option<&str>,
) -> Result<(AccessClaims, Signer<'c>, Statement), ApiError> {
    let keys = super::signing_keys(ctx)?;
    let mut random = [0u8; 16];
    ctx.rng().fill(&mut random)?;
    let iat = ctx.now_s();
    let (aud, scope, agent, alg) = match audience {
        Audience::Client(scope) => (
            client_id.to_owned(),
            TokenScope::Identity(scope),
            None,
            TokenAlg::EdDSA,
        ),
        Audience::Resource {
            uri,
            scope,
            agent,
            alg,
        } => (uri, TokenScope::Resource(scope), Some(agent), alg),
    };
    let signer = match alg {
        TokenAlg::EdDSA => Signer::EdDSA(&keys.current),
        TokenAlg::ES256 => Signer::ES256(
            &super::es256_keys(ctx)?
                .ok_or_else(|| {
                    ApiError::configuration(&ConfigError {
                        name: "OAUTH_ES256_SIGNING_KEY",
                        problem: "is not set (a resource accepts only ES256 tokens)",
                    })
                })?
                .current,
        ),
    };
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: agent_id.to_owned(),
        aud,
        client_id: client_id.to_owned(),
        scope,
        iat,
        exp: iat + ctx.config.access_token_ttl_secs,
        jti: access_token::new_jti(&random),
        jkt: jkt.map(str::to_owned),
        agent,
    };
    let row = grants::insert_access(&AccessRow {
        jti: &claims.jti,
        grant_id,
        client_id,
        agent_id,
        jkt,
        scope: &claims.scope.to_string(),
        aud: claims.agent.is_some().then_some(claims.aud.as_str()),
        issued_at_ms: iat * 1000,
        expires_at_ms: claims.exp * 1000,
    });
    Ok((claims, signer, row))
}
