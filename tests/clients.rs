//! OAuth client registration and management (api.md 2.8, 5.8; security.md 17.9).

mod common;

use common::*;
use http::Method;
use serde_json::{json, Value};

fn body(key: &TestKey) -> Value {
    json!({"name": "Demo Client", "redirect_uris": ["http://localhost:8790/callback", "https://app.example.com/cb"],
           "public_key": key.x(), "scope": "subscription name id description"})
}

fn register(h: &Harness, owner: &str, session: &str, body: Value) -> Resp {
    h.send(
        Req::post(&format!("/v1/clients/register/{owner}"))
            .bearer(session)
            .json(body),
    )
}

/// A BASIC overseer actively overseeing agent A (claimed through the API).
fn pool(h: &Harness) -> (Overseer, Agent) {
    h.overseer_with_agent("BASIC")
}

fn clients(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM oauth_clients")
}

#[test]
fn an_overseen_agent_registers_a_client() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let key = TestKey::from_seed(core::array::from_fn(|i| 0x20 + i as u8));
    let r = register(&h, "agent", &a.session, body(&key));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["message"], "Client registered successfully");
    let c = &r.body["client"];
    assert_eq!(
        c["public_key"],
        "Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc"
    );
    assert_eq!(
        c["scope"], "id name description subscription",
        "normalised to registry order"
    );
    assert_eq!(
        c["redirect_uris"],
        json!([
            "http://localhost:8790/callback",
            "https://app.example.com/cb"
        ])
    );
    assert_eq!(
        (c["owner_type"].as_str(), c["owner_id"].as_str()),
        (Some("agent"), Some(a.id.as_str()))
    );
    assert_eq!(
        (
            c["token_endpoint_auth_method"].as_str(),
            c["application_type"].as_str()
        ),
        (Some("private_key_jwt"), Some("web"))
    );
    assert_eq!(
        (
            c["disabled"].as_bool(),
            c["dpop_bound_access_tokens"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(c["disabled_reason"], Value::Null);
    let stored = h.sql("SELECT key_thumbprint FROM oauth_clients", vec![]);
    assert_eq!(
        stored.rows[0]["key_thumbprint"],
        "AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc"
    );

    let list = h.send(Req::get("/v1/clients/list/agent").bearer(&a.session));
    assert_eq!(list.body["clients"].as_array().unwrap().len(), 1);
    let pool_view = h.send(Req::get(&format!("/v1/overseers/{}/clients", o.id)).bearer(&o.session));
    assert_eq!(
        (
            pool_view.body["count_enabled"].as_i64(),
            pool_view.body["max_clients"].as_i64()
        ),
        (Some(1), Some(10))
    );
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&a.session)).body["subscription"]
            ["clients_registered"],
        1
    );
    let audit =
        h.send(Req::get("/v1/overseers/me/audit?type=client.registered").bearer(&o.session));
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        1,
        "the pool's overseer sees it"
    );
}

#[test]
fn registration_refusals_write_nothing() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let k = TestKey::random();
    let with = |field: &str, v: Value| {
        let mut b = body(&k);
        b[field] = v;
        b
    };
    h.send(
        Req::post("/v1/clients/register/admin")
            .bearer(&o.session)
            .json(body(&k)),
    )
    .assert_error(400, "invalid_owner_type"); // L01
    register(&h, "overseer", &a.session, body(&k)).assert_error(403, "forbidden"); // L02
    let b = h.register(&TestKey::random(), "B");
    register(&h, "agent", &b.session, body(&k)).assert_error(403, "tier_limit_reached"); // L03
    let cases = [
        (
            with("redirect_uris", json!([])),
            400,
            "invalid_redirect_uri",
        ), // L05
        (
            with("redirect_uris", json!("http://localhost/cb")),
            400,
            "invalid_field",
        ), // L06
        (
            with("redirect_uris", json!(["http://example.com/cb"])),
            400,
            "invalid_redirect_uri",
        ), // L07
        (
            with("redirect_uris", json!(["https://app.example.com/cb#frag"])),
            400,
            "invalid_redirect_uri",
        ), // L08
        (
            with("redirect_uris", json!(["https://*.example.com/cb"])),
            400,
            "invalid_redirect_uri",
        ), // L09
        (
            with("redirect_uris", json!(["/cb"])),
            400,
            "invalid_redirect_uri",
        ), // L10
        (
            with("redirect_uris", json!(["javascript:alert(1)"])),
            400,
            "invalid_redirect_uri",
        ), // L11
        (
            with(
                "redirect_uris",
                json!(["https://user:pw@app.example.com/cb"]),
            ),
            400,
            "invalid_redirect_uri",
        ), // L12
        (
            with(
                "redirect_uris",
                json!((0..11)
                    .map(|i| format!("https://app.example.com/{i}"))
                    .collect::<Vec<_>>()),
            ),
            400,
            "invalid_redirect_uri",
        ), // L13
        (with("redirect_uris", Value::Null), 400, "missing_field"),
        (with("scope", json!("id admin")), 400, "invalid_scope"), // L14
        (with("scope", json!("id,name")), 400, "invalid_scope"),  // L15
        (
            with("token_endpoint_auth_method", json!("client_secret_basic")),
            400,
            "invalid_field",
        ), // L16
        (
            with(
                "public_key",
                json!("xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o"),
            ),
            400,
            "invalid_public_key",
        ), // L17
        (
            with("application_type", json!("desktop")),
            400,
            "invalid_field",
        ),
        (with("name", json!("   ")), 400, "missing_field"),
    ];
    for (b, status, code) in cases {
        let r = register(&h, "overseer", &o.session, b.clone());
        assert_eq!((r.status, r.code()), (status, code), "{b}");
    }
    assert_eq!(clients(&h), 0);
}

