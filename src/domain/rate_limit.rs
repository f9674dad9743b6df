//! Best-effort fixed-window rate limits kept in KV (security.md §13).
//!
//! Counters are best effort by design: they slow abuse down; nothing that must be exact (single
//! use, revocation, tier limits) is decided here. A request costs at most one KV read per
//! bucket before the answer (an isolate reads a key at most once a second and reuses what it
//! read), its counter write goes out after the answer ([`Flush`]), a key is written at most once
//! a second, and a failed KV call never fails the request (see [`hit`]).

use std::cell::RefCell;
use std::collections::HashMap;

use crate::domain::ids::sha256_hex;
use crate::store::{Kv, Namespace, StoreError, KV_MIN_TTL_SECS};

/// The rate-limit buckets and their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    AgentRegister,
    AgentLogin,
    AgentLoginAgent,
    OverseerRegister,
    OverseerLogin,
    OverseerLoginEmail,
    Malice,
    MaliceAgent,
    Token,
    TokenIp,
    Webhook,
    /// Revocation, per authenticated client.
    Revoke,
    /// Revocation, per IP (counted before the form is parsed).
    RevokeIp,
    /// Introspection, per authenticated client.
    Introspect,
    /// Introspection, per IP (counted before the form is parsed).
    IntrospectIp,
    /// Authorization attempts, per authenticated agent (bounds refusals and their history rows).
    AuthorizeAgent,
    /// Re-sending the verification e-mail, per overseer.
    EmailVerificationSend,
    /// Password-reset requests, per IP.
    PasswordReset,
    /// Password-reset requests, per address (hashed into the key like every subject).
    PasswordResetEmail,
    /// Completing an e-mailed link (verification, reset), per IP.
    EmailToken,
    /// Web Bot Auth verifications at `POST /v1/verify/http-signature`, per IP.
    VerifyHttpSignature,
}

impl Bucket {
    const ALL: [Bucket; 21] = [
        Bucket::AgentRegister,
        Bucket::AgentLogin,
        Bucket::AgentLoginAgent,
        Bucket::OverseerRegister,
        Bucket::OverseerLogin,
        Bucket::OverseerLoginEmail,
        Bucket::Malice,
        Bucket::MaliceAgent,
        Bucket::Token,
        Bucket::TokenIp,
        Bucket::Webhook,
        Bucket::Revoke,
        Bucket::RevokeIp,
        Bucket::Introspect,
        Bucket::IntrospectIp,
        Bucket::AuthorizeAgent,
        Bucket::EmailVerificationSend,
        Bucket::PasswordReset,
        Bucket::PasswordResetEmail,
        Bucket::EmailToken,
        Bucket::VerifyHttpSignature,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Bucket::AgentRegister => "agent_register",
            Bucket::AgentLogin => "agent_login",
            Bucket::AgentLoginAgent => "agent_login_agent",
            Bucket::OverseerRegister => "overseer_register",
            Bucket::OverseerLogin => "overseer_login",
            Bucket::OverseerLoginEmail => "overseer_login_email",
            Bucket::Malice => "malice",
            Bucket::MaliceAgent => "malice_agent",
            Bucket::Token => "token",
            Bucket::TokenIp => "token_ip",
            Bucket::Webhook => "webhook",
            Bucket::Revoke => "revoke",
            Bucket::RevokeIp => "revoke_ip",
            Bucket::Introspect => "introspect",
            Bucket::IntrospectIp => "introspect_ip",
            Bucket::AuthorizeAgent => "authorize_agent",
            Bucket::EmailVerificationSend => "email_verification_send",
            Bucket::PasswordReset => "password_reset",
            Bucket::PasswordResetEmail => "password_reset_email",
            Bucket::EmailToken => "email_token",
            Bucket::VerifyHttpSignature => "verify_http_signature",
        }
    }

    pub fn from_name(name: &str) -> Option<Bucket> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    const fn default_limit(self) -> Limit {
        let (count, window_secs) = match self {
            Bucket::AgentRegister => (20, 600),
            Bucket::AgentLogin => (60, 60),
            Bucket::AgentLoginAgent => (20, 60),
            Bucket::OverseerRegister => (10, 3600),
            Bucket::OverseerLogin => (20, 60),
            Bucket::OverseerLoginEmail => (10, 900),
            Bucket::Malice => (10, 3600),
            Bucket::MaliceAgent => (20, 3600),
            Bucket::Token => (120, 60),
            Bucket::TokenIp => (300, 60),
            Bucket::Webhook => (100, 60),
            Bucket::Revoke => (120, 60),
            Bucket::RevokeIp => (300, 60),
            // Resource servers may introspect on every request they serve.
            Bucket::Introspect => (600, 60),
            Bucket::IntrospectIp => (1200, 60),
            Bucket::AuthorizeAgent => (30, 60),
            // Every send is an e-mail to a real mailbox: a few an hour is plenty for people.
            Bucket::EmailVerificationSend => (5, 3600),
            Bucket::PasswordReset => (20, 3600),
            Bucket::PasswordResetEmail => (5, 3600),
            Bucket::EmailToken => (30, 600),
            // Optional for sites (they can verify themselves); one verification is a D1 read
            // and an Ed25519 verify.
            Bucket::VerifyHttpSignature => (300, 60),
        };
        Limit { count, window_secs }
    }
}

