//! Overseer accounts, cookie sessions, tiers and usage (api.md 2.6, 2.9; security.md §10–11).

mod common;

use common::*;
use serde_json::json;

const REGISTER: &str = "/v1/overseers/register";
const LOGIN: &str = "/v1/overseers/login";
const COOKIE: &str = "__Host-agentid_session";

fn register(h: &Harness, body: serde_json::Value) -> Resp {
    h.send(Req::post(REGISTER).json(body))
}

fn cookie_of(r: &Resp) -> String {
    let set = r.header("set-cookie").expect("Set-Cookie");
    set.split(';').next().unwrap().to_owned()
}

#[test]
fn sign_up_returns_session_cookie_and_stores_only_a_bcrypt_hash() {
    let h = Harness::new();
    let r = register(
        &h,
        json!({"name": " Demo Overseer ", "email": " Overseer@Example.TEST ", "password": "correct horse"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["overseer"];
    assert_eq!(o["name"], "Demo Overseer");
    assert_eq!(o["email"], "overseer@example.test");
    assert_eq!(o["created_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(r.body["expires_in"], 1800);
    let session = r.body["session_id"].as_str().unwrap();
    assert_eq!(
        r.header("set-cookie").unwrap(),
        format!("{COOKIE}={session}; Path=/; Max-Age=1800; HttpOnly; Secure; SameSite=Strict")
    );
    let stored = h.sql("SELECT password_hash FROM overseers", vec![]).rows[0]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stored.starts_with("$2b$04$") && !stored.contains("correct horse"));
    let mut types: Vec<String> = h
        .send(Req::get("/v1/overseers/me/audit").bearer(session))
        .body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["overseer.login", "overseer.registered"]);

    let me = h.send(Req::get("/v1/overseers/me").bearer(session));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["overseer"]["email"], "overseer@example.test");
    assert_eq!(
        me.body["overseer"]["paddle_customer_id"],
        serde_json::Value::Null
    );
    assert_eq!(
        me.body["overseer"]["paddle_subscription_id"],
        serde_json::Value::Null
    );
    assert_eq!(
        me.body["overseer"]["subscription"],
        json!({"id": null, "tier": "FREE", "status": "free", "is_active": true, "is_free_tier": true,
               "max_agents": 0, "max_clients": 0, "max_oauth_per_period": 10,
               "billing_period_start": null, "billing_period_end": null, "next_billed_at": null,
               "grace_period_end": null, "will_renew": false, "scheduled_cancel_at": null,
               "created_at": null, "updated_at": null})
    );
}

#[test]
fn sign_up_validation_writes_nothing() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"overseer_register":"100/3600"}"#)]);
    let ok = |k: &str, v: serde_json::Value| {
        let mut b = json!({"name": "O", "email": "o@example.test", "password": "correct horse"});
        b[k] = v;
        b
    };
    let cases = [
        (ok("name", json!(null)), 400, "missing_field"),
        (ok("email", json!(null)), 400, "missing_field"),
        (ok("email", json!("not-an-email")), 400, "invalid_email"),
        (ok("email", json!("a@localhost")), 400, "invalid_email"),
        (ok("password", json!(null)), 400, "missing_field"),
        (ok("password", json!("short")), 400, "password_too_short"),
        (
            ok("password", json!("x".repeat(73))),
            400,
            "password_too_long",
        ),
        (
            ok("password", json!("é".repeat(37))),
            400,
            "password_too_long",
        ),
        (ok("password", json!("abcdefgh\u{0}")), 400, "invalid_field"),
        (ok("password", json!(12345678)), 400, "invalid_field"),
    ];
    for (body, status, code) in cases {
        let r = register(&h, body.clone());
        assert_eq!((r.status, r.code()), (status, code), "{body}");
        if code.starts_with("password_too") {
            assert!(r.body["error"].as_str().unwrap().contains("bytes"));
        }
    }
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM overseers"), 0);
    assert!(h.kv.is_empty(agent_id::store::Namespace::Sessions));
    assert_eq!(
        register(&h, ok("password", json!("é".repeat(36)))).status,
        201,
        "72 bytes is allowed"
    );
    register(&h, ok("email", json!("O@EXAMPLE.test"))).assert_error(409, "email_taken");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM overseers"), 1);
}

