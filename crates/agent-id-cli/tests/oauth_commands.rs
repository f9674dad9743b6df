//! `token`, `request` and `mcp connect` run in process (`agent_id_cli::run`) against a small MCP
//! server behind an in-process transport: their output in both forms and their exit codes. The
//! token flow itself is tested in the client library (`tests/oauth_flow.rs`) and by the MCP
//! conformance suite (`scripts/conformance.sh`).

use std::cell::RefCell;
use std::rc::Rc;

use agent_id_cli::Environment;
use agent_id_client::{HttpRequest, HttpResponse, Transport, TransportError};
use async_trait::async_trait;
use serde_json::Value;

const MCP: &str = "http://127.0.0.1:7/mcp";

/// A request as the server saw it: its JSON-RPC method and its headers.
type Seen = (String, Vec<(String, String)>);

/// An MCP server that needs no token: answers `initialize` as an SSE stream with a session id,
/// everything else as JSON; records the requests' headers.
#[derive(Default)]
struct OpenMcp {
    seen: RefCell<Vec<Seen>>,
}

#[async_trait(?Send)]
impl Transport for OpenMcp {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let headers = req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
        let method = body["method"].as_str().unwrap_or("").to_owned();
        self.seen.borrow_mut().push((method.clone(), headers));
        let id = body["id"].clone();
        let json =
            |result: Value| serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result});
        let (status, ct, text) = match method.as_str() {
            "initialize" => (
                200,
                "text/event-stream",
                format!(
                    "event: message\ndata: {}\n\n",
                    json(serde_json::json!({"protocolVersion": "2025-11-25",
                        "serverInfo": {"name": "open"}, "capabilities": {"tools": {}}}))
                ),
            ),
            "notifications/initialized" => (202, "text/plain", String::new()),
            "tools/list" => (
                200,
                "application/json",
                json(serde_json::json!({"tools": [{"name": "echo", "description": "says it back",
                    "inputSchema": {"type": "object"}}]}))
                .to_string(),
            ),
            "tools/call" => (
                200,
                "application/json",
                json(serde_json::json!({"content": [{"type": "text", "text": body["params"]["arguments"]["say"]}]}))
                .to_string(),
            ),
            _ => (200, "text/plain", "plain answer".to_owned()),
        };
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", ct)
            .header("mcp-session-id", "s-1")
            .body(text.into_bytes())
            .unwrap())
    }
}

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

fn run(server: &Rc<OpenMcp>, base: &std::path::Path, args: &[&str]) -> Run {
    let mut argv = vec!["agent-id", "--server", "http://127.0.0.1:9"];
    argv.extend_from_slice(args);
    let env = Environment {
        transport: Some(server.clone()),
        config_base: Some(base.to_owned()),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = agent_id_cli::run(argv, env, &mut out, &mut err);
    Run {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

#[test]
fn mcp_connect_lists_and_calls_tools_in_both_forms() {
    let server = Rc::new(OpenMcp::default());
    let home = tempfile::tempdir().unwrap();
    assert_eq!(run(&server, home.path(), &["keygen"]).code, 0);

    let human = run(
        &server,
        home.path(),
        &[
            "mcp",
            "connect",
            "--call-tool",
            "echo",
            "--arguments",
            r#"{"say":"hi"}"#,
            MCP,
        ],
    );
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human
            .stdout
            .starts_with("connected to open (MCP 2025-11-25)\ntool echo: says it back\n"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("echo -> "), "{}", human.stdout);

    let json = run(&server, home.path(), &["--json", "mcp", "connect", MCP]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["protocol_version"], "2025-11-25");
    assert_eq!(v["server"]["name"], "open");
    assert_eq!(v["tools"][0]["name"], "echo");
    assert_eq!(v["call"], Value::Null);

    // After initialize every message carries the session id and the negotiated version.
    let seen = server.seen.borrow();
    let (method, headers) = &seen[1];
    assert_eq!(method, "notifications/initialized");
    assert!(headers.contains(&("mcp-session-id".into(), "s-1".into())));
    assert!(headers.contains(&("mcp-protocol-version".into(), "2025-11-25".into())));
    assert!(!seen[0].1.iter().any(|(n, _)| n == "mcp-session-id"));
}

#[test]
fn request_prints_the_answer_and_sends_the_callers_headers() {
    let server = Rc::new(OpenMcp::default());
    let home = tempfile::tempdir().unwrap();
    assert_eq!(run(&server, home.path(), &["keygen"]).code, 0);
    let r = run(
        &server,
        home.path(),
        &[
            "request",
            "-X",
            "put",
            "-H",
            "X-Trace: 7",
            "--data",
            "{}",
            "http://127.0.0.1:7/other",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "plain answer\n"),
        "{}",
        r.stderr
    );
    let seen = server.seen.borrow();
    assert!(seen[0].1.contains(&("x-trace".into(), "7".into())));
    drop(seen);
    let j = run(
        &server,
        home.path(),
        &["--json", "request", "http://127.0.0.1:7/other"],
    );
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["body"].as_str()),
        (Some(200), Some("plain answer"))
    );
}

#[test]
fn bad_arguments_exit_2_and_a_missing_key_exits_3() {
    let server = Rc::new(OpenMcp::default());
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["token", "--resource", "not a url", "--client-id", "c"][..],
        &[
            "token",
            "--resource",
            MCP,
            "--client-id",
            "http://insecure.example/c.json",
        ][..],
        &["request", "-H", "Authorization: Bearer stolen", MCP][..],
        &["request", "-H", "no colon", MCP][..],
        &["request", "ftp://127.0.0.1/x"][..],
        &[
            "mcp",
            "connect",
            "--call-tool",
            "t",
            "--arguments",
            "[1]",
            MCP,
        ][..],
    ] {
        let r = run(&server, home.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    assert!(
        server.seen.borrow().is_empty(),
        "nothing is sent on a usage error"
    );
    let r = run(&server, home.path(), &["mcp", "connect", MCP]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("keygen"), "{}", r.stderr);
}
