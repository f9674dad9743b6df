//! The OpenAPI document (`openapi/openapi.json`) against the endpoint table: the same operations
//! in both directions, and each operation's security and `401` as the entry's `auth` says; and
//! `GET /openapi.json` against the committed file, which it reads from the static files.

mod common;

use std::collections::BTreeSet;
use std::rc::Rc;

use serde_json::Value;

use agent_id::http::router::{Auth, Dpop};
use agent_id::routes::table::{operations, ENDPOINTS};
use agent_id::static_files::MemoryFiles;
use common::{Harness, Req};

const COMMITTED: &str = include_str!("../openapi/openapi.json");
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(COMMITTED).expect("openapi/openapi.json is JSON")
}

/// `(METHOD, path template)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for (key, _) in item.as_object().expect("path item") {
            if METHODS.contains(&key.as_str()) {
                ops.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `(METHOD, path template)` of every route: matchit's `{name}` is OpenAPI's syntax already.
fn routed() -> BTreeSet<(String, String)> {
    operations()
        .map(|(m, p)| (m.as_str().to_owned(), p.to_owned()))
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let doc = document();
    let documented = documented(&doc);
    let routed = routed();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from openapi/openapi.json: {undocumented:?}; \
         documented operations the router does not answer: {unrouted:?}"
    );
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
}

/// `value`, or what its `$ref` points to (followed until it is not a reference).
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(r) = value["$ref"].as_str() {
        value = doc
            .pointer(r.strip_prefix('#').expect("local $ref"))
            .unwrap_or_else(|| panic!("unresolved {r}"));
    }
    value
}

/// The credential a security scheme of the document names.
fn credential(scheme: &str) -> &'static str {
    match scheme {
        "agentSession" | "overseerSession" | "sessionCookie" => "session",
        "agentDpop" => "dpop",
        "dpopAccessToken" => "access_token",
        "privateKeyJwt" => "client",
        "paddleSignature" => "webhook_signature",
        other => panic!("security scheme {other} has no credential here"),
    }
}

#[test]
fn every_operation_documents_the_security_and_401_of_its_entry() {
    let doc = document();
    for e in ENDPOINTS {
        for (method, path) in e.at {
            let at = format!("{method} {path} ({})", e.name);
            let op = &doc["paths"][*path][method.as_str().to_lowercase()];
            let documented: BTreeSet<&str> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: security"))
                .iter()
                .flat_map(|requirement| requirement.as_object().unwrap().keys())
                .map(|scheme| credential(scheme))
                .collect();
            // The credentials and the `WWW-Authenticate` header its 401 documents.
            let (credentials, challenge): (&[&str], _) = match e.auth {
                Auth::None => (&[], None),
                Auth::Bearer => (&["session"], Some("WWW-Authenticate-Bearer")),
                Auth::Dpop => (&["dpop"], Some("WWW-Authenticate-DPoP")),
                Auth::BearerOrDpop => (&["session", "dpop"], Some("WWW-Authenticate-Dual")),
                Auth::AccessToken => (&["access_token"], Some("WWW-Authenticate-Userinfo")),
                Auth::Client => (&["client"], Some("WWW-Authenticate-Client")),
                Auth::WebhookSignature => (&["webhook_signature"], None),
            };
            assert_eq!(
                documented,
                credentials.iter().copied().collect(),
                "{at}: security"
            );
            let unauthorized = op["responses"].get("401").map(|r| resolve(&doc, r));
            if e.auth != Auth::None {
                assert!(unauthorized.is_some(), "{at}: 401");
            }
            let header = unauthorized
                .and_then(|r| r["headers"].get("WWW-Authenticate"))
                .and_then(|h| h["$ref"].as_str())
                .map(|r| r.trim_start_matches("#/components/headers/"));
            assert_eq!(header, challenge, "{at}: WWW-Authenticate of the 401");
        }
    }
}

/// An endpoint that accepts DPoP proofs sends a fresh `DPoP-Nonce` on its answers when nonces
/// are required, and the document says so on its success responses; no other endpoint does.
#[test]
fn the_success_responses_of_dpop_endpoints_document_the_nonce() {
    let doc = document();
    for e in ENDPOINTS {
        for (method, path) in e.at {
            let at = format!("{method} {path} ({})", e.name);
            let op = &doc["paths"][*path][method.as_str().to_lowercase()];
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses.iter().filter(|(s, _)| !s.starts_with(['4', '5'])) {
                let nonce = resolve(&doc, response)["headers"]
                    .get("DPoP-Nonce")
                    .is_some();
                assert_eq!(nonce, e.dpop == Dpop::Accepted, "{at} {status}: DPoP-Nonce");
            }
        }
    }
}

#[test]
fn every_path_parameter_is_declared_and_every_operation_is_described() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(in_path, declared, "{method} {path}: path parameters");
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["summary"].is_string(), "{method} {path}: summary");
            assert!(op["tags"][0].is_string(), "{method} {path}: tag");
            assert!(op["security"].is_array(), "{method} {path}: security");
            let responses = op["responses"].as_object().expect("responses");
            for status in ["405", "500", "503"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    fn walk(doc: &Value, v: &Value, missing: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let target = r.strip_prefix('#').and_then(|pointer| doc.pointer(pointer));
                    if target.is_none() {
                        missing.push(r.clone());
                    }
                }
                map.values().for_each(|x| walk(doc, x, missing));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(doc, x, missing)),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&doc, &doc, &mut missing);
    assert!(missing.is_empty(), "unresolved $ref: {missing:?}");
}

#[test]
fn get_openapi_json_serves_the_committed_document() {
    let h = Harness::new();
    let r = h.send(Req::get("/openapi.json"));
    assert_eq!(r.status, 200);
    // The document the build shipped among the static files, byte for byte.
    assert_eq!(r.raw, COMMITTED.as_bytes());
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("x-request-id").is_some());

    // A browser asking for HTML still gets the document, never the web app.
    let r = h.send(Req::get("/openapi.json").header("accept", "text/html"));
    assert_eq!(r.status, 200);
    assert_eq!(r.raw, COMMITTED.as_bytes());

    let r = h.send(Req::post("/openapi.json"));
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
}

#[test]
fn get_openapi_json_without_the_shipped_document_is_an_error_never_the_app() {
    // A build that did not ship the document, and one whose asset store answers the unknown path
    // with the single-page app's index.html (not_found_handling = "single-page-application").
    let missing = MemoryFiles::default();
    let spa = MemoryFiles::default().with("/openapi.json", "text/html", "<!doctype html>");
    for files in [missing, spa] {
        let mut h = Harness::new();
        h.app = h.app.with_static_files(Rc::new(files));
        let r = h.send(Req::get("/openapi.json"));
        r.assert_error(500, "internal_error");
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}
