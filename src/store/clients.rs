//! OAuth clients: registration, keys, enable/disable, lookups by id and owner.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

use serde::Deserialize;

use super::batch::Guard;
use super::{flag, Db, Statement, StoreError, Value};
use crate::domain::tier::Pool;
use crate::{guard, stmt};

/// Who owns a client (`oauth_clients.owner_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerType {
    Agent,
    Overseer,
}

impl OwnerType {
    pub const fn as_str(self) -> &'static str {
        match self {
            OwnerType::Agent => "agent",
            OwnerType::Overseer => "overseer",
        }
    }
}

/// A client's owner: the account that registered it and alone may change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    pub kind: OwnerType,
    pub id: &'a str,
}

/// `oauth_clients.application_type` (OpenID Connect Dynamic Client Registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    Web,
    Native,
}

impl ApplicationType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }
}

/// Where a client comes from (`oauth_clients.origin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientOrigin {
    /// Registered through the API by its owner; its id is a UUID.
    Registered,
    /// A Client ID Metadata Document, cached: its id is the document's URL and it has no owner.
    MetadataDocument,
}

/// A client as stored. Columns selected by [`ClientRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct ClientRow {
    pub id: String,
    pub owner_type: OwnerType,
    pub owner_id: String,
    pub name: String,
    /// JSON array of strings.
    pub redirect_uris: String,
    pub scope: Option<String>,
    pub public_key: String,
    pub key_thumbprint: String,
    pub token_endpoint_auth_method: String,
    pub application_type: ApplicationType,
    #[serde(deserialize_with = "flag::deserialize")]
    pub dpop_bound_access_tokens: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub marked_for_cancellation: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub disabled: bool,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub origin: ClientOrigin,
    /// A metadata-document client's validated document (JSON), as last fetched.
    pub metadata_document: Option<String>,
    pub metadata_fetched_at: Option<i64>,
    /// When the document must be fetched again (ms).
    pub metadata_expires_at: Option<i64>,
    /// A metadata-document client's keys (a JWK set of public members, from `jwks` or from
    /// `jwks_uri`).
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
}

impl ClientRow {
    pub const COLUMNS: &'static str =
        "id, owner_type, owner_id, name, redirect_uris, scope, public_key, \
         key_thumbprint, token_endpoint_auth_method, application_type, dpop_bound_access_tokens, \
         marked_for_cancellation, disabled, disabled_at, disabled_reason, created_at, updated_at, \
         origin, metadata_document, metadata_fetched_at, metadata_expires_at, jwks, jwks_uri";

    /// The same columns qualified with a table alias `c.`.
    pub const C_COLUMNS: &'static str =
        "c.id, c.owner_type, c.owner_id, c.name, c.redirect_uris, c.scope, \
         c.public_key, c.key_thumbprint, c.token_endpoint_auth_method, c.application_type, \
         c.dpop_bound_access_tokens, c.marked_for_cancellation, c.disabled, c.disabled_at, \
         c.disabled_reason, c.created_at, c.updated_at, c.origin, c.metadata_document, \
         c.metadata_fetched_at, c.metadata_expires_at, c.jwks, c.jwks_uri";

    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }

    pub fn owner(&self) -> Owner<'_> {
        Owner {
            kind: self.owner_type,
            id: &self.owner_id,
        }
    }
}

/// SQL condition selecting the clients of a human overseer's pool (api.md 5.8): its own plus
/// those of the agents it actively oversees. `?1` is the overseer id; the table alias is `c`.
pub const OVERSEER_POOL: &str = "((c.owner_type = 'overseer' AND c.owner_id = ?1) OR \
     (c.owner_type = 'agent' AND c.owner_id IN (SELECT agent_id FROM oversights WHERE overseer_id = ?1 AND active = 1)))";

/// Any client by id (`None` when unknown).
pub async fn find(db: &dyn Db, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
    db.run(find_statement(client_id)).await?.first()
}

/// The SELECT of [`find`], for a batch of reads (decode its outcome with `first`).
pub fn find_statement(client_id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT {} FROM oauth_clients WHERE id = ?1",
            ClientRow::COLUMNS
        ),
        client_id
    )
}

/// Whether the active overseer of `agent_id` has blocked `client_id`: a row when blocked, for
/// the batch that also reads the client ([`find_statement`]).
pub fn blocked_statement(client_id: &str, agent_id: &str) -> Statement {
    stmt!(
        format!(
            "SELECT 1 AS one WHERE {}",
            super::oversights::blocked("?1", "?2")
        ),
        client_id,
        agent_id
    )
}

