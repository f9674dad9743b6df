//! OAuth client registration and management (api.md 2.8, 5.8; security.md 17.9).

mod common;

use common::oauth::{userinfo, Client, Tokens};
use common::paddle::{assert_processed, envelope, sub};
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

/// Every client row, whoever owns it ("nothing written" checks of the refusal catalogue).
fn clients(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM oauth_clients")
}

/// The client `id` as its owner lists it (`GET /v1/clients/list/{owner}`).
fn listed(h: &Harness, owner: &str, session: &str, id: &str) -> Value {
    let r = h.send(Req::get(&format!("/v1/clients/list/{owner}")).bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {}", r.body))
        .clone()
}

fn id_of(r: &Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["client"]["id"].as_str().unwrap().to_owned()
}

/// `(status, error, error_description)` of an OAuth response.
fn oauth_error(r: &Resp) -> (u16, &str, &str) {
    (
        r.status,
        r.body["error"].as_str().unwrap_or(""),
        r.body["error_description"].as_str().unwrap_or(""),
    )
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
    // The stored RFC 7638 thumbprint is the known answer: a token redeemed without DPoP is
    // bound to the client's key, and introspection shows that binding.
    let client = Client {
        id: c["id"].as_str().unwrap().to_owned(),
        key,
    };
    let tokens = client.grant(&h, &a);
    assert_eq!(
        client.introspect(&h, &tokens.access)["cnf"]["jkt"],
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
    let mut overseers_clients = Vec::new();
    for i in 0..10 {
        let session = if i % 2 == 0 { &o.session } else { &a.session };
        let owner = if i % 2 == 0 { "overseer" } else { "agent" };
        let mut b = body(&TestKey::random());
        b["name"] = json!(format!("c{i}"));
        let id = id_of(&register(&h, owner, session, b));
        if i % 2 == 0 {
            overseers_clients.push(id);
        }
    }
    register(&h, "overseer", &o.session, body(&TestKey::random()))
        .assert_error(403, "tier_limit_reached"); // L04
    register(&h, "agent", &a.session, body(&TestKey::random()))
        .assert_error(403, "tier_limit_reached");
    assert_eq!(clients(&h), 10);

    // L20: a client disabled by the tier limit, made the way production makes one: on PRO the
    // pool takes an eleventh client; back on BASIC, enforcement disables the newest, that one.
    let sub_id = format!("sub_{}", &o.id[..8]);
    let tier = |event: &str, occurred: i64, price: &str| {
        assert_processed(&h.webhook(&envelope(
            event,
            "subscription.updated",
            occurred,
            sub(&sub_id, "active", price, None),
        )));
    };
    tier("evt_pro", 100, PRICE_PRO);
    h.clock.advance_secs(1);
    let victim = id_of(&register(
        &h,
        "overseer",
        &o.session,
        body(&TestKey::random()),
    ));
    tier("evt_basic", 200, PRICE_BASIC);
    let v = listed(&h, "overseer", &o.session, &victim);
    assert_eq!(
        (v["disabled"].as_bool(), v["disabled_reason"].as_str()),
        (Some(true), Some("tier_limit"))
    );
    // Ten enabled clients fill the pool. With one of them deleted, ten clients remain, and a
    // new one is still accepted: the disabled client holds no slot.
    register(&h, "overseer", &o.session, body(&TestKey::random()))
        .assert_error(403, "tier_limit_reached");
    let gone = &overseers_clients[0];
    assert_eq!(
        h.send(Req::new(Method::DELETE, &format!("/v1/clients/{gone}")).bearer(&o.session))
            .status,
        200
    );
    let newest = id_of(&register(
        &h,
        "overseer",
        &o.session,
        body(&TestKey::random()),
    ));
    // Full again: the disabled client cannot come back until a slot is free.
    h.send(Req::new(Method::PUT, &format!("/v1/clients/{victim}/enable")).bearer(&o.session))
        .assert_error(403, "tier_limit_reached");
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
    let key = TestKey::random();
    let d = id_of(&register(&h, "overseer", &o.session, body(&key)));
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

    // The agent has granted the client access (tokens out) and holds an unused code.
    let old = Client { id: d.clone(), key };
    let dpop = TestKey::random();
    let before = Tokens::issued(&old.exchange(&h, &old.code(&h, &a), Some(&dpop)));
    let unused = old.code(&h, &a);
    assert_eq!(userinfo(&h, &before.access, &dpop).status, 200);

    let r = h.send(
        Req::new(Method::PUT, &format!("/v1/clients/{d}/key"))
            .bearer(&o.session)
            .json(json!({"public_key": new_key.x()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Client key updated");
    // The new key is the client's: listed, and the only one that authenticates.
    assert_eq!(
        listed(&h, "overseer", &o.session, &d)["public_key"],
        new_key.x().as_str()
    );
    let stale = old.refresh(&h, &before.refresh);
    assert_eq!(
        (stale.status, stale.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let new = Client {
        id: d.clone(),
        key: new_key,
    };
    // Everything issued under the old key is dead: the grant is revoked (its refresh token and
    // access token with it) and the unused code is gone.
    assert_eq!(
        oauth_error(&new.refresh(&h, &before.refresh)),
        (400, "invalid_grant", "the grant has been revoked")
    );
    assert_eq!(new.introspect(&h, &before.access), json!({"active": false}));
    assert_eq!(userinfo(&h, &before.access, &dpop).status, 401);
    assert_eq!(
        oauth_error(&new.exchange(&h, &unused, None)),
        (
            400,
            "invalid_grant",
            "authorization code is invalid or expired"
        )
    );
    // A grant under the new key is bound to it (the stored thumbprint followed the key).
    let after = Tokens::issued(&new.exchange(&h, &new.code(&h, &a), Some(&dpop)));
    assert_eq!(
        new.introspect(&h, &after.access)["cnf"]["jkt"],
        dpop.proof_thumbprint()
    );
    assert_eq!(userinfo(&h, &after.access, &dpop).status, 200);

    assert_eq!(
        h.send(Req::new(Method::DELETE, &format!("/v1/clients/{d}")).bearer(&o.session))
            .body["message"],
        "Client deleted"
    );
    // Grants and tokens go with the client: its live access token stops working at once.
    assert_eq!(userinfo(&h, &after.access, &dpop).status, 401);
    let gone = new.refresh(&h, &after.refresh);
    assert_eq!(
        (gone.status, gone.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let list = h.send(Req::get("/v1/clients/list/overseer").bearer(&o.session));
    assert_eq!(list.body["clients"], json!([]));
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
    let list = h.send(Req::get("/v1/clients/list/overseer").bearer(&o.session));
    assert_eq!(
        list.body["clients"].as_array().map(Vec::len),
        Some(2),
        "both clients are still there: {}",
        list.body
    );
}

#[test]
fn blocks_revoke_grants_for_that_agent_only() {
    let h = Harness::new();
    let (o, a) = pool(&h);
    let client = Client::register(&h, "overseer", &o.session, "Demo Client");
    let c = client.id.clone();
    // Agent A and an agent of no pool (a FREE agent may grant ten a month) both grant access.
    let other = h.register(&TestKey::random(), "Other");
    let mine = client.grant(&h, &a);
    let theirs = client.grant(&h, &other);
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
    assert_eq!(
        client.introspect(&h, &mine.access),
        json!({"active": false})
    );
    assert_eq!(
        oauth_error(&client.refresh(&h, &mine.refresh)).1,
        "invalid_grant"
    );
    // The other agent's grant is untouched.
    assert_eq!(client.introspect(&h, &theirs.access)["active"], true);
    let theirs = Tokens::issued(&client.refresh(&h, &theirs.refresh));
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
    // Unblocking restores nothing: with the block gone, A's grant is still revoked.
    assert_eq!(
        oauth_error(&client.refresh(&h, &mine.refresh)),
        (400, "invalid_grant", "the grant has been revoked"),
        "unblocking restores nothing"
    );
    assert_eq!(
        client.introspect(&h, &mine.access),
        json!({"active": false})
    );
    assert_eq!(client.introspect(&h, &theirs.access)["active"], true);
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
    let v = listed(&h, "agent", &a.session, &c);
    assert_eq!(
        (v["disabled"].as_bool(), v["disabled_reason"].as_str()),
        (Some(true), Some("tier_limit"))
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
