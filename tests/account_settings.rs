//! Account settings (issue 12, item 4) through the App's HTTP surface: change password, change
//! e-mail by the link in the real outbox message, sessions list and end, export, and account
//! deletion leaving nothing personal in any table.

mod common;

use common::*;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse";
const IP: &str = "198.51.100.23";

/// Signs up `email` with a distinctive name, from [`IP`].
fn sign_up(h: &Harness, name: &str, email: &str) -> Overseer {
    let r = h.send(
        Req::post("/v1/overseers/register")
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", IP)
            .header("user-agent", "Mozilla/5.0 (Test) Firefox/140.0")
            .json(json!({"name": name, "email": email, "password": PASSWORD})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    Overseer {
        id: r.body["overseer"]["id"].as_str().unwrap().to_owned(),
        session: r.body["session_id"].as_str().unwrap().to_owned(),
    }
}

fn log_in(h: &Harness, email: &str, password: &str) -> Resp {
    h.send(
        Req::post("/v1/overseers/login")
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", IP)
            .json(json!({"email": email, "password": password})),
    )
}

fn session_of(h: &Harness, email: &str) -> String {
    let r = log_in(h, email, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_owned()
}

fn me(h: &Harness, session: &str) -> Resp {
    h.send(Req::get("/v1/overseers/me").bearer(session))
}

fn post(h: &Harness, path: &str, session: &str, body: Value) -> Resp {
    h.send(
        Req::post(path)
            .bearer(session)
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", IP)
            .json(body),
    )
}

fn delete(h: &Harness, path: &str, session: &str) -> Resp {
    h.send(Req::new(http::Method::DELETE, path).bearer(session))
}

fn sessions(h: &Harness, session: &str) -> Vec<Value> {
    let r = h.send(Req::get("/v1/overseers/me/sessions").bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["sessions"].as_array().unwrap().clone()
}

fn audit_count(h: &Harness, kind: &str) -> i64 {
    h.sql(
        "SELECT COUNT(*) AS n FROM audit_events WHERE type = ?1",
        vec![kind.into()],
    )
    .rows[0]["n"]
        .as_i64()
        .unwrap()
}

// --- change password ---

#[test]
fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let other = session_of(&h, "pat@example.test");
    h.clock.advance_secs(2);

    let r = post(
        &h,
        "/v1/overseers/me/password",
        &o.session,
        json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sessions_ended"], 1);

    assert_eq!(
        me(&h, &o.session).status,
        200,
        "the current session survives"
    );
    me(&h, &other).assert_error(401, "invalid_session");
    log_in(&h, "pat@example.test", PASSWORD).assert_error(401, "invalid_credentials");
    assert_eq!(
        log_in(&h, "pat@example.test", "a brand new secret").status,
        200
    );
    assert_eq!(audit_count(&h, "overseer.password_changed"), 1);
}

#[test]
fn a_wrong_current_password_or_a_bad_new_one_changes_nothing() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let other = session_of(&h, "pat@example.test");
    let path = "/v1/overseers/me/password";
    post(
        &h,
        path,
        &o.session,
        json!({"current_password": "not it at all", "new_password": "a brand new secret"}),
    )
    .assert_error(403, "wrong_password");
    post(
        &h,
        path,
        &o.session,
        json!({"current_password": PASSWORD, "new_password": "short"}),
    )
    .assert_error(400, "password_too_short");
    post(
        &h,
        path,
        &o.session,
        json!({"current_password": PASSWORD, "new_password": "x".repeat(73)}),
    )
    .assert_error(400, "password_too_long");
    post(
        &h,
        path,
        &o.session,
        json!({"current_password": PASSWORD, "new_password": "nul\u{0}inside!"}),
    )
    .assert_error(400, "invalid_field");
    post(
        &h,
        path,
        &o.session,
        json!({"new_password": "a brand new secret"}),
    )
    .assert_error(400, "missing_field");
    post(&h, path, &o.session, json!({"current_password": PASSWORD}))
        .assert_error(400, "missing_field");
    h.send(
        Req::post(path)
            .json(json!({"current_password": PASSWORD, "new_password": "a brand new secret"})),
    )
    .assert_error(401, "authentication_required");

    assert_eq!(me(&h, &other).status, 200, "no session ended");
    assert_eq!(log_in(&h, "pat@example.test", PASSWORD).status, 200);
    assert_eq!(audit_count(&h, "overseer.password_changed"), 0);
    assert_eq!(audit_count(&h, "overseer.password_check_failed"), 1);
}

// --- sessions ---

#[test]
fn sessions_are_listed_with_the_current_one_marked_and_no_token_material() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    h.clock.advance_secs(1);
    let second = session_of(&h, "pat@example.test");
    let list = sessions(&h, &o.session);
    assert_eq!(list.len(), 2);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(
        list[1]["current"], true,
        "newest first: the sign-up is second"
    );
    assert_eq!(list[1]["user_agent"], "Mozilla/5.0 (Test) Firefox/140.0");
    assert_eq!(list[1]["ip"], IP);
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains(&o.session) && !text.contains(&second));
    let hash = agent_id::domain::ids::sha256_hex(&second);
    assert!(
        !text.contains(&hash),
        "the token hash never leaves the server"
    );
}

#[test]
fn ending_one_session_refuses_it_at_once() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let second = session_of(&h, "pat@example.test");
    // KV takes one write per key per second: the end comes a little after the log-in.
    h.clock.advance_secs(2);
    let list = sessions(&h, &o.session);
    let target = list.iter().find(|s| s["current"] == false).unwrap();
    let id = target["id"].as_str().unwrap();

    let r = delete(&h, &format!("/v1/overseers/me/sessions/{id}"), &o.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["current"], false);
    assert!(r.header("set-cookie").is_none(), "the current cookie stays");
    me(&h, &second).assert_error(401, "invalid_session");
    assert_eq!(me(&h, &o.session).status, 200);
    assert_eq!(sessions(&h, &o.session).len(), 1);
    assert_eq!(audit_count(&h, "overseer.session_ended"), 1);
    // Its KV record goes after the response.
    h.drain();
    let key = format!("sess:{}", agent_id::domain::ids::sha256_hex(&second));
    let kept = h.kv.dump(agent_id::store::Namespace::Sessions);
    assert!(
        kept.iter().all(|(k, _)| *k != key),
        "the KV record of an ended session is removed"
    );

    // Again: gone.
    delete(&h, &format!("/v1/overseers/me/sessions/{id}"), &o.session)
        .assert_error(404, "session_not_found");
}

