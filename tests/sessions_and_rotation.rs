//! Sessions (security.md 10.1, 17.4) and key rotation (api.md 2.3, security.md 17.5).

mod common;

use common::oauth::{authorize, Client};
use common::*;
use serde_json::json;

fn me(h: &Harness, session: &str) -> Resp {
    h.send(Req::get("/v1/agents/me").bearer(session))
}

#[test]
fn bearer_parsing_and_session_errors() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let r = h.send(Req::get("/v1/agents/me")); // S01
    r.assert_error(401, "authentication_required");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"agent-id\"")
    );
    h.send(Req::get("/v1/agents/me").header("authorization", "Bearer"))
        .assert_error(401, "authentication_required"); // S02
    h.send(Req::get("/v1/agents/me").header("authorization", "Bearer "))
        .assert_error(401, "authentication_required");
    let r = me(&h, &"x".repeat(43)); // S03
    r.assert_error(401, "invalid_session");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"agent-id\", error=\"invalid_token\"")
    );
    h.send(Req::get("/v1/agents/me").header("authorization", "Basic dXNlcjpwYXNz"))
        .assert_error(401, "authentication_required"); // S08
    assert_eq!(
        h.send(Req::get("/v1/agents/me").header("authorization", &format!("bearer {}", a.session)))
            .status,
        200
    ); // S09
    h.send(Req::get(&format!("/v1/agents/me?session_id={}", a.session)))
        .assert_error(401, "authentication_required"); // S13
    h.send(
        Req::get("/v1/agents/me").header("authorization", &format!("Bearer {}", "a".repeat(9000))),
    )
    .assert_error(401, "invalid_session");
}

#[test]
fn logout_is_immediate_and_needs_no_body() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "A");
    let other = h.login(&key).body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // G17: no body and no Content-Type.
    let r = h.send(Req::post("/v1/agents/logout").bearer(&a.session));
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (200, Some("Logged out"))
    );
    me(&h, &a.session).assert_error(401, "invalid_session"); // S04
    h.send(Req::post("/v1/agents/logout").bearer(&a.session))
        .assert_error(401, "invalid_session");
    assert_eq!(me(&h, &other).status, 200, "other sessions stay valid");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM session_revocations"), 1);
    // Any body is ignored on body-less endpoints, but the size limit applies.
    let r = h.send(
        Req::post("/v1/agents/logout")
            .bearer(&other)
            .raw("text/plain", b"whatever".to_vec()),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn the_d1_marker_wins_even_if_kv_still_has_the_session() {
    // KV is eventually consistent: re-insert the KV record after logout; D1 still refuses it.
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let before = h.kv.dump(agent_id::store::Namespace::Sessions);
    assert_eq!(
        h.send(Req::post("/v1/agents/logout").bearer(&a.session))
            .status,
        200
    );
    use agent_id::store::Kv;
    h.clock.advance_secs(1); // KV takes one write per key per second
    for (k, v) in before {
        futures::executor::block_on(h.kv.put(agent_id::store::Namespace::Sessions, &k, &v, 1800))
            .unwrap();
    }
    me(&h, &a.session).assert_error(401, "invalid_session");
}

#[test]
fn sessions_expire_absolutely() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    h.clock.advance_secs(1799);
    assert_eq!(me(&h, &a.session).status, 200);
    h.clock.advance_secs(1);
    me(&h, &a.session).assert_error(401, "invalid_session");
}

fn rotate_initiate(h: &Harness, session: &str, new_key: &str) -> Resp {
    h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(session)
            .json(json!({"new_public_key": new_key})),
    )
}

fn rotate_complete(
    h: &Harness,
    cid: &str,
    signer: &TestKey,
    proof_key: &TestKey,
    data: &str,
) -> Resp {
    let path = format!("/v1/agents/rotate-key/complete/{cid}");
    let proof = proof_key.proof(&ProofSpec::new(
        "POST",
        &format!("{ISSUER}{path}"),
        h.now_s(),
    ));
    h.send(
        Req::post(&path)
            .header("dpop", &proof)
            .json(json!({"signature": signer.sign_b64(data.as_bytes())})),
    )
}

