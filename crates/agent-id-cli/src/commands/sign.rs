//! `agent-id sign [-X METHOD] [-H header]… URL`: the Web Bot Auth fields (RFC 9421) that sign a
//! request to URL with the agent's key — `Signature-Agent` naming the agent's card at its
//! agent-id server, `Signature-Input` and `Signature` — printed as header lines to add to the
//! request (`--json`: one object). Nothing is sent.

use agent_id_client::oauth::flow::FlowError;
use agent_id_client::signing::{card_url, RequestSigner, SigningError, DEFAULT_VALIDITY_SECS};
use agent_id_client::{AgentKey, Error, HttpRequest, LocalError};
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

/// Arguments of `agent-id sign`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HTTP method of the request to sign.
    #[arg(
        short = 'X',
        long = "request",
        default_value = "GET",
        value_name = "METHOD"
    )]
    pub method: String,
    /// A header of the request, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The agent the signature names [default: the agent of the saved session].
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
    /// Seconds the signature stays valid.
    #[arg(long, default_value_t = DEFAULT_VALIDITY_SECS, value_name = "SECS",
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub validity: i64,
    /// The absolute http(s) URL of the request.
    pub url: String,
}

/// `--json`: the three field values, the key's thumbprint and the validity window.
#[derive(Debug, Serialize)]
struct Signed {
    signature_agent: String,
    signature_input: String,
    signature: String,
    keyid: String,
    created: i64,
    expires: i64,
}

/// `Name: value` → its two parts, trimmed; a usage error otherwise.
fn header(raw: &str) -> Result<(String, String), Failure> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("-H {raw:?}: expected `Name: value`")))?;
    let name = name.trim();
    if !is_token(name) {
        return Err(Failure::usage(format!("-H {raw:?}: invalid header name")));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// An RFC 9110 token (method and field names).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(crate) fn signing_failure(err: SigningError) -> Failure {
    match err {
        SigningError::Request(_) | SigningError::HeaderValue => Failure::usage(err.to_string()),
        SigningError::Random => Failure::local(err.to_string()),
    }
}

/// The agent a signature names: `--agent-id`, else the saved session's.
pub(crate) fn agent_id(ctx: &Context, given: Option<String>) -> Result<String, Failure> {
    match given {
        Some(id) => Ok(id),
        None => ctx
            .profile()?
            .load_session()
            .map(|s| s.agent_id)
            .map_err(|_| {
                Failure::usage("no agent: pass --agent-id ID, or register or log in first")
            }),
    }
}

/// For `request --sign`: a signer with `key` naming the saved session's agent.
pub(crate) fn signer_for<'k>(
    ctx: &Context,
    key: &'k AgentKey,
) -> Result<RequestSigner<'k>, Failure> {
    let server = ctx.server()?;
    Ok(RequestSigner::for_agent(key, server, &agent_id(ctx, None)?))
}

/// Signs `request` at `now`, failing in the error type of the OAuth flow that sends it.
pub(crate) fn sign_now(
    signer: &RequestSigner<'_>,
    request: &mut HttpRequest,
    now: i64,
) -> Result<(), FlowError> {
    signer
        .sign(request, now)
        .map_err(|e| FlowError::Client(Error::Local(LocalError::Invalid(e.to_string()))))
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    if !is_token(&args.method) {
        return Err(Failure::usage(format!("-X {}: not a method", args.method)));
    }
    let method = args.method.to_ascii_uppercase();
    let headers = args
        .headers
        .iter()
        .map(|h| header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let server = ctx.server()?.clone();
    let agent_id = agent_id(ctx, args.agent_id)?;
    let loaded = ctx.key()?;
    let now = ctx.client()?.now_s();
    let signer =
        RequestSigner::for_agent(&loaded.key, &server, &agent_id).validity_secs(args.validity);
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let fields = signer
        .headers(&method, &args.url, &borrowed, now)
        .map_err(signing_failure)?;
    let shown = Signed {
        signature_agent: fields
            .signature_agent
            .clone()
            .unwrap_or_else(|| card_url(&server, &agent_id)),
        signature_input: fields.signature_input.clone(),
        signature: fields.signature.clone(),
        keyid: loaded.key.thumbprint(),
        created: now,
        expires: now + args.validity,
    };
    let human = fields
        .pairs()
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    Output::new(&shown, human)
}
