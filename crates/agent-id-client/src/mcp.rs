//! A minimal MCP client over the streamable-HTTP transport (MCP 2025-11-25, "Transports"):
//! JSON-RPC requests POSTed to the server URL, answered as `application/json` or as a
//! `text/event-stream` carrying the response; `Mcp-Session-Id` kept once the server assigns one,
//! `MCP-Protocol-Version` sent after initialisation.
//!
//! [`McpSession`] is the protocol state, free of I/O: it builds each request and reads each
//! response; whoever sends them adds authorization (see [`crate::oauth::flow`]).

pub mod sse;

use serde_json::{json, Value};
use url::Url;

use crate::oauth::flow::run::{build, header};
use crate::oauth::flow::store::StoredToken;
use crate::oauth::flow::{ClientIdentity, FlowError, OAuthAgent};

/// The protocol revision this client speaks.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Why an MCP exchange failed.
#[derive(Debug, Clone, PartialEq)]
pub enum McpError {
    /// The HTTP status was not a success (the body's first bytes, for the message).
    Http { status: u16, body: String },
    /// The response is not the JSON-RPC message expected.
    Malformed(String),
    /// The server answered the request with a JSON-RPC error.
    Rpc { code: i64, message: String },
}

impl std::fmt::Display for McpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http { status, body } => write!(f, "MCP server answered HTTP {status}: {body}"),
            Self::Malformed(why) => write!(f, "malformed MCP response: {why}"),
            Self::Rpc { code, message } => write!(f, "MCP error {code}: {message}"),
        }
    }
}

impl std::error::Error for McpError {}

/// One outgoing POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `None` for a notification.
    pub id: Option<u64>,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What came back for one POST.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub body: &'a str,
}

/// Client state of one MCP session.
#[derive(Debug, Default)]
pub struct McpSession {
    next_id: u64,
    session_id: Option<String>,
    protocol_version: Option<String>,
    server_info: Option<Value>,
}

impl McpSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// The server's `serverInfo` from `initialize`.
    pub fn server_info(&self) -> Option<&Value> {
        self.server_info.as_ref()
    }

    /// The `initialize` request.
    pub fn initialize(&mut self) -> Outgoing {
        self.request(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": { "name": "agent-id", "version": env!("CARGO_PKG_VERSION") },
            }),
        )
    }

    /// Records what `initialize` returned: the negotiated version and the session id.
    pub fn initialized(&mut self, incoming: &Incoming<'_>, result: &Value) -> Result<(), McpError> {
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::Malformed("initialize result lacks protocolVersion".into()))?;
        self.protocol_version = Some(version.to_owned());
        self.server_info = result.get("serverInfo").cloned();
        if let Some(sid) = incoming.session_id {
            if sid.is_empty() || !sid.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                return Err(McpError::Malformed(
                    "Mcp-Session-Id is not visible ASCII".into(),
                ));
            }
            self.session_id = Some(sid.to_owned());
        }
        Ok(())
    }

    /// `notifications/initialized`, sent once `initialize` succeeded.
    pub fn initialized_notification(&mut self) -> Outgoing {
        self.outgoing(
            None,
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        )
    }

    /// A request for `method` with `params`.
    pub fn request(&mut self, method: &str, params: Value) -> Outgoing {
        self.next_id += 1;
        let id = self.next_id;
        self.outgoing(
            Some(id),
            json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
        )
    }

    fn outgoing(&self, id: Option<u64>, message: Value) -> Outgoing {
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json, text/event-stream".to_owned()),
        ];
        if let Some(sid) = &self.session_id {
            headers.push(("mcp-session-id", sid.clone()));
        }
        if let Some(v) = &self.protocol_version {
            headers.push(("mcp-protocol-version", v.clone()));
        }
        Outgoing {
            id,
            headers,
            body: message.to_string(),
        }
    }

    /// Reads the answer to `sent`: a notification expects 202 (or any 2xx) and nothing; a request
    /// expects the JSON-RPC response with its id, as JSON or as one event of an SSE stream
    /// (other messages on the stream, such as server notifications, are skipped).
    pub fn read(
        &self,
        sent: &Outgoing,
        incoming: &Incoming<'_>,
    ) -> Result<Option<Value>, McpError> {
        if !(200..300).contains(&incoming.status) {
            let body: String = incoming.body.chars().take(200).collect();
            return Err(McpError::Http {
                status: incoming.status,
                body,
            });
        }
        let Some(id) = sent.id else {
            return Ok(None);
        };
        let media = incoming.content_type.map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let candidates: Vec<Value> = match media.as_deref() {
            Some("application/json") => vec![parse_json(incoming.body)?],
            Some("text/event-stream") => sse::parse(incoming.body)
                .into_iter()
                .filter(|e| e.event == "message" && !e.data.is_empty())
                .map(|e| parse_json(&e.data))
                .collect::<Result<_, _>>()?,
            other => {
                return Err(McpError::Malformed(format!(
                    "unexpected content type {other:?}"
                )))
            }
        };
        // A JSON body may also be a batch (array) of messages.
        let messages = candidates.into_iter().flat_map(|v| match v {
            Value::Array(items) => items,
            one => vec![one],
        });
        for message in messages {
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
                return Err(McpError::Malformed("not JSON-RPC 2.0".into()));
            }
            if let Some(err) = message.get("error") {
                return Err(McpError::Rpc {
                    code: err.get("code").and_then(Value::as_i64).unwrap_or_default(),
                    message: err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                });
            }
            return match message.get("result") {
                Some(result) => Ok(Some(result.clone())),
                None => Err(McpError::Malformed(
                    "response has neither result nor error".into(),
                )),
            };
        }
        Err(McpError::Malformed(format!("no response with id {id}")))
    }
}

