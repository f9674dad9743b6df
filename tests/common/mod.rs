//! The test harness: the real App over SQLite (real migrations), memory KV and a manual clock,
//! driven through its public HTTP surface. Agents sign with real Ed25519 keys.

#![allow(dead_code)]

pub mod faults;
pub mod mail;
pub mod oauth;
pub mod paddle;
pub mod web;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use ed25519_dalek::{Signer, SigningKey};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{json, Value};

use agent_id::app::{App, Handled};
use agent_id::clock::{ManualClock, OsEntropy};
use agent_id::config::Config;
use agent_id::http::{Body, Request};
use agent_id::jose::b64;
use agent_id::jose::jws::sign_ed25519;
use agent_id::metrics::Recording;
use agent_id::paddle::api::{
    PaddleApi, PaddleApiError, PortalSession, ScheduledChange, SubscriptionLinks,
};
use agent_id::static_files::MemoryFiles;
use agent_id::store::memory::MemoryKv;
use agent_id::store::sqlite::SqliteDb;
use agent_id::store::{Db, Outcome, Statement, Value as SqlValue};

pub const T0: i64 = 1_767_225_600;
pub const ISSUER: &str = "https://id.example.com";
/// The server signing seed of vectors.md §1 (bytes 00..1f).
pub const SERVER_SEED_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// An ES256 token key (`OAUTH_ES256_SIGNING_KEY`), generated with Python's `cryptography`.
/// Not in [`vars`]: like a production deployment without it, the default harness issues no
/// ES256 tokens and publishes the v1 JWKS unchanged.
pub const ES256_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"yAQCb-C4VNspnVCnY2LZtvVMb-EN40t9eoaoAui0E5w","y":"_G__jOMEHl9jGrSIZ_sBm2IIB4kUW_7LVv2TWL4jnZE","d":"RsDH7eH1jgljin_8bMrYwdLBjEzPgmLqxQ2UNcI4R-w"}"#;
/// A second one, for `OAUTH_ES256_SIGNING_KEY_PREVIOUS`.
pub const ES256_JWK_PREVIOUS: &str = r#"{"kty":"EC","crv":"P-256","x":"_O7s9kstfKgX4l0fm2WtvMGYGWDK88_xC-TD3ub5V60","y":"CajrenixldKLhTGmfKPz12sIMzAPBtn2FjT1L3WozaI","d":"m2X7odftGCafeqAynM9LORxXBaxEdjffSzxa_ZEMu-k"}"#;
/// KA's seed (RFC 8037), vectors.md §1.
pub const KA_SEED_B64: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";

/// Paddle test settings: the webhook secret of vectors.md §5.12 and its BASIC price id.
pub const WEBHOOK_SECRET: &str = "pdl_ntfset_01test_secret_for_vectors_only";
pub const SHADOW_SECRET: &str = "test-shadow-secret-for-native-tests-only-0123";
pub const PRICE_BASIC: &str = "pri_01basic000000000000000000";
pub const PRICE_PRO: &str = "pri_01pro00000000000000000000";
pub const PRICE_PREMIUM: &str = "pri_01premium0000000000000000";
pub const PRICE_SHADOW: &str = "pri_01shadow00000000000000000";

/// The Worker's `migrations/`: this file is also compiled into the tests of other workspace
/// members (`crates/agent-id-client`), whose manifest directory is two levels below the root.
pub fn migrations_dir() -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("migrations"),
        manifest.join("../../migrations"),
    ]
    .into_iter()
    .find(|dir| dir.join("0001_initial.sql").is_file())
    .expect("the workspace root's migrations/ directory")
}

pub struct Harness {
    pub app: App,
    pub clock: Rc<ManualClock>,
    pub db: Rc<SqliteDb>,
    pub kv: Rc<MemoryKv>,
    pub paddle: Rc<FakePaddle>,
    /// The fake Resend API the App's real Resend mailer sends to.
    pub mail: Rc<mail::FakeResend>,
    /// One record per answered request: route, status, storage round trips.
    pub metrics: Rc<Recording>,
    /// The web Client ID Metadata Documents are fetched from.
    pub web: Rc<web::FakeWeb>,
}

/// One request the service made to the (fake) Paddle API.
#[derive(Clone, Debug, PartialEq)]
pub enum PaddleCall {
    Cancel(String),
    CreateCustomer {
        email: String,
        custom_data: Value,
    },
    /// A customer-portal session for `customer_id` with deep links for `subscription_ids`.
    PortalSession {
        customer_id: String,
        subscription_ids: Vec<String>,
    },
}

