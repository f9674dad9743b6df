//! Protected resources (issue 10, RFC 8707, RFC 9728): a human overseer registers the APIs and
//! MCP servers it runs, within its tier's `max_resources`; agent-id serves each one's metadata
//! document publicly.

use http::header::{HeaderValue, CACHE_CONTROL};
use http::StatusCode;
use serde_json::{json, Value};

use crate::auth::session::{self, OverseerSession};
use crate::ctx::Ctx;
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::resource::{
    canonical_resource_uri, issuer_is_loopback, ResourceScope, ResourceScopes,
};
use crate::domain::text;
use crate::domain::tier::overseer_tier;
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::resources::{self, NewResource, ResourceChange, ResourceRow, TokenAlg};

/// How long clients and caches may keep a metadata document: long enough to spare agent-id a
/// fetch per 401, short enough that an update (scopes, DPoP policy) is seen within minutes.
const METADATA_CACHE_CONTROL: &str = "public, max-age=300";

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::ResourceNotFound, "Resource not found")
}

fn tier_limit() -> ApiError {
    ApiError::new(
        ErrorCode::TierLimitReached,
        "Your tier does not allow another protected resource",
    )
}

fn exists() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceExists,
        "A resource with this URI is already registered",
    )
}

/// The body's `uri`, canonical. `http` is accepted on loopback only while agent-id itself is
/// on loopback (development and tests), as registered resources then run next to it.
fn uri(ctx: &Ctx<'_>, body: &JsonBody) -> Result<String, ApiError> {
    canonical_resource_uri(body.req_str("uri")?, issuer_is_loopback(&ctx.issuer))
        .map_err(|e| ApiError::new(ErrorCode::InvalidResourceUri, e.to_string()))
}

/// The body's `scopes`: an array of `{name, description?}` objects.
fn scopes(body: &JsonBody) -> Result<Option<ResourceScopes>, ApiError> {
    let Some(items) = body.opt_array("scopes")? else {
        return Ok(None);
    };
    let shape = || {
        ApiError::invalid_field(
            "scopes",
            "expected an array of {\"name\", \"description\"} objects with string values",
        )
    };
    let list = items
        .iter()
        .map(|item| {
            let obj = item.as_object().ok_or_else(shape)?;
            let name = obj.get("name").and_then(Value::as_str).ok_or_else(shape)?;
            let description = match obj.get("description") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s,
                Some(_) => return Err(shape()),
            };
            Ok(ResourceScope {
                name: name.to_owned(),
                description: description.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    ResourceScopes::new(list)
        .map(Some)
        .map_err(|e| ApiError::new(ErrorCode::InvalidScope, e.to_string()))
}

/// `access_token_alg`, when given. `ES256` needs the deployment's ES256 key: a resource must
/// never be promised tokens the service cannot sign.
fn token_alg(ctx: &Ctx<'_>, body: &JsonBody) -> Result<Option<TokenAlg>, ApiError> {
    match body.opt_str("access_token_alg")? {
        None => Ok(None),
        Some("EdDSA") => Ok(Some(TokenAlg::EdDSA)),
        Some("ES256") if crate::routes::oauth::es256_keys(ctx)?.is_none() => {
            Err(ApiError::invalid_field(
                "access_token_alg",
                "ES256 is not available: this deployment has no ES256 signing key",
            ))
        }
        Some("ES256") => Ok(Some(TokenAlg::ES256)),
        Some(_) => Err(ApiError::invalid_field(
            "access_token_alg",
            "must be EdDSA or ES256",
        )),
    }
}

/// The overseer's `max_resources`: its effective tier's (FREE without a paid subscription).
async fn max_resources(ctx: &Ctx<'_>, overseer_id: &str) -> Result<i64, ApiError> {
    let tier = overseer_tier(ctx.db(), overseer_id)
        .await?
        .unwrap_or_else(|| "FREE".into());
    let tiers = ctx.services.tiers.get(ctx.db()).await?;
    Ok(tiers.get(&tier)?.max_resources)
}

fn event<'a>(kind: &'static str, overseer_id: &'a str, r: &'a ResourceRow) -> Event<'a> {
    Event::new(kind, Actor::Overseer(overseer_id))
        .overseer(overseer_id)
        .subject(Subject::Resource(&r.id))
        .details(json!({"resource_id": r.id, "uri": r.uri}))
}

fn one(ctx: &Ctx<'_>, status: StatusCode, row: &ResourceRow) -> Result<Reply, ApiError> {
    Ok(Reply::success(
        status,
        &json!({"resource": row.view(&ctx.issuer)?}),
    ))
}

/// `POST /v1/overseers/me/resources`: the limit and the URI's uniqueness are guards of the one
/// insert, so concurrent registrations can neither pass the limit nor share a URI.
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let s = session::require_overseer(ctx).await?;
    let uri = uri(ctx, &body)?;
    let name = text::name("name", body.req_str("name")?)?;
    let scopes = scopes(&body)?.ok_or_else(|| ApiError::missing_field("scopes"))?;
    let dpop_bound = body.opt_bool("dpop_bound_access_tokens")?.unwrap_or(false);
    let alg = token_alg(ctx, &body)?.unwrap_or(TokenAlg::EdDSA);

    let overseer_id = &s.overseer.id;
    let max = max_resources(ctx, overseer_id).await?;
    let id = uuid_v4(ctx.rng())?;
    let stored_scopes = scopes.to_stored();
    let new = NewResource {
        id: &id,
        overseer_id,
        uri: &uri,
        name: &name,
        scopes: &stored_scopes,
        dpop_bound_access_tokens: dpop_bound,
        access_token_alg: alg,
        now_ms: ctx.now_ms,
    };
    let mut batch = Batch::new();
    let inserted = batch.push(
        resources::insert(&new)
            .only_if(resources::uri_free(&uri).and(resources::has_room(overseer_id, max))),
    );
    let registered = Event::new("resource.registered", Actor::Overseer(overseer_id))
        .overseer(overseer_id)
        .subject(Subject::Resource(&id))
        .details(json!({"resource_id": id, "uri": uri}));
    batch.push_if(registered.insert(&ctx.stamp()), resources::exists(&id));
    if !batch.run(ctx.db()).await?.changed(inserted) {
        return Err(if resources::uri_taken(ctx.db(), &uri).await? {
            exists()
        } else {
            tier_limit()
        });
    }
    let row = owned(ctx, &s, &id).await?;
    one(ctx, StatusCode::CREATED, &row)
}

