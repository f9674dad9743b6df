//! The library against the real server code, natively: every call goes through the App's HTTP
//! surface and every proof through the server's own DPoP verifier.

#[path = "../../../tests/common/mod.rs"]
mod common;
mod server;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use agent_id_client::{
    AgentAuth, AgentKey, AuthorizationRequest, Error, LocalError, Profile, ProtocolError, Recovery,
    ServerUrl,
};
use common::{Req, TestKey};
use serde_json::json;
use server::{run, setup, ISSUER};

fn profile(dir: &Path) -> Profile {
    Profile::in_base(dir, &ServerUrl::parse(ISSUER).unwrap())
}

fn server_code<T: std::fmt::Debug>(r: Result<T, Error>) -> (u16, String) {
    match r {
        Err(Error::Server(e)) => (e.status, e.code),
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

#[test]
fn register_login_me_rotate_old_key_refused_logout() {
    let (_h, transport, client) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let key = profile.generate_key().unwrap();

    let registered = run(client.register(&key, "Agent One", Some("the SDK test"))).unwrap();
    assert_eq!(registered.agent.public_key, key.public_b64());
    assert_eq!(
        registered.agent.description.as_deref(),
        Some("the SDK test")
    );
    let agent_id = registered.agent.id.clone();

    let session = run(client.login(&key, Some(&agent_id))).unwrap();
    assert_eq!(session.agent_id, agent_id);
    let me = run(client.me(&session)).unwrap();
    assert_eq!(me.agent.id, agent_id);
    assert_eq!(me.agent.name, "Agent One");
    assert_eq!(me.subscription["source"], "none");
    assert_eq!(run(client.overseer(&session)).unwrap(), None);
    assert!(run(client.history(&session, Some(5), None))
        .unwrap()
        .entries
        .is_empty());

    let rotated = run(profile.rotate(&client, &session)).unwrap();
    let new_key = profile.load_key().unwrap();
    assert_eq!(rotated.agent.public_key, new_key.public_b64());
    assert_ne!(new_key.public_b64(), key.public_b64());
    assert!(!profile.next_key_path().exists());
    assert_eq!(profile.load_session().unwrap(), rotated.session);

    // The old key and the old session are dead; the new key logs in.
    assert_eq!(
        server_code(run(client.login(&key, None))),
        (401, "invalid_dpop_proof".into())
    );
    assert_eq!(
        server_code(run(client.me(&session))),
        (401, "invalid_session".into())
    );
    let again = run(client.login(&new_key, Some(&agent_id))).unwrap();
    assert_eq!(
        run(client.me(&again)).unwrap().agent.public_key,
        new_key.public_b64()
    );

    run(client.logout(&again)).unwrap();
    assert_eq!(
        server_code(run(client.me(&again))),
        (401, "invalid_session".into())
    );
    // Every proof went to the server's verifier: login ×3 (one refused), rotate complete.
    let proofs = transport
        .log
        .borrow()
        .iter()
        .filter(|e| e.path == "/v1/agents/login" || e.path.contains("rotate-key/complete"))
        .count();
    assert_eq!(proofs, 4);
}

#[test]
fn a_saved_session_is_reused_until_it_expires_then_renewed_by_login() {
    let (h, transport, client) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let key = profile.generate_key().unwrap();
    let registered = run(client.register(&key, "Agent", None)).unwrap();
    profile.save_session(&registered.session).unwrap();
    let logins = || {
        transport
            .paths()
            .iter()
            .filter(|p| *p == "/v1/agents/login")
            .count()
    };

    assert_eq!(run(profile.session(&client)).unwrap(), registered.session);
    assert_eq!(logins(), 0);
    h.clock.advance_secs(1800);
    let renewed = run(profile.session(&client)).unwrap();
    assert_eq!(logins(), 1);
    assert_ne!(renewed, registered.session);
    assert_eq!(profile.load_session().unwrap(), renewed);
    assert_eq!(
        run(client.me(&renewed)).unwrap().agent.id,
        registered.agent.id
    );
}

#[test]
fn nonce_required_login_retries_once_then_reuses_the_cached_nonce() {
    let (h, transport, client) = setup(&[("DPOP_REQUIRE_NONCE", "true")]);
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Nonce Agent", None)).unwrap();

    let logins = || -> Vec<(u16, bool)> {
        transport
            .log
            .borrow()
            .iter()
            .filter(|e| e.path == "/v1/agents/login")
            .map(|e| (e.status, e.had_nonce))
            .collect()
    };
    run(client.login(&key, None)).unwrap();
    assert_eq!(logins(), [(401, false), (200, true)]);
    assert!(client.dpop().nonce(ISSUER).is_some());

    // The cached nonce is used at once: one request.
    run(client.login(&key, None)).unwrap();
    assert_eq!(logins()[2..], [(200, true)]);

    // Ten minutes later the cached nonce is stale: refused once, retried with the fresh one.
    h.clock.advance_secs(600);
    let s = run(client.login(&key, Some(&registered.agent.id))).unwrap();
    assert_eq!(logins()[3..], [(401, true), (200, true)]);
    assert_eq!(s.agent_id, registered.agent.id);
}

#[test]
fn a_challenge_for_another_audience_or_key_is_never_signed() {
    for (from, to) in [
        (
            "\\\"aud\\\":\\\"https://id.example.com\\\"",
            "\\\"aud\\\":\\\"https://evil.example\\\"",
        ),
        ("\\\"public_key\\\":\\\"", "\\\"public_key\\\":\\\"A"),
    ] {
        let (_h, transport, client) = setup(&[]);
        *transport.rewrite.borrow_mut() = Some(Box::new(move |path: &str, body: &mut Vec<u8>| {
            if path == "/v1/agents/register/initiate" {
                let text = String::from_utf8(body.clone()).unwrap();
                assert!(text.contains(from), "{text}");
                *body = text.replace(from, to).into_bytes();
            }
        }));
        let key = AgentKey::generate().unwrap();
        let r = run(client.register(&key, "Agent", None));
        assert!(
            matches!(r, Err(Error::Protocol(ProtocolError::ChallengeMismatch))),
            "{r:?}"
        );
        assert_eq!(transport.paths(), ["/v1/agents/register/initiate"]);
    }
}

#[test]
fn a_refused_rotation_keeps_the_old_key_and_leaves_no_side_file() {
    let (_h, _t, client) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let key = profile.generate_key().unwrap();
    let registered = run(client.register(&key, "Agent", None)).unwrap();
    run(client.logout(&registered.session)).unwrap();

    let r = run(profile.rotate(&client, &registered.session));
    assert_eq!(server_code(r), (401, "invalid_session".into()));
    assert_eq!(profile.load_key().unwrap().public_b64(), key.public_b64());
    assert!(!profile.next_key_path().exists());
}

/// Writes `key` where an interrupted rotation leaves it.
fn leave_next_key(profile: &Profile, key: &AgentKey) {
    std::fs::write(profile.next_key_path(), key.to_private_jwk().as_bytes()).unwrap();
    std::fs::set_permissions(
        profile.next_key_path(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

#[test]
fn an_interrupted_rotation_is_recovered_either_way() {
    let (_h, _t, client) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let old = profile.generate_key().unwrap();
    let registered = run(client.register(&old, "Agent", None)).unwrap();
    assert_eq!(
        run(profile.recover_rotation(&client)).unwrap(),
        Recovery::NothingPending
    );

    // Crash before the server was asked: the side file is discarded, the old key stays.
    let unsent = AgentKey::generate().unwrap();
    leave_next_key(&profile, &unsent);
    let refused = run(profile.rotate(&client, &registered.session));
    assert!(
        matches!(refused, Err(Error::Local(LocalError::Invalid(_)))),
        "{refused:?}"
    );
    assert_eq!(
        run(profile.recover_rotation(&client)).unwrap(),
        Recovery::Discarded
    );
    assert_eq!(profile.load_key().unwrap().public_b64(), old.public_b64());
    assert!(!profile.next_key_path().exists());

    // Crash after the server confirmed, before the swap: the new key is promoted.
    let new = AgentKey::generate().unwrap();
    leave_next_key(&profile, &new);
    run(client.rotate_key(&registered.session, &old, &new)).unwrap();
    assert_eq!(
        run(profile.recover_rotation(&client)).unwrap(),
        Recovery::Promoted
    );
    assert_eq!(profile.load_key().unwrap().public_b64(), new.public_b64());
    assert!(!profile.next_key_path().exists());
    let session = profile.load_session().unwrap();
    assert_eq!(
        run(client.me(&session)).unwrap().agent.public_key,
        new.public_b64()
    );
}

#[test]
fn claims_and_shadow_claims_are_accepted_by_proof_or_session() {
    let (h, _t, client) = setup(&[]);
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Claimed Agent", None)).unwrap();
    let agent_id = registered.agent.id.clone();

    // A sponsor starts a shadow claim; the agent confirms with a DPoP proof.
    let r = h.send(Req::post(&format!("/v1/agents/malice/{agent_id}")));
    assert_eq!(r.status, 200, "{}", r.body);
    let shadow_id = r.body["shadow_overseer_id"].as_str().unwrap();
    let confirmed = run(client.accept_claim(
        AgentAuth::Proof(&key),
        r.body["challenge_id"].as_str().unwrap(),
        shadow_id,
    ))
    .unwrap();
    assert_eq!(confirmed.status, "awaiting-payment");
    assert_eq!(confirmed.shadow_overseer_id.as_deref(), Some(shadow_id));

    // A human overseer claims; the agent accepts with its session.
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let r = h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({"agent_id": agent_id})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let challenge = r.body["challenge_id"].as_str().unwrap().to_owned();
    let wrong = run(client.accept_claim(
        AgentAuth::Session(&registered.session),
        &challenge,
        shadow_id,
    ));
    assert_eq!(server_code(wrong), (403, "overseer_mismatch".into()));
    let accepted =
        run(client.accept_claim(AgentAuth::Session(&registered.session), &challenge, &o.id))
            .unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.agent_id.as_str()),
        ("completed", agent_id.as_str())
    );
    let overseer = run(client.overseer(&registered.session)).unwrap().unwrap();
    assert_eq!(overseer.id, o.id);
    assert!(!overseer.is_shadow);

    // Ids that would change the path are refused before anything is sent.
    let r = run(client.accept_claim(AgentAuth::Proof(&key), "../logout", &o.id));
    assert!(
        matches!(r, Err(Error::Local(LocalError::Invalid(_)))),
        "{r:?}"
    );
}

#[test]
fn consent_returns_the_code_and_oauth_refusals_carry_their_error() {
    let (h, _t, client) = setup(&[]);
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let client_id = h.register_client(
        &o,
        &TestKey::random(),
        "Demo Client",
        &["http://localhost:8790/callback"],
        "id name",
    );
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Consenting Agent", None)).unwrap();
    let dpop_key = AgentKey::generate().unwrap();
    let request = AuthorizationRequest {
        client_id: client_id.clone(),
        redirect_uri: "http://localhost:8790/callback".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: Some("id name".into()),
        state: Some("st-1".into()),
        dpop_jkt: Some(dpop_key.thumbprint()),
    };
    let approved = run(client.authorize(AgentAuth::Proof(&key), &request)).unwrap();
    assert!(
        approved.redirect_to.expose().starts_with(&format!(
            "http://localhost:8790/callback?code={}&state=st-1&iss=",
            approved.code.expose()
        )),
        "{}",
        approved.redirect_to.expose()
    );
    assert_eq!(approved.iss, ISSUER);
    assert_eq!(approved.scope, "id name");
    assert!(!format!("{approved:?}").contains(approved.code.expose()));

    let bad = AuthorizationRequest {
        scope: Some("openid".into()),
        ..request
    };
    let r = run(client.authorize(AgentAuth::Session(&registered.session), &bad));
    assert_eq!(server_code(r), (400, "invalid_scope".into()));

    let page = run(client.history(&registered.session, None, None)).unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].client_id, client_id);
    assert_eq!(page.entries[0].status, "approved");
}

#[test]
fn refusals_carry_the_servers_code_and_message() {
    let (_h, _t, client) = setup(&[]);
    let key = AgentKey::generate().unwrap();
    match run(client.register(&key, "  ", None)) {
        Err(Error::Server(e)) => {
            assert_eq!((e.status, e.code.as_str()), (400, "missing_field"));
            assert!(e.message.contains("name"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    run(client.register(&key, "First", None)).unwrap();
    assert_eq!(
        server_code(run(client.register(&key, "Second", None))),
        (409, "duplicate_public_key".into())
    );
}
