//! `application/x-www-form-urlencoded` bodies of the OAuth endpoints (api.md 1.3 "form"):
//! a repeated parameter is an error (RFC 6749 §3.1), except the [`REPEATABLE`] ones, and an
//! empty value counts as absent.
//!
//! Parsing is linear in the body and bounded in parameters: these endpoints are reached
//! before (or without) client authentication, so a body must not cost more than reading it.

use std::collections::BTreeMap;

use http::StatusCode;

use super::{query, ApiError, Body, ErrorCode, Request, MAX_BODY_BYTES};

/// Most parameters one form or authorization query may carry. The largest legitimate request
/// (authorize with PKCE, state, DPoP binding and OIDC extras) has about fifteen, a token request
/// about ten; 64 leaves room for extensions while bounding the work per request.
pub const MAX_PARAMS: usize = 64;
const _: () = assert!(MAX_PARAMS == 64, "update the too-many-parameters message");

/// The parameters that may appear more than once: `resource` (RFC 8707 §2) names each
/// resource of a request in its own parameter.
pub const REPEATABLE: [&str; 1] = ["resource"];

/// Parsed form parameters: unique names (the [`REPEATABLE`] ones keep every value in order),
/// empty values dropped.
#[derive(Debug, Default)]
pub struct Form {
    single: BTreeMap<String, String>,
    /// `(name, value)` of the [`REPEATABLE`] parameters, in request order (a `Vec`: few values,
    /// and no second map type in the Worker bundle).
    repeated: Vec<(String, String)>,
}

fn invalid_request(description: &'static str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

impl Form {
    /// Size → media type → syntax, each failure an OAuth `invalid_request`.
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        let bytes = match &req.body {
            Body::Bytes(b) if b.len() <= MAX_BODY_BYTES => b,
            _ => {
                return Err(ApiError::oauth(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "request body exceeds 65536 bytes",
                ))
            }
        };
        let form_type = req.header("content-type").is_some_and(|ct| {
            ct.split(';').next().is_some_and(|e| {
                e.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !form_type {
            let mut e = ApiError::oauth(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
            e.code = ErrorCode::UnsupportedMediaType;
            return Err(e);
        }
        let text =
            std::str::from_utf8(bytes).map_err(|_| invalid_request("request body is not UTF-8"))?;
        Self::from_pairs(query::iter(text))
    }

    /// From decoded pairs (also used for authorize query strings). Stops at the first
    /// parameter past [`MAX_PARAMS`] or the first repeated name, decoding nothing after it.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut single = BTreeMap::new();
        let mut repeated = Vec::new();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i == MAX_PARAMS {
                return Err(invalid_request("too many parameters (at most 64)"));
            }
            if REPEATABLE.contains(&k.as_str()) {
                repeated.push((k, v));
            } else if single.insert(k, v).is_some() {
                return Err(invalid_request("a parameter appears more than once"));
            }
        }
        single.retain(|_, v: &mut String| !v.is_empty());
        repeated.retain(|(_, v)| !v.is_empty());
        Ok(Self { single, repeated })
    }

    /// The value of a parameter that appears at most once (for a [`REPEATABLE`] one: its first).
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.single.get(name) {
            Some(v) => Some(v.as_str()),
            None => self.all(name).first().copied(),
        }
    }

    /// Every value of a [`REPEATABLE`] parameter, in request order (empty when absent).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.repeated
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_are_absent() {
        let f = Form::from_pairs(query::pairs("a=1&b=&c=x+y")).unwrap();
        assert_eq!(
            (f.get("a"), f.get("b"), f.get("c")),
            (Some("1"), None, Some("x y"))
        );
        let e = Form::from_pairs(query::pairs("a=1&a=2")).unwrap_err();
        assert_eq!(
            e.oauth_parts(),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        assert!(
            Form::from_pairs(query::pairs("a=&a=2")).is_err(),
            "even an empty repeat counts"
        );
    }

    #[test]
    fn resource_may_repeat_and_keeps_its_order() {
        let f = Form::from_pairs(query::pairs(
            "resource=https%3A%2F%2Fb.example&a=1&resource=https%3A%2F%2Fa.example&resource=",
        ))
        .unwrap();
        assert_eq!(
            f.all("resource"),
            ["https://b.example", "https://a.example"]
        );
        assert_eq!(f.get("resource"), Some("https://b.example"));
        assert!(f.all("a").is_empty());
        assert!(Form::from_pairs(query::pairs("a=1"))
            .unwrap()
            .all("resource")
            .is_empty());
    }

    fn numbered(n: usize) -> String {
        (0..n)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn the_parameter_count_is_capped() {
        let at_cap = Form::from_pairs(query::iter(&numbered(MAX_PARAMS))).unwrap();
        assert_eq!(at_cap.get("k63"), Some("v"));
        let e = Form::from_pairs(query::iter(&numbered(MAX_PARAMS + 1))).unwrap_err();
        assert_eq!(
            (e.oauth_parts(), e.message.as_ref()),
            (
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "too many parameters (at most 64)"
            )
        );
        // Empty segments (`&&`) are not parameters and do not count.
        let sparse = format!("{}&&&", numbered(MAX_PARAMS));
        assert!(Form::from_pairs(query::iter(&sparse)).is_ok());
    }
}
