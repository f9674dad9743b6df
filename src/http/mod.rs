//! Transport-neutral HTTP: the request the App sees, the responses it builds, errors and
//! body parsing. The worker adapter converts to and from these types at the edge.

pub mod body;
pub mod document;
pub mod error;
pub mod form;
pub mod headers;
pub mod pagination;
pub mod query;
pub mod reply;
pub mod router;

pub use error::{ApiError, ErrorCode};
pub use reply::Reply;

use http::{HeaderMap, Method};

/// Largest accepted request body (api.md 1.3).
pub const MAX_BODY_BYTES: usize = 65_536;
/// Largest accepted `Authorization` or `DPoP` header value.
pub const MAX_CREDENTIAL_HEADER_BYTES: usize = 8_192;

/// A request body as read at the edge: the adapter stops reading past the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Longer than [`MAX_BODY_BYTES`] (by `Content-Length` or while reading).
    TooLarge,
}

/// An incoming request, independent of the runtime.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// The path as received (percent-encoded, no query).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Body,
    /// `scheme://host[:port]` of the request URL: the development issuer when
    /// `PUBLIC_BASE_URL` is unset (never used in production).
    pub origin: String,
}

impl Request {
    /// A header's value as text, if present exactly once and valid visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The client IP from `CF-Connecting-IP` (never `X-Forwarded-For`).
    pub fn client_ip(&self) -> Option<&str> {
        self.header("cf-connecting-ip")
            .filter(|ip| !ip.is_empty() && ip.len() <= 64)
    }
}

/// The outgoing response.
pub type Response = http::Response<Vec<u8>>;
