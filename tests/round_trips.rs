//! Storage round-trip budgets: for every endpoint, at most this many D1 round trips (a batch
//! counts once) and KV writes before the answer, checked on the request's metrics record
//! (`Harness::metrics`). Work deferred until after the answer (`waitUntil`) is not counted.

mod common;

// --- the budget table (owned by the OAuth/table work; rows for the hot session paths below) ---

// --- hot session paths: agent and overseer log-in, session reads, rate limits ---

use agent_id::store::meter::Usage;
use common::{Harness, Req, Resp, TestKey};

/// Budgets of the hot session paths: `(endpoint name, max D1 round trips, max KV writes)`
/// before the answer. The lead merges these rows into the table above.
///
/// Overseer log-in is the one exception at two round trips: its audit row can only be written
/// after bcrypt has checked the password, which needs the account row read first.
const HOT_BUDGETS: &[(&str, u32, u32)] = &[
    ("agents.login", 1, 1),
    ("agents.me", 1, 0),
    ("agents.overseer", 1, 0),
    ("agents.oauth_history", 1, 0),
    ("overseers.login", 2, 1),
    ("overseers.me", 1, 0),
    ("overseers.agents", 1, 0),
    ("overseers.audit", 1, 0),
];

/// Sends `req`, checks it succeeded, and returns what the metrics record says it cost.
fn usage_of(h: &Harness, name: &str, req: Req) -> Usage {
    let r: Resp = h.send(req);
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    let record = h.metrics.last().expect("one record per request");
    assert_eq!(record.route, name);
    record.usage
}

/// Drives every endpoint of [`HOT_BUDGETS`] once, successfully, in a world where each has
/// something to read: an agent overseen by a paying overseer.
fn hot_usage() -> Vec<(&'static str, Usage)> {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let key = TestKey::random();
    let a = h.register(&key, "Hot");
    h.claim(&o, &a);
    h.clock.advance_secs(5);
    let login = Req::post("/v1/agents/login").header("dpop", &h.login_proof(&key));
    let overseer_login = Req::post("/v1/overseers/login")
        .json(serde_json::json!({"email": "o@example.test", "password": "correct horse"}));
    let sends: Vec<(&'static str, Req)> = vec![
        ("agents.login", login),
        ("agents.me", Req::get("/v1/agents/me").bearer(&a.session)),
        (
            "agents.overseer",
            Req::get("/v1/agents/me/overseer").bearer(&a.session),
        ),
        (
            "agents.oauth_history",
            Req::get("/v1/agents/me/oauth-history").bearer(&a.session),
        ),
        ("overseers.login", overseer_login),
        (
            "overseers.me",
            Req::get("/v1/overseers/me").bearer(&o.session),
        ),
        (
            "overseers.agents",
            Req::get("/v1/overseers/me/agents").bearer(&o.session),
        ),
        (
            "overseers.audit",
            Req::get("/v1/overseers/me/audit").bearer(&o.session),
        ),
    ];
    sends
        .into_iter()
        .map(|(name, req)| (name, usage_of(&h, name, req)))
        .collect()
}

#[test]
fn hot_session_paths_stay_within_their_budgets() {
    let measured = hot_usage();
    eprintln!("hot path usage: {measured:#?}");
    let mut over = Vec::new();
    for (name, max_d1, max_kv_writes) in HOT_BUDGETS {
        let (_, usage) = measured
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} was not driven"));
        if usage.d1_round_trips > *max_d1 || usage.kv_writes > *max_kv_writes {
            over.push(format!(
                "{name}: {} D1 round trips (max {max_d1}), {} KV writes (max {max_kv_writes})",
                usage.d1_round_trips, usage.kv_writes
            ));
        }
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

/// `/v1/agents/me` picks the client pool in SQL inside its one batch: a human overseer's pool
/// (its own clients and those of every agent it oversees), or else the agent's own clients
/// (FREE allows none, so an unclaimed agent counts none of the others').
#[test]
fn the_folded_summary_counts_the_agents_pool() {
    use common::oauth::Client;
    let h = Harness::new();
    let (o, a) = h.overseer_with_agent("PRO");
    let b = h.register(&TestKey::random(), "B");
    h.claim(&o, &b);
    let loner = h.register(&TestKey::random(), "C");
    Client::register(&h, "overseer", &o.session, "Overseer's");
    Client::register(&h, "agent", &b.session, "B's");
    let clients = |session: &str| {
        let r = h.send(Req::get("/v1/agents/me").bearer(session));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["subscription"]["clients_registered"].as_i64()
    };
    assert_eq!(clients(&a.session), Some(2), "the overseer's pool");
    assert_eq!(clients(&b.session), Some(2), "the same pool");
    assert_eq!(clients(&loner.session), Some(0), "only its own clients");
}

// --- OAuth: token, userinfo, introspection, revocation, authorization ---