#[test]
fn the_pool_limit_is_shared_and_decided_in_one_statement() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    for i in 0..10 {
        let session = if i % 2 == 0 { &o.session } else { &a.session };
        let owner = if i % 2 == 0 { "overseer" } else { "agent" };
        let mut b = body(&TestKey::random());
        b["name"] = json!(format!("c{i}"));
        assert_eq!(register(&h, owner, session, b).status, 201);
    }
    register(&h, "overseer", &o.session, body(&TestKey::random()))
        .assert_error(403, "tier_limit_reached"); // L04
    register(&h, "agent", &a.session, body(&TestKey::random()))
        .assert_error(403, "tier_limit_reached");
    assert_eq!(clients(&h), 10);
    // L20: a disabled client cannot come back while the pool is full; after a delete it can.
    let victim = h.sql("SELECT id FROM oauth_clients WHERE owner_type = 'overseer' ORDER BY created_at LIMIT 1", vec![]).rows[0]["id"].as_str().unwrap().to_owned();
    h.sql(
        "UPDATE oauth_clients SET disabled = 1, disabled_reason = 'tier_limit' WHERE id = ?1",
        vec![victim.as_str().into()],
    );
    assert_eq!(
        register(&h, "overseer", &o.session, body(&TestKey::random())).status,
        201,
        "a disabled client frees its slot"
    );
    h.send(Req::new(Method::PUT, &format!("/v1/clients/{victim}/enable")).bearer(&o.session))
        .assert_error(403, "tier_limit_reached");
    let newest = h.sql("SELECT id FROM oauth_clients WHERE owner_type = 'overseer' AND disabled = 0 ORDER BY created_at DESC LIMIT 1", vec![]).rows[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.send(Req::new(Method::DELETE, &format!("/v1/clients/{newest}")).bearer(&o.session))
            .status,
        200
    );
    let r =
        h.send(Req::new(Method::PUT, &format!("/v1/clients/{victim}/enable")).bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["client"]["disabled"], false);
    assert_eq!(
        h.send(Req::new(Method::PUT, &format!("/v1/clients/{victim}/enable")).bearer(&o.session))
            .status,
        200,
        "already enabled"
    );
}