#[test]
fn rotation_end_to_end() {
    let h = Harness::new();
    let old = TestKey::random();
    let new = TestKey::random();
    let a = h.register(&old, "A");
    let r = rotate_initiate(&h, &a.session, &format!("{}=", new.x()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["expires_in"], 300);
    let data = r.body["challenge_data"].as_str().unwrap().to_owned();
    let parsed: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(parsed["action"], "rotate_key");
    assert_eq!(parsed["agent_id"], a.id.as_str());
    assert_eq!(parsed["new_public_key"], new.x());
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();

    let r = rotate_complete(&h, &cid, &new, &old, &data);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agent"]["public_key"], new.x());
    let new_session = r.body["session_id"].as_str().unwrap().to_owned();
    assert_eq!(me(&h, &new_session).body["agent"]["public_key"], new.x());
    me(&h, &a.session).assert_error(401, "invalid_session"); // S05
    h.login(&old).assert_error(401, "invalid_dpop_proof"); // DP39
    assert_eq!(h.login(&new).status, 200);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.key_rotated'"),
        1
    );
    rotate_complete(&h, &cid, &new, &new, &data).assert_error(404, "challenge_not_found");
}

#[test]
fn rotation_refusals() {
    let h = Harness::new();
    let ka = TestKey::random();
    let kb = TestKey::random();
    let a = h.register(&ka, "A");
    h.register(&kb, "B");
    rotate_initiate(&h, &a.session, &ka.x()).assert_error(400, "invalid_public_key"); // K01
    rotate_initiate(&h, &a.session, &kb.x()).assert_error(409, "duplicate_public_key"); // K02
    rotate_initiate(
        &h,
        &a.session,
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .assert_error(400, "invalid_public_key"); // K03
    h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .json(json!({"new_public_key": TestKey::random().x()})),
    )
    .assert_error(401, "authentication_required");

    let n1 = TestKey::random();
    let r = rotate_initiate(&h, &a.session, &n1.x());
    let (cid, data) = (
        r.body["challenge_id"].as_str().unwrap().to_owned(),
        r.body["challenge_data"].as_str().unwrap().to_owned(),
    );
    rotate_complete(&h, &cid, &n1, &n1, &data).assert_error(401, "invalid_dpop_proof"); // K04
    let r = rotate_complete(&h, &cid, &ka, &ka, &data); // K05
    r.assert_error(401, "invalid_signature");
    assert_eq!(
        r.header("www-authenticate"),
        Some("DPoP realm=\"agent-id\", algs=\"EdDSA Ed25519\"")
    );
    rotate_complete(&h, &cid, &n1, &kb, &data).assert_error(403, "challenge_mismatch"); // K06
    let path = format!("/v1/agents/rotate-key/complete/{cid}");
    h.send(
        Req::post(&path)
            .bearer(&a.session)
            .json(json!({"signature": n1.sign_b64(data.as_bytes())})),
    )
    .assert_error(401, "authentication_required"); // K07
    h.send(Req::post(&path).json(json!({"signature": "abc"})))
        .assert_error(400, "invalid_field");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.key_rotated'"),
        0
    );

    // K08: two pending rotations; completing one invalidates the other.
    let n2 = TestKey::random();
    let r2 = rotate_initiate(&h, &a.session, &n2.x());
    let (cid2, data2) = (
        r2.body["challenge_id"].as_str().unwrap().to_owned(),
        r2.body["challenge_data"].as_str().unwrap().to_owned(),
    );
    assert_eq!(rotate_complete(&h, &cid, &n1, &ka, &data).status, 200);
    rotate_complete(&h, &cid2, &n2, &n1, &data2).assert_error(404, "challenge_not_found");

    // K09: expiry.
    let s = h.login(&n1).body["session_id"].as_str().unwrap().to_owned();
    let n3 = TestKey::random();
    let r3 = rotate_initiate(&h, &s, &n3.x());
    h.clock.advance_secs(301);
    rotate_complete(
        &h,
        r3.body["challenge_id"].as_str().unwrap(),
        &n3,
        &n1,
        r3.body["challenge_data"].as_str().unwrap(),
    )
    .assert_error(404, "challenge_not_found");
}

