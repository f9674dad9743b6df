//! Compatibility shim for the claim handlers: challenge records now live in
//! [`crate::store::challenges`] (storage) and [`crate::domain::challenge`] (window, offer).
//! `claims.rs` and `shadow.rs` still call these wrappers; once they call the store directly
//! (`store::challenges::{save, load, settle}`), this module goes.

use crate::ctx::Ctx;
use crate::domain::challenge::Record;
use crate::http::ApiError;
use crate::store::challenges;

pub use crate::store::challenges::Update;

/// [`challenges::save`] at the request's time.
pub async fn save(ctx: &Ctx<'_>, record: &Record, grace_secs: i64) -> Result<(), ApiError> {
    Ok(challenges::save(ctx.kv(), record, ctx.now_ms, grace_secs).await?)
}

/// [`challenges::settle`] after the response.
pub fn defer_update(ctx: &Ctx<'_>, update: Update) {
    ctx.defer(challenges::settle(
        ctx.services.kv.clone(),
        update,
        ctx.now_ms,
        ctx.request_id.to_owned(),
    ));
}

/// [`challenges::load`] at the request's time.
pub async fn load(ctx: &Ctx<'_>, key: &str) -> Result<Option<Record>, ApiError> {
    Ok(challenges::load(ctx.kv(), key, ctx.now_ms).await?)
}
