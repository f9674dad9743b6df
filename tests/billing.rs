//! Upgrade and cancel (api.md 2.9, security.md §17.8 O19–O23), shadow payments (5.5, P17–P19),
//! the cron steps of 5.14 and the Paddle calls that run only after the response.

mod common;

use serde_json::{json, Value};

use agent_id::domain::challenge::{claim_key, Record, ShadowClaim, ShadowStatus};
use agent_id::domain::shadow::derive_id;
use agent_id::paddle::link;
use agent_id::store::{Kv, Namespace};

use common::paddle::*;
use common::*;

const DAY: i64 = 86_400;

fn upgrade(h: &Harness, session: &str, body: Value) -> Resp {
    h.send(
        Req::post("/v1/subscriptions/upgrade")
            .bearer(session)
            .json(body),
    )
}

fn cancel(h: &Harness, session: &str) -> Resp {
    h.send(Req::post("/v1/subscriptions/cancel").bearer(session))
}

fn run_cron(h: &Harness) -> Vec<(&'static str, u64)> {
    futures::executor::block_on(agent_id::scheduled::run(&h.app, h.clock_ms())).unwrap()
}

#[test]
fn o19_o21_invalid_target_tiers() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    for body in [
        json!({"target_tier": "SHADOW"}),
        json!({"target_tier": "GOLD"}),
        json!({}),
        json!({"target_tier": "FREE"}),
        json!({"target_tier": "PAID"}),
        json!({"target_tier": 3}),
    ] {
        upgrade(&h, &o.session, body).assert_error(400, "invalid_tier");
    }
    upgrade(&h, "nope", json!({"target_tier": "PRO"})).assert_error(401, "invalid_session");
}

#[test]
fn upgrade_answers_signed_checkout_parameters_and_the_webhook_links_them() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let r = upgrade(&h, &o.session, json!({"target_tier": "pro"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["tier"], "PRO");
    assert_eq!(b["price"], 15);
    assert_eq!(b["currency"], "USD");
    assert_eq!(b["price_id"], PRICE_PRO);
    assert_eq!(b["customer_email"], "o@example.test");
    assert_eq!(b["paddle_environment"], "sandbox");
    assert_eq!(b["paddle_client_token"], "test_client_token");
    assert_eq!(b["replaces_subscription_id"], Value::Null);
    assert_eq!(b["custom_data"], b["customData"]);
    let cd = &b["custom_data"];
    assert_eq!(cd["overseer_id"], o.id.as_str());
    assert_eq!(cd["price_id"], PRICE_PRO);
    let nonce = cd["nonce"].as_str().unwrap();
    assert_eq!(agent_id::jose::b64::decode_strict(nonce).unwrap().len(), 16);
    let expected = link::subscription_sig(&link_key(), &o.id, PRICE_PRO, nonce);
    assert_eq!(cd["link_sig"], expected.as_str());
    // Nothing changes until Paddle's webhook arrives.
    assert_eq!(subscription(&h, &o.session)["tier"], "FREE");
    // The checkout's custom_data, delivered back by Paddle, links the subscription.
    assert_processed(&h.webhook(&envelope(
        "evt_u",
        "subscription.activated",
        0,
        sub("sub_u", "active", PRICE_PRO, Some(cd.clone())),
    )));
    assert_eq!(subscription(&h, &o.session)["tier"], "PRO");
    // O22: upgrading to the same renewing tier.
    upgrade(&h, &o.session, json!({"target_tier": "PRO"})).assert_error(409, "already_subscribed");
    let r = upgrade(&h, &o.session, json!({"target_tier": "PREMIUM"}));
    assert_eq!(r.body["replaces_subscription_id"], "sub_u");
}

#[test]
fn upgrade_without_a_price_is_a_configuration_error() {
    let mut v = vars(&[]);
    v.remove("PADDLE_PRICE_ID_PREMIUM");
    let h = Harness::with_config(agent_id::config::Config::load(&v));
    let o = h.overseer("o@example.test");
    upgrade(&h, &o.session, json!({"target_tier": "PREMIUM"}))
        .assert_error(503, "configuration_error");
}

#[test]
fn o23_cancel_without_subscription() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    cancel(&h, &o.session).assert_error(400, "no_subscription");
    subscribe(&h, &o.id, "sub_x", "BASIC", PRICE_BASIC);
    assert_processed(&h.webhook(&envelope(
        "evt_p",
        "subscription.paused",
        10,
        sub("sub_x", "paused", PRICE_BASIC, None),
    )));
    cancel(&h, &o.session).assert_error(400, "no_subscription");
}

