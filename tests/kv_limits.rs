//! KV as strict as Workers KV (one write per key per second, stale reads, failures): ordinary
//! bursts never turn into 500s, a decided request never fails on KV, limits still trip, and a
//! rate-limited request costs at most one KV read per bucket (a key is read once a second per
//! isolate) and at most one KV write per bucket, after the answer.

mod common;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use async_trait::async_trait;
use common::oauth::Client;
use common::paddle::{envelope, sub, sub_link};
use common::*;
use serde_json::{json, Value};

use agent_id::app::App;
use agent_id::clock::{Clock, ManualClock, OsEntropy};
use agent_id::config::Config;
use agent_id::store::memory::{MemoryKv, OpCounts};
use agent_id::store::sqlite::SqliteDb;
use agent_id::store::{Kv, Namespace, StoreError};

const RL: Namespace = Namespace::RateLimits;

/// Memory KV whose writes (and optionally reads) in chosen namespaces fail on demand: an
/// outage, or a refusal at the worst moment.
#[derive(Default)]
struct FaultyKv {
    inner: Option<Rc<MemoryKv>>,
    writes_fail_in: RefCell<Vec<Namespace>>,
    reads_fail_in: RefCell<Vec<Namespace>>,
}

fn injected(ns: Namespace, failing: &RefCell<Vec<Namespace>>) -> Result<(), StoreError> {
    if failing.borrow().contains(&ns) {
        return Err(StoreError::Backend(format!(
            "KV {} unavailable (injected)",
            ns.binding()
        )));
    }
    Ok(())
}

impl FaultyKv {
    fn kv(&self) -> &MemoryKv {
        self.inner.as_deref().expect("wrapped")
    }
}

#[async_trait(?Send)]
impl Kv for FaultyKv {
    async fn get(&self, ns: Namespace, key: &str) -> Result<Option<String>, StoreError> {
        injected(ns, &self.reads_fail_in)?;
        self.kv().get(ns, key).await
    }

    async fn put(&self, ns: Namespace, key: &str, value: &str, ttl: u64) -> Result<(), StoreError> {
        injected(ns, &self.writes_fail_in)?;
        self.kv().put(ns, key, value, ttl).await
    }

    async fn delete(&self, ns: Namespace, key: &str) -> Result<(), StoreError> {
        injected(ns, &self.writes_fail_in)?;
        self.kv().delete(ns, key).await
    }
}

/// A harness whose App talks to `app_kv(memory)` instead of the memory KV itself.
fn harness_with(
    extra: &[(&str, &str)],
    memory: impl FnOnce(Rc<dyn Clock>) -> MemoryKv,
    app_kv: impl FnOnce(Rc<MemoryKv>) -> Rc<dyn Kv>,
) -> Harness {
    let clock = Rc::new(ManualClock::at_secs(T0));
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let db = Rc::new(SqliteDb::in_memory(&migrations).expect("migrations apply"));
    let kv = Rc::new(memory(clock.clone() as Rc<dyn Clock>));
    let paddle = Rc::new(FakePaddle::default());
    let metrics = Rc::new(agent_id::metrics::Recording::default());
    let app = App::new(
        Config::load(&vars(extra)),
        clock.clone(),
        Rc::new(OsEntropy),
        db.clone(),
        app_kv(kv.clone()),
    )
    .with_paddle(paddle.clone())
    .with_metrics(metrics.clone());
    Harness {
        app,
        clock,
        db,
        kv,
        paddle,
        // No mailer wired: these tests send no mail.
        mail: Rc::default(),
        metrics,
        // Nor a document fetch: these tests use no metadata-document clients.
        web: Rc::default(),
    }
}

fn faulty_harness(extra: &[(&str, &str)]) -> (Harness, Rc<FaultyKv>) {
    let mut faulty = None;
    let h = harness_with(extra, MemoryKv::new, |kv| {
        let f = Rc::new(FaultyKv {
            inner: Some(kv),
            ..FaultyKv::default()
        });
        faulty = Some(f.clone());
        f
    });
    (h, faulty.unwrap())
}

fn stale_harness() -> Harness {
    harness_with(&[], MemoryKv::with_stale_reads, |kv| kv)
}

/// What one request cost in `RATE_LIMITS`, the counter writes after the answer included.
fn cost(h: &Harness, send: impl FnOnce() -> Resp) -> (Resp, OpCounts) {
    h.drain();
    let before = h.kv.ops(RL);
    let r = send();
    h.drain();
    let after = h.kv.ops(RL);
    (
        r,
        OpCounts {
            reads: after.reads - before.reads,
            writes: after.writes - before.writes,
        },
    )
}