/// A stand-in for the Paddle HTTP API: records every call, answers like Paddle, and can be told
/// to fail (an outage). No cryptography is involved.
#[derive(Default)]
pub struct FakePaddle {
    pub calls: RefCell<Vec<PaddleCall>>,
    pub failing: Cell<bool>,
    /// `effective_at` reported for cancellations (Unix ms).
    pub cancel_effective_at_ms: Cell<Option<i64>>,
    /// How portal-session calls fail, when set (`failing` makes them fail as unreachable).
    pub portal_failure: RefCell<Option<PaddleApiError>>,
}

impl FakePaddle {
    pub fn calls(&self) -> Vec<PaddleCall> {
        self.calls.borrow().clone()
    }

    pub fn cancels(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                PaddleCall::Cancel(id) => Some(id),
                _ => None,
            })
            .collect()
    }
}

#[async_trait::async_trait(?Send)]
impl PaddleApi for FakePaddle {
    async fn cancel_at_period_end(
        &self,
        subscription_id: &str,
    ) -> Result<Option<ScheduledChange>, PaddleApiError> {
        self.calls
            .borrow_mut()
            .push(PaddleCall::Cancel(subscription_id.to_owned()));
        if self.failing.get() {
            return Err(PaddleApiError::Status(503));
        }
        Ok(Some(ScheduledChange {
            action: "cancel".into(),
            effective_at_ms: self.cancel_effective_at_ms.get(),
        }))
    }

    async fn create_customer(
        &self,
        email: &str,
        _name: &str,
        custom_data: Value,
    ) -> Result<String, PaddleApiError> {
        self.calls.borrow_mut().push(PaddleCall::CreateCustomer {
            email: email.to_owned(),
            custom_data,
        });
        if self.failing.get() {
            return Err(PaddleApiError::Transport("connection refused".into()));
        }
        Ok(format!("ctm_fake{:04}", self.calls.borrow().len()))
    }

    /// Answers like Paddle: links on Paddle's portal host naming the customer, one set of deep
    /// links per subscription asked for.
    async fn create_portal_session(
        &self,
        customer_id: &str,
        subscription_ids: &[String],
    ) -> Result<PortalSession, PaddleApiError> {
        self.calls.borrow_mut().push(PaddleCall::PortalSession {
            customer_id: customer_id.to_owned(),
            subscription_ids: subscription_ids.to_vec(),
        });
        if self.failing.get() {
            return Err(PaddleApiError::Transport("connection refused".into()));
        }
        if let Some(e) = self.portal_failure.borrow().clone() {
            return Err(e);
        }
        let base = format!("https://customer-portal.paddle.com/cpl_{customer_id}");
        Ok(PortalSession {
            overview: format!("{base}?action=overview&token=pga_fake"),
            subscriptions: subscription_ids
                .iter()
                .map(|id| SubscriptionLinks {
                    id: id.clone(),
                    cancel_subscription: format!("{base}?action=cancel&subscription_id={id}"),
                    update_subscription_payment_method: format!(
                        "{base}?action=update&subscription_id={id}"
                    ),
                })
                .collect(),
        })
    }
}

pub fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut v: HashMap<String, String> = [
        ("PUBLIC_BASE_URL", ISSUER),
        ("OAUTH_SIGNING_KEY", SERVER_SEED_B64),
        ("BCRYPT_COST", "4"),
        ("SHADOW_SECRET", SHADOW_SECRET),
        ("PADDLE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("PADDLE_API_KEY", "pdl_sdbx_apikey_test"),
        ("PADDLE_CLIENT_TOKEN", "test_client_token"),
        ("PADDLE_PRICE_ID_BASIC", PRICE_BASIC),
        ("PADDLE_PRICE_ID_PRO", PRICE_PRO),
        ("PADDLE_PRICE_ID_PREMIUM", PRICE_PREMIUM),
        ("PADDLE_PRICE_ID_SHADOW", PRICE_SHADOW),
        ("MAIL_PROVIDER", "resend"),
        ("MAIL_API_KEY", mail::MAIL_API_KEY),
        ("MAIL_FROM", mail::MAIL_FROM),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, val) in extra {
        v.insert((*k).to_owned(), (*val).to_owned());
    }
    v
}