#[test]
fn sign_up_is_rate_limited_per_ip() {
    let h = Harness::new();
    for i in 0..10 {
        h.overseer(&format!("o{i}@example.test"));
    }
    let r = register(
        &h,
        json!({"name": "O", "email": "late@example.test", "password": "correct horse"}),
    );
    r.assert_error(429, "rate_limited");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM overseers"), 10);
}

#[test]
fn log_in_never_says_which_part_was_wrong() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let login = |email: &str, password: &str| {
        h.send(Req::post(LOGIN).json(json!({"email": email, "password": password})))
    };
    let r = login(" O@example.test", "correct horse");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["overseer"]["id"], o.id.as_str());
    assert!(r.header("set-cookie").unwrap().starts_with(COOKIE));
    let wrong = login("o@example.test", "wrong horse");
    let unknown = login("nobody@example.test", "correct horse");
    wrong.assert_error(401, "invalid_credentials");
    unknown.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    assert_eq!(wrong.body["error"], "Invalid email or password");
    login("o@example.test", &"x".repeat(73)).assert_error(400, "password_too_long");
    login("o@example.test", "").assert_error(400, "missing_field");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'overseer.login_failed'"),
        1,
        "only known e-mails are audited"
    );
}

#[test]
fn log_in_is_rate_limited_per_email() {
    let h = Harness::new();
    h.overseer("o@example.test");
    for _ in 0..10 {
        h.send(
            Req::post(LOGIN).json(json!({"email": "o@example.test", "password": "wrong horse"})),
        )
        .assert_error(401, "invalid_credentials");
    }
    let r = h.send(
        Req::post(LOGIN).json(json!({"email": "O@example.test", "password": "correct horse"})),
    );
    r.assert_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}

#[test]
fn cookie_sessions_and_the_origin_check() {
    let h = Harness::new();
    let r = register(
        &h,
        json!({"name": "O", "email": "o@example.test", "password": "correct horse"}),
    );
    let cookie = cookie_of(&r);
    let with_cookie = |req: Req| req.header("cookie", &format!("theme=dark; {cookie}"));
    assert_eq!(
        h.send(with_cookie(Req::get("/v1/overseers/me"))).status,
        200
    ); // S12
    h.send(with_cookie(Req::post("/v1/overseers/logout")))
        .assert_error(403, "csrf_check_failed"); // S10
    h.send(with_cookie(Req::post("/v1/overseers/logout")).header("origin", "https://evil.example"))
        .assert_error(403, "csrf_check_failed"); // S11
                                                 // An Authorization header takes precedence over the cookie.
    h.send(with_cookie(Req::get("/v1/overseers/me")).header("authorization", "Bearer nope"))
        .assert_error(401, "invalid_session");
    // Cookies never authenticate agent endpoints.
    h.send(with_cookie(Req::get("/v1/agents/me")))
        .assert_error(401, "authentication_required");
    let out = h.send(with_cookie(Req::post("/v1/overseers/logout")).header("origin", ISSUER));
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(
        out.header("set-cookie"),
        Some("__Host-agentid_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
    );
    h.send(with_cookie(Req::get("/v1/overseers/me")))
        .assert_error(401, "invalid_session");
}

#[test]
fn logout_ends_every_session_of_the_overseer() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let second = h
        .send(
            Req::post(LOGIN).json(json!({"email": "o@example.test", "password": "correct horse"})),
        )
        .body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.send(Req::post("/v1/overseers/logout").bearer(&o.session))
            .status,
        200
    );
    for s in [&o.session, &second] {
        h.send(Req::get("/v1/overseers/me").bearer(s))
            .assert_error(401, "invalid_session");
    }
    let fresh = h.send(
        Req::post(LOGIN).json(json!({"email": "o@example.test", "password": "correct horse"})),
    );
    assert_eq!(
        h.send(Req::get("/v1/overseers/me").bearer(fresh.body["session_id"].as_str().unwrap()))
            .status,
        200
    );
}

#[test]
fn sessions_are_typed() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let a = h.register(&TestKey::random(), "A");
    h.send(Req::get("/v1/agents/me").bearer(&o.session))
        .assert_error(403, "forbidden"); // S06
    h.send(Req::get("/v1/overseers/me").bearer(&a.session))
        .assert_error(403, "forbidden"); // S07
    h.send(Req::post("/v1/agents/logout").bearer(&o.session))
        .assert_error(403, "forbidden");
}

