//! `POST /v1/webhooks/paddle`: security.md §17.14 (P01–P23), vectors.md §5.12 end to end,
//! dedup, ordering, and the subscription lifecycle of api.md 5.13 with pool enforcement.

mod common;

use serde_json::{json, Value};

use common::oauth::Client;
use common::paddle::*;
use common::*;

fn signed(h: &Harness, header: &str, body: &str) -> Resp {
    h.send(
        Req::post("/v1/webhooks/paddle")
            .header("paddle-signature", header)
            .raw("application/json", body.as_bytes().to_vec()),
    )
}

fn hmac_hex(msg: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    m.update(msg);
    agent_id::crypto::hex::encode(&m.finalize().into_bytes())
}

/// Registers a client through `session` (of its `owner_type`) one millisecond after the last,
/// so "newest" is well defined; returns its id.
fn register_client(h: &Harness, owner_type: &str, session: &str) -> String {
    h.clock.set_ms(h.clock_ms() + 1);
    Client::register(h, owner_type, session, "C").id
}

/// The overseer marks `what` (`agents/<id>` or `clients/<id>`) for cancellation.
fn mark(h: &Harness, o: &Overseer, what: &str) {
    let r = h.send(
        Req::new(
            http::Method::PUT,
            &format!("/v1/overseers/{}/{what}/cancellation", o.id),
        )
        .bearer(&o.session)
        .json(json!({"marked_for_cancellation": true})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["marked_for_cancellation"], true, "{}", r.body);
}

fn unknown_sub_body() -> String {
    envelope(
        "evt_unknown",
        "subscription.updated",
        0,
        sub("sub_unknown", "active", PRICE_BASIC, None),
    )
}

#[test]
fn signature_and_envelope_catalogue() {
    let h = Harness::new();
    let body = unknown_sub_body();
    let now = h.now_s();
    let good = hmac_hex(format!("{now}:{body}").as_bytes());
    // P01
    h.send(Req::post("/v1/webhooks/paddle").raw("application/json", body.clone().into_bytes()))
        .assert_error(400, "missing_signature");
    // P02
    signed(&h, "garbage", &body).assert_error(401, "invalid_webhook_signature");
    // P03 / P04: 301 s away either way
    for ts in [now - 301, now + 301] {
        let h1 = hmac_hex(format!("{ts}:{body}").as_bytes());
        signed(&h, &format!("ts={ts};h1={h1}"), &body)
            .assert_error(401, "invalid_webhook_signature");
    }
    // P05
    signed(&h, &format!("ts={now};h1={}", "0".repeat(64)), &body)
        .assert_error(401, "invalid_webhook_signature");
    // P06: `.` instead of `:`
    let dot = hmac_hex(format!("{now}.{body}").as_bytes());
    signed(&h, &format!("ts={now};h1={dot}"), &body).assert_error(401, "invalid_webhook_signature");
    // P08: only v1=
    signed(&h, &format!("ts={now};v1={good}"), &body)
        .assert_error(401, "invalid_webhook_signature");
    // P09: one space added after signing
    signed(&h, &format!("ts={now};h1={good}"), &format!("{body} "))
        .assert_error(401, "invalid_webhook_signature");
    // Nothing was recorded by any rejected delivery.
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM webhook_events"), 0);
    // P07: a wrong h1 before the right one.
    let r = signed(
        &h,
        &format!("ts={now};h1={};h1={good}", "ab".repeat(32)),
        &body,
    );
    assert_ignored(&r); // unknown subscription without custom_data (P16)
                        // P10 / P11
    let sign = |b: &str| agent_id::paddle::signature::sign(WEBHOOK_SECRET, now, b.as_bytes());
    for b in [
        "not json",
        r#"{"event_type":"subscription.updated","occurred_at":"2026-01-01T00:00:00Z","data":{}}"#,
    ] {
        signed(&h, &sign(b), b).assert_error(400, "invalid_payload");
    }
    // P22: 70 KB body
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000));
    signed(&h, &sign(&big), &big).assert_error(413, "payload_too_large");
    // P20 / P21
    for (i, t) in ["foo.bar", "subscription.cancelled", "subscription.imported"]
        .iter()
        .enumerate()
    {
        let b = envelope(
            &format!("evt_t{i}"),
            t,
            0,
            sub("sub_x", "active", PRICE_BASIC, None),
        );
        assert_ignored(&h.webhook(&b));
    }
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM webhook_events WHERE outcome = 'ignored'"),
        4
    );
}

