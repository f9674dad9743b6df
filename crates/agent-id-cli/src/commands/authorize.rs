//! `agent-id authorize`: the agent approves an OAuth client's authorization request (consent)
//! with its saved session, or a DPoP proof when there is none, and prints the redirect URL that
//! carries the code, for the agent to hand back to the client.

use agent_id_client::AuthorizationRequest;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

/// The client's parameters, as in its authorization request.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The client's `client_id`.
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// One of the client's registered redirect URIs.
    #[arg(long, value_name = "URI")]
    pub redirect_uri: String,
    /// The client's PKCE `code_challenge` (BASE64URL(SHA-256(code_verifier)), 43 characters).
    #[arg(long, value_name = "CHALLENGE")]
    pub code_challenge: String,
    /// The PKCE method; only S256 exists (plain is refused by the server).
    #[arg(long, value_name = "METHOD", default_value = "S256",
          value_parser = clap::builder::PossibleValuesParser::new(["S256"]))]
    pub code_challenge_method: String,
    /// Space-separated scopes (id name description pub_key subscription).
    #[arg(long)]
    pub scope: Option<String>,
    /// The client's `state`, echoed in the redirect.
    #[arg(long)]
    pub state: Option<String>,
    /// The thumbprint of the client's DPoP key, binding the code to it (RFC 9449 §10).
    #[arg(long, value_name = "JKT")]
    pub dpop_jkt: Option<String>,
}

/// `--json`: the redirect and its parts.
#[derive(Debug, Serialize)]
struct Approved {
    redirect_to: String,
    code: String,
    redirect_uri: String,
    state: Option<String>,
    scope: String,
    iss: String,
    expires_in: i64,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let auth = ctx.session_or_key(&client)?;
    let request = AuthorizationRequest {
        client_id: args.client_id,
        redirect_uri: args.redirect_uri,
        code_challenge: args.code_challenge,
        scope: args.scope,
        state: args.state,
        dpop_jkt: args.dpop_jkt,
    };
    let approved = client.authorize(auth.auth(), &request).await?;
    let shown = Approved {
        code: approved.code.expose().to_owned(),
        redirect_to: approved.redirect_to.expose().to_owned(),
        redirect_uri: approved.redirect_uri,
        state: approved.state,
        scope: approved.scope,
        iss: approved.iss,
        expires_in: approved.expires_in,
    };
    // The redirect alone on stdout, so that `$(agent-id authorize …)` is the URL.
    let human = shown.redirect_to.clone();
    Output::new(&shown, human)
}
