//! OAuth client registration and management (api.md 2.8, 5.8): clients belong to an agent or
//! an overseer and count against the limit of their pool; every write is owner-only.

use http::StatusCode;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::session::{self, Principal};
use crate::ctx::Ctx;
use crate::domain::client::ClientRow;
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::text;
use crate::domain::tier::{agent_standing, overseer_tier, Pool, Tiers};
use crate::http::body::{self, JsonBody};
use crate::http::error::Challenge;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::redirect;
use crate::oauth::scope::Scope;
use crate::stmt;
use crate::store::{Statement, Value};

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
async fn pool_of(ctx: &Ctx<'_>, owner_type: &str, owner_id: &str) -> Result<(Pool, i64), ApiError> {
    let db = ctx.services.db.as_ref();
    let (pool, tier) = if owner_type == "overseer" {
        let tier = overseer_tier(db, owner_id)
            .await?
            .unwrap_or_else(|| "FREE".into());
        (Pool::Overseer(owner_id.to_owned()), tier)
    } else {
        let standing = agent_standing(db, owner_id, ctx.now_ms).await?;
        (standing.pool, standing.tier)
    };
    let max = Tiers::load(db).await?.get(&tier)?.max_clients;
    Ok((pool, max))
}

/// `SELECT … WHERE` room in `pool` for one more enabled client: `?1` is the pool's id,
/// `?2` its `max_clients` (−1 unlimited).
fn room_condition(pool: &Pool) -> String {
    let (condition, _) = pool.condition();
    format!("(?2 < 0 OR (SELECT COUNT(*) FROM oauth_clients c WHERE c.disabled = 0 AND {condition}) < ?2)")
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

/// `POST /v1/clients/register/:owner_type`: the room check and the insert are one statement,
/// so concurrent registrations cannot exceed the pool's limit.
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let owner = owner_from_path(ctx).await?;
    let name = text::name("name", body.req_str("name")?)?;
    let redirect_uris = redirect_uris(&body)?;
    let key = Ed25519PublicKey::parse(body.req_str("public_key")?).map_err(|_| invalid_key())?;
    let scope = Scope::parse_registration(body.opt_str("scope")?)
        .map_err(|e| ApiError::new(ErrorCode::InvalidScope, e.to_string()))?;
    match body.opt_str("token_endpoint_auth_method")? {
        None | Some("private_key_jwt") => {}
        Some(_) => {
            return Err(ApiError::invalid_field(
                "token_endpoint_auth_method",
                "only private_key_jwt is supported",
            ))
        }
    }
    let application_type = match body.opt_str("application_type")? {
        None | Some("web") => "web",
        Some("native") => "native",
        Some(_) => {
            return Err(ApiError::invalid_field(
                "application_type",
                "must be web or native",
            ))
        }
    };
    let dpop_bound = body.opt_bool("dpop_bound_access_tokens")?.unwrap_or(false);

    let (owner_type, owner_id) = owner.owner();
    let (pool, max_clients) = pool_of(ctx, owner_type, owner_id).await?;
    let (_, pool_id) = pool.condition();
    let id = uuid_v4(ctx.rng())?;
    let uris_json = serde_json::to_string(&redirect_uris).map_err(ApiError::internal)?;
    let insert = Statement::new(
        format!(
            "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, scope, public_key, \
               key_thumbprint, token_endpoint_auth_method, application_type, dpop_bound_access_tokens, \
               created_at, updated_at) \
             SELECT ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'private_key_jwt', ?11, ?12, ?13, ?13 WHERE {}",
            room_condition(&pool)
        ),
        vec![
            Value::from(pool_id),
            Value::from(max_clients),
            Value::from(id.as_str()),
            Value::from(owner_type),
            Value::from(owner_id),
            Value::from(name.as_str()),
            Value::from(uris_json),
            Value::from(scope.map(|s| s.to_string())),
            Value::from(key.canonical()),
            Value::from(key.thumbprint()),
            Value::from(application_type),
            Value::from(dpop_bound),
            Value::from(ctx.now_ms),
        ],
    );
    let event = client_event("client.registered", &owner, &id);
    let audit_row = audit::insert_where(
        ctx,
        &event,
        Some((
            "EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?13)",
            vec![Value::from(id.as_str())],
        )),
    )?;
    let outcomes = ctx.services.db.batch(vec![insert, audit_row]).await?;
    if outcomes.first().map_or(0, |o| o.changes) != 1 {
        return Err(tier_limit());
    }
    let client = load_owned(ctx, &owner, &id).await?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({"success": true, "client": client.view(), "message": "Client registered successfully"}),
    ))
}

/// An audit event about a client, by its owner (tagged with the pool's overseer).
fn client_event<'a>(kind: &'static str, owner: &'a Principal, client_id: &'a str) -> Event<'a> {
    let (owner_type, owner_id) = owner.owner();
    Event {
        kind,
        actor_type: owner_type,
        actor_id: Some(owner_id),
        subject_type: Some("client"),
        subject_id: Some(client_id),
        overseer_id: (owner_type == "overseer").then_some(owner_id),
        agent_id: (owner_type == "agent").then_some(owner_id),
        details: json!({ "client_id": client_id }),
    }
}

/// Any client by id (`None` when unknown).
pub async fn find(ctx: &Ctx<'_>, client_id: &str) -> Result<Option<ClientRow>, ApiError> {
    Ok(ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT {} FROM oauth_clients WHERE id = ?1",
                ClientRow::COLUMNS
            ),
            vec![client_id.into()],
        ))
        .await?
        .first()?)
}