#[test]
fn p23_without_webhook_secret_is_a_configuration_error() {
    let mut v = vars(&[]);
    v.remove("PADDLE_WEBHOOK_SECRET");
    let h = Harness::with_config(agent_id::config::Config::load(&v));
    let r = h.webhook(&unknown_sub_body());
    r.assert_error(503, "configuration_error");
}

#[test]
fn rate_limited_per_ip() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"webhook":"2/60"}"#)]);
    let body = unknown_sub_body();
    assert_eq!(h.webhook(&body).status, 200);
    assert_eq!(h.webhook(&body).status, 200);
    let r = h.webhook(&body);
    r.assert_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}

/// vectors.md §5.12: the exact body and header verify; the named overseer does not exist here
/// (and the link key differs), so the event is ignored; a changed byte is 401; the same body
/// re-signed for a real overseer links the subscription on BASIC.
#[test]
fn vector_5_12_end_to_end() {
    const BODY: &str = r#"{"event_id":"evt_01test000000000000000001","event_type":"subscription.activated","occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test000000000000000001","data":{"id":"sub_01test000000000000000001","status":"active","customer_id":"ctm_01test000000000000000001","items":[{"price":{"id":"pri_01basic000000000000000000"},"quantity":1}],"current_billing_period":{"starts_at":"2026-01-01T00:00:00.000000Z","ends_at":"2026-02-01T00:00:00.000000Z"},"next_billed_at":"2026-02-01T00:00:00.000000Z","scheduled_change":null,"custom_data":{"overseer_id":"a4b3c2d1-e5f6-4789-8abc-def012345678","tier":"BASIC","price_id":"pri_01basic000000000000000000","nonce":"wMHCw8TFxsfIycrLzM3Ozw","link_sig":"qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec"}}}"#;
    const HEADER: &str =
        "ts=1767225600;h1=6185794460aa63620a0e81ee0e2546a97b5e0bef06cb97f5dde420393e2907d7";
    assert_eq!(BODY.len(), 751);
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let changed = BODY.replace("a4b3c2d1-e5f6-4789-8abc-def012345678", &o.id);
    signed(&h, HEADER, &changed).assert_error(401, "invalid_webhook_signature");
    assert_ignored(&signed(&h, HEADER, BODY));
    assert_eq!(audit_count(&h, "subscription.link_rejected"), 1);
    // Re-signed by Paddle but with custom_data altered by the browser: ignored, not linked.
    let tampered = changed.replace(
        "evt_01test000000000000000001",
        "evt_01test000000000000000002",
    );
    assert_ignored(&h.webhook(&tampered));
    assert_eq!(subscription(&h, &o.session)["tier"], "FREE");
    // Correctly signed custom_data for the real overseer.
    let sig = sub_link(&o.id, "BASIC", PRICE_BASIC)["link_sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let good = tampered
        .replace("qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec", &sig)
        .replace(
            "evt_01test000000000000000002",
            "evt_01test000000000000000003",
        );
    assert_processed(&h.webhook(&good));
    let s = subscription(&h, &o.session);
    assert_eq!(s["id"], "sub_01test000000000000000001");
    assert_eq!(s["tier"], "BASIC");
    assert_eq!(s["status"], "active");
    assert_eq!(s["is_active"], true);
    assert_eq!(s["will_renew"], true);
    assert_eq!(s["billing_period_end"], "2026-02-01T00:00:00.000Z");
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.linked"),
        1
    );
    assert_eq!(customer_id(&h, &o.session), "ctm_01test000000000000000001");
}

