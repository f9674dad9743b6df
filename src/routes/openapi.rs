//! `GET /openapi.json`: the API contract as OpenAPI 3.1. The document is the repository's
//! `openapi/openapi.json`, compiled in without its indentation (`build.rs`) and otherwise served
//! as committed, so what clients read is what `tests/openapi.rs` checks against the endpoint table
//! and what schemathesis tests the wasm with.

use http::header::{self, HeaderValue};
use http::StatusCode;

use crate::http::Reply;

/// The committed document, minified by `build.rs`.
pub const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

/// The document, cacheable like the discovery documents (it changes only with a deploy).
pub fn document() -> Reply {
    Reply {
        status: StatusCode::OK,
        body: DOCUMENT.as_bytes().to_vec(),
        headers: vec![(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
    }
}