#[test]
fn cancel_is_recorded_at_once_and_paddle_is_called_after_the_response() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_c", "BASIC", PRICE_BASIC);
    h.drain();
    h.paddle.calls.borrow_mut().clear();
    h.paddle
        .cancel_effective_at_ms
        .set(Some((T0 + 31 * DAY) * 1000));

    let r = cancel(&h, &o.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["billing_period_end"], at(31 * DAY));
    assert_eq!(r.body["scheduled_cancel_at"], at(31 * DAY));
    assert!(
        h.paddle.calls().is_empty(),
        "the Paddle call must not block the request"
    );
    let s = subscription(&h, &o.session);
    assert_eq!(
        (s["will_renew"].as_bool(), s["scheduled_cancel_at"].as_str()),
        (Some(false), Some(at(31 * DAY).as_str()))
    );
    assert_eq!(audit_count(&h, "subscription.cancel_requested"), 1);

    h.drain();
    assert_eq!(h.paddle.cancels(), vec!["sub_c".to_owned()]);
    let row = h.sql(
        "SELECT scheduled_change_action, scheduled_change_at FROM subscriptions WHERE id = 'sub_c'",
        vec![],
    );
    assert_eq!(row.rows[0]["scheduled_change_action"], "cancel");
    assert_eq!(row.rows[0]["scheduled_change_at"], (T0 + 31 * DAY) * 1000);

    // Idempotent: no second request, no second audit row.
    let again = cancel(&h, &o.session);
    assert_eq!(again.status, 200);
    h.drain();
    assert_eq!(h.paddle.cancels().len(), 1);
    assert_eq!(audit_count(&h, "subscription.cancel_requested"), 1);
    // The cron job has nothing to retry.
    run_cron(&h);
    assert_eq!(h.paddle.cancels().len(), 1);
}

#[test]
fn failed_cancellations_are_retried_then_reported() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_f", "BASIC", PRICE_BASIC);
    h.drain();
    h.paddle.calls.borrow_mut().clear();
    h.paddle.failing.set(true);
    assert_eq!(cancel(&h, &o.session).status, 200);
    h.drain();
    assert_eq!(h.paddle.cancels().len(), 1);
    // A Paddle outage downgrades nobody.
    assert_eq!(subscription(&h, &o.session)["tier"], "BASIC");
    h.clock.advance_secs(15 * 60);
    run_cron(&h);
    assert_eq!(h.paddle.cancels().len(), 2);
    let attempts = h.sql(
        "SELECT cancel_attempts FROM subscriptions WHERE id = 'sub_f'",
        vec![],
    );
    assert_eq!(attempts.rows[0]["cancel_attempts"], 2);
    // After 24 h of failures: the operator is told and retries stop.
    h.clock.advance_secs(DAY);
    run_cron(&h);
    assert_eq!(h.paddle.cancels().len(), 2);
    assert_eq!(audit_count(&h, "subscription.cancel_failed"), 1);
    run_cron(&h);
    assert_eq!(audit_count(&h, "subscription.cancel_failed"), 1);
    assert_eq!(h.paddle.cancels().len(), 2);
}