#[test]
fn p12_duplicate_delivery_applies_once() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let body = envelope(
        "evt_dup",
        "subscription.activated",
        0,
        sub(
            "sub_d",
            "active",
            PRICE_BASIC,
            Some(sub_link(&o.id, "BASIC", PRICE_BASIC)),
        ),
    );
    assert_processed(&h.webhook(&body));
    let audits = h.count("SELECT COUNT(*) AS n FROM audit_events");
    assert_duplicate(&h.webhook(&body));
    assert_duplicate(&h.webhook(&body));
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM audit_events"), audits);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM webhook_events"), 1);
}

#[test]
fn p13_older_event_is_ignored() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let link = sub_link(&o.id, "PRO", PRICE_PRO);
    assert_processed(&h.webhook(&envelope(
        "evt_2",
        "subscription.updated",
        100,
        sub("sub_o", "active", PRICE_PRO, Some(link.clone())),
    )));
    let before = snapshot(&h, "SELECT * FROM subscriptions");
    assert_ignored(&h.webhook(&envelope(
        "evt_1",
        "subscription.paused",
        50,
        sub("sub_o", "paused", PRICE_PRO, Some(link)),
    )));
    assert_eq!(snapshot(&h, "SELECT * FROM subscriptions"), before);
    assert_eq!(subscription(&h, &o.session)["status"], "active");
}

#[test]
fn p14_p15_p16_rejected_links_change_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let other = h.overseer("other@example.test");
    // P14: overseer_id changed after the service signed it.
    let mut forged = sub_link(&o.id, "BASIC", PRICE_BASIC);
    forged["overseer_id"] = json!(other.id);
    // P15: price_id differs from the item's price.
    let wrong_price = sub_link(&o.id, "PRO", PRICE_PRO);
    // Tier name does not match the price.
    let wrong_tier = sub_link(&o.id, "PREMIUM", PRICE_BASIC);
    // Signed for an id that is not a human overseer.
    let ghost = sub_link(&uuid(), "BASIC", PRICE_BASIC);
    for (i, custom) in [forged, wrong_price, wrong_tier, ghost]
        .into_iter()
        .enumerate()
    {
        let r = h.webhook(&envelope(
            &format!("evt_r{i}"),
            "subscription.activated",
            0,
            sub(&format!("sub_r{i}"), "active", PRICE_BASIC, Some(custom)),
        ));
        assert_ignored(&r);
    }
    // P16: unknown subscription without custom_data.
    assert_ignored(&h.webhook(&unknown_sub_body()));
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM subscriptions"), 0);
    assert_eq!(audit_count(&h, "subscription.link_rejected"), 4);
    for s in [&o.session, &other.session] {
        assert_eq!(subscription(&h, s)["tier"], "FREE");
    }
    // An existing row decides the overseer; later custom_data is ignored.
    subscribe(&h, &o.id, "sub_ok", "BASIC", PRICE_BASIC);
    let mut hijack = sub_link(&other.id, "BASIC", PRICE_BASIC);
    hijack["link_sig"] = sub_link(&other.id, "BASIC", PRICE_BASIC)["link_sig"].clone();
    assert_processed(&h.webhook(&envelope(
        "evt_h",
        "subscription.updated",
        10,
        sub("sub_ok", "active", PRICE_BASIC, Some(hijack)),
    )));
    assert_eq!(subscription(&h, &o.session)["id"], "sub_ok");
    assert_eq!(subscription(&h, &other.session)["id"], Value::Null);
}

