//! Agent challenges: the window a challenge is open for, the exact `challenge_data` an agent
//! signs (api.md 9.2), what the agent is shown, and the records (registration, key rotation,
//! human and shadow claims) that `store::challenges` keeps in KV until completion or expiry.

use serde::{Deserialize, Serialize};

use crate::clock::{Entropy, RandomError};
use crate::domain::ids::uuid_v4;
use crate::domain::time::rfc3339_ms;
use crate::jose::b64;

/// The id, lifetime and nonce of a challenge being issued: one lifetime rule for every kind
/// (creation + configured seconds, security.md H2).
pub struct Window {
    pub id: String,
    pub ttl_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// `expires_at` as shown to the agent and embedded in `challenge_data`.
    pub expires_at_text: String,
    /// 32 random bytes, base64url.
    pub nonce: String,
}

impl Window {
    /// A window opening at `now_ms` for `ttl_secs`, with a fresh id and nonce.
    pub fn open(rng: &dyn Entropy, now_ms: i64, ttl_secs: i64) -> Result<Self, RandomError> {
        let mut nonce = [0u8; 32];
        rng.fill(&mut nonce)?;
        let expires_at = now_ms + ttl_secs * 1000;
        Ok(Self {
            id: uuid_v4(rng)?,
            ttl_secs,
            created_at: now_ms,
            expires_at,
            expires_at_text: rfc3339_ms(expires_at),
            nonce: b64::encode(&nonce),
        })
    }

    /// What the agent is shown: the challenge to sign and how long it stays open.
    pub fn offer<'a>(&'a self, challenge_data: &'a str) -> Offer<'a> {
        Offer {
            challenge_id: &self.id,
            challenge_data,
            expires_at: &self.expires_at_text,
            expires_in: self.ttl_secs,
        }
    }
}

/// The body answering a registration or rotation initiation (api.md 2.2, 2.3).
#[derive(Debug, Serialize)]
pub struct Offer<'a> {
    challenge_id: &'a str,
    challenge_data: &'a str,
    expires_at: &'a str,
    expires_in: i64,
}

pub use agent_id_protocol::challenge::{registration_data, rotation_data};

/// A pending registration (KV `reg:<id>`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Registration {
    pub challenge_id: String,
    pub name: String,
    pub description: Option<String>,
    pub public_key: String,
    pub challenge_data: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A pending key rotation (KV `rot:<id>`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Rotation {
    pub challenge_id: String,
    pub agent_id: String,
    pub old_public_key: String,
    pub new_public_key: String,
    pub challenge_data: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Where a human claim stands (api.md 2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    Pending,
    Completed,
}

/// A human overseer's claim of an agent (KV `claim:<id>`), completed by the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    pub challenge_id: String,
    pub agent_id: String,
    pub overseer_id: String,
    pub status: ClaimStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
}

/// Where a shadow claim stands (api.md 2.5, 5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShadowStatus {
    #[serde(rename = "initiated")]
    Initiated,
    #[serde(rename = "awaiting-payment")]
    AwaitingPayment,
    #[serde(rename = "completed")]
    Completed,
}

impl ShadowStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ShadowStatus::Initiated => "initiated",
            ShadowStatus::AwaitingPayment => "awaiting-payment",
            ShadowStatus::Completed => "completed",
        }
    }
}

/// An anonymous sponsor's shadow claim (KV `claim:<id>`): confirmed by the agent, then paid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShadowClaim {
    pub challenge_id: String,
    pub agent_id: String,
    pub shadow_overseer_id: String,
    pub status: ShadowStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub confirmed_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub transaction_id: Option<String>,
}

/// The KV value of a challenge, tagged by kind so one kind never completes another.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Record {
    #[serde(rename = "register")]
    Register(Registration),
    #[serde(rename = "rotate_key")]
    RotateKey(Rotation),
    #[serde(rename = "claim")]
    Claim(Claim),
    #[serde(rename = "shadow")]
    Shadow(ShadowClaim),
}

impl Record {
    /// The KV key of this record (namespace CHALLENGES).
    pub fn kv_key(&self) -> String {
        match self {
            Record::Register(r) => registration_key(&r.challenge_id),
            Record::RotateKey(r) => rotation_key(&r.challenge_id),
            Record::Claim(r) => claim_key(&r.challenge_id),
            Record::Shadow(r) => claim_key(&r.challenge_id),
        }
    }

    /// When the challenge stops being usable (Unix ms).
    pub fn expires_at(&self) -> i64 {
        match self {
            Record::Register(r) => r.expires_at,
            Record::RotateKey(r) => r.expires_at,
            Record::Claim(r) => r.expires_at,
            Record::Shadow(r) => r.expires_at,
        }
    }
}

pub fn registration_key(challenge_id: &str) -> String {
    format!("reg:{challenge_id}")
}

pub fn rotation_key(challenge_id: &str) -> String {
    format!("rot:{challenge_id}")
}

/// Human and shadow claims share one prefix: both complete at `claim/complete/:id`.
pub fn claim_key(challenge_id: &str) -> String {
    format!("claim:{challenge_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_vector() {
        // vectors.md 5.1
        assert_eq!(
            registration_data(
                "https://id.example.com",
                "3b0f6a3c-8f0e-4d1b-9a77-1e2d3c4b5a69",
                "2026-01-01T00:05:00.000Z",
                "YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8",
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            ),
            r#"{"action":"register","aud":"https://id.example.com","challenge_id":"3b0f6a3c-8f0e-4d1b-9a77-1e2d3c4b5a69","expires_at":"2026-01-01T00:05:00.000Z","nonce":"YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
        );
    }

    #[test]
    fn rotation_vector() {
        // vectors.md 5.2
        assert_eq!(
            rotation_data(
                "https://id.example.com",
                "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f",
                "9d2e4f60-1a2b-4c3d-8e9f-a0b1c2d3e4f5",
                "2026-01-01T00:05:00.000Z",
                "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8",
                "JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0",
            ),
            r#"{"action":"rotate_key","agent_id":"6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f","aud":"https://id.example.com","challenge_id":"9d2e4f60-1a2b-4c3d-8e9f-a0b1c2d3e4f5","expires_at":"2026-01-01T00:05:00.000Z","new_public_key":"JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0","nonce":"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8"}"#
        );
    }
}
