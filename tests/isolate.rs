//! Per-isolate state: one App serves every request of an isolate, so what it builds once must
//! cost nothing on the paths that do not use it. The signing key (an Ed25519 scalar
//! multiplication) is derived only by the paths that sign; the DPoP nonce key only where nonces
//! are checked or handed out; a bad secret still fails exactly the requests that need it.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use agent_id::app::Handled;
use agent_id::http::Request;
use agent_id::jose::b64;
use agent_id::store::{Db, Outcome, Statement, StoreError};
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::json;

/// (signing key derived, DPoP nonce key derived) in the App's configuration.
fn derived(h: &Harness) -> (bool, bool) {
    let c = h.app.config.as_ref().expect("usable configuration");
    (c.signing_keys.is_derived(), c.dpop_nonce_key.is_derived())
}

#[test]
fn health_registration_session_reads_and_login_never_derive_the_signing_key() {
    let h = Harness::new();
    assert_eq!(h.send(Req::get("/health")).status, 200);
    assert_eq!(derived(&h), (false, false), "/health derives nothing");
    let key = TestKey::random();
    let agent = h.register(&key, "Lazy Agent");
    let me = h.send(Req::get("/v1/agents/me").bearer(&agent.session));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        derived(&h),
        (false, false),
        "a session read derives nothing"
    );
    let login = h.login(&key);
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(!derived(&h).0, "a DPoP login does not sign");

    // The first path that signs derives it, from the configured seed (vectors.md §1).
    let jwks = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    assert!(derived(&h).0);
    let seed: [u8; 32] = b64::decode_lenient(SERVER_SEED_B64)
        .unwrap()
        .try_into()
        .unwrap();
    let public = b64::encode(SigningKey::from_bytes(&seed).verifying_key().as_bytes());
    assert_eq!(jwks.body["keys"][0]["x"], public.as_str(), "{}", jwks.body);
}

#[test]
fn with_required_nonces_only_dpop_endpoints_derive_the_nonce_key() {
    let h = Harness::with_vars(&[("DPOP_REQUIRE_NONCE", "true")]);
    assert_eq!(h.send(Req::get("/health")).status, 200);
    let key = TestKey::random();
    let agent = h.register(&key, "Nonce Agent");
    assert_eq!(
        h.send(Req::get("/v1/agents/me").bearer(&agent.session))
            .status,
        200
    );
    assert_eq!(derived(&h), (false, false));
    // A login without a nonce is told to use one: the nonce key exists now, the signing key not.
    let r = h.login(&key);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.headers.get("dpop-nonce").is_some());
    assert_eq!(derived(&h), (false, true));
}

#[test]
fn a_bad_signing_seed_still_fails_exactly_the_requests_that_need_it() {
    let h = Harness::with_vars(&[("OAUTH_SIGNING_KEY", "c2hvcnQ")]);
    let health = h.send(Req::get("/health"));
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );
    let key = TestKey::random();
    h.register(&key, "Agent");
    assert_eq!(h.login(&key).status, 200, "login needs no signing key");
    let jwks = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(
        (jwks.status, jwks.body["code"].as_str()),
        (503, Some("configuration_error")),
        "{}",
        jwks.body
    );

    // With nonces required, every DPoP endpoint needs the (seed-derived) nonce key.
    let h = Harness::with_vars(&[
        ("OAUTH_SIGNING_KEY", "c2hvcnQ"),
        ("DPOP_REQUIRE_NONCE", "true"),
    ]);
    let key = TestKey::random();
    h.register(&key, "Agent");
    let login = h.login(&key);
    assert_eq!(
        (login.status, login.body["code"].as_str()),
        (503, Some("configuration_error")),
        "{}",
        login.body
    );
}

/// Yields once, so that futures joined together take turns.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A database that yields before every call, as D1 does: requests served together by one App
/// interleave at each storage call, as in one workerd isolate.
struct Yielding(Rc<dyn Db>);

#[async_trait::async_trait(?Send)]
impl Db for Yielding {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        YieldOnce(false).await;
        self.0.run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        YieldOnce(false).await;
        self.0.batch(stmts).await
    }
}

/// A registration's completion request, its challenge already initiated.
fn completion(h: &Harness, name: &str) -> Request {
    let key = TestKey::random();
    let r = h.send(
        Req::post("/v1/agents/register/initiate")
            .json(json!({"name": name, "public_key": key.x()})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let data = r.body["challenge_data"].as_str().unwrap();
    let path = format!(
        "/v1/agents/register/complete/{}",
        r.body["challenge_id"].as_str().unwrap()
    );
    Req::post(&path)
        .json(json!({"signature": key.sign_b64(data.as_bytes())}))
        .into_request()
}

fn status(handled: &Handled) -> u16 {
    match handled {
        Handled::Response(r) => r.status().as_u16(),
        Handled::Asset(_) => 0,
    }
}

#[test]
fn requests_served_together_by_one_app_keep_their_own_meters_and_deferred_work() {
    let h = Harness::with_db_layer(agent_id::config::Config::load(&vars(&[])), |db| {
        Rc::new(Yielding(db))
    });
    let alone = completion(&h, "Alone");
    let (handled, alone_tasks) = futures::executor::block_on(h.app.serve(alone));
    assert_eq!(status(&handled), 201);
    let alone_usage = h.metrics.last().unwrap().usage;
    assert!(alone_usage.d1_round_trips > 0 && !alone_tasks.is_empty());

    let (a, b) = (completion(&h, "First"), completion(&h, "Second"));
    h.metrics.take();
    let ((a, a_tasks), (b, b_tasks), (health, health_tasks)) =
        futures::executor::block_on(futures::future::join3(
            h.app.serve(a),
            h.app.serve(b),
            h.app.serve(Req::get("/health").into_request()),
        ));
    assert_eq!((status(&a), status(&b), status(&health)), (201, 201, 200));
    let records = h.metrics.take();
    let usage_of = |route: &str| -> Vec<_> {
        records
            .iter()
            .filter(|r| r.route == route)
            .map(|r| r.usage)
            .collect()
    };
    assert_eq!(
        usage_of("agents.register_complete"),
        [alone_usage, alone_usage],
        "each request counts only its own storage calls"
    );
    assert_eq!(usage_of("health"), [Default::default()]);
    assert_eq!(
        (a_tasks.len(), b_tasks.len(), health_tasks.len()),
        (alone_tasks.len(), alone_tasks.len(), 0),
        "each request hands back only its own deferred work"
    );
}
