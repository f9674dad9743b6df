//! Protected resources (RFC 8707, RFC 9728): the APIs and MCP servers overseers put agent-id in
//! front of. A resource's `uri` is the exact audience of the tokens issued for it.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::batch::Guard;
use super::{flag, Db, Statement, StoreError, Value};
use crate::{guard, stmt};

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

/// A resource to register, as validated by the route.
pub struct NewResource<'a> {
    pub id: &'a str,
    pub overseer_id: &'a str,
    /// Canonical (`domain::resource::canonical_resource_uri`).
    pub uri: &'a str,
    pub name: &'a str,
    /// `ResourceScopes::to_stored`.
    pub scopes: &'a str,
    pub dpop_bound_access_tokens: bool,
    pub access_token_alg: TokenAlg,
    pub now_ms: i64,
}

/// Registers a resource; an `INSERT … SELECT` to be guarded ([`Statement::only_if`]) by
/// [`has_room`] and [`uri_free`], so the limit and the uniqueness are decided by one statement.
pub fn insert(r: &NewResource<'_>) -> Statement {
    Statement::new(
        "INSERT INTO protected_resources (id, overseer_id, uri, name, scopes, \
           dpop_bound_access_tokens, access_token_alg, created_at, updated_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8",
        vec![
            Value::from(r.id),
            Value::from(r.overseer_id),
            Value::from(r.uri),
            Value::from(r.name),
            Value::from(r.scopes),
            Value::from(r.dpop_bound_access_tokens),
            Value::from(r.access_token_alg.as_str()),
            Value::from(r.now_ms),
        ],
    )
}

/// "The overseer may register one more resource" (`max_resources` −1: unlimited).
pub fn has_room(overseer_id: &str, max_resources: i64) -> Guard {
    guard!(
        "?2 < 0 OR (SELECT COUNT(*) FROM protected_resources WHERE overseer_id = ?1) < ?2",
        overseer_id,
        max_resources
    )
}

/// "No resource has this identifier yet" (anyone's: the identifier is a token audience).
pub fn uri_free(uri: &str) -> Guard {
    guard!(
        "NOT EXISTS (SELECT 1 FROM protected_resources WHERE uri = ?1)",
        uri
    )
}

/// "The resource exists" (the registration took effect).
pub fn exists(id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM protected_resources WHERE id = ?1)",
        id
    )
}

/// Whether any resource has the identifier `uri` (why a guarded insert did not happen).
pub async fn uri_taken(db: &dyn Db, uri: &str) -> Result<bool, StoreError> {
    Ok(db
        .run(find_by_uri_statement(uri))
        .await?
        .first::<ResourceRow>()?
        .is_some())
}

/// The resource `id`, whoever owns it (the public metadata document).
pub async fn find(db: &dyn Db, id: &str) -> Result<Option<ResourceRow>, StoreError> {
    db.run(stmt!(
        format!(
            "SELECT {} FROM protected_resources WHERE id = ?1",
            ResourceRow::COLUMNS
        ),
        id
    ))
    .await?
    .first()
}

/// The resource `id` if `overseer_id` owns it.
pub async fn find_owned(
    db: &dyn Db,
    overseer_id: &str,
    id: &str,
) -> Result<Option<ResourceRow>, StoreError> {
    db.run(find_owned_statement(overseer_id, id)).await?.first()
}

fn find_owned_statement(overseer_id: &str, id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {} FROM protected_resources WHERE id = ?1 AND overseer_id = ?2",
            ResourceRow::COLUMNS
        ),
        id,
        overseer_id
    )
}

/// Every resource of the overseer, oldest first (the order they count against the limit).
pub fn list_owned_statement(overseer_id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {} FROM protected_resources WHERE overseer_id = ?1 \
             ORDER BY created_at, id",
            ResourceRow::COLUMNS
        ),
        overseer_id
    )
}

/// The fields an update may change (the `uri` never changes: it is the tokens' audience).
pub struct ResourceChange<'a> {
    pub name: &'a str,
    pub scopes: &'a str,
    pub dpop_bound_access_tokens: bool,
    pub access_token_alg: TokenAlg,
    pub now_ms: i64,
}

/// Replaces the mutable fields of the overseer's resource `id`.
pub fn update(overseer_id: &str, id: &str, c: &ResourceChange<'_>) -> Statement {
    stmt!(
        "UPDATE protected_resources SET name = ?3, scopes = ?4, dpop_bound_access_tokens = ?5, \
         access_token_alg = ?6, updated_at = ?7 WHERE id = ?1 AND overseer_id = ?2",
        id,
        overseer_id,
        c.name,
        c.scopes,
        c.dpop_bound_access_tokens,
        c.access_token_alg.as_str(),
        c.now_ms
    )
}

/// Deletes the overseer's resource `id`.
pub fn delete(overseer_id: &str, id: &str) -> Statement {
    stmt!(
        "DELETE FROM protected_resources WHERE id = ?1 AND overseer_id = ?2",
        id,
        overseer_id
    )
}

/// Revokes every live grant that holds `uri` among its resources (the resource is deleted:
/// refresh and introspection stop at once, and a later registration of the same identifier
/// by anyone does not inherit the grants).
pub fn revoke_grants_holding(uri: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = 'resource_deleted' \
         WHERE revoked_at IS NULL AND resources IS NOT NULL \
         AND EXISTS (SELECT 1 FROM json_each(oauth_grants.resources) WHERE value = ?1)",
        uri,
        now_ms
    )
}

/// Revokes every live grant that holds one of the overseer's resources (its account is being
/// erased: the resources go with the account row, and their identifiers become free).
pub fn revoke_grants_of_overseer(overseer_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = 'resource_deleted' \
         WHERE revoked_at IS NULL AND resources IS NOT NULL \
         AND EXISTS (SELECT 1 FROM json_each(oauth_grants.resources) j \
           JOIN protected_resources p ON p.uri = j.value WHERE p.overseer_id = ?1)",
        overseer_id,
        now_ms
    )
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
