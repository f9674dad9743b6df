//! OAuth clients as shown (api.md 1.9 Client); stored as [`ClientRow`].

use serde::Serialize;

use crate::domain::time::rfc3339_ms;
use crate::oauth::redirect::LoopbackPorts;
use crate::store::clients::{ApplicationType, ClientRow};

/// How a client authenticates at the token endpoint: the one place that decodes the stored
/// placeholder of a public client (`public_key = '' AND key_thumbprint = ''`, migration 0009).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCredential<'a> {
    /// `private_key_jwt` with the registered Ed25519 key (canonical base64url) and its RFC 7638
    /// thumbprint.
    Ed25519Key {
        public_key: &'a str,
        thumbprint: &'a str,
    },
    /// `none`: a public client (RFC 6749 §2.1) holds no secret; PKCE protects its codes.
    None,
}

impl<'a> ClientCredential<'a> {
    /// The credential of the stored columns `public_key` and `key_thumbprint`.
    pub fn from_columns(public_key: &'a str, thumbprint: &'a str) -> Self {
        if public_key.is_empty() && thumbprint.is_empty() {
            ClientCredential::None
        } else {
            ClientCredential::Ed25519Key {
                public_key,
                thumbprint,
            }
        }
    }

    /// The `token_endpoint_auth_method` this credential stands for.
    pub const fn auth_method(self) -> &'static str {
        match self {
            ClientCredential::Ed25519Key { .. } => "private_key_jwt",
            ClientCredential::None => "none",
        }
    }

    /// The registered key, if any.
    pub const fn public_key(self) -> Option<&'a str> {
        match self {
            ClientCredential::Ed25519Key { public_key, .. } => Some(public_key),
            ClientCredential::None => None,
        }
    }

    /// The registered key's thumbprint (the compatible-mode binding), if any.
    pub const fn thumbprint(self) -> Option<&'a str> {
        match self {
            ClientCredential::Ed25519Key { thumbprint, .. } => Some(thumbprint),
            ClientCredential::None => None,
        }
    }

    pub const fn is_public(self) -> bool {
        matches!(self, ClientCredential::None)
    }
}

impl ClientRow {
    /// How the client authenticates (see [`ClientCredential`]).
    pub fn credential(&self) -> ClientCredential<'_> {
        ClientCredential::from_columns(&self.public_key, &self.key_thumbprint)
    }

    /// Which loopback redirect URIs may come with another port: public native clients get
    /// RFC 8252 §7.3 on IP literals only, public web clients exact matching, registered
    /// clients today's rule.
    pub fn loopback_ports(&self) -> LoopbackPorts {
        match (self.credential(), self.application_type) {
            (ClientCredential::Ed25519Key { .. }, _) => LoopbackPorts::AnyLoopbackHost,
            (ClientCredential::None, ApplicationType::Native) => LoopbackPorts::IpLiteralsOnly,
            (ClientCredential::None, ApplicationType::Web) => LoopbackPorts::Exact,
        }
    }

    pub fn view(&self) -> ClientView<'_> {
        let credential = self.credential();
        ClientView {
            id: &self.id,
            name: &self.name,
            redirect_uris: self.redirect_uris(),
            scope: self.scope.as_deref(),
            public_key: credential.public_key(),
            token_endpoint_auth_method: credential.auth_method(),
            application_type: self.application_type.as_str(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            owner_type: self.owner_type.as_str(),
            owner_id: &self.owner_id,
            disabled: self.disabled,
            disabled_at: self.disabled_at.map(rfc3339_ms),
            disabled_reason: self.disabled_reason.as_deref(),
            marked_for_cancellation: self.marked_for_cancellation,
            created_at: rfc3339_ms(self.created_at),
            updated_at: rfc3339_ms(self.updated_at),
        }
    }
}

/// The Client object of api.md 1.9 (`public_key` is null for a public client).
#[derive(Debug, Serialize)]
pub struct ClientView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub redirect_uris: Vec<String>,
    pub scope: Option<&'a str>,
    pub public_key: Option<&'a str>,
    pub token_endpoint_auth_method: &'a str,
    pub application_type: &'a str,
    pub dpop_bound_access_tokens: bool,
    pub owner_type: &'a str,
    pub owner_id: &'a str,
    pub disabled: bool,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<&'a str>,
    pub marked_for_cancellation: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::ClientCredential;

    #[test]
    fn empty_columns_are_a_public_client() {
        assert_eq!(
            ClientCredential::from_columns("", ""),
            ClientCredential::None
        );
        assert_eq!(ClientCredential::None.auth_method(), "none");
        let key = ClientCredential::from_columns("k", "t");
        assert_eq!(key.auth_method(), "private_key_jwt");
        assert_eq!((key.public_key(), key.thumbprint()), (Some("k"), Some("t")));
    }
}