#[test]
fn a_key_taken_between_initiate_and_complete_is_a_conflict() {
    let h = Harness::new();
    let ka = TestKey::random();
    let a = h.register(&ka, "A");
    let contested = TestKey::random();
    let r = rotate_initiate(&h, &a.session, &contested.x());
    h.register(&contested, "B"); // another agent registers the key meanwhile
    let r = rotate_complete(
        &h,
        r.body["challenge_id"].as_str().unwrap(),
        &contested,
        &ka,
        r.body["challenge_data"].as_str().unwrap(),
    );
    r.assert_error(409, "duplicate_public_key");
    assert_eq!(
        me(&h, &a.session).body["agent"]["public_key"],
        ka.x(),
        "nothing changed"
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.key_rotated'"),
        0
    );
}

#[test]
fn overseer_and_history_reads_for_a_fresh_agent() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    let r = h.send(Req::get("/v1/agents/me/overseer").bearer(&a.session));
    assert_eq!(r.body, json!({"success": true, "overseer": null}));
    let r = h.send(Req::get("/v1/agents/me/oauth-history").bearer(&a.session));
    assert_eq!(
        r.body,
        json!({"success": true, "history": [], "next_cursor": null})
    );
    h.send(Req::get("/v1/agents/me/oauth-history?limit=0").bearer(&a.session))
        .assert_error(400, "invalid_field");
}

#[test]
fn oauth_history_paginates_newest_first() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "A");
    // Five approvals of an agent of no pool (FREE allows ten a month), oldest first; the scope
    // tells them apart.
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let client = Client::register(&h, "overseer", &o.session, "Client");
    for scope in [
        "name description",
        "name",
        "description",
        "subscription",
        "id",
    ] {
        h.clock.advance_secs(1);
        let r = authorize(&h, &a, &client.id, json!({"scope": scope}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let scopes = |page: &Resp| -> Vec<String> {
        page.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["scopes"].as_str().unwrap().to_owned())
            .collect()
    };
    let page1 = h.send(Req::get("/v1/agents/me/oauth-history?limit=2").bearer(&a.session));
    assert_eq!(scopes(&page1), ["id", "subscription"]);
    assert_eq!(page1.body["history"][0]["status"], "approved");
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = h.send(
        Req::get(&format!(
            "/v1/agents/me/oauth-history?limit=2&cursor={cursor}"
        ))
        .bearer(&a.session),
    );
    assert_eq!(scopes(&page2), ["description", "name"]);
    let page3 = h.send(
        Req::get(&format!(
            "/v1/agents/me/oauth-history?limit=2&cursor={}",
            page2.body["next_cursor"].as_str().unwrap()
        ))
        .bearer(&a.session),
    );
    assert_eq!(scopes(&page3), ["name description"]);
    assert_eq!(page3.body["next_cursor"], serde_json::Value::Null);
    let me = h.send(Req::get("/v1/agents/me").bearer(&a.session));
    assert_eq!(me.body["subscription"]["oauth_count"], 5);
}

#[test]
fn concurrent_uses_of_one_proof_or_challenge_have_one_winner() {
    let h = Harness::new();
    let key = TestKey::random();
    h.register(&key, "A");
    let proof = h.login_proof(&key);
    let send = |proof: &str| {
        h.app.handle(
            Req::post("/v1/agents/login")
                .header("dpop", proof)
                .into_request(),
        )
    };
    let (a, b) = futures::executor::block_on(futures::future::join(send(&proof), send(&proof)));
    let mut statuses = [
        a.into_response().unwrap().status().as_u16(),
        b.into_response().unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);

    let other = TestKey::random();
    let r = h.send(
        Req::post("/v1/agents/register/initiate")
            .json(json!({"name": "b", "public_key": other.x()})),
    );
    let path = format!(
        "/v1/agents/register/complete/{}",
        r.body["challenge_id"].as_str().unwrap()
    );
    let sig =
        json!({"signature": other.sign_b64(r.body["challenge_data"].as_str().unwrap().as_bytes())});
    let complete = || {
        h.app
            .handle(Req::post(&path).json(sig.clone()).into_request())
    };
    let (a, b) = futures::executor::block_on(futures::future::join(complete(), complete()));
    let mut statuses = [
        a.into_response().unwrap().status().as_u16(),
        b.into_response().unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses[0], 201);
    assert!(matches!(statuses[1], 404 | 409), "{statuses:?}");
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM agents"), 2);
}