#[test]
fn incomplete_data_is_ignored_not_an_error() {
    let h = Harness::new();
    let body = json!({"event_id": "evt_i", "event_type": "subscription.activated",
        "occurred_at": at(0), "data": {"status": 5}})
    .to_string();
    assert_ignored(&h.webhook(&body));
    let txn = json!({"event_id": "evt_t", "event_type": "transaction.completed",
        "occurred_at": at(0), "data": {"id": "txn_1"}})
    .to_string();
    assert_ignored(&h.webhook(&txn));
}

/// The final state depends on the events, not on their delivery order.
#[test]
fn shuffled_stream_converges() {
    let events = |o: &str| {
        let link = sub_link(o, "BASIC", PRICE_BASIC);
        let mut updated = sub("sub_s", "active", PRICE_BASIC, None);
        updated["scheduled_change"] =
            json!({"action": "cancel", "effective_at": at(31 * 86_400), "resume_at": null});
        vec![
            envelope(
                "evt_s1",
                "subscription.created",
                0,
                sub("sub_s", "trialing", PRICE_BASIC, Some(link.clone())),
            ),
            envelope(
                "evt_s2",
                "subscription.activated",
                10,
                sub("sub_s", "active", PRICE_BASIC, Some(link.clone())),
            ),
            envelope(
                "evt_s3",
                "subscription.past_due",
                20,
                sub("sub_s", "past_due", PRICE_BASIC, Some(link.clone())),
            ),
            envelope("evt_s4", "subscription.updated", 30, {
                let mut u = updated.clone();
                u["custom_data"] = link.clone();
                u
            }),
        ]
    };
    let orders: [[usize; 4]; 4] = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
    let mut finals = Vec::new();
    for order in orders {
        let h = Harness::new();
        let o = h.overseer("o@example.test");
        let evs = events(&o.id);
        for i in order {
            let r = h.webhook(&evs[i]);
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let mut s = subscription(&h, &o.session);
        for k in ["created_at", "updated_at"] {
            s.as_object_mut().unwrap().remove(k);
        }
        finals.push(s);
    }
    assert_eq!(finals[0]["tier"], "BASIC");
    assert_eq!(finals[0]["status"], "active");
    assert_eq!(finals[0]["will_renew"], false);
    assert_eq!(finals[0]["scheduled_cancel_at"], at(31 * 86_400));
    for f in &finals[1..] {
        assert_eq!(f, &finals[0]);
    }
}

/// A pause suspends every oversight and the pool's clients; the resume restores exactly those,
/// not an agent the overseer had declaimed earlier or a client disabled for another reason.
#[test]
fn pause_and_resume_restore_only_what_the_pause_suspended() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_p", "PRO", PRICE_PRO);
    let a1 = h.register(&TestKey::random(), "A1");
    let a2 = h.register(&TestKey::random(), "A2");
    let gone = h.register(&TestKey::random(), "Gone");
    for a in [&a1, &a2, &gone] {
        h.claim(&o, a);
    }
    let declaimed =
        h.send(Req::post(&format!("/v1/agents/declaim/{}", gone.id)).bearer(&o.session));
    assert_eq!(declaimed.status, 200);
    let own = register_client(&h, "overseer", &o.session);
    let agents_client = register_client(&h, "agent", &a1.session);
    // A client of the pool disabled for the tier limit: A1's clients leave the pool with A1
    // (declaimed) and stay disabled when A1 is claimed again; A1 re-enables only the first.
    let tier_limited = register_client(&h, "agent", &a1.session);
    let r = h.send(Req::post(&format!("/v1/agents/declaim/{}", a1.id)).bearer(&o.session));
    assert_eq!(r.status, 200, "{}", r.body);
    h.claim(&o, &a1);
    let r = h.send(
        Req::new(
            http::Method::PUT,
            &format!("/v1/clients/{agents_client}/enable"),
        )
        .bearer(&a1.session),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        listed_client_state(&h, "agent", &a1.session, &tier_limited),
        (1, Some("tier_limit".into()))
    );

    let link = sub_link(&o.id, "PRO", PRICE_PRO);
    assert_processed(&h.webhook(&envelope(
        "evt_pause",
        "subscription.paused",
        100,
        sub("sub_p", "paused", PRICE_PRO, Some(link.clone())),
    )));
    for a in [&a1, &a2] {
        assert_eq!(
            oversight(&h, &o.id, &a.id),
            (0, Some("subscription_paused".into()))
        );
    }
    assert_eq!(
        listed_client_state(&h, "overseer", &o.session, &own),
        (1, Some("subscription_paused".into()))
    );
    assert_eq!(
        listed_client_state(&h, "agent", &a1.session, &agents_client),
        (1, Some("subscription_paused".into()))
    );
    let s = subscription(&h, &o.session);
    assert_eq!(
        (
            s["status"].as_str(),
            s["tier"].as_str(),
            s["is_active"].as_bool()
        ),
        (Some("paused"), Some("PRO"), Some(false))
    );
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&a1.session)).body["subscription"]["tier"],
        "FREE"
    );

    // Meanwhile A2 was claimed by someone else: it is not taken back.
    let other = h.overseer("x@example.test");
    subscribe(&h, &other.id, "sub_x", "BASIC", PRICE_BASIC);
    h.claim(&other, &a2);

    assert_processed(&h.webhook(&envelope(
        "evt_resume",
        "subscription.resumed",
        200,
        sub("sub_p", "active", PRICE_PRO, Some(link)),
    )));
    assert_eq!(oversight(&h, &o.id, &a1.id), (1, None));
    assert_eq!(
        oversight(&h, &o.id, &a2.id),
        (0, Some("subscription_paused".into()))
    );
    assert_eq!(
        oversight(&h, &o.id, &gone.id),
        (0, Some("declaimed".into()))
    );
    assert_eq!(
        listed_client_state(&h, "overseer", &o.session, &own),
        (0, None)
    );
    assert_eq!(
        listed_client_state(&h, "agent", &a1.session, &agents_client),
        (0, None)
    );
    assert_eq!(
        listed_client_state(&h, "agent", &a1.session, &tier_limited),
        (1, Some("tier_limit".into()))
    );
    assert_eq!(
        overseer_audit_count(&h, &o.session, "oversight.reactivated"),
        1
    );
}

