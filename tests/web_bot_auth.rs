//! Web Bot Auth (issue 14) over the whole App: the key directory, the signature-agent card, the
//! `did:web` document, rotation's overlap on the manual clock, immediate removal, agents that
//! are gone, and every refusal of `POST /v1/verify/http-signature` with its code. Requests are
//! signed with the protocol crate's signer (the SDK's), keys are real Ed25519 keys.

mod common;

use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id_protocol::httpsig::message::HttpRequest;
use agent_id_protocol::httpsig::signature::sign_ed25519;
use agent_id_protocol::httpsig::webbot::{signature_agent_field, signer_params, SignerParams};
use common::*;
use serde_json::{json, Value};

const SITE: &str = "https://shop.example/item?id=7";

fn card_url(agent: &Agent) -> String {
    format!("{ISSUER}/v1/agents/{}/card", agent.id)
}

fn public(key: &TestKey) -> Ed25519PublicKey {
    Ed25519PublicKey::from_bytes(key.0.verifying_key().as_bytes()).unwrap()
}

/// The three header values a Web Bot Auth request by `key` for `agent` carries.
struct Signed {
    input: String,
    signature: String,
    agent: String,
}

fn sign_at(key: &TestKey, agent: &Agent, created: i64, expires: i64) -> Signed {
    let url = card_url(agent);
    let agent_field = signature_agent_field("agent1", &url);
    let headers = [("Signature-Agent", agent_field.as_str())];
    let req = HttpRequest {
        method: "GET",
        url: SITE,
        headers: &headers,
    };
    let params = signer_params(
        &SignerParams {
            label: "sig1",
            created,
            expires,
            signature_agent: Some(("agent1", &url)),
            nonce: None,
        },
        &public(key),
    );
    let s = sign_ed25519("sig1", &params, &req, &key.0).unwrap();
    Signed {
        input: s.signature_input,
        signature: s.signature,
        agent: agent_field,
    }
}

fn sign(h: &Harness, key: &TestKey, agent: &Agent) -> Signed {
    sign_at(key, agent, h.now_s(), h.now_s() + 60)
}

fn verify_body(s: &Signed) -> Value {
    json!({
        "signature_input": s.input,
        "signature": s.signature,
        "signature_agent": s.agent,
        "authority": "shop.example",
    })
}

fn verify(h: &Harness, body: Value) -> Resp {
    h.send(Req::post("/v1/verify/http-signature").json(body))
}

fn directory(h: &Harness, agent: &Agent) -> Resp {
    h.send(Req::get(&format!(
        "/v1/agents/{}/http-message-signatures-directory",
        agent.id
    )))
}

