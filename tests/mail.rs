//! Outgoing e-mail and e-mail verification (issue 12 items 1 and 2), through the App's HTTP
//! surface with the real Resend mailer talking to a strict fake of Resend's API.

mod common;

use agent_id::config::Config;
use common::*;
use serde_json::json;

const VERIFY: &str = "/verify-email";

fn verify(h: &Harness, token: &str) -> Resp {
    h.send(Req::post("/v1/overseers/email-verification/complete").json(json!({"token": token})))
}

fn me(h: &Harness, o: &Overseer) -> Resp {
    h.send(Req::get("/v1/overseers/me").bearer(&o.session))
}

fn outbox(h: &Harness, sql: &'static str) -> i64 {
    h.count(sql)
}

#[test]
fn sign_up_sends_a_verification_link_that_verifies_the_address() {
    let h = Harness::new();
    let o = h.overseer("new@example.com");
    let before = me(&h, &o);
    assert_eq!(before.body["overseer"]["email_verified"], json!(false));
    assert_eq!(before.body["overseer"]["email_verified_at"], json!(null));
    assert!(
        h.mail.sent().is_empty(),
        "nothing is sent before the response"
    );

    h.drain();
    let mail = h.mail.last("new@example.com", "email_verification");
    assert_eq!(mail.subject, "Confirm your e-mail address");
    let token = mail.token(VERIFY).expect("a link to the web app's page");
    assert_eq!(token.len(), 43, "256 bits, base64url");
    assert!(mail
        .html
        .contains(&format!("{ISSUER}{VERIFY}?token={token}")));
    // Sent: the row is kept, its bodies (with the link) are blanked.
    assert_eq!(
        outbox(&h, "SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'sent' AND body_text = '' AND body_html = ''"),
        1
    );
    // Only the hash is stored.
    let stored = h.sql("SELECT token_hash FROM overseer_tokens", vec![]);
    assert_ne!(stored.rows[0]["token_hash"], json!(token));

    let r = verify(&h, &token);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email_verified"], json!(true));
    let after = me(&h, &o);
    assert_eq!(after.body["overseer"]["email_verified"], json!(true));
    assert_eq!(
        after.body["overseer"]["email_verified_at"],
        r.body["email_verified_at"]
    );
    let audit =
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'overseer.email_verified'");
    assert_eq!(audit, 1);
}