/// PRO → BASIC: one agent and ten clients stay; marked ones go first, then the newest.
#[test]
fn downgrade_enforces_the_lower_limits() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_dg", "PRO", PRICE_PRO);
    let agents: Vec<Agent> = (0..3)
        .map(|i| h.register(&TestKey::random(), &format!("A{i}")))
        .collect();
    for a in &agents {
        h.clock.advance_secs(1);
        h.claim(&o, a);
    }
    // The oldest claim is marked for cancellation, so it goes first; then the newest.
    mark(&h, &o, &format!("agents/{}", agents[0].id));
    let clients: Vec<String> = (0..12)
        .map(|_| register_client(&h, "overseer", &o.session))
        .collect();
    mark(&h, &o, &format!("clients/{}", clients[0]));
    let agent_client = register_client(&h, "agent", &agents[2].session);

    assert_processed(&h.webhook(&envelope(
        "evt_dg",
        "subscription.updated",
        100,
        sub("sub_dg", "active", PRICE_BASIC, None),
    )));
    assert_eq!(oversight(&h, &o.id, &agents[1].id), (1, None));
    for a in [&agents[0], &agents[2]] {
        assert_eq!(
            oversight(&h, &o.id, &a.id),
            (0, Some("tier_downgrade".into()))
        );
    }
    // Pool: 12 own clients, max 10 → the marked one and the newest go.
    assert_eq!(
        listed_client_state(&h, "overseer", &o.session, &clients[0]),
        (1, Some("tier_limit".into()))
    );
    assert_eq!(
        listed_client_state(&h, "overseer", &o.session, &clients[11]),
        (1, Some("tier_limit".into()))
    );
    for c in &clients[1..11] {
        assert_eq!(listed_client_state(&h, "overseer", &o.session, c).0, 0);
    }
    // The released agent's client falls back to its own FREE pool (0 clients).
    assert_eq!(
        listed_client_state(&h, "agent", &agents[2].session, &agent_client),
        (1, Some("tier_limit".into()))
    );
    let usage = h
        .send(Req::get("/v1/subscriptions/usage").bearer(&o.session))
        .body["usage"]
        .clone();
    assert_eq!(
        (
            usage["agents_claimed"].as_i64(),
            usage["clients_registered"].as_i64()
        ),
        (Some(1), Some(10))
    );
    assert_eq!(
        overseer_audit_count(&h, &o.session, "oversight.deactivated"),
        2
    );
    assert_eq!(overseer_audit_count(&h, &o.session, "client.disabled"), 3);
}

