//! Challenge records in KV (namespace CHALLENGES): registration, key rotation, human and
//! shadow claims. One lifetime rule for every kind: a record is live until its own
//! `expires_at`; the KV TTL (never under KV's minimum) only collects garbage.
//!
//! KV never decides single use (D1 does), so the writes that follow a committed decision run
//! after the response ([`settle`]) and only log failures.

use std::rc::Rc;

use super::{kv_ttl, Kv, Namespace, StoreError};
use crate::domain::challenge::Record;

fn encode(record: &Record) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Decode(e.to_string()))
}

/// Stores `record` for `ttl_secs` (a challenge just issued).
pub async fn put(kv: &dyn Kv, record: &Record, ttl_secs: i64) -> Result<(), StoreError> {
    kv.put(
        Namespace::Challenges,
        &record.kv_key(),
        &encode(record)?,
        kv_ttl(ttl_secs),
    )
    .await
}

/// Stores `record` until its expiry plus `grace_secs` (claims stay readable a while after
/// expiry: for the status endpoint, or for a late payment).
pub async fn save(
    kv: &dyn Kv,
    record: &Record,
    now_ms: i64,
    grace_secs: i64,
) -> Result<(), StoreError> {
    let ttl = (record.expires_at() - now_ms) / 1000 + grace_secs;
    put(kv, record, ttl).await
}

/// The live record under `key`; unknown, unreadable and expired ones are all `None`.
pub async fn load(kv: &dyn Kv, key: &str, now_ms: i64) -> Result<Option<Record>, StoreError> {
    Ok(kv
        .get(Namespace::Challenges, key)
        .await?
        .and_then(|v| serde_json::from_str::<Record>(&v).ok())
        .filter(|r| r.expires_at() > now_ms))
}

/// A KV change to a challenge record that follows a committed decision.
pub enum Update {
    /// Forget a used challenge (`reg:`, `rot:`); D1 already refuses its reuse.
    Delete(String),
    /// Store the record's new state, readable `grace_secs` past its expiry.
    Save { record: Record, grace_secs: i64 },
}

/// Applies `update` after a D1 commit, as deferred work (`ctx.defer(settle(..))`): KV may
/// refuse a second write to the key within a second, and nothing depends on it (D1 decided;
/// readers derive what a stale record misses). Failures are logged with `request_id`.
pub async fn settle(kv: Rc<dyn Kv>, update: Update, now_ms: i64, request_id: String) {
    let (task, key, result) = match update {
        Update::Delete(key) => {
            let result = kv.delete(Namespace::Challenges, &key).await;
            ("challenge_delete", key, result)
        }
        Update::Save { record, grace_secs } => {
            let result = save(kv.as_ref(), &record, now_ms, grace_secs).await;
            ("challenge_save", record.kv_key(), result)
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
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::challenge::{registration_key, Registration};
    use crate::store::memory::MemoryKv;

    fn registration(id: &str, expires_at: i64) -> Record {
        Record::Register(Registration {
            challenge_id: id.to_owned(),
            name: "a".to_owned(),
            description: None,
            public_key: "k".to_owned(),
            challenge_data: "{}".to_owned(),
            created_at: 0,
            expires_at,
        })
    }

    /// A record is live until its own `expires_at`, although KV keeps it for at least 60 s.
    #[test]
    fn a_record_lives_until_its_own_expiry() {
        let clock = Rc::new(ManualClock::at_secs(1_000));
        let kv = MemoryKv::new(clock.clone());
        let key = registration_key("c1");
        block_on(put(&kv, &registration("c1", 1_010_000), 10)).unwrap();
        assert!(block_on(load(&kv, &key, 1_009_999)).unwrap().is_some());
        assert!(block_on(load(&kv, &key, 1_010_000)).unwrap().is_none());
        clock.advance_secs(30);
        assert_eq!(
            kv.len(Namespace::Challenges),
            1,
            "the TTL was raised to KV's minimum"
        );
        assert!(block_on(load(&kv, &registration_key("c2"), 0))
            .unwrap()
            .is_none());
    }

    /// Deferred KV bookkeeping after a commit never fails the request: a write KV refuses
    /// (a second write to the key within a second) is only logged.
    #[test]
    fn settling_tidies_up_and_survives_a_refused_write() {
        let clock = Rc::new(ManualClock::at_secs(1_000));
        let kv: Rc<dyn Kv> = Rc::new(MemoryKv::new(clock.clone()));
        let key = registration_key("c1");
        block_on(put(kv.as_ref(), &registration("c1", 1_100_000), 100)).unwrap();
        block_on(settle(
            kv.clone(),
            Update::Delete(key.clone()),
            1_000_000,
            "r1".into(),
        ));
        assert!(
            block_on(load(kv.as_ref(), &key, 1_000_000))
                .unwrap()
                .is_some(),
            "KV refused the delete within a second of the put"
        );
        clock.advance_secs(1);
        block_on(settle(
            kv.clone(),
            Update::Delete(key.clone()),
            1_001_000,
            "r2".into(),
        ));
        assert!(block_on(load(kv.as_ref(), &key, 1_001_000))
            .unwrap()
            .is_none());
    }
}