/// Why talking to an MCP server failed: getting a token, or the MCP exchange itself.
#[derive(Debug)]
pub enum ConnectError {
    Flow(FlowError),
    Mcp(McpError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flow(e) => e.fmt(f),
            Self::Mcp(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<FlowError> for ConnectError {
    fn from(e: FlowError) -> Self {
        Self::Flow(e)
    }
}

impl From<McpError> for ConnectError {
    fn from(e: McpError) -> Self {
        Self::Mcp(e)
    }
}

/// An MCP session with a protected server: each message goes through
/// [`OAuthAgent::send_protected`], so the first 401 runs discovery and the token flow and every
/// later message carries the token (with a fresh DPoP proof each).
pub struct McpClient<'a> {
    agent: &'a OAuthAgent<'a>,
    url: Url,
    client: ClientIdentity,
    token: Option<StoredToken>,
    session: McpSession,
}

impl<'a> McpClient<'a> {
    pub fn new(agent: &'a OAuthAgent<'a>, url: Url, client: ClientIdentity) -> Self {
        Self {
            agent,
            url,
            client,
            token: None,
            session: McpSession::new(),
        }
    }

    pub fn session(&self) -> &McpSession {
        &self.session
    }

    /// `initialize`, then `notifications/initialized`.
    pub async fn initialize(&mut self) -> Result<Value, ConnectError> {
        let out = self.session.initialize();
        let (result, sid) = self.exchange(&out).await?;
        let result = result.ok_or_else(|| McpError::Malformed("initialize: no result".into()))?;
        let incoming = Incoming {
            status: 200,
            content_type: None,
            session_id: sid.as_deref(),
            body: "",
        };
        self.session.initialized(&incoming, &result)?;
        let note = self.session.initialized_notification();
        self.exchange(&note).await?;
        Ok(result)
    }

    /// Any request; its `result`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ConnectError> {
        let out = self.session.request(method, params);
        let (result, _) = self.exchange(&out).await?;
        Ok(result.unwrap_or(Value::Null))
    }

    async fn exchange(
        &mut self,
        out: &Outgoing,
    ) -> Result<(Option<Value>, Option<String>), ConnectError> {
        let make = || {
            let headers: Vec<(&str, &str)> =
                out.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            build(
                http::Method::POST,
                self.url.as_str(),
                &headers,
                out.body.clone().into_bytes(),
            )
        };
        let response = self
            .agent
            .send_protected(&self.url, &self.client, &make, &mut self.token)
            .await?;
        let content_type = header(&response, "content-type");
        let session_id = header(&response, "mcp-session-id");
        let body = String::from_utf8_lossy(response.body());
        let incoming = Incoming {
            status: response.status().as_u16(),
            content_type: content_type.as_deref(),
            session_id: session_id.as_deref(),
            body: &body,
        };
        Ok((self.session.read(out, &incoming)?, session_id))
    }
}

fn parse_json(s: &str) -> Result<Value, McpError> {
    serde_json::from_str(s).map_err(|e| McpError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(ct: &'a str, body: &'a str, sid: Option<&'a str>) -> Incoming<'a> {
        Incoming {
            status: 200,
            content_type: Some(ct),
            session_id: sid,
            body,
        }
    }

    #[test]
    fn initialize_then_session_headers_and_ids() {
        let mut s = McpSession::new();
        let init = s.initialize();
        assert_eq!(init.id, Some(1));
        let msg: Value = serde_json::from_str(&init.body).unwrap();
        assert_eq!(msg["method"], "initialize");
        assert_eq!(msg["params"]["protocolVersion"], PROTOCOL_VERSION);
        assert!(!init.headers.iter().any(|(n, _)| *n == "mcp-session-id"));

        let body = r#"event: message
data: {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","serverInfo":{"name":"s"},"capabilities":{}}}

"#;
        let inc = incoming("text/event-stream", body, Some("sess-1"));
        let result = s.read(&init, &inc).unwrap().unwrap();
        s.initialized(&inc, &result).unwrap();
        assert_eq!(s.server_info().unwrap()["name"], "s");

        let note = s.initialized_notification();
        assert_eq!(note.id, None);
        assert!(note.headers.contains(&("mcp-session-id", "sess-1".into())));
        assert!(note
            .headers
            .contains(&("mcp-protocol-version", "2025-06-18".into())));
        let accepted = Incoming {
            status: 202,
            content_type: None,
            session_id: None,
            body: "",
        };
        assert_eq!(s.read(&note, &accepted).unwrap(), None);

        let list = s.request("tools/list", json!({}));
        assert_eq!(list.id, Some(2));
    }

    #[test]
    fn reads_json_sse_with_notifications_batches_and_errors() {
        let mut s = McpSession::new();
        let req = s.request("tools/call", json!({"name": "t"}));
        let sse = "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n\
                   data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}\n\n";
        assert_eq!(
            s.read(&req, &incoming("text/event-stream", sse, None))
                .unwrap(),
            Some(json!({"content": []}))
        );
        let batch = r#"[{"jsonrpc":"2.0","id":9,"result":{}},{"jsonrpc":"2.0","id":1,"result":{"ok":true}}]"#;
        assert_eq!(
            s.read(
                &req,
                &incoming("application/json; charset=utf-8", batch, None)
            )
            .unwrap(),
            Some(json!({"ok": true}))
        );
        let err = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"no such tool"}}"#;
        assert_eq!(
            s.read(&req, &incoming("application/json", err, None)),
            Err(McpError::Rpc {
                code: -32602,
                message: "no such tool".into()
            })
        );
        for (ct, body) in [
            (
                "application/json",
                r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
            ),
            (
                "application/json",
                r#"{"jsonrpc":"1.0","id":1,"result":{}}"#,
            ),
            ("application/json", r#"{"jsonrpc":"2.0","id":1}"#),
            ("application/json", "nope"),
            ("text/html", "<p>"),
        ] {
            assert!(matches!(
                s.read(&req, &incoming(ct, body, None)),
                Err(McpError::Malformed(_))
            ));
        }
        let denied = Incoming {
            status: 401,
            content_type: None,
            session_id: None,
            body: "x",
        };
        assert!(matches!(
            s.read(&req, &denied),
            Err(McpError::Http { status: 401, .. })
        ));
    }
}
