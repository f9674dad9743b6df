//! What one access token of a grant is minted for, and how it is bound (the token endpoint's
//! policy, docs/resources.md): its audience and scope (RFC 8707), the `agent` claim of resource
//! tokens, and DPoP or Bearer (RFC 9449).

use http::StatusCode;

use crate::ctx::Ctx;
use crate::domain::resource::issuer_is_loopback;
use crate::domain::tier::agent_standing;
use crate::http::form::Form;
use crate::http::ApiError;
use crate::oauth::agent_claim::AgentClaim;
use crate::oauth::scope::Scope;
use crate::oauth::target::{ResourceScope, Resources, TargetError};
use crate::store::clients::{ClientOrigin, ClientRow};
use crate::store::resources::ResourceRow;

use super::access::Audience;
use super::oauth_error;
use super::target::{declared, invalid_scope, invalid_target, registered};

/// The grant a token is minted from, as stored.
pub struct Grant<'a> {
    pub agent_id: &'a str,
    pub scope: &'a str,
    /// JSON array of resource URIs; `None`: an identity grant.
    pub resources: Option<&'a str>,
}

/// A token ready to mint: whom it is for, the key it is bound to (`None`: Bearer).
pub struct Decided {
    pub audience: Audience,
    pub jkt: Option<String>,
}

impl Decided {
    /// The scope the response reports (the token's).
    pub fn scope_text(&self) -> String {
        match &self.audience {
            Audience::Client(s) => s.to_string(),
            Audience::Resource { scope, .. } => scope.to_string(),
        }
    }
}

/// The access token's `token_type` in the response.
pub const fn token_type(jkt: Option<&str>) -> &'static str {
    match jkt {
        Some(_) => "DPoP",
        None => "Bearer",
    }
}

/// Whether `client` is registered through the API with a key (`private_key_jwt`): the clients
/// whose tokens keep v1's compatible binding to that key when they send no proof. A
/// metadata-document client's keys are its JWK set, never a v1 client key: its tokens without a
/// proof are Bearer.
fn registered_key_client(client: &ClientRow) -> Option<&str> {
    (client.origin == ClientOrigin::Registered
        && client.token_endpoint_auth_method == "private_key_jwt")
        .then_some(&client.key_thumbprint)
}

/// Decides the token of `grant`: for a resource grant the one resource named by the form's
/// `resource` (or the grant's only one), still registered, with the grant's scope narrowed to
/// that resource's (and to `narrow`, a refresh's `scope`); for an identity grant `identity`,
/// and no `resource` may be named. `proof_jkt` is the verified DPoP proof's key.
pub async fn decide(
    ctx: &Ctx<'_>,
    form: &Form,
    client: &ClientRow,
    grant: Grant<'_>,
    identity: &dyn Fn() -> Result<Scope, ApiError>,
    narrow: Option<&str>,
    proof_jkt: Option<&str>,
) -> Result<Decided, ApiError> {
    let requested = form.all("resource");
    let stored = Resources::from_stored(grant.resources)
        .map_err(|_| ApiError::internal("stored resources invalid"))?;
    let Some(resources) = stored else {
        if !requested.is_empty() {
            return Err(invalid_target(TargetError::NotGranted));
        }
        let jkt = proof_jkt.or_else(|| registered_key_client(client));
        return Ok(Decided {
            audience: Audience::Client(identity()?),
            jkt: jkt.map(str::to_owned),
        });
    };
    let loopback = issuer_is_loopback(&ctx.issuer);
    let uri = resources
        .audience(&requested, loopback)
        .map_err(invalid_target)?;
    let row = registered(ctx, &[uri.to_owned()]).await??.remove(0);
    let grant_scope = ResourceScope::parse(grant.scope)
        .map_err(|_| ApiError::internal("stored scope invalid"))?;
    let scope = grant_scope
        .for_token(narrow, &declared(&row)?)
        .map_err(invalid_scope)?;
    let jkt = bind_resource_token(client, &row, proof_jkt)?;
    let standing = agent_standing(ctx.db(), grant.agent_id, ctx.now_ms).await?;
    Ok(Decided {
        audience: Audience::Resource {
            uri: row.uri,
            scope,
            agent: AgentClaim::from(standing),
            alg: row.access_token_alg,
        },
        jkt,
    })
}

/// A resource token is DPoP-bound to the proof's key when there is one; without a proof it is
/// a Bearer token, unless the resource requires DPoP (the client's own requirement was checked
/// with the proof).
fn bind_resource_token(
    client: &ClientRow,
    row: &ResourceRow,
    proof_jkt: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match proof_jkt {
        Some(jkt) => Ok(Some(jkt.to_owned())),
        None if row.dpop_bound_access_tokens || client.dpop_bound_access_tokens => {
            Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "this resource requires DPoP-bound access tokens: send a DPoP proof",
            ))
        }
        None => Ok(None),
    }
}
