//! Agent registration over the whole App (api.md 2.2, security.md 17.2).

mod common;

use common::*;
use serde_json::json;

fn initiate(h: &Harness, body: serde_json::Value) -> Resp {
    h.send(Req::post("/v1/agents/register/initiate").json(body))
}

fn agents(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM agents")
}

#[test]
fn full_registration_returns_agent_session_and_audit() {
    let h = Harness::new();
    let ka = TestKey::from_b64_seed(KA_SEED_B64);
    let r = initiate(
        &h,
        json!({"name": "  Demo Agent ", "public_key": ka.x(), "description": "e2e"}),
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.body["expires_in"], 300);
    assert_eq!(r.body["expires_at"], "2026-01-01T00:05:00.000Z");
    let data = r.body["challenge_data"].as_str().unwrap();
    let cid = r.body["challenge_id"].as_str().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(parsed["action"], "register");
    assert_eq!(parsed["aud"], ISSUER);
    assert_eq!(parsed["challenge_id"], cid);
    assert_eq!(parsed["expires_at"], "2026-01-01T00:05:00.000Z");
    assert_eq!(parsed["public_key"], ka.x());
    assert_eq!(
        agent_id::jose::b64::decode_strict(parsed["nonce"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(agents(&h), 0, "initiate writes no agent");

    let r = h.send(
        Req::post(&format!("/v1/agents/register/complete/{cid}"))
            .json(json!({"signature": ka.sign_b64(data.as_bytes())})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let agent = &r.body["agent"];
    assert_eq!(agent["name"], "Demo Agent");
    assert_eq!(agent["description"], "e2e");
    assert_eq!(
        agent["public_key"],
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    );
    assert_eq!(agent["created_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(r.body["expires_in"], 1800);
    let session = r.body["session_id"].as_str().unwrap();
    assert_eq!(session.len(), 43);
    let id = agent["id"].as_str().unwrap();
    assert_eq!(
        agent_id::domain::ids::canonical_uuid(id).as_deref(),
        Some(id)
    );

    let types: Vec<String> = h
        .sql("SELECT type FROM audit_events ORDER BY type", vec![])
        .rows
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["agent.login", "agent.registered"]);

    let me = h.send(Req::get("/v1/agents/me").bearer(session));
    assert_eq!(me.status, 200);
    assert_eq!(me.body["agent"]["id"], id);
    assert_eq!(me.body["subscription"]["tier"], "FREE");
    assert_eq!(me.body["subscription"]["source"], "none");
    assert_eq!(me.body["subscription"]["max_oauth_per_period"], 10);
    assert_eq!(
        me.body["subscription"]["period_start"],
        "2026-01-01T00:00:00.000Z"
    );
    assert_eq!(
        me.body["subscription"]["period_end"],
        "2026-02-01T00:00:00.000Z"
    );

    // R31: the challenge is single use.
    let again = h.send(
        Req::post(&format!("/v1/agents/register/complete/{cid}"))
            .json(json!({"signature": ka.sign_b64(data.as_bytes())})),
    );
    again.assert_error(404, "challenge_not_found");
}

#[test]
fn field_validation_writes_nothing() {
    let h = Harness::new();
    let k = TestKey::random().x();
    let cases = [
        (json!({"public_key": k}), 400, "missing_field"), // R01
        (
            json!({"name": "   ", "public_key": k}),
            400,
            "missing_field",
        ), // R02
        (
            json!({"name": "a".repeat(129), "public_key": k}),
            400,
            "invalid_field",
        ), // R03
        (
            json!({"name": "a\u{7}", "public_key": k}),
            400,
            "invalid_field",
        ), // R05
        (json!({"name": 42, "public_key": k}), 400, "invalid_field"), // G09
        (
            json!({"name": "a", "public_key": k, "description": "x".repeat(1025)}),
            400,
            "invalid_field",
        ), // R09
        (
            json!({"name": "a", "public_key": k, "description": "a\u{0}"}),
            400,
            "invalid_field",
        ), // R10
        (json!({"name": "a"}), 400, "missing_field"),     // R11
        (
            json!({"name": "a", "public_key": "not base64!"}),
            400,
            "invalid_public_key",
        ), // R12
        (
            json!({"name": "a", "public_key": agent_id::jose::b64::encode(&[1u8; 31])}),
            400,
            "invalid_public_key",
        ), // R13
        (
            json!({"name": "a", "public_key": agent_id::jose::b64::encode(&[1u8; 33])}),
            400,
            "invalid_public_key",
        ), // R14
        (
            json!({"name": "a", "public_key": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
            400,
            "invalid_public_key",
        ), // R15
        (
            json!({"name": "a", "public_key": "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o"}),
            400,
            "invalid_public_key",
        ), // R16
        (
            json!({"name": "a", "public_key": "7f_______________________________________38"}),
            400,
            "invalid_public_key",
        ), // R17
        (
            json!({"name": "a", "public_key": "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
            400,
            "invalid_public_key",
        ), // R18
        (
            json!({"name": "a", "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"}),
            400,
            "invalid_public_key",
        ), // R19
        (
            json!({"name": "a", "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH+Ro"}),
            400,
            "invalid_public_key",
        ), // R20
    ];
    for (body, status, code) in cases {
        let r = initiate(&h, body.clone());
        assert_eq!((r.status, r.code()), (status, code), "{body}");
    }
    assert!(h.kv.is_empty(agent_id::store::Namespace::Challenges));
    assert_eq!(agents(&h), 0);
}

#[test]
fn hostile_looking_text_is_stored_verbatim() {
    let h = Harness::new();
    for name in [
        "Robert'); DROP TABLE agents;--",
        "<script>alert(1)</script>",
        "エージェント 🤖 агент",
        &"😀".repeat(128),
    ] {
        let key = TestKey::random();
        let a = h.register(&key, name);
        let me = h.send(Req::get("/v1/agents/me").bearer(&a.session));
        assert_eq!(me.body["agent"]["name"], *name);
    }
    assert_eq!(agents(&h), 4);
}

#[test]
fn key_encodings_are_canonicalised_before_uniqueness() {
    let h = Harness::new();
    let ka = TestKey::from_b64_seed(KA_SEED_B64);
    h.register(&ka, "A");
    // R21, R22
    for variant in [
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ] {
        initiate(&h, json!({"name": "dup", "public_key": variant}))
            .assert_error(409, "duplicate_public_key");
    }
}

#[test]
fn signature_checks_keep_the_challenge_until_it_expires() {
    let h = Harness::new();
    let key = TestKey::random();
    let r = initiate(&h, json!({"name": "a", "public_key": key.x()}));
    let data = r.body["challenge_data"].as_str().unwrap().to_owned();
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/agents/register/complete/{cid}");

    h.send(Req::post(&path).json(json!({})))
        .assert_error(400, "missing_field"); // R26
    h.send(Req::post(&path).json(json!({"signature": agent_id::jose::b64::encode(&[0u8; 63])})))
        .assert_error(400, "invalid_field"); // R27
    let reserialised =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&data).unwrap())
            .unwrap();
    h.send(Req::post(&path).json(json!({"signature": key.sign_b64(reserialised.as_bytes())})))
        .assert_error(401, "invalid_signature"); // R28
    h.send(
        Req::post(&path).json(json!({"signature": TestKey::random().sign_b64(data.as_bytes())})),
    )
    .assert_error(401, "invalid_signature"); // R29
    let mut sig = agent_id::jose::b64::decode_strict(&key.sign_b64(data.as_bytes())).unwrap();
    sig[10] ^= 1;
    h.send(Req::post(&path).json(json!({"signature": agent_id::jose::b64::encode(&sig)})))
        .assert_error(401, "invalid_signature"); // R30
    assert_eq!(agents(&h), 0);

    h.clock.advance_secs(301); // R25
    h.send(Req::post(&path).json(json!({"signature": key.sign_b64(data.as_bytes())})))
        .assert_error(404, "challenge_not_found");
    assert_eq!(agents(&h), 0);
}

#[test]
fn unknown_and_malformed_challenge_ids_are_not_found() {
    let h = Harness::new();
    let sig = json!({"signature": agent_id::jose::b64::encode(&[0u8; 64])});
    for id in ["0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b", "not-a-uuid"] {
        h.send(Req::post(&format!("/v1/agents/register/complete/{id}")).json(sig.clone()))
            .assert_error(404, "challenge_not_found"); // R23, R24
    }
}

#[test]
fn rotation_challenge_never_completes_a_registration() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "a");
    let r = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(&a.session)
            .json(json!({"new_public_key": TestKey::random().x()})),
    );
    assert_eq!(r.status, 200);
    let cid = r.body["challenge_id"].as_str().unwrap();
    let data = r.body["challenge_data"].as_str().unwrap();
    h.send(
        Req::post(&format!("/v1/agents/register/complete/{cid}"))
            .json(json!({"signature": key.sign_b64(data.as_bytes())})),
    )
    .assert_error(404, "challenge_not_found"); // R32
}

#[test]
fn the_unique_key_decides_between_two_pending_registrations() {
    // R33: two initiates for one key; the first completion wins, the second is 409 and its
    // challenge is gone.
    let h = Harness::new();
    let key = TestKey::random();
    let first = initiate(&h, json!({"name": "one", "public_key": key.x()}));
    let second = initiate(&h, json!({"name": "two", "public_key": key.x()}));
    let complete = |r: &Resp| {
        let data = r.body["challenge_data"].as_str().unwrap();
        h.send(
            Req::post(&format!(
                "/v1/agents/register/complete/{}",
                r.body["challenge_id"].as_str().unwrap()
            ))
            .json(json!({"signature": key.sign_b64(data.as_bytes())})),
        )
    };
    assert_eq!(complete(&first).status, 201);
    complete(&second).assert_error(409, "duplicate_public_key");
    // The challenge is deleted after the response, once KV takes a second write to its key.
    h.clock.advance_secs(1);
    h.drain();
    complete(&second).assert_error(404, "challenge_not_found");
    assert_eq!(agents(&h), 1);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.registered'"),
        1
    );
}

#[test]
fn registration_is_rate_limited_per_ip() {
    let h = Harness::new();
    for _ in 0..20 {
        assert_eq!(
            initiate(
                &h,
                json!({"name": "a", "public_key": TestKey::random().x()})
            )
            .status,
            202
        );
    }
    let r = initiate(
        &h,
        json!({"name": "a", "public_key": TestKey::random().x()}),
    );
    r.assert_error(429, "rate_limited"); // R34
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry));
    // Another IP is unaffected.
    let other = h.send(
        Req::post("/v1/agents/register/initiate")
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", "198.51.100.1")
            .json(json!({"name": "a", "public_key": TestKey::random().x()})),
    );
    assert_eq!(other.status, 202);
    h.clock.advance_secs(600);
    assert_eq!(
        initiate(
            &h,
            json!({"name": "a", "public_key": TestKey::random().x()})
        )
        .status,
        202
    );
}

#[test]
fn public_profile_and_not_found() {
    let h = Harness::new();
    let a = h.register(&TestKey::random(), "Profiled");
    let r = h.send(Req::get(&format!("/v1/agents/{}", a.id.to_uppercase())));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["agent"]["id"], a.id.as_str());
    assert_eq!(r.body["agent"]["description"], serde_json::Value::Null);
    assert!(r.body["agent"].get("updated_at").is_none());
    h.send(Req::get("/v1/agents/0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b"))
        .assert_error(404, "agent_not_found");
    h.send(Req::get("/v1/agents/not-a-uuid"))
        .assert_error(404, "agent_not_found");
}
