//! DPoP login and the proof checklist end to end through the App (security.md 17.3).

mod common;

use common::*;
use serde_json::{json, Value};

const LOGIN: &str = "/v1/agents/login";

fn url() -> String {
    format!("{ISSUER}{LOGIN}")
}

fn login_with(h: &Harness, proof: &str) -> Resp {
    h.send(Req::post(LOGIN).header("dpop", proof))
}

fn setup() -> (Harness, TestKey, Agent) {
    let h = Harness::new();
    let key = TestKey::random();
    let agent = h.register(&key, "A");
    (h, key, agent)
}

fn markers(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM jti_markers")
}

#[test]
fn login_issues_a_working_session_and_audits() {
    let (h, key, agent) = setup();
    let r = h.login(&key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agent_id"], agent.id.as_str());
    assert_eq!(r.body["expires_in"], 1800);
    let session = r.body["session_id"].as_str().unwrap();
    assert_ne!(session, agent.session);
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(session)).status,
        200
    );
    assert_eq!(markers(&h), 1);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.login'"),
        2
    );
    // The session id itself is stored nowhere: KV keys are hashes.
    let kv = h.kv.dump(agent_id::store::Namespace::Sessions);
    assert!(kv
        .iter()
        .all(|(k, v)| !k.contains(session) && !v.contains(session)));
}

