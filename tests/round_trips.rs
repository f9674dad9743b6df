//! Storage round-trip budgets: for every endpoint, at most this many D1 round trips (a batch
//! counts once) and KV writes before the answer, checked on the request's metrics record
//! (`Harness::metrics`). Work deferred until after the answer (`waitUntil`) is not counted.

mod common;

use agent_id::metrics::RequestRecord;
use agent_id::routes::table::ENDPOINTS;
use common::oauth::{self as fixture, Client, World, CHALLENGE, REDIRECT};
use common::paddle::{envelope, sub, sub_link};
use common::*;
use http::Method;
use serde_json::json;

// --- the budget table (owned by the OAuth/table work; rows for the hot session paths below) ---

/// The most one request to an endpoint may cost before its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Budget {
    /// D1 calls: a `run` or a `batch` counts once.
    d1: u32,
    /// KV `put`s and `delete`s.
    kv_writes: u32,
}

const fn at_most(d1: u32, kv_writes: u32) -> Budget {
    Budget { d1, kv_writes }
}

/// One row per entry of the endpoint table (`ENDPOINTS[i].name`). A new endpoint fails
/// [`every_endpoint_has_a_budget`] until it gets a row here and a driver in [`drive`].
#[rustfmt::skip]
const BUDGETS: &[(&str, Budget)] = &[
    // Service: no storage at all.
    ("root",                        at_most(0, 0)),
    ("service_info",                at_most(0, 0)),
    ("health",                      at_most(0, 0)),
    ("openapi",                     at_most(0, 0)),
    // Agents
    ("agents.register_initiate",    at_most(1, 1)),
    ("agents.register_complete",    at_most(2, 1)),
    ("agents.login",                at_most(1, 1)),
    ("agents.logout",               at_most(3, 0)),
    ("agents.me",                   at_most(1, 0)),
    ("agents.oauth_history",        at_most(1, 0)),
    ("agents.overseer",             at_most(1, 0)),
    ("agents.profile",              at_most(1, 0)),
    // Web Bot Auth: the agent, its listed keys and its oversight in one batch.
    ("agents.key_directory",        at_most(1, 0)),
    ("agents.card",                 at_most(1, 0)),
    ("agents.did",                  at_most(1, 0)),
    ("agents.remove_previous_key",  at_most(2, 0)),
    ("verify.http_signature",       at_most(1, 0)),
    ("agents.rotate_initiate",      at_most(2, 1)),
    ("agents.rotate_complete",      at_most(3, 1)),
    // Claims
    ("claims.initiate",             at_most(7, 1)),
    ("claims.complete",             at_most(10, 0)),
    ("claims.status",               at_most(2, 0)),
    ("claims.revoke_overseer",      at_most(4, 0)),
    ("claims.declaim",              at_most(4, 0)),
    ("shadow.initiate",             at_most(4, 1)),
    ("shadow.status",               at_most(2, 0)),
    // Oversight
    ("oversight.block_client",      at_most(4, 0)),
    ("oversight.unblock_client",    at_most(3, 0)),
    ("oversight.blocked_clients",   at_most(3, 0)),
    ("oversight.agents",            at_most(4, 0)),
    ("oversight.mark_agent",        at_most(3, 0)),
    ("oversight.clients",           at_most(4, 0)),
    ("oversight.mark_client",       at_most(3, 0)),
    // Live grants (issue 12): the lists ride on the session check; a revocation reads, then
    // revokes and audits in one guarded batch.
    ("grants.agent_list",           at_most(1, 0)),
    ("grants.agent_revoke",         at_most(2, 0)),
    ("grants.overseer_list",        at_most(1, 0)),
    ("grants.overseer_revoke",      at_most(2, 0)),
    // OAuth clients
    ("clients.register",            at_most(5, 0)),
    ("clients.list",                at_most(2, 0)),
    ("clients.key",                 at_most(3, 0)),
    ("clients.delete",              at_most(3, 0)),
    ("clients.enable",              at_most(2, 0)),
    // Protected resources (issue 10): session, tier, tiers (until cached), the guarded insert
    // with its audit, and the read back.
    ("resources.register",          at_most(5, 0)),
    ("resources.list",              at_most(4, 0)),
    ("resources.get",               at_most(2, 0)),
    ("resources.update",            at_most(4, 0)),
    ("resources.delete",            at_most(3, 0)),
    ("resources.metadata",          at_most(1, 0)),
    // OAuth 2.1 / OpenID Connect
    ("oauth.discovery",             at_most(0, 0)),
    ("oauth.jwks",                  at_most(0, 0)),
    // Consent by the overseer in the browser (issue 10, consent)
    ("oauth.consent_describe",      at_most(5, 0)), // session, client, agents + resources, standing, tiers
    ("oauth.consent_decide",        at_most(6, 0)), // session, agent, client, standing, tiers, approval
    ("agents.settings",             at_most(2, 0)),
    ("agents.change_settings",      at_most(2, 0)),
    ("oauth.authorize_get",         at_most(6, 0)),
    ("oauth.authorize_post",        at_most(5, 0)),
    ("oauth.token",                 at_most(2, 0)),
    ("oauth.userinfo",              at_most(1, 0)), // the `subscription` claims read in the same batch
    ("oauth.revoke",                at_most(2, 0)),
    ("oauth.introspect",            at_most(1, 0)), // the client's key cached by an earlier request
    // Overseers
    ("overseers.register",          at_most(2, 1)),
    ("overseers.login",             at_most(2, 1)), // bcrypt needs the account row before the audit row
    // Overseer e-mail verification and password reset (issue 12)
    ("overseers.email_verification_send",     at_most(2, 0)), // session check, then one batch
    ("overseers.email_verification_complete", at_most(2, 0)), // token read, then one batch
    ("overseers.password_reset",              at_most(2, 0)), // the same for unknown addresses
    ("overseers.password_reset_complete",     at_most(2, 0)), // bcrypt only after the token read
    ("overseers.logout",            at_most(3, 0)),
    ("overseers.me",                at_most(1, 0)),
    ("overseers.agents",            at_most(1, 0)),
    ("overseers.audit",             at_most(1, 0)),
    // Overseer account settings (issue 12)
    ("account.change_password",     at_most(2, 0)), // the hash read with the session check
    ("account.change_email",        at_most(3, 0)), // + the address's uniqueness
    ("account.confirm_email",       at_most(3, 0)), // + uniqueness again at completion
    ("account.sessions",            at_most(1, 0)),
    ("account.end_other_sessions",  at_most(2, 0)), // KV deletes run after the answer
    ("account.end_session",         at_most(2, 0)),
    ("account.export",              at_most(1, 0)), // eight reads in the session check's batch
    ("account.delete",              at_most(3, 0)), // + the FREE tier's limits for the declaims
    // Subscriptions and billing
    ("subscriptions.tiers",         at_most(1, 0)),
    ("subscriptions.me",            at_most(3, 0)),
    ("subscriptions.usage",         at_most(4, 0)),
    ("subscriptions.upgrade",       at_most(2, 0)),
    ("subscriptions.cancel",        at_most(3, 0)),
    // Billing portal (issue 12): the session check's batch reads the current subscription.
    ("subscriptions.portal",        at_most(1, 0)),
    ("webhooks.paddle",             at_most(7, 0)),
];