fn kids(r: &Resp) -> Vec<String> {
    r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Rotates `agent` from `old` to `new` through the API; the new session.
fn rotate(h: &Harness, agent: &Agent, old: &TestKey, new: &TestKey) -> String {
    let r = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(&agent.session)
            .json(json!({"new_public_key": new.x()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["challenge_id"].as_str().unwrap().to_owned();
    let data = r.body["challenge_data"].as_str().unwrap().to_owned();
    let path = format!("/v1/agents/rotate-key/complete/{cid}");
    let proof = old.proof(&ProofSpec::new(
        "POST",
        &format!("{ISSUER}{path}"),
        h.now_s(),
    ));
    let r = h.send(
        Req::post(&path)
            .header("dpop", &proof)
            .json(json!({"signature": new.sign_b64(data.as_bytes())})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_owned()
}

#[test]
fn the_directory_lists_the_current_key_by_thumbprint() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let r = directory(&h, &a);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/http-message-signatures-directory+json")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.body,
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": key.x(), "kid": key.proof_thumbprint()}]})
    );
    h.send(Req::get(
        "/v1/agents/0f8fad5b-d9cb-469f-a165-70867728950e/http-message-signatures-directory",
    ))
    .assert_error(404, "agent_not_found");
    h.send(Req::get(
        "/v1/agents/nope/http-message-signatures-directory",
    ))
    .assert_error(404, "agent_not_found");
}

#[test]
fn the_card_is_a_cimd_document_and_tells_who_answers_without_naming_them() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let url = card_url(&a);
    let r = h.send(Req::get(&format!("/v1/agents/{}/card", a.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["client_id"], url.as_str());
    assert_eq!(r.body["client_name"], "Crawler");
    assert_eq!(
        r.body["jwks_uri"],
        format!(
            "{ISSUER}/v1/agents/{}/http-message-signatures-directory",
            a.id
        )
    );
    assert!(r.body["web_bot_auth"].is_object());
    assert!(r.body.get("jwks").is_none(), "never both jwks and jwks_uri");
    assert!(r.body.get("client_secret").is_none());
    assert_eq!(
        r.body["did"],
        format!("did:web:id.example.com:v1:agents:{}", a.id)
    );
    assert_eq!(
        r.body["accountability"],
        json!({"overseen_by": "none", "since": null})
    );

    let o = h.overseer("owner@example.com");
    h.subscribe(&o.id, "BASIC");
    h.claim(&o, &a);
    let r = h.send(Req::get(&format!("/v1/agents/{}/card", a.id)));
    assert_eq!(r.body["accountability"]["overseen_by"], "human");
    assert!(r.body["accountability"]["since"].is_string());
    let text = r.body.to_string();
    assert!(!text.contains(&o.id) && !text.contains("owner@example.com"));
}

#[test]
fn the_did_document_lists_the_key_under_the_documented_did() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let r = h.send(Req::get(&format!("/v1/agents/{}/did.json", a.id)));
    assert_eq!(r.status, 200, "{}", r.body);
    let did = format!("did:web:id.example.com:v1:agents:{}", a.id);
    let vm = format!("{did}#{}", key.proof_thumbprint());
    assert_eq!(r.body["id"], did.as_str());
    assert_eq!(r.body["verificationMethod"][0]["id"], vm.as_str());
    assert_eq!(
        r.body["verificationMethod"][0]["publicKeyJwk"]["x"],
        key.x()
    );
    assert_eq!(r.body["authentication"], json!([vm]));
    assert_eq!(r.body["assertionMethod"], json!([vm]));
}

#[test]
fn a_valid_signature_names_its_agent_and_accountability() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let r = verify(&h, verify_body(&sign(&h, &key, &a)));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["agent"]["id"], a.id.as_str());
    assert_eq!(r.body["agent"]["card"], card_url(&a));
    assert_eq!(r.body["keyid"], key.proof_thumbprint());
    assert_eq!(r.body["key_status"], "current");
    assert_eq!(r.body["accountability"]["overseen_by"], "none");
}

#[test]
fn after_a_rotation_old_signatures_verify_during_the_overlap_only() {
    let h = Harness::new();
    let (old, new) = (TestKey::random(), TestKey::random());
    let a = h.register(&old, "Crawler");
    let t0 = h.now_s();
    rotate(&h, &a, &old, &new);

    // In flight: signed by the old key, lifetime long enough to outlast the overlap.
    let in_flight = sign_at(&old, &a, t0, t0 + 7200);
    let r = verify(&h, verify_body(&in_flight));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key_status"], "previous");
    let d = directory(&h, &a);
    assert_eq!(kids(&d), [new.proof_thumbprint(), old.proof_thumbprint()]);
    assert_eq!(d.header("cache-control"), Some("public, max-age=300"));
    let r = verify(&h, verify_body(&sign(&h, &new, &a)));
    assert_eq!(
        (r.status, r.body["key_status"].as_str()),
        (200, Some("current"))
    );

    // Near the end of the overlap a cache may keep the directory only until the key leaves.
    h.clock.advance_secs(3600 - 100);
    assert_eq!(
        directory(&h, &a).header("cache-control"),
        Some("public, max-age=100")
    );
    assert_eq!(verify(&h, verify_body(&in_flight)).status, 200);

    h.clock.advance_secs(100);
    assert_eq!(kids(&directory(&h, &a)), [new.proof_thumbprint()]);
    verify(&h, verify_body(&in_flight)).assert_error(404, "unknown_key");
    verify(&h, verify_body(&sign(&h, &old, &a))).assert_error(404, "unknown_key");
}

#[test]
fn the_overlap_is_configurable_and_zero_unlists_at_once() {
    let h = Harness::with_vars(&[("KEY_DIRECTORY_OVERLAP_SECS", "0")]);
    let (old, new) = (TestKey::random(), TestKey::random());
    let a = h.register(&old, "Crawler");
    let in_flight = sign(&h, &old, &a);
    rotate(&h, &a, &old, &new);
    assert_eq!(kids(&directory(&h, &a)), [new.proof_thumbprint()]);
    verify(&h, verify_body(&in_flight)).assert_error(404, "unknown_key");
}

#[test]
fn a_removed_previous_key_fails_at_once() {
    let h = Harness::new();
    let (old, new) = (TestKey::random(), TestKey::random());
    let a = h.register(&old, "Crawler");
    let in_flight = sign(&h, &old, &a);
    let session = rotate(&h, &a, &old, &new);
    assert_eq!(verify(&h, verify_body(&in_flight)).status, 200);

    let path = format!("/v1/agents/me/keys/{}", old.proof_thumbprint());
    h.send(Req::new(http::Method::DELETE, &path))
        .assert_error(401, "authentication_required");
    let r = h.send(Req::new(http::Method::DELETE, &path).bearer(&session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["removed"], old.proof_thumbprint());
    verify(&h, verify_body(&in_flight)).assert_error(404, "unknown_key");
    assert_eq!(kids(&directory(&h, &a)), [new.proof_thumbprint()]);
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.previous_key_removed'"),
        1
    );

    // Again, or the current key: nothing listed to remove, nothing written.
    h.send(Req::new(http::Method::DELETE, &path).bearer(&session))
        .assert_error(404, "key_not_found");
    let current = format!("/v1/agents/me/keys/{}", new.proof_thumbprint());
    h.send(Req::new(http::Method::DELETE, &current).bearer(&session))
        .assert_error(404, "key_not_found");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.previous_key_removed'"),
        1
    );
    assert_eq!(verify(&h, verify_body(&sign(&h, &new, &a))).status, 200);
}

/// agent-id has no API that deletes an agent yet; a row removed by any future path (or by an
/// operator) takes its keys out of every directory and verification at once.
#[test]
fn an_agent_that_is_gone_vanishes_at_once() {
    let h = Harness::new();
    let (old, new) = (TestKey::random(), TestKey::random());
    let a = h.register(&old, "Crawler");
    rotate(&h, &a, &old, &new);
    let signed = sign(&h, &new, &a);
    assert_eq!(verify(&h, verify_body(&signed)).status, 200);
    h.sql(
        "DELETE FROM agents WHERE id = ?1",
        vec![a.id.as_str().into()],
    );
    directory(&h, &a).assert_error(404, "agent_not_found");
    h.send(Req::get(&format!("/v1/agents/{}/card", a.id)))
        .assert_error(404, "agent_not_found");
    h.send(Req::get(&format!("/v1/agents/{}/did.json", a.id)))
        .assert_error(404, "agent_not_found");
    verify(&h, verify_body(&signed)).assert_error(404, "agent_not_found");
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM agent_previous_keys"),
        0,
        "the previous key went with its agent"
    );
}

