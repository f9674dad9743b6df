//! `REPLAY_STORE=durable_object`: DPoP and client-assertion `jti` markers live in one
//! SQLite-backed Durable Object per signer. Natively the objects are [`SqliteShards`] (the same
//! statements on one SQLite database per shard); these tests drive the App's HTTP surface and
//! check that every replay path asks the store before its batch (`in_batch` is `None`), that
//! each use costs one object call, and that no marker reaches D1.

mod common;

use std::rc::Rc;

use agent_id::config::Config;
use agent_id::store::durable_markers::SqliteShards;
use agent_id::store::markers::ReplayBackend;
use common::oauth::{with_assertion, World};
use common::{vars, Harness, Req, TestKey, ISSUER};

/// Puts `h`'s replay markers into (native) Durable Objects, as the edge does for this setting.
fn on_objects(mut h: Harness) -> (Harness, Rc<SqliteShards>) {
    let config = h.app.config.as_ref().expect("configuration loads");
    assert_eq!(config.replay_store, ReplayBackend::DurableObject);
    let objects = Rc::new(SqliteShards::default());
    h.app.services.replays = objects.clone();
    (h, objects)
}

fn durable_harness() -> (Harness, Rc<SqliteShards>) {
    on_objects(Harness::with_vars(&[("REPLAY_STORE", "durable_object")]))
}

fn d1_markers(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM jti_markers")
}

#[test]
fn a_replayed_dpop_proof_is_refused_by_the_signers_object() {
    let (h, objects) = durable_harness();
    let key = TestKey::random();
    h.register(&key, "Agent A");
    let proof = h.login_proof(&key);
    let login = || h.send(Req::post("/v1/agents/login").header("dpop", &proof));

    let first = login();
    assert_eq!(first.status, 200, "{}", first.body);
    let usage = h.metrics.last().expect("recorded").usage;
    assert_eq!(usage.durable_object_calls, 1, "{usage:?}");

    let replay = login();
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(
        replay.body.to_string().contains("already been used"),
        "{}",
        replay.body
    );
    assert_eq!(h.metrics.last().unwrap().usage.durable_object_calls, 1);

    // The marker is in the signer's object (sharded by the key thumbprint), not in D1.
    assert_eq!(objects.shard_names(), [key.proof_thumbprint()]);
    assert_eq!(objects.len(&key.proof_thumbprint()).unwrap(), 1);
    assert_eq!(d1_markers(&h), 0);

    // A fresh proof by the same key is a first use again.
    assert_eq!(h.login(&key).status, 200);
    assert_eq!(objects.len(&key.proof_thumbprint()).unwrap(), 2);
}

#[test]
fn a_replayed_client_assertion_is_refused_by_the_clients_object() {
    let (h, objects) = durable_harness();
    let w = World::on(h);
    let assertion = w.assertion(ISSUER);
    let introspect = || {
        w.h.send(with_assertion(
            "/v1/oauth/introspect",
            &assertion,
            &[("token", "not-a-token")],
        ))
    };

    let first = introspect();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["active"], false);
    assert_eq!(w.h.metrics.last().unwrap().usage.durable_object_calls, 1);

    let replay = introspect();
    assert_eq!(
        (replay.status, replay.body["error"].as_str()),
        (401, Some("invalid_client")),
        "{}",
        replay.body
    );
    assert_eq!(objects.len(&w.client.id).unwrap(), 1);
    assert_eq!(d1_markers(&w.h), 0);
}

#[test]
fn d1_stays_the_default_store() {
    let h = Harness::new();
    assert_eq!(
        h.app.config.as_ref().unwrap().replay_store,
        ReplayBackend::D1
    );
    let key = TestKey::random();
    h.register(&key, "Agent A");
    assert_eq!(h.login(&key).status, 200);
    assert_eq!(h.metrics.last().unwrap().usage.durable_object_calls, 0);
    assert_eq!(d1_markers(&h), 1);
}

#[test]
fn an_unknown_replay_store_makes_every_request_a_configuration_error() {
    let config = Config::load(&vars(&[("REPLAY_STORE", "redis")]));
    assert_eq!(config.as_ref().unwrap_err().name, "REPLAY_STORE");
    let h = Harness::with_config(config);
    let r = h.send(Req::post("/v1/agents/login"));
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("configuration_error")),
        "{}",
        r.body
    );
}

/// One hot path's storage cost, as `h.metrics` recorded it.
struct Cost {
    path: &'static str,
    /// Replay markers the path records (DPoP proofs and client assertions).
    marks: u32,
    usage: agent_id::store::meter::Usage,
}

/// Runs the hot paths once each on `w` and returns what each request cost: agent login,
/// `/v1/agents/me`, the code exchange with DPoP (two marks: the proof and the assertion),
/// userinfo (one proof) and introspection (one assertion).
fn hot_path_costs(w: &World) -> Vec<Cost> {
    let h = &w.h;
    let mut out = Vec::new();
    let mut record = |path, marks| {
        let usage = h.metrics.last().expect("recorded").usage;
        out.push(Cost { path, marks, usage });
    };
    let login = h.login(&w.agent_key);
    assert_eq!(login.status, 200, "{}", login.body);
    record("POST /v1/agents/login", 1);
    let session = login.body["session_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&session)).status,
        200
    );
    record("GET /v1/agents/me", 0);
    let dpop = TestKey::random();
    let tokens = common::oauth::Tokens::issued(&w.exchange(&w.code(), Some(&dpop)));
    record("POST /v1/oauth/token (code + DPoP)", 2);
    assert_eq!(w.userinfo(&tokens.access, &dpop).status, 200);
    record("GET /v1/oauth/userinfo", 1);
    assert_eq!(w.introspect(&tokens.access)["active"], true);
    record("POST /v1/oauth/introspect", 1);
    out
}

/// The per-request storage cost of the hot paths under both stores (docs/scaling.md quotes
/// the table `--nocapture` prints). With Durable Object markers each mark leaves D1 (one
/// statement fewer, never a round trip more) and costs one object call; nothing else changes.
#[test]
fn each_mark_moves_from_a_d1_statement_to_one_object_call() {
    let on_d1 = World::on(Harness::new());
    let (h, _objects) = durable_harness();
    let on_objects = World::on(h);
    let d1 = hot_path_costs(&on_d1);
    let durable = hot_path_costs(&on_objects);
    println!("| path | marks | D1 store: round trips / statements / KV r+w | DO store: round trips / statements / object calls |");
    for (a, b) in d1.iter().zip(&durable) {
        let (u, v) = (a.usage, b.usage);
        println!(
            "| {} | {} | {} / {} / {}+{} | {} / {} / {} |",
            a.path,
            a.marks,
            u.d1_round_trips,
            u.d1_statements,
            u.kv_reads,
            u.kv_writes,
            v.d1_round_trips,
            v.d1_statements,
            v.durable_object_calls
        );
        assert_eq!(u.durable_object_calls, 0, "{}", a.path);
        assert_eq!(v.durable_object_calls, a.marks, "{}", a.path);
        assert_eq!(v.d1_statements + a.marks, u.d1_statements, "{}", a.path);
        assert!(v.d1_round_trips <= u.d1_round_trips, "{}", a.path);
        assert_eq!(
            (v.kv_reads, v.kv_writes),
            (u.kv_reads, u.kv_writes),
            "{}",
            a.path
        );
    }
    assert_eq!(d1_markers(&on_objects.h), 0);
}
