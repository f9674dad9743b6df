//! Single use of DPoP and client-assertion `jti`s, decided by a D1 primary key (api.md 9.11).
//!
//! A proof or assertion is accepted up to a last whole second ([`AcceptedThrough`]); its marker
//! expires at the first millisecond after it. Both the freshness checks and the marker use the
//! same value, so there is no instant at which a proof is still accepted while its marker
//! already counts as expired (and could be taken over by a replay).

use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::store::markers::{Mark, Use};

pub use crate::store::markers::MarkerKind;

pub use agent_id_protocol::dpop::AcceptedThrough;

/// Records `hash` (signed by `shard`: a DPoP key thumbprint or a client id) as used while
/// `window` accepts it. Returns `false` when it was already used (a live marker exists). An
/// expired marker not yet purged is taken over.
pub async fn first_use(
    ctx: &Ctx<'_>,
    kind: MarkerKind,
    shard: &str,
    hash: &str,
    window: AcceptedThrough,
) -> Result<bool, ApiError> {
    let mark = mark(ctx, kind, shard, hash, window);
    let used = ctx
        .services
        .replays
        .first_use(ctx.db(), &ctx.services.meter, &mark)
        .await?;
    Ok(used == Use::First)
}

/// The use of `hash` (signed by `shard`) to record now, while `window` accepts it: for
/// [`first_use`], or to fold into a batch through `ReplayStore::in_batch`.
pub fn mark<'a>(
    ctx: &Ctx<'_>,
    kind: MarkerKind,
    shard: &'a str,
    hash: &'a str,
    window: AcceptedThrough,
) -> Mark<'a> {
    Mark {
        kind,
        shard,
        hash,
        expires_at_ms: window.marker_expires_at_ms(),
        now_ms: ctx.now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::AcceptedThrough;

    #[test]
    fn the_marker_expires_exactly_when_acceptance_ends() {
        let w = AcceptedThrough::second(1_000);
        for now_ms in [999_000, 1_000_000, 1_000_999, 1_001_000, 1_001_001] {
            let accepted = w.accepts(now_ms / 1000);
            let marker_expired = w.marker_expires_at_ms() <= now_ms;
            assert_ne!(accepted, marker_expired, "at {now_ms} ms");
        }
        assert_eq!(w.marker_expires_at_ms(), 1_001_000);
        assert_eq!(
            AcceptedThrough::second(i64::MAX).marker_expires_at_ms(),
            i64::MAX
        );
    }
}
