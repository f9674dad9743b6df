//! Live grants (issue 12 item 7): an agent and its overseer list the grants the agent gave, and
//! revoke one, after which the client's refresh fails with `invalid_grant` and its access
//! tokens are inactive at introspection and refused at userinfo. The bad-input catalogue of
//! docs/accounts.md ("Live grants", G1–G9) is checked row by row.

mod common;

use common::oauth::{authorize, Client, Tokens, World};
use common::*;
use http::Method;
use serde_json::{json, Value};

const COOKIE: &str = "__Host-agentid_session";

fn agent_list(w: &World) -> Resp {
    w.h.send(Req::get("/v1/agents/me/grants").bearer(&w.agent.session))
}

fn overseer_list(w: &World) -> Resp {
    let path = format!("/v1/overseers/agents/{}/grants", w.agent.id);
    w.h.send(Req::get(&path).bearer(&w.overseer.session))
}

fn overseer_revoke_path(agent_id: &str, grant_id: &str) -> String {
    format!("/v1/overseers/agents/{agent_id}/grants/{grant_id}")
}

fn delete(path: &str, session: &str) -> Req {
    Req::new(Method::DELETE, path).bearer(session)
}

/// The ids of the grants a listing shows.
#[track_caller]
fn ids(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The only grant the agent has given, as its listing shows it.
#[track_caller]
fn only_grant(w: &World) -> Value {
    let r = agent_list(w);
    assert_eq!(ids(&r).len(), 1, "{}", r.body);
    r.body["grants"][0].clone()
}

fn revoked_events(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'oauth.grant_revoked'")
}

/// The grant still works: refresh rotates (returning the new tokens).
#[track_caller]
fn still_works(w: &World, tokens: &Tokens) -> Tokens {
    assert_eq!(w.introspect(&tokens.access)["active"], true);
    Tokens::issued(&w.refresh(&tokens.refresh))
}

/// The grant is dead everywhere at once: refresh → `invalid_grant`, the access token inactive
/// at introspection and refused at userinfo.
#[track_caller]
fn ended(w: &World, tokens: &Tokens) {
    let refresh = w.refresh(&tokens.refresh);
    assert_eq!(
        (refresh.status, refresh.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        refresh.body
    );
    assert_eq!(w.introspect(&tokens.access), json!({"active": false}));
    assert_eq!(w.introspect(&tokens.refresh), json!({"active": false}));
    let userinfo = w.userinfo(&tokens.access, &w.client.key);
    assert_eq!(
        (userinfo.status, userinfo.body["error"].as_str()),
        (401, Some("invalid_token")),
        "{}",
        userinfo.body
    );
}

#[test]
fn the_agent_and_its_overseer_list_the_live_grants() {
    let w = World::on(Harness::new());
    assert_eq!(ids(&agent_list(&w)), Vec::<String>::new());
    // The agent approves at t0; the client redeems the code 30 s later.
    let consented = w.h.clock_ms();
    let code = w.code();
    w.h.clock.advance_secs(30);
    let tokens = Tokens::issued(&w.exchange(&code, None));
    let g = only_grant(&w);
    assert_eq!(
        g["client"],
        json!({"id": w.client.id, "name": "Demo Client"})
    );
    assert_eq!(g["scopes"], "id name subscription");
    assert_eq!(g["resources"], Value::Null);
    assert_eq!(g["consented_by"], "agent");
    assert_eq!(
        g["consented_at"],
        agent_id::domain::time::rfc3339_ms(consented),
        "the approval's time, not the exchange's"
    );
    assert_eq!(
        g["last_used_at"],
        agent_id::domain::time::rfc3339_ms(consented + 30_000)
    );
    let by_overseer = overseer_list(&w);
    assert_eq!(by_overseer.body["agent_id"], w.agent.id.as_str());
    assert_eq!(by_overseer.body["grants"][0], g, "both see the same grant");
    assert_eq!(by_overseer.body["next_cursor"], Value::Null);

    // A refresh is a use: it moves last_used_at, never the consent.
    w.h.clock.advance_secs(60);
    still_works(&w, &tokens);
    let after = only_grant(&w);
    assert_eq!(after["consented_at"], g["consented_at"]);
    assert_eq!(
        after["last_used_at"],
        agent_id::domain::time::rfc3339_ms(consented + 90_000)
    );
}

#[test]
fn ended_grants_are_not_listed() {
    let w = World::on(Harness::new());
    // Revoked by its client (RFC 7009).
    let revoked = w.client.grant(&w.h, &w.agent);
    let r =
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", &revoked.refresh)]));
    assert_eq!(r.status, 200);
    assert_eq!(ids(&agent_list(&w)), Vec::<String>::new());
    // Its refresh token expired (30 days without use).
    w.client.grant(&w.h, &w.agent);
    assert_eq!(ids(&agent_list(&w)).len(), 1);
    w.h.clock.advance_secs(30 * 24 * 3600);
    let login = w.h.login(&w.agent_key);
    let session = login.body["session_id"].as_str().unwrap();
    let listed = w.h.send(Req::get("/v1/agents/me/grants").bearer(session));
    assert_eq!(ids(&listed), Vec::<String>::new());
}

#[test]
fn the_overseer_revokes_a_grant_and_its_tokens_stop_at_once() {
    let w = World::on(Harness::new());
    let tokens = w.client.grant(&w.h, &w.agent);
    let other = w.client.grant(&w.h, &w.agent);
    // Introspection keeps the client's key in the isolate's cache; the cache must not keep the
    // grant alive.
    assert_eq!(w.introspect(&tokens.access)["active"], true);
    assert_eq!(w.userinfo(&tokens.access, &w.client.key).status, 200);
    let listed = ids(&overseer_list(&w));
    assert_eq!(listed.len(), 2);
    let grant_id = only_grant_of(&w, &tokens);

    let r = w.h.send(delete(
        &overseer_revoke_path(&w.agent.id, &grant_id),
        &w.overseer.session,
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "message": "Grant revoked", "grant_id": grant_id})
    );
    ended(&w, &tokens);
    // The same client's other grant is untouched.
    still_works(&w, &other);
    assert!(!ids(&overseer_list(&w)).contains(&grant_id));

    // Audited, for the overseer's trail and tagged with the agent.
    let row =
        &w.h.sql(
            "SELECT actor_type, actor_id, subject_type, subject_id, overseer_id, agent_id, \
               client_id, details FROM audit_events WHERE type = 'oauth.grant_revoked'",
            vec![],
        )
        .rows[0];
    assert_eq!(
        (row["actor_type"].as_str(), row["actor_id"].as_str()),
        (Some("overseer"), Some(w.overseer.id.as_str()))
    );
    assert_eq!(row["subject_type"], "client");
    assert_eq!(row["subject_id"], w.client.id.as_str());
    assert_eq!(row["overseer_id"], w.overseer.id.as_str());
    assert_eq!(row["agent_id"], w.agent.id.as_str());
    let details: Value = serde_json::from_str(row["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["grant_id"], grant_id.as_str());
    assert_eq!(details["revoked_by"], "overseer");
    assert_eq!(details["consented_by"], "agent");
    let reason = w.h.sql(
        "SELECT revoked_reason FROM oauth_grants WHERE id = ?1",
        vec![grant_id.as_str().into()],
    );
    assert_eq!(reason.rows[0]["revoked_reason"], "revoked_by_overseer");
}

/// The id of the grant `tokens` belong to: introspection's `jti` → its issuance row.
fn only_grant_of(w: &World, tokens: &Tokens) -> String {
    let jti = w.introspect(&tokens.access)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = w.h.sql(
        "SELECT grant_id FROM access_tokens WHERE jti = ?1",
        vec![jti.into()],
    );
    row.rows[0]["grant_id"].as_str().unwrap().to_owned()
}

#[test]
fn the_agent_revokes_its_own_grant() {
    let w = World::on(Harness::new());
    let tokens = w.client.grant(&w.h, &w.agent);
    let grant_id = only_grant(&w)["id"].as_str().unwrap().to_owned();
    let r = w.h.send(delete(
        &format!("/v1/agents/me/grants/{grant_id}"),
        &w.agent.session,
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    ended(&w, &tokens);
    assert_eq!(ids(&agent_list(&w)), Vec::<String>::new());
    // The overseer's activity trail shows it, by the agent.
    let trail = w.h.send(
        Req::get("/v1/overseers/me/audit?type=oauth.grant_revoked").bearer(&w.overseer.session),
    );
    let ev = &trail.body["events"][0];
    assert_eq!(ev["actor_type"], "agent");
    assert_eq!(ev["actor_id"], w.agent.id.as_str());
    assert_eq!(ev["details"]["revoked_by"], "agent");
    assert_eq!(ev["details"]["agent_id"], w.agent.id.as_str());
    let reason = w.h.sql(
        "SELECT revoked_reason FROM oauth_grants WHERE id = ?1",
        vec![grant_id.as_str().into()],
    );
    assert_eq!(reason.rows[0]["revoked_reason"], "revoked_by_agent");
}

#[test]
fn revoking_twice_finds_no_live_grant_and_writes_nothing_more() {
    let w = World::on(Harness::new());
    w.client.grant(&w.h, &w.agent);
    let grant_id = only_grant(&w)["id"].as_str().unwrap().to_owned();
    let path = overseer_revoke_path(&w.agent.id, &grant_id);
    assert_eq!(w.h.send(delete(&path, &w.overseer.session)).status, 200);
    let revoked_at = w.h.sql(
        "SELECT revoked_at FROM oauth_grants WHERE id = ?1",
        vec![grant_id.as_str().into()],
    );
    w.h.clock.advance_secs(5);
    // G5, by either of them.
    w.h.send(delete(&path, &w.overseer.session))
        .assert_error(404, "grant_not_found");
    w.h.send(delete(
        &format!("/v1/agents/me/grants/{grant_id}"),
        &w.agent.session,
    ))
    .assert_error(404, "grant_not_found");
    assert_eq!(revoked_events(&w.h), 1);
    let again = w.h.sql(
        "SELECT revoked_at FROM oauth_grants WHERE id = ?1",
        vec![grant_id.as_str().into()],
    );
    assert_eq!(
        again.rows, revoked_at.rows,
        "the first revocation's time stays"
    );
}

#[test]
fn a_blocked_clients_grants_are_no_longer_live() {
    let w = World::on(Harness::new());
    let tokens = w.client.grant(&w.h, &w.agent);
    let grant_id = only_grant(&w)["id"].as_str().unwrap().to_owned();
    let r = w.h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", w.agent.id))
            .bearer(&w.overseer.session)
            .json(json!({"client_id": w.client.id})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(ids(&overseer_list(&w)), Vec::<String>::new());
    assert_eq!(ids(&agent_list(&w)), Vec::<String>::new());
    w.h.send(delete(
        &overseer_revoke_path(&w.agent.id, &grant_id),
        &w.overseer.session,
    ))
    .assert_error(404, "grant_not_found");
    assert_eq!(revoked_events(&w.h), 0);
    ended(&w, &tokens);
}

#[test]
fn foreign_agents_and_grants_are_refused_and_nothing_is_written() {
    let w = World::on(Harness::new());
    let tokens = w.client.grant(&w.h, &w.agent);
    let grant_id = only_grant(&w)["id"].as_str().unwrap().to_owned();
    // Another overseer with an agent of its own, which has a grant of the same client.
    let other = w.h.overseer("other@example.test");
    w.h.subscribe(&other.id, "BASIC");
    let other_agent = w.h.register(&TestKey::random(), "Agent B");
    w.h.claim(&other, &other_agent);
    let r = authorize(&w.h, &other_agent, &w.client.id, json!({}));
    let other_code = r.body["code"].as_str().unwrap().to_owned();
    Tokens::issued(&w.client.exchange(&w.h, &other_code, None));

    // G3: an agent the caller does not oversee, listed or revoked.
    let foreign_list = format!("/v1/overseers/agents/{}/grants", w.agent.id);
    w.h.send(Req::get(&foreign_list).bearer(&other.session))
        .assert_error(404, "no_active_oversight");
    w.h.send(delete(
        &overseer_revoke_path(&w.agent.id, &grant_id),
        &other.session,
    ))
    .assert_error(404, "no_active_oversight");
    // G4: another agent's grant through one's own agent, or as an agent.
    w.h.send(delete(
        &overseer_revoke_path(&other_agent.id, &grant_id),
        &other.session,
    ))
    .assert_error(404, "grant_not_found");
    w.h.send(delete(
        &format!("/v1/agents/me/grants/{grant_id}"),
        &other_agent.session,
    ))
    .assert_error(404, "grant_not_found");
    // G1, G2: ids that are no UUID.
    w.h.send(Req::get("/v1/overseers/agents/not-a-uuid/grants").bearer(&w.overseer.session))
        .assert_error(404, "no_active_oversight");
    w.h.send(delete(
        &overseer_revoke_path(&w.agent.id, "not-a-uuid"),
        &w.overseer.session,
    ))
    .assert_error(404, "grant_not_found");
    w.h.send(delete("/v1/agents/me/grants/not-a-uuid", &w.agent.session))
        .assert_error(404, "grant_not_found");
    // G6: the wrong kind of session.
    w.h.send(Req::get("/v1/agents/me/grants").bearer(&w.overseer.session))
        .assert_error(403, "forbidden");
    w.h.send(Req::get(&foreign_list).bearer(&w.agent.session))
        .assert_error(403, "forbidden");
    // G7: no credentials.
    w.h.send(Req::get("/v1/agents/me/grants"))
        .assert_error(401, "authentication_required");
    w.h.send(Req::new(
        Method::DELETE,
        &overseer_revoke_path(&w.agent.id, &grant_id),
    ))
    .assert_error(401, "authentication_required");
    // G8: a bad page.
    w.h.send(Req::get("/v1/agents/me/grants?limit=0").bearer(&w.agent.session))
        .assert_error(400, "invalid_field");
    w.h.send(Req::get(&format!("{foreign_list}?cursor=%%%")).bearer(&w.overseer.session))
        .assert_error(400, "invalid_field");
    // G9: a cookie-authenticated revocation from another origin.
    let cookie = format!("{COOKIE}={}", w.overseer.session);
    let by_cookie = || {
        Req::new(
            Method::DELETE,
            &overseer_revoke_path(&w.agent.id, &grant_id),
        )
        .header("cookie", &cookie)
    };
    w.h.send(by_cookie()).assert_error(403, "csrf_check_failed");
    w.h.send(by_cookie().header("origin", "https://evil.example"))
        .assert_error(403, "csrf_check_failed");

    assert_eq!(revoked_events(&w.h), 0);
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM oauth_grants WHERE revoked_at IS NOT NULL"),
        0
    );
    still_works(&w, &tokens);
    // The right origin with the cookie is the web app's own revocation.
    let r = w.h.send(by_cookie().header("origin", ISSUER));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn listings_page_newest_consent_first() {
    let w = World::on(Harness::new());
    let second_client = Client::register(&w.h, "overseer", &w.overseer.session, "Second");
    w.client.grant(&w.h, &w.agent);
    w.h.clock.advance_secs(1);
    second_client.grant(&w.h, &w.agent);
    let first =
        w.h.send(Req::get("/v1/agents/me/grants?limit=1").bearer(&w.agent.session));
    assert_eq!(first.body["grants"][0]["client"]["name"], "Second");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let next = w.h.send(
        Req::get(&format!("/v1/agents/me/grants?limit=1&cursor={cursor}")).bearer(&w.agent.session),
    );
    assert_eq!(next.body["grants"][0]["client"]["name"], "Demo Client");
    assert_eq!(next.body["next_cursor"], Value::Null);
}
