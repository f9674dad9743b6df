//! The OAuth 2.0 Protected Resource Metadata document (RFC 9728 §2) agent-id serves for each
//! registered resource, so that a resource server (an MCP server) can point its clients to it
//! instead of serving one itself.

use serde::Serialize;

use crate::domain::resource::ResourceScopes;
use crate::store::resources::ResourceRow;
use crate::store::StoreError;

/// The scope that asks agent-id for a refresh token (listed with the resource's own scopes so
/// that a client reading only this document knows to ask for it).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The DPoP proof algorithms a client may use with tokens agent-id issues (RFC 9728 §2):
/// those the authorization server itself accepts, which resource servers verify alike.
pub const DPOP_ALGS: [&str; 2] = ["EdDSA", "ES256"];

/// RFC 9728 §2 members, in this order.
#[derive(Debug, Serialize)]
pub struct ProtectedResourceMetadata<'a> {
    pub resource: &'a str,
    pub authorization_servers: [&'a str; 1],
    pub scopes_supported: Vec<String>,
    /// Only the `Authorization` header (RFC 6750 §2.1; the query and the form are not safe).
    pub bearer_methods_supported: [&'static str; 1],
    pub dpop_signing_alg_values_supported: [&'static str; 2],
    pub dpop_bound_access_tokens_required: bool,
    pub resource_name: &'a str,
}

impl ResourceRow {
    /// The metadata document of this resource, naming `issuer` as its authorization server.
    pub fn metadata<'a>(
        &'a self,
        issuer: &'a str,
    ) -> Result<ProtectedResourceMetadata<'a>, StoreError> {
        let scopes = ResourceScopes::from_stored(&self.scopes)?;
        let scopes_supported = scopes
            .names()
            .chain([OFFLINE_ACCESS])
            .map(str::to_owned)
            .collect();
        Ok(ProtectedResourceMetadata {
            resource: &self.uri,
            authorization_servers: [issuer],
            scopes_supported,
            bearer_methods_supported: ["header"],
            dpop_signing_alg_values_supported: DPOP_ALGS,
            dpop_bound_access_tokens_required: self.dpop_bound_access_tokens,
            resource_name: &self.name,
        })
    }
}
