//! Issuing and loading KV challenges (registration, rotation; later claims): one lifetime rule
//! (creation + configured seconds, security.md H2) and one expiry check for every kind.

use http::StatusCode;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::domain::challenge::Record;
use crate::domain::ids::uuid_v4;
use crate::domain::time::rfc3339_ms;
use crate::http::{ApiError, Reply};
use crate::jose::b64;
use crate::store::{kv_ttl, Namespace};

/// The id, lifetime and nonce of a challenge being issued.
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
    pub fn open(ctx: &Ctx<'_>, ttl_secs: i64) -> Result<Self, ApiError> {
        let mut nonce = [0u8; 32];
        ctx.rng().fill(&mut nonce)?;
        let expires_at = ctx.now_ms + ttl_secs * 1000;
        Ok(Self {
            id: uuid_v4(ctx.rng())?,
            ttl_secs,
            created_at: ctx.now_ms,
            expires_at,
            expires_at_text: rfc3339_ms(expires_at),
            nonce: b64::encode(&nonce),
        })
    }
}

#[derive(Serialize)]
struct Issued<'a> {
    success: bool,
    challenge_id: &'a str,
    challenge_data: &'a str,
    expires_at: &'a str,
    expires_in: i64,
}

/// Stores `record` under `key` for the window's lifetime and answers the agent.
pub async fn issue(
    ctx: &Ctx<'_>,
    window: &Window,
    key: &str,
    record: &Record,
    challenge_data: &str,
    status: StatusCode,
) -> Result<Reply, ApiError> {
    let value = serde_json::to_string(record).map_err(ApiError::internal)?;
    ctx.services
        .kv
        .put(Namespace::Challenges, key, &value, kv_ttl(window.ttl_secs))
        .await?;
    Ok(Reply::json(
        status,
        &Issued {
            success: true,
            challenge_id: &window.id,
            challenge_data,
            expires_at: &window.expires_at_text,
            expires_in: window.ttl_secs,
        },
    ))
}

/// Stores `record` until its expiry plus `grace_secs` (claims stay readable a while after
/// expiry: for the status endpoint, or for a late payment).
pub async fn save(ctx: &Ctx<'_>, record: &Record, grace_secs: i64) -> Result<(), ApiError> {
    let value = serde_json::to_string(record).map_err(ApiError::internal)?;
    let ttl = kv_ttl((record.expires_at() - ctx.now_ms) / 1000 + grace_secs);
    ctx.services
        .kv
        .put(Namespace::Challenges, &record.kv_key(), &value, ttl)
        .await?;
    Ok(())
}

/// After a D1 commit, rewrites or removes a challenge's KV record without holding up the
/// response: KV may refuse a second write to the key within a second, and nothing depends on
/// it (D1 decided; readers derive what a stale record misses). Failures are logged.
pub fn defer_update(ctx: &Ctx<'_>, update: Update) {
    let kv = ctx.services.kv.clone();
    let request_id = ctx.request_id.to_owned();
    let now_ms = ctx.now_ms;
    ctx.defer(async move {
        let (task, key, result) = match update {
            Update::Delete(key) => {
                let result = kv.delete(Namespace::Challenges, &key).await;
                ("challenge_delete", key, result)
            }
            Update::Save { record, grace_secs } => {
                let key = record.kv_key();
                let ttl = kv_ttl((record.expires_at() - now_ms) / 1000 + grace_secs);
                let result = match serde_json::to_string(&record) {
                    Ok(value) => kv.put(Namespace::Challenges, &key, &value, ttl).await,
                    Err(e) => Err(crate::store::StoreError::Decode(e.to_string())),
                };
                ("challenge_save", key, result)
            }
        };
        if let Err(e) = result {
            crate::log::warn(&serde_json::json!({
                "request_id": request_id,
                "task": task,
                "key": key,
                "detail": e.to_string(),
            }));
        }
    });
}

/// A KV change to a challenge record that follows a committed decision.
pub enum Update {
    /// Forget a used challenge (`reg:`, `rot:`); D1 already refuses its reuse.
    Delete(String),
    /// Store the record's new state, readable `grace_secs` past its expiry.
    Save { record: Record, grace_secs: i64 },
}

/// A live challenge record; unknown, unreadable and expired ones are all `None`.
pub async fn load(ctx: &Ctx<'_>, key: &str) -> Result<Option<Record>, ApiError> {
    Ok(ctx
        .services
        .kv
        .get(Namespace::Challenges, key)
        .await?
        .and_then(|v| serde_json::from_str::<Record>(&v).ok())
        .filter(|r| r.expires_at() > ctx.now_ms))
}
