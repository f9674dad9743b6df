//! An agent's Web Bot Auth keys: the current key (`agents.public_key`) and the previous keys
//! still listed after a rotation (`agent_previous_keys`, migration 0008), with the public
//! accountability facts a card shows. A missing agent row means no keys at all, so an agent
//! that is gone leaves every directory and verification at once.

use serde::Deserialize;

use super::audit::{Event, Stamp};
use super::batch::{Batch, Guard};
use super::{Db, Statement, StoreError};
use crate::{guard, stmt};

/// A previous key still listed.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PreviousKey {
    pub thumbprint: String,
    pub public_key: String,
    pub retired_at: i64,
    pub listed_until: i64,
}

/// The agent's active oversight, reduced to what may be public: its kind and since when.
#[derive(Clone, Debug, Deserialize)]
pub struct Oversight {
    #[serde(deserialize_with = "super::flag::deserialize")]
    pub is_shadow: bool,
    pub activated_at: i64,
    /// The end of the latest applied shadow payment (shadow sponsors only).
    pub shadow_valid_until: Option<i64>,
}

/// The agent fields a directory, card or verification needs.
#[derive(Clone, Debug, Deserialize)]
pub struct KeyedAgent {
    pub id: String,
    pub name: String,
    pub public_key: String,
}

/// Everything published about an agent's keys, read in one round trip.
#[derive(Clone, Debug)]
pub struct Published {
    pub agent: KeyedAgent,
    /// Previous keys listed at the time of the read, newest first.
    pub previous: Vec<PreviousKey>,
    pub oversight: Option<Oversight>,
}

/// The agent `agent_id` with its listed previous keys and its oversight, or `None` if there
/// is no such agent.
pub async fn published(
    db: &dyn Db,
    agent_id: &str,
    now_ms: i64,
) -> Result<Option<Published>, StoreError> {
    let mut batch = Batch::new();
    let agent = batch.push(stmt!(
        "SELECT id, name, public_key FROM agents WHERE id = ?1",
        agent_id
    ));
    let previous = batch.push(stmt!(
        "SELECT thumbprint, public_key, retired_at, listed_until FROM agent_previous_keys \
         WHERE agent_id = ?1 AND listed_until > ?2 ORDER BY retired_at DESC",
        agent_id,
        now_ms
    ));
    let oversight = batch.push(stmt!(
        "SELECT ov.kind = 'shadow' AS is_shadow, o.activated_at, \
                (SELECT MAX(valid_until) FROM shadow_payments sp \
                  WHERE sp.overseer_id = ov.id AND sp.applied = 1) AS shadow_valid_until \
         FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
         WHERE o.agent_id = ?1 AND o.active = 1",
        agent_id
    ));
    let mut out = batch.run(db).await?;
    let Some(agent) = out.take(agent).first::<KeyedAgent>()? else {
        return Ok(None);
    };
    Ok(Some(Published {
        agent,
        previous: out.take(previous).decode()?,
        oversight: out.take(oversight).first()?,
    }))
}

/// A rotation's retired key, for the rotation's own batch (guarded there by "the agent holds
/// the new key", so only a rotation that happened lists its old key).
pub struct Retired<'a> {
    pub agent_id: &'a str,
    pub thumbprint: &'a str,
    pub public_key: &'a str,
    pub now_ms: i64,
    pub listed_until: i64,
}

/// The statements of a rotation, each taking effect only where `guard()` holds: forget the
/// agent's keys whose overlap ended, and list the old key.
pub fn retire(r: &Retired<'_>, guard: impl Fn() -> Guard) -> [Statement; 2] {
    [
        stmt!(
            "DELETE FROM agent_previous_keys WHERE agent_id = ?1 AND listed_until <= ?2",
            r.agent_id,
            r.now_ms
        )
        .and_if(guard()),
        stmt!(
            "INSERT OR REPLACE INTO agent_previous_keys \
               (agent_id, thumbprint, public_key, retired_at, listed_until) \
             SELECT ?1, ?2, ?3, ?4, ?5",
            r.agent_id,
            r.thumbprint,
            r.public_key,
            r.now_ms,
            r.listed_until
        )
        .only_if(guard()),
    ]
}

/// Unlists the agent's previous key `thumbprint` at once, with its audit `event` (written only
/// when a listed key was removed); whether one was.
pub async fn remove(
    db: &dyn Db,
    agent_id: &str,
    thumbprint: &str,
    now_ms: i64,
    event: &Event<'_>,
    stamp: &Stamp<'_>,
) -> Result<bool, StoreError> {
    let mut batch = Batch::new();
    batch.push_if(
        event.insert(stamp),
        guard!(
            "EXISTS (SELECT 1 FROM agent_previous_keys WHERE agent_id = ?1 AND thumbprint = ?2 \
             AND listed_until > ?3)",
            agent_id,
            thumbprint,
            now_ms
        ),
    );
    let removed = batch.push(stmt!(
        "DELETE FROM agent_previous_keys WHERE agent_id = ?1 AND thumbprint = ?2 \
         AND listed_until > ?3",
        agent_id,
        thumbprint,
        now_ms
    ));
    Ok(batch.run(db).await?.changed(removed))
}