/// A client of `owner` (`None` when unknown or another owner's).
pub async fn find_owned(
    db: &dyn Db,
    owner: Owner<'_>,
    client_id: &str,
) -> Result<Option<ClientRow>, StoreError> {
    db.run(stmt!(
        format!(
            "SELECT {} FROM oauth_clients WHERE id = ?1 AND owner_type = ?2 AND owner_id = ?3",
            ClientRow::COLUMNS
        ),
        client_id,
        owner.kind.as_str(),
        owner.id
    ))
    .await?
    .first()
}

/// Every client of `owner`, newest first, disabled ones included.
pub async fn list_owned(db: &dyn Db, owner: Owner<'_>) -> Result<Vec<ClientRow>, StoreError> {
    db.run(stmt!(
        format!(
            "SELECT {} FROM oauth_clients WHERE owner_type = ?1 AND owner_id = ?2 \
             ORDER BY created_at DESC, id",
            ClientRow::COLUMNS
        ),
        owner.kind.as_str(),
        owner.id
    ))
    .await?
    .decode()
}

/// "`pool` has room for one more enabled client" (`max_clients` −1: unlimited). Guards the
/// An SQL condition over `oauth_clients c` selecting `pool`, with its one parameter `?1`.
pub fn pool_condition(pool: &Pool) -> (&'static str, &str) {
    match pool {
        Pool::Overseer(id) => (OVERSEER_POOL, id),
        Pool::Agent(id) => ("(c.owner_type = 'agent' AND c.owner_id = ?1)", id),
    }
}

/// registration and the re-enabling of a client, so concurrent requests cannot pass the limit.
pub fn has_room(pool: &Pool, max_clients: i64) -> Guard {
    let (condition, pool_id) = pool_condition(pool);
    // The pool's condition numbers its id `?1`, as a guard's own first parameter.
    guard!(
        format!(
            "?2 < 0 OR (SELECT COUNT(*) FROM oauth_clients c WHERE c.disabled = 0 AND {condition}) < ?2"
        ),
        pool_id,
        max_clients
    )
}

/// "The client exists" (the registration took effect).
pub fn exists(client_id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?1)",
        client_id
    )
}

/// "The client exists and is enabled" (the re-enabling took effect).
pub fn is_enabled(client_id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?1 AND disabled = 0)",
        client_id
    )
}

/// "The client exists, enabled, with exactly this key": what a cached key must still be for
/// the batch that trusted it to take effect.
pub fn holds_key(client_id: &str, public_key: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?1 AND public_key = ?2 AND disabled = 0)",
        client_id,
        public_key
    )
}

/// A client to register.
pub struct NewClient<'a> {
    pub id: &'a str,
    pub owner: Owner<'a>,
    pub name: &'a str,
    /// JSON array of strings.
    pub redirect_uris: &'a str,
    pub scope: Option<String>,
    /// The Ed25519 key of a `private_key_jwt` client; `None` for a public client.
    pub key: Option<NewKey>,
    pub application_type: ApplicationType,
    pub dpop_bound_access_tokens: bool,
    pub now_ms: i64,
}

/// A client key to store: canonical base64url and RFC 7638 thumbprint.
pub struct NewKey {
    pub public_key: String,
    pub thumbprint: String,
}

/// The INSERT of a new client, an `INSERT … SELECT` to be guarded by [`has_room`]. A public
/// client is stored with migration 0009's placeholder, `public_key = key_thumbprint = ''`
/// (decoded by `ClientRow::credential`).
pub fn insert(c: &NewClient<'_>) -> Statement {
    let (public_key, thumbprint, method) = match &c.key {
        Some(k) => (
            k.public_key.as_str(),
            k.thumbprint.as_str(),
            "private_key_jwt",
        ),
        None => ("", "", "none"),
    };
    Statement::new(
        "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, scope, public_key, \
           key_thumbprint, token_endpoint_auth_method, application_type, dpop_bound_access_tokens, \
           created_at, updated_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?12, ?9, ?10, ?11, ?11",
        vec![
            Value::from(c.id),
            Value::from(c.owner.kind.as_str()),
            Value::from(c.owner.id),
            Value::from(c.name),
            Value::from(c.redirect_uris),
            Value::from(c.scope.as_deref()),
            Value::from(public_key),
            Value::from(thumbprint),
            Value::from(c.application_type.as_str()),
            Value::from(c.dpop_bound_access_tokens),
            Value::from(c.now_ms),
            Value::from(method),
        ],
    )
}

