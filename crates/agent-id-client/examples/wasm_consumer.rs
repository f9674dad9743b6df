//! A minimal consumer of the library, built as a wasm32 `cdylib` to measure what the library
//! adds to an agent's Worker (`scripts/wasm-size.sh` in this crate builds it with and without
//! the `fetch` transport). It links every call: register, login, me, rotate, logout, claim,
//! history, overseer, consent; each future is polled once, which is enough to keep the code.
//! Natively it builds too (and does nothing useful), so `clippy --all-targets` covers it.

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use agent_id_client::{AgentAuth, AgentKey, AuthorizationRequest, Client, ServerUrl};

/// The transport the build provides: `fetch` with the feature, or a host's own without it.
fn client(server: ServerUrl) -> Client {
    #[cfg(feature = "fetch")]
    if let Ok(c) = Client::new(server.clone()) {
        return c;
    }
    Client::with_transport(server, Rc::new(host::HostTransport))
}

mod host {
    use agent_id_client::{HttpRequest, HttpResponse, Transport, TransportError};

    /// Stands for a transport the host brings (its own HTTP binding).
    pub struct HostTransport;

    #[async_trait::async_trait(?Send)]
    impl Transport for HostTransport {
        async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
            Err(TransportError::new("no transport"))
        }
    }
}

fn poll_once<F: Future>(f: F) -> bool {
    let mut f = pin!(f);
    matches!(
        f.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(_)
    )
}

/// # Safety
/// `ptr..ptr+len` must be readable UTF-8 (the server origin).
#[no_mangle]
pub unsafe extern "C" fn agent_lifecycle(ptr: *const u8, len: usize) -> u32 {
    let text = std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).unwrap_or_default();
    let Ok(server) = ServerUrl::parse(text) else {
        return 0;
    };
    let Ok(key) = AgentKey::generate() else {
        return 0;
    };
    let c = client(server);
    let mut done = 0;
    done += poll_once(c.register(&key, "wasm agent", None)) as u32;
    done += poll_once(async {
        let session = c.login(&key, None).await?;
        c.me(&session).await?;
        c.history(&session, Some(10), None).await?;
        c.overseer(&session).await?;
        let new = AgentKey::generate()?;
        c.rotate_key(&session, &key, &new).await?;
        c.accept_claim(AgentAuth::Proof(&new), "challenge", "overseer")
            .await?;
        c.authorize(
            AgentAuth::Session(&session),
            &AuthorizationRequest::default(),
        )
        .await?;
        c.logout(&session).await
    }) as u32;
    done
}
