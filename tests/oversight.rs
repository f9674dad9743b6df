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