/// Re-enables a disabled client; ends in a `WHERE`, to be guarded ([`Statement::and_if`]) by
/// [`has_room`].
pub fn enable(client_id: &str, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_clients SET disabled = 0, disabled_at = NULL, disabled_reason = NULL, \
         updated_at = ?2 WHERE id = ?1 AND disabled = 1",
        client_id,
        now_ms
    )
}

/// Replaces the client's key. Tokens and codes were bound to the old key, so every grant of
/// the client is revoked and every unused code deleted with it.
pub fn replace_key(
    client_id: &str,
    public_key: &str,
    thumbprint: &str,
    now_ms: i64,
) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE oauth_clients SET public_key = ?2, key_thumbprint = ?3, updated_at = ?4 WHERE id = ?1",
            client_id,
            public_key,
            thumbprint,
            now_ms
        ),
        stmt!(
            "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = 'client_key_replaced' \
             WHERE client_id = ?1 AND revoked_at IS NULL",
            client_id,
            now_ms
        ),
        stmt!(
            "DELETE FROM authorization_codes WHERE client_id = ?1 AND used_at IS NULL",
            client_id
        ),
    ]
}

/// Deletes the client; codes, grants, tokens and blocks go with it (foreign keys), the
/// history keeps the client id and name.
pub fn delete(client_id: &str) -> Statement {
    stmt!("DELETE FROM oauth_clients WHERE id = ?1", client_id)
}
// --- Client ID Metadata Document clients (cached rows) ---

/// A validated metadata document to cache as the client row whose id is its URL.
pub struct MetadataClient<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// JSON array of strings.
    pub redirect_uris: &'a str,
    /// `none` or `private_key_jwt`.
    pub auth_method: &'static str,
    pub application_type: ApplicationType,
    /// The document as fetched (JSON).
    pub document: &'a str,
    /// The client's keys (a stored JWK set), when it has any.
    pub jwks: Option<&'a str>,
    pub jwks_uri: Option<&'a str>,
    pub fetched_at_ms: i64,
    pub expires_at_ms: i64,
}

/// Inserts the row of a metadata-document client, or refreshes it with a newly fetched
/// document (name, redirect URIs, method, keys, cache times). Never touches a registered
/// client (their ids are UUIDs, but the condition says so too).
pub fn upsert_metadata_client(c: &MetadataClient<'_>) -> Statement {
    Statement::new(
        "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, scope, public_key, \
           key_thumbprint, token_endpoint_auth_method, application_type, dpop_bound_access_tokens, \
           created_at, updated_at, origin, metadata_document, metadata_fetched_at, \
           metadata_expires_at, jwks, jwks_uri) \
         VALUES (?1, 'overseer', '', ?2, ?3, NULL, '', '', ?4, ?5, 0, ?6, ?6, 'metadata_document', \
           ?7, ?6, ?8, ?9, ?10) \
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris, \
           token_endpoint_auth_method = excluded.token_endpoint_auth_method, \
           application_type = excluded.application_type, \
           metadata_document = excluded.metadata_document, \
           metadata_fetched_at = excluded.metadata_fetched_at, \
           metadata_expires_at = excluded.metadata_expires_at, jwks = excluded.jwks, \
           jwks_uri = excluded.jwks_uri, updated_at = excluded.updated_at \
         WHERE oauth_clients.origin = 'metadata_document'",
        vec![
            Value::from(c.id),
            Value::from(c.name),
            Value::from(c.redirect_uris),
            Value::from(c.auth_method),
            Value::from(c.application_type.as_str()),
            Value::from(c.fetched_at_ms),
            Value::from(c.document),
            Value::from(c.expires_at_ms),
            Value::from(c.jwks),
            Value::from(c.jwks_uri),
        ],
    )
}

/// Replaces a metadata-document client's key set with one fetched again from its `jwks_uri`.
pub fn replace_metadata_keys(client_id: &str, jwks: &str, fetched_at_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_clients SET jwks = ?2, metadata_fetched_at = ?3, updated_at = ?3 \
         WHERE id = ?1 AND origin = 'metadata_document'",
        client_id,
        jwks,
        fetched_at_ms
    )
}

// --- names for the overseer's views ---

/// The client's name, if the client exists.
pub async fn name(
    db: &dyn crate::store::Db,
    client_id: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    #[derive(serde::Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = db
        .run(crate::stmt!(
            "SELECT name FROM oauth_clients WHERE id = ?1",
            client_id
        ))
        .await?
        .first()?;
    Ok(row.map(|r| r.name))
}
