//! The endpoint table (`src/routes/table.rs`) against what the App does: for every entry and
//! every path it answers, a request without credentials gets the challenge its `auth` promises
//! (and an unauthenticated endpoint never asks for credentials), a `DPoP-Nonce` exactly when it
//! accepts proofs, its CORS policy, its error format and its `Pragma`. The expectations are
//! the contract's (api.md 1.5, 1.7), written out here, so a wrong or missing fact fails.

mod common;

use agent_id::http::router::{Auth, CorsPolicy, Dpop, ErrorFormat, Pragma};
use agent_id::jose::b64;
use agent_id::routes::table::{Endpoint, ENDPOINTS};
use common::{form, Harness, Req, Resp};
use http::Method;
use serde_json::json;

const ID: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
const FORM: &str = "application/x-www-form-urlencoded";
const ORIGIN: &str = "https://app.example.com";

const BEARER: &str = "Bearer realm=\"agent-id\"";
const DPOP: &str = "DPoP realm=\"agent-id\", algs=\"EdDSA Ed25519\"";
const RESOURCE: &str = "DPoP algs=\"EdDSA Ed25519 ES256\"";

/// Every `(endpoint, method, concrete path)`: ids filled with a well-formed UUID.
fn requests() -> Vec<(&'static Endpoint, &'static Method, String)> {
    ENDPOINTS
        .iter()
        .flat_map(|e| e.at.iter().map(move |(m, p)| (e, m, concrete(p))))
        .collect()
}

fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{owner_type}" => "overseer",
            s if s.starts_with('{') => ID,
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The request of someone holding no credential of the kind `auth` names: for client
/// authentication and Paddle's signature, a well-formed request whose proof is missing or wrong.
fn anonymous(e: &Endpoint, method: &Method, path: &str) -> Req {
    let req = Req::new(method.clone(), path);
    match e.auth {
        Auth::Client => req.raw(
            FORM,
            form(&[("grant_type", "client_credentials"), ("token", "x")]),
        ),
        Auth::WebhookSignature => req
            .header("paddle-signature", &format!("ts=1;h1={}", "0".repeat(64)))
            .json(json!({})),
        Auth::None | Auth::Bearer | Auth::Dpop | Auth::BearerOrDpop | Auth::AccessToken => {
            if *method == Method::GET {
                req
            } else {
                // Well-formed where a body is checked before the credentials (a signature
                // over a rotation challenge).
                req.json(json!({"signature": b64::encode(&[0; 64])}))
            }
        }
    }
}