/// `GET /v1/overseers/me/resources`: oldest first, with the count against the limit.
pub async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    // Not batched with the session check: a reading variant would be one more monomorphised
    // copy of the session code in the Worker bundle, for one round trip on a rare page.
    let s = session::require_overseer(ctx).await?;
    let rows: Vec<ResourceRow> = ctx
        .db()
        .run(resources::list_owned_statement(&s.overseer.id))
        .await?
        .decode()?;
    let max = max_resources(ctx, &s.overseer.id).await?;
    let views = rows
        .iter()
        .map(|r| r.view(&ctx.issuer))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Reply::ok(&json!({
        "resources": views,
        "count": views.len(),
        "max_resources": max,
    })))
}

/// The overseer's resource named by the path; anything else (malformed, unknown, another
/// overseer's) is the same 404.
async fn owned(ctx: &Ctx<'_>, s: &OverseerSession, id: &str) -> Result<ResourceRow, ApiError> {
    resources::find_owned(ctx.db(), &s.overseer.id, id)
        .await?
        .ok_or_else(not_found)
}

async fn path_resource(ctx: &Ctx<'_>) -> Result<(OverseerSession, ResourceRow), ApiError> {
    let s = session::require_overseer(ctx).await?;
    let id = canonical_uuid(ctx.param("resource_id")).ok_or_else(not_found)?;
    let row = owned(ctx, &s, &id).await?;
    Ok((s, row))
}

/// `GET /v1/overseers/me/resources/:resource_id`
pub async fn get(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (_, row) = path_resource(ctx).await?;
    one(ctx, StatusCode::OK, &row)
}

/// `PATCH /v1/overseers/me/resources/:resource_id`: `name`, `scopes`,
/// `dpop_bound_access_tokens`, `access_token_alg`; absent members keep their value. The `uri`
/// cannot change: it is the audience of the tokens already issued for the resource.
pub async fn update(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let (s, row) = path_resource(ctx).await?;
    if body.has_key("uri") {
        return Err(ApiError::invalid_field(
            "uri",
            "cannot be changed: it is the audience of issued tokens; register a new resource instead",
        ));
    }
    let name = match body.opt_str("name")? {
        Some(raw) => text::name("name", raw)?,
        None => row.name.clone(),
    };
    let scopes = match scopes(&body)? {
        Some(scopes) => scopes.to_stored(),
        None => row.scopes.clone(),
    };
    let change = ResourceChange {
        name: &name,
        scopes: &scopes,
        dpop_bound_access_tokens: body
            .opt_bool("dpop_bound_access_tokens")?
            .unwrap_or(row.dpop_bound_access_tokens),
        access_token_alg: token_alg(ctx, &body)?.unwrap_or(row.access_token_alg),
        now_ms: ctx.now_ms,
    };
    let overseer_id = &s.overseer.id;
    let mut batch = Batch::new();
    batch.push(resources::update(overseer_id, &row.id, &change));
    batch.push(event("resource.updated", overseer_id, &row).insert(&ctx.stamp()));
    batch.run(ctx.db()).await?;
    let row = owned(ctx, &s, &row.id).await?;
    one(ctx, StatusCode::OK, &row)
}

/// `DELETE /v1/overseers/me/resources/:resource_id`: the live grants holding the resource are
/// revoked with it, so refresh and introspection stop at once and a later registration of the
/// same URI inherits nothing.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, row) = path_resource(ctx).await?;
    let overseer_id = &s.overseer.id;
    let mut batch = Batch::new();
    batch.push(event("resource.deleted", overseer_id, &row).insert(&ctx.stamp()));
    batch.push(resources::revoke_grants_holding(&row.uri, ctx.now_ms));
    batch.push(resources::delete(overseer_id, &row.id));
    batch.run(ctx.db()).await?;
    Ok(Reply::ok(&json!({"message": "Resource deleted"})))
}

/// `GET /v1/resources/:resource_id/oauth-protected-resource`: the RFC 9728 document, public.
pub async fn metadata(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let id = canonical_uuid(ctx.param("resource_id")).ok_or_else(not_found)?;
    let row = resources::find(ctx.db(), &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Reply::document(&row.metadata(&ctx.issuer)?).header(
        CACHE_CONTROL,
        HeaderValue::from_static(METADATA_CACHE_CONTROL),
    ))
}
