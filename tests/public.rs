//! Issue 10, items 2 and 6: public clients (`token_endpoint_auth_method: "none"`), their
//! DPoP-bound refresh tokens (RFC 9449 §5), and the refresh grace window — all through the
//! App's HTTP surface over SQLite with the real migrations and the manual clock. The concurrent
//! tests hold the rotation batches back until every request has read the token, so each one
//! decides on the same state (as D1 requests from several nodes would).

mod common;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use async_trait::async_trait;
use serde_json::{json, Value};

use agent_id::config::Config;
use agent_id::store::{Db, Outcome, Statement, StoreError, Value as SqlValue};

use common::oauth::*;
use common::*;

const NATIVE_CB: &str = "http://127.0.0.1/cb";
const TOKEN: &str = "/v1/oauth/token";

/// A public client registered by `o` (native unless `web`), for [`NATIVE_CB`] and [`REDIRECT`].
fn public_client(h: &Harness, o: &Overseer, native: bool) -> String {
    let r = h.send(
        Req::post("/v1/clients/register/overseer")
            .bearer(&o.session)
            .json(
                json!({"name": "Public App", "redirect_uris": [NATIVE_CB, REDIRECT],
                         "token_endpoint_auth_method": "none", "scope": CLIENT_SCOPE,
                         "application_type": if native { "native" } else { "web" }}),
            ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["client"]["id"].as_str().unwrap().to_owned()
}

/// A form post to `path` with no client authentication but the pairs given.
fn post(path: &str, pairs: &[(&str, &str)]) -> Req {
    Req::post(path).raw(FORM, form(pairs))
}

/// The redemption of `code` by the public client `id`, with a proof by `dpop` if given.
fn exchange_req(h: &Harness, id: &str, code: &str, redirect: &str, dpop: Option<&TestKey>) -> Req {
    let req = post(
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    );
    match dpop {
        Some(k) => req.header("dpop", &h.post_proof(k, TOKEN)),
        None => req,
    }
}

fn refresh_req(h: &Harness, id: &str, refresh: &str, dpop: Option<&TestKey>) -> Req {
    let req = post(
        TOKEN,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("refresh_token", refresh),
        ],
    );
    match dpop {
        Some(k) => req.header("dpop", &h.post_proof(k, TOKEN)),
        None => req,
    }
}

/// The agent's consent to the public client `id` for `redirect`: the code.
fn code_for(w: &World, id: &str, redirect: &str) -> String {
    let r = authorize(&w.h, &w.agent, id, json!({"redirect_uri": redirect}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["code"].as_str().unwrap().to_owned()
}

fn count(h: &Harness, sql: &'static str, p: &str) -> i64 {
    h.sql(sql, vec![SqlValue::from(p)]).rows[0]["n"]
        .as_i64()
        .unwrap()
}

fn clients(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM oauth_clients")
}

/// A public client with a DPoP-bound grant: (world, client id, DPoP key, tokens).
fn bound_grant(vars: &[(&str, &str)]) -> (World, String, TestKey, Tokens) {
    let w = world_with(vars);
    let id = public_client(&w.h, &w.overseer, true);
    let key = TestKey::random();
    let code = code_for(&w, &id, REDIRECT);
    let r =
        w.h.send(exchange_req(&w.h, &id, &code, REDIRECT, Some(&key)));
    assert_eq!(r.body["token_type"], "DPoP", "{}", r.body);
    let tokens = Tokens::issued(&r);
    (w, id, key, tokens)
}

// --- registration ---

#[test]
fn public_client_registration_and_view() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let list =
        w.h.send(Req::get("/v1/clients/list/overseer").bearer(&w.overseer.session));
    let views = list.body["clients"].as_array().unwrap();
    let public = views.iter().find(|c| c["id"] == id.as_str()).unwrap();
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert_eq!(public["public_key"], Value::Null);
    assert_eq!(public["application_type"], "native");
    // Registered clients are unchanged.
    let registered = views
        .iter()
        .find(|c| c["id"] == w.client.id.as_str())
        .unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(registered["public_key"], w.client.key.x());
    // `public_key: null` counts as absent.
    let r = w.h.send(
        Req::post("/v1/clients/register/overseer")
            .bearer(&w.overseer.session)
            .json(json!({"name": "N", "redirect_uris": [REDIRECT],
                         "token_endpoint_auth_method": "none", "public_key": null})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

/// docs/resources.md, "Public clients and refresh", catalogue PC01–PC05: each refused with its
/// status and code, and nothing written.
#[test]
fn registration_catalogue() {
    let w = world();
    let key = TestKey::random().x();
    let cases = [
        (
            "PC01",
            json!({"token_endpoint_auth_method": "none", "public_key": key}),
            400,
            "public_key_not_allowed",
        ),
        (
            "PC02",
            json!({"token_endpoint_auth_method": "client_secret_basic", "public_key": key}),
            400,
            "invalid_field",
        ),
        (
            "PC03",
            json!({"token_endpoint_auth_method": 1, "public_key": key}),
            400,
            "invalid_field",
        ),
        (
            "PC04",
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            400,
            "missing_field",
        ),
        (
            "PC05",
            json!({"token_endpoint_auth_method": "none", "public_key": 7}),
            400,
            "public_key_not_allowed",
        ),
    ];
    let before = clients(&w.h);
    for (id, extra, status, code) in cases {
        let mut body = json!({"name": "X", "redirect_uris": [REDIRECT]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = w.h.send(
            Req::post("/v1/clients/register/overseer")
                .bearer(&w.overseer.session)
                .json(body),
        );
        assert_eq!((r.status, r.code()), (status, code), "{id}: {}", r.body);
    }
    assert_eq!(clients(&w.h), before, "nothing written");
}

/// PC06: a public client has no key to rotate.
#[test]
fn a_public_client_key_cannot_be_replaced() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let r = w.h.send(
        Req::new(http::Method::PUT, &format!("/v1/clients/{id}/key"))
            .bearer(&w.overseer.session)
            .json(json!({"public_key": TestKey::random().x()})),
    );
    r.assert_error(409, "public_client_has_no_key");
    let keys = w.h.sql(
        "SELECT public_key, token_endpoint_auth_method FROM oauth_clients WHERE id = ?1",
        vec![SqlValue::from(id.as_str())],
    );
    assert_eq!(keys.rows[0]["public_key"], "");
    assert_eq!(keys.rows[0]["token_endpoint_auth_method"], "none");
}

// --- authorize: loopback redirect URIs ---

#[test]
fn native_public_clients_use_any_port_on_loopback_ip_literals() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let redirect = "http://127.0.0.1:51234/cb";
    let code = code_for(&w, &id, redirect);
    let key = TestKey::random();
    // The code is redeemed with the URI as presented, port included.
    let r =
        w.h.send(exchange_req(&w.h, &id, &code, redirect, Some(&key)));
    assert_eq!(r.status, 200, "{}", r.body);
    for refused in [
        "http://localhost:51234/cb",
        "http://127.0.0.2:51234/cb",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/cb/",
        "https://app.example.com:8443/cb",
    ] {
        let r = authorize(&w.h, &w.agent, &id, json!({"redirect_uri": refused}));
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_request")),
            "{refused}"
        );
    }
    // A public web client matches exactly.
    let web = public_client(&w.h, &w.overseer, false);
    let r = authorize(&w.h, &w.agent, &web, json!({"redirect_uri": redirect}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        authorize(&w.h, &w.agent, &web, json!({"redirect_uri": NATIVE_CB})).status,
        200
    );
}

// --- token endpoint: `none` ---

#[test]
fn public_client_code_flow_with_dpop_binds_the_refresh_token() {
    let (w, id, key, tokens) = bound_grant(&[]);
    let u = w.userinfo(&tokens.access, &key);
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["sub"], w.agent.id.as_str());
    let bound = "SELECT COUNT(*) AS n FROM refresh_tokens WHERE dpop_jkt = ?1";
    assert_eq!(count(&w.h, bound, &key.proof_thumbprint()), 1);
    // Rotation with the same key; the successor keeps the binding.
    let r =
        w.h.send(refresh_req(&w.h, &id, &tokens.refresh, Some(&key)));
    let next = Tokens::issued(&r);
    assert_eq!(count(&w.h, bound, &key.proof_thumbprint()), 2);
    assert_eq!(w.userinfo(&next.access, &key).status, 200);
}

#[test]
fn wrong_pkce_is_refused_and_leaves_the_code_usable() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let code = code_for(&w, &id, REDIRECT);
    let key = TestKey::random();
    let wrong = post(
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"a".repeat(43)),
        ],
    )
    .header("dpop", &w.h.post_proof(&key, TOKEN));
    let r = w.h.send(wrong);
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let missing = post(
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .header("dpop", &w.h.post_proof(&key, TOKEN));
    assert_eq!(w.h.send(missing).body["error"], "invalid_grant");
    let r =
        w.h.send(exchange_req(&w.h, &id, &code, REDIRECT, Some(&key)));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn an_assertion_for_a_public_client_is_refused() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let code = code_for(&w, &id, REDIRECT);
    let impostor = Client {
        id: id.clone(),
        key: TestKey::random(),
    };
    let r = w.h.send(impostor.form(
        &w.h,
        TOKEN,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    ));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client")),
        "{}",
        r.body
    );
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM oauth_grants"),
        0,
        "nothing written"
    );
}

