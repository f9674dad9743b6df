//! OAuth client registration and management (api.md 2.8, 5.8): clients belong to an agent or
//! an overseer and count against the limit of their pool; every write is owner-only.

use http::StatusCode;
use serde_json::json;

use crate::auth::session::{self, Principal};
use crate::ctx::Ctx;
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::text;
use crate::domain::tier::{agent_standing, overseer_tier, Pool, Tiers};
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::redirect;
use crate::oauth::scope::Scope;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::clients::{
    self, ApplicationType, ClientRow, NewClient, NewKey, Owner, OwnerType,
};

const MAX_REDIRECT_URIS: usize = 10;

fn client_not_found() -> ApiError {
    ApiError::new(ErrorCode::ClientNotFound, "Client not found")
}

fn tier_limit() -> ApiError {
    ApiError::new(
        ErrorCode::TierLimitReached,
        "Your tier does not allow another enabled client",
    )
}

fn invalid_key() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidPublicKey,
        "Invalid Ed25519 public key format. Expected base64url-encoded key.",
    )
}

/// The `:owner_type` of the path, authenticated as that kind of account.
async fn owner_from_path(ctx: &Ctx<'_>) -> Result<Principal, ApiError> {
    match ctx.param("owner_type") {
        "agent" => Ok(Principal::Agent(
            session::require_agent(ctx, Challenge::Bearer).await?,
        )),
        "overseer" => Ok(Principal::Overseer(session::require_overseer(ctx).await?)),
        _ => Err(ApiError::new(
            ErrorCode::InvalidOwnerType,
            "owner_type must be agent or overseer",
        )),
    }
}

/// The pool a new or re-enabled client of `owner` counts in, and that pool's `max_clients`.
async fn pool_of(ctx: &Ctx<'_>, owner: Owner<'_>) -> Result<(Pool, i64), ApiError> {
    let db = ctx.db();
    let (pool, tier) = match owner.kind {
        OwnerType::Overseer => {
            let tier = overseer_tier(db, owner.id)
                .await?
                .unwrap_or_else(|| "FREE".into());
            (Pool::Overseer(owner.id.to_owned()), tier)
        }
        OwnerType::Agent => {
            let standing = agent_standing(db, owner.id, ctx.now_ms).await?;
            (standing.pool, standing.tier)
        }
    };
    let max = Tiers::load(db).await?.get(&tier)?.max_clients;
    Ok((pool, max))
}

/// The owner an authenticated account registers and manages clients as.
fn owner_of(principal: &Principal) -> Owner<'_> {
    match principal {
        Principal::Agent(s) => Owner {
            kind: OwnerType::Agent,
            id: &s.agent.id,
        },
        Principal::Overseer(s) => Owner {
            kind: OwnerType::Overseer,
            id: &s.overseer.id,
        },
    }
}

fn redirect_uris(body: &JsonBody) -> Result<Vec<String>, ApiError> {
    let list = body
        .opt_str_array("redirect_uris")?
        .ok_or_else(|| ApiError::missing_field("redirect_uris"))?;
    let invalid = |why: String| ApiError::new(ErrorCode::InvalidRedirectUri, why);
    if list.is_empty() || list.len() > MAX_REDIRECT_URIS {
        return Err(invalid("redirect_uris must have 1 to 10 entries".into()));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for uri in list {
        redirect::validate_registration(uri).map_err(|e| invalid(e.to_string()))?;
        if !out.iter().any(|u| u == uri) {
            out.push(uri.to_owned());
        }
    }
    Ok(out)
}

/// The registration metadata besides name and redirect URIs.
struct Metadata {
    scope: Option<Scope>,
    key: Option<NewKey>,
    application_type: ApplicationType,
    dpop_bound: bool,
}

/// The client's key: required with `private_key_jwt` (the default), refused with `none` (a
/// public client authenticates with nothing but its `client_id`; PKCE protects its codes).
fn key(body: &JsonBody) -> Result<Option<NewKey>, ApiError> {
    let public = match body.opt_str("token_endpoint_auth_method")? {
        None | Some("private_key_jwt") => false,
        Some("none") => true,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "token_endpoint_auth_method",
                "must be private_key_jwt or none",
            ))
        }
    };
    if public {
        if body.has("public_key") {
            return Err(ApiError::new(
                ErrorCode::PublicKeyNotAllowed,
                "A public client (token_endpoint_auth_method none) has no public_key",
            ));
        }
        return Ok(None);
    }
    let key = Ed25519PublicKey::parse(body.req_str("public_key")?).map_err(|_| invalid_key())?;
    Ok(Some(NewKey {
        public_key: key.canonical(),
        thumbprint: key.thumbprint(),
    }))
}

fn metadata(body: &JsonBody) -> Result<Metadata, ApiError> {
    let key = key(body)?;
    let scope = Scope::parse_registration(body.opt_str("scope")?)
        .map_err(|e| ApiError::new(ErrorCode::InvalidScope, e.to_string()))?;
    let application_type = match body.opt_str("application_type")? {
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "application_type",
                "must be web or native",
            ))
        }
    };
    let dpop_bound = body.opt_bool("dpop_bound_access_tokens")?.unwrap_or(false);
    Ok(Metadata {
        scope,
        key,
        application_type,
        dpop_bound,
    })
}

