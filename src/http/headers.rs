//! Headers every response carries (api.md 1.7): request id, security headers, caching, CORS,
//! and the rendering of [`ApiError`] bodies and authentication challenges.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use serde::Serialize;

use super::error::{ApiError, Challenge, ErrorCode};
use super::router::{CorsPolicy, ErrorFormat, Policy, Pragma};
use super::Response;

const JSON: &str = "application/json; charset=utf-8";
const DPOP_ALGS: &str = "algs=\"EdDSA Ed25519\"";

/// What decides the response headers besides the handler's own.
pub struct Finish<'a> {
    pub request_id: &'a str,
    pub production: bool,
    /// The matched endpoint's policy; `None` when no endpoint matched.
    pub endpoint: Option<Policy>,
    /// The request's `Origin`, when it is listed in `CORS_ALLOWED_ORIGINS`.
    pub allowed_origin: Option<&'a str>,
}

/// Builds a JSON response with every standard header.
pub fn finish(
    status: StatusCode,
    body: Vec<u8>,
    extra: Vec<(HeaderName, HeaderValue)>,
    f: &Finish<'_>,
) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    // The handler's own headers first: `common` only fills in defaults they did not set.
    for (k, v) in extra {
        h.append(k, v);
    }
    // A handler may name a more specific JSON media type (the Web Bot Auth key directory).
    if !h.contains_key(header::CONTENT_TYPE) {
        set(h, header::CONTENT_TYPE, JSON);
    }
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    common(h, f);
    res
}

/// `204` answer to a CORS preflight.
pub fn preflight(f: &Finish<'_>) -> Response {
    let mut res = Response::new(Vec::new());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    common(h, f);
    let cors = f.endpoint.map(|p| p.cors);
    if cors == Some(CorsPolicy::Public)
        || (f.allowed_origin.is_some() && cors != Some(CorsPolicy::Never))
    {
        set(
            h,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        );
        set(
            h,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, DPoP, Content-Type",
        );
        set(h, header::ACCESS_CONTROL_MAX_AGE, "600");
    }
    res
}

fn common(h: &mut HeaderMap, f: &Finish<'_>) {
    if let Ok(v) = HeaderValue::from_str(f.request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    if f.production {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if f.endpoint.is_some_and(|p| p.pragma == Pragma::NoCache) {
        set(h, header::PRAGMA, "no-cache");
    }
    match (f.endpoint.map(|p| p.cors), f.allowed_origin) {
        (Some(CorsPolicy::Public), _) => {
            set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
            set(
                h,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                "DPoP-Nonce, WWW-Authenticate, X-Request-Id, Retry-After",
            );
        }
        (Some(CorsPolicy::Session), Some(origin)) => {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.append(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        _ => {}
    }
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    h.insert(name, HeaderValue::from_static(value));
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// RFC 6749 §5.2 form; `success: false` only at the agent-facing `POST /v1/oauth/authorize`.
#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    success: Option<bool>,
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// Renders an error in the format of its endpoint (api.md 1.5), with its challenge, retry and
/// nonce headers.
pub fn render_error(e: &ApiError, f: &Finish<'_>) -> Response {
    let internal = matches!(
        e.code,
        ErrorCode::InternalError | ErrorCode::ConfigurationError
    );
    let format = f.endpoint.map_or(ErrorFormat::Api, |p| p.errors);
    let (status, bytes) = match format {
        ErrorFormat::Api => (
            e.status(),
            serde_json::to_vec(&ErrorBody {
                success: false,
                error: &e.message,
                code: e.code.as_str(),
                request_id: internal.then_some(f.request_id),
            }),
        ),
        ErrorFormat::OAuth | ErrorFormat::OAuthWithSuccess => {
            let (status, error) = e.oauth_parts();
            (
                status,
                serde_json::to_vec(&OAuthErrorBody {
                    success: (format == ErrorFormat::OAuthWithSuccess).then_some(false),
                    error,
                    error_description: &e.message,
                    request_id: (internal && e.extra().oauth.is_none()).then_some(f.request_id),
                }),
            )
        }
    };
    let mut extra = Vec::new();
    let challenges = match (&e.extra().www_authenticate, e.challenge) {
        (Some(custom), _) => vec![custom.clone()],
        (None, Some(c)) => www_authenticate(c, e.code),
        (None, None) => Vec::new(),
    };
    for v in challenges {
        if let Ok(v) = HeaderValue::from_str(&v) {
            extra.push((header::WWW_AUTHENTICATE, v));
        }
    }
    if let Some(secs) = e.extra().retry_after {
        extra.push((header::RETRY_AFTER, HeaderValue::from(secs)));
    }
    if let Some(allow) = &e.extra().allow {
        if let Ok(v) = HeaderValue::from_str(allow) {
            extra.push((header::ALLOW, v));
        }
    }
    if let Some(nonce) = &e.extra().dpop_nonce {
        if let Ok(v) = HeaderValue::from_str(nonce) {
            extra.push((HeaderName::from_static("dpop-nonce"), v));
        }
    }
    finish(status, bytes.unwrap_or_default(), extra, f)
}

/// `WWW-Authenticate` values for a 401 (api.md 1.7.3).
fn www_authenticate(c: Challenge, code: ErrorCode) -> Vec<String> {
    let bearer = match code {
        ErrorCode::InvalidSession => {
            "Bearer realm=\"agent-id\", error=\"invalid_token\"".to_owned()
        }
        _ => "Bearer realm=\"agent-id\"".to_owned(),
    };
    let dpop = match code {
        ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => {
            format!(
                "DPoP realm=\"agent-id\", {DPOP_ALGS}, error=\"{}\"",
                code.as_str()
            )
        }
        _ => format!("DPoP realm=\"agent-id\", {DPOP_ALGS}"),
    };
    match c {
        Challenge::Bearer => vec![bearer],
        Challenge::Dpop => vec![dpop],
        Challenge::BearerAndDpop => vec![dpop, bearer],
    }
}