#[test]
fn cancel_retry_succeeds_when_paddle_recovers() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_r", "BASIC", PRICE_BASIC);
    h.paddle.failing.set(true);
    assert_eq!(cancel(&h, &o.session).status, 200);
    h.drain();
    h.paddle.failing.set(false);
    h.clock.advance_secs(900);
    run_cron(&h);
    let row = h.sql(
        "SELECT scheduled_change_action FROM subscriptions WHERE id = 'sub_r'",
        vec![],
    );
    assert_eq!(row.rows[0]["scheduled_change_action"], "cancel");
    let before = h.paddle.cancels().len();
    run_cron(&h);
    assert_eq!(h.paddle.cancels().len(), before);
}

#[test]
fn cancel_without_api_key_is_a_configuration_error() {
    let mut v = vars(&[]);
    v.remove("PADDLE_API_KEY");
    let h = Harness::with_config(agent_id::config::Config::load(&v));
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_k", "BASIC", PRICE_BASIC);
    cancel(&h, &o.session).assert_error(503, "configuration_error");
    // Customer creation was skipped (logged), not attempted.
    h.drain();
    assert!(h.paddle.calls().is_empty());
}

#[test]
fn registration_creates_the_paddle_customer_after_the_response() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    assert!(h.paddle.calls().is_empty());
    h.drain();
    let calls = h.paddle.calls();
    let [PaddleCall::CreateCustomer { email, custom_data }] = calls.as_slice() else {
        panic!("{calls:?}");
    };
    assert_eq!(email, "o@example.test");
    assert_eq!(custom_data["overseer_id"], o.id.as_str());
    assert_eq!(
        custom_data["link_sig"],
        link::customer_sig(&link_key(), &o.id).as_str()
    );
    let row = h.sql(
        "SELECT paddle_customer_id FROM overseers WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    assert!(row.rows[0]["paddle_customer_id"]
        .as_str()
        .unwrap()
        .starts_with("ctm_"));
    // Paddle down: registration still succeeds, the id stays unset.
    h.paddle.failing.set(true);
    let p = h.overseer("p@example.test");
    h.drain();
    let row = h.sql(
        "SELECT paddle_customer_id FROM overseers WHERE id = ?1",
        vec![p.id.as_str().into()],
    );
    assert_eq!(row.rows[0]["paddle_customer_id"], Value::Null);
}

// ---- shadow payments ---------------------------------------------------------------------

struct Sponsor {
    challenge_id: String,
    agent_id: String,
    shadow_id: String,
}

fn sponsor(agent_id: &str) -> Sponsor {
    Sponsor {
        challenge_id: uuid(),
        agent_id: agent_id.to_owned(),
        shadow_id: derive_id(SHADOW_SECRET, agent_id),
    }
}

fn shadow_custom(s: &Sponsor) -> Value {
    json!({"is_shadow_claim": true, "challenge_id": s.challenge_id, "agent_id": s.agent_id,
           "shadow_overseer_id": s.shadow_id,
           "link_sig": link::shadow_sig(&link_key(), &s.challenge_id, &s.agent_id, &s.shadow_id)})
}

fn payment(event_id: &str, txn: &str, price: &str, custom: Value) -> String {
    envelope(
        event_id,
        "transaction.completed",
        0,
        json!({
        "id": txn, "status": "completed", "customer_id": "ctm_sponsor", "subscription_id": null,
        "items": [{"price": {"id": price}, "quantity": 1}], "custom_data": custom}),
    )
}

fn valid_until(h: &Harness, shadow_id: &str) -> Option<i64> {
    h.sql(
        "SELECT MAX(valid_until) AS v FROM shadow_payments WHERE overseer_id = ?1 AND applied = 1",
        vec![shadow_id.into()],
    )
    .rows[0]["v"]
        .as_i64()
}

fn put_challenge(h: &Harness, s: &Sponsor) {
    let rec = Record::Shadow(ShadowClaim {
        challenge_id: s.challenge_id.clone(),
        agent_id: s.agent_id.clone(),
        shadow_overseer_id: s.shadow_id.clone(),
        status: ShadowStatus::AwaitingPayment,
        created_at: h.clock_ms(),
        expires_at: h.clock_ms() + 3_600_000,
        confirmed_at: Some(h.clock_ms()),
        completed_at: None,
        transaction_id: None,
    });
    futures::executor::block_on(h.kv.put(
        Namespace::Challenges,
        &claim_key(&s.challenge_id),
        &serde_json::to_string(&rec).unwrap(),
        3600,
    ))
    .unwrap();
}