#[test]
fn a_confidential_client_cannot_use_none() {
    let w = world();
    let code = w.code();
    let r = w.h.send(
        post(
            TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &w.client.id),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .header("dpop", &w.h.post_proof(&TestKey::random(), TOKEN)),
    );
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        r.body["error_description"], "client authentication with private_key_jwt is required",
        "today's refusal, unchanged"
    );
    assert_eq!(
        w.exchange(&code, None).status,
        200,
        "the code is still usable"
    );
}

/// A public client without a proof gets an unbound Bearer token (the token policy of
/// docs/resources.md: no proof, no DPoP requirement, not a registered key client).
#[test]
fn a_public_client_without_a_proof_gets_a_bearer_token() {
    let w = world();
    let id = public_client(&w.h, &w.overseer, true);
    let code = code_for(&w, &id, REDIRECT);
    let r = w.h.send(exchange_req(&w.h, &id, &code, REDIRECT, None));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    let access = r.body["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&agent_id::jose::b64::decode_strict(payload).unwrap()).unwrap();
    assert_eq!(claims["client_id"], id.as_str());
    assert!(claims.get("cnf").is_none(), "unbound: {claims}");
}

#[test]
fn introspection_is_refused_to_public_clients() {
    let (w, id, _key, tokens) = bound_grant(&[]);
    let r = w.h.send(post(
        "/v1/oauth/introspect",
        &[("client_id", &id), ("token", &tokens.access)],
    ));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[test]
fn a_public_client_revokes_its_own_tokens() {
    let (w, id, key, tokens) = bound_grant(&[]);
    // Another public client's revocation does nothing.
    let other = public_client(&w.h, &w.overseer, true);
    let r = w.h.send(post(
        "/v1/oauth/revoke",
        &[("client_id", &other), ("token", &tokens.refresh)],
    ));
    assert_eq!((r.status, &r.body), (200, &json!({})));
    assert_eq!(w.userinfo(&tokens.access, &key).status, 200);
    let r = w.h.send(post(
        "/v1/oauth/revoke",
        &[("client_id", &id), ("token", &tokens.refresh)],
    ));
    assert_eq!((r.status, &r.body), (200, &json!({})));
    assert_eq!(w.userinfo(&tokens.access, &key).status, 401);
    let audit = "SELECT COUNT(*) AS n FROM audit_events WHERE type = ?1";
    assert_eq!(count(&w.h, audit, "oauth.token_revoked"), 1);
}

/// Grace (e): a DPoP-bound refresh token presented with another key, or without a proof, is
/// refused without side effects: the family lives on and the token still works.
#[test]
fn a_bound_refresh_token_needs_its_key() {
    let (w, id, key, tokens) = bound_grant(&[]);
    let state = |h: &Harness| {
        h.sql(
            "SELECT (SELECT COUNT(*) FROM refresh_tokens) AS tokens, \
               (SELECT COUNT(*) FROM refresh_tokens WHERE replaced_by IS NOT NULL) AS rotated, \
               (SELECT COUNT(*) FROM oauth_grants WHERE revoked_at IS NOT NULL) AS revoked, \
               (SELECT COUNT(*) FROM access_tokens) AS access",
            vec![],
        )
        .rows[0]
            .clone()
    };
    let before = state(&w.h);
    let thief = TestKey::random();
    let r =
        w.h.send(refresh_req(&w.h, &id, &tokens.refresh, Some(&thief)));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        r.body
    );
    assert_eq!(state(&w.h), before, "no side effects");
    // Without a proof: refused too (today as `invalid_dpop_proof`, see
    // `a_public_client_without_a_proof_gets_no_token_yet`; with Bearer tokens, `invalid_grant`).
    let r = w.h.send(refresh_req(&w.h, &id, &tokens.refresh, None));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(state(&w.h), before, "no side effects");
    let r =
        w.h.send(refresh_req(&w.h, &id, &tokens.refresh, Some(&key)));
    assert_eq!(r.status, 200, "{}", r.body);
}

// --- the refresh grace window ---

/// Holds back the first `n` rotation batches until all `n` arrived, then commits them in
/// arrival order: `n` requests decided on one state. Other batches pass straight through.
struct Gate {
    inner: RefCell<Option<Rc<dyn Db>>>,
    n: Cell<usize>,
    arrived: Cell<usize>,
}

#[async_trait(?Send)]
impl Db for Gate {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        let inner = self.inner.borrow().clone().unwrap();
        inner.run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        let inner = self.inner.borrow().clone().unwrap();
        let rotation = stmts
            .iter()
            .any(|s| s.sql.contains("UPDATE refresh_tokens SET rotated_at"));
        if rotation && self.arrived.get() < self.n.get() {
            self.arrived.set(self.arrived.get() + 1);
            poll_fn(|cx| {
                if self.arrived.get() >= self.n.get() {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        }
        inner.batch(stmts).await
    }
}

/// A world whose rotation batches can be held back by the returned gate.
fn gated_world(extra: &[(&str, &str)]) -> (World, Rc<Gate>) {
    let gate = Rc::new(Gate {
        inner: RefCell::new(None),
        n: Cell::new(0),
        arrived: Cell::new(0),
    });
    let layer = {
        let gate = gate.clone();
        move |db: Rc<dyn Db>| {
            *gate.inner.borrow_mut() = Some(db);
            gate as Rc<dyn Db>
        }
    };
    let h = Harness::with_db_layer(Config::load(&vars(extra)), layer);
    (World::on(h), gate)
}

/// `n` refreshes with `token` sent at once, their batches held until all have read.
fn parallel_refreshes(w: &World, gate: &Gate, token: &str, n: usize) -> Vec<Resp> {
    gate.arrived.set(0);
    gate.n.set(n);
    let reqs: Vec<_> = (0..n)
        .map(|_| {
            w.h.app
                .handle(w.client.refresh_request(&w.h, token).into_request())
        })
        .collect();
    let out = futures::executor::block_on(futures::future::join_all(reqs));
    gate.n.set(0);
    out.into_iter()
        .map(|r| Resp::from(r.into_response().unwrap()))
        .collect()
}

/// The family's live refresh tokens (unreplaced), and whether the grant is revoked.
fn family(h: &Harness) -> (i64, bool) {
    let row = h.sql(
        "SELECT (SELECT COUNT(*) FROM refresh_tokens WHERE replaced_by IS NULL) AS live, \
           (SELECT COUNT(*) FROM oauth_grants WHERE revoked_at IS NOT NULL) AS revoked",
        vec![],
    );
    (
        row.rows[0]["live"].as_i64().unwrap(),
        row.rows[0]["revoked"].as_i64().unwrap() > 0,
    )
}

fn events(h: &Harness, kind: &str) -> i64 {
    count(
        h,
        "SELECT COUNT(*) AS n FROM audit_events WHERE type = ?1",
        kind,
    )
}

/// Grace (a): N refreshes of one token decided at once: every answer is a valid token
/// response, one successor stays live (the last committed), the family is not revoked, and
/// each extra answer is audited as a retry.
#[test]
fn parallel_refreshes_inside_the_window_all_succeed_with_one_live_successor() {
    let (w, gate) = gated_world(&[]);
    let first = w.client.grant(&w.h, &w.agent);
    let answers = parallel_refreshes(&w, &gate, &first.refresh, 4);
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200; 4],
        "{:?}",
        answers.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(family(&w.h), (1, false));
    assert_eq!(events(&w.h, "oauth.token_refreshed"), 1);
    assert_eq!(events(&w.h, "oauth.refresh_retried"), 3);
    let issued: Vec<Tokens> = answers.iter().map(Tokens::issued).collect();
    let live: Vec<&Tokens> = issued
        .iter()
        .filter(|t| w.introspect(&t.refresh)["active"] == true)
        .collect();
    assert_eq!(live.len(), 1, "exactly one live successor");
    // Every access token answered is valid; the live successor keeps working.
    for t in &issued {
        assert_eq!(w.introspect(&t.access)["active"], true);
    }
    w.h.clock.advance_secs(31);
    assert_eq!(w.refresh(&live[0].refresh).status, 200);
    assert_eq!(family(&w.h), (1, false));

    // Retries of a token already rotated, decided at once, inside the window: the same.
    let (w, gate) = gated_world(&[]);
    let first = w.client.grant(&w.h, &w.agent);
    assert_eq!(w.refresh(&first.refresh).status, 200);
    w.h.clock.advance_secs(10);
    let answers = parallel_refreshes(&w, &gate, &first.refresh, 3);
    assert!(answers.iter().all(|r| r.status == 200));
    assert_eq!(family(&w.h), (1, false));
    assert_eq!(events(&w.h, "oauth.refresh_retried"), 3);
}

/// A lost response: the retry gets a fresh successor and the lost one is retired, so
/// presenting the lost one later is a reuse.
#[test]
fn a_retry_retires_the_lost_successor() {
    let w = world();
    let first = w.client.grant(&w.h, &w.agent);
    let lost = Tokens::issued(&w.refresh(&first.refresh));
    w.h.clock.advance_secs(30);
    let retry = Tokens::issued(&w.refresh(&first.refresh));
    assert_eq!(family(&w.h), (1, false));
    assert_eq!(w.introspect(&lost.refresh), json!({"active": false}));
    assert_eq!(w.introspect(&retry.refresh)["active"], true);
    w.h.clock.advance_secs(1);
    let r = w.refresh(&lost.refresh);
    assert_eq!(
        r.body["error_description"],
        "refresh token has already been used"
    );
    assert!(family(&w.h).1, "the family is revoked");
}

/// Grace (b): reuse after the window revokes the family.
#[test]
fn reuse_after_the_window_revokes_the_family() {
    let w = world();
    let first = w.client.grant(&w.h, &w.agent);
    let next = Tokens::issued(&w.refresh(&first.refresh));
    w.h.clock.advance_secs(31);
    let r = w.refresh(&first.refresh);
    assert_eq!(
        (r.status, r.body["error_description"].as_str()),
        (400, Some("refresh token has already been used"))
    );
    assert!(family(&w.h).1);
    assert_eq!(w.introspect(&next.refresh), json!({"active": false}));
    assert_eq!(events(&w.h, "oauth.refresh_reuse_detected"), 1);
    assert_eq!(events(&w.h, "oauth.refresh_retried"), 0);
}

/// Grace (c): reuse inside the window after the successor was itself rotated revokes the
/// family.
#[test]
fn reuse_after_the_successor_was_used_revokes_the_family() {
    let w = world();
    let first = w.client.grant(&w.h, &w.agent);
    let second = Tokens::issued(&w.refresh(&first.refresh));
    let third = Tokens::issued(&w.refresh(&second.refresh));
    let r = w.refresh(&first.refresh);
    assert_eq!(
        r.body["error_description"],
        "refresh token has already been used"
    );
    assert!(family(&w.h).1);
    assert_eq!(w.introspect(&third.access), json!({"active": false}));
    assert_eq!(events(&w.h, "oauth.refresh_retried"), 0);
}

/// Grace (d): `REFRESH_GRACE_SECS=0` is today's behaviour: an immediate reuse revokes, and of
/// concurrent refreshes one wins and the others revoke the family.
#[test]
fn without_grace_reuse_revokes_at_once() {
    let w = world_with(&[("REFRESH_GRACE_SECS", "0")]);
    let first = w.client.grant(&w.h, &w.agent);
    assert_eq!(w.refresh(&first.refresh).status, 200);
    let r = w.refresh(&first.refresh);
    assert_eq!(
        r.body["error_description"],
        "refresh token has already been used"
    );
    assert!(family(&w.h).1);

    let (w, gate) = gated_world(&[("REFRESH_GRACE_SECS", "0")]);
    let first = w.client.grant(&w.h, &w.agent);
    let answers = parallel_refreshes(&w, &gate, &first.refresh, 3);
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400]);
    assert!(family(&w.h).1);
    assert_eq!(events(&w.h, "oauth.refresh_retried"), 0);
}

/// Grace applies to a public client's bound token too, and the retry keeps the binding.
#[test]
fn a_public_clients_retry_keeps_the_binding() {
    let (w, id, key, tokens) = bound_grant(&[]);
    let lost =
        w.h.send(refresh_req(&w.h, &id, &tokens.refresh, Some(&key)));
    assert_eq!(lost.status, 200);
    let thief = w.h.send(refresh_req(
        &w.h,
        &id,
        &tokens.refresh,
        Some(&TestKey::random()),
    ));
    assert_eq!(thief.body["error"], "invalid_grant");
    let retry =
        w.h.send(refresh_req(&w.h, &id, &tokens.refresh, Some(&key)));
    let retry = Tokens::issued(&retry);
    assert_eq!(family(&w.h), (1, false));
    let bound = "SELECT COUNT(*) AS n FROM refresh_tokens WHERE dpop_jkt = ?1";
    assert_eq!(count(&w.h, bound, &key.proof_thumbprint()), 3);
    assert_eq!(w.userinfo(&retry.access, &key).status, 200);
}
