//! An agent's signature-agent card (registry draft -04): at once an OAuth Client ID Metadata
//! Document whose `client_id` is its own URL, and the card a `Signature-Agent` points to, with
//! the public accountability block (issue 14).

use http::header::CACHE_CONTROL;
use http::HeaderValue;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::domain::web_bot_auth::{self as wba, Accountability};
use crate::http::{body, ApiError, ErrorCode, Reply};
use crate::store::agent_keys;

/// The registry's `web_bot_auth` object. Its members (user agent, product token, purpose, IP
/// ranges) are claims about how the agent behaves, which only its operator can make; agent-id
/// publishes none of them rather than inventing any.
#[derive(Serialize)]
struct WebBotAuth {}

#[derive(Serialize)]
struct Card {
    client_id: String,
    client_name: String,
    jwks_uri: String,
    /// The agent's keys sign client assertions as well as requests.
    token_endpoint_auth_method: &'static str,
    web_bot_auth: WebBotAuth,
    agent_id: String,
    did: String,
    accountability: Accountability,
}

/// `GET /v1/agents/:id/card`
pub async fn card(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    body::ignore(ctx.req)?;
    let not_found = || ApiError::new(ErrorCode::AgentNotFound, "Agent not found");
    let id = canonical_uuid(ctx.param("id")).ok_or_else(not_found)?;
    let p = agent_keys::published(ctx.db(), &id, ctx.now_ms)
        .await?
        .ok_or_else(not_found)?;
    let card = Card {
        client_id: wba::card_url(&ctx.issuer, &p.agent.id),
        client_name: p.agent.name.clone(),
        jwks_uri: wba::directory_url(&ctx.issuer, &p.agent.id),
        token_endpoint_auth_method: "private_key_jwt",
        web_bot_auth: WebBotAuth {},
        did: wba::did(&ctx.issuer, &p.agent.id),
        accountability: wba::accountability(p.oversight.as_ref(), ctx.now_ms),
        agent_id: p.agent.id,
    };
    Ok(Reply::document(&card).header(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    ))
}