/// The files the build ships beside the Worker (Workers Static Assets): the OpenAPI document,
/// as committed (the build also drops its indentation; `frontend/plugins` tests that step).
pub fn static_files() -> MemoryFiles {
    MemoryFiles::default().with(
        "/openapi.json",
        "application/json",
        include_str!("../../openapi/openapi.json"),
    )
}

impl Harness {
    pub fn new() -> Self {
        Self::with_vars(&[])
    }

    pub fn with_vars(extra: &[(&str, &str)]) -> Self {
        Self::with_config(Config::load(&vars(extra)))
    }

    pub fn with_config(config: Result<Config, agent_id::config::ConfigError>) -> Self {
        Self::with_db_layer(config, |db| db)
    }

    /// Like [`Harness::with_config`], with the App's database wrapped by `layer` (e.g. to hold
    /// batches back and interleave concurrent requests); `Harness::sql` still reads the SQLite
    /// database directly.
    pub fn with_db_layer(
        config: Result<Config, agent_id::config::ConfigError>,
        layer: impl FnOnce(Rc<dyn Db>) -> Rc<dyn Db>,
    ) -> Self {
        let clock = Rc::new(ManualClock::at_secs(T0));
        let migrations = migrations_dir();
        let db = Rc::new(SqliteDb::in_memory(&migrations).expect("migrations apply"));
        let kv = Rc::new(MemoryKv::new(clock.clone()));
        let paddle = Rc::new(FakePaddle::default());
        let metrics = Rc::new(Recording::default());
        let fake_resend = Rc::new(mail::FakeResend::default());
        let mailer = config
            .as_ref()
            .ok()
            .map(|c| agent_id::mail::mailer_for(&c.mail, fake_resend.clone()));
        let app = App::new(
            config,
            clock.clone(),
            Rc::new(OsEntropy),
            layer(db.clone()),
            kv.clone(),
        )
        .with_paddle(paddle.clone())
        .with_metrics(metrics.clone())
        .with_static_files(Rc::new(static_files()));
        let web = Rc::new(web::FakeWeb::default());
        let app = app.with_documents(web.clone());
        let app = match mailer {
            Some(m) => app.with_mailer(m),
            None => app,
        };
        Self {
            app,
            clock,
            db,
            kv,
            paddle,
            mail: fake_resend,
            metrics,
            web,
        }
    }

    /// Runs the work queued for after the responses (as `waitUntil` would).
    pub fn drain(&self) {
        futures::executor::block_on(self.app.run_deferred());
    }

    /// Delivers `body` as Paddle would: signed now with the configured webhook secret.
    pub fn webhook(&self, body: &str) -> Resp {
        let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, self.now_s(), body.as_bytes());
        self.send(
            Req::post("/v1/webhooks/paddle")
                .header("paddle-signature", &sig)
                .raw("application/json", body.as_bytes().to_vec()),
        )
    }

    pub fn send(&self, req: Req) -> Resp {
        match futures::executor::block_on(self.app.handle(req.into_request())) {
            Handled::Response(r) => Resp::from(r),
            Handled::Asset(headers) => Resp {
                status: 0,
                headers,
                body: Value::String("<spa>".into()),
                raw: Vec::new(),
            },
        }
    }

    pub fn clock_ms(&self) -> i64 {
        use agent_id::clock::Clock;
        self.clock.now_ms()
    }

    pub fn now_s(&self) -> i64 {
        use agent_id::clock::Clock;
        self.clock.now_s()
    }

    /// Runs SQL directly (assertions about stored state only).
    pub fn sql(&self, sql: &'static str, params: Vec<SqlValue>) -> Outcome {
        futures::executor::block_on(self.db.run(Statement::new(sql, params))).expect("sql")
    }

    pub fn count(&self, table_sql: &'static str) -> i64 {
        self.sql(table_sql, vec![]).rows[0]["n"].as_i64().unwrap()
    }

    /// Registers an agent with `key` and returns it with its first session.
    pub fn register(&self, key: &TestKey, name: &str) -> Agent {
        let r = self.send(
            Req::post("/v1/agents/register/initiate")
                .json(json!({"name": name, "public_key": key.x()})),
        );
        assert_eq!(r.status, 202, "{:?}", r.body);
        let data = r.body["challenge_data"].as_str().unwrap().to_owned();
        let id = r.body["challenge_id"].as_str().unwrap().to_owned();
        let r = self.send(
            Req::post(&format!("/v1/agents/register/complete/{id}"))
                .json(json!({"signature": key.sign_b64(data.as_bytes())})),
        );
        assert_eq!(r.status, 201, "{:?}", r.body);
        Agent {
            id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
            session: r.body["session_id"].as_str().unwrap().to_owned(),
        }
    }

    /// A valid login proof by `key` at the current time.
    pub fn login_proof(&self, key: &TestKey) -> String {
        key.proof(&ProofSpec::new(
            "POST",
            &format!("{ISSUER}/v1/agents/login"),
            self.now_s(),
        ))
    }

    pub fn login(&self, key: &TestKey) -> Resp {
        self.send(Req::post("/v1/agents/login").header("dpop", &self.login_proof(key)))
    }
}

