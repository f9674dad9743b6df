//! OAuth clients as shown (api.md 1.9 Client); stored as [`ClientRow`].

use serde::Serialize;

use crate::domain::time::rfc3339_ms;
use crate::store::clients::ClientRow;

impl ClientRow {
    pub fn view(&self) -> ClientView<'_> {
        ClientView {
            id: &self.id,
            name: &self.name,
            redirect_uris: self.redirect_uris(),
            scope: self.scope.as_deref(),
            public_key: &self.public_key,
            token_endpoint_auth_method: &self.token_endpoint_auth_method,
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

/// The Client object of api.md 1.9.
#[derive(Debug, Serialize)]
pub struct ClientView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub redirect_uris: Vec<String>,
    pub scope: Option<&'a str>,
    pub public_key: &'a str,
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
