//! Upgrade and cancel (api.md 2.9, security.md §17.8 O19–O23), shadow payments (5.5, P17–P19),
//! the cron steps of 5.14 and the Paddle calls that run only after the response.

mod common;

use serde_json::{json, Value};

use agent_id::domain::challenge::{claim_key, Record, ShadowClaim, ShadowStatus};
use agent_id::domain::shadow::derive_id;
use agent_id::paddle::link;
use agent_id::store::{Kv, Namespace};

use common::oauth::Client;
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
    futures::executor::block_on(agent_id::scheduled::run(
        &h.app.services,
        h.app.config.as_ref(),
        h.clock_ms(),
    ))
    .unwrap()
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
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.cancel_requested"),
        1
    );

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
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.cancel_requested"),
        1
    );
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
    assert!(customer_id(&h, &o.session)
        .as_str()
        .unwrap()
        .starts_with("ctm_"));
    // Paddle down: registration still succeeds, the id stays unset.
    h.paddle.failing.set(true);
    let p = h.overseer("p@example.test");
    h.drain();
    assert_eq!(customer_id(&h, &p.session), Value::Null);
}

// ---- shadow payments ---------------------------------------------------------------------

struct Sponsor {
    challenge_id: String,
    agent_id: String,
    shadow_id: String,
    /// When the agent confirmed (Unix seconds): the link's issue time.
    issued_at: i64,
}

fn sponsor(agent_id: &str) -> Sponsor {
    Sponsor {
        challenge_id: uuid(),
        agent_id: agent_id.to_owned(),
        shadow_id: derive_id(SHADOW_SECRET, agent_id),
        issued_at: T0,
    }
}

fn shadow_custom(s: &Sponsor) -> Value {
    json!({"is_shadow_claim": true, "challenge_id": s.challenge_id, "agent_id": s.agent_id,
           "shadow_overseer_id": s.shadow_id, "issued_at": s.issued_at,
           "link_sig": link::shadow_sig(&link_key(), &s.challenge_id, &s.agent_id, &s.shadow_id,
                                        s.issued_at)})
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
        &s.shadow_id,
        s.issued_at
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
    let c = Client::register(&h, "agent", &a.session, "C").id;
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
    assert_eq!(
        listed_client_state(&h, "agent", &session, &c),
        (1, Some("tier_limit".into()))
    );
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
    use agent_id::store::audit::{Actor, Stamp};
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

    let db = h.app.services.db.as_ref();
    let stamp = Stamp::system(h.clock_ms());
    let enforce_overseer = |id: &str| {
        futures::executor::block_on(enforce_overseer_pool(
            db,
            &stamp,
            Actor::System,
            id,
            Cause::Limits,
        ))
        .unwrap()
    };
    let enforce_agent = |id: &str| {
        futures::executor::block_on(enforce_agent_pool(
            db,
            &stamp,
            Actor::System,
            id,
            Cause::Limits,
        ))
        .unwrap()
    };
    enforce_overseer(&o.id);
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

    enforce_agent(&lone.id);
    assert_eq!(
        client_state(&h, &lone_client),
        (1, Some("tier_limit".into()))
    );
    // An agent of a human overseer is enforced in that overseer's pool (already within limits).
    enforce_agent(&a1.id);
    assert_eq!(client_state(&h, &clients[9]).0, 0);
}

/// Issue item 5: paying the shadow fee once, registering SHADOW's ten clients and revoking the
/// sponsor must not keep them enabled: the agent's own pool falls back to FREE (0 clients) in the
/// revocation's batch (api.md 2.4, 5.8).
#[test]
fn revoking_a_shadow_sponsor_enforces_the_free_pool() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let s = sponsor(&a.id);
    put_challenge(&h, &s);
    assert_processed(&h.webhook(&payment(
        "evt_pay_rv",
        "txn_rv",
        PRICE_SHADOW,
        shadow_custom(&s),
    )));
    let ids: Vec<String> = (0..10)
        .map(|_| Client::register(&h, "agent", &a.session, "C").id)
        .collect();
    let r = h.send(Req::post("/v1/agents/revoke-overseer").bearer(&a.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        oversight(&h, &s.shadow_id, &a.id),
        (0, Some("revoked_by_agent".into()))
    );
    for id in &ids {
        assert_eq!(
            listed_client_state(&h, "agent", &a.session, id),
            (1, Some("tier_limit".into())),
            "{id}"
        );
        h.send(Req::new(http::Method::PUT, &format!("/v1/clients/{id}/enable")).bearer(&a.session))
            .assert_error(403, "tier_limit_reached");
    }
    assert_eq!(audit_count(&h, "client.disabled"), 10);
    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session)).body;
    assert_eq!(me["subscription"]["tier"], "FREE");
}