fn challenge(h: &Harness, s: &Sponsor) -> ShadowClaim {
    let text =
        futures::executor::block_on(h.kv.get(Namespace::Challenges, &claim_key(&s.challenge_id)))
            .unwrap()
            .unwrap();
    match serde_json::from_str::<Record>(&text).unwrap() {
        Record::Shadow(c) => c,
        _ => panic!("not a shadow claim"),
    }
}

#[test]
fn shadow_payment_makes_the_agent_paid() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let s = sponsor(&a.id);
    put_challenge(&h, &s);
    assert_processed(&h.webhook(&payment(
        "evt_pay1",
        "txn_1",
        PRICE_SHADOW,
        shadow_custom(&s),
    )));
    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session)).body;
    assert_eq!(me["subscription"]["tier"], "PAID");
    assert_eq!(me["subscription"]["source"], "shadow");
    assert_eq!(me["subscription"]["billing_period_end"], at(30 * DAY));
    let ov = h
        .send(Req::get("/v1/agents/me/overseer").bearer(&a.session))
        .body;
    assert_eq!(ov["overseer"]["is_shadow"], true);
    assert_eq!(ov["overseer"]["id"], s.shadow_id.as_str());
    assert_eq!(ov["overseer"]["tier"], "PAID");
    assert_eq!(audit_count(&h, "shadow_claim.paid"), 1);
    // The KV challenge becomes completed after the response.
    assert_eq!(challenge(&h, &s).status, ShadowStatus::AwaitingPayment);
    // KV takes one write per key per second: the rewrite lands once the challenge's is a
    // second old (a refused one is only logged; the status endpoint asks D1).
    h.clock.advance_secs(1);
    h.drain();
    let c = challenge(&h, &s);
    assert_eq!(c.status, ShadowStatus::Completed);
    assert_eq!(c.transaction_id.as_deref(), Some("txn_1"));
}

#[test]
fn renewals_stack_and_reuse_the_shadow_overseer() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let s = sponsor(&a.id);
    assert_processed(&h.webhook(&payment(
        "evt_r1",
        "txn_r1",
        PRICE_SHADOW,
        shadow_custom(&s),
    )));
    h.clock.advance_secs(10 * DAY);
    let renewal = Sponsor {
        challenge_id: uuid(),
        ..sponsor(&a.id)
    };
    assert_processed(&h.webhook(&payment(
        "evt_r2",
        "txn_r2",
        PRICE_SHADOW,
        shadow_custom(&renewal),
    )));
    // 30 days from T0, plus 30 more from where the first period ends.
    assert_eq!(valid_until(&h, &s.shadow_id), Some((T0 + 60 * DAY) * 1000));
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseers WHERE kind = 'shadow'"),
        1
    );
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM oversights"), 1);
    // P19: the same transaction under a new event id is applied once.
    assert_ignored(&h.webhook(&payment(
        "evt_r3",
        "txn_r2",
        PRICE_SHADOW,
        shadow_custom(&renewal),
    )));
    assert_eq!(valid_until(&h, &s.shadow_id), Some((T0 + 60 * DAY) * 1000));
}

#[test]
fn shadow_secret_rotation_keeps_the_stored_shadow_overseer() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    // The agent's shadow overseer row was created under an earlier secret.
    let old_id = derive_id("an-earlier-shadow-secret-0123456789abcdef", &a.id);
    h.sql("INSERT INTO overseers (id, kind, shadow_agent_id, created_at, updated_at) VALUES (?1, 'shadow', ?2, 0, 0)",
        vec![old_id.as_str().into(), a.id.as_str().into()]);
    let mut s = sponsor(&a.id);
    // A freshly derived id is not accepted any more…
    assert_ignored(&h.webhook(&payment("evt_n", "txn_n", PRICE_SHADOW, shadow_custom(&s))));
    // …the stored one is.
    s.shadow_id = old_id.clone();
    assert_processed(&h.webhook(&payment("evt_o", "txn_o", PRICE_SHADOW, shadow_custom(&s))));
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseers WHERE kind = 'shadow'"),
        1
    );
    let ov = h
        .send(Req::get("/v1/agents/me/overseer").bearer(&a.session))
        .body;
    assert_eq!(ov["overseer"]["id"], old_id.as_str());
}

