//! Human claims and shadow claims (api.md 2.4, 2.5; security.md 17.6, 17.7).

mod common;

use common::*;
use serde_json::json;

fn initiate(h: &Harness, o: &Overseer, agent_id: &str) -> Resp {
    h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({"agent_id": agent_id})),
    )
}

fn complete_dpop(h: &Harness, key: &TestKey, challenge_id: &str, overseer_id: &str) -> Resp {
    let path = format!("/v1/agents/claim/complete/{challenge_id}");
    h.send(
        Req::post(&path)
            .header("dpop", &h.post_proof(key, &path))
            .json(json!({"overseer_id": overseer_id})),
    )
}

fn oversights(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM oversights")
}

#[test]
fn free_overseers_cannot_claim_and_initiation_writes_nothing() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    let a = h.register(&TestKey::random(), "A");
    initiate(&h, &o, &a.id).assert_error(403, "tier_limit_reached");
    initiate(&h, &o, "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b").assert_error(404, "agent_not_found");
    initiate(&h, &o, "nope").assert_error(400, "invalid_field");
    h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({})),
    )
    .assert_error(400, "missing_field");
    h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&a.session)
            .json(json!({"agent_id": a.id})),
    )
    .assert_error(403, "forbidden");
    assert_eq!(oversights(&h), 0);
}