#[test]
fn only_the_owner_rekeys_or_deletes_and_rekeying_revokes_grants() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let r = register(&h, "overseer", &o.session, body(&TestKey::random()));
    let d = r.body["client"]["id"].as_str().unwrap().to_owned();
    let new_key = TestKey::random();
    h.send(
        Req::new(Method::PUT, &format!("/v1/clients/{d}/key"))
            .bearer(&a.session)
            .json(json!({"public_key": new_key.x()})),
    )
    .assert_error(404, "client_not_found"); // L18
    h.send(Req::new(Method::DELETE, &format!("/v1/clients/{d}")).bearer(&a.session))
        .assert_error(404, "client_not_found"); // L19
    h.send(Req::new(Method::DELETE, "/v1/clients/not-a-uuid").bearer(&o.session))
        .assert_error(404, "client_not_found");

    // A grant and an unused code exist for the client (the OAuth flow writes them).
    h.sql("INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at) VALUES ('g1', ?1, ?2, 'id', 0, 0)", vec![d.as_str().into(), a.id.as_str().into()]);
    h.sql("INSERT INTO authorization_codes (id, code_hash, client_id, agent_id, redirect_uri, code_challenge, scope, expires_at, created_at) \
           VALUES ('k1', 'h1', ?1, ?2, 'https://app.example.com/cb', 'c', 'id', 9999999999999, 0)", vec![d.as_str().into(), a.id.as_str().into()]);
    let r = h.send(
        Req::new(Method::PUT, &format!("/v1/clients/{d}/key"))
            .bearer(&o.session)
            .json(json!({"public_key": new_key.x()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Client key updated");
    let grant = h.sql(
        "SELECT revoked_reason FROM oauth_grants WHERE id = 'g1'",
        vec![],
    );
    assert_eq!(grant.rows[0]["revoked_reason"], "client_key_replaced");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM authorization_codes"), 0);
    let stored = h.sql(
        "SELECT public_key FROM oauth_clients WHERE id = ?1",
        vec![d.as_str().into()],
    );
    assert_eq!(stored.rows[0]["public_key"], new_key.x().as_str());

    assert_eq!(
        h.send(Req::new(Method::DELETE, &format!("/v1/clients/{d}")).bearer(&o.session))
            .body["message"],
        "Client deleted"
    );
    assert_eq!(clients(&h), 0);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oauth_grants"),
        0,
        "grants go with the client"
    );
}

#[test]
fn hostile_names_are_ordinary_text() {
    let h = Harness::new();
    let (o, _) = pool(&h);
    assert_eq!(
        register(&h, "overseer", &o.session, body(&TestKey::random())).status,
        201
    );
    let mut b = body(&TestKey::random());
    b["name"] = json!("x'; DELETE FROM oauth_clients; --");
    let r = register(&h, "overseer", &o.session, b); // L21
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["client"]["name"],
        "x'; DELETE FROM oauth_clients; --"
    );
    assert_eq!(clients(&h), 2);
}

#[test]
fn blocks_revoke_grants_for_that_agent_only() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let c = register(&h, "overseer", &o.session, body(&TestKey::random())).body["client"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = h.register(&TestKey::random(), "Other");
    for (g, agent) in [("g1", &a.id), ("g2", &other.id)] {
        h.sql("INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at) VALUES (?1, ?2, ?3, 'id', 0, 0)", vec![g.into(), c.as_str().into(), agent.as_str().into()]);
    }
    let block = || {
        h.send(
            Req::post(&format!("/v1/overseers/agents/{}/block-client", a.id))
                .bearer(&o.session)
                .json(json!({"client_id": c})),
        )
    };
    h.clock.advance_secs(1);
    let r = block();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["block"]["client_name"], "Demo Client");
    block().assert_error(409, "already_blocked");
    let revoked: Vec<(String, Value)> = h
        .sql(
            "SELECT id, revoked_reason FROM oauth_grants ORDER BY id",
            vec![],
        )
        .rows
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["revoked_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        revoked,
        vec![
            ("g1".to_owned(), json!("client_blocked")),
            ("g2".to_owned(), Value::Null)
        ]
    );
    let listed = h.send(
        Req::get(&format!("/v1/overseers/agents/{}/blocked-clients", a.id)).bearer(&o.session),
    );
    assert_eq!(listed.body["blocked_clients"][0]["client_id"], c.as_str());
    h.clock.advance_secs(1);
    let r = h.send(
        Req::new(
            Method::DELETE,
            &format!("/v1/overseers/agents/{}/block-client/{c}", a.id),
        )
        .bearer(&o.session),
    );
    assert_eq!(r.body["message"], "Client unblocked");
    let g1 = h.sql(
        "SELECT revoked_reason FROM oauth_grants WHERE id = 'g1'",
        vec![],
    );
    assert_eq!(
        g1.rows[0]["revoked_reason"], "client_blocked",
        "unblocking restores nothing"
    );
    let types: Vec<String> = h
        .send(Req::get("/v1/overseers/me/audit").bearer(&o.session))
        .body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with("client."))
        .collect();
    assert_eq!(
        types,
        ["client.unblocked", "client.blocked", "client.registered"]
    );
}

#[test]
fn marks_on_clients_of_the_pool() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let c = register(&h, "agent", &a.session, body(&TestKey::random())).body["client"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.send(
        Req::new(
            Method::PUT,
            &format!("/v1/overseers/{}/clients/{c}/cancellation", o.id),
        )
        .bearer(&o.session),
    );
    assert_eq!(
        r.body,
        json!({"success": true, "client_id": c, "marked_for_cancellation": true})
    );
    let listed = h.send(Req::get(&format!("/v1/overseers/{}/clients", o.id)).bearer(&o.session));
    assert_eq!(listed.body["clients"][0]["marked_for_cancellation"], true);
}

#[test]
fn leaving_a_pool_enforces_the_new_one() {
    // api.md 2.4 and 5.8: a declaimed agent's clients fall back to its own FREE pool (0 clients).
    let h = Harness::new();
    let (o, a) = pool(&h);
    let c = register(&h, "agent", &a.session, body(&TestKey::random())).body["client"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.send(Req::post(&format!("/v1/agents/declaim/{}", a.id)).bearer(&o.session))
            .status,
        200
    );
    let row = h.sql(
        "SELECT disabled, disabled_reason FROM oauth_clients WHERE id = ?1",
        vec![c.as_str().into()],
    );
    assert_eq!(
        (
            row.rows[0]["disabled"].as_i64(),
            row.rows[0]["disabled_reason"].as_str()
        ),
        (Some(1), Some("tier_limit"))
    );
    h.send(Req::new(Method::PUT, &format!("/v1/clients/{c}/enable")).bearer(&a.session))
        .assert_error(403, "tier_limit_reached");
    // Claimed again, the client can come back.
    let r = h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({"agent_id": a.id})),
    );
    let path = format!(
        "/v1/agents/claim/complete/{}",
        r.body["challenge_id"].as_str().unwrap()
    );
    assert_eq!(
        h.send(
            Req::post(&path)
                .bearer(&a.session)
                .json(json!({"overseer_id": o.id}))
        )
        .status,
        200
    );
    assert_eq!(
        h.send(Req::new(Method::PUT, &format!("/v1/clients/{c}/enable")).bearer(&a.session))
            .status,
        200
    );
}
