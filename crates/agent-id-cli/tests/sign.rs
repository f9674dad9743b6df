//! `agent-id sign`: the printed Web Bot Auth fields are accepted by the real App's verifier as
//! the registered agent's; bad input is a usage error (exit 2).

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use agent_id_cli::Environment;
use agent_id_client::{HttpRequest, HttpResponse, Transport, TransportError};
use serde_json::{json, Value};
use support::{Agent, InProcess, SERVER};

/// A third-party site: records the request it receives and answers `200 ok`.
#[derive(Default)]
struct Site {
    received: RefCell<Vec<HttpRequest>>,
}

#[async_trait::async_trait(?Send)]
impl Transport for Site {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.received.borrow_mut().push(request);
        Ok(http::Response::builder()
            .status(200)
            .body(b"ok".to_vec())
            .unwrap())
    }
}

fn verify(server: &InProcess, signed: &Value, authority: &str) -> (u16, Value) {
    let body = json!({
        "signature_input": signed["signature_input"],
        "signature": signed["signature"],
        "signature_agent": signed["signature_agent"],
        "authority": authority,
    });
    let req = http::Request::post(format!("{SERVER}/v1/verify/http-signature"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let res = server.send(req);
    (
        res.status().as_u16(),
        serde_json::from_slice(res.body()).unwrap(),
    )
}

#[test]
fn signed_headers_verify_at_the_server_as_the_agent() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    let generated = agent.ok(&["keygen"]);
    let registered = agent.ok(&["register", "--name", "Signer"]);
    let agent_id = registered["agent"]["id"].as_str().unwrap();

    let signed = agent.ok(&[
        "sign",
        "-H",
        "Accept: text/html",
        "https://shop.example/basket",
    ]);
    assert_eq!(
        signed["signature_agent"],
        format!("agent1=\"{SERVER}/v1/agents/{agent_id}/card\"")
    );
    assert_eq!(
        signed["expires"].as_i64().unwrap() - signed["created"].as_i64().unwrap(),
        60
    );
    assert!(signed["signature_input"]
        .as_str()
        .unwrap()
        .ends_with(";tag=\"web-bot-auth\""));
    let (status, body) = verify(&server, &signed, "shop.example");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["agent"]["id"], agent_id);
    assert_eq!(body["keyid"], signed["keyid"]);
    assert_ne!(generated["public_key"], Value::Null);
    let (status, body) = verify(&server, &signed, "elsewhere.example");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("signature_mismatch"))
    );

    // People get the three header lines, ready to paste.
    let human = agent.run(&["sign", "--validity", "5", "https://shop.example/"]);
    assert_eq!(human.code, 0, "{human:?}");
    let names: Vec<&str> = human
        .stdout
        .lines()
        .map(|l| l.split_once(": ").unwrap().0)
        .collect();
    assert_eq!(names, ["Signature-Agent", "Signature-Input", "Signature"]);
}

#[test]
fn bad_requests_to_sign_are_usage_errors() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    assert_eq!(
        agent
            .json(&["sign", "--agent-id", "a1", "/relative"])
            .error(2)["kind"],
        "usage"
    );
    assert_eq!(
        agent
            .json(&[
                "sign",
                "--agent-id",
                "a1",
                "-X",
                "GE T",
                "https://a.example/"
            ])
            .error(2)["kind"],
        "usage"
    );
    assert_eq!(
        agent
            .json(&[
                "sign",
                "--agent-id",
                "a1",
                "-H",
                "no colon",
                "https://a.example/"
            ])
            .error(2)["kind"],
        "usage"
    );
    // No --agent-id and no saved session: nothing names the agent.
    assert_eq!(
        agent.json(&["sign", "https://a.example/"]).error(2)["kind"],
        "usage"
    );
}

#[test]
fn request_sign_sends_a_request_the_server_verifies_as_the_agent() {
    let server = InProcess::new(&[]);
    let agent = Agent::new(&server);
    agent.ok(&["keygen"]);
    let registered = agent.ok(&["register", "--name", "Signer"]);
    let site = Rc::new(Site::default());
    let env = Environment {
        transport: Some(site.clone()),
        config_base: Some(agent.base.path().to_owned()),
        var: |_| None,
    };
    let argv = [
        "agent-id",
        "--server",
        SERVER,
        "request",
        "--sign",
        "https://shop.example/basket",
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = agent_id_cli::run(argv, env, &mut out, &mut err);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert_eq!(String::from_utf8(out).unwrap().trim(), "ok");

    let received = site.received.borrow();
    let h = |name: &str| received[0].headers()[name].to_str().unwrap().to_owned();
    let signed = json!({
        "signature_input": h("signature-input"),
        "signature": h("signature"),
        "signature_agent": h("signature-agent"),
    });
    let (status, body) = verify(&server, &signed, "shop.example");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["agent"]["id"], registered["agent"]["id"]);
}
