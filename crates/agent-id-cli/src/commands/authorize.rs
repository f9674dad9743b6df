//! `agent-id authorize`: the agent approves an OAuth client's authorization request (consent)
//! with its saved session, or a DPoP proof when there is none, and prints the redirect URL that
//! carries the code, for the agent to hand back to the client.

use std::collections::HashMap;

use agent_id_client::AuthorizationRequest;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

const AUTHORIZE_PATH: &str = "/v1/oauth/authorize";

/// The client's parameters, as in its authorization request: one by one, or the whole
/// authorization URL the client made (`--url`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The client's authorization URL (`<server>/v1/oauth/authorize?client_id=…`); its query
    /// gives the parameters, so the options below cannot be given with it.
    #[arg(long, value_name = "URL", conflicts_with_all = ["client_id", "redirect_uri",
          "code_challenge", "scope", "state", "dpop_jkt"])]
    pub url: Option<String>,
    /// The client's `client_id`.
    #[arg(long, value_name = "ID", required_unless_present = "url")]
    pub client_id: Option<String>,
    /// One of the client's registered redirect URIs.
    #[arg(long, value_name = "URI", required_unless_present = "url")]
    pub redirect_uri: Option<String>,
    /// The client's PKCE `code_challenge` (BASE64URL(SHA-256(code_verifier)), 43 characters).
    #[arg(long, value_name = "CHALLENGE", required_unless_present = "url")]
    pub code_challenge: Option<String>,
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
    let request = match args.url {
        Some(url) => request_from_url(&url, &client.server().url(AUTHORIZE_PATH))?,
        // clap guarantees the three required options when there is no --url.
        None => AuthorizationRequest {
            client_id: args.client_id.unwrap_or_default(),
            redirect_uri: args.redirect_uri.unwrap_or_default(),
            code_challenge: args.code_challenge.unwrap_or_default(),
            scope: args.scope,
            state: args.state,
            dpop_jkt: args.dpop_jkt,
        },
    };
    let auth = ctx.session_or_key(&client)?;
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

/// The request of a client's authorization URL, which must point at this server's authorization
/// endpoint (the agent approves at its own server only). A parameter given twice, a
/// `response_type` other than `code` or a PKCE method other than `S256` is refused before
/// anything is sent; parameters this endpoint does not take (`resource`, `prompt`, …) are
/// ignored.
fn request_from_url(url: &str, endpoint: &str) -> Result<AuthorizationRequest, Failure> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    if !base.eq_ignore_ascii_case(endpoint) {
        return Err(Failure::usage(format!(
            "--url must be this server's authorization endpoint {endpoint}?…"
        )));
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(Failure::usage(format!(
                "--url: the parameter `{name}` is given twice"
            )));
        }
    }
    let mut take = |name: &str| params.remove(name);
    if take("response_type").is_some_and(|t| t != "code") {
        return Err(Failure::usage("--url: response_type must be `code`"));
    }
    if take("code_challenge_method").is_some_and(|m| m != "S256") {
        return Err(Failure::usage(
            "--url: code_challenge_method must be `S256`",
        ));
    }
    let mut required = |name: &str| {
        take(name)
            .ok_or_else(|| Failure::usage(format!("--url: the parameter `{name}` is missing")))
    };
    Ok(AuthorizationRequest {
        client_id: required("client_id")?,
        redirect_uri: required("redirect_uri")?,
        code_challenge: required("code_challenge")?,
        scope: take("scope"),
        state: take("state"),
        dpop_jkt: take("dpop_jkt"),
    })
}

#[cfg(test)]
mod tests {
    use super::request_from_url;

    const ENDPOINT: &str = "https://id.example.com/v1/oauth/authorize";

    #[test]
    fn a_clients_url_gives_the_request() {
        let request = request_from_url(
            &format!(
                "{ENDPOINT}?response_type=code&client_id=c1&redirect_uri=http%3A%2F%2F127.0.0.1%3A8790%2Fcb\
                 &code_challenge=abc&code_challenge_method=S256&scope=id+name&state=s%20t&resource=x#frag"
            ),
            ENDPOINT,
        )
        .unwrap();
        assert_eq!(request.client_id, "c1");
        assert_eq!(request.redirect_uri, "http://127.0.0.1:8790/cb");
        assert_eq!(request.code_challenge, "abc");
        assert_eq!(request.scope.as_deref(), Some("id name"));
        assert_eq!(request.state.as_deref(), Some("s t"));
        assert_eq!(request.dpop_jkt, None);
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        let ok = "client_id=c&redirect_uri=r&code_challenge=x";
        for url in [
            format!("https://evil.example/v1/oauth/authorize?{ok}"),
            format!("https://id.example.com/v1/oauth/token?{ok}"),
            format!("{ENDPOINT}?{ok}&client_id=d"),
            format!("{ENDPOINT}?{ok}&response_type=token"),
            format!("{ENDPOINT}?{ok}&code_challenge_method=plain"),
            format!("{ENDPOINT}?client_id=c&redirect_uri=r"),
        ] {
            let err = request_from_url(&url, ENDPOINT).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{url}");
        }
    }
}
