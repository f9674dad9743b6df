//! Headers for the single-page app's files (api.md 1.1, 1.7.1). Hashed bundles under `/assets/`
//! are served straight from Workers Static Assets; every other path outside the API comes through
//! the Worker, which adds these headers, most importantly the document's Content-Security-Policy.
//!
//! The policy allows only this origin, plus Paddle Checkout's origins when billing is configured
//! (a Paddle.js client token is set): the script from Paddle's CDN and the checkout frame of the
//! configured environment. Nothing else may load, frame the page, or receive a form.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Paddle Checkout's origins for one Paddle environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkout {
    Sandbox,
    Production,
}

impl Checkout {
    /// The checkout origins to allow, or `None` when billing is not configured.
    pub fn for_environment(environment: &str, client_token_set: bool) -> Option<Self> {
        if !client_token_set {
            return None;
        }
        Some(if environment == "production" {
            Checkout::Production
        } else {
            Checkout::Sandbox
        })
    }

    fn frame(self) -> &'static str {
        match self {
            Checkout::Sandbox => "https://sandbox-buy.paddle.com",
            Checkout::Production => "https://buy.paddle.com",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Checkout::Sandbox => "https://sandbox-checkout-service.paddle.com",
            Checkout::Production => "https://checkout-service.paddle.com",
        }
    }
}

const PADDLE_CDN: &str = "https://cdn.paddle.com";

/// The Content-Security-Policy of the app's documents.
pub fn content_security_policy(checkout: Option<Checkout>) -> String {
    let mut script = vec!["'self'"];
    // Paddle.js injects its overlay styles at run time, so a configured checkout needs inline
    // styles; the console itself sets styles only through the CSSOM.
    let mut style = vec!["'self'"];
    let mut img = vec!["'self'", "data:"];
    let mut connect = vec!["'self'"];
    let mut frame = vec![];
    if let Some(c) = checkout {
        script.push(PADDLE_CDN);
        style.extend([PADDLE_CDN, "'unsafe-inline'"]);
        img.push(PADDLE_CDN);
        connect.push(c.service());
        frame.push(c.frame());
    }
    let frame = if frame.is_empty() {
        "'none'".to_owned()
    } else {
        frame.join(" ")
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src {}; font-src 'self'; \
         connect-src {}; frame-src {frame}; manifest-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'; object-src 'none'",
        script.join(" "),
        style.join(" "),
        img.join(" "),
        connect.join(" "),
    )
}

/// Headers to put on an app file served through the Worker.
pub fn asset_headers(request_id: &str, production: bool, checkout: Option<Checkout>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(checkout)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // index.html names the hashed bundles: revalidate it so a deploy shows at once.
        (header::CACHE_CONTROL, "no-cache"),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(self)",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin-allow-popups",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if production {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h
}

/// Paths the app owns: everything outside the API, discovery, health and the API document.
pub fn is_app_path(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    !(under("/v1") || under("/.well-known") || path == "/health" || path == "/openapi.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directives(policy: &str) -> Vec<(String, Vec<String>)> {
        policy
            .split(';')
            .map(|d| {
                let mut parts = d.split_whitespace().map(str::to_owned);
                (parts.next().unwrap(), parts.collect())
            })
            .collect()
    }

    fn sources<'a>(d: &'a [(String, Vec<String>)], name: &str) -> &'a [String] {
        &d.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn without_billing_only_self_is_allowed() {
        let d = directives(&content_security_policy(None));
        assert_eq!(sources(&d, "default-src"), ["'none'"]);
        assert_eq!(sources(&d, "script-src"), ["'self'"]);
        assert_eq!(sources(&d, "style-src"), ["'self'"]);
        assert_eq!(sources(&d, "connect-src"), ["'self'"]);
        assert_eq!(sources(&d, "frame-src"), ["'none'"]);
        assert_eq!(sources(&d, "frame-ancestors"), ["'none'"]);
        assert!(!content_security_policy(None).contains("paddle"));
        assert!(!content_security_policy(None).contains("unsafe"));
    }

    #[test]
    fn billing_adds_paddle_origins_of_its_environment_only() {
        let sandbox = Checkout::for_environment("sandbox", true);
        let d = directives(&content_security_policy(sandbox));
        assert_eq!(sources(&d, "script-src"), ["'self'", PADDLE_CDN]);
        assert_eq!(sources(&d, "frame-src"), ["https://sandbox-buy.paddle.com"]);
        assert!(!sources(&d, "script-src")
            .iter()
            .any(|s| s.contains("unsafe")));
        let live = Checkout::for_environment("production", true);
        let d = directives(&content_security_policy(live));
        assert_eq!(sources(&d, "frame-src"), ["https://buy.paddle.com"]);
        assert_eq!(
            sources(&d, "connect-src"),
            ["'self'", "https://checkout-service.paddle.com"]
        );
        assert_eq!(Checkout::for_environment("production", false), None);
    }

    #[test]
    fn app_paths_exclude_the_api() {
        for p in [
            "/",
            "/dashboard",
            "/malice/x",
            "/v1x",
            "/favicon.svg",
            "/healthz",
            "/openapi.json/x",
            "/openapi.yaml",
        ] {
            assert!(is_app_path(p), "{p}");
        }
        for p in [
            "/v1",
            "/v1/agents/me",
            "/.well-known/jwks.json",
            "/health",
            "/openapi.json",
        ] {
            assert!(!is_app_path(p), "{p}");
        }
    }
}
