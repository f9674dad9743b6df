//! The native (rustls/ureq) transport over real loopback sockets: what is sent arrives intact,
//! statuses are answers (never errors), redirects are not followed, failures are typed. Traffic
//! goes to 127.0.0.1 only, a handful of requests per test.

#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use agent_id_client::clock::SystemClock;
use agent_id_client::transport::{NativeTransport, Transport};
use agent_id_client::{AgentKey, DpopClient};

/// A request as the loopback server read it.
#[derive(Debug)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Serves `responses` in order (one connection each) on a free loopback port.
fn serve(responses: Vec<String>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for response in responses {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let seen = Seen {
                head,
                body: Vec::new(),
            };
            let len: usize = seen
                .header("content-length")
                .map(|v| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            tx.send(Seen { body, ..seen }).unwrap();
            let mut stream = stream;
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    (url, rx)
}

fn response(status: &str, headers: &[&str], body: &str) -> String {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[test]
fn requests_arrive_intact_and_any_status_is_an_answer() {
    let (url, seen) = serve(vec![response(
        "409 Conflict",
        &["Content-Type: application/json", "DPoP-Nonce: abc"],
        r#"{"success":false,"code":"duplicate_public_key","error":"taken"}"#,
    )]);
    let req = http::Request::post(format!("{url}/v1/agents/register/initiate?x=1"))
        .header("content-type", "application/json")
        .header("x-test", "yes")
        .body(br#"{"name":"A"}"#.to_vec())
        .unwrap();
    let resp = run(NativeTransport::new().send(req)).unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(resp.headers()["dpop-nonce"], "abc");
    assert!(std::str::from_utf8(resp.body())
        .unwrap()
        .contains("duplicate_public_key"));
    let s = seen.recv().unwrap();
    assert!(
        s.head
            .starts_with("POST /v1/agents/register/initiate?x=1 HTTP/1.1\r\n"),
        "{}",
        s.head
    );
    assert_eq!(s.header("x-test").as_deref(), Some("yes"));
    assert_eq!(s.body, br#"{"name":"A"}"#);
}

#[test]
fn redirects_are_returned_not_followed() {
    let (url, seen) = serve(vec![response(
        "303 See Other",
        &["Location: http://127.0.0.1:9/elsewhere"],
        "{}",
    )]);
    let req = http::Request::get(format!("{url}/v1/oauth/authorize"))
        .body(Vec::new())
        .unwrap();
    let resp = run(NativeTransport::new().send(req)).unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "http://127.0.0.1:9/elsewhere");
    let s = seen.recv().unwrap();
    assert!(s.head.starts_with("GET /v1/oauth/authorize HTTP/1.1"));
    assert!(seen.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn an_unreachable_server_is_a_transport_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let req = http::Request::get(format!("http://127.0.0.1:{port}/health"))
        .body(Vec::new())
        .unwrap();
    let err = run(NativeTransport::new().send(req)).unwrap_err();
    assert!(!err.message.is_empty());
}

#[test]
fn a_resource_servers_nonce_challenge_is_answered_over_the_wire() {
    let (url, seen) = serve(vec![
        response(
            "401 Unauthorized",
            &[
                r#"WWW-Authenticate: DPoP error="use_dpop_nonce", algs="EdDSA ES256""#,
                "DPoP-Nonce: server-nonce-1",
            ],
            "",
        ),
        response(
            "200 OK",
            &["Content-Type: application/json"],
            r#"{"ok":true}"#,
        ),
    ]);
    let dpop = DpopClient::new(Rc::new(NativeTransport::new()), Rc::new(SystemClock));
    let key = AgentKey::generate().unwrap();
    let req = http::Request::get(format!("{url}/mcp?session=1"))
        .body(Vec::new())
        .unwrap();
    let resp = run(dpop.send(key.proof_signer(), req, Some("access-token-1"))).unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (first, second) = (seen.recv().unwrap(), seen.recv().unwrap());
    for s in [&first, &second] {
        assert_eq!(
            s.header("authorization").as_deref(),
            Some("DPoP access-token-1")
        );
    }
    let claims = |s: &Seen| {
        let proof = s.header("dpop").unwrap();
        agent_id_protocol::jws::parse(&proof).unwrap().payload
    };
    assert_eq!(claims(&first).get("nonce"), None);
    assert_eq!(claims(&second)["nonce"], "server-nonce-1");
    assert_eq!(claims(&second)["htu"], format!("{url}/mcp"));
}
