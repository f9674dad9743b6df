//! The native transport: `ureq` over rustls (ring, webpki roots; no OpenSSL). `ureq` blocks, so
//! each request runs on its own short-lived thread and the returned future just waits for it:
//! an async caller's executor is never blocked.

use std::time::Duration;

use async_trait::async_trait;
use futures_channel::oneshot;

use super::{HttpRequest, HttpResponse, Transport};
use crate::error::TransportError;

/// Largest response body read (the agent API's bodies are a few KB).
const MAX_BODY: u64 = 4 * 1024 * 1024;
/// Whole-request deadline (connect, TLS, send, receive).
const TIMEOUT: Duration = Duration::from_secs(30);

/// HTTPS (and HTTP) with rustls. Cheap to clone; connections are pooled.
#[derive(Clone)]
pub struct NativeTransport {
    agent: ureq::Agent,
}

impl NativeTransport {
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("agent-id-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }
}

impl Default for NativeTransport {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait(?Send)]
impl Transport for NativeTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let agent = self.agent.clone();
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("agent-id-http".into())
            .spawn(move || {
                let _ = tx.send(run(&agent, request));
            })
            .map_err(|e| TransportError::new(format!("cannot start the HTTP thread: {e}")))?;
        rx.await
            .map_err(|_| TransportError::new("the HTTP thread stopped without an answer"))?
    }
}

fn run(agent: &ureq::Agent, request: HttpRequest) -> Result<HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let result = if body.is_empty() {
        agent.run(http::Request::from_parts(parts, ()))
    } else {
        agent.run(http::Request::from_parts(parts, body))
    };
    // ureq's errors name the host and the failure, never headers or bodies.
    let response = result.map_err(|e| TransportError::new(e.to_string()))?;
    let (parts, mut body) = response.into_parts();
    let bytes = body
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| TransportError::new(e.to_string()))?;
    Ok(http::Response::from_parts(parts, bytes))
}