/// `count` attempts per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u64,
    pub window_secs: u64,
}

/// Limits per bucket: the defaults of security.md §13 with `RATE_LIMIT_CONFIG` overrides.
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    overrides: HashMap<Bucket, Limit>,
}

impl RateLimits {
    pub fn set(&mut self, bucket: Bucket, limit: Limit) {
        self.overrides.insert(bucket, limit);
    }

    pub fn limit(&self, bucket: Bucket) -> Limit {
        self.overrides
            .get(&bucket)
            .copied()
            .unwrap_or(bucket.default_limit())
    }
}

/// The outcome of counting one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit; retry after this many seconds.
    Limited {
        retry_after: u64,
    },
}

/// A counter as stored in KV: `<count>@<unix ms of the write>`. The time lets every isolate
/// keep to one write per key per second; a bare decimal (older form) counts as written long ago.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stored {
    count: u64,
    written_at_ms: i64,
}

impl Stored {
    const NONE: Stored = Stored {
        count: 0,
        written_at_ms: i64::MIN,
    };

    fn parse(v: &str) -> Option<Stored> {
        let (count, at) = v.split_once('@').unwrap_or((v, ""));
        Some(Stored {
            count: count.parse().ok()?,
            written_at_ms: if at.is_empty() {
                i64::MIN
            } else {
                at.parse().ok()?
            },
        })
    }

    fn encode(self) -> String {
        format!("{}@{}", self.count, self.written_at_ms)
    }
}

/// What one isolate knows about one counter key beyond KV.
#[derive(Debug)]
struct Local {
    /// Attempts counted here and not yet written to KV.
    pending: u64,
    /// The counter this isolate last wrote: the base when KV still shows an older value.
    written: Option<Stored>,
    /// When this isolate last tried to write the key (refused or not), Unix ms.
    attempted_at_ms: i64,
    /// The end of the key's window, Unix seconds; the entry is useless afterwards.
    window_end: u64,
    /// What KV held when this isolate last read the key, reused for [`READ_REUSE_MS`].
    read: Option<Read>,
}

/// A KV read of a counter key remembered by the isolate.
#[derive(Clone, Copy, Debug)]
struct Read {
    value: Option<Stored>,
    at_ms: i64,
}

impl Local {
    fn new(window_end: u64) -> Self {
        Local {
            pending: 0,
            written: None,
            attempted_at_ms: i64::MIN,
            window_end,
            read: None,
        }
    }
}

/// Entries kept before expired windows are pruned (and, past it, idle ones dropped).
const TALLY_SOFT_CAP: usize = 1024;
/// Spacing of writes to one KV key (Workers KV refuses a second write within a second).
const WRITE_SPACING_MS: i64 = 1000;
/// How long an isolate reuses what it read from a counter key instead of reading it again: a
/// hot key costs one KV read a second per isolate. Another isolate's count reaches this one at
/// most this much later than KV itself shows it.
const READ_REUSE_MS: i64 = 1000;

/// The isolate-local side of the counters: attempts counted between two permitted KV writes.
/// Workers reuse an isolate across requests, so the edge keeps one per isolate and hands it to
/// every `App`; one isolate's counts are then exact, counts across isolates approximate.
#[derive(Debug, Default)]
pub struct Tally {
    entries: RefCell<HashMap<String, Local>>,
}

impl Tally {
    /// What KV held for `key` when it was read less than [`READ_REUSE_MS`] ago.
    fn recent_read(&self, key: &str, now_ms: i64) -> Option<Option<Stored>> {
        let entries = self.entries.borrow();
        let read = entries.get(key)?.read?;
        (now_ms.saturating_sub(read.at_ms) < READ_REUSE_MS).then_some(read.value)
    }