/// What one driven request cost, as its metrics record says.
struct Run {
    case: &'static str,
    record: RequestRecord,
}

/// Sends `req`, checks that it was answered `status` by the endpoint `name`, and keeps its
/// record.
#[track_caller]
fn run(h: &Harness, name: &str, case: &'static str, status: u16, req: Req) -> Run {
    let r = h.send(req);
    assert_eq!(r.status, status, "{name} ({case}): {}", r.body);
    let record = h.metrics.last().expect("a request record");
    assert_eq!(
        record.route, name,
        "{case} was answered by another endpoint"
    );
    // Work left for after the answer is not part of the budget; run it so later requests see
    // the state it leaves.
    h.drain();
    Run { case, record }
}

fn put(path: &str) -> Req {
    Req::new(Method::PUT, path)
}

fn delete(path: &str) -> Req {
    Req::new(Method::DELETE, path)
}

fn patch(path: &str) -> Req {
    Req::new(Method::PATCH, path)
}

/// A proof by `key` for `method` on `path` now.
fn proof(h: &Harness, key: &TestKey, method: &str, path: &str) -> String {
    key.proof(&ProofSpec::new(
        method,
        &format!("{ISSUER}{path}"),
        h.now_s(),
    ))
}

/// Drives endpoint `name` on its success path (and, where cheap, its most common refusal)
/// with the shared fixtures, one fresh world per endpoint.
fn drive(name: &str) -> Vec<Run> {
    let h = Harness::new();
    let r = |case, status, req| run(&h, name, case, status, req);
    match name {
        "root" => vec![r("ok", 200, Req::get("/"))],
        "service_info" => vec![r("ok", 200, Req::get("/v1"))],
        "health" => vec![r("ok", 200, Req::get("/health"))],
        "openapi" => vec![r("ok", 200, Req::get("/openapi.json"))],
        "agents.register_initiate" => {
            let key = TestKey::random();
            let body = json!({"name": "A", "public_key": key.x()});
            vec![r(
                "ok",
                202,
                Req::post("/v1/agents/register/initiate").json(body),
            )]
        }
        "agents.register_complete" => {
            let key = TestKey::random();
            let started = h.send(
                Req::post("/v1/agents/register/initiate")
                    .json(json!({"name": "A", "public_key": key.x()})),
            );
            let data = started.body["challenge_data"].as_str().unwrap();
            let path = format!(
                "/v1/agents/register/complete/{}",
                started.body["challenge_id"].as_str().unwrap()
            );
            let body = json!({"signature": key.sign_b64(data.as_bytes())});
            vec![r("ok", 201, Req::post(&path).json(body))]
        }
        "agents.login" => {
            let key = TestKey::random();
            h.register(&key, "A");
            let stranger = TestKey::random();
            vec![
                r(
                    "ok",
                    200,
                    Req::post("/v1/agents/login").header("dpop", &h.login_proof(&key)),
                ),
                r(
                    "unknown key",
                    401,
                    Req::post("/v1/agents/login").header("dpop", &h.login_proof(&stranger)),
                ),
            ]
        }
        "agents.logout" => {
            let a = h.register(&TestKey::random(), "A");
            vec![r(
                "ok",
                200,
                Req::post("/v1/agents/logout").bearer(&a.session),
            )]
        }
        "agents.me" => {
            let (_, a) = h.overseer_with_agent("BASIC");
            vec![
                r("ok", 200, Req::get("/v1/agents/me").bearer(&a.session)),
                r(
                    "unknown session",
                    401,
                    Req::get("/v1/agents/me").bearer("nope"),
                ),
            ]
        }
        "agents.oauth_history" => {
            let w = World::on(h);
            w.code();
            vec![run(
                &w.h,
                name,
                "ok",
                200,
                Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session),
            )]
        }
        "agents.overseer" => {
            let (_, a) = h.overseer_with_agent("BASIC");
            vec![r(
                "ok",
                200,
                Req::get("/v1/agents/me/overseer").bearer(&a.session),
            )]
        }
        "agents.profile" => {
            let a = h.register(&TestKey::random(), "A");
            vec![r("ok", 200, Req::get(&format!("/v1/agents/{}", a.id)))]
        }
        "agents.key_directory" | "agents.card" | "agents.did" => {
            let a = h.register(&TestKey::random(), "A");
            let tail = match name {
                "agents.key_directory" => "http-message-signatures-directory",
                "agents.card" => "card",
                _ => "did.json",
            };
            vec![r(
                "ok",
                200,
                Req::get(&format!("/v1/agents/{}/{tail}", a.id)),
            )]
        }
        "agents.remove_previous_key" => {
            let (old, new) = (TestKey::random(), TestKey::random());
            let a = h.register(&old, "A");
            let session = rotate(&h, &a, &old, &new);
            let path = format!("/v1/agents/me/keys/{}", old.proof_thumbprint());
            vec![r(
                "ok",
                200,
                Req::new(Method::DELETE, &path).bearer(&session),
            )]
        }
        "verify.http_signature" => {
            let key = TestKey::random();
            let a = h.register(&key, "A");
            vec![r(
                "ok",
                200,
                Req::post("/v1/verify/http-signature").json(web_bot_auth_body(&h, &key, &a)),
            )]
        }
        "agents.rotate_initiate" => {
            let a = h.register(&TestKey::random(), "A");
            let body = json!({"new_public_key": TestKey::random().x()});
            vec![r(
                "ok",
                200,
                Req::post("/v1/agents/rotate-key/initiate")
                    .bearer(&a.session)
                    .json(body),
            )]
        }
        "agents.rotate_complete" => {
            let (old, new) = (TestKey::random(), TestKey::random());
            let a = h.register(&old, "A");
            let started = h.send(
                Req::post("/v1/agents/rotate-key/initiate")
                    .bearer(&a.session)
                    .json(json!({"new_public_key": new.x()})),
            );
            let data = started.body["challenge_data"].as_str().unwrap();
            let path = format!(
                "/v1/agents/rotate-key/complete/{}",
                started.body["challenge_id"].as_str().unwrap()
            );
            let req = Req::post(&path)
                .header("dpop", &h.post_proof(&old, &path))
                .json(json!({"signature": new.sign_b64(data.as_bytes())}));
            vec![r("ok", 200, req)]
        }
        "claims.initiate" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            let a = h.register(&TestKey::random(), "A");
            vec![r(
                "ok",
                200,
                Req::post("/v1/agents/claim/initiate")
                    .bearer(&o.session)
                    .json(json!({"agent_id": a.id})),
            )]
        }
        "claims.complete" | "claims.status" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            let key = TestKey::random();
            let a = h.register(&key, "A");
            let started = h.send(
                Req::post("/v1/agents/claim/initiate")
                    .bearer(&o.session)
                    .json(json!({"agent_id": a.id})),
            );
            let id = started.body["challenge_id"].as_str().unwrap().to_owned();
            if name == "claims.status" {
                let path = format!("/v1/agents/claim/status/{id}");
                return vec![r("ok", 200, Req::get(&path).bearer(&o.session))];
            }
            let path = format!("/v1/agents/claim/complete/{id}");
            let body = json!({"overseer_id": o.id});
            vec![r(
                "by session",
                200,
                Req::post(&path).bearer(&a.session).json(body),
            )]
        }
        "claims.revoke_overseer" => {
            let (_, a) = h.overseer_with_agent("BASIC");
            vec![r(
                "ok",
                200,
                Req::post("/v1/agents/revoke-overseer").bearer(&a.session),
            )]
        }
        "claims.declaim" => {
            let (o, a) = h.overseer_with_agent("BASIC");
            let path = format!("/v1/agents/declaim/{}", a.id);
            vec![r("ok", 200, Req::post(&path).bearer(&o.session))]
        }
        "shadow.initiate" | "shadow.status" => {
            let a = h.register(&TestKey::random(), "A");
            let start = Req::post(&format!("/v1/agents/malice/{}", a.id));
            if name == "shadow.initiate" {
                return vec![r("ok", 200, start)];
            }
            let started = h.send(start);
            let id = started.body["challenge_id"].as_str().unwrap();
            vec![r(
                "ok",
                200,
                Req::get(&format!("/v1/agents/malice/status/{id}")),
            )]
        }
        "oversight.block_client"
        | "oversight.unblock_client"
        | "oversight.blocked_clients"
        | "oversight.mark_client" => {
            let w = World::on(h);
            w.client.grant(&w.h, &w.agent);
            let (o, a, c) = (&w.overseer, &w.agent, &w.client.id);
            let blocks = format!("/v1/overseers/agents/{}/block-client", a.id);
            let block = Req::post(&blocks)
                .bearer(&o.session)
                .json(json!({"client_id": c}));
            let r = |case, status, req| run(&w.h, name, case, status, req);
            match name {
                "oversight.block_client" => vec![r("ok", 201, block)],
                "oversight.unblock_client" => {
                    w.h.send(block);
                    w.h.clock.advance_secs(1);
                    vec![r(
                        "ok",
                        200,
                        delete(&format!("{blocks}/{c}")).bearer(&o.session),
                    )]
                }
                "oversight.blocked_clients" => {
                    w.h.send(block);
                    let path = format!("/v1/overseers/agents/{}/blocked-clients", a.id);
                    vec![r("ok", 200, Req::get(&path).bearer(&o.session))]
                }
                _ => {
                    let path = format!("/v1/overseers/{}/clients/{c}/cancellation", o.id);
                    vec![r("ok", 200, put(&path).bearer(&o.session))]
                }
            }
        }
        "oversight.agents" | "oversight.mark_agent" | "oversight.clients" => {
            let (o, a) = h.overseer_with_agent("BASIC");
            Client::register(&h, "overseer", &o.session, "C");
            match name {
                "oversight.agents" => {
                    let path = format!("/v1/overseers/{}/agents", o.id);
                    vec![r("ok", 200, Req::get(&path).bearer(&o.session))]
                }
                "oversight.clients" => {
                    let path = format!("/v1/overseers/{}/clients", o.id);
                    vec![r("ok", 200, Req::get(&path).bearer(&o.session))]
                }
                _ => {
                    let path = format!("/v1/overseers/{}/agents/{}/cancellation", o.id, a.id);
                    vec![r("ok", 200, put(&path).bearer(&o.session))]
                }
            }
        }
        "grants.agent_list"
        | "grants.agent_revoke"
        | "grants.overseer_list"
        | "grants.overseer_revoke" => {
            let w = World::on(h);
            w.client.grant(&w.h, &w.agent);
            let grant = w.h.sql("SELECT id FROM oauth_grants", vec![]).rows[0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let (o, a) = (&w.overseer, &w.agent);
            let overseer_path = format!("/v1/overseers/agents/{}/grants", a.id);
            let req = match name {
                "grants.agent_list" => Req::get("/v1/agents/me/grants").bearer(&a.session),
                "grants.agent_revoke" => {
                    delete(&format!("/v1/agents/me/grants/{grant}")).bearer(&a.session)
                }
                "grants.overseer_list" => Req::get(&overseer_path).bearer(&o.session),
                _ => delete(&format!("{overseer_path}/{grant}")).bearer(&o.session),
            };
            vec![run(&w.h, name, "ok", 200, req)]
        }
        "clients.register" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            let body = json!({"name": "C", "redirect_uris": [REDIRECT],
                              "public_key": TestKey::random().x(), "scope": "id name"});
            vec![r(
                "ok",
                201,
                Req::post("/v1/clients/register/overseer")
                    .bearer(&o.session)
                    .json(body),
            )]
        }
        "clients.list" | "clients.key" | "clients.delete" | "clients.enable" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            let c = Client::register(&h, "overseer", &o.session, "C").id;
            match name {
                "clients.list" => {
                    vec![r(
                        "ok",
                        200,
                        Req::get("/v1/clients/list/overseer").bearer(&o.session),
                    )]
                }
                "clients.key" => {
                    let body = json!({"public_key": TestKey::random().x()});
                    let path = format!("/v1/clients/{c}/key");
                    vec![r("ok", 200, put(&path).bearer(&o.session).json(body))]
                }
                "clients.delete" => {
                    vec![r(
                        "ok",
                        200,
                        delete(&format!("/v1/clients/{c}")).bearer(&o.session),
                    )]
                }
                _ => {
                    let path = format!("/v1/clients/{c}/enable");
                    vec![r("ok", 200, put(&path).bearer(&o.session))]
                }
            }
        }
        "resources.register" | "resources.list" | "resources.get" | "resources.update"
        | "resources.delete" | "resources.metadata" => {
            let o = h.overseer("o@example.test");
            let path = "/v1/overseers/me/resources";
            let body =
                json!({"uri": "https://mcp.example.com/", "name": "R", "scopes": [{"name": "x"}]});
            let register = Req::post(path).bearer(&o.session).json(body);
            if name == "resources.register" {
                return vec![r("ok", 201, register)];
            }
            let id = h.send(register).body["resource"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let one = format!("{path}/{id}");
            let req = match name {
                "resources.list" => Req::get(path).bearer(&o.session),
                "resources.get" => Req::get(&one).bearer(&o.session),
                "resources.update" => patch(&one)
                    .bearer(&o.session)
                    .json(json!({"name": "Renamed"})),
                "resources.delete" => delete(&one).bearer(&o.session),
                _ => Req::get(&format!("/v1/resources/{id}/oauth-protected-resource")),
            };
            vec![r("ok", 200, req)]
        }
        "oauth.discovery" => {
            vec![r(
                "ok",
                200,
                Req::get("/.well-known/oauth-authorization-server"),
            )]
        }
        "oauth.jwks" => vec![r("ok", 200, Req::get("/.well-known/jwks.json"))],
        "oauth.consent_describe" | "oauth.consent_decide" => {
            let w = World::on(h);
            let q = format!(
                "response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}\
                 &code_challenge_method=S256&scope=id%20name&state=s",
                w.client.id, "https%3A%2F%2Fapp.example.com%2Fcb"
            );
            let cookie = format!("__Host-agentid_session={}", w.overseer.session);
            let req = if name == "oauth.consent_describe" {
                Req::get(&format!("/v1/oauth/consent?{q}")).header("cookie", &cookie)
            } else {
                let body = json!({"response_type": "code", "client_id": w.client.id,
                                  "redirect_uri": REDIRECT, "code_challenge": CHALLENGE,
                                  "code_challenge_method": "S256", "scope": "id name",
                                  "agent_id": w.agent.id, "decision": "approve"});
                Req::post("/v1/oauth/consent")
                    .header("cookie", &cookie)
                    .header("origin", ISSUER)
                    .json(body)
            };
            vec![run(&w.h, name, "by cookie", 200, req)]
        }
        "agents.settings" | "agents.change_settings" => {
            let a = h.register(&TestKey::random(), "A");
            let req = if name == "agents.settings" {
                Req::get("/v1/agents/me/settings").bearer(&a.session)
            } else {
                put("/v1/agents/me/settings")
                    .bearer(&a.session)
                    .json(json!({"overseer_consent": false}))
            };
            vec![r("by session", 200, req)]
        }
        "oauth.authorize_get" => {
            let w = World::on(h);
            let path = "/v1/oauth/authorize";
            let q = format!(
                "{path}?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}\
                 &code_challenge_method=S256&state=s",
                w.client.id, "https%3A%2F%2Fapp.example.com%2Fcb"
            );
            let req = Req::get(&q).header("dpop", &proof(&w.h, &w.agent_key, "GET", path));
            vec![run(&w.h, name, "by DPoP proof", 303, req)]
        }
        "oauth.authorize_post" => {
            let w = World::on(h);
            let body = json!({"client_id": w.client.id, "redirect_uri": REDIRECT,
                              "code_challenge": CHALLENGE, "code_challenge_method": "S256",
                              "scope": "id name", "state": "xyz"});
            let req = Req::post("/v1/oauth/authorize")
                .bearer(&w.agent.session)
                .json(body);
            vec![run(&w.h, name, "by session", 200, req)]
        }
        "oauth.token" => oauth_token(World::on(h)),
        "oauth.userinfo" => oauth_userinfo(World::on(h)),
        "oauth.revoke" => oauth_revoke(World::on(h)),
        "oauth.introspect" => oauth_introspect(World::on(h)),
        "overseers.register" => {
            let body = json!({"name": "O", "email": "o@example.test", "password": "correct horse"});
            vec![r("ok", 201, Req::post("/v1/overseers/register").json(body))]
        }
        "overseers.login" => {
            h.overseer("o@example.test");
            let body = json!({"email": "o@example.test", "password": "correct horse"});
            let wrong = json!({"email": "o@example.test", "password": "wrong horse"});
            vec![
                r("ok", 200, Req::post("/v1/overseers/login").json(body)),
                r(
                    "wrong password",
                    401,
                    Req::post("/v1/overseers/login").json(wrong),
                ),
            ]
        }
        "overseers.email_verification_send" => {
            let o = h.overseer("o@example.test");
            vec![r(
                "ok",
                202,
                Req::post("/v1/overseers/email-verification").bearer(&o.session),
            )]
        }
        "overseers.email_verification_complete" => {
            h.overseer("o@example.test");
            h.drain();
            let token = h
                .mail
                .last("o@example.test", "email_verification")
                .token("/verify-email")
                .unwrap();
            let path = "/v1/overseers/email-verification/complete";
            vec![
                r("ok", 200, Req::post(path).json(json!({"token": token}))),
                r("used", 400, Req::post(path).json(json!({"token": token}))),
            ]
        }
        "overseers.password_reset" => {
            h.overseer("o@example.test");
            let path = "/v1/overseers/password-reset";
            vec![
                r(
                    "known",
                    202,
                    Req::post(path).json(json!({"email": "o@example.test"})),
                ),
                r(
                    "unknown",
                    202,
                    Req::post(path).json(json!({"email": "x@example.test"})),
                ),
            ]
        }
        "overseers.password_reset_complete" => {
            h.overseer("o@example.test");
            h.send(
                Req::post("/v1/overseers/password-reset").json(json!({"email": "o@example.test"})),
            );
            h.drain();
            let token = h
                .mail
                .last("o@example.test", "password_reset")
                .token("/reset-password")
                .unwrap();
            let path = "/v1/overseers/password-reset/complete";
            let body = json!({"token": token, "password": "new horse staple"});
            vec![
                r("ok", 200, Req::post(path).json(body.clone())),
                r("used", 400, Req::post(path).json(body)),
            ]
        }
        "overseers.logout" => {
            let o = h.overseer("o@example.test");
            vec![r(
                "ok",
                200,
                Req::post("/v1/overseers/logout").bearer(&o.session),
            )]
        }
        "overseers.me"
        | "overseers.agents"
        | "overseers.audit"
        | "subscriptions.me"
        | "subscriptions.usage" => {
            let (o, _) = h.overseer_with_agent("BASIC");
            let path = match name {
                "overseers.me" => "/v1/overseers/me",
                "overseers.agents" => "/v1/overseers/me/agents",
                "overseers.audit" => "/v1/overseers/me/audit",
                "subscriptions.me" => "/v1/subscriptions/me",
                _ => "/v1/subscriptions/usage",
            };
            vec![r("ok", 200, Req::get(path).bearer(&o.session))]
        }
        "subscriptions.tiers" => vec![r("ok", 200, Req::get("/v1/subscriptions/tiers"))],
        "subscriptions.upgrade" => {
            let o = h.overseer("o@example.test");
            let body = json!({"target_tier": "PRO"});
            vec![r(
                "ok",
                200,
                Req::post("/v1/subscriptions/upgrade")
                    .bearer(&o.session)
                    .json(body),
            )]
        }
        "subscriptions.cancel" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            vec![r(
                "ok",
                200,
                Req::post("/v1/subscriptions/cancel").bearer(&o.session),
            )]
        }
        "subscriptions.portal" => {
            let o = h.overseer("o@example.test");
            h.subscribe(&o.id, "BASIC");
            vec![r(
                "ok",
                200,
                Req::post("/v1/subscriptions/portal").bearer(&o.session),
            )]
        }
        "webhooks.paddle" => {
            let o = h.overseer("o@example.test");
            let body = envelope(
                "evt_budget",
                "subscription.activated",
                0,
                sub(
                    "sub_budget",
                    "active",
                    PRICE_BASIC,
                    Some(sub_link(&o.id, "BASIC", PRICE_BASIC)),
                ),
            );
            let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
            let req = Req::post("/v1/webhooks/paddle")
                .header("paddle-signature", &sig)
                .raw("application/json", body.into_bytes());
            let activated = r("subscription activated", 200, req);
            let failed = json!({"id": "txn_budget", "status": "ready",
                "subscription_id": "sub_budget", "items": [{"price": {"id": PRICE_BASIC}}]});
            let body = envelope("evt_budget_f", "transaction.payment_failed", 1, failed);
            let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
            let req = Req::post("/v1/webhooks/paddle")
                .header("paddle-signature", &sig)
                .raw("application/json", body.into_bytes());
            vec![activated, r("payment failed", 200, req)]
        }
        "account.change_password" => {
            let o = h.overseer("o@example.test");
            let path = "/v1/overseers/me/password";
            let ok = json!({"current_password": "correct horse", "new_password": "new horse!"});
            let wrong = json!({"current_password": "wrong horse", "new_password": "new horse!"});
            vec![
                r(
                    "wrong password",
                    403,
                    Req::post(path).bearer(&o.session).json(wrong),
                ),
                r("ok", 200, Req::post(path).bearer(&o.session).json(ok)),
            ]
        }
        "account.change_email" | "account.confirm_email" => {
            let o = h.overseer("o@example.test");
            let body = json!({"new_email": "new@example.test", "password": "correct horse"});
            let ask = Req::post("/v1/overseers/me/email")
                .bearer(&o.session)
                .json(body);
            if name == "account.change_email" {
                return vec![r("ok", 202, ask)];
            }
            assert_eq!(h.send(ask).status, 202);
            let text = h.sql(
                "SELECT body_text FROM mail_outbox WHERE kind = 'email_change'",
                vec![],
            );
            let text = text.rows[0]["body_text"].as_str().unwrap().to_owned();
            let token = text.split("token=").nth(1).unwrap();
            let token = token.split_whitespace().next().unwrap();
            vec![r(
                "ok",
                200,
                Req::post("/v1/overseers/me/email/confirm")
                    .bearer(&o.session)
                    .json(json!({"token": token})),
            )]
        }
        "account.sessions" | "account.end_other_sessions" | "account.end_session" => {
            let o = h.overseer("o@example.test");
            let login = json!({"email": "o@example.test", "password": "correct horse"});
            assert_eq!(
                h.send(Req::post("/v1/overseers/login").json(login)).status,
                200
            );
            h.clock.advance_secs(2);
            let list = Req::get("/v1/overseers/me/sessions").bearer(&o.session);
            let req = match name {
                "account.sessions" => return vec![r("ok", 200, list)],
                "account.end_other_sessions" => {
                    Req::new(Method::DELETE, "/v1/overseers/me/sessions").bearer(&o.session)
                }
                _ => {
                    let all = h.send(Req::get("/v1/overseers/me/sessions").bearer(&o.session));
                    let other = all.body["sessions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|s| s["current"] == false)
                        .unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    Req::new(
                        Method::DELETE,
                        &format!("/v1/overseers/me/sessions/{other}"),
                    )
                    .bearer(&o.session)
                }
            };
            vec![r("ok", 200, req)]
        }
        "account.export" => {
            let (o, _) = h.overseer_with_agent("BASIC");
            vec![r(
                "ok",
                200,
                Req::get("/v1/overseers/me/export").bearer(&o.session),
            )]
        }
        "account.delete" => {
            let (o, _) = h.overseer_with_agent("BASIC");
            vec![r(
                "agent and subscription",
                200,
                Req::post("/v1/overseers/me/delete")
                    .bearer(&o.session)
                    .json(json!({"password": "correct horse"})),
            )]
        }
        other => panic!("no driver for the endpoint {other}: add one to `drive`"),
    }
}