// ---- OAuth: an overseer-owned client with a code to redeem -------------------------------

/// An agent overseen by a BASIC overseer, and that overseer's client.
fn oauth_world(h: &Harness) -> (Agent, Client) {
    let (overseer, agent) = h.overseer_with_agent("BASIC");
    let client = Client::register(h, "overseer", &overseer.session, "Demo Client");
    (agent, client)
}

#[test]
fn two_token_requests_from_one_client_within_a_second_both_succeed() {
    let h = Harness::new();
    let (agent, client) = oauth_world(&h);
    let code = client.code(&h, &agent);
    h.clock.advance_secs(5);
    let first = client.exchange(&h, &code, None);
    assert_eq!(first.status, 200, "{}", first.body);
    let refresh = first.body["refresh_token"].as_str().unwrap();
    let second = client.refresh(&h, refresh);
    assert_eq!(second.status, 200, "{}", second.body);
}

// ---- Paddle ------------------------------------------------------------------------------

#[test]
fn paddle_checkout_webhooks_within_one_second_all_answer_200() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.clock.advance_secs(5);
    let custom = sub_link(&o.id, "BASIC", PRICE_BASIC);
    let txn = envelope(
        "evt_txn",
        "transaction.completed",
        0,
        json!({"id": "txn_1", "status": "completed", "customer_id": "ctm_1",
               "subscription_id": "sub_1", "items": [{"price": {"id": PRICE_BASIC}, "quantity": 1}],
               "custom_data": custom}),
    );
    let created = envelope(
        "evt_created",
        "subscription.created",
        0,
        sub("sub_1", "active", PRICE_BASIC, Some(custom.clone())),
    );
    let activated = envelope(
        "evt_activated",
        "subscription.activated",
        0,
        sub("sub_1", "active", PRICE_BASIC, Some(custom)),
    );
    for body in [txn, created, activated] {
        let r = h.webhook(&body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let me = h.send(Req::get("/v1/subscriptions/me").bearer(&o.session));
    assert_eq!(me.body["subscription"]["tier"], "BASIC", "{}", me.body);
}

// ---- A fast scripted agent -----------------------------------------------------------------

fn rotate(h: &Harness, session: &str, old: &TestKey, new: &TestKey) -> Resp {
    let r = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(session)
            .json(json!({"new_public_key": new.x()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["challenge_id"].as_str().unwrap();
    let data = r.body["challenge_data"].as_str().unwrap();
    let path = format!("/v1/agents/rotate-key/complete/{cid}");
    h.send(
        Req::post(&path)
            .header("dpop", &h.post_proof(old, &path))
            .json(json!({"signature": new.sign_b64(data.as_bytes())})),
    )
}

fn claim_initiate(h: &Harness, o: &Overseer, agent_id: &str) -> String {
    let r = h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({"agent_id": agent_id})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["challenge_id"].as_str().unwrap().to_owned()
}

fn claim_complete(h: &Harness, session: &str, cid: &str, overseer_id: &str) -> Resp {
    h.send(
        Req::post(&format!("/v1/agents/claim/complete/{cid}"))
            .bearer(session)
            .json(json!({"overseer_id": overseer_id})),
    )
}

fn claim_status(h: &Harness, o: &Overseer, cid: &str) -> Value {
    let r = h.send(Req::get(&format!("/v1/agents/claim/status/{cid}")).bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["status"].clone()
}

#[test]
fn a_scripted_agent_registers_rotates_and_accepts_a_claim_in_one_instant() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    h.clock.advance_secs(5);

    // Everything below happens at one instant of the App clock.
    let old = TestKey::random();
    let a = h.register(&old, "Scripted");
    let new = TestKey::random();
    let rotated = rotate(&h, &a.session, &old, &new);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let session = rotated.body["session_id"].as_str().unwrap().to_owned();
    let cid = claim_initiate(&h, &o, &a.id);
    let done = claim_complete(&h, &session, &cid, &o.id);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        claim_status(&h, &o, &cid),
        "completed",
        "D1 decides the status"
    );
    claim_complete(&h, &session, &cid, &o.id).assert_error(404, "challenge_not_found");
    let me = h.send(Req::get("/v1/agents/me").bearer(&session));
    assert_eq!(me.status, 200, "{}", me.body);
    let out = h.send(Req::post("/v1/agents/logout").bearer(&session));
    assert_eq!(out.status, 200, "{}", out.body);
    h.send(Req::get("/v1/agents/me").bearer(&session))
        .assert_error(401, "invalid_session");

    // The deferred bookkeeping runs after the responses; KV may still refuse it in that second.
    h.drain();
    assert_eq!(claim_status(&h, &o, &cid), "completed");
}

#[test]
fn a_shadow_claim_confirmed_in_the_instant_it_started_awaits_payment() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Sponsored");
    let r = h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let shadow = r.body["shadow_overseer_id"].as_str().unwrap().to_owned();
    let confirmed = claim_complete(&h, &a.session, &cid, &shadow);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "awaiting-payment");
    let again = claim_complete(&h, &a.session, &cid, &shadow);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'shadow_claim.confirmed'"),
        1,
        "confirmed once"
    );
    let status = h.send(Req::get(&format!("/v1/agents/malice/status/{cid}")));
    assert_eq!(status.body["status"], "awaiting-payment", "{}", status.body);
    assert!(status.body["custom_data"]["link_sig"].is_string());
}

