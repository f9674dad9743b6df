//! HTTP behind one small trait, so the library runs wherever its host can send a request:
//! [`NativeTransport`] (rustls, off wasm32), [`FetchTransport`] (the global `fetch`, on wasm32:
//! Workers and browsers), or anything a host brings (a test can hand requests straight to an
//! in-process server).
//!
//! Requests and responses are the `http` crate's types with whole bodies in memory: the agent
//! API's bodies are small JSON documents. A transport never follows redirects (an authorization
//! endpoint's `303` is an answer, not a detour) and never treats a status as an error.

#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
mod fetch;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod native;

use std::rc::Rc;

use async_trait::async_trait;

use crate::error::TransportError;

#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
pub use fetch::FetchTransport;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub use native::NativeTransport;

/// A request as the library sends it: method, absolute URL, headers, body.
pub type HttpRequest = http::Request<Vec<u8>>;
/// A response as a transport returns it: status, headers, the whole body.
pub type HttpResponse = http::Response<Vec<u8>>;

/// Sends one HTTP request and returns the server's response, whatever its status. Futures need
/// not be `Send`: the wasm32 `fetch` future is not, and the library runs on one thread.
#[async_trait(?Send)]
pub trait Transport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[async_trait(?Send)]
impl<T: Transport + ?Sized> Transport for Rc<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

/// The transport of this build: native (rustls) off wasm32, `fetch` on wasm32; `None` when the
/// matching feature is disabled.
pub fn default_transport() -> Option<Rc<dyn Transport>> {
    #[cfg(all(feature = "native", not(target_arch = "wasm32")))]
    return Some(Rc::new(NativeTransport::new()));
    #[cfg(all(feature = "fetch", target_arch = "wasm32"))]
    return Some(Rc::new(FetchTransport));
    #[allow(unreachable_code)]
    None
}