#[test]
fn cancellation_falls_back_to_free() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_c", "BASIC", PRICE_BASIC);
    let a = h.register(&TestKey::random(), "A");
    h.claim(&o, &a);
    let c = register_client(&h, "overseer", &o.session);
    assert_processed(&h.webhook(&envelope(
        "evt_cx",
        "subscription.canceled",
        100,
        sub("sub_c", "canceled", PRICE_BASIC, None),
    )));
    assert_eq!(
        oversight(&h, &o.id, &a.id),
        (0, Some("subscription_canceled".into()))
    );
    assert_eq!(
        listed_client_state(&h, "overseer", &o.session, &c),
        (1, Some("tier_limit".into()))
    );
    let s = subscription(&h, &o.session);
    assert_eq!(
        (s["id"].as_str(), s["status"].as_str(), s["tier"].as_str()),
        (Some("sub_c"), Some("canceled"), Some("FREE"))
    );
    assert_eq!(s["will_renew"], false);
}

/// A new subscription replaces the current one, which is cancelled at its period end — the
/// Paddle call only after the response.
#[test]
fn a_new_subscription_replaces_the_current_one() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.drain();
    h.paddle.calls.borrow_mut().clear();
    subscribe(&h, &o.id, "sub_old", "BASIC", PRICE_BASIC);
    h.clock.advance_secs(60);
    subscribe(&h, &o.id, "sub_new", "PRO", PRICE_PRO);
    assert!(
        h.paddle.calls().is_empty(),
        "no Paddle call before the response"
    );
    let s = subscription(&h, &o.session);
    assert_eq!(
        (s["id"].as_str(), s["tier"].as_str()),
        (Some("sub_new"), Some("PRO"))
    );
    h.drain();
    assert_eq!(h.paddle.cancels(), vec!["sub_old".to_owned()]);
    let row = h.sql("SELECT cancel_requested_at, scheduled_change_action FROM subscriptions WHERE id = 'sub_old'", vec![]);
    assert!(row.rows[0]["cancel_requested_at"].is_i64());
    assert_eq!(row.rows[0]["scheduled_change_action"], "cancel");
    // A late event of the old subscription updates its row only.
    assert_processed(&h.webhook(&envelope(
        "evt_old2",
        "subscription.updated",
        500,
        sub("sub_old", "active", PRICE_BASIC, None),
    )));
    assert_eq!(subscription(&h, &o.session)["id"], "sub_new");
}

#[test]
fn customer_created_sets_the_customer_once() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let sig = agent_id::paddle::link::customer_sig(&link_key(), &o.id);
    let ev = |id: &str, ctm: &str, sig: &str| {
        envelope(
            id,
            "customer.created",
            0,
            json!({"id": ctm, "custom_data": {"overseer_id": o.id, "link_sig": sig}}),
        )
    };
    assert_ignored(&h.webhook(&ev("evt_c0", "ctm_forged", "AAAA")));
    assert_processed(&h.webhook(&ev("evt_c1", "ctm_first", &sig)));
    assert_ignored(&h.webhook(&ev("evt_c2", "ctm_second", &sig)));
    assert_eq!(customer_id(&h, &o.session), "ctm_first");
}