#[test]
fn another_accounts_session_or_a_malformed_id_is_not_found() {
    let h = Harness::new();
    let mine = sign_up(&h, "Pat Example", "pat@example.test");
    let theirs = sign_up(&h, "Sam Other", "sam@example.test");
    let their_id = sessions(&h, &theirs.session)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    delete(
        &h,
        &format!("/v1/overseers/me/sessions/{their_id}"),
        &mine.session,
    )
    .assert_error(404, "session_not_found");
    delete(&h, "/v1/overseers/me/sessions/not-a-uuid", &mine.session)
        .assert_error(404, "session_not_found");
    assert_eq!(
        me(&h, &theirs.session).status,
        200,
        "their session lives on"
    );
    assert_eq!(audit_count(&h, "overseer.session_ended"), 0);
}

#[test]
fn ending_the_current_session_clears_the_cookie() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let id = sessions(&h, &o.session)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = delete(&h, &format!("/v1/overseers/me/sessions/{id}"), &o.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["current"], true);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    me(&h, &o.session).assert_error(401, "invalid_session");
}

#[test]
fn ending_the_other_sessions_keeps_only_this_one() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let a = session_of(&h, "pat@example.test");
    let b = session_of(&h, "pat@example.test");
    let r = delete(&h, "/v1/overseers/me/sessions", &o.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ended"], 2);
    me(&h, &a).assert_error(401, "invalid_session");
    me(&h, &b).assert_error(401, "invalid_session");
    assert_eq!(me(&h, &o.session).status, 200);
    assert_eq!(sessions(&h, &o.session).len(), 1);
}

#[test]
fn logout_empties_the_sessions_list() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    session_of(&h, "pat@example.test");
    let r = h.send(Req::post("/v1/overseers/logout").bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseer_sessions"),
        0,
        "logout ends every session, and the index says so"
    );
}

