//! Consent as the agent (api.md 2.11, `POST /v1/oauth/authorize`): the agent approves a client's
//! authorization request with its session or a DPoP proof and gets the code and the redirect to
//! hand back to the client.

use http::Method;
use serde_json::json;

use crate::client::{AgentAuth, Client, Members};
use crate::error::Error;
use crate::session::Secret;

/// A client's authorization request, as the client sent it to the agent. The method is always
/// PKCE `S256`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters.
    pub code_challenge: String,
    pub scope: Option<String>,
    pub state: Option<String>,
    /// Binds the code to the client's DPoP key (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
}

/// The approval: the code and where to send the user agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub code: Secret,
    /// `redirect_uri?code=…&state=…&iss=…` (it carries the code, so it is a [`Secret`] too).
    pub redirect_to: Secret,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: String,
    /// The issuer (RFC 9207), for the client's mix-up check.
    pub iss: String,
    pub expires_in: i64,
}

impl Client {
    /// Approves `request` as the agent. A refusal carries the OAuth `error` as its code
    /// (`invalid_request`, `invalid_scope`, `access_denied`, …).
    pub async fn authorize(
        &self,
        auth: AgentAuth<'_>,
        request: &AuthorizationRequest,
    ) -> Result<Authorization, Error> {
        let mut body = json!({
            "response_type": "code",
            "client_id": request.client_id,
            "redirect_uri": request.redirect_uri,
            "code_challenge": request.code_challenge,
            "code_challenge_method": "S256",
        });
        for (name, value) in [
            ("scope", &request.scope),
            ("state", &request.state),
            ("dpop_jkt", &request.dpop_jkt),
        ] {
            if let Some(v) = value {
                body[name] = v.as_str().into();
            }
        }
        let r = self
            .call(Method::POST, "/v1/oauth/authorize", Some(auth), Some(body))
            .await?;
        Ok(Authorization {
            code: Secret::new(r.text("code")?),
            redirect_to: Secret::new(r.text("redirect_to")?),
            redirect_uri: r.text("redirect_uri")?,
            state: r.opt_text("state"),
            scope: r.text("scope")?,
            iss: r.text("iss")?,
            expires_in: r.int("expires_in")?,
        })
    }
}
