//! Client ID Metadata Document clients (draft-ietf-oauth-client-id-metadata-document-00): an
//! https URL used as `client_id` names a client whose metadata is fetched from that URL
//! ([`fetch`]), validated (`crate::oauth::client_metadata`) and cached as the `oauth_clients`
//! row whose id is the URL, so that codes, grants and blocks refer to it like to any client.
//!
//! [`current`] gives the row to use now: the cached one while it is fresh, else the document
//! fetched again (a failed fetch after expiry refuses the client: no stale document is used).

pub mod fetch;

use http::StatusCode;

use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::oauth::client_metadata::{
    self, cache_expiry_s, ClientAuth, ClientJwk, FetchUrl, MetadataError, UrlError,
    MAX_DOCUMENT_BYTES, MAX_JWKS_BYTES,
};
use crate::routes::oauth::oauth_error;
use crate::store::batch::Batch;
use crate::store::clients::{self, ApplicationType, ClientOrigin, ClientRow, MetadataClient};

use fetch::FetchError;

/// A key set is fetched again for an unknown `kid` at most once a minute per client.
const KEY_REFETCH_INTERVAL_MS: i64 = 60_000;

/// Why a metadata-document client cannot be used. The Display texts echo nothing fetched.
#[derive(Debug)]
pub enum CimdError {
    Url(UrlError),
    Fetch(FetchError),
    Document(MetadataError),
    /// A storage failure: answered as the internal error it is.
    Internal(ApiError),
}

impl std::fmt::Display for CimdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CimdError::Url(e) => e.fmt(f),
            CimdError::Fetch(e) => e.fmt(f),
            CimdError::Document(e) => e.fmt(f),
            CimdError::Internal(e) => f.write_str(&e.message),
        }
    }
}

impl CimdError {
    /// At the authorization endpoint: JSON `400 invalid_client_metadata` (RFC 7591 §3.2.2's
    /// code for unusable client metadata), never a redirect, since no redirect URI is trusted.
    pub fn at_authorize(self) -> ApiError {
        match self {
            CimdError::Internal(e) => e,
            e => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                e.to_string(),
            ),
        }
    }

    /// At the token, revocation and introspection endpoints: `401 invalid_client`.
    pub fn at_token(self) -> ApiError {
        match self {
            CimdError::Internal(e) => e,
            e => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for CimdError {
    fn from(e: crate::store::StoreError) -> Self {
        CimdError::Internal(e.into())
    }
}

/// The row of the metadata-document client `client_id` to use now. `cached` is the row read
/// for it (in the caller's round trip): used as it is while fresh; otherwise the document is
/// fetched, validated and cached (one more round trip writes and re-reads the row).
pub async fn current(
    ctx: &Ctx<'_>,
    client_id: &str,
    cached: Option<ClientRow>,
) -> Result<ClientRow, CimdError> {
    let allow_loopback = ctx.config.cimd_allow_loopback;
    let url = FetchUrl::parse(client_id, allow_loopback).map_err(CimdError::Url)?;
    if let Some(row) = cached.filter(|r| r.origin == ClientOrigin::MetadataDocument) {
        if row.metadata_expires_at.is_some_and(|t| t > ctx.now_ms) {
            return Ok(row);
        }
    }
    let seam = ctx.services.documents.as_ref();
    let fetched = fetch::fetch_json(seam, &url, MAX_DOCUMENT_BYTES)
        .await
        .map_err(CimdError::Fetch)?;
    let metadata = client_metadata::validate(&url, &fetched.body, allow_loopback)
        .map_err(CimdError::Document)?;
    let mut expires_s = cache_expiry_s(
        fetched.cache_control.as_deref(),
        fetched.expires.as_deref(),
        ctx.now_s(),
    );
    let jwks = match &metadata.auth {
        ClientAuth::None => None,
        ClientAuth::Jwks(keys) => Some(client_metadata::stored_jwks(keys)),
        ClientAuth::JwksUri(uri) => {
            let (keys, keys_expire_s) = fetch_keys(ctx, uri).await?;
            expires_s = expires_s.min(keys_expire_s);
            Some(client_metadata::stored_jwks(&keys))
        }
    };
    let redirect_uris = serde_json::Value::from(metadata.redirect_uris.clone()).to_string();
    let document = String::from_utf8_lossy(&fetched.body);
    let jwks_uri = match &metadata.auth {
        ClientAuth::JwksUri(uri) => Some(uri.as_str()),
        _ => None,
    };
    let row = MetadataClient {
        id: &metadata.client_id,
        name: &metadata.client_name,
        redirect_uris: &redirect_uris,
        auth_method: metadata.auth.method(),
        application_type: if metadata.native {
            ApplicationType::Native
        } else {
            ApplicationType::Web
        },
        document: &document,
        jwks: jwks.as_deref(),
        jwks_uri,
        fetched_at_ms: ctx.now_ms,
        expires_at_ms: expires_s * 1000,
    };
    let mut batch = Batch::new();
    batch.push(clients::upsert_metadata_client(&row));
    let found = batch.push(clients::find_statement(&metadata.client_id));
    let mut out = batch.run(ctx.db()).await?;
    out.take(found)
        .first::<ClientRow>()?
        .filter(|r| r.origin == ClientOrigin::MetadataDocument)
        .ok_or_else(|| CimdError::Internal(ApiError::internal("metadata client not stored")))
}

/// Fetches and validates the key set at `uri`; with its cache expiry (s).
async fn fetch_keys(ctx: &Ctx<'_>, uri: &FetchUrl) -> Result<(Vec<ClientJwk>, i64), CimdError> {
    let seam = ctx.services.documents.as_ref();
    let fetched = fetch::fetch_json(seam, uri, MAX_JWKS_BYTES)
        .await
        .map_err(CimdError::Fetch)?;
    let keys = client_metadata::validate_jwks(&fetched.body).map_err(CimdError::Document)?;
    let expires = cache_expiry_s(
        fetched.cache_control.as_deref(),
        fetched.expires.as_deref(),
        ctx.now_s(),
    );
    Ok((keys, expires))
}

/// The keys of a metadata-document client, as cached.
pub fn keys_of(client: &ClientRow) -> Vec<ClientJwk> {
    client
        .jwks
        .as_deref()
        .and_then(client_metadata::stored_keys)
        .unwrap_or_default()
}

/// For an assertion whose `kid` names no cached key: the client's key set fetched again from
/// its `jwks_uri` (the client may have rotated), at most once a minute per client; `None` when
/// there is nothing new to try.
pub async fn refetch_keys(ctx: &Ctx<'_>, client: &ClientRow) -> Option<Vec<ClientJwk>> {
    let uri = client.jwks_uri.as_deref()?;
    let last = client.metadata_fetched_at.unwrap_or(0);
    if ctx.now_ms - last < KEY_REFETCH_INTERVAL_MS {
        return None;
    }
    let uri = FetchUrl::parse(uri, ctx.config.cimd_allow_loopback).ok()?;
    let (keys, _) = fetch_keys(ctx, &uri).await.ok()?;
    let stored = client_metadata::stored_jwks(&keys);
    ctx.db()
        .run(clients::replace_metadata_keys(
            &client.id, &stored, ctx.now_ms,
        ))
        .await
        .ok()?;
    Some(keys)
}
