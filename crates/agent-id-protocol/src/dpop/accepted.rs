//! How long a proof is accepted. Request time is milliseconds truncated to seconds, so acceptance
//! ends at the first millisecond of the following second: exactly when a server's replay marker
//! for it may expire (`marker_expires_at_ms`).

/// The last whole Unix second at which a proof or assertion is accepted (`now_s <= last`).
/// Request time is milliseconds truncated to seconds, so acceptance ends at the first
/// millisecond of the following second — exactly when the replay marker expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AcceptedThrough(i64);

impl AcceptedThrough {
    /// Accepted through `last_s` inclusive.
    pub const fn second(last_s: i64) -> Self {
        Self(last_s)
    }

    /// The last accepted second.
    pub const fn last_s(self) -> i64 {
        self.0
    }

    /// Whether a request at `now_s` (whole seconds) still accepts it.
    pub const fn accepts(self, now_s: i64) -> bool {
        now_s <= self.0
    }

    /// `jti_markers.expires_at`: the first millisecond at which [`Self::accepts`] is false. A
    /// marker is taken over (or purged) only when `expires_at <= now_ms`, i.e. never while the
    /// proof it protects is accepted.
    pub const fn marker_expires_at_ms(self) -> i64 {
        self.0.saturating_add(1).saturating_mul(1000)
    }
}