impl Harness {
    /// Signs up an overseer and returns its id and session.
    pub fn overseer(&self, email: &str) -> Overseer {
        let r =
            self.send(Req::post("/v1/overseers/register").json(
                json!({"name": "Demo Overseer", "email": email, "password": "correct horse"}),
            ));
        assert_eq!(r.status, 201, "{}", r.body);
        Overseer {
            id: r.body["overseer"]["id"].as_str().unwrap().to_owned(),
            session: r.body["session_id"].as_str().unwrap().to_owned(),
        }
    }
}

impl Harness {
    /// Puts an overseer on an active paid tier the way production does: Paddle posts a signed
    /// `subscription.activated` webhook whose `custom_data` carries the server's link signature.
    pub fn subscribe(&self, overseer_id: &str, tier: &str) {
        let price = match tier {
            "BASIC" => PRICE_BASIC,
            "PRO" => PRICE_PRO,
            "PREMIUM" => PRICE_PREMIUM,
            other => panic!("not a purchasable tier: {other}"),
        };
        paddle::subscribe(
            self,
            overseer_id,
            &format!("sub_{}", &overseer_id[..8]),
            tier,
            price,
        );
    }

    /// The overseer claims the agent through the public API (initiate, agent's consent).
    pub fn claim(&self, o: &Overseer, a: &Agent) {
        let r = self.send(
            Req::post("/v1/agents/claim/initiate")
                .bearer(&o.session)
                .json(json!({"agent_id": a.id})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let path = format!(
            "/v1/agents/claim/complete/{}",
            r.body["challenge_id"].as_str().unwrap()
        );
        let done = self.send(
            Req::post(&path)
                .bearer(&a.session)
                .json(json!({"overseer_id": o.id})),
        );
        assert_eq!(done.status, 200, "{}", done.body);
    }

    /// An overseer on `tier` that actively oversees a new agent.
    pub fn overseer_with_agent(&self, tier: &str) -> (Overseer, Agent) {
        let o = self.overseer("o@example.test");
        self.subscribe(&o.id, tier);
        let a = self.register(&TestKey::random(), "A");
        self.claim(&o, &a);
        (o, a)
    }

    /// Registers an OAuth client owned by overseer `o`, keyed by `key`; returns its id.
    pub fn register_client(
        &self,
        o: &Overseer,
        key: &TestKey,
        name: &str,
        redirect_uris: &[&str],
        scope: &str,
    ) -> String {
        let r = self.send(
            Req::post("/v1/clients/register/overseer")
                .bearer(&o.session)
                .json(json!({"name": name, "redirect_uris": redirect_uris,
                             "public_key": key.x(), "scope": scope})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["client"]["id"].as_str().unwrap().to_owned()
    }

    /// A DPoP proof by `key` for `POST <path>` now.
    pub fn post_proof(&self, key: &TestKey, path: &str) -> String {
        key.proof(&ProofSpec::new(
            "POST",
            &format!("{ISSUER}{path}"),
            self.now_s(),
        ))
    }
}

pub struct Overseer {
    pub id: String,
    pub session: String,
}

/// Writes an active oversight directly. Only for states the API cannot create (an overseer
/// above its tier's agent limit); everything else claims through `Harness::claim`.
pub fn oversee(h: &Harness, overseer_id: &str, agent_id: &str) {
    let now = h.clock_ms();
    h.sql(
        "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, updated_at) \
         VALUES (lower(hex(randomblob(16))), ?1, ?2, 1, ?3, ?3, ?3) \
         ON CONFLICT(overseer_id, agent_id) DO UPDATE SET active = 1, deactivated_reason = NULL, \
           deactivated_at = NULL, activated_at = excluded.activated_at, updated_at = excluded.updated_at",
        vec![overseer_id.into(), agent_id.into(), now.into()],
    );
}

pub struct Agent {
    pub id: String,
    pub session: String,
}

/// An Ed25519 key held by a test agent.
pub struct TestKey(pub SigningKey);

impl TestKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    pub fn from_b64_seed(seed: &str) -> Self {
        let b = b64::decode_strict(seed).unwrap();
        Self::from_seed(b.try_into().unwrap())
    }

    pub fn random() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        Self::from_seed(seed)
    }

    pub fn x(&self) -> String {
        b64::encode(self.0.verifying_key().as_bytes())
    }

    pub fn sign_b64(&self, msg: &[u8]) -> String {
        b64::encode(&self.0.sign(msg).to_bytes())
    }

    /// RFC 7638 thumbprint of this key's JWK.
    pub fn proof_thumbprint(&self) -> String {
        agent_id::jose::ed25519::Ed25519PublicKey::from_bytes(self.0.verifying_key().as_bytes())
            .unwrap()
            .thumbprint()
    }

    pub fn proof(&self, spec: &ProofSpec) -> String {
        let mut header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": self.x()}});
        let mut payload =
            json!({"jti": spec.jti, "htm": spec.htm, "htu": spec.htu, "iat": spec.iat});
        for (k, v) in &spec.header {
            set_or_remove(&mut header, k, v);
        }
        for (k, v) in &spec.payload {
            set_or_remove(&mut payload, k, v);
        }
        sign_ed25519(&header.to_string(), &payload.to_string(), &self.0)
    }
}

fn set_or_remove(obj: &mut Value, key: &str, v: &Value) {
    let map = obj.as_object_mut().unwrap();
    if v.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_owned(), v.clone());
    }
}

