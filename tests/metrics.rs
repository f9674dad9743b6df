//! Metrics and logs as production sees them: every answered request leaves one metrics record
//! (route, status class, storage calls), laid out as an Analytics Engine data point, and its log
//! lines keep the request id and never carry a secret.

mod common;

use std::cell::RefCell;

use http::Method;
use serde_json::{json, Value};

use agent_id::app::{App, Handled};
use agent_id::http::{Body, Request};
use agent_id::log;
use agent_id::metrics::data_point::{DataPoint, Labels, MAX_INDEX_BYTES};
use agent_id::metrics::RequestRecord;
use agent_id::routes::table::ENDPOINTS;
use agent_id::store::meter::Usage;
use common::faults::{Fault, FaultyDb};
use common::oauth::{self, Client, CHALLENGE, REDIRECT};
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

// --- log hygiene ------------------------------------------------------------------------------

/// Header values and body members that are credentials or single-use secrets.
const SECRET_HEADERS: [&str; 4] = ["authorization", "dpop", "paddle-signature", "cookie"];
const SECRET_MEMBERS: [&str; 9] = [
    "password",
    "signature",
    "client_assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "access_token",
    "session_id",
    "token",
];

/// Sends requests and remembers every secret they or their answers carried, and every
/// request id the answers named.
struct Watch<'h> {
    h: &'h Harness,
    secrets: RefCell<Vec<String>>,
    request_ids: RefCell<Vec<String>>,
}

impl<'h> Watch<'h> {
    fn new(h: &'h Harness) -> Self {
        let watch = Self {
            h,
            secrets: RefCell::new(Vec::new()),
            request_ids: RefCell::new(Vec::new()),
        };
        for configured in [
            SERVER_SEED_B64,
            SHADOW_SECRET,
            WEBHOOK_SECRET,
            "pdl_sdbx_apikey_test",
        ] {
            watch.secret(configured);
        }
        watch
    }

    fn secret(&self, s: &str) {
        // Shorter parts are scheme names, timestamps and the like, not secrets.
        if s.len() >= 16 {
            self.secrets.borrow_mut().push(s.to_owned());
        }
    }

    fn send(&self, req: Req) -> Resp {
        self.send_via(&self.h.app, req)
    }

    fn send_via(&self, app: &App, req: Req) -> Resp {
        let req = req.into_request();
        self.note_request(&req);
        let resp = match futures::executor::block_on(app.handle(req)) {
            Handled::Response(r) => Resp::from(r),
            Handled::Asset(_) => panic!("an API request was served from the assets"),
        };
        if let Some(id) = resp.headers.get("x-request-id") {
            self.request_ids
                .borrow_mut()
                .push(id.to_str().unwrap().to_owned());
        }
        self.note_members(&resp.body);
        resp
    }

    fn note_request(&self, req: &Request) {
        for name in SECRET_HEADERS {
            for v in req.headers.get_all(name) {
                let v = v.to_str().unwrap();
                self.secret(v);
                v.split([' ', ';', ',', '=']).for_each(|p| self.secret(p));
            }
        }
        let Body::Bytes(bytes) = &req.body else {
            return;
        };
        let text = String::from_utf8_lossy(bytes);
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => self.note_members(&v),
            Err(_) => {
                for (k, v) in text.split('&').filter_map(|p| p.split_once('=')) {
                    if SECRET_MEMBERS.contains(&k) {
                        self.secret(v);
                    }
                }
            }
        }
    }

    fn note_members(&self, v: &Value) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match v.as_str() {
                        Some(s) if SECRET_MEMBERS.contains(&k.as_str()) => self.secret(s),
                        _ => self.note_members(v),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.note_members(i)),
            _ => {}
        }
    }

    fn webhook(&self, body: &str, secret: &str) -> Resp {
        let sig = agent_id::paddle::signature::sign(secret, self.h.now_s(), body.as_bytes());
        self.send(
            Req::post("/v1/webhooks/paddle")
                .header("paddle-signature", &sig)
                .raw("application/json", body.as_bytes().to_vec()),
        )
    }
}

