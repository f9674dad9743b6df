//! Successful responses: a status, a JSON object body and optional extra headers.

use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

/// A handler's successful answer, finished into a [`super::Response`] by the App.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The success envelope: handlers never write `success: true` themselves.
#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    success: bool,
    #[serde(flatten)]
    body: &'a T,
}

impl Reply {
    /// Serialises `body` (a struct that renders as a JSON object).
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        // Serialising our own structs cannot fail (string keys, no non-finite floats).
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// `200` with the Agent-ID success envelope: `{"success": true, …body}`.
    pub fn ok(body: &impl Serialize) -> Self {
        Self::success(StatusCode::OK, body)
    }

    /// `status` with the success envelope (api.md 1.5): `success` first, then `body`'s members.
    pub fn success(status: StatusCode, body: &impl Serialize) -> Self {
        Self::json(
            status,
            &Success {
                success: true,
                body,
            },
        )
    }

    /// `200` with a standard document as is: OAuth and OpenID responses (RFC 6749, 7009, 7662,
    /// 8414, 7517, OIDC userinfo) carry no envelope.
    pub fn document(body: &impl Serialize) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Body {
        message: &'static str,
    }

    #[test]
    fn the_envelope_comes_first_and_only_once() {
        let r = Reply::ok(&Body { message: "hi" });
        assert_eq!(r.body, br#"{"success":true,"message":"hi"}"#);
        let r = Reply::success(StatusCode::CREATED, &serde_json::json!({"id": "x"}));
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::CREATED,
                br#"{"success":true,"id":"x"}"#.to_vec()
            )
        );
        assert_eq!(
            Reply::document(&Body { message: "hi" }).body,
            br#"{"message":"hi"}"#
        );
    }
}