#[test]
fn the_rfc8037_agent_logs_in_with_the_published_proofs() {
    // vectors.md 5.3 with the clock at T0: both algorithm names are accepted (DP44); a
    // second submission with the same jti is a replay.
    let h = Harness::new();
    h.register(&TestKey::from_b64_seed(KA_SEED_B64), "KA");
    let eddsa = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIiwiandrIjp7Imt0eSI6Ik9LUCIsImNydiI6IkVkMjU1MTkiLCJ4IjoiMTFxWUFZS3hDcmZWU183VHlXUUhPZzdoY3ZQYXBpTWxyd0lhYVBjSFVSbyJ9fQ.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.QVBRJLXemGDn6YrzR32XayFHCy-46KDgYaXocZMs9MB0p664uAy5hnBNC1_h15U71ohvly0dx7STJwJZutacDQ";
    let ed25519 = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiZHBvcCtqd3QiLCJqd2siOnsiY3J2IjoiRWQyNTUxOSIsImt0eSI6Ik9LUCIsIngiOiIxMXFZQVlLeENyZlZTXzdUeVdRSE9nN2hjdlBhcGlNbHJ3SWFhUGNIVVJvIn19.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.7YOD7vKi6TLyZGv4Vet5qhGNPQ20W5ECBQGnNeeIGwxJ5_w76jgoGAwIndRRWYP9W_PIMn0nm49fVo-O0uELBQ";
    assert_eq!(login_with(&h, eddsa).status, 200);
    let replay = login_with(&h, ed25519); // same key and jti: the marker is shared
    replay.assert_error(401, "invalid_dpop_proof");
    assert!(replay.body["error"]
        .as_str()
        .unwrap()
        .contains("already been used"));
    let stored: Vec<String> = h
        .sql("SELECT hash FROM jti_markers", vec![])
        .rows
        .iter()
        .map(|r| r["hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stored,
        ["ae41cf894423fe15fa2b57aad3a0281bd3fe2607269aff8912ad9ebe94e21781"]
    );
}

#[test]
fn negative_proofs_are_rejected_before_any_write() {
    let (h, key, _) = setup();
    let now = h.now_s();
    let spec = || ProofSpec::new("POST", &url(), now);
    let small_order = "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o";
    let cases: Vec<(&str, String)> = vec![
        ("DP02", "abc".into()),
        ("DP06 HS256", key.proof(&spec().header("alg", json!("HS256")))),
        ("DP07 RS256", key.proof(&spec().header("alg", json!("RS256")))),
        ("DP08 ES256+OKP", key.proof(&spec().header("alg", json!("ES256")))),
        ("DP09 typ missing", key.proof(&spec().header("typ", Value::Null))),
        ("DP10 typ JWT", key.proof(&spec().header("typ", json!("JWT")))),
        ("DP11 typ at+jwt", key.proof(&spec().header("typ", json!("at+jwt")))),
        ("DP12 private d", key.proof(&spec().header("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": key.x(), "d": "AAAA"})))),
        ("DP13 oct", key.proof(&spec().header("jwk", json!({"kty": "oct", "k": "AAAA"})))),
        ("DP14 small order", key.proof(&spec().header("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": small_order})))),
        ("DP15 31 bytes", key.proof(&spec().header("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": agent_id::jose::b64::encode(&[9u8; 31])})))),
        ("DP16 crit", key.proof(&spec().header("crit", json!(["exp"])))),
        ("DP17 jku", key.proof(&spec().header("jku", json!("https://evil.example/jwks")))),
        ("DP18 no jti", key.proof(&spec().claim("jti", Value::Null))),
        ("DP19 long jti", key.proof(&spec().claim("jti", json!("j".repeat(129))))),
        ("DP20 numeric jti", key.proof(&spec().claim("jti", json!(7)))),
        ("DP21 htm GET", key.proof(&spec().claim("htm", json!("GET")))),
        ("DP22 htm post", key.proof(&spec().claim("htm", json!("post")))),
        ("DP23 other host", key.proof(&spec().claim("htu", json!("https://evil.example/v1/agents/login")))),
        ("DP24 trailing slash", key.proof(&spec().claim("htu", json!(format!("{}/", url()))))),
        ("DP25 http", key.proof(&spec().claim("htu", json!("http://id.example.com/v1/agents/login")))),
        ("DP28 relative", key.proof(&spec().claim("htu", json!(LOGIN)))),
        ("DP29 stale", key.proof(&ProofSpec::new("POST", &url(), now - 301))),
        ("DP30 future", key.proof(&ProofSpec::new("POST", &url(), now + 61))),
        ("DP32 string iat", key.proof(&spec().claim("iat", json!(now.to_string())))),
    ];
    for (name, proof) in cases {
        let r = login_with(&h, &proof);
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_dpop_proof"),
            "{name}: {}",
            r.body
        );
        let challenge = r.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("DPoP realm=\"agent-id\""),
            "{name}: {challenge}"
        );
        assert!(challenge.contains("error=\"invalid_dpop_proof\""), "{name}");
    }
    // alg none, with and without a signature segment (DP04, DP05)
    let header = agent_id::jose::b64::encode(json!({"typ": "dpop+jwt", "alg": "none", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": key.x()}}).to_string().as_bytes());
    let payload = agent_id::jose::b64::encode(
        json!({"jti": "n", "htm": "POST", "htu": url(), "iat": now})
            .to_string()
            .as_bytes(),
    );
    for proof in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.AAAA"),
    ] {
        login_with(&h, &proof).assert_error(401, "invalid_dpop_proof");
    }
    // DP34 flipped bit, DP35 padded header segment
    let good = key.proof(&spec());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut sig = agent_id::jose::b64::decode_strict(&parts[2]).unwrap();
    sig[0] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        agent_id::jose::b64::encode(&sig)
    );
    login_with(&h, &flipped).assert_error(401, "invalid_dpop_proof");
    parts[0].push('=');
    login_with(&h, &parts.join(".")).assert_error(401, "invalid_dpop_proof");

    assert_eq!(markers(&h), 0, "no rejected proof leaves a replay marker");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.login'"),
        1
    );
}

