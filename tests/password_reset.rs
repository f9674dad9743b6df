//! Password reset (issue 12 item 3) through the App's HTTP surface, with the links read from
//! the messages the real Resend mailer sent to the strict fake.

mod common;

use agent_id::metrics::RequestRecord;
use common::*;
use serde_json::json;

const RESET: &str = "/reset-password";
const PASSWORD: &str = "correct horse";

fn request(h: &Harness, email: &str) -> Resp {
    h.send(Req::post("/v1/overseers/password-reset").json(json!({"email": email})))
}

fn complete(h: &Harness, token: &str, password: &str) -> Resp {
    h.send(
        Req::post("/v1/overseers/password-reset/complete")
            .json(json!({"token": token, "password": password})),
    )
}

fn login(h: &Harness, email: &str, password: &str) -> Resp {
    h.send(Req::post("/v1/overseers/login").json(json!({"email": email, "password": password})))
}

/// Requests a reset for `email` and returns the token of the link it was sent.
fn reset_token(h: &Harness, email: &str) -> String {
    assert_eq!(request(h, email).status, 202);
    h.drain();
    h.mail
        .last(email, "password_reset")
        .token(RESET)
        .expect("a reset link")
}

#[test]
fn a_reset_sets_the_password_ends_every_session_and_notifies() {
    let h = Harness::new();
    let o = h.overseer("forgetful@example.com");
    let other = login(&h, "forgetful@example.com", PASSWORD);
    let other_session = other.body["session_id"].as_str().unwrap().to_owned();

    let token = reset_token(&h, "forgetful@example.com");
    assert_eq!(token.len(), 43);
    let mail = h.mail.last("forgetful@example.com", "password_reset");
    assert!(mail
        .html
        .contains(&format!("{ISSUER}{RESET}?token={token}")));

    let r = complete(&h, &token, "a brand new secret");
    assert_eq!(r.status, 200, "{}", r.body);

    for session in [&o.session, &other_session] {
        h.send(Req::get("/v1/overseers/me").bearer(session))
            .assert_error(401, "invalid_session");
    }
    login(&h, "forgetful@example.com", PASSWORD).assert_error(401, "invalid_credentials");
    let fresh = login(&h, "forgetful@example.com", "a brand new secret");
    assert_eq!(fresh.status, 200);
    // The link proved the address.
    assert_eq!(fresh.body["overseer"]["id"], json!(o.id));
    let me =
        h.send(Req::get("/v1/overseers/me").bearer(fresh.body["session_id"].as_str().unwrap()));
    assert_eq!(me.body["overseer"]["email_verified"], json!(true));

    h.drain();
    let notice = h.mail.last("forgetful@example.com", "password_changed");
    assert_eq!(notice.subject, "Your password was reset");
    assert!(notice.token(RESET).is_none(), "the notice carries no link");
    let audit = h.sql(
        "SELECT actor_type, overseer_id FROM audit_events WHERE type = 'overseer.password_reset'",
        vec![],
    );
    assert_eq!(audit.rows.len(), 1);
    assert_eq!(audit.rows[0]["overseer_id"], json!(o.id));
}

#[test]
fn tokens_are_single_use_expire_after_30_minutes_and_older_links_die() {
    let h = Harness::new();
    h.overseer("once@example.com");
    let first = reset_token(&h, "once@example.com");
    let second = reset_token(&h, "once@example.com");
    assert_eq!(complete(&h, &second, "new password one").status, 200);
    // Reused.
    complete(&h, &second, "new password two").assert_error(400, "token_invalid");
    // An older link of the same account died with the reset.
    complete(&h, &first, "new password two").assert_error(400, "token_invalid");
    assert_eq!(
        login(&h, "once@example.com", "new password one").status,
        200
    );

    // Expired: valid for 30 minutes, not one more.
    let token = reset_token(&h, "once@example.com");
    h.clock.advance_secs(30 * 60 - 1);
    let late = reset_token(&h, "once@example.com");
    h.clock.advance_secs(1);
    complete(&h, &token, "too late password").assert_error(400, "token_invalid");
    assert_eq!(complete(&h, &late, "just in time").status, 200);
}