/// A client owned by the caller; anything else (unknown, another owner's) is 404.
async fn load_owned(
    ctx: &Ctx<'_>,
    owner: &Principal,
    client_id: &str,
) -> Result<ClientRow, ApiError> {
    let (owner_type, owner_id) = owner.owner();
    ctx.services
        .db
        .run(Statement::new(
            format!(
                "SELECT {} FROM oauth_clients WHERE id = ?1 AND owner_type = ?2 AND owner_id = ?3",
                ClientRow::COLUMNS
            ),
            vec![client_id.into(), owner_type.into(), owner_id.into()],
        ))
        .await?
        .first()?
        .ok_or_else(client_not_found)
}

/// The path's `:client_id` with the caller as its owner.
async fn path_client(ctx: &Ctx<'_>) -> Result<(Principal, ClientRow), ApiError> {
    let owner = session::require_account(ctx).await?;
    let id = canonical_uuid(ctx.param("client_id")).ok_or_else(client_not_found)?;
    let client = load_owned(ctx, &owner, &id).await?;
    Ok((owner, client))
}

/// `GET /v1/clients/list/:owner_type`: the caller's own clients, disabled ones included.
pub async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let owner = owner_from_path(ctx).await?;
    let (owner_type, owner_id) = owner.owner();
    let rows: Vec<ClientRow> = ctx
        .services
        .db
        .run(Statement::new(
            format!(
                "SELECT {} FROM oauth_clients WHERE owner_type = ?1 AND owner_id = ?2 ORDER BY created_at DESC, id",
                ClientRow::COLUMNS
            ),
            vec![owner_type.into(), owner_id.into()],
        ))
        .await?
        .decode()?;
    let views: Vec<_> = rows.iter().map(ClientRow::view).collect();
    Ok(Reply::ok(&json!({"success": true, "clients": views})))
}

/// `PUT /v1/clients/:client_id/key`: tokens and codes were bound to the old key, so every
/// grant and every unused code of the client is revoked with the change.
pub async fn rekey(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let (owner, client) = path_client(ctx).await?;
    let key = Ed25519PublicKey::parse(body.req_str("public_key")?).map_err(|_| invalid_key())?;
    let now = ctx.now_ms;
    ctx.services
        .db
        .batch(vec![
            stmt!(
                "UPDATE oauth_clients SET public_key = ?2, key_thumbprint = ?3, updated_at = ?4 WHERE id = ?1",
                client.id.as_str(),
                key.canonical(),
                key.thumbprint(),
                now
            ),
            stmt!(
                "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = 'client_key_replaced' \
                 WHERE client_id = ?1 AND revoked_at IS NULL",
                client.id.as_str(),
                now
            ),
            stmt!("DELETE FROM authorization_codes WHERE client_id = ?1 AND used_at IS NULL", client.id.as_str()),
            audit::insert(ctx, &client_event("client.key_replaced", &owner, &client.id))?,
        ])
        .await?;
    Ok(Reply::ok(&json!({
        "success": true,
        "message": "Client key updated",
        "client": {"id": client.id, "name": client.name, "updated_at": crate::domain::time::rfc3339_ms(now)},
    })))
}

/// `DELETE /v1/clients/:client_id`: codes, grants, tokens and blocks go with it (foreign keys);
/// the history keeps the client id and name.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (owner, client) = path_client(ctx).await?;
    ctx.services
        .db
        .batch(vec![
            audit::insert(ctx, &client_event("client.deleted", &owner, &client.id))?,
            stmt!(
                "DELETE FROM oauth_clients WHERE id = ?1",
                client.id.as_str()
            ),
        ])
        .await?;
    Ok(Reply::ok(
        &json!({"success": true, "message": "Client deleted"}),
    ))
}

/// `PUT /v1/clients/:client_id/enable`: re-enables a client disabled by enforcement when its
/// pool has room (one conditional statement).
pub async fn enable(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let (owner, client) = path_client(ctx).await?;
    if client.disabled == 0 {
        return Ok(Reply::ok(
            &json!({"success": true, "client": client.view()}),
        ));
    }
    let (pool, max_clients) = pool_of(ctx, &client.owner_type, &client.owner_id).await?;
    let (_, pool_id) = pool.condition();
    let update = Statement::new(
        format!(
            "UPDATE oauth_clients SET disabled = 0, disabled_at = NULL, disabled_reason = NULL, updated_at = ?4 \
             WHERE id = ?3 AND disabled = 1 AND {}",
            room_condition(&pool)
        ),
        vec![Value::from(pool_id), Value::from(max_clients), Value::from(client.id.as_str()), Value::from(ctx.now_ms)],
    );
    let audit_row = audit::insert_where(
        ctx,
        &client_event("client.enabled", &owner, &client.id),
        Some((
            "EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?13 AND disabled = 0)",
            vec![Value::from(client.id.as_str())],
        )),
    )?;
    let outcomes = ctx.services.db.batch(vec![update, audit_row]).await?;
    if outcomes.first().map_or(0, |o| o.changes) != 1 {
        return Err(tier_limit());
    }
    let client = load_owned(ctx, &owner, &client.id).await?;
    Ok(Reply::ok(
        &json!({"success": true, "client": client.view()}),
    ))
}