#[test]
fn accepted_htu_variants_and_freshness_edges() {
    let (h, key, _) = setup();
    let now = h.now_s();
    for htu in [
        format!("{}?a=1#x", url()),
        "HTTPS://ID.EXAMPLE.COM:443/v1/agents/login".to_owned(),
    ] {
        let r = login_with(&h, &key.proof(&ProofSpec::new("POST", &htu, now))); // DP26, DP27
        assert_eq!(r.status, 200, "{htu}: {}", r.body);
    }
    assert_eq!(
        login_with(&h, &key.proof(&ProofSpec::new("POST", &url(), now - 299))).status,
        200
    ); // DP31
    assert_eq!(
        login_with(&h, &key.proof(&ProofSpec::new("POST", &url(), now + 60))).status,
        200
    );
    let r = login_with(
        &h,
        &key.proof(&ProofSpec::new("POST", &url(), now).header("alg", json!("Ed25519"))),
    ); // DP44
    assert_eq!(r.status, 200);
}

#[test]
fn header_presence_and_multiplicity() {
    let (h, key, _) = setup();
    let r = h.send(Req::post(LOGIN)); // DP01
    r.assert_error(401, "authentication_required");
    assert!(r.header("www-authenticate").unwrap().starts_with("DPoP"));
    let a = h.login_proof(&key);
    let b = h.login_proof(&key);
    h.send(Req::post(LOGIN).header("dpop", &a).header("dpop", &b))
        .assert_error(401, "invalid_dpop_proof"); // DP03
    h.send(Req::post(LOGIN).header("dpop", &format!("{a}, {b}")))
        .assert_error(401, "invalid_dpop_proof");
    // DP45: Authorization is ignored on DPoP-only endpoints.
    let r = h.send(
        Req::post(LOGIN)
            .header("dpop", &h.login_proof(&key))
            .header("authorization", "Bearer garbage"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn agent_id_in_the_body_must_match_the_proof_key() {
    let h = Harness::new();
    let ka = TestKey::random();
    let kb = TestKey::random();
    let a = h.register(&ka, "A");
    h.register(&kb, "B");
    let with_body = |key: &TestKey, body: Value| {
        h.send(
            Req::post(LOGIN)
                .header("dpop", &h.login_proof(key))
                .json(body),
        )
    };
    assert_eq!(
        with_body(&ka, json!({"agent_id": a.id.to_uppercase()})).status,
        200
    );
    with_body(&kb, json!({"agent_id": a.id})).assert_error(401, "invalid_dpop_proof"); // DP36
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.login_failed'"),
        1
    );
    with_body(
        &ka,
        json!({"agent_id": "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b"}),
    )
    .assert_error(404, "agent_not_found"); // DP37
    with_body(&ka, json!({"agent_id": "123"})).assert_error(400, "invalid_field"); // DP38
    with_body(&ka, json!({"agent_id": 5})).assert_error(400, "invalid_field");
    // A key no agent holds.
    login_with(&h, &h.login_proof(&TestKey::random())).assert_error(401, "invalid_dpop_proof");
}

#[test]
fn es256_proofs_cannot_authenticate_agents() {
    // DP43: a valid ES256 proof with an EC P-256 jwk is refused at login.
    use p256::ecdsa::{signature::Signer, Signature, SigningKey};
    let (h, _, _) = setup();
    let sk = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let b = agent_id::jose::b64::encode;
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": b(point.x().unwrap()), "y": b(point.y().unwrap())}});
    let payload = json!({"jti": "es", "htm": "POST", "htu": url(), "iat": h.now_s()});
    let input = format!(
        "{}.{}",
        b(header.to_string().as_bytes()),
        b(payload.to_string().as_bytes())
    );
    let sig: Signature = sk.sign(input.as_bytes());
    login_with(&h, &format!("{input}.{}", b(&sig.to_bytes())))
        .assert_error(401, "invalid_dpop_proof");
}

#[test]
fn nonces_optional_by_default_and_required_when_configured() {
    let (h, key, _) = setup();
    // DP40: a garbage nonce is answered with a fresh one.
    let r = login_with(
        &h,
        &key.proof(&ProofSpec::new("POST", &url(), h.now_s()).claim("nonce", json!("garbage"))),
    );
    r.assert_error(401, "use_dpop_nonce");
    assert_eq!(r.header("dpop-nonce").unwrap().len(), 32);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"use_dpop_nonce\""));
    // Without a nonce and nonces optional, no DPoP-Nonce is handed out.
    assert!(h.login(&key).header("dpop-nonce").is_none());

    let h = Harness::with_vars(&[("DPOP_REQUIRE_NONCE", "true")]);
    let key = TestKey::random();
    h.register(&key, "N");
    let r = h.login(&key); // DP41
    r.assert_error(401, "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").unwrap().to_owned();
    let ok = login_with(
        &h,
        &key.proof(&ProofSpec::new("POST", &url(), h.now_s()).claim("nonce", json!(nonce))),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.header("dpop-nonce").is_some(),
        "every response carries a fresh nonce"
    );
    // DP42: a nonce from five minutes ago is stale.
    h.clock.advance_secs(300);
    let stale = login_with(
        &h,
        &key.proof(&ProofSpec::new("POST", &url(), h.now_s()).claim("nonce", json!(nonce))),
    );
    stale.assert_error(401, "use_dpop_nonce");
    assert_ne!(stale.header("dpop-nonce").unwrap(), nonce);
}