#[test]
fn claim_lifecycle_with_a_dpop_confirmation() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let ka = TestKey::random();
    let a = h.register(&ka, "A");

    let r = initiate(&h, &o, &a.id.to_uppercase());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["overseer_id"], o.id.as_str());
    assert_eq!(r.body["agent_id"], a.id.as_str());
    assert_eq!(r.body["expires_in"], 900);
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["complete_url"],
        format!("{ISSUER}/v1/agents/claim/complete/{cid}")
    );
    assert_eq!(oversights(&h), 0, "initiation never touches oversights");
    let status = |h: &Harness| {
        h.send(Req::get(&format!("/v1/agents/claim/status/{cid}")).bearer(&o.session))
    };
    assert_eq!(status(&h).body["status"], "pending");

    let done = complete_dpop(&h, &ka, &cid, &o.id);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        done.body,
        json!({"success": true, "message": "Claim accepted", "status": "completed", "overseer_id": o.id, "agent_id": a.id})
    );
    assert_eq!(status(&h).body["status"], "completed");
    // A challenge is single use: completing it again, even for the same overseer with a valid
    // proof, finds no pending challenge (404 `challenge_not_found`), and the claim it made
    // stands. (The idempotence of api.md 2.4 is a *new* challenge of an overseer that already
    // oversees the agent.)
    let again = complete_dpop(&h, &ka, &cid, &o.id);
    assert_eq!(
        again.status, 404,
        "a completed challenge is no longer pending"
    );
    again.assert_error(404, "challenge_not_found");
    assert_eq!(status(&h).body["status"], "completed");

    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session));
    assert_eq!(me.body["subscription"]["tier"], "BASIC");
    assert_eq!(me.body["subscription"]["source"], "overseer");
    let ov = h.send(Req::get("/v1/agents/me/overseer").bearer(&a.session));
    assert_eq!(ov.body["overseer"]["id"], o.id.as_str());
    assert_eq!(ov.body["overseer"]["name"], "Demo Overseer");
    assert_eq!(ov.body["overseer"]["is_shadow"], false);
    assert_eq!(ov.body["overseer"]["tier"], "BASIC");
    assert!(
        ov.body["overseer"].get("email").is_none(),
        "agents never see the e-mail"
    );
    let usage = h.send(Req::get("/v1/subscriptions/usage").bearer(&o.session));
    assert_eq!(
        (
            usage.body["usage"]["agents_claimed"].as_i64(),
            usage.body["usage"]["max_agents"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let agents = h.send(Req::get("/v1/overseers/me/agents").bearer(&o.session));
    assert_eq!(agents.body["agents"][0]["id"], a.id.as_str());
    assert_eq!(
        agents.body["agents"][0]["claimed_at"],
        "2026-01-01T00:00:00.000Z"
    );

    // BASIC allows one agent.
    let b = h.register(&TestKey::random(), "B");
    initiate(&h, &o, &b.id).assert_error(403, "tier_limit_reached");
    initiate(&h, &o, &a.id).assert_error(409, "already_claimed");
    assert_eq!(
        initiate(&h, &o, &a.id).body["error"],
        "You already oversee this agent"
    );
    let other = h.overseer("p@example.test");
    h.subscribe(&other.id, "PRO");
    let r = initiate(&h, &other, &a.id);
    r.assert_error(409, "already_claimed");
    assert_eq!(r.body["error"], "Agent already claimed by another overseer");

    // Declaim frees the slot; a re-claim reactivates the same row.
    let r = h.send(Req::post(&format!("/v1/agents/declaim/{}", a.id)).bearer(&o.session));
    assert_eq!(
        r.body,
        json!({"success": true, "message": "Agent declaimed", "agent_id": a.id})
    );
    h.send(Req::post(&format!("/v1/agents/declaim/{}", a.id)).bearer(&o.session))
        .assert_error(404, "no_active_oversight");
    assert_eq!(
        h.send(Req::get("/v1/agents/me/overseer").bearer(&a.session))
            .body["overseer"],
        serde_json::Value::Null
    );
    let again = initiate(&h, &o, &a.id);
    let done = h.send(
        Req::post(&format!(
            "/v1/agents/claim/complete/{}",
            again.body["challenge_id"].as_str().unwrap()
        ))
        .bearer(&a.session)
        .json(json!({"overseer_id": o.id})),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(oversights(&h), 1);
    let reason = h.sql("SELECT active, deactivated_reason FROM oversights", vec![]);
    assert_eq!(reason.rows[0]["active"], 1);
    assert_eq!(
        reason.rows[0]["deactivated_reason"],
        serde_json::Value::Null
    );
    let audit =
        h.send(Req::get("/v1/overseers/me/audit?type=oversight.declaimed").bearer(&o.session));
    assert_eq!(audit.body["events"].as_array().unwrap().len(), 1);
}

#[test]
fn completion_checks_in_order() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "PRO");
    let ka = TestKey::random();
    let kb = TestKey::random();
    let a = h.register(&ka, "A");
    let b = h.register(&kb, "B");
    let cid = initiate(&h, &o, &a.id).body["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/agents/claim/complete/{cid}");

    h.send(Req::post(&path).json(json!({"overseer_id": o.id})))
        .assert_error(401, "authentication_required");
    let proof = h.post_proof(&ka, &path);
    h.send(
        Req::post(&path)
            .bearer(&a.session)
            .header("dpop", &proof)
            .json(json!({"overseer_id": o.id})),
    )
    .assert_error(400, "ambiguous_authentication");
    let r = h.send(
        Req::post(&path)
            .bearer("nope")
            .json(json!({"overseer_id": o.id})),
    );
    r.assert_error(401, "invalid_session");
    assert_eq!(
        r.headers.get_all("www-authenticate").iter().count(),
        2,
        "dual-mode endpoints announce both schemes"
    );
    h.send(Req::post(&path).bearer(&a.session).json(json!({})))
        .assert_error(400, "missing_field");
    h.send(
        Req::post(&path)
            .bearer(&a.session)
            .json(json!({"overseer_id": "x"})),
    )
    .assert_error(400, "invalid_field");
    complete_dpop(&h, &kb, &cid, &o.id).assert_error(403, "challenge_mismatch");
    complete_dpop(&h, &ka, &cid, &b.id).assert_error(403, "overseer_mismatch");
    complete_dpop(&h, &ka, "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b", &o.id)
        .assert_error(404, "challenge_not_found");
    complete_dpop(&h, &ka, "not-a-uuid", &o.id).assert_error(404, "challenge_not_found");
    assert_eq!(oversights(&h), 0);

    // Expiry: 900 s; the status is reported for one more hour.
    h.clock.advance_secs(901);
    complete_dpop(&h, &ka, &cid, &o.id).assert_error(404, "challenge_not_found");
    let status = |h: &Harness| {
        h.send(Req::get(&format!("/v1/agents/claim/status/{cid}")).bearer(&o.session))
    };
    assert_eq!(status(&h).body["status"], "expired");
    let other = h.overseer("p@example.test");
    h.send(Req::get(&format!("/v1/agents/claim/status/{cid}")).bearer(&other.session))
        .assert_error(404, "challenge_not_found");
    h.clock.advance_secs(3600);
    let fresh = h.send(
        Req::post("/v1/overseers/login")
            .json(json!({"email": "o@example.test", "password": "correct horse"})),
    );
    h.send(
        Req::get(&format!("/v1/agents/claim/status/{cid}"))
            .bearer(fresh.body["session_id"].as_str().unwrap()),
    )
    .assert_error(404, "challenge_not_found");
}

#[test]
fn two_agents_racing_for_the_last_slot_have_one_winner() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let ka = TestKey::random();
    let kb = TestKey::random();
    let a = h.register(&ka, "A");
    let b = h.register(&kb, "B");
    let ca = initiate(&h, &o, &a.id).body["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cb = initiate(&h, &o, &b.id).body["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = |key: &TestKey, cid: &str| {
        let path = format!("/v1/agents/claim/complete/{cid}");
        Req::post(&path)
            .header("dpop", &h.post_proof(key, &path))
            .json(json!({"overseer_id": o.id}))
            .into_request()
    };
    let (x, y) = futures::executor::block_on(futures::future::join(
        h.app.handle(req(&ka, &ca)),
        h.app.handle(req(&kb, &cb)),
    ));
    let mut statuses = [
        x.into_response().unwrap().status().as_u16(),
        y.into_response().unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 403]);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oversights WHERE active = 1"),
        1
    );
}