#[test]
fn late_payment_is_recorded_without_effect() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_l", "BASIC", PRICE_BASIC);
    h.claim(&o, &a);
    let s = sponsor(&a.id);
    assert_processed(&h.webhook(&payment(
        "evt_late",
        "txn_late",
        PRICE_SHADOW,
        shadow_custom(&s),
    )));
    let row = h.sql(
        "SELECT applied FROM shadow_payments WHERE transaction_id = 'txn_late'",
        vec![],
    );
    assert_eq!(row.rows[0]["applied"], 0);
    assert_eq!(audit_count(&h, "shadow_claim.late_payment"), 1);
    assert_eq!(audit_count(&h, "shadow_claim.paid"), 0);
    let ov = h
        .send(Req::get("/v1/agents/me/overseer").bearer(&a.session))
        .body;
    assert_eq!(ov["overseer"]["id"], o.id.as_str());
    assert_eq!(ov["overseer"]["is_shadow"], false);
}

#[test]
fn p17_p18_rejected_shadow_payments_change_nothing() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let b = h.register(&TestKey::random(), "B");
    let s = sponsor(&a.id);
    let mut swapped = shadow_custom(&s);
    swapped["agent_id"] = json!(b.id); // P18
    let mut tampered_sig = shadow_custom(&s);
    tampered_sig["link_sig"] = json!(link::shadow_sig(
        &link_key(),
        &uuid(),
        &s.agent_id,
        &s.shadow_id
    ));
    // Signed, but the shadow id is not the agent's (a human-style v4 id).
    let mut foreign = sponsor(&a.id);
    foreign.shadow_id = uuid();
    let unknown_agent = sponsor(&uuid());
    let mut not_completed = shadow_custom(&s);
    not_completed["is_shadow_claim"] = json!("true");
    let cases = [
        payment("evt_x1", "txn_x1", PRICE_BASIC, shadow_custom(&s)), // P17
        payment("evt_x2", "txn_x2", PRICE_SHADOW, swapped),
        payment("evt_x3", "txn_x3", PRICE_SHADOW, tampered_sig),
        payment("evt_x4", "txn_x4", PRICE_SHADOW, shadow_custom(&foreign)),
        payment(
            "evt_x5",
            "txn_x5",
            PRICE_SHADOW,
            shadow_custom(&unknown_agent),
        ),
        payment("evt_x6", "txn_x6", PRICE_SHADOW, not_completed),
        payment("evt_x7", "txn_x7", PRICE_SHADOW, Value::Null),
        payment("evt_x8", "txn_x8", PRICE_SHADOW, shadow_custom(&s))
            .replace(r#""status":"completed""#, r#""status":"billed""#),
    ];
    let before = (
        snapshot(&h, "SELECT * FROM overseers"),
        snapshot(&h, "SELECT * FROM oversights"),
    );
    for body in cases {
        assert_ignored(&h.webhook(&body));
    }
    assert_eq!(
        (
            snapshot(&h, "SELECT * FROM overseers"),
            snapshot(&h, "SELECT * FROM oversights")
        ),
        before
    );
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM shadow_payments"), 0);
    assert_eq!(audit_count(&h, "shadow_claim.link_rejected"), 6);
    for agent in [&a, &b] {
        let me = h
            .send(Req::get("/v1/agents/me").bearer(&agent.session))
            .body;
        assert_eq!(me["subscription"]["tier"], "FREE");
    }
}

