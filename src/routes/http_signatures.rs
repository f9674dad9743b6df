//! `POST /v1/verify/http-signature`: Web Bot Auth verification for sites that cannot run a
//! verifier (issue 14). Optional by design: the directory and card exist so that sites verify
//! themselves. Every refusal has its own code; a `200` means the signature is valid.

use agent_id_protocol::httpsig::base::{BaseError, Components};
use agent_id_protocol::httpsig::message::Target;
use agent_id_protocol::httpsig::signature::{self, FieldError};
use agent_id_protocol::httpsig::webbot::{self, Refusal, Window};
use serde::Serialize;

use super::rate_limit;
use crate::ctx::Ctx;
use crate::domain::rate_limit::Bucket;
use crate::domain::web_bot_auth::{self as wba, Accountability, KeyStatus};
use crate::http::body::JsonBody;
use crate::http::{ApiError, ErrorCode, Reply};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::store::agent_keys;

/// The longest accepted field value: real signature fields are a few hundred bytes.
const MAX_VALUE: usize = 8192;

/// The component values a site passes: the request's authority, its `Signature-Agent`, and
/// whatever else the signature covers (`components`: `"@method"`, `"@path"`, field names).
struct Supplied<'a> {
    authority: &'a str,
    signature_agent: &'a str,
    others: Vec<(&'a str, &'a str)>,
}

impl Components for Supplied<'_> {
    fn derived(&self, name: &str) -> Result<Option<String>, BaseError> {
        if name == "@authority" {
            return Ok(Some(self.authority.to_ascii_lowercase()));
        }
        Ok(self.value(name))
    }

    fn field(&self, name: &str) -> Option<String> {
        if name == webbot::SIGNATURE_AGENT {
            return Some(self.signature_agent.to_owned());
        }
        self.value(name)
    }
}

impl Supplied<'_> {
    fn value(&self, name: &str) -> Option<String> {
        self.others
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    }
}

fn refused(code: ErrorCode, message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(code, message)
}

fn field_error(e: &FieldError) -> ApiError {
    refused(ErrorCode::MalformedSignature, e.to_string())
}

fn refusal(r: &Refusal) -> ApiError {
    let code = match r {
        Refusal::WrongTag => ErrorCode::InvalidSignatureTag,
        Refusal::MissingParameter(_) => ErrorCode::MissingSignatureParameter,
        Refusal::UnsupportedAlgorithm(_) => ErrorCode::UnsupportedSignatureAlgorithm,
        Refusal::Expired => ErrorCode::SignatureExpired,
        Refusal::NotYetValid => ErrorCode::SignatureNotYetValid,
        Refusal::BadValidity => ErrorCode::InvalidSignatureValidity,
        Refusal::AuthorityNotCovered => ErrorCode::AuthorityNotCovered,
        Refusal::SignatureAgentNotCovered => ErrorCode::SignatureAgentNotCovered,
        Refusal::BadSignatureAgent => ErrorCode::UnknownSignatureAgent,
        Refusal::KeyidMismatch => ErrorCode::UnknownKey,
        Refusal::BadSignature => ErrorCode::SignatureMismatch,
        Refusal::Component(BaseError::MissingComponent(_)) => ErrorCode::MissingComponent,
        Refusal::Component(_) => ErrorCode::MalformedSignature,
    };
    refused(code, r.to_string())
}

/// A required string field of at most [`MAX_VALUE`] bytes.
fn value<'b>(body: &'b JsonBody, field: &str) -> Result<&'b str, ApiError> {
    let v = body.req_str(field)?;
    if v.len() > MAX_VALUE {
        return Err(ApiError::invalid_field(field, "too long"));
    }
    Ok(v)
}

#[derive(Serialize)]
struct VerifiedAgent<'a> {
    id: &'a str,
    name: &'a str,
    card: String,
}

#[derive(Serialize)]
struct Verified<'a> {
    valid: bool,
    label: &'a str,
    keyid: &'a str,
    key_status: KeyStatus,
    created: i64,
    expires: i64,
    agent: VerifiedAgent<'a>,
    accountability: Accountability,
}

/// `POST /v1/verify/http-signature`
pub async fn verify(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    rate_limit(
        ctx,
        Bucket::VerifyHttpSignature,
        ctx.ip().unwrap_or("unknown"),
    )
    .await?;
    let body = JsonBody::parse(ctx.req)?;
    let signature_input = value(&body, "signature_input")?;
    let signature_value = value(&body, "signature")?;
    let signature_agent = value(&body, "signature_agent")?;
    let authority = value(&body, "authority")?;
    // The authority as a URI's would be: no scheme, path, userinfo or whitespace.
    let target = format!("https://{authority}/");
    if Target::parse(&target).map(|t| t.authority) != Ok(authority) {
        return Err(ApiError::invalid_field("authority", "must be host[:port]"));
    }
    let others = body.opt_str_map("components")?.unwrap_or_default();
    if others.iter().any(|(_, v)| v.len() > MAX_VALUE) {
        return Err(ApiError::invalid_field("components", "a value is too long"));
    }
    let supplied = Supplied {
        authority,
        signature_agent,
        others,
    };

    let sigs =
        signature::parse_fields(signature_input, signature_value).map_err(|e| field_error(&e))?;
    let sig = webbot::select(&sigs).map_err(|r| refusal(&r))?;
    let window = Window {
        now: ctx.now_s(),
        max_skew_secs: ctx.config.clock_skew_secs,
        max_lifetime_secs: Some(wba::MAX_SIGNATURE_LIFETIME_SECS),
    };
    webbot::check_params(&sig.params, true, &window).map_err(|r| refusal(&r))?;
    let url = webbot::signature_agent_url(&sig.params, signature_agent)
        .map_err(|r| refusal(&r))?
        .ok_or_else(|| refusal(&Refusal::SignatureAgentNotCovered))?;
    let agent_id = wba::agent_of_signature_agent(&ctx.issuer, &url).ok_or_else(|| {
        refused(
            ErrorCode::UnknownSignatureAgent,
            "Signature-Agent is not an agent card or key directory of this service",
        )
    })?;
    let p = agent_keys::published(ctx.db(), &agent_id, ctx.now_ms)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AgentNotFound, "Agent not found"))?;
    let keyid = sig.params.keyid.as_deref().unwrap_or_default();
    let (key, status) = wba::listed_keys(&p)
        .map_err(ApiError::internal)?
        .into_iter()
        .find(|(k, _)| k.kid == keyid)
        .ok_or_else(|| {
            refused(
                ErrorCode::UnknownKey,
                "keyid names no listed key of this agent",
            )
        })?;
    let key = Ed25519PublicKey::parse(&key.x).map_err(ApiError::internal)?;
    webbot::verify(sig, &supplied, &key)
        .await
        .map_err(|r| refusal(&r))?;
    Ok(Reply::ok(&Verified {
        valid: true,
        label: &sig.label,
        keyid,
        key_status: status,
        created: sig.params.created.unwrap_or_default(),
        expires: sig.params.expires.unwrap_or_default(),
        agent: VerifiedAgent {
            id: &p.agent.id,
            name: &p.agent.name,
            card: wba::card_url(&ctx.issuer, &p.agent.id),
        },
        accountability: wba::accountability(p.oversight.as_ref(), ctx.now_ms),
    }))
}