    fn prune(entries: &mut HashMap<String, Local>, now_s: u64) {
        if entries.len() < TALLY_SOFT_CAP {
            return;
        }
        entries.retain(|_, l| l.window_end > now_s);
        if entries.len() >= TALLY_SOFT_CAP {
            // Flooded with live subjects: keep only unflushed counts; KV holds the rest.
            entries.retain(|_, l| l.pending > 0);
        }
        if entries.len() >= 4 * TALLY_SOFT_CAP {
            // Still flooded with unflushed counts: forget them rather than grow without bound.
            entries.clear();
        }
    }
}

/// The outcome of counting one attempt, with a failed KV read the caller should log (the
/// verdict stands either way: limits are best effort and never fail a request), and the counter
/// write to run after the answer, if one is due.
#[derive(Debug)]
pub struct Counted {
    pub verdict: Verdict,
    pub kv_error: Option<StoreError>,
    pub flush: Option<Flush>,
}

/// A counter write [`hit`] decided on: this isolate's pending attempts added to the count it
/// knows. Run it after the answer (`waitUntil`); until it succeeds the attempts stay pending
/// here, so this isolate's own verdicts never depend on it.
#[derive(Debug)]
#[must_use = "a flush does nothing until it is written"]
pub struct Flush {
    key: String,
    next: Stored,
    /// The pending attempts `next` includes.
    flushed: u64,
    ttl_secs: u64,
}

impl Flush {
    /// Writes the counter; on success the flushed attempts stop being pending in `tally`.
    pub async fn write(self, kv: &dyn Kv, tally: &Tally) -> Result<(), StoreError> {
        kv.put(
            Namespace::RateLimits,
            &self.key,
            &self.next.encode(),
            self.ttl_secs,
        )
        .await?;
        if let Some(local) = tally.entries.borrow_mut().get_mut(&self.key) {
            local.pending = local.pending.saturating_sub(self.flushed);
            // Two flushes of one key may finish out of order: keep the larger count.
            if local.written.is_none_or(|w| w.count <= self.next.count) {
                local.written = Some(self.next);
            }
        }
        Ok(())
    }
}