#[test]
fn sessions_ended_by_a_password_reset_are_no_longer_listed() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    session_of(&h, "pat@example.test");
    let r = h
        .send(Req::post("/v1/overseers/password-reset").json(json!({"email": "pat@example.test"})));
    assert_eq!(r.status, 202, "{}", r.body);
    h.drain();
    let token = h
        .mail
        .last("pat@example.test", "password_reset")
        .token("/reset-password")
        .expect("the reset link");
    let r = h.send(
        Req::post("/v1/overseers/password-reset/complete")
            .json(json!({"token": token, "password": "a brand new secret"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    me(&h, &o.session).assert_error(401, "invalid_session");
    let fresh = session_of_with(&h, "pat@example.test", "a brand new secret");
    let list = sessions(&h, &fresh);
    assert_eq!(
        list.len(),
        1,
        "only the session made after the reset: {list:?}"
    );
    assert_eq!(list[0]["current"], true);
}

fn session_of_with(h: &Harness, email: &str, password: &str) -> String {
    let r = log_in(h, email, password);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_owned()
}

// --- change e-mail ---

/// The token of the newest e-mail-change link sent to `to`, read from the outbox message.
fn change_token(h: &Harness, to: &str) -> String {
    let rows = h
        .sql(
            "SELECT body_text FROM mail_outbox WHERE kind = 'email_change' AND recipient = ?1 \
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
            vec![to.into()],
        )
        .rows;
    let text = rows[0]["body_text"]
        .as_str()
        .expect("a change link was sent");
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(ISSUER) && w.contains("/settings/email?token="))
        .expect("the message carries the link");
    link.split("token=").nth(1).unwrap().to_owned()
}

fn request_change(h: &Harness, session: &str, new_email: &str) -> Resp {
    post(
        h,
        "/v1/overseers/me/email",
        session,
        json!({"new_email": new_email, "password": PASSWORD}),
    )
}

fn confirm(h: &Harness, session: &str, token: &str) -> Resp {
    post(
        h,
        "/v1/overseers/me/email/confirm",
        session,
        json!({"token": token}),
    )
}

#[test]
fn a_new_address_takes_effect_only_by_its_link_and_the_old_one_is_told() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let r = request_change(&h, &o.session, "  Pat.New@Example.TEST ");
    assert_eq!(r.status, 202, "{}", r.body);
    let token = change_token(&h, "pat.new@example.test");
    assert_eq!(
        me(&h, &o.session).body["overseer"]["email"],
        "pat@example.test",
        "nothing changes before the link is used"
    );
    let stored = h
        .sql(
            "SELECT token_hash FROM overseer_tokens WHERE purpose = 'email_change'",
            vec![],
        )
        .rows;
    assert_eq!(
        stored[0]["token_hash"],
        agent_id::domain::ids::sha256_hex(&token),
        "only the token's hash is stored"
    );

    let r = confirm(&h, &o.session, &token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["overseer"]["email"], "pat.new@example.test");
    assert_eq!(
        me(&h, &o.session).body["overseer"]["email"],
        "pat.new@example.test"
    );
    let verified = h.sql(
        "SELECT email_verified_at FROM overseers WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    assert!(
        verified.rows[0]["email_verified_at"].is_i64(),
        "the link proved it"
    );
    let notice = h.sql(
        "SELECT subject, body_text FROM mail_outbox WHERE kind = 'email_changed' AND recipient = ?1",
        vec!["pat@example.test".into()],
    );
    assert_eq!(notice.rows.len(), 1, "the old address is told");
    assert!(notice.rows[0]["body_text"]
        .as_str()
        .unwrap()
        .contains("pat.new@example.test"));
    h.drain();
    let sent = h.mail.last("pat@example.test", "email_changed");
    assert!(
        sent.text.contains("pat.new@example.test"),
        "the notice was sent"
    );
    assert_eq!(log_in(&h, "pat.new@example.test", PASSWORD).status, 200);
    log_in(&h, "pat@example.test", PASSWORD).assert_error(401, "invalid_credentials");
    assert_eq!(audit_count(&h, "overseer.email_change_requested"), 1);
    assert_eq!(audit_count(&h, "overseer.email_changed"), 1);

    // Single use.
    confirm(&h, &o.session, &token).assert_error(400, "token_invalid");
}

#[test]
fn change_requests_are_refused_for_a_wrong_password_a_taken_or_bad_address() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    sign_up(&h, "Sam Other", "sam@example.test");
    let path = "/v1/overseers/me/email";
    post(
        &h,
        path,
        &o.session,
        json!({"new_email": "pat.new@example.test", "password": "not it at all"}),
    )
    .assert_error(403, "wrong_password");
    request_change(&h, &o.session, "SAM@example.test").assert_error(409, "email_taken");
    request_change(&h, &o.session, "not an address").assert_error(400, "invalid_email");
    request_change(&h, &o.session, "pat@example.test").assert_error(400, "invalid_field");
    post(
        &h,
        path,
        &o.session,
        json!({"new_email": "pat.new@example.test"}),
    )
    .assert_error(400, "missing_field");
    post(&h, path, &o.session, json!({"password": PASSWORD})).assert_error(400, "missing_field");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseer_tokens WHERE purpose = 'email_change'"),
        0
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'email_change'"),
        0,
        "nothing is sent for a refused request"
    );
}