#[test]
fn expired_sponsorship_is_deactivated_by_the_cron_job() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "A");
    let s = sponsor(&a.id);
    assert_processed(&h.webhook(&payment("evt_e", "txn_e", PRICE_SHADOW, shadow_custom(&s))));
    let c = client(&h, "agent", &a.id, 1);
    h.clock.advance_secs(29 * DAY);
    run_cron(&h);
    assert_eq!(oversight(&h, &s.shadow_id, &a.id), (1, None));
    h.clock.advance_secs(DAY);
    // Past validity, the agent already counts as FREE before the job runs.
    let session = h.login(&key).body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = h.send(Req::get("/v1/agents/me").bearer(&session)).body;
    assert_eq!(me["subscription"]["tier"], "FREE", "{me}");
    let report = run_cron(&h);
    assert!(report.contains(&("shadow_expired", 1)), "{report:?}");
    assert_eq!(
        oversight(&h, &s.shadow_id, &a.id),
        (0, Some("shadow_expired".into()))
    );
    assert_eq!(client_state(&h, &c), (1, Some("tier_limit".into())));
    // Paying again reactivates the same row.
    assert_processed(&h.webhook(&payment(
        "evt_e2",
        "txn_e2",
        PRICE_SHADOW,
        shadow_custom(&Sponsor {
            challenge_id: uuid(),
            ..sponsor(&a.id)
        }),
    )));
    assert_eq!(oversight(&h, &s.shadow_id, &a.id), (1, None));
    assert_eq!(
        valid_until(&h, &s.shadow_id),
        Some((h.clock_ms()) + 30 * DAY * 1000)
    );
}

/// The entry points the claim routes call after a claim, declaim or revocation.
#[test]
fn enforcement_entry_points_for_the_claim_routes() {
    use agent_id::domain::enforcement::{enforce_agent_pool, enforce_overseer_pool, Cause};
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_e", "BASIC", PRICE_BASIC);
    let a1 = h.register(&TestKey::random(), "A1");
    let a2 = h.register(&TestKey::random(), "A2");
    let lone = h.register(&TestKey::random(), "Lone");
    h.claim(&o, &a1);
    h.clock.advance_secs(1);
    // Over BASIC's one agent: a state the API never creates (claims are capacity-guarded), so it
    // is written directly to test what enforcement does with it.
    oversee(&h, &o.id, &a2.id);
    let clients: Vec<String> = (0..11).map(|i| client(&h, "overseer", &o.id, i)).collect();
    let lone_client = client(&h, "agent", &lone.id, 1);

    let config = agent_id::config::Config::load(&vars(&[])).unwrap();
    let req = Req::post("/v1/agents/claim/complete/x").into_request();
    let ctx = agent_id::app::Ctx {
        app: &h.app,
        config: &config,
        req: &req,
        params: Default::default(),
        request_id: "00000000-0000-4000-8000-000000000001",
        issuer: ISSUER.to_owned(),
        now_ms: h.clock_ms(),
    };
    futures::executor::block_on(enforce_overseer_pool(&ctx, &o.id, Cause::Limits)).unwrap();
    assert_eq!(oversight(&h, &o.id, &a1.id), (1, None));
    assert_eq!(
        oversight(&h, &o.id, &a2.id),
        (0, Some("tier_downgrade".into()))
    );
    assert_eq!(
        client_state(&h, &clients[10]),
        (1, Some("tier_limit".into()))
    );
    assert_eq!(client_state(&h, &clients[9]).0, 0);

    futures::executor::block_on(enforce_agent_pool(&ctx, &lone.id, Cause::Limits)).unwrap();
    assert_eq!(
        client_state(&h, &lone_client),
        (1, Some("tier_limit".into()))
    );
    // An agent of a human overseer is enforced in that overseer's pool (already within limits).
    futures::executor::block_on(enforce_agent_pool(&ctx, &a1.id, Cause::Limits)).unwrap();
    assert_eq!(client_state(&h, &clients[9]).0, 0);
}