/// Rotates `a` from `old` to `new`; the new session.
fn rotate(h: &Harness, a: &Agent, old: &TestKey, new: &TestKey) -> String {
    let started = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(&a.session)
            .json(json!({"new_public_key": new.x()})),
    );
    let data = started.body["challenge_data"].as_str().unwrap();
    let path = format!(
        "/v1/agents/rotate-key/complete/{}",
        started.body["challenge_id"].as_str().unwrap()
    );
    let done = h.send(
        Req::post(&path)
            .header("dpop", &h.post_proof(old, &path))
            .json(json!({"signature": new.sign_b64(data.as_bytes())})),
    );
    done.body["session_id"].as_str().unwrap().to_owned()
}

/// A verification request for a Web Bot Auth signature by `key` for `a`, made now.
fn web_bot_auth_body(h: &Harness, key: &TestKey, a: &Agent) -> serde_json::Value {
    use agent_id_protocol::httpsig::{message::HttpRequest, signature::sign_ed25519, webbot};
    let card = format!("{ISSUER}/v1/agents/{}/card", a.id);
    let field = webbot::signature_agent_field("agent1", &card);
    let public = agent_id::jose::ed25519::Ed25519PublicKey::parse(&key.x()).unwrap();
    let params = webbot::signer_params(
        &webbot::SignerParams {
            label: "sig1",
            created: h.now_s(),
            expires: h.now_s() + 60,
            signature_agent: Some(("agent1", &card)),
            nonce: None,
        },
        &public,
    );
    let headers = [("Signature-Agent", field.as_str())];
    let req = HttpRequest {
        method: "GET",
        url: "https://site.example/",
        headers: &headers,
    };
    let s = sign_ed25519("sig1", &params, &req, &key.0).unwrap();
    json!({"signature_input": s.signature_input, "signature": s.signature,
           "signature_agent": field, "authority": "site.example"})
}

