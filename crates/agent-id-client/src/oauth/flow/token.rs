//! Token endpoint requests (authorization code and refresh grants) and the token response
//! (RFC 6749 §5.1, RFC 9449 §5 `token_type=DPoP`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FlowError;

/// How the access token must be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// RFC 9449: `Authorization: DPoP <token>` plus a proof with `ath` on every request.
    DPoP,
    /// RFC 6750: `Authorization: Bearer <token>` (an authorization server that ignored the
    /// proof; the client still uses it, as the token is all it was given).
    Bearer,
}

impl TokenType {
    pub fn scheme(self) -> &'static str {
        match self {
            Self::DPoP => "DPoP",
            Self::Bearer => "Bearer",
        }
    }
}

/// A successful token response.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: TokenType,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// Parses a 200 token response. `token_type` is compared case-insensitively (RFC 6749 §5.1);
    /// anything but `DPoP` or `Bearer` is refused, as the client would not know how to send it.
    /// A `DPoP` token must have been asked for with a proof, so `sent_proof` is required for it.
    pub fn parse(body: &str, sent_proof: bool) -> Result<Self, FlowError> {
        let bad = |why: String| FlowError::BadTokenResponse(why);
        let doc: Value = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let string = |name: &str| -> Result<Option<String>, FlowError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("`{name}` is not a string"))),
            }
        };
        let access_token = string("access_token")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no access_token".into()))?;
        if !access_token.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(bad("access_token is not a visible-ASCII string".into()));
        }
        let token_type = match string("token_type")?.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("dpop") && sent_proof => TokenType::DPoP,
            Some(t) if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
            other => return Err(bad(format!("unsupported token_type {other:?}"))),
        };
        let expires_in = match obj.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| bad("`expires_in` is not a count".into()))?,
            ),
        };
        Ok(Self {
            access_token,
            token_type,
            expires_in,
            refresh_token: string("refresh_token")?.filter(|t| !t.is_empty()),
            scope: string("scope")?,
        })
    }
}

/// The form body of a token request.
pub enum Grant<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: &'a str,
    },
    Refresh {
        refresh_token: &'a str,
    },
}

impl Grant<'_> {
    /// `application/x-www-form-urlencoded` body; `resource` (RFC 8707) on both grants so a
    /// refreshed token keeps its audience.
    pub fn form(&self, client_id: &str, resource: &str) -> String {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        match self {
            Self::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                f.append_pair("grant_type", "authorization_code")
                    .append_pair("code", code)
                    .append_pair("redirect_uri", redirect_uri)
                    .append_pair("code_verifier", code_verifier);
            }
            Self::Refresh { refresh_token } => {
                f.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh_token);
            }
        }
        f.append_pair("client_id", client_id)
            .append_pair("resource", resource);
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpop_and_bearer_responses() {
        let r = TokenResponse::parse(
            r#"{"access_token":"at","token_type":"dpop","expires_in":3600,"refresh_token":"rt","scope":"a b"}"#,
            true,
        )
        .unwrap();
        assert_eq!(r.token_type, TokenType::DPoP);
        assert_eq!(r.expires_in, Some(3600));
        assert_eq!(r.refresh_token.as_deref(), Some("rt"));
        assert!(!format!("{r:?}").contains("rt"));
        let b =
            TokenResponse::parse(r#"{"access_token":"at","token_type":"Bearer"}"#, true).unwrap();
        assert_eq!(b.token_type, TokenType::Bearer);
        assert_eq!(b.expires_in, None);
    }

    #[test]
    fn refuses_bad_token_responses() {
        for (body, proof) in [
            (r#"{"token_type":"DPoP"}"#, true),
            (r#"{"access_token":"","token_type":"DPoP"}"#, true),
            (r#"{"access_token":"a b","token_type":"DPoP"}"#, true),
            (r#"{"access_token":"at","token_type":"mac"}"#, true),
            (r#"{"access_token":"at"}"#, true),
            (r#"{"access_token":"at","token_type":"DPoP"}"#, false),
            (
                r#"{"access_token":"at","token_type":"DPoP","expires_in":-1}"#,
                true,
            ),
            (
                r#"{"access_token":"at","token_type":"DPoP","expires_in":"60"}"#,
                true,
            ),
            (r#"{"access_token":7,"token_type":"DPoP"}"#, true),
            ("[]", true),
        ] {
            assert!(
                matches!(
                    TokenResponse::parse(body, proof),
                    Err(FlowError::BadTokenResponse(_))
                ),
                "{body} accepted"
            );
        }
    }

    #[test]
    fn grant_forms() {
        let code = Grant::AuthorizationCode {
            code: "c&d",
            redirect_uri: "http://127.0.0.1/callback",
            code_verifier: "v",
        };
        assert_eq!(
            code.form("https://c.example/m.json", "http://127.0.0.1:1/mcp"),
            "grant_type=authorization_code&code=c%26d&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback\
             &code_verifier=v&client_id=https%3A%2F%2Fc.example%2Fm.json&resource=http%3A%2F%2F127.0.0.1%3A1%2Fmcp"
        );
        assert_eq!(
            Grant::Refresh { refresh_token: "r" }.form("c", "https://r.example/"),
            "grant_type=refresh_token&refresh_token=r&client_id=c&resource=https%3A%2F%2Fr.example%2F"
        );
    }
}