/// Every flow that carries a secret, each also refused once (wrong password, replayed proof,
/// reused code and refresh token, forged webhook signature, failing storage): the log lines
/// these requests and their deferred work write are JSON, never contain a secret the requests
/// or answers carried (nor a configured one), and each names its request id; every answer's
/// `X-Request-Id` is on exactly one request line.
#[test]
fn logs_keep_request_ids_and_never_carry_secrets() {
    let h = Harness::new();
    let w = Watch::new(&h);
    let ((), lines) = log::capture(|| {
        // An overseer signs up, fails and succeeds to log in, subscribes through Paddle.
        let password = "a-long-password-only-this-test-uses";
        let r = w.send(Req::post("/v1/overseers/register").json(
            json!({"name": "Logged Overseer", "email": "log@example.test", "password": password}),
        ));
        assert_eq!(r.status, 201, "{}", r.body);
        let overseer = Overseer {
            id: r.body["overseer"]["id"].as_str().unwrap().to_owned(),
            session: r.body["session_id"].as_str().unwrap().to_owned(),
        };
        let login = |password: &str| {
            w.send(
                Req::post("/v1/overseers/login")
                    .json(json!({"email": "log@example.test", "password": password})),
            )
        };
        assert_eq!(login("the-wrong-password-for-this-account").status, 401);
        assert_eq!(login(password).status, 200);
        let body = common::paddle::envelope(
            "evt_log_activated",
            "subscription.activated",
            0,
            common::paddle::sub(
                "sub_log",
                "active",
                PRICE_BASIC,
                Some(common::paddle::sub_link(&overseer.id, "BASIC", PRICE_BASIC)),
            ),
        );
        let forged = w.webhook(&body, "pdl_ntfset_someone_elses_secret_value");
        assert!(forged.status >= 400, "{}", forged.body);
        common::paddle::assert_processed(&w.webhook(&body, WEBHOOK_SECRET));

        // An agent registers, logs in with DPoP (and replays the proof), reads itself.
        let key = TestKey::random();
        let r = w.send(
            Req::post("/v1/agents/register/initiate")
                .json(json!({"name": "Logged Agent", "public_key": key.x()})),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        let challenge = r.body["challenge_id"].as_str().unwrap().to_owned();
        let data = r.body["challenge_data"].as_str().unwrap().to_owned();
        let r = w.send(
            Req::post(&format!("/v1/agents/register/complete/{challenge}"))
                .json(json!({"signature": key.sign_b64(data.as_bytes())})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let agent_id = r.body["agent"]["id"].as_str().unwrap().to_owned();
        let proof = h.login_proof(&key);
        let login = || w.send(Req::post("/v1/agents/login").header("dpop", &proof));
        let r = login();
        assert_eq!(r.status, 200, "{}", r.body);
        let agent = Agent {
            id: agent_id,
            session: r.body["session_id"].as_str().unwrap().to_owned(),
        };
        assert_eq!(login().status, 401, "a replayed proof");
        assert_eq!(
            w.send(Req::get("/v1/agents/me").bearer(&agent.session))
                .status,
            200
        );

        // The overseer claims the agent and registers a client; the agent consents; the client
        // redeems the code (twice), reads userinfo, refreshes (twice), introspects, revokes.
        let r = w.send(
            Req::post("/v1/agents/claim/initiate")
                .bearer(&overseer.session)
                .json(json!({"agent_id": agent.id})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let claim = r.body["challenge_id"].as_str().unwrap().to_owned();
        let r = w.send(
            Req::post(&format!("/v1/agents/claim/complete/{claim}"))
                .bearer(&agent.session)
                .json(json!({"overseer_id": overseer.id})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let client = Client::register(&h, "overseer", &overseer.session, "Logged Client");
        let r = w.send(
            Req::post("/v1/oauth/authorize")
                .bearer(&agent.session)
                .json(json!({
            "client_id": client.id, "redirect_uri": REDIRECT, "scope": "id name",
            "code_challenge": CHALLENGE, "code_challenge_method": "S256"})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let code = r.body["code"].as_str().unwrap().to_owned();
        let bound = TestKey::random();
        let r = w.send(client.exchange_request(&h, &code, Some(&bound)));
        let tokens = oauth::Tokens::issued(&r);
        let ath = agent_id::jose::b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(
            tokens.access.as_bytes(),
        ));
        let proof = bound.proof(
            &ProofSpec::new("GET", &format!("{ISSUER}/v1/oauth/userinfo"), h.now_s())
                .claim("ath", json!(ath)),
        );
        let r = w.send(
            Req::get("/v1/oauth/userinfo")
                .header("authorization", &format!("DPoP {}", tokens.access))
                .header("dpop", &proof),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let r = w.send(client.refresh_request(&h, &tokens.refresh));
        let renewed = oauth::Tokens::issued(&r);
        // Past the refresh grace window (REFRESH_GRACE_SECS), the reuse is refused.
        h.clock.advance_secs(31);
        let reuse = w.send(client.refresh_request(&h, &tokens.refresh));
        assert_eq!(reuse.status, 400, "{}", reuse.body);
        let r = w.send(client.form(&h, "/v1/oauth/introspect", &[("token", &renewed.access)]));
        assert_eq!(r.status, 200, "{}", r.body);
        let r = w.send(client.form(&h, "/v1/oauth/revoke", &[("token", &renewed.refresh)]));
        assert_eq!(r.status, 200, "{}", r.body);
        let reused = w.send(client.exchange_request(&h, &code, Some(&bound)));
        assert_eq!(reused.status, 400, "{}", reused.body);

        // Storage fails mid-login: the error line names the request, not the proof.
        let failing = h.app_over(FaultyDb::new(h.db.clone(), Fault::Matching("audit_events")));
        let r = w.send_via(
            &failing,
            Req::post("/v1/agents/login").header("dpop", &h.login_proof(&key)),
        );
        assert!(r.status >= 500, "{}", r.body);

        // The overseer cancels; Paddle is called after the answer.
        let r = w.send(Req::post("/v1/subscriptions/cancel").bearer(&overseer.session));
        assert_eq!(r.status, 200, "{}", r.body);

        for (path, session) in [
            ("/v1/agents/logout", &agent.session),
            ("/v1/overseers/logout", &overseer.session),
        ] {
            let r = w.send(Req::post(path).bearer(session));
            assert!(r.status < 300, "{path}: {}", r.body);
        }
        h.drain();
    });

    let secrets = w.secrets.borrow();
    assert!(secrets.len() > 30, "the flows carried secrets: {secrets:?}");
    assert!(lines.len() > 30, "the requests were logged: {lines:?}");
    let mut request_lines = Vec::new();
    for line in &lines {
        for s in secrets.iter() {
            assert!(!line.contains(s.as_str()), "a secret in the log: {line}");
        }
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let id = v["request_id"].as_str().unwrap_or_default();
        assert!(is_uuid(id), "a line without its request id: {line}");
        if v.get("route").is_some() && v.get("status").is_some() {
            request_lines.push(id.to_owned());
        }
    }
    for id in w.request_ids.borrow().iter() {
        let n = request_lines.iter().filter(|l| *l == id).count();
        assert_eq!(n, 1, "request {id} has {n} request lines");
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}
