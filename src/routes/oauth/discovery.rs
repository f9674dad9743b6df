//! Discovery (RFC 8414, at all three paths) and the JWKS of the token-signing keys.

use http::header::{HeaderValue, CACHE_CONTROL};

use crate::ctx::Ctx;
use crate::http::{ApiError, Reply};
use crate::oauth::{access_token, discovery};

fn cacheable(reply: Reply) -> Reply {
    reply.header(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    )
}

/// `GET /.well-known/oauth-authorization-server` (and the two OpenID paths).
pub fn metadata(ctx: &Ctx<'_>) -> Reply {
    cacheable(Reply::document(&discovery::document(&ctx.issuer)))
}

/// `GET /.well-known/jwks.json`: the Ed25519 keys (current, and the previous one during
/// rotation), then the ES256 keys when configured.
pub async fn jwks(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let ring = super::token_keys(ctx).await?;
    Ok(cacheable(Reply::document(&access_token::jwks_document(
        ring.keys(),
    ))))
}
