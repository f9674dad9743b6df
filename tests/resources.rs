//! Protected resources (issue 10; docs/resources.md "Protected resources"): the overseer's
//! registrations, their limits per tier, and the public RFC 9728 metadata document.

mod common;

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use async_trait::async_trait;
use http::Method;
use serde_json::{json, Value};

use agent_id::store::{Db, Outcome, Statement, StoreError};
use common::oauth::{world, Tokens};
use common::*;

const PATH: &str = "/v1/overseers/me/resources";

fn body() -> Value {
    json!({
        "uri": "https://mcp.example.com/mcp",
        "name": "Example MCP",
        "scopes": [
            {"name": "tools:read", "description": "List and read tools"},
            {"name": "tools:call", "description": "Call tools"}
        ]
    })
}

fn register(h: &Harness, session: &str, body: Value) -> Resp {
    h.send(Req::post(PATH).bearer(session).json(body))
}

fn registered(h: &Harness, session: &str, body: Value) -> Value {
    let r = register(h, session, body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["resource"].clone()
}

fn at(id: &str) -> String {
    format!("{PATH}/{id}")
}

fn patch(path: &str) -> Req {
    Req::new(Method::PATCH, path)
}

fn delete(path: &str) -> Req {
    Req::new(Method::DELETE, path)
}

fn metadata_path(id: &str) -> String {
    format!("/v1/resources/{id}/oauth-protected-resource")
}

fn resources(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM protected_resources")
}

fn code(r: &Resp) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

#[test]
fn an_overseer_registers_reads_updates_and_deletes_a_resource() {
    let h = Harness::with_vars(&[("OAUTH_ES256_SIGNING_KEY", ES256_JWK)]);
    let o = h.overseer("o@example.test");
    let r = register(
        &h,
        &o.session,
        json!({
            "uri": "HTTPS://MCP.Example.com:443/mcp",
            "name": "  Example MCP ",
            "scopes": [{"name": "tools:read", "description": " List tools "}, {"name": "tools:call"}],
            "dpop_bound_access_tokens": true,
            "access_token_alg": "ES256"
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let res = &r.body["resource"];
    let id = res["id"].as_str().unwrap().to_owned();
    let created = res["created_at"].clone();
    assert_eq!(
        res,
        &json!({
            "id": id,
            "uri": "https://mcp.example.com/mcp",
            "name": "Example MCP",
            "scopes": [{"name": "tools:read", "description": "List tools"},
                       {"name": "tools:call", "description": ""}],
            "dpop_bound_access_tokens": true,
            "access_token_alg": "ES256",
            "metadata_url": format!("{ISSUER}/v1/resources/{id}/oauth-protected-resource"),
            "created_at": created,
            "updated_at": created,
        }),
        "canonical URI, trimmed texts, every member"
    );

    let got = h.send(Req::get(&at(&id)).bearer(&o.session));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(&got.body["resource"], res);
    let list = h.send(Req::get(PATH).bearer(&o.session));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body,
        json!({"success": true, "resources": [res], "count": 1, "max_resources": 1})
    );

    h.clock.advance_secs(60);
    let changed = h.send(patch(&at(&id)).bearer(&o.session).json(json!({
        "name": "Renamed",
        "scopes": [{"name": "files:read", "description": "Read files"}],
        "dpop_bound_access_tokens": false,
        "access_token_alg": "EdDSA"
    })));
    assert_eq!(changed.status, 200, "{}", changed.body);
    let c = &changed.body["resource"];
    assert_eq!(c["uri"], "https://mcp.example.com/mcp");
    assert_eq!(c["name"], "Renamed");
    assert_eq!(
        c["scopes"],
        json!([{"name": "files:read", "description": "Read files"}])
    );
    assert_eq!(c["dpop_bound_access_tokens"], false);
    assert_eq!(c["access_token_alg"], "EdDSA");
    assert_eq!(c["created_at"], created);
    assert_ne!(c["updated_at"], created);

    // Absent members keep their value.
    let partial = h.send(
        patch(&at(&id))
            .bearer(&o.session)
            .json(json!({"dpop_bound_access_tokens": true})),
    );
    assert_eq!(partial.status, 200, "{}", partial.body);
    assert_eq!(partial.body["resource"]["name"], "Renamed");
    assert_eq!(partial.body["resource"]["dpop_bound_access_tokens"], true);

    let events = h.count(
        "SELECT COUNT(*) AS n FROM audit_events WHERE subject_type = 'resource' \
         AND type IN ('resource.registered', 'resource.updated')",
    );
    assert_eq!(events, 3);

    let gone = h.send(delete(&at(&id)).bearer(&o.session));
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(
        gone.body,
        json!({"success": true, "message": "Resource deleted"})
    );
    assert_eq!(
        code(&h.send(Req::get(&at(&id)).bearer(&o.session))),
        (404, "resource_not_found")
    );
    assert_eq!(
        code(&h.send(Req::get(&metadata_path(&id)))),
        (404, "resource_not_found")
    );
    assert_eq!(resources(&h), 0);
    // The URI is free again.
    assert_eq!(register(&h, &o.session, body()).status, 201);
}

#[test]
fn the_uri_is_immutable() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let id = registered(&h, &o.session, body())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for uri in [json!("https://other.example.com/"), json!(null)] {
        let r = h.send(
            patch(&at(&id))
                .bearer(&o.session)
                .json(json!({"uri": uri, "name": "New"})),
        );
        assert_eq!(code(&r), (400, "invalid_field"), "{}", r.body);
        assert!(r.body["error"].as_str().unwrap().contains("audience"));
    }
    let got = h.send(Req::get(&at(&id)).bearer(&o.session));
    assert_eq!(
        got.body["resource"]["name"], "Example MCP",
        "nothing written"
    );
}

#[test]
fn the_metadata_document_is_rfc_9728_public_and_cacheable() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let res = registered(
        &h,
        &o.session,
        json!({"uri": "https://api.example.com/v1", "name": "Weather API",
               "scopes": [{"name": "forecast"}, {"name": "alerts:write", "description": "Post alerts"}],
               "dpop_bound_access_tokens": true}),
    );
    let url = res["metadata_url"].as_str().unwrap();
    let path = url.strip_prefix(ISSUER).unwrap();
    let r = h.send(Req::get(path));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        String::from_utf8(r.raw.clone()).unwrap(),
        format!(
            r#"{{"resource":"https://api.example.com/v1","authorization_servers":["{ISSUER}"],"scopes_supported":["forecast","alerts:write","offline_access"],"bearer_methods_supported":["header"],"dpop_signing_alg_values_supported":["EdDSA","ES256"],"dpop_bound_access_tokens_required":true,"resource_name":"Weather API"}}"#
        ),
        "exact bytes, no envelope"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // A session, if sent, changes nothing; an update shows at once.
    let id = res["id"].as_str().unwrap();
    h.send(
        patch(&at(id))
            .bearer(&o.session)
            .json(json!({"dpop_bound_access_tokens": false})),
    );
    let r = h.send(Req::get(path).bearer(&o.session));
    assert_eq!(r.body["dpop_bound_access_tokens_required"], false);

    for unknown in [
        metadata_path("00000000-0000-4000-8000-000000000000"),
        metadata_path("not-a-uuid"),
    ] {
        let r = h.send(Req::get(&unknown));
        assert_eq!(code(&r), (404, "resource_not_found"), "{unknown}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
}

/// The refusal catalogue of docs/resources.md (R1–R20): each writes nothing.
#[test]
fn bad_registrations_are_refused_and_write_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let with = |k: &str, v: Value| {
        let mut b = body();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = body();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let scopes = |s: Value| with("scopes", s);
    let many: Vec<Value> = (0..33).map(|i| json!({"name": format!("s{i}")})).collect();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("R1", without("uri"), 400, "missing_field"),
        (
            "R2",
            with("uri", json!("mcp.example.com/mcp")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R3",
            with("uri", json!("http://mcp.example.com/mcp")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R4",
            with("uri", json!("http://localhost:8080/mcp")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R5",
            with("uri", json!("https://mcp.example.com/mcp#x")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R6",
            with("uri", json!("https://mcp.example.com/mcp?v=1")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R7",
            with("uri", json!("https://u:p@mcp.example.com/")),
            400,
            "invalid_resource_uri",
        ),
        (
            "R8",
            with("uri", json!("https://mcp.example.com/a/../b")),
            400,
            "invalid_resource_uri",
        ),
        ("R9", with("uri", json!(42)), 400, "invalid_field"),
        ("R10", without("name"), 400, "missing_field"),
        (
            "R11",
            with("name", json!("x".repeat(129))),
            400,
            "invalid_field",
        ),
        ("R12", without("scopes"), 400, "missing_field"),
        ("R13", scopes(json!([])), 400, "invalid_scope"),
        ("R14", scopes(json!(many)), 400, "invalid_scope"),
        (
            "R15",
            scopes(json!([{"name": "a b"}])),
            400,
            "invalid_scope",
        ),
        (
            "R16",
            scopes(json!([{"name": "offline_access"}])),
            400,
            "invalid_scope",
        ),
        (
            "R17",
            scopes(json!([{"name": "a"}, {"name": "a"}])),
            400,
            "invalid_scope",
        ),
        (
            "R18",
            scopes(json!([{"name": "a", "description": "d".repeat(201)}])),
            400,
            "invalid_scope",
        ),
        ("R19", scopes(json!(["tools:read"])), 400, "invalid_field"),
        (
            "R20",
            with("access_token_alg", json!("RS256")),
            400,
            "invalid_field",
        ),
        (
            "R21",
            with("dpop_bound_access_tokens", json!("yes")),
            400,
            "invalid_field",
        ),
    ];
    for (id, b, status, want) in cases {
        let r = register(&h, &o.session, b);
        assert_eq!(code(&r), (status, want), "{id}: {}", r.body);
    }
    let r = h.send(
        Req::post(PATH)
            .bearer(&o.session)
            .raw("text/plain", b"{}".to_vec()),
    );
    assert_eq!(code(&r), (415, "unsupported_media_type"));
    assert_eq!(
        code(&h.send(Req::post(PATH).json(body()))),
        (401, "authentication_required")
    );
    assert_eq!(resources(&h), 0);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type LIKE 'resource.%'"),
        0
    );
    // Every scope name of the identity registry is reserved too.
    for reserved in [
        "id",
        "name",
        "description",
        "pub_key",
        "subscription",
        "openid",
    ] {
        let r = register(&h, &o.session, scopes(json!([{"name": reserved}])));
        assert_eq!(code(&r), (400, "invalid_scope"), "{reserved}");
    }
}

#[test]
fn bad_updates_are_refused_and_write_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let before = registered(&h, &o.session, body());
    let id = before["id"].as_str().unwrap();
    for b in [
        json!({"name": ""}),
        json!({"scopes": []}),
        json!({"scopes": [{"name": "pub_key"}]}),
        json!({"access_token_alg": "HS256"}),
        json!({"dpop_bound_access_tokens": 1}),
    ] {
        let r = h.send(patch(&at(id)).bearer(&o.session).json(b.clone()));
        assert_eq!(r.status, 400, "{b}: {}", r.body);
    }
    let after = h.send(Req::get(&at(id)).bearer(&o.session));
    assert_eq!(after.body["resource"], before);
}

#[test]
fn a_uri_belongs_to_one_resource_whoever_registered_it() {
    let h = Harness::new();
    let a = h.overseer("a@example.test");
    let b = h.overseer("b@example.test");
    registered(&h, &a.session, body());
    // The same identifier, written differently, is the same resource.
    let r = register(
        &h,
        &b.session,
        json!({"uri": "https://MCP.example.com:443/mcp", "name": "Mine", "scopes": [{"name": "x"}]}),
    );
    assert_eq!(code(&r), (409, "resource_exists"), "{}", r.body);
    // A different path is a different resource.
    let mut other = body();
    other["uri"] = json!("https://mcp.example.com/mcp/");
    assert_eq!(register(&h, &b.session, other).status, 201);
    assert_eq!(resources(&h), 2);
}

#[test]
fn another_overseers_resource_is_not_found() {
    let h = Harness::new();
    let a = h.overseer("a@example.test");
    let b = h.overseer("b@example.test");
    let id = registered(&h, &a.session, body())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for req in [
        Req::get(&at(&id)),
        patch(&at(&id)).json(json!({"name": "Stolen"})),
        delete(&at(&id)),
    ] {
        assert_eq!(
            code(&h.send(req.bearer(&b.session))),
            (404, "resource_not_found")
        );
    }
    for bad in ["not-a-uuid", "00000000-0000-4000-8000-000000000000"] {
        assert_eq!(
            code(&h.send(Req::get(&at(bad)).bearer(&a.session))),
            (404, "resource_not_found")
        );
    }
    let list = h.send(Req::get(PATH).bearer(&b.session));
    assert_eq!(list.body["resources"], json!([]));
    assert_eq!(list.body["count"], 0);
    let got = h.send(Req::get(&at(&id)).bearer(&a.session));
    assert_eq!(got.body["resource"]["name"], "Example MCP");
    // Agents have no resources: an agent session is the wrong kind of account.
    let agent = h.register(&TestKey::random(), "A");
    assert_eq!(
        code(&h.send(Req::get(PATH).bearer(&agent.session))),
        (403, "forbidden")
    );
}

/// Registers `n` resources `https://{tag}-{i}.example.com/`.
fn fill_to(h: &Harness, session: &str, tag: &str, n: usize) {
    for i in 0..n {
        let r = register(
            h,
            session,
            json!({"uri": format!("https://{tag}-{i}.example.com/"), "name": format!("R{i}"),
                   "scopes": [{"name": "use"}]}),
        );
        assert_eq!(r.status, 201, "{i}: {}", r.body);
    }
}

#[test]
fn each_tier_limits_how_many_resources_an_overseer_registers() {
    let h = Harness::new();
    for (email, tier, max) in [
        ("free@example.test", None, 1),
        ("basic@example.test", Some("BASIC"), 3),
        ("pro@example.test", Some("PRO"), 10),
    ] {
        let o = h.overseer(email);
        if let Some(tier) = tier {
            h.subscribe(&o.id, tier);
        }
        fill_to(&h, &o.session, &o.id, max);
        let mut over = body();
        over["uri"] = json!(format!("https://over.{}/", email.replace('@', ".")));
        let r = register(&h, &o.session, over);
        assert_eq!(code(&r), (403, "tier_limit_reached"), "{email}: {}", r.body);
        let list = h.send(Req::get(PATH).bearer(&o.session));
        assert_eq!(list.body["count"], max, "{email}");
        assert_eq!(list.body["max_resources"], max, "{email}");
        let usage = h.send(Req::get("/v1/overseers/me/usage").bearer(&o.session));
        assert_eq!(usage.body["usage"]["resources_registered"], max);
        assert_eq!(usage.body["usage"]["max_resources"], max);
    }
    let o = h.overseer("premium@example.test");
    h.subscribe(&o.id, "PREMIUM");
    fill_to(&h, &o.session, "premium", 12);
    let list = h.send(Req::get(PATH).bearer(&o.session));
    assert_eq!(list.body["max_resources"], -1);
}

#[test]
fn the_tiers_list_their_resource_limits() {
    let h = Harness::new();
    let r = h.send(Req::get("/v1/subscriptions/tiers"));
    let limits: Vec<(Value, Value)> = r.body["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tier"].clone(), t["max_resources"].clone()))
        .collect();
    assert_eq!(
        limits,
        [
            (json!("FREE"), json!(1)),
            (json!("BASIC"), json!(3)),
            (json!("PRO"), json!(10)),
            (json!("PREMIUM"), json!(-1)),
        ]
    );
}

/// Yields once before every database call, so that concurrent requests interleave at each of
/// their round trips: all of them read (session, tier) before any of them writes.
struct Interleave(Rc<dyn Db>);

async fn yield_once() {
    let yielded = Cell::new(false);
    poll_fn(|cx| {
        if yielded.replace(true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

#[async_trait(?Send)]
impl Db for Interleave {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        yield_once().await;
        self.0.run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        yield_once().await;
        self.0.batch(stmts).await
    }
}

fn interleaved() -> Harness {
    Harness::with_db_layer(agent_id::config::Config::load(&vars(&[])), |db| {
        Rc::new(Interleave(db)) as Rc<dyn Db>
    })
}

fn statuses(h: &Harness, reqs: Vec<Req>) -> Vec<(u16, String)> {
    let pending: Vec<_> = reqs
        .into_iter()
        .map(|r| h.app.handle(r.into_request()))
        .collect();
    futures::executor::block_on(futures::future::join_all(pending))
        .into_iter()
        .map(|handled| {
            let r = Resp::from(handled.into_response().unwrap());
            (r.status, r.body["code"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

#[test]
fn parallel_registrations_at_the_limit_pass_it_exactly() {
    let h = interleaved();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    fill_to(&h, &o.session, "basic", 1);
    let reqs = (0..6)
        .map(|i| {
            Req::post(PATH).bearer(&o.session).json(json!({
                "uri": format!("https://p{i}.example.com/"), "name": "P", "scopes": [{"name": "x"}]
            }))
        })
        .collect();
    let got = statuses(&h, reqs);
    let ok = got.iter().filter(|(s, _)| *s == 201).count();
    let limited = got
        .iter()
        .filter(|(s, c)| *s == 403 && c == "tier_limit_reached")
        .count();
    assert_eq!((ok, limited), (2, 4), "{got:?}");
    assert_eq!(resources(&h), 3);
}

#[test]
fn parallel_registrations_of_one_uri_have_one_winner() {
    let h = interleaved();
    let overseers: Vec<Overseer> = (0..4)
        .map(|i| h.overseer(&format!("o{i}@example.test")))
        .collect();
    let reqs = overseers
        .iter()
        .map(|o| Req::post(PATH).bearer(&o.session).json(body()))
        .collect();
    let got = statuses(&h, reqs);
    let ok = got.iter().filter(|(s, _)| *s == 201).count();
    let taken = got
        .iter()
        .filter(|(s, c)| *s == 409 && c == "resource_exists")
        .count();
    assert_eq!((ok, taken), (1, 3), "{got:?}");
    assert_eq!(resources(&h), 1);
}

#[test]
fn http_on_loopback_only_when_agent_id_runs_on_loopback() {
    let dev = Harness::with_vars(&[("PUBLIC_BASE_URL", "http://127.0.0.1:8787")]);
    let o = dev.overseer("o@example.test");
    let mut b = body();
    b["uri"] = json!("http://127.0.0.1:9000/mcp");
    let res = registered(&dev, &o.session, b.clone());
    assert_eq!(res["uri"], "http://127.0.0.1:9000/mcp");
    assert_eq!(
        res["metadata_url"],
        format!(
            "http://127.0.0.1:8787/v1/resources/{}/oauth-protected-resource",
            res["id"].as_str().unwrap()
        )
    );
    let mut public = b.clone();
    public["uri"] = json!("http://mcp.example.com/mcp");
    assert_eq!(
        code(&register(&dev, &o.session, public)),
        (400, "invalid_resource_uri")
    );

    let prod = Harness::new();
    let o = prod.overseer("o@example.test");
    assert_eq!(
        code(&register(&prod, &o.session, b)),
        (400, "invalid_resource_uri")
    );
}

/// Deleting a resource revokes the grants that hold it (and only those): their refresh tokens
/// and access tokens stop at agent-id at once.
#[test]
fn deleting_a_resource_revokes_the_grants_holding_it() {
    let w = world();
    let h = &w.h;
    let res = registered(h, &w.overseer.session, body());
    let holding = w.client.grant(h, &w.agent);
    let other = w.client.grant(h, &w.agent);
    // The token slice records the resources a grant was approved for; here, written directly.
    h.sql(
        "UPDATE oauth_grants SET resources = ?1 WHERE id = \
         (SELECT grant_id FROM refresh_tokens WHERE token_hash = ?2)",
        vec![
            json!([
                "https://elsewhere.example.com/",
                "https://mcp.example.com/mcp"
            ])
            .to_string()
            .into(),
            agent_id::domain::ids::sha256_hex(&holding.refresh).into(),
        ],
    );
    let r = h.send(delete(&at(res["id"].as_str().unwrap())).bearer(&w.overseer.session));
    assert_eq!(r.status, 200, "{}", r.body);

    let refused = w.refresh(&holding.refresh);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"], "invalid_grant");
    assert_eq!(w.introspect(&holding.access)["active"], false);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oauth_grants WHERE revoked_reason = 'resource_deleted'"),
        1
    );
    // The grant without the resource lives on.
    assert_eq!(w.introspect(&other.access)["active"], true);
    Tokens::issued(&w.refresh(&other.refresh));
}

/// Erasing an account erases its resources, and so ends the grants holding them the same way.
#[test]
fn deleting_the_account_ends_the_grants_holding_its_resources() {
    let w = world();
    let h = &w.h;
    let owner = h.overseer("owner@example.test");
    registered(h, &owner.session, body());
    let holding = w.client.grant(h, &w.agent);
    h.sql(
        "UPDATE oauth_grants SET resources = ?1",
        vec![json!(["https://mcp.example.com/mcp"]).to_string().into()],
    );
    let r = h.send(
        Req::post("/v1/overseers/me/delete")
            .bearer(&owner.session)
            .json(json!({"password": "correct horse"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(resources(h), 0);
    assert_eq!(w.refresh(&holding.refresh).body["error"], "invalid_grant");
    assert_eq!(w.introspect(&holding.access)["active"], false);
    // The identifier is free, and the new registration inherits no grant.
    registered(h, &w.overseer.session, body());
    assert_eq!(w.introspect(&holding.access)["active"], false);
}
