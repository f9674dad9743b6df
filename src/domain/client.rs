//! OAuth clients as stored and shown (api.md 1.9 Client, 3.3).

use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;

/// Columns selected by [`ClientRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct ClientRow {
    pub id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub name: String,
    /// JSON array of strings.
    pub redirect_uris: String,
    pub scope: Option<String>,
    pub public_key: String,
    pub key_thumbprint: String,
    pub token_endpoint_auth_method: String,
    pub application_type: String,
    pub dpop_bound_access_tokens: i64,
    pub marked_for_cancellation: i64,
    pub disabled: i64,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClientRow {
    pub const COLUMNS: &'static str =
        "id, owner_type, owner_id, name, redirect_uris, scope, public_key, \
         key_thumbprint, token_endpoint_auth_method, application_type, dpop_bound_access_tokens, \
         marked_for_cancellation, disabled, disabled_at, disabled_reason, created_at, updated_at";

    /// The same columns qualified with a table alias `c.`.
    pub const C_COLUMNS: &'static str =
        "c.id, c.owner_type, c.owner_id, c.name, c.redirect_uris, c.scope, \
         c.public_key, c.key_thumbprint, c.token_endpoint_auth_method, c.application_type, \
         c.dpop_bound_access_tokens, c.marked_for_cancellation, c.disabled, c.disabled_at, \
         c.disabled_reason, c.created_at, c.updated_at";

    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }

    pub fn view(&self) -> ClientView<'_> {
        ClientView {
            id: &self.id,
            name: &self.name,
            redirect_uris: self.redirect_uris(),
            scope: self.scope.as_deref(),
            public_key: &self.public_key,
            token_endpoint_auth_method: &self.token_endpoint_auth_method,
            application_type: &self.application_type,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens != 0,
            owner_type: &self.owner_type,
            owner_id: &self.owner_id,
            disabled: self.disabled != 0,
            disabled_at: self.disabled_at.map(rfc3339_ms),
            disabled_reason: self.disabled_reason.as_deref(),
            marked_for_cancellation: self.marked_for_cancellation != 0,
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

/// SQL condition selecting the clients of a human overseer's pool (api.md 5.8): its own plus
/// those of the agents it actively oversees. `?1` is the overseer id; the table alias is `c`.
pub const OVERSEER_POOL: &str = "((c.owner_type = 'overseer' AND c.owner_id = ?1) OR \
     (c.owner_type = 'agent' AND c.owner_id IN (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)))";