/// `POST /v1/clients/register/:owner_type`: the room check and the insert are one statement,
/// so concurrent registrations cannot exceed the pool's limit.
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let principal = owner_from_path(ctx).await?;
    let name = text::name("name", body.req_str("name")?)?;
    let redirect_uris = redirect_uris(&body)?;
    let meta = metadata(&body)?;

    let owner = owner_of(&principal);
    let (pool, max_clients) = pool_of(ctx, owner).await?;
    let id = uuid_v4(ctx.rng())?;
    let uris_json = serde_json::to_string(&redirect_uris).map_err(ApiError::internal)?;
    let client = NewClient {
        id: &id,
        owner,
        name: &name,
        redirect_uris: &uris_json,
        scope: meta.scope.map(|s| s.to_string()),
        key: meta.key,
        application_type: meta.application_type,
        dpop_bound_access_tokens: meta.dpop_bound,
        now_ms: ctx.now_ms,
    };
    let mut batch = Batch::new();
    let inserted = batch.push_if(
        clients::insert(&client),
        clients::has_room(&pool, max_clients),
    );
    batch.push_if(
        client_event("client.registered", owner, &id).insert(&ctx.stamp()),
        clients::exists(&id),
    );
    if !batch.run(ctx.db()).await?.changed(inserted) {
        return Err(tier_limit());
    }
    let client = load_owned(ctx, owner, &id).await?;
    Ok(Reply::success(
        StatusCode::CREATED,
        &json!({"client": client.view(), "message": "Client registered successfully"}),
    ))
}

/// An audit event about a client, by its owner (tagged with the pool's overseer).
fn client_event<'a>(kind: &'static str, owner: Owner<'a>, client_id: &'a str) -> Event<'a> {
    let event = match owner.kind {
        OwnerType::Overseer => Event::new(kind, Actor::Overseer(owner.id)).overseer(owner.id),
        OwnerType::Agent => Event::new(kind, Actor::Agent(owner.id)).agent(owner.id),
    };
    event
        .subject(Subject::Client(client_id))
        .details(json!({ "client_id": client_id }))
}

/// A client owned by the caller; anything else (unknown, another owner's) is 404.
async fn load_owned(
    ctx: &Ctx<'_>,
    owner: Owner<'_>,
    client_id: &str,
) -> Result<ClientRow, ApiError> {
    clients::find_owned(ctx.db(), owner, client_id)
        .await?
        .ok_or_else(client_not_found)
}

/// The path's `:client_id` with the caller as its owner.
async fn path_client(ctx: &Ctx<'_>) -> Result<(Principal, ClientRow), ApiError> {
    let principal = session::require_account(ctx).await?;
    let id = canonical_uuid(ctx.param("client_id")).ok_or_else(client_not_found)?;
    let client = load_owned(ctx, owner_of(&principal), &id).await?;
    Ok((principal, client))
}

/// `GET /v1/clients/list/:owner_type`: the caller's own clients, disabled ones included.
pub async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let principal = owner_from_path(ctx).await?;
    let rows = clients::list_owned(ctx.db(), owner_of(&principal)).await?;
    let views: Vec<_> = rows.iter().map(ClientRow::view).collect();
    Ok(Reply::ok(&json!({"clients": views})))
}

/// `PUT /v1/clients/:client_id/key`: tokens and codes were bound to the old key, so every
/// grant and every unused code of the client is revoked with the change.
pub async fn rekey(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let (principal, client) = path_client(ctx).await?;
    if client.credential().is_public() {
        return Err(ApiError::new(
            ErrorCode::PublicClientHasNoKey,
            "A public client has no key to replace",
        ));
    }
    let key = Ed25519PublicKey::parse(body.req_str("public_key")?).map_err(|_| invalid_key())?;
    let now = ctx.now_ms;
    let owner = owner_of(&principal);
    let mut batch = Batch::new();
    batch.extend(clients::replace_key(
        &client.id,
        &key.canonical(),
        &key.thumbprint(),
        now,
    ));
    batch.push(client_event("client.key_replaced", owner, &client.id).insert(&ctx.stamp()));
    batch.run(ctx.db()).await?;
    Ok(Reply::ok(&json!({
        "message": "Client key updated",
        "client": {"id": client.id, "name": client.name, "updated_at": crate::domain::time::rfc3339_ms(now)},
    })))
}

/// `DELETE /v1/clients/:client_id`: codes, grants, tokens and blocks go with it (foreign keys);
/// the history keeps the client id and name.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (principal, client) = path_client(ctx).await?;
    let mut batch = Batch::new();
    batch.push(
        client_event("client.deleted", owner_of(&principal), &client.id).insert(&ctx.stamp()),
    );
    batch.push(clients::delete(&client.id));
    batch.run(ctx.db()).await?;
    Ok(Reply::ok(&json!({"message": "Client deleted"})))
}

/// `PUT /v1/clients/:client_id/enable`: re-enables a client disabled by enforcement when its
/// pool has room (one conditional statement).
pub async fn enable(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let (principal, client) = path_client(ctx).await?;
    if !client.disabled {
        return Ok(Reply::ok(&json!({"client": client.view()})));
    }
    let owner = owner_of(&principal);
    let (pool, max_clients) = pool_of(ctx, client.owner()).await?;
    let mut batch = Batch::new();
    let enabled = batch.push(
        clients::enable(&client.id, ctx.now_ms).and_if(clients::has_room(&pool, max_clients)),
    );
    batch.push_if(
        client_event("client.enabled", owner, &client.id).insert(&ctx.stamp()),
        clients::is_enabled(&client.id),
    );
    if !batch.run(ctx.db()).await?.changed(enabled) {
        return Err(tier_limit());
    }
    let client = load_owned(ctx, owner, &client.id).await?;
    Ok(Reply::ok(&json!({"client": client.view()})))
}