// ---- Limits still trip ----------------------------------------------------------------------

fn register_initiate(h: &Harness) -> Resp {
    h.send(
        Req::post("/v1/agents/register/initiate")
            .json(json!({"name": "A", "public_key": TestKey::random().x()})),
    )
}

#[test]
fn limits_trip_within_one_second_from_the_pending_tally() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"agent_register":"3/600"}"#)]);
    for _ in 0..3 {
        assert_eq!(register_initiate(&h).status, 202);
    }
    let r = register_initiate(&h);
    r.assert_error(429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("600"));
    assert_eq!(h.kv.ops(RL).writes, 0, "counter writes wait for the answer");
    h.drain();
    assert_eq!(h.kv.ops(RL).writes, 1, "one write in the second");
    // The tally reaches KV with the next permitted write: another isolate sees all three.
    h.clock.advance_secs(1);
    let other = App::new(
        Config::load(&vars(&[(
            "RATE_LIMIT_CONFIG",
            r#"{"agent_register":"3/600"}"#,
        )])),
        h.clock.clone(),
        Rc::new(OsEntropy),
        h.db.clone(),
        h.kv.clone(),
    );
    let send_other = || {
        let status = futures::executor::block_on(
            other.handle(
                Req::post("/v1/agents/register/initiate")
                    .json(json!({"name": "A", "public_key": TestKey::random().x()}))
                    .into_request(),
            ),
        )
        .into_response()
        .unwrap()
        .status()
        .as_u16();
        futures::executor::block_on(other.run_deferred());
        status
    };
    assert_eq!(
        send_other(),
        202,
        "KV held only the first attempt (across isolates)"
    );
    // The first isolate's next attempt a second later flushes its two pending attempts.
    h.clock.advance_secs(1);
    register_initiate(&h).assert_error(429, "rate_limited");
    h.drain();
    let stored = h.kv.dump(RL);
    assert!(stored[0].1.starts_with("4@"), "{stored:?}");
    assert_eq!(send_other(), 429, "the flush carried the pending attempts");
}

#[test]
fn limits_trip_when_attempts_are_spread_over_seconds() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"agent_register":"3/600"}"#)]);
    for _ in 0..3 {
        assert_eq!(register_initiate(&h).status, 202);
        h.drain();
        h.clock.advance_secs(2);
    }
    register_initiate(&h).assert_error(429, "rate_limited");
    h.drain();
    assert_eq!(
        h.kv.ops(RL).writes,
        3,
        "every attempt a second apart is written"
    );
    h.clock.advance_secs(600);
    assert_eq!(register_initiate(&h).status, 202, "a new window");
}

// ---- KV cost of every rate-limited endpoint ---------------------------------------------------