#[test]
fn tiers_are_public_data_without_the_hidden_one() {
    let h = Harness::new();
    let r = h.send(Req::get("/v1/subscriptions/tiers").bearer("ignored"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.body["tiers"],
        json!([
            {"tier": "FREE", "price": 0, "currency": "USD", "billing": "free", "max_agents": 0, "max_clients": 0, "max_oauth_per_period": 10, "oauth_period": "calendar_month", "max_resources": 1},
            {"tier": "BASIC", "price": 5, "currency": "USD", "billing": "monthly", "max_agents": 1, "max_clients": 10, "max_oauth_per_period": -1, "oauth_period": "calendar_month", "max_resources": 3},
            {"tier": "PRO", "price": 15, "currency": "USD", "billing": "monthly", "max_agents": 5, "max_clients": -1, "max_oauth_per_period": -1, "oauth_period": "calendar_month", "max_resources": 10},
            {"tier": "PREMIUM", "price": 49, "currency": "USD", "billing": "monthly", "max_agents": -1, "max_clients": -1, "max_oauth_per_period": -1, "oauth_period": "calendar_month", "max_resources": -1}
        ])
    );
    // The web app learns from here whether it can open Paddle Checkout.
    assert_eq!(
        r.body["billing"],
        json!({"configured": true, "paddle_environment": "sandbox", "paddle_client_token": "test_client_token"})
    );
}

#[test]
fn tiers_say_when_billing_is_not_configured() {
    let mut v = vars(&[]);
    v.remove("PADDLE_CLIENT_TOKEN");
    let h = Harness::with_config(agent_id::config::Config::load(&v));
    let r = h.send(Req::get("/v1/subscriptions/tiers"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["tiers"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        r.body["billing"],
        json!({"configured": false, "paddle_environment": "sandbox", "paddle_client_token": null})
    );
}

#[test]
fn usage_and_agents_for_a_new_overseer_never_fail() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let expected = json!({"agents_claimed": 0, "clients_registered": 0, "oauth_count": 0,
        "max_agents": 0, "max_clients": 0, "max_oauth_per_period": 10,
        "period_start": "2026-01-01T00:00:00.000Z", "period_end": "2026-02-01T00:00:00.000Z",
        "resources_registered": 0, "max_resources": 1});
    for path in ["/v1/subscriptions/usage", "/v1/overseers/me/usage"] {
        let r = h.send(Req::get(path).bearer(&o.session));
        assert_eq!(r.body["usage"], expected, "{path}");
    }
    for path in ["/v1/subscriptions/me", "/v1/overseers/me/subscription"] {
        assert_eq!(
            h.send(Req::get(path).bearer(&o.session)).body["subscription"]["status"],
            "free",
            "{path}"
        );
    }
    assert_eq!(
        h.send(Req::get("/v1/overseers/me/agents").bearer(&o.session))
            .body,
        json!({"success": true, "agents": []})
    );
}

#[test]
fn audit_trail_is_the_overseers_own_newest_first() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.overseer("other@example.test");
    h.clock.advance_secs(5);
    let login = h.send(
        Req::post(LOGIN).json(json!({"email": "o@example.test", "password": "correct horse"})),
    );
    assert_eq!(login.status, 200);
    let r = h.send(Req::get("/v1/overseers/me/audit").bearer(&o.session));
    let types: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert_eq!(types[0], "overseer.login");
    assert_eq!(r.body["events"][0]["ip"], "203.0.113.7");
    assert_eq!(r.body["events"][0]["actor_id"], o.id.as_str());
    let only =
        h.send(Req::get("/v1/overseers/me/audit?type=overseer.registered").bearer(&o.session));
    assert_eq!(only.body["events"].as_array().unwrap().len(), 1);
    let none = h.send(Req::get("/v1/overseers/me/audit?type=nope").bearer(&o.session));
    assert_eq!(none.body["events"], json!([]));
    let page = h.send(Req::get("/v1/overseers/me/audit?limit=2").bearer(&o.session));
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = h.send(
        Req::get(&format!("/v1/overseers/me/audit?limit=2&cursor={cursor}")).bearer(&o.session),
    );
    assert_eq!(rest.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next_cursor"], serde_json::Value::Null);
}
