//! The Web Bot Auth profile of RFC 9421 (draft-meunier-webbotauth-httpsig-protocol /
//! draft-meunier-web-bot-auth-architecture): which signature of a request is the bot's, which
//! parameters it must carry, what it must cover, and which key it names.

use std::fmt;

use super::base::{BaseError, Component, Components, SignatureParams};
use super::sf::{self, BareItem, Member};
use super::signature::{self, LabelledSignature};
use crate::ed25519::Ed25519PublicKey;

/// The `tag` that marks a Web Bot Auth signature.
pub const TAG: &str = "web-bot-auth";
/// The `Signature-Agent` field name (lowercase, as covered).
pub const SIGNATURE_AGENT: &str = "signature-agent";
/// The only algorithm accepted when `alg` is present.
pub const ALG_ED25519: &str = "ed25519";

/// The time rules a verifier applies (Unix seconds).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub now: i64,
    /// How far in the future `created` may be (clock skew).
    pub max_skew_secs: i64,
    /// The longest `expires - created` accepted; `None` for no bound (the draft's test vectors
    /// are valid for a century).
    pub max_lifetime_secs: Option<i64>,
}

/// Why a request's Web Bot Auth signature is refused, one case per rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No signature carries `tag="web-bot-auth"`.
    WrongTag,
    /// `created`, `expires` or `keyid` is absent.
    MissingParameter(&'static str),
    /// `alg` is present and not `ed25519`.
    UnsupportedAlgorithm(String),
    /// `expires` has passed.
    Expired,
    /// `created` is later than now (beyond the allowed skew).
    NotYetValid,
    /// `expires` is not after `created`, or the validity exceeds the verifier's bound.
    BadValidity,
    /// `@authority` is not covered.
    AuthorityNotCovered,
    /// A `Signature-Agent` field is present and not covered.
    SignatureAgentNotCovered,
    /// The covered `Signature-Agent` member is not a URL string.
    BadSignatureAgent,
    /// `keyid` is not the RFC 7638 thumbprint of the key it was checked against.
    KeyidMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The signature base could not be built.
    Component(BaseError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::WrongTag => write!(f, "no signature has tag=\"{TAG}\""),
            Refusal::MissingParameter(p) => write!(f, "signature parameter {p} is required"),
            Refusal::UnsupportedAlgorithm(a) => write!(f, "alg {a:?} is not supported"),
            Refusal::Expired => f.write_str("signature has expired"),
            Refusal::NotYetValid => f.write_str("signature created in the future"),
            Refusal::BadValidity => f.write_str("expires must follow created within the bound"),
            Refusal::AuthorityNotCovered => f.write_str("@authority is not covered"),
            Refusal::SignatureAgentNotCovered => {
                f.write_str("Signature-Agent is present but not covered")
            }
            Refusal::BadSignatureAgent => {
                f.write_str("the covered Signature-Agent member is not a URL string")
            }
            Refusal::KeyidMismatch => f.write_str("keyid is not the key's JWK thumbprint"),
            Refusal::BadSignature => f.write_str("signature does not verify"),
            Refusal::Component(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The request's Web Bot Auth signature: the first (in `Signature-Input` order) with the tag.
pub fn select(sigs: &[LabelledSignature]) -> Result<&LabelledSignature, Refusal> {
    sigs.iter()
        .find(|s| s.params.tag.as_deref() == Some(TAG))
        .ok_or(Refusal::WrongTag)
}

/// The parameter and coverage rules; `signature_agent_present` is whether the request carries
/// a `Signature-Agent` field.
pub fn check_params(
    params: &SignatureParams,
    signature_agent_present: bool,
    window: &Window,
) -> Result<(), Refusal> {
    if params.tag.as_deref() != Some(TAG) {
        return Err(Refusal::WrongTag);
    }
    let created = params.created.ok_or(Refusal::MissingParameter("created"))?;
    let expires = params.expires.ok_or(Refusal::MissingParameter("expires"))?;
    if params.keyid.is_none() {
        return Err(Refusal::MissingParameter("keyid"));
    }
    if let Some(alg) = params.alg.as_deref().filter(|a| *a != ALG_ED25519) {
        return Err(Refusal::UnsupportedAlgorithm(alg.to_owned()));
    }
    if expires <= created
        || window
            .max_lifetime_secs
            .is_some_and(|max| expires - created > max)
    {
        return Err(Refusal::BadValidity);
    }
    if created > window.now.saturating_add(window.max_skew_secs) {
        return Err(Refusal::NotYetValid);
    }
    if expires <= window.now {
        return Err(Refusal::Expired);
    }
    if !params.covers("@authority") {
        return Err(Refusal::AuthorityNotCovered);
    }
    if signature_agent_present && !params.covers(SIGNATURE_AGENT) {
        return Err(Refusal::SignatureAgentNotCovered);
    }
    Ok(())
}

/// The URL of the `Signature-Agent` the signature covers: the dictionary member its `key`
/// names (directory draft -04), or the whole field as one string (earlier drafts). `None` when
/// `signature-agent` is not covered.
pub fn signature_agent_url(
    params: &SignatureParams,
    field: &str,
) -> Result<Option<String>, Refusal> {
    let Some(c) = params.components.iter().find(|c| c.name == SIGNATURE_AGENT) else {
        return Ok(None);
    };
    let bare = match &c.key {
        Some(key) => match sf::parse_dictionary(field)
            .ok()
            .and_then(|d| d.get(key).cloned())
        {
            Some(Member::Item(item)) => item.bare,
            _ => return Err(Refusal::BadSignatureAgent),
        },
        None => {
            sf::parse_item(field)
                .map_err(|_| Refusal::BadSignatureAgent)?
                .bare
        }
    };
    match bare {
        BareItem::String(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Some(url))
        }
        _ => Err(Refusal::BadSignatureAgent),
    }
}

/// Checks that `keyid` names `key` (its RFC 7638 thumbprint) and that the signature verifies.
pub async fn verify(
    sig: &LabelledSignature,
    src: &(impl Components + ?Sized),
    key: &Ed25519PublicKey,
) -> Result<(), Refusal> {
    if sig.params.keyid.as_deref() != Some(key.thumbprint().as_str()) {
        return Err(Refusal::KeyidMismatch);
    }
    match signature::verify_ed25519(sig, src, key).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::BadSignature),
        Err(e) => Err(Refusal::Component(e)),
    }
}

