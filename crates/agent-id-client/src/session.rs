//! An agent session: the bearer `session_id` the server hands out at registration, log-in and
//! rotation, with the agent it belongs to and when it expires.

use std::fmt;

use serde_json::{json, Value};
use zeroize::Zeroizing;

/// A secret token (session id, access or refresh token): wiped on drop, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The token itself, for a request header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An agent session at one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `Authorization: Bearer <token>` on agent endpoints.
    pub token: Secret,
    pub agent_id: String,
    /// Unix seconds after which the server no longer accepts it.
    pub expires_at: i64,
}

impl Session {
    /// Whether the session has expired at `now_s` (with a few seconds' margin for the request in
    /// flight).
    pub fn is_expired(&self, now_s: i64) -> bool {
        now_s + 5 >= self.expires_at
    }

    /// The stored form (`session.json`; a wasm host keeps it where it keeps secrets). It holds
    /// the token: write it only somewhere private.
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(
            json!({
                "session_id": self.token.expose(),
                "agent_id": self.agent_id,
                "expires_at": self.expires_at,
            })
            .to_string(),
        )
    }

    /// Reads [`Session::to_json`] back.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            token: Secret::new(v.get("session_id")?.as_str()?),
            agent_id: v.get("agent_id")?.as_str()?.to_owned(),
            expires_at: v.get("expires_at")?.as_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token_and_json_round_trips() {
        let s = Session {
            token: Secret::new("tok-SECRET-123"),
            agent_id: "a".into(),
            expires_at: 42,
        };
        assert!(!format!("{s:?}").contains("SECRET"));
        assert_eq!(Session::from_json(s.to_json().as_bytes()), Some(s));
    }
}