#[test]
fn every_endpoint_has_a_budget() {
    for e in ENDPOINTS {
        assert!(
            BUDGETS.iter().any(|(name, _)| *name == e.name),
            "the endpoint {} has no row in BUDGETS",
            e.name
        );
    }
    for (name, _) in BUDGETS {
        assert!(
            ENDPOINTS.iter().any(|e| e.name == *name),
            "BUDGETS has a row for {name}, which is not an endpoint"
        );
    }
    let mut names: Vec<_> = BUDGETS.iter().map(|(name, _)| name).collect();
    names.sort_unstable();
    let rows = names.len();
    names.dedup();
    assert_eq!(rows, names.len(), "an endpoint has two rows");
}

#[test]
fn every_endpoint_stays_within_its_budget() {
    let mut over = Vec::new();
    let mut table = String::new();
    for (name, budget) in BUDGETS {
        for run in drive(name) {
            let u = run.record.usage;
            table.push_str(&format!(
                "{name:<28} {:<24} {} d1 ({} statements), {} kv reads, {} kv writes\n",
                run.case, u.d1_round_trips, u.d1_statements, u.kv_reads, u.kv_writes
            ));
            if u.d1_round_trips > budget.d1 || u.kv_writes > budget.kv_writes {
                over.push(format!(
                    "{name} ({}): {} D1 round trips, {} KV writes; budget {budget:?}",
                    run.case, u.d1_round_trips, u.kv_writes
                ));
            }
        }
    }
    println!("{table}");
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

// --- hot session paths: agent and overseer log-in, session reads, with data to read ---

use agent_id::store::meter::Usage;
use common::{Harness, Req, Resp, TestKey};

/// Sends `req`, checks it succeeded, and returns what the metrics record says it cost.
fn usage_of(h: &Harness, name: &str, req: Req) -> Usage {
    let r: Resp = h.send(req);
    assert_eq!(r.status, 200, "{name}: {}", r.body);
    let record = h.metrics.last().expect("one record per request");
    assert_eq!(record.route, name);
    record.usage
}

/// Drives each hot session path once, successfully, in a world where each has
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
    for (name, usage) in &measured {
        let Budget { d1, kv_writes } = BUDGETS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| *b)
            .unwrap_or_else(|| panic!("{name} has no budget"));
        if usage.d1_round_trips > d1 || usage.kv_writes > kv_writes {
            over.push(format!(
                "{name}: {} D1 round trips (max {d1}), {} KV writes (max {kv_writes})",
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

/// Code redemption (PKCE, `private_key_jwt`, DPoP), refresh rotation, and a bad code.
fn oauth_token(w: World) -> Vec<Run> {
    let name = "oauth.token";
    let dpop = TestKey::random();
    let code = w.code();
    let redeemed = run(
        &w.h,
        name,
        "code + PKCE + DPoP",
        200,
        w.client.exchange_request(&w.h, &code, Some(&dpop)),
    );
    let tokens = fixture::Tokens::issued(&w.exchange(&w.code(), None));
    let rotated = run(
        &w.h,
        name,
        "refresh rotation",
        200,
        w.client.refresh_request(&w.h, &tokens.refresh),
    );
    let unknown = run(
        &w.h,
        name,
        "unknown code",
        400,
        w.client.exchange_request(&w.h, "not-a-code", None),
    );
    vec![redeemed, rotated, unknown]
}

/// `GET /v1/oauth/userinfo` with a DPoP-bound token, and with a token that is not one.
fn oauth_userinfo(w: World) -> Vec<Run> {
    let name = "oauth.userinfo";
    let dpop = TestKey::random();
    let code = w.code();
    let tokens = fixture::Tokens::issued(&w.exchange(&code, Some(&dpop)));
    let request = |access: &str| {
        let ath =
            agent_id::jose::b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(access.as_bytes()));
        let proof = dpop.proof(
            &ProofSpec::new("GET", &format!("{ISSUER}/v1/oauth/userinfo"), w.h.now_s())
                .claim("ath", json!(ath)),
        );
        Req::get("/v1/oauth/userinfo")
            .header("authorization", &format!("DPoP {access}"))
            .header("dpop", &proof)
    };
    vec![
        run(
            &w.h,
            name,
            "id name subscription",
            200,
            request(&tokens.access),
        ),
        run(&w.h, name, "not a token", 401, request("not-a-token")),
    ]
}

/// Revoking an access token and a refresh token.
fn oauth_revoke(w: World) -> Vec<Run> {
    let name = "oauth.revoke";
    let tokens = w.client.grant(&w.h, &w.agent);
    let revoke = |token: &str| w.client_form("/v1/oauth/revoke", &[("token", token)]);
    vec![
        run(&w.h, name, "access token", 200, revoke(&tokens.access)),
        run(&w.h, name, "refresh token", 200, revoke(&tokens.refresh)),
    ]
}

/// Introspecting an active access token, a refresh token and garbage, on an isolate that
/// has the client's key cached (by a first introspection).
fn oauth_introspect(w: World) -> Vec<Run> {
    let name = "oauth.introspect";
    let tokens = w.client.grant(&w.h, &w.agent);
    assert_eq!(w.introspect("not-a-token"), json!({"active": false}));
    let introspect = |token: &str| w.client_form("/v1/oauth/introspect", &[("token", token)]);
    vec![
        run(
            &w.h,
            name,
            "active access token",
            200,
            introspect(&tokens.access),
        ),
        run(
            &w.h,
            name,
            "refresh token",
            200,
            introspect(&tokens.refresh),
        ),
        run(&w.h, name, "not a token", 200, introspect("not-a-token")),
    ]
}

/// The token request redeeming `code` with the given assertion (and DPoP proof).
fn exchange_with(w: &World, assertion: &str, code: &str, proof: Option<&str>) -> Resp {
    let req = fixture::with_assertion(
        "/v1/oauth/token",
        assertion,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", fixture::VERIFIER),
        ],
    );
    w.h.send(match proof {
        Some(p) => req.header("dpop", p),
        None => req,
    })
}

#[track_caller]
fn assert_oauth_error(r: &Resp, status: u16, error: &str, description: &str) {
    assert_eq!(
        (
            r.status,
            r.body["error"].as_str(),
            r.body["error_description"].as_str()
        ),
        (status, Some(error), Some(description)),
        "{}",
        r.body
    );
}

// The assertion's and the proof's markers share the batch of the grant's writes: a replay
// must still write nothing, and the refusal must still name the replay.

#[test]
fn a_replayed_assertion_redeems_no_code() {
    let w = fixture::world();
    let assertion = w.assertion(&format!("{ISSUER}/v1/oauth/token"));
    let (first, second) = (w.code(), w.code());
    fixture::Tokens::issued(&exchange_with(&w, &assertion, &first, None));
    let replayed = exchange_with(&w, &assertion, &second, None);
    assert_oauth_error(
        &replayed,
        401,
        "invalid_client",
        "client assertion has already been used",
    );
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM oauth_grants"), 1);
    // The second code was not consumed: a fresh assertion redeems it.
    fixture::Tokens::issued(&w.exchange(&second, None));
}

#[test]
fn a_replayed_proof_redeems_no_code() {
    let w = fixture::world();
    let key = TestKey::random();
    let proof = w.h.post_proof(&key, "/v1/oauth/token");
    let (first, second) = (w.code(), w.code());
    let aud = format!("{ISSUER}/v1/oauth/token");
    fixture::Tokens::issued(&exchange_with(&w, &w.assertion(&aud), &first, Some(&proof)));
    let replayed = exchange_with(&w, &w.assertion(&aud), &second, Some(&proof));
    assert_oauth_error(
        &replayed,
        400,
        "invalid_dpop_proof",
        "DPoP proof has already been used",
    );
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM oauth_grants"), 1);
    fixture::Tokens::issued(&w.exchange(&second, Some(&key)));
}

#[test]
fn a_replayed_assertion_rotates_no_refresh_token() {
    let w = fixture::world();
    let (mine, other) = (
        w.client.grant(&w.h, &w.agent),
        w.client.grant(&w.h, &w.agent),
    );
    let assertion = w.assertion(&format!("{ISSUER}/v1/oauth/token"));
    let refresh = |token: &str| {
        w.h.send(fixture::with_assertion(
            "/v1/oauth/token",
            &assertion,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        ))
    };
    fixture::Tokens::issued(&refresh(&mine.refresh));
    assert_oauth_error(
        &refresh(&other.refresh),
        401,
        "invalid_client",
        "client assertion has already been used",
    );
    // Not rotated, so not a reuse: it still rotates once.
    fixture::Tokens::issued(&w.refresh(&other.refresh));
}

#[test]
fn a_replayed_assertion_revokes_nothing() {
    let w = fixture::world();
    let (mine, other) = (
        w.client.grant(&w.h, &w.agent),
        w.client.grant(&w.h, &w.agent),
    );
    let assertion = w.assertion(&format!("{ISSUER}/v1/oauth/revoke"));
    let revoke = |token: &str| {
        w.h.send(fixture::with_assertion(
            "/v1/oauth/revoke",
            &assertion,
            &[("token", token)],
        ))
    };
    assert_eq!(revoke(&mine.access).status, 200);
    assert_oauth_error(
        &revoke(&other.refresh),
        401,
        "invalid_client",
        "client assertion has already been used",
    );
    assert_eq!(w.introspect(&mine.access), json!({"active": false}));
    assert_eq!(w.introspect(&other.access)["active"], true);
    assert_eq!(w.introspect(&other.refresh)["active"], true);
}

#[test]
fn a_refused_request_still_spends_its_assertion() {
    let w = fixture::world();
    let assertion = w.assertion(&format!("{ISSUER}/v1/oauth/token"));
    assert_oauth_error(
        &exchange_with(&w, &assertion, "not-a-code", None),
        400,
        "invalid_grant",
        "authorization code is invalid or expired",
    );
    assert_oauth_error(
        &exchange_with(&w, &assertion, &w.code(), None),
        401,
        "invalid_client",
        "client assertion has already been used",
    );
}

#[test]
fn userinfo_without_the_subscription_scope_is_one_round_trip() {
    let w = fixture::world();
    let key = TestKey::random();
    let r = w.authorize(json!({"scope": "id name description"}));
    let code = r.body["code"].as_str().unwrap().to_owned();
    let tokens = fixture::Tokens::issued(&w.exchange(&code, Some(&key)));
    let ath = agent_id::jose::b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(
        tokens.access.as_bytes(),
    ));
    let proof = key.proof(
        &ProofSpec::new("GET", &format!("{ISSUER}/v1/oauth/userinfo"), w.h.now_s())
            .claim("ath", json!(ath)),
    );
    let userinfo = || {
        w.h.send(
            Req::get("/v1/oauth/userinfo")
                .header("authorization", &format!("DPoP {}", tokens.access))
                .header("dpop", &proof),
        )
    };
    let r = userinfo();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Agent A");
    let usage = w.h.metrics.last().unwrap().usage;
    assert_eq!((usage.d1_round_trips, usage.kv_writes), (1, 0));
    // The proof was spent in that batch.
    let again = userinfo();
    assert_oauth_error(
        &again,
        401,
        "invalid_dpop_proof",
        "DPoP proof has already been used",
    );
}

/// The client's key is read from D1 on an isolate's first introspection (two round trips:
/// the assertion's marker can be spent only after the key verified it) and cached, so the next
/// one verifies first and needs one; the answers are the same.
#[test]
fn introspection_is_one_round_trip_once_the_client_key_is_cached() {
    let w = fixture::world();
    let tokens = w.client.grant(&w.h, &w.agent);
    let introspect = |token: &str| {
        let r =
            w.h.send(w.client_form("/v1/oauth/introspect", &[("token", token)]));
        assert_eq!(r.status, 200, "{}", r.body);
        (r.raw, w.h.metrics.last().unwrap().usage.d1_round_trips)
    };
    let (cold, cold_trips) = introspect(&tokens.access);
    let (warm, warm_trips) = introspect(&tokens.access);
    assert_eq!((cold_trips, warm_trips), (2, 1));
    assert_eq!(warm, cold, "the same answer");
    let (refresh, trips) = introspect(&tokens.refresh);
    assert_eq!(trips, 1);
    assert!(String::from_utf8_lossy(&refresh).contains(r#""token_type":"refresh_token""#));
}