/// What a Web Bot Auth signer puts in a request.
#[derive(Clone, Debug)]
pub struct SignerParams<'a> {
    pub label: &'a str,
    pub created: i64,
    pub expires: i64,
    /// The dictionary key and URL of the `Signature-Agent` member, when the request names one.
    pub signature_agent: Option<(&'a str, &'a str)>,
    pub nonce: Option<&'a str>,
}

/// The parameters a Web Bot Auth signature with `key` carries: `@authority` (and the
/// `Signature-Agent` member when present) covered; `created`, `expires`, `keyid`, `alg`,
/// `nonce` when given, and the tag.
pub fn signer_params(p: &SignerParams<'_>, key: &Ed25519PublicKey) -> SignatureParams {
    let mut components = vec![Component::new("@authority")];
    if let Some((member, _)) = p.signature_agent {
        components.push(Component::member(SIGNATURE_AGENT, member));
    }
    let mut params = SignatureParams::new(components)
        .created(p.created)
        .expires(p.expires)
        .keyid(&key.thumbprint())
        .alg(ALG_ED25519);
    if let Some(nonce) = p.nonce {
        params = params.nonce(nonce);
    }
    params.tag(TAG)
}

/// The `Signature-Agent` field value naming `url` under `member` (directory draft -04).
pub fn signature_agent_field(member: &str, url: &str) -> String {
    format!("{member}={}", BareItem::String(url.to_owned()))
}