#[test]
fn nonces_without_a_signing_key_fail_closed() {
    let h = Harness::with_config(agent_id::config::Config::load(&{
        let mut v = vars(&[("DPOP_REQUIRE_NONCE", "true")]);
        v.remove("OAUTH_SIGNING_KEY");
        v
    }));
    let key = TestKey::random();
    h.register(&key, "N");
    let r = h.login(&key);
    r.assert_error(503, "configuration_error");
    assert!(r.body["request_id"].is_string());
}

#[test]
fn login_is_rate_limited_per_agent() {
    let (h, key, _) = setup();
    for _ in 0..20 {
        assert_eq!(h.login(&key).status, 200);
    }
    h.login(&key).assert_error(429, "rate_limited");
}

// --- one D1 batch per log-in: lookup, `jti` and audit row together ---

fn logins(h: &Harness) -> i64 {
    h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.login'")
}

/// The per-agent limit is checked once the batch has found the agent (api.md 5.2 order), so
/// the batch's `agent.login` row is taken back: only log-ins that happened are audited.
#[test]
fn a_login_refused_by_the_per_agent_limit_leaves_no_login_row() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"agent_login_agent":"2/60"}"#)]);
    let key = TestKey::random();
    h.register(&key, "A");
    let registered = logins(&h);
    for _ in 0..2 {
        assert_eq!(h.login(&key).status, 200);
    }
    h.login(&key).assert_error(429, "rate_limited");
    assert_eq!(
        logins(&h),
        registered + 2,
        "the refused log-in is not audited"
    );
    assert_eq!(markers(&h), 3, "its proof is spent, as before the limit");
}

/// A replay and an unknown key answer exactly as before; neither writes a log-in row. The
/// batch spends an unknown key's `jti` too (harmless: that proof is valid for no agent), and
/// "no agent has this key" still wins over "already used".
#[test]
fn replays_and_unknown_keys_write_no_login_row() {
    let (h, key, _) = setup();
    let proof = h.login_proof(&key);
    assert_eq!(login_with(&h, &proof).status, 200);
    let before = logins(&h);
    let replay = login_with(&h, &proof);
    replay.assert_error(401, "invalid_dpop_proof");
    assert_eq!(replay.body["error"], "DPoP proof has already been used");
    assert_eq!(logins(&h), before);

    let stranger = h.login_proof(&TestKey::random());
    for _ in 0..2 {
        let r = login_with(&h, &stranger);
        r.assert_error(401, "invalid_dpop_proof");
        assert_eq!(r.body["error"], "no agent has this DPoP key");
        assert!(r.header("www-authenticate").is_some());
    }
    assert_eq!(logins(&h), before);
    assert_eq!(markers(&h), 2, "the stranger's jti was spent once");
}