// ---- retention (issue item 11) -----------------------------------------------------------
//
// These tests write grants, refresh tokens and history rows directly: the states they purge are
// ones the API does not create within a test (a grant that never had a refresh token, rows dated
// weeks back, 1005 dead grants), and what the purge removes is visible only in the tables (a
// dead grant answers `invalid_grant` before and after it is deleted).

fn grant(h: &Harness, id: &str, client: &str, agent: &str, last_used: i64, revoked: Option<i64>) {
    h.sql(
        "INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at, revoked_at) \
         VALUES (?1, ?2, ?3, 'id', ?4, ?4, ?5)",
        vec![
            id.into(),
            client.into(),
            agent.into(),
            last_used.into(),
            revoked.into(),
        ],
    );
}

fn refresh(h: &Harness, id: &str, grant_id: &str, expires: i64, rotated: Option<i64>) {
    h.sql(
        "INSERT INTO refresh_tokens (id, grant_id, token_hash, issued_at, expires_at, rotated_at) \
         VALUES (?1, ?2, ?1, 0, ?3, ?4)",
        vec![id.into(), grant_id.into(), expires.into(), rotated.into()],
    );
}

fn ids(h: &Harness, sql: &'static str) -> Vec<String> {
    h.sql(sql, vec![])
        .rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn step(report: &[(&'static str, u64)], name: &str) -> u64 {
    report.iter().find(|(n, _)| *n == name).unwrap().1
}

/// Dead grant families (with their refresh tokens) and OAuth history past retention are purged
/// by the cron job; live grants, recent dead ones and recent history stay.
#[test]
fn the_cron_job_purges_dead_grants_and_old_history_after_their_retention() {
    let h = Harness::with_vars(&[
        ("GRANT_RETENTION_DAYS", "30"),
        ("OAUTH_HISTORY_RETENTION_DAYS", "32"),
    ]);
    let a = h.register(&TestKey::random(), "A");
    let o = h.overseer("o@example.test");
    let c = client(&h, "overseer", &o.id, 1);
    let t0 = h.clock_ms();
    let day = DAY * 1000;
    // Revoked now, with a rotated refresh token that has not expired yet (reuse detection).
    grant(&h, "g_revoked", &c, &a.id, t0, Some(t0));
    refresh(&h, "r_revoked", "g_revoked", t0 + 90 * day, Some(t0));
    // Still in use through a live refresh token, though not used for a long time.
    grant(&h, "g_live", &c, &a.id, t0, None);
    refresh(&h, "r_live", "g_live", t0 + 90 * day, None);
    refresh(&h, "r_live_old", "g_live", t0 + 90 * day, Some(t0));
    // Never refreshed: dead once its last use is past retention.
    grant(&h, "g_idle", &c, &a.id, t0, None);
    for (id, at) in [("q_old", t0), ("q_recent", t0 + 31 * day)] {
        h.sql(
            "INSERT INTO oauth_requests (id, agent_id, client_id, client_name, scope, status, created_at) \
             VALUES (?1, ?2, ?3, 'C', 'id', 'approved', ?4)",
            vec![id.into(), a.id.as_str().into(), c.as_str().into(), at.into()],
        );
    }
    // Revoked 29 days later: within retention at the run below.
    grant(&h, "g_revoked_recent", &c, &a.id, t0, Some(t0 + 29 * day));

    h.clock.advance_secs(29 * DAY);
    run_cron(&h);
    assert_eq!(
        ids(&h, "SELECT id FROM oauth_grants ORDER BY id"),
        ["g_idle", "g_live", "g_revoked", "g_revoked_recent"],
        "nothing is past retention yet"
    );

    h.clock.advance_secs(4 * DAY); // t0 + 33 days
    let report = run_cron(&h);
    assert_eq!(
        ids(&h, "SELECT id FROM oauth_grants ORDER BY id"),
        ["g_live", "g_revoked_recent"]
    );
    assert_eq!(
        ids(&h, "SELECT id FROM refresh_tokens ORDER BY id"),
        ["r_live", "r_live_old"]
    );
    assert_eq!(
        ids(&h, "SELECT id FROM oauth_requests ORDER BY id"),
        ["q_recent"]
    );
    assert_eq!(step(&report, "oauth_grants.dead"), 2);
    assert_eq!(step(&report, "refresh_tokens.dead_grant"), 1);
    assert_eq!(step(&report, "oauth_requests.created_at"), 1);
}

/// A run deletes at most 1000 dead grants; the next run continues.
#[test]
fn the_grant_purge_is_bounded_per_run() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let o = h.overseer("o@example.test");
    let c = client(&h, "overseer", &o.id, 1);
    h.sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1005) \
         INSERT INTO oauth_grants (id, client_id, agent_id, scope, created_at, last_used_at, revoked_at) \
         SELECT 'g' || i, ?1, ?2, 'id', 0, 0, 0 FROM n",
        vec![c.as_str().into(), a.id.as_str().into()],
    );
    h.clock.advance_secs(DAY);
    assert_eq!(step(&run_cron(&h), "oauth_grants.dead"), 1000);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM oauth_grants"), 5);
    assert_eq!(step(&run_cron(&h), "oauth_grants.dead"), 5);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM oauth_grants"), 0);
}

