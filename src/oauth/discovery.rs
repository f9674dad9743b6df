//! Authorization server metadata (RFC 8414; `api.md` 2.1), served at
//! `/.well-known/oauth-authorization-server` and both OpenID configuration paths.
//!
//! Every URL is built from the issuer (`PUBLIC_BASE_URL`), never from request headers
//! (`security.md` §16 items 1 and 26). No ID tokens are issued, so there are no `id_token_*`
//! members and `openid` is not a scope.

use serde::Serialize;
use serde_json::Value;

use super::scope::ScopeToken;
use super::target::OFFLINE_ACCESS;

const AUTH_METHODS: [&str; 1] = ["private_key_jwt"];
/// Token and revocation endpoints also serve public clients (`none`, issue 10); introspection
/// does not.
const PUBLIC_AUTH_METHODS: [&str; 2] = ["private_key_jwt", "none"];
/// Client assertions: Ed25519 under either JOSE name; ES256 and RS256 for Client ID Metadata
/// Document clients (registered clients stay Ed25519-only).
const ASSERTION_ALGS: [&str; 4] = ["EdDSA", "Ed25519", "ES256", "RS256"];

/// The metadata document; fields in the order of `api.md` 2.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: [&'static str; 6],
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 2],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub token_endpoint_auth_methods_supported: [&'static str; 2],
    pub token_endpoint_auth_signing_alg_values_supported: [&'static str; 4],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 2],
    pub revocation_endpoint_auth_signing_alg_values_supported: [&'static str; 4],
    pub introspection_endpoint_auth_methods_supported: [&'static str; 1],
    pub introspection_endpoint_auth_signing_alg_values_supported: [&'static str; 4],
    pub dpop_signing_alg_values_supported: [&'static str; 3],
    pub authorization_response_iss_parameter_supported: bool,
    pub subject_types_supported: [&'static str; 1],
    pub claims_supported: [&'static str; 9],
    /// draft-ietf-oauth-client-id-metadata-document: an https URL may be the `client_id`.
    pub client_id_metadata_document_supported: bool,
}

/// Endpoint paths relative to the issuer; also what the router and the assertion `aud` check use.
pub const AUTHORIZE_PATH: &str = "/v1/oauth/authorize";
pub const TOKEN_PATH: &str = "/v1/oauth/token";
pub const USERINFO_PATH: &str = "/v1/oauth/userinfo";
pub const REVOKE_PATH: &str = "/v1/oauth/revoke";
pub const INTROSPECT_PATH: &str = "/v1/oauth/introspect";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The registry's scopes, then `offline_access` (a refresh token; docs/resources.md).
fn scopes_supported() -> [&'static str; 6] {
    let [a, b, c, d, e] = ScopeToken::ALL.map(ScopeToken::as_str);
    [a, b, c, d, e, OFFLINE_ACCESS]
}

/// The typed document for `issuer` (an origin without trailing slash).
pub fn document(issuer: &str) -> ServerMetadata {
    let url = |path: &str| format!("{issuer}{path}");
    ServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: url(AUTHORIZE_PATH),
        token_endpoint: url(TOKEN_PATH),
        userinfo_endpoint: url(USERINFO_PATH),
        revocation_endpoint: url(REVOKE_PATH),
        introspection_endpoint: url(INTROSPECT_PATH),
        jwks_uri: url(JWKS_PATH),
        scopes_supported: scopes_supported(),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: PUBLIC_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        revocation_endpoint_auth_methods_supported: PUBLIC_AUTH_METHODS,
        revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        dpop_signing_alg_values_supported: ["EdDSA", "Ed25519", "ES256"],
        authorization_response_iss_parameter_supported: true,
        subject_types_supported: ["public"],
        claims_supported: [
            "sub",
            "id",
            "name",
            "description",
            "public_key",
            "tier",
            "oauth_count",
            "oauth_limit",
            "billing_period_end",
        ],
        client_id_metadata_document_supported: true,
    }
}

/// The document as a JSON value. `Value` sorts members; serialise [`document`] to keep the
/// spec's order on the wire.
pub fn metadata(issuer: &str) -> Value {
    let d = document(issuer);
    serde_json::json!({
        "issuer": d.issuer,
        "authorization_endpoint": d.authorization_endpoint,
        "token_endpoint": d.token_endpoint,
        "userinfo_endpoint": d.userinfo_endpoint,
        "revocation_endpoint": d.revocation_endpoint,
        "introspection_endpoint": d.introspection_endpoint,
        "jwks_uri": d.jwks_uri,
        "scopes_supported": d.scopes_supported,
        "response_types_supported": d.response_types_supported,
        "response_modes_supported": d.response_modes_supported,
        "grant_types_supported": d.grant_types_supported,
        "code_challenge_methods_supported": d.code_challenge_methods_supported,
        "token_endpoint_auth_methods_supported": d.token_endpoint_auth_methods_supported,
        "token_endpoint_auth_signing_alg_values_supported":
            d.token_endpoint_auth_signing_alg_values_supported,
        "revocation_endpoint_auth_methods_supported": d.revocation_endpoint_auth_methods_supported,
        "revocation_endpoint_auth_signing_alg_values_supported":
            d.revocation_endpoint_auth_signing_alg_values_supported,
        "introspection_endpoint_auth_methods_supported":
            d.introspection_endpoint_auth_methods_supported,
        "introspection_endpoint_auth_signing_alg_values_supported":
            d.introspection_endpoint_auth_signing_alg_values_supported,
        "dpop_signing_alg_values_supported": d.dpop_signing_alg_values_supported,
        "authorization_response_iss_parameter_supported":
            d.authorization_response_iss_parameter_supported,
        "subject_types_supported": d.subject_types_supported,
        "claims_supported": d.claims_supported,
        "client_id_metadata_document_supported": d.client_id_metadata_document_supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `api.md` 2.1, with `none` added for public clients (issue 10).
    const SPEC: &str = r#"{
  "issuer": "https://id.example.com",
  "authorization_endpoint": "https://id.example.com/v1/oauth/authorize",
  "token_endpoint": "https://id.example.com/v1/oauth/token",
  "userinfo_endpoint": "https://id.example.com/v1/oauth/userinfo",
  "revocation_endpoint": "https://id.example.com/v1/oauth/revoke",
  "introspection_endpoint": "https://id.example.com/v1/oauth/introspect",
  "jwks_uri": "https://id.example.com/.well-known/jwks.json",
  "scopes_supported": ["id", "name", "description", "pub_key", "subscription", "offline_access"],
  "response_types_supported": ["code"],
  "response_modes_supported": ["query"],
  "grant_types_supported": ["authorization_code", "refresh_token"],
  "code_challenge_methods_supported": ["S256"],
  "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
  "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "Ed25519", "ES256", "RS256"],
  "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
  "revocation_endpoint_auth_signing_alg_values_supported": ["EdDSA", "Ed25519", "ES256", "RS256"],
  "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
  "introspection_endpoint_auth_signing_alg_values_supported": ["EdDSA", "Ed25519", "ES256", "RS256"],
  "dpop_signing_alg_values_supported": ["EdDSA", "Ed25519", "ES256"],
  "authorization_response_iss_parameter_supported": true,
  "subject_types_supported": ["public"],
  "claims_supported": ["sub", "id", "name", "description", "public_key", "tier", "oauth_count",
                       "oauth_limit", "billing_period_end"],
  "client_id_metadata_document_supported": true
}"#;

    #[test]
    fn equals_the_spec_document() {
        let spec: Value = serde_json::from_str(SPEC).unwrap();
        assert_eq!(metadata("https://id.example.com"), spec);
        assert_eq!(
            serde_json::to_value(document("https://id.example.com")).unwrap(),
            spec
        );
    }

    #[test]
    fn serialises_in_spec_order() {
        // Removing the spec's whitespace gives exactly the serialised document.
        let compact: String = {
            let mut out = String::new();
            let mut in_string = false;
            for c in SPEC.chars() {
                if c == '"' {
                    in_string = !in_string;
                }
                if in_string || !c.is_whitespace() {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(
            serde_json::to_string(&document("https://id.example.com")).unwrap(),
            compact
        );
    }

    #[test]
    fn urls_follow_the_issuer() {
        let m = metadata("http://localhost:8787");
        assert_eq!(m["issuer"], "http://localhost:8787");
        assert_eq!(m["token_endpoint"], "http://localhost:8787/v1/oauth/token");
        assert_eq!(m["jwks_uri"], "http://localhost:8787/.well-known/jwks.json");
        let text = m.to_string();
        assert!(!text.contains("id_token"));
        assert!(!text.contains("openid"));
        assert!(!text.contains("plain"));
    }
}
