//! Web Bot Auth: the agent signs its outgoing HTTP requests (RFC 9421) the way the Web Bot Auth
//! drafts specify, so that a site can tell which agent sent a request and who answers for it.
//!
//! A signed request carries three fields:
//! - `Signature-Agent: agent1="https://<server>/v1/agents/<id>/card"` — a structured dictionary
//!   member (directory draft -04) naming the agent's card on its agent-id server, which points
//!   to the key directory;
//! - `Signature-Input: sig1=("@authority" "signature-agent";key="agent1");created=…;expires=…;
//!   keyid="<JWK thumbprint>";alg="ed25519";nonce="…";tag="web-bot-auth"`;
//! - `Signature: sig1=:<Ed25519 signature>:`.
//!
//! The signature base is computed by `agent_id_protocol::httpsig`, the code the server's
//! verifier runs.

use std::fmt;

use agent_id_protocol::b64;
use agent_id_protocol::httpsig::base::BaseError;
use agent_id_protocol::httpsig::message::HttpRequest as SignedMessage;
use agent_id_protocol::httpsig::signature::sign_ed25519;
use agent_id_protocol::httpsig::webbot::{self, SignerParams};
use http::header::{HeaderName, HeaderValue};

use crate::keys::AgentKey;
use crate::server::ServerUrl;
use crate::transport::HttpRequest;

/// The label of the signature this signer adds.
pub const LABEL: &str = "sig1";
/// The `Signature-Agent` dictionary key this signer uses.
pub const AGENT_MEMBER: &str = "agent1";
/// How long a signature stays valid unless told otherwise: long enough for a slow request,
/// short enough that a captured one is soon useless.
pub const DEFAULT_VALIDITY_SECS: i64 = 60;

/// The URL of `agent_id`'s signature-agent card at `server`: its `Signature-Agent`.
pub fn card_url(server: &ServerUrl, agent_id: &str) -> String {
    server.url(&format!("/v1/agents/{agent_id}/card"))
}

/// Signs requests with an agent's key.
#[derive(Debug)]
pub struct RequestSigner<'k> {
    key: &'k AgentKey,
    signature_agent: Option<String>,
    validity_secs: i64,
}

/// The fields a signed request carries, in the order to add them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub signature_agent: Option<String>,
    pub signature_input: String,
    pub signature: String,
}

impl SignatureHeaders {
    /// `(name, value)` pairs, `Signature-Agent` first when present.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::with_capacity(3);
        if let Some(agent) = &self.signature_agent {
            out.push(("Signature-Agent", agent.as_str()));
        }
        out.push(("Signature-Input", self.signature_input.as_str()));
        out.push(("Signature", self.signature.as_str()));
        out
    }
}

/// Why a request could not be signed.
#[derive(Debug, PartialEq, Eq)]
pub enum SigningError {
    /// The URL is not an absolute http(s) URL, or a covered component is missing.
    Request(BaseError),
    /// A header value cannot be sent (not visible ASCII).
    HeaderValue,
    /// The OS random generator failed (the nonce).
    Random,
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningError::Request(e) => write!(f, "cannot sign this request: {e}"),
            SigningError::HeaderValue => f.write_str("a header value is not visible ASCII"),
            SigningError::Random => f.write_str("the OS random generator failed"),
        }
    }
}

impl std::error::Error for SigningError {}

impl<'k> RequestSigner<'k> {
    /// A signer without `Signature-Agent`: the site must know the key some other way.
    pub fn new(key: &'k AgentKey) -> Self {
        Self {
            key,
            signature_agent: None,
            validity_secs: DEFAULT_VALIDITY_SECS,
        }
    }

    /// A signer naming the agent's card at its agent-id server as `Signature-Agent`.
    pub fn for_agent(key: &'k AgentKey, server: &ServerUrl, agent_id: &str) -> Self {
        Self::new(key).signature_agent(card_url(server, agent_id))
    }

    /// Names `url` (a card or key directory) as `Signature-Agent`.
    pub fn signature_agent(mut self, url: impl Into<String>) -> Self {
        self.signature_agent = Some(url.into());
        self
    }

    /// Sets how long signatures stay valid (`expires - created`, at least 1 s).
    pub fn validity_secs(mut self, secs: i64) -> Self {
        self.validity_secs = secs.max(1);
        self
    }