#[test]
fn verification_tokens_are_single_use_expire_and_are_bound_to_their_address() {
    let h = Harness::new();
    let o = h.overseer("a@example.com");
    h.drain();
    let first = h
        .mail
        .last("a@example.com", "email_verification")
        .token(VERIFY)
        .unwrap();

    // Malformed: refused without a lookup.
    for bad in [
        "x",
        "not a token at all, not a token at all, 12",
        &"A".repeat(44),
    ] {
        verify(&h, bad).assert_error(400, "token_invalid");
    }
    // Unknown (well-formed).
    verify(&h, &"A".repeat(43)).assert_error(400, "token_invalid");
    // Missing / wrong type.
    h.send(Req::post("/v1/overseers/email-verification/complete").json(json!({})))
        .assert_error(400, "missing_field");
    h.send(Req::post("/v1/overseers/email-verification/complete").json(json!({"token": 7})))
        .assert_error(400, "invalid_field");

    // Foreign: a token for an address the account no longer has.
    h.sql(
        "UPDATE overseers SET email = 'changed@example.com' WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    verify(&h, &first).assert_error(400, "token_invalid");
    h.sql(
        "UPDATE overseers SET email = 'a@example.com' WHERE id = ?1",
        vec![o.id.as_str().into()],
    );

    // A fresh link; the first one still works until used, and only once.
    let r = h.send(Req::post("/v1/overseers/email-verification").bearer(&o.session));
    assert_eq!(r.status, 202, "{}", r.body);
    h.drain();
    let second = h
        .mail
        .last("a@example.com", "email_verification")
        .token(VERIFY)
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(verify(&h, &first).status, 200);
    verify(&h, &first).assert_error(400, "token_invalid");
    // Now verified: re-sending is refused.
    h.send(Req::post("/v1/overseers/email-verification").bearer(&o.session))
        .assert_error(409, "email_already_verified");

    // Expiry: 24 hours.
    h.overseer("late@example.com");
    h.drain();
    let token = h
        .mail
        .last("late@example.com", "email_verification")
        .token(VERIFY)
        .unwrap();
    h.clock.advance_secs(24 * 3600);
    verify(&h, &token).assert_error(400, "token_invalid");
    let unverified = h.count(
        "SELECT COUNT(*) AS n FROM overseers WHERE email = 'late@example.com' AND email_verified_at IS NULL",
    );
    assert_eq!(unverified, 1);
}

#[test]
fn a_reset_token_is_not_a_verification_token() {
    let h = Harness::new();
    h.overseer("cross@example.com");
    h.send(Req::post("/v1/overseers/password-reset").json(json!({"email": "cross@example.com"})));
    h.drain();
    let reset = h
        .mail
        .last("cross@example.com", "password_reset")
        .token("/reset-password")
        .unwrap();
    verify(&h, &reset).assert_error(400, "token_invalid");
}

#[test]
fn resending_is_rate_limited_per_overseer() {
    let h = Harness::with_vars(&[(
        "RATE_LIMIT_CONFIG",
        r#"{"email_verification_send": "2/3600"}"#,
    )]);
    let o = h.overseer("rl@example.com");
    let send = || h.send(Req::post("/v1/overseers/email-verification").bearer(&o.session));
    assert_eq!(send().status, 202);
    assert_eq!(send().status, 202);
    send().assert_error(429, "rate_limited");
    h.send(Req::post("/v1/overseers/email-verification"))
        .assert_error(401, "authentication_required");
}

#[test]
fn unverified_overseers_may_not_claim_or_subscribe_when_required() {
    let h = Harness::with_vars(&[("REQUIRE_VERIFIED_EMAIL", "true")]);
    let o = h.overseer("strict@example.com");
    let agent = h.register(&TestKey::random(), "Strict agent");
    let claim = || {
        h.send(
            Req::post("/v1/agents/claim/initiate")
                .bearer(&o.session)
                .json(json!({"agent_id": agent.id})),
        )
    };
    let subscribe = || {
        h.send(
            Req::post("/v1/subscriptions/upgrade")
                .bearer(&o.session)
                .json(json!({"target_tier": "BASIC"})),
        )
    };
    claim().assert_error(403, "email_not_verified");
    subscribe().assert_error(403, "email_not_verified");

    h.drain();
    let token = h
        .mail
        .last("strict@example.com", "email_verification")
        .token(VERIFY)
        .unwrap();
    assert_eq!(verify(&h, &token).status, 200);
    assert_eq!(subscribe().status, 200);
    h.subscribe(&o.id, "BASIC");
    assert_eq!(claim().status, 200);
}

#[test]
fn by_default_unverified_overseers_claim_and_subscribe_as_before() {
    let h = Harness::new();
    let (o, a) = (
        h.overseer("easy@example.com"),
        h.register(&TestKey::random(), "A"),
    );
    let r = h.send(
        Req::post("/v1/subscriptions/upgrade")
            .bearer(&o.session)
            .json(json!({"target_tier": "BASIC"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    h.subscribe(&o.id, "BASIC");
    h.claim(&o, &a);
}

#[test]
fn a_failing_provider_is_retried_by_the_cron_job_and_then_audited() {
    let h = Harness::new();
    h.mail.fail_next(100);
    let o = h.overseer("outage@example.com");
    h.drain();
    assert!(h.mail.sent().is_empty());
    let row = |col: &'static str| {
        h.sql(
            match col {
                "attempts" => "SELECT attempts AS v FROM mail_outbox",
                _ => "SELECT status AS v FROM mail_outbox",
            },
            vec![],
        )
        .rows[0]["v"]
            .clone()
    };
    assert_eq!(row("attempts"), json!(1));
    assert_eq!(row("status"), json!("pending"));

    // The cron job leaves it alone until its backoff is over (5 minutes after attempt 1).
    let cron = |h: &Harness| {
        use agent_id::clock::Clock;
        let now = h.clock.now_ms();
        futures::executor::block_on(agent_id::scheduled::run(
            &h.app.services,
            h.app.config.as_ref(),
            now,
        ))
        .unwrap()
    };
    cron(&h);
    assert_eq!(row("attempts"), json!(1));

    // Attempts 2..=6, each after its backoff; the sixth failure gives up.
    for attempt in 2..=6 {
        h.clock.advance_secs(13 * 3600);
        let report = cron(&h);
        assert_eq!(row("attempts"), json!(attempt));
        let gave_up = report.iter().find(|(k, _)| *k == "mail_failed").unwrap().1;
        assert_eq!(gave_up, u64::from(attempt == 6));
    }
    assert_eq!(row("status"), json!("failed"));
    assert_eq!(
        outbox(
            &h,
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE body_text = '' AND body_html = ''"
        ),
        1,
        "a message given up keeps no link"
    );
    let audit = h.sql(
        "SELECT overseer_id, details FROM audit_events WHERE type = 'mail.failed'",
        vec![],
    );
    assert_eq!(audit.rows.len(), 1);
    assert_eq!(audit.rows[0]["overseer_id"], json!(o.id));
    let details: serde_json::Value =
        serde_json::from_str(audit.rows[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["kind"], "email_verification");
    assert_eq!(details["attempts"], 6);
    // Given up: never tried again.
    h.clock.advance_secs(24 * 3600);
    cron(&h);
    assert_eq!(row("attempts"), json!(6));
    assert!(h.mail.sent().is_empty());
}

#[test]
fn a_retry_after_an_outage_delivers_once() {
    let h = Harness::new();
    h.mail.fail_next(1);
    h.overseer("flaky@example.com");
    h.drain();
    assert!(h.mail.sent().is_empty());
    h.clock.advance_secs(5 * 60);
    use agent_id::clock::Clock;
    let report = futures::executor::block_on(agent_id::scheduled::run(
        &h.app.services,
        h.app.config.as_ref(),
        h.clock.now_ms(),
    ))
    .unwrap();
    assert!(report.contains(&("mail_sent", 1)), "{report:?}");
    assert_eq!(h.mail.sent_to("flaky@example.com").len(), 1);
    // Nothing left to send.
    let again = futures::executor::block_on(agent_id::scheduled::run(
        &h.app.services,
        h.app.config.as_ref(),
        h.clock.now_ms() + 3_600_000,
    ))
    .unwrap();
    assert!(again.contains(&("mail_sent", 0)), "{again:?}");
    assert_eq!(h.mail.sent_to("flaky@example.com").len(), 1);
}

#[test]
fn a_message_whose_change_did_not_happen_is_never_sent() {
    // A reset for an unknown address queues a delivery whose outbox row its guard kept out.
    let h = Harness::new();
    let r = h.send(
        Req::post("/v1/overseers/password-reset").json(json!({"email": "ghost@example.com"})),
    );
    assert_eq!(r.status, 202);
    h.drain();
    assert_eq!(h.mail.requests.get(), 0, "the provider was never called");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM mail_outbox"), 0);
}

#[test]
fn the_send_after_the_response_and_the_cron_job_never_both_send() {
    let h = Harness::new();
    h.overseer("race@example.com");
    // The cron job gets to the row first (the deferred send has not run yet)...
    h.clock.advance_secs(60);
    use agent_id::clock::Clock;
    let report = futures::executor::block_on(agent_id::scheduled::run(
        &h.app.services,
        h.app.config.as_ref(),
        h.clock.now_ms(),
    ))
    .unwrap();
    assert!(report.contains(&("mail_sent", 1)), "{report:?}");
    // ...then the deferred send finds it taken.
    h.drain();
    assert_eq!(h.mail.requests.get(), 1);
    assert_eq!(h.mail.sent_to("race@example.com").len(), 1);
}

#[test]
fn a_missing_key_keeps_the_message_and_never_fails_the_request() {
    let mut vars = common::vars(&[]);
    vars.remove("MAIL_API_KEY");
    let h = Harness::with_config(Config::load(&vars));
    h.overseer("nokey@example.com");
    h.drain();
    assert_eq!(h.mail.requests.get(), 0, "no request without a key");
    let err = h.sql("SELECT last_error AS e, status FROM mail_outbox", vec![]);
    assert_eq!(err.rows[0]["status"], json!("pending"));
    assert_eq!(err.rows[0]["e"], json!("MAIL_API_KEY is not configured"));
}

#[test]
fn no_token_reaches_the_log_except_through_the_development_log_mailer() {
    let h = Harness::new();
    let (_, lines) = agent_id::log::capture(|| {
        let o = h.overseer("quiet@example.com");
        h.send(Req::post("/v1/overseers/email-verification").bearer(&o.session));
        h.send(
            Req::post("/v1/overseers/password-reset").json(json!({"email": "quiet@example.com"})),
        );
        h.drain();
    });
    let tokens: Vec<String> = h
        .mail
        .sent()
        .iter()
        .filter_map(|m| m.token(VERIFY).or_else(|| m.token("/reset-password")))
        .collect();
    assert_eq!(tokens.len(), 3);
    assert!(!lines.is_empty());
    for line in &lines {
        for t in &tokens {
            assert!(!line.contains(t.as_str()), "token in log: {line}");
        }
        assert!(
            !line.contains("quiet@example.com"),
            "address in log: {line}"
        );
        assert!(
            !line.contains(common::mail::MAIL_API_KEY),
            "key in log: {line}"
        );
    }

    // The development mailer writes the message, link included, and nothing else does.
    let dev = Harness::with_vars(&[("MAIL_PROVIDER", "log")]);
    let (_, lines) = agent_id::log::capture(|| {
        dev.overseer("dev@example.com");
        dev.drain();
    });
    let dev_lines: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("mail.dev_log"))
        .collect();
    assert_eq!(dev_lines.len(), 1, "{lines:?}");
    assert!(dev_lines[0].contains(&format!("{ISSUER}{VERIFY}?token=")));
    assert_eq!(dev.mail.requests.get(), 0);
}

#[test]
fn mail_settings_are_validated() {
    let load = |extra: &[(&str, &str)]| Config::load(&common::vars(extra));
    let e = load(&[("MAIL_PROVIDER", "smtp")]).unwrap_err();
    assert_eq!(e.name, "MAIL_PROVIDER");
    let e = load(&[("ENVIRONMENT", "production"), ("MAIL_PROVIDER", "log")]).unwrap_err();
    assert_eq!(
        e.name, "MAIL_PROVIDER",
        "the log mailer would log links in production"
    );
    for bad in [
        "nobody",
        "Name <bad>",
        "a@b.example\r\nBcc: x@y.example",
        "<a@b.example>",
    ] {
        assert_eq!(
            load(&[("MAIL_FROM", bad)]).unwrap_err().name,
            "MAIL_FROM",
            "{bad}"
        );
    }
    assert!(load(&[("MAIL_FROM", "no-reply@id.example.com")]).is_ok());
    let e = load(&[
        ("ENVIRONMENT", "production"),
        ("MAIL_API_URL", "http://127.0.0.1:1"),
    ]);
    assert_eq!(e.unwrap_err().name, "MAIL_API_URL");
    assert_eq!(
        load(&[("REQUIRE_VERIFIED_EMAIL", "yes")]).unwrap_err().name,
        "REQUIRE_VERIFIED_EMAIL"
    );
    // The key is never printed.
    let c = load(&[]).unwrap();
    assert!(!format!("{c:?}").contains(common::mail::MAIL_API_KEY));
    // Misconfiguration shows on /health.
    let h = Harness::with_vars(&[("MAIL_PROVIDER", "carrier-pigeon")]);
    h.send(Req::get("/health"))
        .assert_error(503, "configuration_error");
}

#[test]
fn the_cron_job_purges_expired_tokens_and_old_delivery_records() {
    let h = Harness::new();
    h.overseer("old@example.com");
    h.drain();
    let run = |h: &Harness| {
        use agent_id::clock::Clock;
        futures::executor::block_on(agent_id::scheduled::run(
            &h.app.services,
            h.app.config.as_ref(),
            h.clock.now_ms(),
        ))
        .unwrap()
    };
    h.clock.advance_secs(24 * 3600);
    run(&h);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseer_tokens"),
        1,
        "expired, kept a day"
    );
    h.clock.advance_secs(24 * 3600 + 1);
    let report = run(&h);
    assert!(report.contains(&("email_tokens", 1)), "{report:?}");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM overseer_tokens"), 0);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM mail_outbox"), 1);
    h.clock.advance_secs(28 * 24 * 3600);
    let report = run(&h);
    assert!(report.contains(&("mail_outbox", 1)), "{report:?}");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM mail_outbox"), 0);
}
