//! Request body classes of api.md 1.3: `none` (ignored) and `json` (a JSON object with typed
//! field accessors that report `missing_field` / `invalid_field` by name).

use serde_json::{Map, Value};

use super::{ApiError, Body, ErrorCode, Request, MAX_BODY_BYTES};
use crate::domain::ids::canonical_uuid;
use crate::jose::ed25519::{parse_signature, Ed25519PublicKey};
use crate::jose::json::{self, JsonError};

/// Enforces the size limit for endpoints whose body is ignored.
pub fn ignore(req: &Request) -> Result<(), ApiError> {
    bytes(req).map(|_| ())
}

/// The exact received bytes of a `raw` body (the Paddle webhook): nothing is parsed, so a
/// signature can cover them; `413` over the limit.
pub fn raw(req: &Request) -> Result<&[u8], ApiError> {
    bytes(req)
}

/// The body bytes, or `413` when the edge marked them (or they are) over the limit.
fn bytes(req: &Request) -> Result<&[u8], ApiError> {
    match &req.body {
        Body::Bytes(b) if b.len() <= MAX_BODY_BYTES => Ok(b),
        _ => Err(too_large()),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "Request body exceeds 65536 bytes",
    )
}

/// Whether `content_type` is `application/json` with no charset or `charset=utf-8`.
fn is_json_media_type(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        !name.trim().eq_ignore_ascii_case("charset")
            || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

/// A parsed JSON object body.
#[derive(Debug, Default)]
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    /// Size → media type → syntax, in the order of api.md 1.5.2. An empty body is `{}`.
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        let bytes = bytes(req)?;
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        if !req.header("content-type").is_some_and(is_json_media_type) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Content-Type must be application/json (UTF-8)",
            ));
        }
        json::parse_object(bytes).map(Self).map_err(|e| {
            let msg = match e {
                JsonError::NotUtf8 => "body is not valid UTF-8".to_owned(),
                other => other.to_string(),
            };
            ApiError::new(ErrorCode::InvalidJson, format!("Invalid JSON: {msg}"))
        })
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// Whether `field` is present and not `null` (whatever its type).
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// A string field; `null` counts as absent; another JSON type is `invalid_field`.
    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid_field(field, "expected a string")),
        }
    }

    /// A required string field: absent, `null` or empty (after trimming) is `missing_field`.
    pub fn req_str(&self, field: &str) -> Result<&str, ApiError> {
        match self.opt_str(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(ApiError::missing_field(field)),
        }
    }

    /// A required UUID field, canonicalised to lowercase.
    pub fn req_uuid(&self, field: &str) -> Result<String, ApiError> {
        canonical_uuid(self.req_str(field)?)
            .ok_or_else(|| ApiError::invalid_field(field, "must be a UUID"))
    }

    /// An optional UUID field, canonicalised to lowercase.
    pub fn opt_uuid(&self, field: &str) -> Result<Option<String>, ApiError> {
        self.opt_str(field)?
            .map(|v| {
                canonical_uuid(v).ok_or_else(|| ApiError::invalid_field(field, "must be a UUID"))
            })
            .transpose()
    }

    /// An array of strings; `null` counts as absent; anything else is `invalid_field`.
    pub fn opt_str_array(&self, field: &str) -> Result<Option<Vec<&str>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().ok_or_else(|| {
                        ApiError::invalid_field(field, "expected an array of strings")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid_field(
                field,
                "expected an array of strings",
            )),
        }
    }

    /// An object of string values, in the body's order; `null` counts as absent; anything
    /// else is `invalid_field`.
    pub fn opt_str_map(&self, field: &str) -> Result<Option<Vec<(&str, &str)>>, ApiError> {
        let bad = || ApiError::invalid_field(field, "expected an object of strings");
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(members)) => members
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// An array field, its items unchecked; `null` counts as absent; anything else is
    /// `invalid_field`.
    pub fn opt_array(&self, field: &str) -> Result<Option<&[Value]>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::invalid_field(field, "expected an array")),
        }
    }

    /// Whether the body has `field` at all (`null` included): for fields that may not be sent.
    pub fn has_key(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// A boolean field; `null` counts as absent.
    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_field(field, "expected a boolean")),
        }
    }
}

/// The agent-key fields of registration and rotation (api.md 9.1).
impl JsonBody {
    /// A required Ed25519 public key (base64url, 32 bytes, a canonical point), or
    /// `invalid_public_key`.
    pub fn public_key(&self, field: &str) -> Result<Ed25519PublicKey, ApiError> {
        Ed25519PublicKey::parse(self.req_str(field)?).map_err(|_| {
            ApiError::invalid_public_key(
                "Invalid Ed25519 public key format. Expected base64url-encoded key.",
            )
        })
    }

    /// The required `signature` field: tolerant base64, exactly 64 bytes.
    pub fn signature(&self) -> Result<[u8; 64], ApiError> {
        parse_signature(self.req_str("signature")?).ok_or_else(|| {
            ApiError::invalid_field(
                "signature",
                "must be a base64url Ed25519 signature of 64 bytes",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=UTF-8"));
        assert!(is_json_media_type("application/json;charset=\"utf-8\""));
        assert!(is_json_media_type("application/json; foo=bar"));
        assert!(!is_json_media_type("application/json; charset=iso-8859-1"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/jsonx"));
        assert!(!is_json_media_type(""));
    }
}
