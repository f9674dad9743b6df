//! The SDK's Web Bot Auth signatures checked by the real server code: an agent registered
//! through the library signs a request for a third-party site, and the App's
//! `POST /v1/verify/http-signature` (and its key directory) accept it as that agent's.

// The shared server harness has more than this test uses.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod common;
mod server;

use agent_id_client::{AgentKey, RequestSigner, ServerUrl};
use common::Req;
use serde_json::json;
use server::{run, setup, ISSUER};

#[test]
fn a_request_signed_by_the_sdk_verifies_at_the_server_as_its_agent() {
    let (h, _transport, client) = setup(&[]);
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Signer", None)).unwrap();
    let server = ServerUrl::parse(ISSUER).unwrap();
    let signer = RequestSigner::for_agent(&key, &server, &registered.agent.id);
    let signed = signer
        .headers("GET", "https://shop.example/basket", &[], h.now_s())
        .unwrap();

    let body = |authority: &str| {
        json!({
            "signature_input": signed.signature_input,
            "signature": signed.signature,
            "signature_agent": signed.signature_agent,
            "authority": authority,
        })
    };
    let r = h.send(Req::post("/v1/verify/http-signature").json(body("shop.example")));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agent"]["id"], registered.agent.id.as_str());
    assert_eq!(r.body["keyid"], key.thumbprint());
    h.send(Req::post("/v1/verify/http-signature").json(body("elsewhere.example")))
        .assert_error(400, "signature_mismatch");

    let directory = h.send(Req::get(&format!(
        "/v1/agents/{}/http-message-signatures-directory",
        registered.agent.id
    )));
    assert_eq!(directory.body["keys"][0]["kid"], key.thumbprint());
}