#[test]
fn foreign_malformed_and_unknown_tokens_are_refused_and_change_nothing() {
    let h = Harness::new();
    let o = h.overseer("victim@example.com");
    h.drain();
    // A verification token is not a reset token.
    let verification = h
        .mail
        .last("victim@example.com", "email_verification")
        .token("/verify-email")
        .unwrap();
    complete(&h, &verification, "attacker chosen").assert_error(400, "token_invalid");
    // A token for an address the account no longer has.
    let token = reset_token(&h, "victim@example.com");
    h.sql(
        "UPDATE overseers SET email = 'moved@example.com' WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    complete(&h, &token, "attacker chosen").assert_error(400, "token_invalid");
    h.sql(
        "UPDATE overseers SET email = 'victim@example.com' WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    // Unknown and malformed.
    complete(&h, &"A".repeat(43), "attacker chosen").assert_error(400, "token_invalid");
    for bad in ["short", &"A".repeat(44), &format!("{}!", "A".repeat(42))] {
        complete(&h, bad, "attacker chosen").assert_error(400, "token_invalid");
    }
    // Nothing changed: the old password and session still work.
    assert_eq!(login(&h, "victim@example.com", PASSWORD).status, 200);
    assert_eq!(
        h.send(Req::get("/v1/overseers/me").bearer(&o.session))
            .status,
        200
    );
    // The token is still good for its owner.
    assert_eq!(complete(&h, &token, "owner's new one").status, 200);
}

#[test]
fn bad_inputs_get_their_codes_and_leave_the_token_usable() {
    let h = Harness::new();
    h.overseer("rules@example.com");
    let token = reset_token(&h, "rules@example.com");
    let send = |body: serde_json::Value| {
        h.send(Req::post("/v1/overseers/password-reset/complete").json(body))
    };
    send(json!({"password": "long enough"})).assert_error(400, "missing_field");
    send(json!({"token": token})).assert_error(400, "missing_field");
    send(json!({"token": 1, "password": "long enough"})).assert_error(400, "invalid_field");
    send(json!({"token": token, "password": "short"})).assert_error(400, "password_too_short");
    send(json!({"token": token, "password": "x".repeat(73)}))
        .assert_error(400, "password_too_long");
    send(json!({"token": token, "password": "nul\u{0}in password"}))
        .assert_error(400, "invalid_field");
    h.send(
        Req::post("/v1/overseers/password-reset/complete").raw("text/plain", b"token=x".to_vec()),
    )
    .assert_error(415, "unsupported_media_type");
    // 72 bytes is allowed (multi-byte characters count as bytes).
    assert_eq!(complete(&h, &token, &"é".repeat(36)).status, 200);

    let ask =
        |body: serde_json::Value| h.send(Req::post("/v1/overseers/password-reset").json(body));
    ask(json!({})).assert_error(400, "missing_field");
    ask(json!({"email": ["a@example.com"]})).assert_error(400, "invalid_field");
    ask(json!({"email": "not-an-address"})).assert_error(400, "invalid_email");
    h.send(Req::post("/v1/overseers/password-reset").raw("application/json", b"{".to_vec()))
        .assert_error(400, "invalid_json");
}

#[test]
fn known_and_unknown_addresses_get_the_same_answer_and_the_same_work() {
    let h = Harness::new();
    h.overseer("known@example.com");
    h.drain();
    let _ = h.metrics.take();
    let known = request(&h, "known@example.com");
    let known_usage: RequestRecord = h.metrics.last().unwrap();
    // Past the second in which an isolate reuses the rate-limit counters it read.
    h.clock.advance_secs(2);
    let unknown = request(&h, "nobody@example.com");
    let unknown_usage: RequestRecord = h.metrics.last().unwrap();

    assert_eq!(known.status, 202);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let same = |r: &RequestRecord| {
        (
            r.usage.d1_round_trips,
            r.usage.d1_statements,
            r.usage.kv_reads,
            r.usage.kv_writes,
        )
    };
    assert_eq!(same(&known_usage), same(&unknown_usage));
    assert_eq!(
        known_usage.usage.d1_round_trips, 2,
        "one read and one batch"
    );
    assert_eq!(known_usage.usage.d1_statements, 4);
    // Headers too, apart from the request id.
    let headers = |r: &Resp| {
        let mut v: Vec<String> = r
            .headers
            .iter()
            .filter(|(k, _)| k.as_str() != "x-request-id")
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(headers(&known), headers(&unknown));

    h.drain();
    assert_eq!(
        h.mail.sent_to("known@example.com").len(),
        2,
        "verification + reset"
    );
    assert!(h.mail.sent_to("nobody@example.com").is_empty());
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseer_tokens WHERE purpose = 'password_reset'"),
        1
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM mail_outbox WHERE recipient = 'nobody@example.com'"),
        0
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'overseer.password_reset_requested'"),
        1
    );
}

#[test]
fn requests_are_rate_limited_per_address_and_per_ip() {
    let h = Harness::with_vars(&[(
        "RATE_LIMIT_CONFIG",
        r#"{"password_reset_email": "2/3600", "password_reset": "4/3600"}"#,
    )]);
    assert_eq!(request(&h, "a@example.com").status, 202);
    assert_eq!(
        request(&h, "A@Example.com ").status,
        202,
        "the same address"
    );
    request(&h, "a@example.com").assert_error(429, "rate_limited");
    // Another address from the same IP: allowed until the IP's limit.
    assert_eq!(request(&h, "b@example.com").status, 202);
    request(&h, "c@example.com").assert_error(429, "rate_limited");
    // Another IP.
    let r = h.send(
        Req::post("/v1/overseers/password-reset")
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", "198.51.100.9")
            .json(json!({"email": "c@example.com"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn completing_is_rate_limited_per_ip() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"email_token": "2/600"}"#)]);
    for _ in 0..2 {
        complete(&h, &"A".repeat(43), "whatever pass").assert_error(400, "token_invalid");
    }
    complete(&h, &"A".repeat(43), "whatever pass").assert_error(429, "rate_limited");
}