#[test]
fn agents_revoke_their_own_overseer_only() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "PRO");
    let a = h.register(&TestKey::random(), "A");
    let b = h.register(&TestKey::random(), "B");
    let cid = initiate(&h, &o, &a.id).body["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.send(
        Req::post(&format!("/v1/agents/claim/complete/{cid}"))
            .bearer(&a.session)
            .json(json!({"overseer_id": o.id})),
    );
    assert_eq!(r.status, 200);
    // G18: B's request names A in its body; it acts on B only.
    h.send(
        Req::post("/v1/agents/revoke-overseer")
            .bearer(&b.session)
            .json(json!({"agent_id": a.id})),
    )
    .assert_error(404, "no_active_oversight");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oversights WHERE active = 1"),
        1
    );
    let r = h.send(Req::post("/v1/agents/revoke-overseer").bearer(&a.session));
    assert_eq!(
        r.body,
        json!({"success": true, "message": "Overseer revoked", "overseer_id": o.id})
    );
    let row = h.sql("SELECT deactivated_reason FROM oversights", vec![]);
    assert_eq!(row.rows[0]["deactivated_reason"], "revoked_by_agent");
    h.send(Req::post("/v1/agents/revoke-overseer").bearer(&a.session))
        .assert_error(404, "no_active_oversight");
    let audit = h.send(
        Req::get("/v1/overseers/me/audit?type=oversight.revoked_by_agent").bearer(&o.session),
    );
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        1,
        "the overseer's trail shows it"
    );
}

#[test]
fn shadow_claim_up_to_payment() {
    let h = Harness::new();
    let ka = TestKey::random();
    let a = h.register(&ka, "Sponsored");
    let r = h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let shadow = r.body["shadow_overseer_id"].as_str().unwrap().to_owned();
    assert_eq!(
        shadow,
        agent_id::domain::shadow::derive_id(SHADOW_SECRET, &a.id)
    );
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM overseers"),
        0,
        "no row before payment"
    );
    // A second initiation reuses the same shadow id.
    assert_eq!(
        h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)))
            .body["shadow_overseer_id"],
        shadow.as_str()
    );

    let status = |h: &Harness| h.send(Req::get(&format!("/v1/agents/malice/status/{cid}")));
    let s = status(&h);
    assert_eq!(s.body["status"], "initiated");
    assert!(
        s.body.get("custom_data").is_none(),
        "no checkout before the agent confirms"
    );
    assert_eq!(s.body["paddle_price_id"], PRICE_SHADOW);
    assert_eq!(s.body["price"], 19);
    assert_eq!(
        s.body["capabilities"],
        json!({"max_clients": 10, "max_oauth_per_period": -1, "validity_days": 30})
    );
    assert_eq!(s.body["agent_name"], "Sponsored");
    assert_eq!(s.body["paddle_client_token"], "test_client_token");

    // An arbitrary UUID is never a shadow id.
    complete_dpop(&h, &ka, &cid, "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b")
        .assert_error(403, "overseer_mismatch");
    let r = complete_dpop(&h, &ka, &cid, &shadow.to_uppercase());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "awaiting-payment");
    assert_eq!(r.body["shadow_overseer_id"], shadow.as_str());
    assert_eq!(
        complete_dpop(&h, &ka, &cid, &shadow).status,
        200,
        "confirming twice is idempotent"
    );

    let s = status(&h);
    assert_eq!(s.body["status"], "awaiting-payment");
    let cd = &s.body["custom_data"];
    assert_eq!(cd["is_shadow_claim"], true);
    let key = agent_id::paddle::link::link_key(None, SHADOW_SECRET);
    // Issued as of the agent's confirmation (the clock has not moved since).
    let issued_at = cd["issued_at"].as_i64().unwrap();
    assert_eq!(issued_at, h.now_s());
    let expected = agent_id::paddle::link::shadow_sig(&key, &cid, &a.id, &shadow, issued_at);
    assert!(agent_id::paddle::link::verify_sig(
        &expected,
        cd["link_sig"].as_str().unwrap()
    ));
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oversights"),
        0,
        "nothing changes before payment"
    );

    h.send(Req::get("/v1/agents/malice/status/not-a-uuid"))
        .body
        .eq(&json!({"success": true, "challenge_id": "not-a-uuid", "status": "expired"}))
        .then_some(())
        .expect("unknown ids read as expired");
    h.clock.advance_secs(3601);
    assert_eq!(status(&h).body["status"], "expired");
}