/// A database in front of SQLite that simulates what happens between the dedup check and the
/// batch: either a concurrent delivery of the same event commits first, or storage fails.
struct Interfering {
    inner: std::rc::Rc<agent_id::store::sqlite::SqliteDb>,
    mode: Mode,
}

#[derive(Clone, Copy)]
enum Mode {
    ConcurrentDuplicate,
    StorageDown,
}

#[async_trait::async_trait(?Send)]
impl agent_id::store::Db for Interfering {
    async fn run(
        &self,
        stmt: agent_id::store::Statement,
    ) -> Result<agent_id::store::Outcome, agent_id::store::StoreError> {
        self.inner.run(stmt).await
    }

    async fn batch(
        &self,
        stmts: Vec<agent_id::store::Statement>,
    ) -> Result<Vec<agent_id::store::Outcome>, agent_id::store::StoreError> {
        let event_row = stmts
            .iter()
            .find(|s| s.sql.starts_with("INSERT INTO webhook_events"));
        if let Some(row) = event_row {
            match self.mode {
                Mode::ConcurrentDuplicate => {
                    self.inner.run(row.clone()).await?;
                }
                Mode::StorageDown => {
                    return Err(agent_id::store::StoreError::Backend(
                        "D1 unavailable".into(),
                    ));
                }
            }
        }
        self.inner.batch(stmts).await
    }
}

fn interfering_app(h: &Harness, mode: Mode) -> agent_id::app::App {
    agent_id::app::App::new(
        agent_id::config::Config::load(&vars(&[])),
        h.clock.clone(),
        std::rc::Rc::new(agent_id::clock::OsEntropy),
        std::rc::Rc::new(Interfering {
            inner: h.db.clone(),
            mode,
        }),
        h.kv.clone(),
    )
}

fn deliver(app: &agent_id::app::App, h: &Harness, body: &str) -> Resp {
    let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
    let req = Req::post("/v1/webhooks/paddle")
        .header("paddle-signature", &sig)
        .raw("application/json", body.as_bytes().to_vec())
        .into_request();
    match futures::executor::block_on(app.handle(req)) {
        agent_id::app::Handled::Response(r) => Resp::from(r),
        agent_id::app::Handled::Asset(_) => panic!("app asset"),
    }
}

#[test]
fn concurrent_duplicate_loses_the_race_cleanly() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let app = interfering_app(&h, Mode::ConcurrentDuplicate);
    let body = envelope(
        "evt_race",
        "subscription.activated",
        0,
        sub(
            "sub_race",
            "active",
            PRICE_BASIC,
            Some(sub_link(&o.id, "BASIC", PRICE_BASIC)),
        ),
    );
    assert_duplicate(&deliver(&app, &h, &body));
    // The losing delivery committed nothing (the winner here only wrote its event row).
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM subscriptions"), 0);
    assert_eq!(audit_count(&h, "subscription.linked"), 0);
}

#[test]
fn storage_failure_is_500_and_commits_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let app = interfering_app(&h, Mode::StorageDown);
    let body = envelope(
        "evt_down",
        "subscription.activated",
        0,
        sub(
            "sub_down",
            "active",
            PRICE_BASIC,
            Some(sub_link(&o.id, "BASIC", PRICE_BASIC)),
        ),
    );
    let r = deliver(&app, &h, &body);
    r.assert_error(500, "internal_error");
    assert!(r.body["request_id"].is_string());
    assert!(
        !r.raw.windows(2).any(|w| w == b"D1"),
        "no storage detail in the response"
    );
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM webhook_events"), 0);
    // Paddle retries once storage is back: applied normally.
    assert_processed(&h.webhook(&body));
    assert_eq!(subscription(&h, &o.session)["tier"], "BASIC");
}