/// What a proof claims; `header`/`payload` entries override (null removes).
pub struct ProofSpec {
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    pub jti: String,
    pub header: Vec<(String, Value)>,
    pub payload: Vec<(String, Value)>,
}

impl ProofSpec {
    pub fn new(htm: &str, htu: &str, iat: i64) -> Self {
        let mut r = [0u8; 16];
        getrandom::fill(&mut r).unwrap();
        Self {
            htm: htm.into(),
            htu: htu.into(),
            iat,
            jti: b64::encode(&r),
            header: vec![],
            payload: vec![],
        }
    }

    pub fn header(mut self, k: &str, v: Value) -> Self {
        self.header.push((k.into(), v));
        self
    }

    pub fn claim(mut self, k: &str, v: Value) -> Self {
        self.payload.push((k.into(), v));
        self
    }
}

/// A request under construction.
pub struct Req {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
}

impl Req {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        let mut headers = HeaderMap::new();
        headers.insert("cf-connecting-ip", HeaderValue::from_static("203.0.113.7"));
        Self {
            method,
            path,
            query,
            headers,
            body: Body::Bytes(Vec::new()),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    /// Adds a header whose value is raw bytes (obs-text such as `0xE9` included).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.remove(name);
        self
    }

    pub fn bearer(self, session: &str) -> Self {
        self.header("authorization", &format!("Bearer {session}"))
    }

    pub fn json(self, v: Value) -> Self {
        self.raw("application/json", v.to_string().into_bytes())
    }

    pub fn raw(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.headers
            .insert("content-type", HeaderValue::from_str(content_type).unwrap());
        self.body = Body::Bytes(bytes);
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub fn into_request(self) -> Request {
        Request {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body,
            origin: "http://127.0.0.1:8787".into(),
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl From<agent_id::http::Response> for Resp {
    fn from(r: agent_id::http::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let raw = r.into_body();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        // Every JSON object the App sends is checked for repeated members (a struct and an
        // envelope both writing `success`, say), which a lenient parse would silently merge.
        if let Err(agent_id::jose::json::JsonError::DuplicateKey(key)) =
            agent_id::jose::json::parse_object(&raw)
        {
            panic!(
                "response repeats the member `{key}`: {}",
                String::from_utf8_lossy(&raw)
            );
        }
        Self {
            status,
            headers,
            body,
            raw,
        }
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts an error response of the non-OAuth format.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["success"], json!(false));
        assert!(self.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

/// An `application/x-www-form-urlencoded` body: `%`, `&`, `+` and `=` percent-encoded, spaces as `+`.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace('&', "%26")
                    .replace('+', "%2B")
                    .replace('=', "%3D")
                    .replace(' ', "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}