/// Counts an attempt against `bucket` for `subject` (IP, e-mail, agent id or client id). The
/// key is read from KV at most once a second per isolate (the last read is reused in between);
/// a counter write is due only when the key was last written at least a second ago, and is
/// returned as a [`Flush`] for after the answer. Attempts in between wait in `tally` and go out
/// with the next write.
pub async fn hit(
    kv: &dyn Kv,
    tally: &Tally,
    limits: &RateLimits,
    bucket: Bucket,
    subject: &str,
    now_ms: i64,
) -> Counted {
    let limit = limits.limit(bucket);
    let now_s = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
    let window = now_s / limit.window_secs;
    let window_end = (window + 1) * limit.window_secs;
    let subject_hash = sha256_hex(subject);
    let key = format!(
        "rl:{}:{}:{window}",
        bucket.name(),
        subject_hash.get(..32).unwrap_or(&subject_hash)
    );
    let (stored, fresh_read, read_error) = match tally.recent_read(&key, now_ms) {
        Some(value) => (value, None, None),
        None => match kv.get(Namespace::RateLimits, &key).await {
            Ok(v) => {
                let value = v.as_deref().and_then(Stored::parse);
                (value, Some(value), None)
            }
            Err(e) => (None, None, Some(e)),
        },
    };

    let mut entries = tally.entries.borrow_mut();
    Tally::prune(&mut entries, now_s);
    let local = entries
        .entry(key.clone())
        .or_insert_with(|| Local::new(window_end));
    if let Some(value) = fresh_read {
        local.read = Some(Read {
            value,
            at_ms: now_ms,
        });
    }
    // A window's count only grows, so the larger of KV's value and this isolate's last write is
    // the better base (KV may not show that write yet, or another isolate may have overwritten
    // it with less); the later of their times spaces the writes.
    let (stored, written) = (
        stored.unwrap_or(Stored::NONE),
        local.written.unwrap_or(Stored::NONE),
    );
    let base_count = stored.count.max(written.count);
    let last_write = stored
        .written_at_ms
        .max(written.written_at_ms)
        .max(local.attempted_at_ms);
    // An attempt over the limit is refused and not counted; it still flushes the tally.
    let verdict = if base_count.saturating_add(local.pending) >= limit.count {
        Verdict::Limited {
            retry_after: (window_end - now_s).max(1),
        }
    } else {
        local.pending += 1;
        Verdict::Allowed
    };
    // Without a successful read the stored count is unknown: writing would clobber it.
    let due = local.pending > 0
        && read_error.is_none()
        && now_ms.saturating_sub(last_write) >= WRITE_SPACING_MS;
    let flush = due.then(|| {
        local.attempted_at_ms = now_ms;
        Flush {
            key,
            next: Stored {
                count: base_count + local.pending,
                written_at_ms: now_ms,
            },
            flushed: local.pending,
            ttl_secs: window_end - now_s + KV_MIN_TTL_SECS,
        }
    });
    Counted {
        verdict,
        kv_error: read_error,
        flush,
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use futures::executor::block_on;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::memory::MemoryKv;

    fn flood(kv: &MemoryKv, tally: &Tally, clock: &ManualClock, prefix: &str, n: usize) {
        let limits = RateLimits::default();
        for i in 0..n {
            let subject = format!("{prefix}{i}");
            let counted = block_on(hit(
                kv,
                tally,
                &limits,
                Bucket::Webhook,
                &subject,
                clock.now_ms(),
            ));
            assert_eq!(counted.verdict, Verdict::Allowed);
            assert!(counted.kv_error.is_none());
            // The counter write runs after the answer, as the edge's `waitUntil` does.
            if let Some(flush) = counted.flush {
                block_on(flush.write(kv, tally)).unwrap();
            }
        }
    }

    #[test]
    fn the_tally_stays_bounded_and_drops_ended_windows() {
        let clock = Rc::new(ManualClock::at_secs(1_767_225_600));
        let kv = MemoryKv::new(clock.clone());
        let tally = Tally::default();
        flood(&kv, &tally, &clock, "198.51.100.", 3 * TALLY_SOFT_CAP);
        assert!(tally.entries.borrow().len() <= TALLY_SOFT_CAP);

        let tally = Tally::default();
        flood(&kv, &tally, &clock, "203.0.113.", TALLY_SOFT_CAP - 1);
        clock.advance_secs(120);
        flood(&kv, &tally, &clock, "late-", 2);
        assert_eq!(tally.entries.borrow().len(), 2, "the ended window is gone");
    }

    /// A hot key costs one KV read a second per isolate, and the counter write is handed back
    /// for after the answer; until it lands, its attempts still count here.
    #[test]
    fn a_key_is_read_once_a_second_and_written_after_the_answer() {
        const RL: Namespace = Namespace::RateLimits;
        let clock = Rc::new(ManualClock::at_secs(1_767_225_600));
        let kv = MemoryKv::new(clock.clone());
        let tally = Tally::default();
        let mut limits = RateLimits::default();
        limits.set(
            Bucket::Webhook,
            Limit {
                count: 3,
                window_secs: 60,
            },
        );
        let hit_now =
            |at_ms: i64| block_on(hit(&kv, &tally, &limits, Bucket::Webhook, "ip", at_ms));
        let t = clock.now_ms();
        let first = hit_now(t);
        assert_eq!(first.verdict, Verdict::Allowed);
        let flush = first.flush.expect("the first attempt is due a write");
        assert_eq!((kv.ops(RL).reads, kv.ops(RL).writes), (1, 0));

        let second = hit_now(t + 999);
        assert_eq!(second.verdict, Verdict::Allowed);
        assert!(second.flush.is_none(), "written less than a second ago");
        assert_eq!(kv.ops(RL).reads, 1, "the read is reused within the second");

        block_on(flush.write(&kv, &tally)).unwrap();
        assert_eq!(kv.dump(RL)[0].1, format!("1@{t}"));
        let third = hit_now(t + 1_000);
        assert_eq!(third.verdict, Verdict::Allowed);
        assert_eq!(kv.ops(RL).reads, 2, "read again a second later");
        let flush = third.flush.expect("a second later");
        assert_eq!(
            hit_now(t + 1_001).verdict,
            Verdict::Limited { retry_after: 59 },
            "the unwritten attempts still count"
        );
        clock.advance_secs(1);
        block_on(flush.write(&kv, &tally)).unwrap();
        assert!(kv.dump(RL)[0].1.starts_with("3@"));
    }

    #[test]
    fn stored_counters_round_trip_and_accept_the_bare_form() {
        let s = Stored {
            count: 7,
            written_at_ms: 1_767_225_600_123,
        };
        assert_eq!(Stored::parse(&s.encode()), Some(s));
        assert_eq!(
            Stored::parse("12"),
            Some(Stored {
                count: 12,
                written_at_ms: i64::MIN
            })
        );
        assert_eq!(Stored::parse("x@1"), None);
        assert_eq!(Stored::parse("1@x"), None);
    }
}
