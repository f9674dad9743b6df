//! `agent-id token --resource URI --client-id ID_OR_URL`: prints an access token for a protected
//! resource on stdout (its one job; nothing else ever prints a token). A live stored token is
//! reused, one about to expire is refreshed, otherwise the authorization code flow runs
//! (discovery from the resource's 401, PKCE, DPoP-bound token).

use agent_id_client::oauth::flow::run::{build, challenge_of};
use agent_id_client::oauth::flow::{ClientIdentity, OAuthAgent, Obtained};
use serde::Serialize;
use url::Url;

use super::oauth_client::AgentParts;
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

/// Arguments of `agent-id token`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The protected resource (its URL, e.g. an MCP server's `https://host/mcp`).
    #[arg(long, value_name = "URI")]
    pub resource: String,
    /// A public client id, or an https URL of the agent's Client ID Metadata Document (used
    /// where the authorization server advertises support for them).
    #[arg(long, value_name = "ID_OR_URL")]
    pub client_id: String,
}

/// `--json`: the token (on purpose: printing it is this command's job), how to present it, its
/// expiry (Unix seconds, when known), the resource, and whether it was reused, refreshed or newly
/// authorized. Without `--json` only the token is printed, for `$(agent-id token …)`.
#[derive(Debug, Serialize)]
struct Token {
    access_token: String,
    token_type: &'static str,
    expires_at: Option<u64>,
    resource: String,
    obtained: &'static str,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let resource = Url::parse(&args.resource)
        .map_err(|e| Failure::usage(format!("--resource {}: {e}", args.resource)))?;
    let client = ClientIdentity::parse(&args.client_id)?;
    let parts = AgentParts::load(ctx)?;
    let store = parts.store();
    let agent = OAuthAgent::new(&parts.client, &parts.key.key, Some(&store));
    // A resource names its protection in a 401; one that answers the probe otherwise (an MCP
    // endpoint takes only POST) is looked up at the RFC 9728 well-known locations instead.
    let probe = build(http::Method::GET, resource.as_str(), &[], Vec::new())?;
    let response = parts
        .client
        .transport()
        .send(probe)
        .await
        .map_err(agent_id_client::Error::from)?;
    let challenge = challenge_of(&response)?;
    let found = agent.discover(&resource, challenge.as_ref()).await?;
    let (token, how) = agent.obtain(&found, &client).await?;
    let shown = Token {
        token_type: token.token_type.scheme(),
        expires_at: token.expires_at,
        resource: token.resource.clone(),
        obtained: match how {
            Obtained::Reused => "reused",
            Obtained::Refreshed => "refreshed",
            Obtained::Authorized => "authorized",
        },
        access_token: token.access_token,
    };
    let human = shown.access_token.clone();
    Output::new(&shown, human)
}
