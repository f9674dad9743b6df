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

    pub fn ok(body: &impl Serialize) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}
