//! Resource indicators at the endpoints (RFC 8707): the registered resources a request names,
//! read in one round trip, and the OAuth errors of [`TargetError`] and [`ResourceScopeError`].

use http::StatusCode;

use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::oauth::target::{ResourceScope, ResourceScopeError, Resources, TargetError};
use crate::store::batch::Batch;
use crate::store::resources::{self, ResourceRow};

use super::oauth_error;

/// `400 invalid_target` (RFC 8707 §2).
pub fn invalid_target(e: TargetError) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_target", e.to_string())
}

/// `400 invalid_scope`.
pub fn invalid_scope(e: ResourceScopeError) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
}

/// A refusal to answer to the client (`Err`), inside the server's own failures.
pub type Refused<T> = Result<T, ApiError>;

/// The registered resources `uris` name, in order, read in one round trip; an unregistered
/// one is refused with `invalid_target`.
pub async fn registered(
    ctx: &Ctx<'_>,
    uris: &[String],
) -> Result<Refused<Vec<ResourceRow>>, ApiError> {
    let mut reads = Batch::new();
    let steps: Vec<_> = uris
        .iter()
        .map(|u| reads.push(resources::find_by_uri_statement(u)))
        .collect();
    let mut found = reads.run(ctx.db()).await?;
    let mut rows = Vec::with_capacity(steps.len());
    for step in steps {
        match found.take(step).first::<ResourceRow>()? {
            Some(row) => rows.push(row),
            None => return Ok(Err(invalid_target(TargetError::Unknown))),
        }
    }
    Ok(Ok(rows))
}

/// The scopes `row` declares (a stored list that does not decode is a server error).
pub fn declared(row: &ResourceRow) -> Result<ResourceScope, ApiError> {
    ResourceScope::declared_by(row)
        .ok_or_else(|| ApiError::internal("stored resource scopes invalid"))
}

/// The resources a request names and the scope it is granted for them: every resource
/// registered, the scope within what they declare (plus `offline_access`).
pub async fn grant(
    ctx: &Ctx<'_>,
    resources: &Resources,
    requested_scope: Option<&str>,
) -> Result<Refused<ResourceScope>, ApiError> {
    let rows = match registered(ctx, resources.uris()).await? {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut offered = ResourceScope::default();
    for row in &rows {
        offered = offered.union(declared(row)?);
    }
    Ok(ResourceScope::granted(requested_scope, &offered).map_err(invalid_scope))
}
