//! The agent as its own OAuth client at any authorization server: discovery from a resource's
//! 401 (RFC 9728) → authorization server metadata (RFC 8414) → client identity (a Client ID
//! Metadata Document URL when the server supports it, else a public client) → authorization
//! code with PKCE S256 and `resource` (RFC 8707), done headlessly → a DPoP-bound token
//! (RFC 9449, nonce retry at the AS and the resource) → refresh before expiry, tokens kept in
//! the state directory.

pub mod authorize;
pub mod dpop_key;
pub mod pkce;
pub mod run;
pub mod store;
pub mod token;

pub use run::{Discovered, OAuthAgent, Obtained, TokenCache};

use url::Url;

use crate::discovery::{AuthServerMetadata, DiscoveryError};

/// Why the flow could not produce a token.
#[derive(Debug)]
pub enum FlowError {
    /// Discovery input was refused.
    Discovery(DiscoveryError),
    /// The resource answered 401 without saying where its metadata is, and no well-known
    /// location had it.
    NoResourceMetadata(String),
    /// No metadata URL of the authorization server answered a valid document.
    NoAuthServerMetadata(String),
    /// The client id is a Client ID Metadata Document URL but the server does not support them
    /// (or it is not an https URL with a path).
    ClientId(String),
    /// The authorization endpoint did not redirect back as expected.
    BadAuthorizationResponse(String),
    /// The authorization server redirected back with an `error`.
    AuthorizationDenied {
        error: String,
        description: Option<String>,
    },
    /// The token endpoint refused (`error`, `error_description`, HTTP status).
    TokenRefused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// The token endpoint's success response was unusable.
    BadTokenResponse(String),
    /// The authorization server lists DPoP algorithms of which this client has none.
    NoCommonDpopAlg(String),
    /// Transport, local (randomness, state directory) or protocol failure below the flow.
    Client(crate::Error),
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Discovery(e) => write!(f, "discovery: {e}"),
            Self::NoResourceMetadata(r) => write!(f, "no protected resource metadata for {r}"),
            Self::NoAuthServerMetadata(i) => write!(f, "no authorization server metadata for {i}"),
            Self::ClientId(why) => write!(f, "client id: {why}"),
            Self::BadAuthorizationResponse(why) => write!(f, "authorization response: {why}"),
            Self::AuthorizationDenied { error, description } => {
                write!(f, "authorization denied: {error}")?;
                description.as_ref().map_or(Ok(()), |d| write!(f, " ({d})"))
            }
            Self::TokenRefused {
                status,
                error,
                description,
            } => {
                write!(f, "token endpoint refused (HTTP {status}): {error}")?;
                description.as_ref().map_or(Ok(()), |d| write!(f, " ({d})"))
            }
            Self::BadTokenResponse(why) => write!(f, "token response: {why}"),
            Self::NoCommonDpopAlg(algs) => {
                write!(
                    f,
                    "the authorization server accepts DPoP proofs only in: {algs}"
                )
            }
            Self::Client(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FlowError {}

impl From<crate::Error> for FlowError {
    fn from(e: crate::Error) -> Self {
        Self::Client(e)
    }
}

impl From<crate::LocalError> for FlowError {
    fn from(e: crate::LocalError) -> Self {
        Self::Client(e.into())
    }
}

impl From<crate::TransportError> for FlowError {
    fn from(e: crate::TransportError) -> Self {
        Self::Client(e.into())
    }
}

impl From<DiscoveryError> for FlowError {
    fn from(e: DiscoveryError) -> Self {
        Self::Discovery(e)
    }
}

/// Who the agent is at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A Client ID Metadata Document: the `client_id` is an https URL whose document the
    /// server fetches (draft-ietf-oauth-client-id-metadata-document).
    MetadataDocument(Url),
    /// A public client (`token_endpoint_auth_method=none`) with a pre-arranged id.
    Public(String),
}

impl ClientIdentity {
    /// Reads a `--client-id` value: an `https://` URL with a path is a metadata document, anything
    /// else (non-empty, visible ASCII) a public client id.
    pub fn parse(raw: &str) -> Result<Self, FlowError> {
        if raw.is_empty() || !raw.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(FlowError::ClientId(
                "must be non-empty visible ASCII".into(),
            ));
        }
        if raw.starts_with("https://") || raw.starts_with("http://") {
            let url = Url::parse(raw).map_err(|e| FlowError::ClientId(format!("{raw}: {e}")))?;
            // The draft: https, a path component, no fragment, no user information.
            if url.scheme() != "https"
                || url.path() == "/"
                || url.fragment().is_some()
                || !url.username().is_empty()
                || url.password().is_some()
            {
                return Err(FlowError::ClientId(format!(
                    "{raw}: a metadata document URL must be https with a path, without fragment or credentials"
                )));
            }
            return Ok(Self::MetadataDocument(url));
        }
        Ok(Self::Public(raw.to_owned()))
    }

    /// The `client_id` to send to `meta`'s server: a metadata document URL only where the server
    /// advertises `client_id_metadata_document_supported` (otherwise it would not know it).
    pub fn client_id_for(&self, meta: &AuthServerMetadata) -> Result<String, FlowError> {
        match self {
            Self::MetadataDocument(url) if meta.client_id_metadata_document_supported => {
                Ok(url.to_string())
            }
            Self::MetadataDocument(url) => Err(FlowError::ClientId(format!(
                "{} does not support Client ID Metadata Documents; {url} cannot be used there \
                 (use a client id registered with it)",
                meta.issuer
            ))),
            Self::Public(id) => Ok(id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_identity_parsing_and_choice() {
        assert_eq!(
            ClientIdentity::parse("my-agent").unwrap(),
            ClientIdentity::Public("my-agent".into())
        );
        let cimd = ClientIdentity::parse("https://agent.example/client.json").unwrap();
        assert!(matches!(cimd, ClientIdentity::MetadataDocument(_)));
        for bad in [
            "",
            "a b",
            "http://agent.example/c.json",
            "https://agent.example",
            "https://agent.example/#x",
            "https://u@agent.example/c",
        ] {
            assert!(ClientIdentity::parse(bad).is_err(), "{bad:?} accepted");
        }
        let doc = |cimd: bool| {
            format!(
                r#"{{"issuer":"https://as.example","authorization_endpoint":"https://as.example/a",
                "token_endpoint":"https://as.example/t","code_challenge_methods_supported":["S256"],
                "client_id_metadata_document_supported":{cimd}}}"#
            )
        };
        let issuer = Url::parse("https://as.example").unwrap();
        let with = AuthServerMetadata::parse(&doc(true), &issuer).unwrap();
        let without = AuthServerMetadata::parse(&doc(false), &issuer).unwrap();
        assert_eq!(
            cimd.client_id_for(&with).unwrap(),
            "https://agent.example/client.json"
        );
        assert!(matches!(
            cimd.client_id_for(&without),
            Err(FlowError::ClientId(_))
        ));
        assert_eq!(
            ClientIdentity::Public("p".into())
                .client_id_for(&without)
                .unwrap(),
            "p"
        );
    }
}