#[test]
fn expired_foreign_replaced_and_unknown_tokens_are_refused() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let stranger = sign_up(&h, "Sam Other", "sam@example.test");

    request_change(&h, &o.session, "first@example.test");
    let replaced = change_token(&h, "first@example.test");
    h.clock.advance_secs(1);
    request_change(&h, &o.session, "second@example.test");
    let token = change_token(&h, "second@example.test");
    confirm(&h, &o.session, &replaced).assert_error(400, "token_invalid");

    // Another account's session cannot use the link (and does not consume it).
    confirm(&h, &stranger.session, &token).assert_error(400, "token_invalid");
    confirm(&h, &o.session, "bm90IGEgdG9rZW4").assert_error(400, "token_invalid");
    confirm(&h, &o.session, "").assert_error(400, "missing_field");
    confirm(&h, &o.session, &"A".repeat(129)).assert_error(400, "token_invalid");

    h.clock.advance_secs(24 * 3600 + 1);
    // Sessions last longer than the link in this configuration? Log in again to be sure.
    let fresh = session_of(&h, "pat@example.test");
    confirm(&h, &fresh, &token).assert_error(400, "token_invalid");
    assert_eq!(me(&h, &fresh).body["overseer"]["email"], "pat@example.test");
    assert_eq!(audit_count(&h, "overseer.email_changed"), 0);
}

#[test]
fn an_address_taken_between_request_and_link_is_refused_at_completion() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    request_change(&h, &o.session, "wanted@example.test");
    let token = change_token(&h, "wanted@example.test");
    sign_up(&h, "Quick Taker", "wanted@example.test");
    confirm(&h, &o.session, &token).assert_error(409, "email_taken");
    assert_eq!(
        me(&h, &o.session).body["overseer"]["email"],
        "pat@example.test"
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'email_changed'"),
        0
    );
}

// --- export ---

