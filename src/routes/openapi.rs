//! `GET /openapi.json`: the API contract as OpenAPI 3.1. The document is the repository's
//! `openapi/openapi.json`, which the build ships among the static assets (`frontend/dist`, without
//! its indentation) rather than in the wasm, where it would take about 17 KB of the Worker's gzip
//! budget. The endpoint reads it from there and answers with the App's headers, so clients read
//! what `tests/openapi.rs` checks against the endpoint table and what schemathesis tests the wasm
//! with.

use http::header::{self, HeaderValue};
use http::StatusCode;

use crate::ctx::Ctx;
use crate::http::{ApiError, Reply};
use crate::static_files;

/// Where the build puts the document among the static files.
pub const PATH: &str = "/openapi.json";

/// The document, cacheable like the discovery documents (it changes only with a deploy). A
/// deploy without it is a build error: `500 internal_error`, with the reason in the log.
pub async fn document(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = static_files::read(ctx.services.static_files.as_ref(), PATH, "application/json")
        .await
        .map_err(|e| ApiError::internal(format_args!("{PATH}: {e}")))?;
    Ok(Reply {
        status: StatusCode::OK,
        body,
        headers: vec![(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
    })
}