#[test]
fn the_verification_endpoint_refuses_each_bad_input_with_its_code() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let now = h.now_s();
    let good = sign(&h, &key, &a);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = verify_body(&good);
        f(&mut b);
        verify(&h, b)
    };
    let edit_input = |from: &str, to: &str| {
        let input = good.input.replace(from, to);
        assert_ne!(input, good.input, "{from}");
        with(&|b: &mut Value| b["signature_input"] = json!(input))
    };

    edit_input("web-bot-auth", "web-bot-other").assert_error(400, "invalid_signature_tag");
    let expired = sign_at(&key, &a, now - 120, now - 60);
    verify(&h, verify_body(&expired)).assert_error(400, "signature_expired");
    let future = sign_at(&key, &a, now + 120, now + 180);
    verify(&h, verify_body(&future)).assert_error(400, "signature_not_yet_valid");
    let too_long = sign_at(&key, &a, now, now + 86_401);
    verify(&h, verify_body(&too_long)).assert_error(400, "invalid_signature_validity");
    edit_input("\"@authority\" ", "").assert_error(400, "authority_not_covered");
    edit_input(" \"signature-agent\";key=\"agent1\"", "")
        .assert_error(400, "signature_agent_not_covered");
    edit_input(";alg=\"ed25519\"", "").assert_error(400, "signature_mismatch");
    edit_input("alg=\"ed25519\"", "alg=\"rsa-pss-sha512\"")
        .assert_error(400, "unsupported_signature_algorithm");
    edit_input(&format!(";keyid=\"{}\"", key.proof_thumbprint()), "")
        .assert_error(400, "missing_signature_parameter");
    edit_input(
        &key.proof_thumbprint(),
        &TestKey::random().proof_thumbprint(),
    )
    .assert_error(404, "unknown_key");
    edit_input("(\"@authority\"", "(\"@authority\" \"@path\"")
        .assert_error(400, "missing_component");

    // Wrong key: another key signs, naming the agent's key and card.
    let other = TestKey::random();
    let by_other = sign(&h, &other, &a);
    let forged_input = by_other
        .input
        .replace(&other.proof_thumbprint(), &key.proof_thumbprint());
    verify(
        &h,
        json!({"signature_input": forged_input, "signature": by_other.signature,
               "signature_agent": by_other.agent, "authority": "shop.example"}),
    )
    .assert_error(400, "signature_mismatch");
    // Another authority than the signed one.
    with(&|b: &mut Value| b["authority"] = json!("other.example"))
        .assert_error(400, "signature_mismatch");

    // Malformed structured fields.
    for (field, value) in [
        ("signature_input", "sig1=(\"@authority\""),
        ("signature_input", "sig1=\"@authority\""),
        ("signature_input", "Sig1=(\"@authority\")"),
        ("signature", "sig1=AAAA"),
        ("signature", "sig2=:AAAA:"),
        ("signature", "sig1=:AA A:"),
    ] {
        with(&|b: &mut Value| b[field] = json!(value)).assert_error(400, "malformed_signature");
    }
    with(&|b: &mut Value| b["signature_agent"] = json!("agent1=https://x"))
        .assert_error(400, "unknown_signature_agent");
    with(&|b: &mut Value| {
        b["signature_agent"] = json!("agent1=\"https://evil.example/v1/agents/x/card\"")
    })
    .assert_error(400, "unknown_signature_agent");
    for field in [
        "signature_input",
        "signature",
        "signature_agent",
        "authority",
    ] {
        with(&|b: &mut Value| {
            b.as_object_mut().unwrap().remove(field);
        })
        .assert_error(400, "missing_field");
    }
    with(&|b: &mut Value| b["authority"] = json!("shop.example/path"))
        .assert_error(400, "invalid_field");
    with(&|b: &mut Value| b["components"] = json!({"@path": 1})).assert_error(400, "invalid_field");
    // And the untouched request still verifies.
    assert_eq!(verify(&h, verify_body(&good)).status, 200);
}