#[test]
fn retention_settings_are_bounded() {
    use agent_id::config::Config;
    for (name, bad) in [
        ("GRANT_RETENTION_DAYS", "0"),
        ("GRANT_RETENTION_DAYS", "3651"),
        ("GRANT_RETENTION_DAYS", "x"),
        // The FREE tier's monthly grant count reads the current month's history.
        ("OAUTH_HISTORY_RETENTION_DAYS", "31"),
        ("OAUTH_HISTORY_RETENTION_DAYS", "36501"),
    ] {
        assert_eq!(
            Config::load(&vars(&[(name, bad)])).unwrap_err().name,
            name,
            "{name}={bad}"
        );
    }
    let c = Config::load(&vars(&[])).unwrap();
    assert_eq!(
        (c.grant_retention_days, c.oauth_history_retention_days),
        (30, 400)
    );
}

// ---- shadow links expire (issue item 7) --------------------------------------------------

fn payment_at(event_id: &str, txn: &str, custom: Value, occurred_secs: i64) -> String {
    envelope(
        event_id,
        "transaction.completed",
        occurred_secs,
        json!({
        "id": txn, "status": "completed", "customer_id": "ctm_sponsor", "subscription_id": null,
        "items": [{"price": {"id": PRICE_SHADOW}, "quantity": 1}], "custom_data": custom}),
    )
}

fn rejections(h: &Harness, reason: &str) -> i64 {
    h.sql(
        "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'shadow_claim.link_rejected' \
         AND json_extract(details, '$.reason') = ?1",
        vec![reason.into()],
    )
    .rows[0]["n"]
        .as_i64()
        .unwrap()
}

/// The sponsor keeps the checkout data and pays again months later: the link has expired, so
/// the event is answered `200 ignored` (Paddle stops retrying), audited, and changes nothing.
#[test]
fn a_shadow_link_is_honoured_only_within_its_window() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let s = sponsor(&a.id);
    assert_processed(&h.webhook(&payment_at("evt_1", "txn_1", shadow_custom(&s), 0)));

    // 30 days of sponsorship run out; 90 days later the same custom_data is paid again.
    h.clock.advance_secs(90 * DAY);
    run_cron(&h);
    assert_eq!(
        oversight(&h, &s.shadow_id, &a.id),
        (0, Some("shadow_expired".into()))
    );
    let payments = snapshot(&h, "SELECT * FROM shadow_payments");
    let oversights = snapshot(&h, "SELECT * FROM oversights");
    let r = h.webhook(&payment_at("evt_2", "txn_2", shadow_custom(&s), 90 * DAY));
    assert_ignored(&r);
    assert_eq!(rejections(&h, "link expired"), 1);
    assert_eq!(snapshot(&h, "SELECT * FROM shadow_payments"), payments);
    assert_eq!(snapshot(&h, "SELECT * FROM oversights"), oversights);
    let recorded = h.sql(
        "SELECT outcome FROM webhook_events WHERE event_id = 'evt_2'",
        vec![],
    );
    assert_eq!(recorded.rows[0]["outcome"], "ignored");

    // The window is the challenge's hour plus an hour (defaults), judged at the payment's own
    // `occurred_at`: a delivery retried long after a payment inside the window still counts.
    let b = h.register(&TestKey::random(), "B");
    let mut late = sponsor(&b.id);
    late.issued_at = T0 + 90 * DAY - 7201;
    assert_ignored(&h.webhook(&payment_at(
        "evt_3",
        "txn_3",
        shadow_custom(&late),
        90 * DAY,
    )));
    assert_eq!(rejections(&h, "link expired"), 2);
    let mut edge = sponsor(&b.id);
    edge.issued_at = T0 + 90 * DAY - 7200;
    h.clock.advance_secs(DAY);
    assert_processed(&h.webhook(&payment_at(
        "evt_4",
        "txn_4",
        shadow_custom(&edge),
        90 * DAY,
    )));
    assert_eq!(oversight(&h, &edge.shadow_id, &b.id), (1, None));

    // The issue time is signed: moving it forward breaks the signature; leaving it out, or a
    // link issued after the payment, is refused too.
    let c = h.register(&TestKey::random(), "C");
    let fresh = sponsor(&c.id);
    let mut moved = shadow_custom(&fresh);
    moved["issued_at"] = json!(h.now_s());
    assert_ignored(&h.webhook(&payment_at("evt_5", "txn_5", moved, 91 * DAY)));
    assert_eq!(rejections(&h, "link_sig does not verify"), 1);
    let mut missing = shadow_custom(&fresh);
    missing.as_object_mut().unwrap().remove("issued_at");
    assert_ignored(&h.webhook(&payment_at("evt_6", "txn_6", missing, 91 * DAY)));
    assert_eq!(rejections(&h, "custom_data without issued_at"), 1);
    let mut future = sponsor(&c.id);
    future.issued_at = T0 + 91 * DAY + 61;
    assert_ignored(&h.webhook(&payment_at(
        "evt_7",
        "txn_7",
        shadow_custom(&future),
        91 * DAY,
    )));
    assert_eq!(rejections(&h, "link issued after the payment"), 1);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oversights WHERE agent_id IN (SELECT id FROM agents WHERE name = 'C')"),
        0
    );
}