#[test]
fn a_limited_endpoint_costs_at_most_one_read_and_one_write_per_bucket() {
    let h = Harness::new();
    let (_, client) = oauth_world(&h);
    let agent_key = TestKey::random();
    let agent = h.register(&agent_key, "Counted");
    h.clock.advance_secs(5);

    let mut measured = Vec::new();
    let mut check = |name: &str, buckets: u64, send: &dyn Fn() -> Resp, expect: u16| {
        // The first request of a second reads and writes; a second one in the same second
        // reuses what the isolate read and writes nothing.
        let (r, first) = cost(&h, send);
        assert_eq!(r.status, expect, "{name}: {}", r.body);
        let (r, second) = cost(&h, send);
        assert_eq!(r.status, expect, "{name} again: {}", r.body);
        assert_eq!(first.reads, buckets, "{name}: one read per bucket");
        assert!(first.writes <= buckets, "{name}: {first:?}");
        assert_eq!(second.reads, 0, "{name}: no key is read twice a second");
        assert_eq!(second.writes, 0, "{name}: no key is written twice a second");
        measured.push(format!(
            "{name}: {}r/{}w then {}r/{}w",
            first.reads, first.writes, second.reads, second.writes
        ));
        h.clock.advance_secs(1);
    };
    check("register/initiate", 1, &|| register_initiate(&h), 202);
    check("agents/login", 2, &|| h.login(&agent_key), 200);
    check(
        "overseers/register",
        1,
        &|| {
            h.send(Req::post("/v1/overseers/register").json(
                json!({"name": "X", "email": format!("{}@example.test", common::paddle::uuid()),
                       "password": "correct horse"}),
            ))
        },
        201,
    );
    check(
        "overseers/login",
        2,
        &|| {
            h.send(
                Req::post("/v1/overseers/login")
                    .json(json!({"email": "o@example.test", "password": "correct horse"})),
            )
        },
        200,
    );
    check(
        "malice",
        2,
        &|| h.send(Req::post(&format!("/v1/agents/malice/{}", agent.id))),
        200,
    );
    check("oauth/token", 2, &|| client.refresh(&h, "not-a-token"), 400);
    let body = envelope(
        "evt_cost",
        "subscription.created",
        0,
        json!({"id": "sub_x"}),
    );
    check("webhooks/paddle", 1, &|| h.webhook(&body), 200);
    eprintln!("RATE_LIMITS cost per request: {measured:#?}");
}

// ---- Failing and stale KV -------------------------------------------------------------------

#[test]
fn kv_failures_never_fail_a_decided_request() {
    let (h, faulty) = faulty_harness(&[]);
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let old = TestKey::random();
    let r = h.send(
        Req::post("/v1/agents/register/initiate").json(json!({"name": "A", "public_key": old.x()})),
    );
    let rid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let data = r.body["challenge_data"].as_str().unwrap().to_owned();
    let register = |h: &Harness| {
        h.send(
            Req::post(&format!("/v1/agents/register/complete/{rid}"))
                .json(json!({"signature": old.sign_b64(data.as_bytes())})),
        )
    };
    h.clock.advance_secs(2);

    // From here KV refuses every write of rate limits and challenges, and limit reads fail.
    *faulty.writes_fail_in.borrow_mut() = vec![Namespace::RateLimits, Namespace::Challenges];
    *faulty.reads_fail_in.borrow_mut() = vec![Namespace::RateLimits];
    let r = register(&h);
    assert_eq!(r.status, 201, "{}", r.body);
    let a = Agent {
        id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
        session: r.body["session_id"].as_str().unwrap().to_owned(),
    };
    let login = h.login(&old);
    assert_eq!(login.status, 200, "limits fail open: {}", login.body);
    let body = envelope(
        "evt_outage",
        "subscription.created",
        0,
        json!({"id": "sub_x"}),
    );
    assert_eq!(h.webhook(&body).status, 200);

    // Challenges need a write to be issued; once issued, completing them needs none.
    faulty.writes_fail_in.borrow_mut().clear();
    let cid = claim_initiate(&h, &o, &a.id);
    let new = TestKey::random();
    let rot = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(&a.session)
            .json(json!({"new_public_key": new.x()})),
    );
    let (rot_id, rot_data) = (
        rot.body["challenge_id"].as_str().unwrap().to_owned(),
        rot.body["challenge_data"].as_str().unwrap().to_owned(),
    );
    h.clock.advance_secs(2);
    *faulty.writes_fail_in.borrow_mut() = vec![Namespace::RateLimits, Namespace::Challenges];

    let done = claim_complete(&h, &a.session, &cid, &o.id);
    assert_eq!(done.status, 200, "{}", done.body);
    let rotate = |h: &Harness, proof_key: &TestKey| {
        let path = format!("/v1/agents/rotate-key/complete/{rot_id}");
        h.send(
            Req::post(&path)
                .header("dpop", &h.post_proof(proof_key, &path))
                .json(json!({"signature": new.sign_b64(rot_data.as_bytes())})),
        )
    };
    let rotated = rotate(&h, &old);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let session = rotated.body["session_id"].as_str().unwrap().to_owned();
    h.drain();

    // The refused rewrites and deletes leave stale records; D1 answers from them correctly.
    assert_eq!(claim_status(&h, &o, &cid), "completed");
    claim_complete(&h, &session, &cid, &o.id).assert_error(404, "challenge_not_found");
    register(&h).assert_error(404, "challenge_not_found");
    rotate(&h, &new).assert_error(404, "challenge_not_found");
    assert!(
        !h.kv.dump(Namespace::Challenges).is_empty(),
        "deletes were refused"
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM agents"),
        1,
        "no challenge was used twice"
    );
}