#[test]
fn covered_components_come_from_the_site() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let url = card_url(&a);
    let agent_field = signature_agent_field("agent1", &url);
    let headers = [("Signature-Agent", agent_field.as_str())];
    let req = HttpRequest {
        method: "GET",
        url: SITE,
        headers: &headers,
    };
    let params = agent_id_protocol::httpsig::base::SignatureParams::new(vec![
        agent_id_protocol::httpsig::base::Component::new("@authority"),
        agent_id_protocol::httpsig::base::Component::new("@method"),
        agent_id_protocol::httpsig::base::Component::new("@path"),
        agent_id_protocol::httpsig::base::Component::member("signature-agent", "agent1"),
    ])
    .created(h.now_s())
    .expires(h.now_s() + 60)
    .keyid(&key.proof_thumbprint())
    .tag("web-bot-auth");
    let s = sign_ed25519("sig1", &params, &req, &key.0).unwrap();
    let body = |path: &str| {
        json!({"signature_input": s.signature_input, "signature": s.signature,
               "signature_agent": agent_field, "authority": "shop.example",
               "components": {"@method": "GET", "@path": path}})
    };
    assert_eq!(verify(&h, body("/item")).status, 200);
    verify(&h, body("/other")).assert_error(400, "signature_mismatch");
}

#[test]
fn the_verification_endpoint_is_rate_limited_per_ip() {
    let h = Harness::with_vars(&[("RATE_LIMIT_CONFIG", r#"{"verify_http_signature": "2/60"}"#)]);
    let key = TestKey::random();
    let a = h.register(&key, "Crawler");
    let body = verify_body(&sign(&h, &key, &a));
    assert_eq!(verify(&h, body.clone()).status, 200);
    assert_eq!(verify(&h, body.clone()).status, 200);
    let r = verify(&h, body);
    r.assert_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}
