//! An agent's Web Bot Auth key directory (directory draft), its `did:web` projection, and the
//! agent's immediate removal of a previous key (issue 14).
//!
//! The directory is not signed by agent-id: the draft's possession proof must come from the key
//! owner, and agent-id never holds an agent's private key (README, "Web Bot Auth").

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;
use serde::Serialize;
use serde_json::json;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::web_bot_auth::{self as wba, DirectoryKey, KeyStatus};
use crate::http::error::Challenge;
use crate::http::{body, ApiError, ErrorCode, Reply};
use crate::store::agent_keys::{self, Published};
use crate::store::audit::Event;

fn agent_not_found() -> ApiError {
    ApiError::new(ErrorCode::AgentNotFound, "Agent not found")
}

/// The agent of the path's `{id}` with its listed keys, or `agent_not_found`.
async fn load(ctx: &Ctx<'_>) -> Result<Published, ApiError> {
    let id = canonical_uuid(ctx.param("id")).ok_or_else(agent_not_found)?;
    agent_keys::published(ctx.db(), &id, ctx.now_ms)
        .await?
        .ok_or_else(agent_not_found)
}

fn cache_for(secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={secs}"))
        .unwrap_or(HeaderValue::from_static("no-store"))
}

#[derive(Serialize)]
struct Directory {
    keys: Vec<DirectoryKey>,
}

/// `GET /v1/agents/:id/http-message-signatures-directory`
pub async fn directory(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let p = load(ctx).await?;
    let keys = wba::listed_keys(&p).map_err(ApiError::internal)?;
    let max_age =
        wba::directory_max_age_secs(&p, ctx.config.key_directory_overlap_secs, ctx.now_ms);
    Ok(Reply::document(&Directory {
        keys: keys.into_iter().map(|(k, _)| k).collect(),
    })
    .header(
        CONTENT_TYPE,
        HeaderValue::from_static(wba::DIRECTORY_MEDIA_TYPE),
    )
    .header(CACHE_CONTROL, cache_for(max_age)))
}

/// `GET /v1/agents/:id/did.json`: the listed keys as a `did:web` DID document.
pub async fn did_document(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let p = load(ctx).await?;
    let keys = wba::listed_keys(&p).map_err(ApiError::internal)?;
    let did = wba::did(&ctx.issuer, &p.agent.id);
    let method_id = |k: &DirectoryKey| format!("{did}#{}", k.kid);
    let methods: Vec<_> = keys
        .iter()
        .map(|(k, _)| {
            json!({
                "id": method_id(k),
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": k,
            })
        })
        .collect();
    let current: Vec<_> = keys
        .iter()
        .filter(|(_, s)| *s == KeyStatus::Current)
        .map(|(k, _)| method_id(k))
        .collect();
    let all: Vec<_> = keys.iter().map(|(k, _)| method_id(k)).collect();
    let max_age =
        wba::directory_max_age_secs(&p, ctx.config.key_directory_overlap_secs, ctx.now_ms);
    Ok(Reply::document(&json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "verificationMethod": methods,
        "authentication": current,
        "assertionMethod": all,
    }))
    .header(CONTENT_TYPE, HeaderValue::from_static("application/did+json"))
    .header(CACHE_CONTROL, cache_for(max_age)))
}

#[derive(Serialize)]
struct Removed<'a> {
    removed: &'a str,
}

/// `DELETE /v1/agents/me/keys/:kid`: unlists a previous key now (its private key leaked). The
/// current key cannot be removed here: rotate instead.
pub async fn remove_previous_key(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let s = session::require_agent(ctx, Challenge::Bearer).await?;
    let kid = ctx.param("kid");
    let event = Event::by_agent("agent.previous_key_removed", &s.agent.id)
        .details(json!({ "key_thumbprint": kid }));
    if !agent_keys::remove(ctx.db(), &s.agent.id, kid, ctx.now_ms, &event, &ctx.stamp()).await? {
        return Err(ApiError::new(
            ErrorCode::KeyNotFound,
            "No previous key with this kid is listed (the current key is replaced by rotation)",
        ));
    }
    Ok(Reply::ok(&Removed { removed: kid }))
}
