//! Per-isolate state: one App serves every request of an isolate, so what it builds once must
//! cost nothing on the paths that do not use it. The signing key (an Ed25519 scalar
//! multiplication) is derived only by the paths that sign; the DPoP nonce key only where nonces
//! are checked or handed out; a bad secret still fails exactly the requests that need it.

mod common;

use agent_id::jose::b64;
use common::*;
use ed25519_dalek::SigningKey;

/// (signing key derived, DPoP nonce key derived) in the App's configuration.
fn derived(h: &Harness) -> (bool, bool) {
    let c = h.app.config.as_ref().expect("usable configuration");
    (c.signing_keys.is_derived(), c.dpop_nonce_key.is_derived())
}

#[test]
fn health_registration_session_reads_and_login_never_derive_the_signing_key() {
    let h = Harness::new();
    assert_eq!(h.send(Req::get("/health")).status, 200);
    assert_eq!(derived(&h), (false, false), "/health derives nothing");
    let key = TestKey::random();
    let agent = h.register(&key, "Lazy Agent");
    let me = h.send(Req::get("/v1/agents/me").bearer(&agent.session));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        derived(&h),
        (false, false),
        "a session read derives nothing"
    );
    let login = h.login(&key);
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(!derived(&h).0, "a DPoP login does not sign");

    // The first path that signs derives it, from the configured seed (vectors.md §1).
    let jwks = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    assert!(derived(&h).0);
    let seed: [u8; 32] = b64::decode_lenient(SERVER_SEED_B64)
        .unwrap()
        .try_into()
        .unwrap();
    let public = b64::encode(SigningKey::from_bytes(&seed).verifying_key().as_bytes());
    assert_eq!(jwks.body["keys"][0]["x"], public.as_str(), "{}", jwks.body);
}

#[test]
fn with_required_nonces_only_dpop_endpoints_derive_the_nonce_key() {
    let h = Harness::with_vars(&[("DPOP_REQUIRE_NONCE", "true")]);
    assert_eq!(h.send(Req::get("/health")).status, 200);
    let key = TestKey::random();
    let agent = h.register(&key, "Nonce Agent");
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&agent.session))
            .status,
        200
    );
    assert_eq!(derived(&h), (false, false));
    // A login without a nonce is told to use one: the nonce key exists now, the signing key not.
    let r = h.login(&key);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.headers.get("dpop-nonce").is_some());
    assert_eq!(derived(&h), (false, true));
}

#[test]
fn a_bad_signing_seed_still_fails_exactly_the_requests_that_need_it() {
    let h = Harness::with_vars(&[("OAUTH_SIGNING_KEY", "c2hvcnQ")]);
    let health = h.send(Req::get("/health"));
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );
    let key = TestKey::random();
    h.register(&key, "Agent");
    assert_eq!(h.login(&key).status, 200, "login needs no signing key");
    let jwks = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(
        (jwks.status, jwks.body["code"].as_str()),
        (503, Some("configuration_error")),
        "{}",
        jwks.body
    );

    // With nonces required, every DPoP endpoint needs the (seed-derived) nonce key.
    let h = Harness::with_vars(&[
        ("OAUTH_SIGNING_KEY", "c2hvcnQ"),
        ("DPOP_REQUIRE_NONCE", "true"),
    ]);
    let key = TestKey::random();
    h.register(&key, "Agent");
    let login = h.login(&key);
    assert_eq!(
        (login.status, login.body["code"].as_str()),
        (503, Some("configuration_error")),
        "{}",
        login.body
    );
}