#[test]
fn a_failed_limit_read_neither_clobbers_the_counter_nor_loses_the_attempt() {
    const LIMITS: (&str, &str) = ("RATE_LIMIT_CONFIG", r#"{"webhook":"3/60"}"#);
    let (h, faulty) = faulty_harness(&[LIMITS]);
    // Another isolate counts two attempts in KV; this one knows nothing of them.
    let other = App::new(
        Config::load(&vars(&[LIMITS])),
        h.clock.clone(),
        Rc::new(OsEntropy),
        h.db.clone(),
        h.kv.clone(),
    );
    let body = envelope("evt_rl", "subscription.created", 0, json!({"id": "sub_x"}));
    let signed = |h: &Harness| {
        let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
        Req::post("/v1/webhooks/paddle")
            .header("paddle-signature", &sig)
            .raw("application/json", body.as_bytes().to_vec())
            .into_request()
    };
    for _ in 0..2 {
        let r = futures::executor::block_on(other.handle(signed(&h)));
        assert_eq!(r.into_response().unwrap().status(), 200);
        futures::executor::block_on(other.run_deferred());
        h.clock.advance_secs(1);
    }
    *faulty.reads_fail_in.borrow_mut() = vec![RL];
    assert_eq!(h.webhook(&body).status, 200, "fails open");
    h.drain();
    let stored = h.kv.dump(RL);
    assert!(stored[0].1.starts_with("2@"), "not clobbered: {stored:?}");
    faulty.reads_fail_in.borrow_mut().clear();
    h.clock.advance_secs(1);
    h.webhook(&body).assert_error(429, "rate_limited");
}

/// Registers an agent the way a client does that waits out KV propagation: a fresh challenge
/// or session may be invisible for up to 60 s in another location (the acceptable window).
fn register_propagated(h: &Harness, key: &TestKey) -> Agent {
    let r = h.send(
        Req::post("/v1/agents/register/initiate").json(json!({"name": "A", "public_key": key.x()})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let complete = || {
        h.send(
            Req::post(&format!(
                "/v1/agents/register/complete/{}",
                r.body["challenge_id"].as_str().unwrap()
            ))
            .json(json!({"signature": key.sign_b64(r.body["challenge_data"].as_str().unwrap().as_bytes())})),
        )
    };
    complete().assert_error(404, "challenge_not_found");
    h.clock.advance_secs(60);
    let done = complete();
    assert_eq!(done.status, 201, "{}", done.body);
    let session = done.body["session_id"].as_str().unwrap().to_owned();
    h.send(Req::get("/v1/agents/me").bearer(&session))
        .assert_error(401, "invalid_session");
    h.clock.advance_secs(60);
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&session)).status,
        200
    );
    Agent {
        id: done.body["agent"]["id"].as_str().unwrap().to_owned(),
        session,
    }
}

#[test]
fn stale_reads_never_misreport_a_decided_state() {
    let h = stale_harness();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    h.clock.advance_secs(60);
    let a = register_propagated(&h, &TestKey::random());
    let cid = claim_initiate(&h, &o, &a.id);
    h.clock.advance_secs(60);

    // Decided states are read from D1 right after the write.
    assert_eq!(claim_status(&h, &o, &cid), "pending");
    let done = claim_complete(&h, &a.session, &cid, &o.id);
    assert_eq!(done.status, 200, "{}", done.body);
    h.drain();
    assert_eq!(
        claim_status(&h, &o, &cid),
        "completed",
        "KV still says pending"
    );
    claim_complete(&h, &a.session, &cid, &o.id).assert_error(404, "challenge_not_found");

    let out = h.send(Req::post("/v1/agents/logout").bearer(&a.session));
    assert_eq!(out.status, 200, "{}", out.body);
    h.drain();
    h.send(Req::get("/v1/agents/me").bearer(&a.session))
        .assert_error(401, "invalid_session");
}

#[test]
fn stale_reads_never_misreport_a_shadow_confirmation() {
    let h = stale_harness();
    let a = register_propagated(&h, &TestKey::random());
    let r = h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let shadow = r.body["shadow_overseer_id"].as_str().unwrap().to_owned();
    h.clock.advance_secs(60);
    let confirmed = claim_complete(&h, &a.session, &cid, &shadow);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    h.drain();
    let status = h.send(Req::get(&format!("/v1/agents/malice/status/{cid}")));
    assert_eq!(status.body["status"], "awaiting-payment", "{}", status.body);
}
