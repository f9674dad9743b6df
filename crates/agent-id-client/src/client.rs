//! [`Client`]: one agent-id server, a transport, a clock and the DPoP state. The identity and
//! consent calls are methods on it (`identity.rs`, `consent.rs`); this module sends their JSON
//! and turns answers into values or typed errors.

use std::rc::Rc;

use agent_id_protocol::dpop::ProofSigner;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::dpop::DpopClient;
use crate::error::{Error, LocalError, ProtocolError, ServerError};
use crate::keys::AgentKey;
use crate::server::ServerUrl;
use crate::session::Session;
use crate::transport::{HttpResponse, Transport};

/// How the agent proves who it is on a call.
#[derive(Clone, Copy, Debug)]
pub enum AgentAuth<'a> {
    /// `Authorization: Bearer <session>`.
    Session(&'a Session),
    /// A DPoP proof signed with the agent's key (no session needed).
    Proof(&'a AgentKey),
}

/// A client of one agent-id server.
pub struct Client {
    server: ServerUrl,
    transport: Rc<dyn Transport>,
    clock: Rc<dyn Clock>,
    dpop: DpopClient,
}

impl Client {
    /// A client over this build's default transport (native rustls, or `fetch` on wasm32).
    pub fn new(server: ServerUrl) -> Result<Self, Error> {
        let transport = crate::transport::default_transport().ok_or_else(|| {
            LocalError::Invalid(
                "no HTTP transport in this build: use Client::with_transport".into(),
            )
        })?;
        Ok(Self::with_transport(server, transport))
    }

    /// A client over the given transport, with the system clock.
    pub fn with_transport(server: ServerUrl, transport: Rc<dyn Transport>) -> Self {
        Self::with_transport_and_clock(server, transport, Rc::new(SystemClock))
    }

    /// A client over the given transport and clock (proofs' `iat`, session expiry).
    pub fn with_transport_and_clock(
        server: ServerUrl,
        transport: Rc<dyn Transport>,
        clock: Rc<dyn Clock>,
    ) -> Self {
        let dpop = DpopClient::new(transport.clone(), clock.clone());
        Self {
            server,
            transport,
            clock,
            dpop,
        }
    }

    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The transport, for requests of the caller's own.
    pub fn transport(&self) -> &Rc<dyn Transport> {
        &self.transport
    }

    /// The DPoP sender and its per-origin nonce cache (usable at any server).
    pub fn dpop(&self) -> &DpopClient {
        &self.dpop
    }

    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }

    /// Sends a JSON call to an API path and returns the success body (an object). A refusal is
    /// [`Error::Server`]; a success body that is not a JSON object is [`Error::Protocol`].
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<AgentAuth<'_>>,
        body: Option<Value>,
    ) -> Result<Map<String, Value>, Error> {
        let url = self.server.url(path);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(ACCEPT, "application/json");
        let bytes = match body {
            Some(v) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                v.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        if let Some(AgentAuth::Session(s)) = auth {
            builder = builder.header(AUTHORIZATION, format!("Bearer {}", s.token.expose()));
        }
        let request = builder
            .body(bytes)
            .map_err(|e| LocalError::Invalid(format!("cannot build a request for {path}: {e}")))?;
        let response = match auth {
            Some(AgentAuth::Proof(key)) => {
                self.dpop
                    .send(ProofSigner::Ed25519(key.signing_key()), request, None)
                    .await?
            }
            _ => self.transport.send(request).await?,
        };
        success_body(&response)
    }
}

/// The JSON object of a `2xx`/`303` response, or the error it carries.
pub(crate) fn success_body(response: &HttpResponse) -> Result<Map<String, Value>, Error> {
    let status = response.status();
    if !(status.is_success() || status == StatusCode::SEE_OTHER) {
        return Err(
            match ServerError::from_body(status.as_u16(), response.body()) {
                Some(e) => Error::Server(e),
                None => Error::Protocol(ProtocolError::UnexpectedStatus {
                    status: status.as_u16(),
                }),
            },
        );
    }
    match serde_json::from_slice(response.body()) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Protocol(ProtocolError::UnexpectedBody {
            what: format!("HTTP {} without a JSON object", status.as_u16()),
        })),
    }
}

/// Typed access to a success body's members.
pub(crate) trait Members {
    fn text(&self, key: &str) -> Result<String, Error>;
    fn int(&self, key: &str) -> Result<i64, Error>;
    fn opt_text(&self, key: &str) -> Option<String>;
    fn decode<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, Error>;
}

fn missing(key: &str) -> Error {
    Error::Protocol(ProtocolError::UnexpectedBody {
        what: format!("member `{key}` missing or of the wrong type"),
    })
}

impl Members for Map<String, Value> {
    fn text(&self, key: &str) -> Result<String, Error> {
        self.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing(key))
    }

    fn int(&self, key: &str) -> Result<i64, Error> {
        self.get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| missing(key))
    }

    fn opt_text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, Error> {
        let v = self.get(key).cloned().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|_| missing(key))
    }
}
