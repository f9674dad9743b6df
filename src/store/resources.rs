//! Protected resources (RFC 8707, RFC 9728): the APIs and MCP servers overseers put agent-id in
//! front of. A resource's `uri` is the exact audience of the tokens issued for it.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::{flag, Statement};
use crate::stmt;

/// The signing algorithm of the access tokens a resource accepts
/// (`protected_resources.access_token_alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TokenAlg {
    EdDSA,
    ES256,
}

impl TokenAlg {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenAlg::EdDSA => "EdDSA",
            TokenAlg::ES256 => "ES256",
        }
    }
}

/// A resource as stored. Columns selected by [`ResourceRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct ResourceRow {
    pub id: String,
    pub overseer_id: String,
    /// The canonical resource identifier: absolute, no fragment (RFC 8707 §2).
    pub uri: String,
    pub name: String,
    /// JSON array of `{"name", "description"}`.
    pub scopes: String,
    #[serde(deserialize_with = "flag::deserialize")]
    pub dpop_bound_access_tokens: bool,
    pub access_token_alg: TokenAlg,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ResourceRow {
    pub const COLUMNS: &'static str = "id, overseer_id, uri, name, scopes, \
         dpop_bound_access_tokens, access_token_alg, created_at, updated_at";
}

/// The resource whose identifier is exactly `uri`, for a batch of reads (decode with `first`).
pub fn find_by_uri_statement(uri: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {} FROM protected_resources WHERE uri = ?1",
            ResourceRow::COLUMNS
        ),
        uri
    )
}