#[test]
fn the_export_is_an_attachment_with_the_accounts_data_and_no_secrets() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    h.subscribe(&o.id, "BASIC");
    let a = h.register(&TestKey::random(), "Exported Agent");
    h.claim(&o, &a);
    let client = h.register_client(
        &o,
        &TestKey::random(),
        "Pat's App",
        &["https://app.example/cb"],
        "id name",
    );
    let public = h.send(
        Req::post("/v1/clients/register/overseer")
            .bearer(&o.session)
            .json(
                json!({"name": "Pat's CLI", "redirect_uris": ["http://127.0.0.1/cb"],
                         "token_endpoint_auth_method": "none", "scope": "id",
                         "application_type": "native"}),
            ),
    );
    assert_eq!(public.status, 201, "{}", public.body);
    let resource = h.send(
        Req::post("/v1/overseers/me/resources")
            .bearer(&o.session)
            .json(
                json!({"uri": "https://mcp.example/mcp", "name": "Pat's MCP",
                         "scopes": [{"name": "tools", "description": "Use the tools"}]}),
            ),
    );
    assert_eq!(resource.status, 201, "{}", resource.body);
    let stranger = sign_up(&h, "Sam Other", "sam@example.test");

    let r = h.send(Req::get("/v1/overseers/me/export").bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment;"));
    let b = &r.body;
    assert_eq!(b["overseer"]["id"], o.id.as_str());
    assert_eq!(b["overseer"]["email"], "pat@example.test");
    assert_eq!(b["overseer"]["name"], "Pat Example");
    assert_eq!(b["oversights"][0]["agent_id"], a.id.as_str());
    assert_eq!(b["oversights"][0]["agent_name"], "Exported Agent");
    let exported = |id: &Value| {
        b["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| &c["id"] == id)
            .unwrap_or_else(|| panic!("client {id} exported"))
            .clone()
    };
    let keyed = exported(&json!(client));
    assert_eq!(keyed["redirect_uris"], json!(["https://app.example/cb"]));
    assert!(keyed["key_thumbprint"]
        .as_str()
        .is_some_and(|t| t.len() == 43));
    // A keyless client has no thumbprint rather than the stored placeholder.
    let keyless = exported(&public.body["client"]["id"]);
    assert_eq!(keyless["token_endpoint_auth_method"], "none");
    assert_eq!(keyless["key_thumbprint"], Value::Null);
    // The protected resources the account registered, scopes as JSON.
    assert_eq!(
        (&b["resources"][0]["id"], &b["resources"][0]["uri"]),
        (
            &resource.body["resource"]["id"],
            &json!("https://mcp.example/mcp")
        )
    );
    assert_eq!(
        b["resources"][0]["scopes"],
        json!([{"name": "tools", "description": "Use the tools"}])
    );
    assert_eq!(b["resources"][0]["access_token_alg"], "EdDSA");
    assert_eq!(b["subscriptions"][0]["tier"], "BASIC");
    assert_eq!(b["sessions"].as_array().unwrap().len(), 1);
    let types: Vec<&str> = b["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"overseer.registered"), "{types:?}");
    assert_eq!(b["audit_events_truncated"], false);
    assert_eq!(b["audit_events_max"], 1000);

    let text = String::from_utf8(r.raw.clone()).unwrap();
    let hash: String = h
        .sql(
            "SELECT password_hash FROM overseers WHERE id = ?1",
            vec![o.id.as_str().into()],
        )
        .rows[0]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!text.contains(&hash) && !text.contains("password_hash"));
    assert!(!text.contains("public_key"), "client keys stay out");
    assert!(!text.contains(&o.session));
    assert!(!text.contains(&stranger.id) && !text.contains("sam@example.test"));
}

#[test]
fn the_export_keeps_at_most_its_bound_of_audit_events() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    for i in 0..1001 {
        h.sql(
            "INSERT INTO audit_events (id, type, actor_type, actor_id, overseer_id, created_at) \
             VALUES (?1, 'test.filler', 'system', NULL, ?2, ?3)",
            vec![
                format!("filler-{i}").into(),
                o.id.as_str().into(),
                (i64::from(i) + 1).into(),
            ],
        );
    }
    let r = h.send(Req::get("/v1/overseers/me/export").bearer(&o.session));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["audit_events"].as_array().unwrap().len(), 1000);
    assert_eq!(r.body["audit_events_truncated"], true);
    let events = r.body["audit_events"].as_array().unwrap();
    let first = events[0]["type"].as_str().unwrap();
    assert!(
        first.starts_with("overseer."),
        "the newest events come first: {first}"
    );
    assert!(
        events.iter().all(|e| e["id"] != "filler-0"),
        "the oldest event is the one left out"
    );
}

// --- delete the account ---

/// Every text cell of every table (listed from `sqlite_master`, so a new table is never
/// missed) that contains one of `needles`, as `table.column = value`.
fn cells_containing(h: &Harness, needles: &[&str]) -> Vec<String> {
    let tables = h
        .sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            vec![],
        )
        .rows;
    assert!(tables.len() > 15, "every table is listed");
    let mut found = Vec::new();
    for t in tables {
        let table = t["name"].as_str().unwrap().to_owned();
        let sql: &'static str = Box::leak(format!("SELECT * FROM \"{table}\"").into_boxed_str());
        for row in h.sql(sql, vec![]).rows {
            for (column, value) in row {
                let text = match &value {
                    Value::String(s) => s.to_lowercase(),
                    other => other.to_string().to_lowercase(),
                };
                if needles.iter().any(|n| text.contains(&n.to_lowercase())) {
                    found.push(format!("{table}.{column} = {text}"));
                }
            }
        }
    }
    found
}

