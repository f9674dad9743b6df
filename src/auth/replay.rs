//! Single use of DPoP and client-assertion `jti`s, decided by a D1 primary key (api.md 9.11).

use crate::app::Ctx;
use crate::http::ApiError;
use crate::stmt;

/// What a replay marker protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    Dpop,
    ClientAssertion,
}

impl MarkerKind {
    const fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Dpop => "dpop",
            MarkerKind::ClientAssertion => "client_assertion",
        }
    }
}

/// Records `hash` as used until `expires_at_ms`. Returns `false` when it was already used
/// (a live marker exists). An expired marker not yet purged is taken over.
pub async fn first_use(
    ctx: &Ctx<'_>,
    kind: MarkerKind,
    hash: &str,
    expires_at_ms: i64,
) -> Result<bool, ApiError> {
    let outcome = ctx
        .app
        .db
        .run(stmt!(
            "INSERT INTO jti_markers (hash, kind, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at \
             WHERE jti_markers.expires_at <= ?4",
            hash,
            kind.as_str(),
            expires_at_ms,
            ctx.now_ms
        ))
        .await?;
    Ok(outcome.changes == 1)
}
