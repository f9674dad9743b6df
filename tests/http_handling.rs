//! Routing, bodies, headers and configuration failures (api.md 1, security.md 17.1).

mod common;

use agent_id::http::Body;
use common::*;
use http::Method;
use serde_json::json;

const INITIATE: &str = "/v1/agents/register/initiate";

#[test]
fn body_classes_and_limits() {
    let h = Harness::new();
    let key = TestKey::random().x();
    let valid = json!({"name": "a", "public_key": key})
        .to_string()
        .into_bytes();
    let send = |ct: &str, bytes: Vec<u8>| h.send(Req::post(INITIATE).raw(ct, bytes));
    send("application/json", br#"{"name":"a","#.to_vec()).assert_error(400, "invalid_json"); // G01
    send("text/plain", valid.clone()).assert_error(415, "unsupported_media_type"); // G02
    send("application/json; charset=iso-8859-1", valid.clone())
        .assert_error(415, "unsupported_media_type"); // G03
    let mut big = valid.clone();
    big.resize(65_537, b' ');
    send("application/json", big).assert_error(413, "payload_too_large"); // G04
    h.send(Req::post(INITIATE).body(Body::TooLarge))
        .assert_error(413, "payload_too_large"); // G05 (the edge marks it)
    send("application/json", b"[]".to_vec()).assert_error(400, "invalid_json"); // G06
    send("application/json", br#""name""#.to_vec()).assert_error(400, "invalid_json"); // G07
    let dup = format!(r#"{{"name":"a","name":"b","public_key":"{key}"}}"#);
    let r = send("application/json", dup.into_bytes()); // G08
    r.assert_error(400, "invalid_json");
    assert!(r.body["error"].as_str().unwrap().contains("duplicate"));
    send("application/json", vec![0xFF, 0xFE, 0x7B, 0x7D]).assert_error(400, "invalid_json"); // G10
                                                                                              // An empty body is {} whatever the content type: the missing field is named.
    let r = h.send(Req::post(INITIATE).raw("text/plain", vec![]));
    r.assert_error(400, "missing_field");
    assert!(r.body["error"].as_str().unwrap().contains("name"));
    assert_eq!(send("application/json; charset=UTF-8", valid).status, 202);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM agents"), 0);
}

#[test]
fn routing_404_405_and_removed_endpoints() {
    let h = Harness::new();
    h.send(Req::get("/v1/agents"))
        .assert_error(404, "not_found"); // G11
    let r = h.send(Req::new(Method::DELETE, "/health")); // G12
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
    for path in [
        "/v1/test-utils/reset-db",
        "/v1/agents/respond-claim",
        "/v1/agents/register",
        "/v1/agents/complete-login",
        "/v1/nothing",
        "/.well-known/nothing",
    ] {
        h.send(Req::post(path)).assert_error(404, "not_found"); // G13–G15
    }
    h.send(Req::get("/v1/agents/me/"))
        .assert_error(404, "not_found"); // G16
    let r = h.send(Req::get("/v1/agents/login"));
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn every_response_carries_the_security_headers() {
    let h = Harness::new();
    for req in [
        Req::get("/health"),
        Req::get("/v1"),
        Req::get("/v1/nothing"),
        Req::post(INITIATE).header("x-request-id", "client-123"),
    ] {
        let r = h.send(req);
        let id = r.header("x-request-id").unwrap();
        assert_eq!(
            agent_id::domain::ids::canonical_uuid(id).as_deref(),
            Some(id)
        );
        assert_ne!(id, "client-123");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(
            r.header("strict-transport-security").is_none(),
            "HSTS only in production"
        );
    }
    let a = h.send(Req::get("/health"));
    let b = h.send(Req::get("/health"));
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[test]
fn service_info_health_and_root() {
    let h = Harness::new();
    let r = h.send(Req::get("/v1"));
    assert_eq!(r.body["name"], "agent-id");
    assert_eq!(r.body["issuer"], ISSUER);
    assert_eq!(
        r.body["endpoints"]["discovery"],
        "/.well-known/oauth-authorization-server"
    );
    let r = h.send(Req::get("/health"));
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["environment"], "development");
    assert_eq!(r.body["version"], agent_id::config::default_build_version());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // GET / is the SPA for browsers and service info otherwise.
    assert_eq!(
        h.send(Req::get("/").header("accept", "text/html,*/*"))
            .status,
        0
    );
    assert_eq!(
        h.send(Req::get("/").header("accept", "application/json"))
            .body["name"],
        "agent-id"
    );
    // Without PUBLIC_BASE_URL in development, the issuer is the request origin.
    let h = Harness::with_config(agent_id::config::Config::load(&{
        let mut v = vars(&[]);
        v.remove("PUBLIC_BASE_URL");
        v
    }));
    assert_eq!(
        h.send(Req::get("/v1")).body["issuer"],
        "http://127.0.0.1:8787"
    );
}

#[test]
fn production_without_issuer_is_misconfigured_everywhere() {
    let h = Harness::with_config(agent_id::config::Config::load(&{
        let mut v = vars(&[("ENVIRONMENT", "production")]);
        v.remove("PUBLIC_BASE_URL");
        v
    }));
    let r = h.send(Req::get("/health"));
    assert_eq!(r.status, 503);
    assert_eq!(r.body["status"], "misconfigured");
    assert_eq!(r.body["code"], "configuration_error");
    let r =
        h.send(Req::post(INITIATE).json(json!({"name": "a", "public_key": TestKey::random().x()})));
    r.assert_error(503, "configuration_error");
    assert!(r.body["request_id"].is_string());
    assert!(
        !r.raw.windows(15).any(|w| w == b"PUBLIC_BASE_URL"),
        "the response never names internals"
    );
}

#[test]
fn production_sends_hsts_and_enforces_rate_limits() {
    let h = Harness::with_vars(&[
        ("ENVIRONMENT", "production"),
        ("BCRYPT_COST", "10"),
        ("RATE_LIMIT_ENABLED", "false"),
        ("RATE_LIMIT_CONFIG", r#"{"agent_register":"1/600"}"#),
    ]);
    let r = h.send(Req::get("/health"));
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(
        h.send(Req::post(INITIATE).json(json!({"name": "a", "public_key": TestKey::random().x()})))
            .status,
        202
    );
    h.send(Req::post(INITIATE).json(json!({"name": "a", "public_key": TestKey::random().x()})))
        .assert_error(429, "rate_limited");
}

#[test]
fn rate_limits_can_be_disabled_outside_production() {
    let h = Harness::with_vars(&[("RATE_LIMIT_ENABLED", "false")]);
    for _ in 0..25 {
        assert_eq!(
            h.send(
                Req::post(INITIATE).json(json!({"name": "a", "public_key": TestKey::random().x()}))
            )
            .status,
            202
        );
    }
    assert!(h.kv.is_empty(agent_id::store::Namespace::RateLimits));
}

#[test]
fn cors_only_for_public_endpoints_and_listed_origins() {
    let h = Harness::with_vars(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]);
    let r = h.send(Req::new(Method::OPTIONS, "/health"));
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    let r = h.send(Req::get("/v1/agents/me").header("origin", "https://evil.example"));
    assert!(r.header("access-control-allow-origin").is_none());
    let r = h.send(Req::get("/v1/agents/me").header("origin", "https://app.example.com"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert!(r.header("access-control-allow-credentials").is_none());
}

#[test]
fn purge_removes_only_expired_rows() {
    let h = Harness::new();
    let key = TestKey::random();
    h.register(&key, "A");
    assert_eq!(h.login(&key).status, 200);
    let s = h.login(&key).body["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.send(Req::post("/v1/agents/logout").bearer(&s)).status,
        200
    );
    let run = |now_ms: i64| {
        futures::executor::block_on(agent_id::scheduled::run(
            &h.app.services,
            h.app.config.as_ref(),
            now_ms,
        ))
        .unwrap()
    };
    run(T0 * 1000);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM jti_markers"), 2);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM session_revocations"), 1);
    let report = run((T0 + 3600) * 1000);
    assert!(
        report.contains(&("jti_markers.expires_at", 2)),
        "{report:?}"
    );
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM jti_markers"), 0);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM session_revocations"), 0);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM agents"), 1);
    assert!(
        h.count("SELECT COUNT(*) AS n FROM audit_events") > 0,
        "audit kept within retention"
    );
    run((T0 + 401 * 86_400) * 1000);
    assert_eq!(h.count("SELECT COUNT(*) AS n FROM audit_events"), 0);
}

/// Every GET outside the API is the web app's, served from static assets with the document
/// headers; the API's own paths never fall through to it (api.md 1.1).
#[test]
fn app_paths_are_served_from_assets_with_a_strict_csp() {
    let h = Harness::new();
    for path in [
        "/dashboard",
        "/malice/6f1c2b9e-0000-4000-8000-000000000000",
        "/favicon.svg",
    ] {
        let r = h.send(Req::get(path));
        assert_eq!(r.status, 0, "{path} should be an app asset");
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self' https://cdn.paddle.com;"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-src https://sandbox-buy.paddle.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert!(r.header("x-request-id").is_some());
    }
    assert_eq!(h.send(Req::new(Method::HEAD, "/clients")).status, 0);
    // GET / is the app only for browsers.
    assert_eq!(
        h.send(Req::get("/").header("accept", "text/html")).status,
        0
    );
    assert_eq!(h.send(Req::get("/")).body["name"], "agent-id");
    // The API, discovery and health never become the app.
    h.send(Req::get("/v1/dashboard"))
        .assert_error(404, "not_found");
    h.send(Req::get("/.well-known/nothing"))
        .assert_error(404, "not_found");
    assert_eq!(h.send(Req::get("/health")).body["status"], "ok");
    // Only reads: a POST to an app path is no API call.
    h.send(Req::post("/dashboard").json(json!({})))
        .assert_error(404, "not_found");
}

#[test]
fn without_billing_the_app_csp_allows_only_its_own_origin() {
    let mut v = vars(&[]);
    v.remove("PADDLE_CLIENT_TOKEN");
    let h = Harness::with_config(agent_id::config::Config::load(&v));
    let r = h.send(Req::get("/subscription"));
    assert_eq!(r.status, 0);
    let csp = r.header("content-security-policy").unwrap();
    assert!(!csp.contains("paddle"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(csp.contains("frame-src 'none'"), "{csp}");
}

/// The three requests workerd used to alter before the App saw them; `e2e/test_http.py` sends
/// the same ones to the real wasm and expects these same answers.
#[test]
fn edge_sensitive_requests_answer_alike_natively_and_in_workerd() {
    let h = Harness::new();
    let key = TestKey::random();
    let a = h.register(&key, "Edge Agent");
    let userinfo = || Req::get("/v1/oauth/userinfo");

    // U03: two `Authorization` headers, and the single value workerd makes of them.
    let two = userinfo()
        .header("authorization", "DPoP some.access.token")
        .header("authorization", "Bearer some.access.token");
    let oauth_error = |r: &Resp, status: u16, error: &str| {
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (status, Some(error)),
            "{:?}",
            r.body
        );
    };
    oauth_error(&h.send(two), 400, "invalid_request");
    let joined = userinfo().header(
        "authorization",
        "DPoP some.access.token, Bearer some.access.token",
    );
    oauth_error(&h.send(joined), 400, "invalid_request");

    // Session auth: a joined pair of Bearer sessions is two credentials, not one odd token.
    let two = Req::get("/v1/agents/me")
        .bearer(&a.session)
        .bearer(&a.session);
    h.send(two).assert_error(401, "authentication_required");
    let joined = Req::get("/v1/agents/me").bearer(&format!("{}, Bearer {}", a.session, a.session));
    h.send(joined).assert_error(401, "authentication_required");

    // DP03: two proofs, sent apart or joined, are refused the same way.
    let (p1, p2) = (h.login_proof(&key), h.login_proof(&key));
    let two = Req::post("/v1/agents/login")
        .header("dpop", &p1)
        .header("dpop", &p2);
    h.send(two).assert_error(401, "invalid_dpop_proof");
    let joined = Req::post("/v1/agents/login").header("dpop", &format!("{p1}, {p2}"));
    h.send(joined).assert_error(401, "invalid_dpop_proof");

    // An unknown method is not GET: 405 with the allowed methods.
    let r = h.send(Req::new(
        Method::from_bytes(b"PROPFIND").unwrap(),
        "/v1/agents/me",
    ));
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));

    // A DPoP header with obs-text (byte 0xE9) is a bad proof, not a missing one.
    let r = h.send(Req::post("/v1/agents/login").header_bytes("dpop", b"abc\xe9def"));
    r.assert_error(401, "invalid_dpop_proof");
}