#[test]
fn deleting_the_account_declaims_cancels_ends_sessions_and_leaves_nothing_personal() {
    let h = Harness::new();
    let name = "Zelda Quixote-Erasure";
    let email = "zelda.erasure@example.test";
    let o = sign_up(&h, name, email);
    let other_session = session_of(&h, email);
    h.subscribe(&o.id, "BASIC");
    let key = TestKey::random();
    let a = h.register(&key, "Kept Agent");
    h.claim(&o, &a);
    h.register_client(
        &o,
        &TestKey::random(),
        "Zelda's App",
        &["https://app.example/cb"],
        "id name",
    );
    // An e-mail change in flight and its message in the outbox.
    request_change(&h, &o.session, "zelda.next@example.test");
    h.drain();
    let customer: Value = h
        .sql(
            "SELECT paddle_customer_id FROM overseers WHERE id = ?1",
            vec![o.id.as_str().into()],
        )
        .rows[0]["paddle_customer_id"]
        .clone();
    let customer = customer
        .as_str()
        .expect("a Paddle customer was created")
        .to_owned();
    assert!(!cells_containing(&h, &[&o.id, email, name, IP]).is_empty());

    // Refused without the right password: nothing happens.
    post(
        &h,
        "/v1/overseers/me/delete",
        &o.session,
        json!({"password": "not it at all"}),
    )
    .assert_error(403, "wrong_password");
    post(&h, "/v1/overseers/me/delete", &o.session, json!({})).assert_error(400, "missing_field");
    assert_eq!(me(&h, &o.session).status, 200);

    let r = post(
        &h,
        "/v1/overseers/me/delete",
        &o.session,
        json!({"password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agents_declaimed"], 1);
    assert_eq!(r.body["subscription_cancel_requested"], true);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    h.drain();

    // Sessions end; the account cannot sign in.
    me(&h, &o.session).assert_error(401, "invalid_session");
    me(&h, &other_session).assert_error(401, "invalid_session");
    log_in(&h, email, PASSWORD).assert_error(401, "invalid_credentials");
    // The agent is free again, its overseer gone.
    let r = h.send(Req::get("/v1/agents/me/overseer").bearer(&a.session));
    assert_eq!(r.body["overseer"], Value::Null, "{}", r.body);
    // Paddle is asked to cancel the subscription.
    assert_eq!(h.paddle.cancels(), vec![format!("sub_{}", &o.id[..8])]);
    // The subscription record is kept, anonymised.
    let subs = h.sql(
        "SELECT s.overseer_id, s.customer_id, o.deleted_at FROM subscriptions s \
         JOIN overseers o ON o.id = s.overseer_id",
        vec![],
    );
    assert_eq!(subs.rows.len(), 1, "the payment record is kept");
    assert_eq!(subs.rows[0]["customer_id"], Value::Null);
    assert!(subs.rows[0]["deleted_at"].is_i64());
    // The audit trail is kept, anonymised.
    assert!(audit_count(&h, "overseer.deleted") == 1);
    assert!(audit_count(&h, "oversight.declaimed") == 1);
    assert!(audit_count(&h, "overseer.registered") == 1);

    // Nothing personal anywhere: id, e-mail (old and pending), name, Paddle customer, IP.
    let left = cells_containing(
        &h,
        &[&o.id, email, "zelda.next@example.test", name, &customer, IP],
    );
    assert!(left.is_empty(), "personal data left:\n{}", left.join("\n"));

    // The same address can sign up again, as a new account.
    let again = sign_up(&h, "Zelda Again", email);
    assert_ne!(again.id, o.id);
}

#[test]
fn a_deleted_accounts_session_and_a_second_deletion_are_refused() {
    let h = Harness::new();
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let second = session_of(&h, "pat@example.test");
    let r = post(
        &h,
        "/v1/overseers/me/delete",
        &o.session,
        json!({"password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subscription_cancel_requested"], false);
    post(
        &h,
        "/v1/overseers/me/delete",
        &second,
        json!({"password": PASSWORD}),
    )
    .assert_error(401, "invalid_session");
    h.send(Req::get("/v1/overseers/me/export").bearer(&second))
        .assert_error(401, "invalid_session");
    assert_eq!(audit_count(&h, "overseer.deleted"), 1);
}

// --- password guessing with a session ---

#[test]
fn password_checks_count_in_the_log_ins_per_address_limit() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"overseer_login_email":"3/900"}"#)]);
    let o = sign_up(&h, "Pat Example", "pat@example.test");
    let wrong = json!({"current_password": "not it at all", "new_password": "a brand new secret"});
    for _ in 0..3 {
        post(&h, "/v1/overseers/me/password", &o.session, wrong.clone())
            .assert_error(403, "wrong_password");
    }
    post(&h, "/v1/overseers/me/password", &o.session, wrong).assert_error(429, "rate_limited");
    // The delete endpoint draws from the same budget, even with the right password.
    post(
        &h,
        "/v1/overseers/me/delete",
        &o.session,
        json!({"password": PASSWORD}),
    )
    .assert_error(429, "rate_limited");
    assert_eq!(me(&h, &o.session).status, 200, "nothing was deleted");
}