#[test]
fn shadow_claims_refuse_claimed_agents_and_are_rate_limited() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "PRO");
    let a = h.register(&TestKey::random(), "A");
    let cid = initiate(&h, &o, &a.id).body["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.send(
            Req::post(&format!("/v1/agents/claim/complete/{cid}"))
                .bearer(&a.session)
                .json(json!({"overseer_id": o.id}))
        )
        .status,
        200
    );
    h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)))
        .assert_error(409, "already_claimed");
    h.send(Req::post(
        "/v1/agents/malice/0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b",
    ))
    .assert_error(404, "agent_not_found");
    h.send(Req::post("/v1/agents/malice/not-a-uuid"))
        .assert_error(404, "agent_not_found");
    let b = h.register(&TestKey::random(), "B");
    for _ in 0..7 {
        assert_eq!(
            h.send(Req::post(&format!("/v1/agents/malice/{}", b.id)))
                .status,
            200
        );
    }
    h.send(Req::post(&format!("/v1/agents/malice/{}", b.id)))
        .assert_error(429, "rate_limited");
}

#[test]
fn shadow_endpoints_fail_closed_without_their_secrets() {
    let h = Harness::with_config(agent_id::config::Config::load(&{
        let mut v = vars(&[]);
        v.remove("SHADOW_SECRET");
        v
    }));
    let a = h.register(&TestKey::random(), "A");
    h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)))
        .assert_error(503, "configuration_error");
}

#[test]
fn a_human_claim_replaces_a_paid_shadow_sponsorship_with_the_agents_consent() {
    let h = Harness::new();
    let ka = TestKey::random();
    let a = h.register(&ka, "Sponsored");
    // Sponsor → agent confirms → Paddle reports the payment (signed, with the server's link).
    let started = h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)));
    let cid = started.body["challenge_id"].as_str().unwrap().to_owned();
    let shadow = started.body["shadow_overseer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(complete_dpop(&h, &ka, &cid, &shadow).status, 200);
    let custom = h
        .send(Req::get(&format!("/v1/agents/malice/status/{cid}")))
        .body["custom_data"]
        .clone();
    let payment = common::paddle::envelope(
        "evt_shadow_paid",
        "transaction.completed",
        0,
        json!({"id": "txn_shadow_1", "status": "completed", "customer_id": "ctm_sponsor", "subscription_id": null,
               "items": [{"price": {"id": PRICE_SHADOW}, "quantity": 1}], "custom_data": custom}),
    );
    common::paddle::assert_processed(&h.webhook(&payment));
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&a.session)).body["subscription"]["tier"],
        "PAID"
    );
    assert_eq!(
        h.send(Req::get(&format!("/v1/agents/malice/status/{cid}")))
            .body["status"],
        "completed"
    );

    // A shadow sponsorship does not block a human claim, and the agent's consent replaces it.
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "PRO");
    h.claim(&o, &a);
    let rows = h.sql(
        "SELECT overseer_id, active, deactivated_reason FROM oversights WHERE agent_id = ?1 ORDER BY active",
        vec![a.id.as_str().into()],
    );
    assert_eq!(rows.rows[0]["overseer_id"], shadow.as_str());
    assert_eq!(
        (
            rows.rows[0]["active"].as_i64(),
            rows.rows[0]["deactivated_reason"].as_str()
        ),
        (Some(0), Some("replaced_by_overseer"))
    );
    assert_eq!(
        (
            rows.rows[1]["overseer_id"].as_str(),
            rows.rows[1]["active"].as_i64()
        ),
        (Some(o.id.as_str()), Some(1))
    );
    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session));
    assert_eq!(
        (
            me.body["subscription"]["tier"].as_str(),
            me.body["subscription"]["source"].as_str()
        ),
        (Some("PRO"), Some("overseer"))
    );
    // Now a human oversees the agent: new sponsorships are refused.
    h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)))
        .assert_error(409, "already_claimed");
}
