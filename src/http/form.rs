//! `application/x-www-form-urlencoded` bodies of the OAuth endpoints (api.md 1.3 "form"):
//! a repeated parameter is an error (RFC 6749 §3.1) and an empty value counts as absent.

use http::StatusCode;

use super::{query, ApiError, Body, ErrorCode, Request, MAX_BODY_BYTES};

/// Parsed form parameters.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

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
        Self::from_pairs(query::pairs(text))
    }

    /// From already-decoded pairs (also used for authorize query strings).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut seen: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if seen.iter().any(|(s, _)| *s == k) {
                return Err(invalid_request("a parameter appears more than once"));
            }
            seen.push((k, v));
        }
        Ok(Self(
            seen.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        ))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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
}
