//! `agent-id request [-X METHOD] [-H header]… [--data BODY] URL`: a curl-like call to a protected
//! resource. The first attempt carries the stored token for the URL when there is one; a 401
//! that challenges for a token (`resource_metadata`, RFC 9728) runs discovery and the token flow
//! and sends the request again once, with the DPoP-bound token and a fresh proof. Prints the
//! response body (`--json`: status, headers and body as one JSON object). Any HTTP status is a
//! successful run: like curl, the answer is the output.

use agent_id_client::oauth::flow::run::build;
use agent_id_client::oauth::flow::{ClientIdentity, OAuthAgent};
use serde::Serialize;
use url::Url;

use super::oauth_client::AgentParts;
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

/// Headers the caller may not set: the client owns them.
const RESERVED: &[&str] = &["authorization", "dpop", "host", "content-length"];

/// Arguments of `agent-id request`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HTTP method.
    #[arg(
        short = 'X',
        long = "request",
        default_value = "GET",
        value_name = "METHOD"
    )]
    pub method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The request body (`@-` reads it from stdin).
    #[arg(long, value_name = "BODY")]
    pub data: Option<String>,
    /// Sign the request the Web Bot Auth way (RFC 9421) with the agent's key, naming its card.
    #[arg(long)]
    pub sign: bool,
    /// The client id for a token flow the resource asks for (see `agent-id token`).
    #[arg(long, value_name = "ID_OR_URL", default_value = "agent-id-cli")]
    pub client_id: String,
    /// The URL.
    pub url: String,
}

/// `--json`: the response's status, headers (name, value pairs in order) and body as text.
#[derive(Debug, Serialize)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Parses `Name: value`, refusing names the client sets itself.
pub fn parse_header(raw: &str) -> Result<(http::HeaderName, http::HeaderValue), Failure> {
    let usage = |why: &str| Failure::Usage(format!("-H {raw:?}: {why}"));
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| usage("expected `Name: value`"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| usage("invalid header name"))?;
    if RESERVED.contains(&name.as_str()) {
        return Err(usage("this header is set by agent-id"));
    }
    let value = http::HeaderValue::from_str(value.trim()).map_err(|_| usage("invalid value"))?;
    Ok((name, value))
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let url = Url::parse(&args.url).map_err(|e| Failure::usage(format!("{}: {e}", args.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::usage(format!("{}: not an http(s) URL", args.url)));
    }
    let method = http::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Failure::usage(format!("-X {}: not a method", args.method)))?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match args.data.as_deref() {
        Some("@-") => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| Failure::local(format!("reading the body from stdin: {e}")))?;
            buf
        }
        Some(d) => d.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let client = ClientIdentity::parse(&args.client_id)?;
    let parts = AgentParts::load(ctx)?;
    let store = parts.store();
    let agent = OAuthAgent::new(&parts.client, &parts.key.key, Some(&store));
    let signer = (args.sign)
        .then(|| super::sign::signer_for(ctx, &parts.key.key))
        .transpose()?;
    let make = || {
        let mut request = build(method.clone(), url.as_str(), &[], body.clone())?;
        for (name, value) in &headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
        if let Some(signer) = &signer {
            super::sign::sign_now(signer, &mut request, parts.client.now_s())?;
        }
        Ok(request)
    };
    let mut token = None;
    let response = agent
        .send_protected(&url, &client, &make, &mut token)
        .await?;
    let shown = Response {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(response.body()).into_owned(),
    };
    let human = shown.body.clone();
    Output::new(&shown, human)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_parsed_and_reserved_ones_refused() {
        let (n, v) = parse_header("X-Trace:  abc ").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-trace", "abc"));
        for bad in [
            "Authorization: DPoP x",
            "dpop: y",
            "no colon",
            "bad name: x",
            "X: a\u{1}b",
        ] {
            assert!(
                matches!(parse_header(bad), Err(Failure::Usage(_))),
                "{bad:?} accepted"
            );
        }
    }
}
