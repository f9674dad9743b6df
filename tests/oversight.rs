//! Blocks and cancellation marks (api.md 2.7; security.md §16 item 23).

mod common;

use common::*;
use serde_json::json;

/// An overseer on `tier` that actively oversees one agent (claimed through the public API).
fn overseer_with_agent(h: &Harness, tier: &str) -> (Overseer, Agent) {
    h.overseer_with_agent(tier)
}

#[test]
fn agents_list_and_marks_act_on_the_caller_only() {
    let h = Harness::new();
    let (o, a) = overseer_with_agent(&h, "BASIC");
    let r = h.send(
        Req::get(&format!("/v1/overseers/{}/agents", o.id.to_uppercase())).bearer(&o.session),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["count"].as_i64(), r.body["max_agents"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(r.body["agents"][0]["marked_for_cancellation"], false);

    let other = h.overseer("p@example.test");
    h.send(Req::get(&format!("/v1/overseers/{}/agents", o.id)).bearer(&other.session))
        .assert_error(403, "forbidden");
    h.send(Req::get("/v1/overseers/not-a-uuid/agents").bearer(&o.session))
        .assert_error(403, "forbidden");

    let mark = |body: Option<serde_json::Value>| {
        let req = Req::new(
            http::Method::PUT,
            &format!("/v1/overseers/{}/agents/{}/cancellation", o.id, a.id),
        )
        .bearer(&o.session);
        h.send(match body {
            Some(b) => req.json(b),
            None => req,
        })
    };
    assert_eq!(
        mark(None).body["marked_for_cancellation"],
        true,
        "absent body toggles"
    );
    assert_eq!(mark(None).body["marked_for_cancellation"], false);
    assert_eq!(
        mark(Some(json!({"marked": true}))).body["marked_for_cancellation"],
        true
    );
    assert_eq!(
        mark(Some(json!({"marked": true}))).body["marked_for_cancellation"],
        true
    );
    mark(Some(json!({"marked": "yes"}))).assert_error(400, "invalid_field");
    let listed = h.send(Req::get("/v1/overseers/me/agents").bearer(&o.session));
    assert_eq!(listed.body["agents"][0]["marked_for_cancellation"], true);
    let b = h.register(&TestKey::random(), "B");
    h.send(
        Req::new(
            http::Method::PUT,
            &format!("/v1/overseers/{}/agents/{}/cancellation", o.id, b.id),
        )
        .bearer(&o.session),
    )
    .assert_error(404, "no_active_oversight");
    // A re-claim clears the mark (api.md 2.4 step 3).
    assert_eq!(
        h.send(Req::post(&format!("/v1/agents/declaim/{}", a.id)).bearer(&o.session))
            .status,
        200
    );
    h.claim(&o, &a);
    assert_eq!(
        h.send(Req::get("/v1/overseers/me/agents").bearer(&o.session))
            .body["agents"][0]["marked_for_cancellation"],
        false
    );
}

#[test]
fn block_routes_need_an_overseen_agent_and_a_known_client() {
    let h = Harness::new();
    let (o, a) = overseer_with_agent(&h, "BASIC");
    let block = |agent: &str, body: serde_json::Value| {
        h.send(
            Req::post(&format!("/v1/overseers/agents/{agent}/block-client"))
                .bearer(&o.session)
                .json(body),
        )
    };
    block(
        &a.id,
        json!({"client_id": "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b"}),
    )
    .assert_error(404, "client_not_found");
    block(&a.id, json!({})).assert_error(400, "missing_field");
    block(&a.id, json!({"client_id": "x"})).assert_error(400, "invalid_field");
    let b = h.register(&TestKey::random(), "B");
    block(
        &b.id,
        json!({"client_id": "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b"}),
    )
    .assert_error(404, "no_active_oversight");
    h.send(
        Req::new(
            http::Method::DELETE,
            &format!(
                "/v1/overseers/agents/{}/block-client/0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b",
                a.id
            ),
        )
        .bearer(&o.session),
    )
    .assert_error(404, "block_not_found");
    let r = h.send(
        Req::get(&format!("/v1/overseers/agents/{}/blocked-clients", a.id)).bearer(&o.session),
    );
    assert_eq!(r.body, json!({"success": true, "blocked_clients": []}));
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type LIKE 'client.%'"),
        0
    );
}

#[test]
fn client_pool_view_for_a_paid_overseer() {
    let h = Harness::new();
    let (o, _) = overseer_with_agent(&h, "BASIC");
    let r = h.send(Req::get(&format!("/v1/overseers/{}/clients", o.id)).bearer(&o.session));
    assert_eq!(
        r.body,
        json!({"success": true, "clients": [], "count_enabled": 0, "max_clients": 10})
    );
    h.send(
        Req::new(
            http::Method::PUT,
            &format!(
                "/v1/overseers/{}/clients/0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b/cancellation",
                o.id
            ),
        )
        .bearer(&o.session),
    )
    .assert_error(404, "client_not_found");
}

/// Whether the enforcement predicate of authorize/token/userinfo holds for (client, agent) now.
fn enforced_block(h: &Harness, client_id: &str, agent_id: &str) -> bool {
    let sql = format!(
        "SELECT {} AS b",
        agent_id::store::oversights::blocked("?1", "?2")
    );
    let out = futures::executor::block_on(agent_id::store::Db::run(
        h.db.as_ref(),
        agent_id::store::Statement::new(sql, vec![client_id.into(), agent_id.into()]),
    ))
    .unwrap();
    out.rows[0]["b"].as_i64() == Some(1)
}

fn blocked_list(h: &Harness, o: &Overseer, agent_id: &str) -> Vec<serde_json::Value> {
    let r = h.send(
        Req::get(&format!("/v1/overseers/agents/{agent_id}/blocked-clients")).bearer(&o.session),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["blocked_clients"].as_array().unwrap().clone()
}

/// Issue item 3: after a re-claim, the new overseer's block of a client the previous overseer
/// had blocked takes effect (201, grants revoked), lists only the caller's own block, and the
/// previous overseer's row is neither listed, removable nor enforced.
#[test]
fn blocks_belong_to_the_overseer_who_made_them() {
    let h = Harness::new();
    let (o1, a) = overseer_with_agent(&h, "BASIC");
    let c = h.send(
        Req::post("/v1/clients/register/overseer")
            .bearer(&o1.session)
            .json(
                json!({"name": "Shared", "redirect_uris": ["https://app.example.com/cb"],
                         "public_key": TestKey::random().x()}),
            ),
    );
    assert_eq!(c.status, 201, "{}", c.body);
    let c = c.body["client"]["id"].as_str().unwrap().to_owned();
    let block = |o: &Overseer| {
        h.send(
            Req::post(&format!("/v1/overseers/agents/{}/block-client", a.id))
                .bearer(&o.session)
                .json(json!({"client_id": c})),
        )
    };
    let unblock = |o: &Overseer| {
        h.send(
            Req::new(
                http::Method::DELETE,
                &format!("/v1/overseers/agents/{}/block-client/{c}", a.id),
            )
            .bearer(&o.session),
        )
    };
    assert_eq!(block(&o1).status, 201);
    assert!(enforced_block(&h, &c, &a.id));

    // The agent leaves O1 and is claimed by O2.
    let r = h.send(Req::post("/v1/agents/revoke-overseer").bearer(&a.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!enforced_block(&h, &c, &a.id), "O1 no longer oversees A");
    let o2 = h.overseer("o2@example.test");
    h.subscribe(&o2.id, "BASIC");
    h.claim(&o2, &a);
    assert!(
        blocked_list(&h, &o2, &a.id).is_empty(),
        "O1's block is not O2's"
    );
    assert!(!enforced_block(&h, &c, &a.id));
    unblock(&o2).assert_error(404, "block_not_found");

    // O2's own block: written, enforced, and it revokes the live grant.
    h.sql(
        "INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at) \
         VALUES ('g_live', ?1, ?2, 'id', 0, 0)",
        vec![c.as_str().into(), a.id.as_str().into()],
    );
    h.clock.advance_secs(5);
    let r = block(&o2);
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(enforced_block(&h, &c, &a.id));
    let g = h.sql(
        "SELECT revoked_reason FROM oauth_grants WHERE id = 'g_live'",
        vec![],
    );
    assert_eq!(g.rows[0]["revoked_reason"], "client_blocked");
    block(&o2).assert_error(409, "already_blocked");
    let listed = blocked_list(&h, &o2, &a.id);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["client_id"], c.as_str());
    assert_eq!(
        listed[0]["created_at"],
        agent_id::domain::time::rfc3339_ms(h.clock_ms())
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM client_blocks"),
        2,
        "O1's row is kept in O1's name"
    );

    // O2 unblocks its own block only; O1's row stays and is still not enforced.
    assert_eq!(unblock(&o2).status, 200);
    assert!(!enforced_block(&h, &c, &a.id));
    unblock(&o2).assert_error(404, "block_not_found");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM client_blocks"), 1);
}

/// Migration 0003 keeps every existing block in its author's name under the new key.
#[test]
fn migration_0003_keeps_existing_blocks_with_their_overseer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    for f in ["0001_initial.sql", "0002_seed_tiers.sql"] {
        conn.execute_batch(&std::fs::read_to_string(dir.join(f)).unwrap())
            .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO agents (id, name, public_key, created_at, updated_at) VALUES ('a', 'A', 'k', 0, 0);
         INSERT INTO overseers (id, kind, name, email, password_hash, created_at, updated_at)
           VALUES ('o1', 'human', 'O', 'o@x.test', 'h', 0, 0);
         INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, public_key,
           key_thumbprint, created_at, updated_at) VALUES ('c', 'overseer', 'o1', 'C', '[]', 'k', 't', 0, 0);
         INSERT INTO client_blocks (agent_id, client_id, overseer_id, created_at) VALUES ('a', 'c', 'o1', 7);",
    )
    .unwrap();
    conn.execute_batch(
        &std::fs::read_to_string(dir.join("0003_blocks_and_retention.sql")).unwrap(),
    )
    .unwrap();
    let row: (String, String, String, i64) = conn
        .query_row(
            "SELECT overseer_id, agent_id, client_id, created_at FROM client_blocks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(row, ("o1".into(), "a".into(), "c".into(), 7));
    // A second overseer may now block the same client for the same agent.
    conn.execute_batch(
        "INSERT INTO overseers (id, kind, name, email, password_hash, created_at, updated_at)
           VALUES ('o2', 'human', 'P', 'p@x.test', 'h', 0, 0);
         INSERT INTO client_blocks (overseer_id, agent_id, client_id, created_at) VALUES ('o2', 'a', 'c', 8);",
    )
    .unwrap();
    // Deleting the client still removes its blocks.
    conn.execute_batch("DELETE FROM oauth_clients WHERE id = 'c';")
        .unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM client_blocks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}