fn challenges(r: &Resp) -> Vec<&str> {
    r.headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[test]
fn every_endpoint_challenges_a_request_without_credentials_as_its_auth_says() {
    let h = Harness::new();
    for (e, method, path) in requests() {
        let r = h.send(anonymous(e, method, &path));
        let at = format!("{method} {path} ({}): {} {}", e.name, r.status, r.body);
        let expected: Option<&[&str]> = match e.auth {
            Auth::None => None,
            Auth::Bearer => Some(&[BEARER]),
            Auth::Dpop => Some(&[DPOP]),
            Auth::BearerOrDpop => Some(&[DPOP, BEARER]),
            Auth::AccessToken => Some(&[RESOURCE]),
            // RFC 6749 §5.2: challenged only after a try with the `Authorization` header.
            Auth::Client | Auth::WebhookSignature => Some(&[]),
        };
        match expected {
            Some(expected) => {
                assert_eq!(r.status, 401, "{at}");
                assert_eq!(challenges(&r), expected, "{at}");
            }
            None => {
                assert_eq!(challenges(&r), Vec::<&str>::new(), "{at}");
                assert!(
                    !matches!(r.code(), "authentication_required" | "invalid_session"),
                    "{at}: asks for credentials but its auth is None"
                );
            }
        }
        if e.auth == Auth::Client {
            let tried = h.send(anonymous(e, method, &path).header("authorization", "Basic eDp5"));
            assert_eq!(tried.status, 401, "{at}");
            assert_eq!(challenges(&tried), ["Basic realm=\"agent-id\""], "{at}");
        }
    }
}

#[test]
fn every_endpoint_sends_nonces_exactly_when_it_accepts_dpop() {
    let h = Harness::with_vars(&[("DPOP_REQUIRE_NONCE", "true")]);
    for (e, method, path) in requests() {
        let r = h.send(anonymous(e, method, &path));
        let at = format!("{method} {path} ({}): {}", e.name, r.status);
        match e.dpop {
            Dpop::Accepted => assert!(r.header("dpop-nonce").is_some(), "{at}"),
            Dpop::NotAccepted => assert_eq!(r.header("dpop-nonce"), None, "{at}"),
        }
    }
}

#[test]
fn every_endpoint_answers_browsers_of_other_origins_as_its_cors_policy_says() {
    let h = Harness::with_vars(&[("CORS_ALLOWED_ORIGINS", ORIGIN)]);
    for (e, method, path) in requests() {
        for origin in [ORIGIN, "https://elsewhere.example"] {
            let preflight = h.send(Req::new(Method::OPTIONS, &path).header("origin", origin));
            let actual = h.send(anonymous(e, method, &path).header("origin", origin));
            let at = format!("{method} {path} ({}) from {origin}", e.name);
            assert_eq!(preflight.status, 204, "{at}");
            let expected = match e.cors {
                CorsPolicy::Public => Some("*"),
                CorsPolicy::Session => (origin == ORIGIN).then_some(ORIGIN),
                CorsPolicy::Never => None,
            };
            for r in [&preflight, &actual] {
                assert_eq!(r.header("access-control-allow-origin"), expected, "{at}");
            }
            assert_eq!(
                preflight.header("access-control-allow-methods").is_some(),
                expected.is_some(),
                "{at}"
            );
        }
    }
}

#[test]
fn every_endpoint_renders_errors_and_pragma_as_declared() {
    let h = Harness::new();
    for (e, method, path) in requests() {
        let r = h.send(anonymous(e, method, &path));
        let at = format!("{method} {path} ({}): {} {}", e.name, r.status, r.body);
        match e.pragma {
            Pragma::NoCache => assert_eq!(r.header("pragma"), Some("no-cache"), "{at}"),
            Pragma::Omitted => assert_eq!(r.header("pragma"), None, "{at}"),
        }
        if r.status < 400 {
            continue;
        }
        let b = &r.body;
        match e.errors {
            ErrorFormat::Api => {
                assert_eq!(b["success"], json!(false), "{at}");
                assert!(
                    b["code"].is_string() && b.get("error_description").is_none(),
                    "{at}"
                );
            }
            ErrorFormat::OAuth => {
                assert!(
                    b.get("success").is_none() && b.get("code").is_none(),
                    "{at}"
                );
                assert!(b["error_description"].is_string(), "{at}");
            }
            ErrorFormat::OAuthWithSuccess => {
                assert_eq!(b["success"], json!(false), "{at}");
                assert!(
                    b.get("code").is_none() && b["error_description"].is_string(),
                    "{at}"
                );
            }
        }
    }
}

/// Every answered request leaves one metrics record with its route, status and storage calls.
#[test]
fn every_request_is_recorded_with_its_storage_calls() {
    let h = Harness::new();
    h.metrics.take();
    let r = h.send(Req::get("/health"));
    assert_eq!(r.status, 200);
    let recs = h.metrics.take();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].route, "health");
    assert_eq!(recs[0].status_class(), "2xx");
    let r = h.send(Req::get("/v1/agents/me"));
    assert_eq!(r.status, 401);
    let rec = h.metrics.last().unwrap();
    assert_eq!((rec.route, rec.status), ("agents.me", 401));
    assert_eq!(rec.usage.d1_round_trips, 0, "no credential, no lookup");
}
