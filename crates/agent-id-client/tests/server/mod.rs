//! The real server, in process: the `agent-id` App over SQLite (the real migrations), memory KV
//! and a manual clock (the Worker's own test `Harness`), reached through a [`Transport`] that
//! hands each request to `App::handle`. Nothing the client sends or checks is mocked: proofs
//! are verified by the server's verifier, challenges are the server's.

use std::cell::RefCell;
use std::rc::Rc;

use std::path::Path;

use agent_id::app::{App, Handled};
use agent_id::clock::{ManualClock, OsEntropy};
use agent_id::config::Config;
use agent_id::http::{Body, Request};
use agent_id::metrics::Recording;
use agent_id::store::memory::MemoryKv;
use agent_id::store::sqlite::SqliteDb;
use agent_id_client::clock::Clock;
use agent_id_client::{Client, HttpRequest, HttpResponse, ServerUrl, Transport, TransportError};
use async_trait::async_trait;

use crate::common::{self, FakePaddle, T0};
pub use crate::common::{Harness, ISSUER};

/// One exchange as the transport saw it.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub path: String,
    pub status: u16,
    pub had_nonce: bool,
}

/// Rewrites the body of the response to a path.
pub type Rewrite = Box<dyn Fn(&str, &mut Vec<u8>)>;

/// Hands requests to the App; records what went through.
pub struct AppTransport {
    pub harness: Rc<Harness>,
    pub log: RefCell<Vec<Exchange>>,
    /// Rewrites a response before the client sees it (a hostile server or proxy).
    pub rewrite: RefCell<Option<Rewrite>>,
}

impl AppTransport {
    pub fn new(harness: Rc<Harness>) -> Rc<Self> {
        Rc::new(Self {
            harness,
            log: RefCell::default(),
            rewrite: RefCell::default(),
        })
    }

    pub fn paths(&self) -> Vec<String> {
        self.log.borrow().iter().map(|e| e.path.clone()).collect()
    }
}

#[async_trait(?Send)]
impl Transport for AppTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let had_nonce = parts
            .headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .and_then(|p| p.split('.').nth(1).map(str::to_owned))
            .and_then(|p| agent_id::jose::b64::decode_strict(&p))
            .is_some_and(|p| String::from_utf8_lossy(&p).contains("\"nonce\""));
        let mut headers = parts.headers.clone();
        headers.insert("cf-connecting-ip", "203.0.113.7".parse().unwrap());
        let req = Request {
            method: parts.method.clone(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: Body::Bytes(body),
            origin: ISSUER.into(),
        };
        let handled = self.harness.app.handle(req).await;
        self.harness.app.run_deferred().await;
        let Handled::Response(r) = handled else {
            return Err(TransportError::new("the App answered with a static asset"));
        };
        let status = r.status().as_u16();
        let mut out = http::Response::builder().status(status);
        for (k, v) in r.headers() {
            out = out.header(k, v);
        }
        let mut bytes = r.into_body();
        if let Some(rewrite) = self.rewrite.borrow().as_ref() {
            rewrite(&path, &mut bytes);
        }
        self.log.borrow_mut().push(Exchange {
            path,
            status,
            had_nonce,
        });
        Ok(out.body(bytes).unwrap())
    }
}

/// The App's manual clock, as the client's clock.
pub struct AppClock(pub Rc<Harness>);

impl Clock for AppClock {
    fn now_s(&self) -> i64 {
        self.0.now_s()
    }
}

/// The Worker's test harness, built as `Harness::with_vars` builds it but with the workspace
/// root's migrations (`Harness` finds them through this crate's manifest directory otherwise).
fn harness(vars: &[(&str, &str)]) -> Harness {
    let clock = Rc::new(ManualClock::at_secs(T0));
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let db = Rc::new(SqliteDb::in_memory(&migrations).expect("migrations apply"));
    let kv = Rc::new(MemoryKv::new(clock.clone()));
    let paddle = Rc::new(FakePaddle::default());
    let metrics = Rc::new(Recording::default());
    let app = App::new(
        Config::load(&common::vars(vars)),
        clock.clone(),
        Rc::new(OsEntropy),
        db.clone(),
        kv.clone(),
    )
    .with_paddle(paddle.clone())
    .with_metrics(metrics.clone());
    Harness {
        app,
        clock,
        db,
        kv,
        paddle,
        metrics,
    }
}

/// A server (with `vars`) and a client of it.
pub fn setup(vars: &[(&str, &str)]) -> (Rc<Harness>, Rc<AppTransport>, Client) {
    let harness = Rc::new(harness(vars));
    let transport = AppTransport::new(harness.clone());
    let client = Client::with_transport_and_clock(
        ServerUrl::parse(ISSUER).unwrap(),
        transport.clone(),
        Rc::new(AppClock(harness.clone())),
    );
    (harness, transport, client)
}

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}
