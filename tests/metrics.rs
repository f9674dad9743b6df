//! Metrics as production sees them: every answered request leaves one metrics record (route,
//! status class, storage calls), laid out as an Analytics Engine data point.

mod common;

use http::Method;
use serde_json::json;

use agent_id::metrics::data_point::{DataPoint, Labels, MAX_INDEX_BYTES};
use agent_id::metrics::RequestRecord;
use agent_id::routes::table::ENDPOINTS;
use agent_id::store::meter::Usage;
use common::*;

// --- the records ----------------------------------------------------------------------------

/// Route names as the table spells them (`unmatched` for a path or method no endpoint answers,
/// `app` for the web app), the status and its class, one record per request.
#[test]
fn each_request_is_recorded_under_its_route_and_status_class() {
    let h = Harness::new();
    h.metrics.take();
    let cases = [
        (Req::get("/health"), "health", 200, "2xx"),
        (Req::get("/v1/no-such-endpoint"), "unmatched", 404, "4xx"),
        (Req::new(Method::DELETE, "/health"), "unmatched", 405, "4xx"),
        (Req::get("/v1/agents/me"), "agents.me", 401, "4xx"),
        (
            Req::get("/v1/agents/me").bearer("not-a-session"),
            "agents.me",
            401,
            "4xx",
        ),
        (
            Req::get("/dashboard").header("accept", "text/html"),
            "app",
            200,
            "2xx",
        ),
        (
            Req::post("/v1/agents/login").json(json!({})),
            "agents.login",
            401,
            "4xx",
        ),
    ];
    for (req, route, status, class) in cases {
        let answered = h.send(req).status;
        let recs = h.metrics.take();
        assert_eq!(recs.len(), 1, "{route}: one record per request");
        let r = &recs[0];
        assert_eq!(
            (r.route, r.status, r.status_class()),
            (route, status, class)
        );
        if answered != 0 {
            assert_eq!(answered, status, "{route}: the record is the status sent");
        }
    }
}

/// An unusable configuration answers 503 on every configured endpoint: a 5xx under the route.
#[test]
fn a_configuration_failure_is_recorded_as_5xx() {
    let h = Harness::with_vars(&[("ENVIRONMENT", "production"), ("PUBLIC_BASE_URL", "")]);
    let r = h.send(Req::get("/v1/agents/me").bearer("whatever"));
    assert_eq!(r.status, 503, "{}", r.body);
    let rec = h.metrics.last().unwrap();
    assert_eq!(
        (rec.route, rec.status, rec.status_class()),
        ("agents.me", 503, "5xx")
    );
    assert_eq!(rec.usage, Usage::default(), "refused before any storage");
}

/// The storage calls of a known path are counted before the answer; work deferred past the
/// answer (`waitUntil`) is not. Rate limits are off so only the endpoint's own calls count.
#[test]
fn storage_calls_are_counted_up_to_the_answer() {
    let h = Harness::with_vars(&[("RATE_LIMIT_ENABLED", "false")]);
    let key = TestKey::random();
    let r = h.send(
        Req::post("/v1/agents/register/initiate")
            .json(json!({"name": "Metered", "public_key": key.x()})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let rec = h.metrics.last().unwrap();
    assert_eq!(rec.route, "agents.register_initiate");
    assert_eq!(
        rec.usage,
        Usage {
            d1_round_trips: 1, // is the key in use?
            d1_statements: 1,
            kv_reads: 0,
            kv_writes: 1, // the challenge
            durable_object_calls: 0,
        }
    );
    let id = r.body["challenge_id"].as_str().unwrap();
    let data = r.body["challenge_data"].as_str().unwrap();
    let r = h.send(
        Req::post(&format!("/v1/agents/register/complete/{id}"))
            .json(json!({"signature": key.sign_b64(data.as_bytes())})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rec = h.metrics.last().unwrap();
    assert_eq!(rec.route, "agents.register_complete");
    assert_eq!(rec.usage.kv_reads, 1, "the challenge is read");
    assert!(rec.usage.d1_round_trips >= 1, "the agent is written");
    // The challenge delete is deferred: it is neither counted nor run yet.
    assert!(!h.app.take_deferred().is_empty(), "deferred work is queued");
}

// --- the Analytics Engine data point ----------------------------------------------------------

fn record(route: &'static str, method: &str, status: u16, wall_ms: i64) -> RequestRecord {
    RequestRecord {
        route,
        method: method.to_owned(),
        status,
        usage: Usage {
            d1_round_trips: 1,
            d1_statements: 3,
            kv_reads: 2,
            kv_writes: 1,
            durable_object_calls: 4,
        },
        wall_ms,
    }
}

const LABELS: Labels<'static> = Labels {
    environment: "production",
    version: "1.2.3+abc",
};

/// The layout `docs/operations.md` queries: index1 = route; blob1..5 = route, method, status
/// class, environment, version; double1..7 = status, wall ms, D1 round trips, D1 statements, KV
/// reads, KV writes, Durable Object calls.
#[test]
fn a_record_becomes_the_documented_data_point() {
    let rec = record("oauth.token", "POST", 429, 17);
    assert_eq!(
        DataPoint::of(&rec, LABELS),
        DataPoint {
            index: "oauth.token",
            blobs: ["oauth.token", "POST", "4xx", "production", "1.2.3+abc"],
            doubles: [429.0, 17.0, 1.0, 3.0, 2.0, 1.0, 4.0],
        }
    );
}

/// Whatever a client sends, a point stays within Analytics Engine's limits (one index of at most
/// 96 bytes, at most 20 blobs and doubles) and its blobs take values from a fixed set.
#[test]
fn a_data_point_never_carries_client_chosen_text_or_breaks_the_limits() {
    for (sent, label) in [
        ("GET", "GET"),
        ("OPTIONS", "OPTIONS"),
        ("PROPFIND", "OTHER"),
        ("get", "OTHER"),
        (&*"X".repeat(10_000), "OTHER"),
    ] {
        let rec = record("unmatched", sent, 405, 0);
        assert_eq!(DataPoint::of(&rec, LABELS).blobs[1], label, "{sent:.20}");
    }
    let backwards = record("health", "GET", 200, -5);
    assert_eq!(DataPoint::of(&backwards, LABELS).doubles[1], 0.0);
    for e in ENDPOINTS {
        let rec = record(e.name, "GET", 200, 1);
        let p = DataPoint::of(&rec, LABELS);
        assert!(p.index.len() <= MAX_INDEX_BYTES, "{}", e.name);
        assert_eq!(p.index, e.name, "the route is the index unshortened");
        assert!(p.blobs.len() <= 20 && p.doubles.len() <= 20);
    }
}