/// A payment never re-activates an oversight the agent revoked after confirming: it is recorded
/// without effect. A claim the agent confirms again afterwards is honoured.
#[test]
fn a_payment_never_reactivates_a_sponsorship_revoked_after_confirming() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let s = sponsor(&a.id);
    assert_processed(&h.webhook(&payment_at("evt_1", "txn_1", shadow_custom(&s), 0)));
    assert_eq!(oversight(&h, &s.shadow_id, &a.id), (1, None));

    h.clock.advance_secs(10);
    let r = h.send(Req::post("/v1/agents/revoke-overseer").bearer(&a.session));
    assert_eq!(r.status, 200, "{}", r.body);
    // Within the link's window, the sponsor pays again with the same checkout data.
    h.clock.advance_secs(10);
    assert_processed(&h.webhook(&payment_at("evt_2", "txn_2", shadow_custom(&s), 20)));
    assert_eq!(
        oversight(&h, &s.shadow_id, &a.id),
        (0, Some("revoked_by_agent".into()))
    );
    let row = h.sql(
        "SELECT applied, valid_from, valid_until FROM shadow_payments WHERE transaction_id = 'txn_2'",
        vec![],
    );
    assert_eq!(
        row.rows[0]["applied"], 0,
        "recorded for the operator, no effect"
    );
    assert_eq!(row.rows[0]["valid_from"], row.rows[0]["valid_until"]);
    let late = h.sql(
        "SELECT json_extract(details, '$.revoked_by_agent') AS r FROM audit_events \
         WHERE type = 'shadow_claim.late_payment'",
        vec![],
    );
    assert_eq!(late.rows[0]["r"], 1);
    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session)).body;
    assert_eq!(me["subscription"]["tier"], "FREE");

    // The agent confirms a new shadow claim later: that payment re-activates the sponsorship.
    h.clock.advance_secs(10);
    let mut again = sponsor(&a.id);
    again.issued_at = h.now_s();
    assert_processed(&h.webhook(&payment_at("evt_3", "txn_3", shadow_custom(&again), 40)));
    assert_eq!(oversight(&h, &s.shadow_id, &a.id), (1, None));
}

#[test]
fn the_shadow_link_window_covers_the_challenge() {
    use agent_id::config::Config;
    let c = Config::load(&vars(&[("SHADOW_CHALLENGE_TTL_SECS", "600")])).unwrap();
    assert_eq!(
        c.shadow_link_ttl_secs, 4200,
        "the challenge's lifetime plus an hour"
    );
    assert_eq!(
        Config::load(&vars(&[("SHADOW_LINK_TTL_SECS", "3599")]))
            .unwrap_err()
            .name,
        "SHADOW_LINK_TTL_SECS",
        "shorter than the default challenge (3600 s)"
    );
    assert!(Config::load(&vars(&[("SHADOW_LINK_TTL_SECS", "3600")])).is_ok());
}

/// Paddle may add subscription statuses: an unknown one is mirrored verbatim and shown as sent,
/// grants nothing (the FREE limits apply, nothing can be canceled), and never breaks a read of
/// the stored row.
#[test]
fn an_unknown_paddle_status_is_kept_verbatim_and_grants_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_u", "PRO", PRICE_PRO);
    let r = h.send(Req::get("/v1/subscriptions/usage").bearer(&o.session));
    assert_eq!(r.body["usage"]["max_agents"], 5, "{}", r.body);
    assert_processed(&h.webhook(&envelope(
        "evt_u",
        "subscription.updated",
        10,
        sub("sub_u", "under_review", PRICE_PRO, None),
    )));
    let s = subscription(&h, &o.session);
    assert_eq!(s["status"], "under_review");
    assert_eq!(s["is_active"], false);
    assert_eq!(s["will_renew"], false);
    let r = h.send(Req::get("/v1/subscriptions/usage").bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["usage"]["max_agents"], 0, "FREE limits apply");
    cancel(&h, &o.session).assert_error(400, "no_subscription");
    let r = h.send(Req::get("/v1/overseers/me").bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
}