    /// The fields for a `method` request to `url` with `headers`, created at `now` (Unix s).
    pub fn headers(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        now: i64,
    ) -> Result<SignatureHeaders, SigningError> {
        let mut nonce = [0u8; 32];
        crate::random::fill(&mut nonce).map_err(|_| SigningError::Random)?;
        let nonce = b64::encode(&nonce);
        let agent_field = self
            .signature_agent
            .as_deref()
            .map(|url| webbot::signature_agent_field(AGENT_MEMBER, url));
        // The covered `Signature-Agent` is the one this signer sends, not one in `headers`.
        let mut fields: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(webbot::SIGNATURE_AGENT))
            .copied()
            .collect();
        if let Some(field) = &agent_field {
            fields.push(("Signature-Agent", field));
        }
        let params = webbot::signer_params(
            &SignerParams {
                label: LABEL,
                created: now,
                expires: now + self.validity_secs,
                signature_agent: self.signature_agent.as_deref().map(|u| (AGENT_MEMBER, u)),
                nonce: Some(&nonce),
            },
            self.key.public_key(),
        );
        let message = SignedMessage {
            method,
            url,
            headers: &fields,
        };
        let signed = sign_ed25519(LABEL, &params, &message, self.key.signing_key())
            .map_err(SigningError::Request)?;
        Ok(SignatureHeaders {
            signature_agent: agent_field,
            signature_input: signed.signature_input,
            signature: signed.signature,
        })
    }

    /// Adds the fields to `request` (replacing any earlier signature fields).
    pub fn sign(&self, request: &mut HttpRequest, now: i64) -> Result<(), SigningError> {
        let url = request.uri().to_string();
        let method = request.method().as_str().to_owned();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let signed = self.headers(&method, &url, &borrowed, now)?;
        let h = request.headers_mut();
        for (name, value) in signed.pairs() {
            let value = HeaderValue::from_str(value).map_err(|_| SigningError::HeaderValue)?;
            h.insert(HeaderName::from_static(lower(name)), value);
        }
        Ok(())
    }
}

fn lower(name: &'static str) -> &'static str {
    match name {
        "Signature-Agent" => "signature-agent",
        "Signature-Input" => "signature-input",
        _ => "signature",
    }
}

#[cfg(test)]
mod tests {
    use agent_id_protocol::httpsig::signature::parse_fields;
    use agent_id_protocol::httpsig::webbot::{check_params, select, signature_agent_url, Window};
    use futures::executor::block_on;

    use super::*;

    fn key() -> AgentKey {
        AgentKey::from_seed(&[7; 32])
    }

    #[test]
    fn a_signed_request_verifies_under_the_web_bot_auth_rules() {
        let key = key();
        let server = ServerUrl::parse("https://id.example.com").unwrap();
        let signer = RequestSigner::for_agent(&key, &server, "a1");
        let mut req = http::Request::builder()
            .method("GET")
            .uri("https://Shop.Example:443/item?x=1")
            .body(Vec::new())
            .unwrap();
        signer.sign(&mut req, 1_000).unwrap();
        let h = |n: &str| req.headers()[n].to_str().unwrap().to_owned();
        assert_eq!(
            h("signature-agent"),
            "agent1=\"https://id.example.com/v1/agents/a1/card\""
        );
        let input = h("signature-input");
        assert!(input.starts_with(
            "sig1=(\"@authority\" \"signature-agent\";key=\"agent1\");created=1000;expires=1060;"
        ));
        assert!(input.contains(&format!(";keyid=\"{}\"", key.thumbprint())));
        assert!(input.ends_with(";tag=\"web-bot-auth\""));

        let sigs = parse_fields(&input, &h("signature")).unwrap();
        let sig = select(&sigs).unwrap();
        let window = Window {
            now: 1_030,
            max_skew_secs: 0,
            max_lifetime_secs: Some(60),
        };
        check_params(&sig.params, true, &window).unwrap();
        assert_eq!(
            signature_agent_url(&sig.params, &h("signature-agent")).unwrap(),
            Some(card_url(&server, "a1"))
        );
        // The verifier sees the request as the site does: authority normalised.
        let agent = h("signature-agent");
        let seen = SignedMessage {
            method: "GET",
            url: "https://shop.example/item?x=1",
            headers: &[("signature-agent", &agent)],
        };
        block_on(webbot::verify(sig, &seen, key.public_key())).unwrap();
        let elsewhere = SignedMessage {
            url: "https://other.example/item?x=1",
            ..seen
        };
        assert!(block_on(webbot::verify(sig, &elsewhere, key.public_key())).is_err());
    }

    #[test]
    fn nonces_differ_and_bad_urls_are_refused() {
        let key = key();
        let signer = RequestSigner::new(&key).validity_secs(5);
        let a = signer.headers("GET", "https://a.example/", &[], 1).unwrap();
        let b = signer.headers("GET", "https://a.example/", &[], 1).unwrap();
        assert_ne!(a.signature_input, b.signature_input);
        assert_eq!(a.signature_agent, None);
        assert!(a.signature_input.contains(";expires=6;"));
        assert!(matches!(
            signer.headers("GET", "/relative", &[], 1),
            Err(SigningError::Request(_))
        ));
    }
}
