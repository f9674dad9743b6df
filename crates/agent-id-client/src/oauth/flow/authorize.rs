//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 8707 `resource`) and the checks on
//! its response (`state`, RFC 9207 `iss`).

use url::Url;

use super::pkce::Pkce;
use super::FlowError;
use crate::discovery::AuthServerMetadata;

/// The loopback redirect URI this client registers and sends. The headless flow reads the
/// authorization server's redirect from its `Location` header and never follows it, so nothing
/// needs to listen there; a CIMD document lists the same URI.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// What the client sends to the authorization endpoint, kept to check the response.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub url: Url,
    pub state: String,
    pub pkce: Pkce,
}

impl AuthorizationRequest {
    /// The authorization URL for `client_id` asking for `resource` (and `scope` when known).
    pub fn new(
        meta: &AuthServerMetadata,
        client_id: &str,
        resource: &str,
        scope: Option<&str>,
        pkce: Pkce,
        state: String,
    ) -> Self {
        let mut url = meta.authorization_endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("code_challenge", pkce.challenge())
                .append_pair("code_challenge_method", pkce.method())
                .append_pair("state", &state)
                .append_pair("resource", resource);
            if let Some(scope) = scope.filter(|s| !s.is_empty()) {
                q.append_pair("scope", scope);
            }
        }
        Self { url, state, pkce }
    }

    /// Reads the code from the authorization server's redirect `location`: it must go to our
    /// redirect URI, carry our `state`, and (RFC 9207) the issuer's exact `iss` when the server
    /// advertises it — or, if it sends one unasked, still the right one. An `error` response
    /// becomes [`FlowError::AuthorizationDenied`].
    pub fn code_from_redirect(
        &self,
        location: &str,
        meta: &AuthServerMetadata,
    ) -> Result<String, FlowError> {
        let bad = |why: &str| FlowError::BadAuthorizationResponse(why.to_owned());
        let url = Url::parse(location).map_err(|_| bad("redirect is not an absolute URL"))?;
        let expected = Url::parse(REDIRECT_URI).expect("constant URL");
        if url.scheme() != expected.scheme()
            || url.host() != expected.host()
            || url.path() != expected.path()
        {
            return Err(bad("redirect does not go to our redirect URI"));
        }
        let param = |name: &str| {
            let mut values = url.query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v);
            match (values.next(), values.next()) {
                (Some(v), None) => Ok(Some(v.into_owned())),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(bad("a response parameter is repeated")),
            }
        };
        if param("state")?.as_deref() != Some(self.state.as_str()) {
            return Err(bad("state does not match"));
        }
        match param("iss")? {
            Some(iss) if iss != meta.issuer_str => return Err(bad("iss is not the issuer")),
            None if meta.authorization_response_iss_parameter_supported => {
                return Err(bad("iss is missing though the server advertises it"))
            }
            _ => {}
        }
        if let Some(error) = param("error")? {
            return Err(FlowError::AuthorizationDenied {
                error,
                description: param("error_description")?,
            });
        }
        param("code")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("no code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(iss_supported: bool) -> AuthServerMetadata {
        let doc = format!(
            r#"{{"issuer":"http://127.0.0.1:4001","authorization_endpoint":"http://127.0.0.1:4001/authorize?tenant=a",
            "token_endpoint":"http://127.0.0.1:4001/token","code_challenge_methods_supported":["S256"],
            "authorization_response_iss_parameter_supported":{iss_supported}}}"#
        );
        AuthServerMetadata::parse(&doc, &Url::parse("http://127.0.0.1:4001").unwrap()).unwrap()
    }

    fn request(m: &AuthServerMetadata) -> AuthorizationRequest {
        AuthorizationRequest::new(
            m,
            "https://client.example/cimd.json",
            "http://127.0.0.1:4000/mcp",
            Some("mcp:tools"),
            Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
            "st8".into(),
        )
    }

    #[test]
    fn authorization_url_carries_pkce_resource_and_keeps_existing_query() {
        let r = request(&meta(true));
        let q: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("tenant"), Some("a"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("https://client.example/cimd.json"));
        assert_eq!(get("redirect_uri"), Some(REDIRECT_URI));
        assert_eq!(
            get("code_challenge"),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("resource"), Some("http://127.0.0.1:4000/mcp"));
        assert_eq!(get("scope"), Some("mcp:tools"));
        assert_eq!(get("state"), Some("st8"));
        assert!(get("code_verifier").is_none());
    }

    #[test]
    fn redirect_checks_state_iss_and_target() {
        let m = meta(true);
        let r = request(&m);
        let ok = "http://127.0.0.1/callback?code=abc&state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001";
        assert_eq!(r.code_from_redirect(ok, &m).unwrap(), "abc");
        for bad in [
            "http://127.0.0.1/callback?code=abc&state=other&iss=http%3A%2F%2F127.0.0.1%3A4001",
            "http://127.0.0.1/callback?code=abc&iss=http%3A%2F%2F127.0.0.1%3A4001",
            "http://127.0.0.1/callback?code=abc&state=st8",
            "http://127.0.0.1/callback?code=abc&state=st8&iss=https%3A%2F%2Fevil.example",
            "http://127.0.0.1/callback?code=abc&state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001%2F",
            "http://127.0.0.1/callback?code=abc&code=def&state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001",
            "http://127.0.0.1/callback?state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001",
            "https://evil.example/callback?code=abc&state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001",
        ] {
            assert!(
                matches!(r.code_from_redirect(bad, &m), Err(FlowError::BadAuthorizationResponse(_))),
                "{bad} accepted"
            );
        }
        let denied = "http://127.0.0.1/callback?error=access_denied&state=st8&iss=http%3A%2F%2F127.0.0.1%3A4001";
        assert!(matches!(
            r.code_from_redirect(denied, &m),
            Err(FlowError::AuthorizationDenied { error, .. }) if error == "access_denied"
        ));
        // Without the advertisement a missing `iss` is fine, a wrong one still is not.
        let m = meta(false);
        assert_eq!(
            r.code_from_redirect("http://127.0.0.1/callback?code=abc&state=st8", &m)
                .unwrap(),
            "abc"
        );
        assert!(r
            .code_from_redirect("http://127.0.0.1/callback?code=abc&state=st8&iss=x", &m)
            .is_err());
    }
}
