//! Transport-neutral HTTP: the request the App sees, the responses it builds, errors and
//! body parsing. The worker adapter converts to and from these types at the edge.

pub mod body;
pub mod document;
pub mod edge;
pub mod error;
pub mod form;
pub mod headers;
#[cfg(target_arch = "wasm32")]
pub mod outbound;
pub mod pagination;
pub mod query;
pub mod reply;
pub mod router;

pub use error::{ApiError, ErrorCode};
pub use reply::Reply;

use http::{HeaderMap, HeaderValue, Method};

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

    /// A credential header that may appear at most once: the one home of the "sent twice" rule
    /// (security.md 17.3 DP03, 17.12 U03).
    ///
    /// workerd hands the Worker repeated headers joined with `", "`, and that join cannot be
    /// undone. These values never legitimately contain a comma, so a comma counts as a repeat
    /// here and natively alike: both runtimes then give the same answer.
    pub fn credential(&self, header: Credential) -> Sent<'_> {
        let mut values = self.headers.get_all(header.name()).iter();
        match (values.next(), values.next()) {
            (None, _) => Sent::Absent,
            (Some(_), Some(_)) => Sent::Repeated,
            (Some(v), None) if header.is_joined(v.as_bytes()) => Sent::Repeated,
            (Some(v), None) => Sent::Once(v),
        }
    }

    /// The client IP from `CF-Connecting-IP` (never `X-Forwarded-For`).
    pub fn client_ip(&self) -> Option<&str> {
        self.header("cf-connecting-ip")
            .filter(|ip| !ip.is_empty() && ip.len() <= 64)
    }
}

/// The credential headers the App reads, each allowed at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization`, with the `Basic`, `Bearer` or `DPoP` scheme.
    Authorization,
    /// `DPoP`: one compact JWS.
    Dpop,
}

/// `Authorization` schemes whose credentials are a token68, which has no comma.
const TOKEN68_SCHEMES: [&[u8]; 3] = [b"basic", b"bearer", b"dpop"];

impl Credential {
    pub const fn name(self) -> &'static str {
        match self {
            Credential::Authorization => "authorization",
            Credential::Dpop => "dpop",
        }
    }

    /// Whether one value is really several joined with commas. A compact JWS never has a comma;
    /// an `Authorization` value is joined when any of its comma-separated parts uses a token68
    /// scheme (other schemes, such as `Digest`, may carry commas of their own).
    fn is_joined(self, value: &[u8]) -> bool {
        if !value.contains(&b',') {
            return false;
        }
        match self {
            Credential::Dpop => true,
            Credential::Authorization => value.split(|&b| b == b',').any(|part| {
                let part = part.trim_ascii_start();
                let scheme = part.split(|&b| b == b' ').next().unwrap_or_default();
                TOKEN68_SCHEMES
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(scheme))
            }),
        }
    }
}

/// How a header that may appear at most once was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent<'a> {
    Absent,
    Once(&'a HeaderValue),
    /// Sent more than once, or joined into one value by the runtime.
    Repeated,
}

/// The outgoing response.
pub type Response = http::Response<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, values: &[&[u8]]) -> Request {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        Request {
            method: Method::GET,
            path: "/".into(),
            query: None,
            headers,
            body: Body::Bytes(Vec::new()),
            origin: "http://127.0.0.1".into(),
        }
    }

    #[test]
    fn repeated_and_joined_credentials_are_the_same_thing() {
        use Credential::{Authorization, Dpop};
        let sent = |h: Credential, values: &[&[u8]]| match request(h.name(), values).credential(h) {
            Sent::Absent => "absent",
            Sent::Once(_) => "once",
            Sent::Repeated => "repeated",
        };
        assert_eq!(sent(Dpop, &[]), "absent");
        assert_eq!(sent(Dpop, &[b"a.b.c"]), "once");
        assert_eq!(sent(Dpop, &[b"a.b.c", b"d.e.f"]), "repeated");
        assert_eq!(sent(Dpop, &[b"a.b.c, d.e.f"]), "repeated");
        assert_eq!(sent(Dpop, &[b"a.b.c,"]), "repeated");
        assert_eq!(sent(Authorization, &[b"DPoP t", b"Bearer t"]), "repeated");
        assert_eq!(sent(Authorization, &[b"DPoP t, Bearer t"]), "repeated");
        assert_eq!(sent(Authorization, &[b"bearer a,b"]), "repeated");
        assert_eq!(sent(Authorization, &[b"Digest a=1, DPoP t"]), "repeated");
        assert_eq!(sent(Authorization, &[b"Basic dXNlcjpwYXNz, x"]), "repeated");
        // A scheme of its own with commas is one (unsupported) credential, not two.
        assert_eq!(sent(Authorization, &[b"Digest a=1, b=2"]), "once");
        assert_eq!(sent(Authorization, &[b"DPoP t\xe9"]), "once");
    }
}
