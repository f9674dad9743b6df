//! The request context: the services a request may use ([`Services`]) and the one request in
//! flight ([`Ctx`]). A leaf module: it knows storage, the clock and the HTTP request, never the
//! App or the routes, so everything below `routes` can take a `Ctx` without a cycle.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::cimd::fetch::{DocumentFetch, Offline};
use crate::clock::{Clock, Entropy};
use crate::config::Config;
use crate::domain::client_keys::ClientKeyCache;
use crate::domain::rate_limit::Tally;
use crate::domain::tier::TierCache;
use crate::http::router::Params;
use crate::http::Request;
use crate::mail::{self, Mailer};
use crate::metrics::{self, Metrics};
use crate::paddle::api::{PaddleApi, Unavailable};
use crate::store::audit::{Event, Stamp};
use crate::store::markers::{D1Markers, ReplayStore};
use crate::store::meter::{Meter, MeteredDb, MeteredKv};
use crate::store::{Db, Kv, StoreError};

/// A unit of deferred work. Workers is single-threaded, so it need not be `Send`.
pub type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Clock, randomness, storage, the Paddle and mail clients, metrics and work queued for after the
/// response. The App holds one set; each request gets its own copy ([`Services::for_request`])
/// whose storage is counted and whose deferred work is its own.
pub struct Services {
    pub clock: Rc<dyn Clock>,
    pub rng: Rc<dyn Entropy>,
    pub db: Rc<dyn Db>,
    pub kv: Rc<dyn Kv>,
    /// The Paddle API client (calls run only in deferred tasks and the cron job).
    pub paddle: Rc<dyn PaddleApi>,
    /// The mail provider (sends run only in deferred tasks and the cron job).
    pub mailer: Rc<dyn Mailer>,
    /// Rate-limit attempts counted but not yet written to KV: one per isolate at the edge, one
    /// per `Services` natively.
    pub rate_tally: Rc<Tally>,
    /// Where per-request records go (Analytics Engine at the edge).
    pub metrics: Rc<dyn Metrics>,
    /// Where DPoP and client-assertion `jti` markers live (D1 unless configured).
    pub replays: Rc<dyn ReplayStore>,
    /// This request's storage calls (in the App's own set: nothing counted).
    pub meter: Meter,
    /// The tiers, read once per `Services` (per isolate at the edge).
    pub tiers: Rc<TierCache>,
    /// OAuth clients' keys as last read, per `Services` (per isolate at the edge); a hint that
    /// D1 confirms in the batch that uses it.
    pub client_keys: Rc<ClientKeyCache>,
    /// The outbound GET of Client ID Metadata Documents and their JWK sets.
    pub documents: Rc<dyn DocumentFetch>,
    /// Work to do after the response is sent (`waitUntil` at the edge).
    deferred: RefCell<Vec<Task>>,
}

impl Services {
    pub fn new(clock: Rc<dyn Clock>, rng: Rc<dyn Entropy>, db: Rc<dyn Db>, kv: Rc<dyn Kv>) -> Self {
        Self {
            clock,
            rng,
            db,
            kv,
            paddle: Rc::new(Unavailable),
            mailer: Rc::new(mail::Unconfigured),
            rate_tally: Rc::new(Tally::default()),
            metrics: Rc::new(metrics::Off),
            replays: Rc::new(D1Markers),
            meter: Meter::default(),
            tiers: Rc::new(TierCache::default()),
            client_keys: Rc::new(ClientKeyCache::default()),
            documents: Rc::new(Offline),
            deferred: RefCell::new(Vec::new()),
        }
    }

    /// The services of one request: the same clock, randomness and clients, storage counted
    /// into a fresh [`Meter`], and a deferred queue of its own, so concurrent requests in one
    /// isolate never take each other's work.
    pub fn for_request(&self) -> Services {
        let meter = Meter::default();
        Services {
            clock: self.clock.clone(),
            rng: self.rng.clone(),
            db: Rc::new(MeteredDb {
                inner: self.db.clone(),
                meter: meter.clone(),
            }),
            kv: Rc::new(MeteredKv {
                inner: self.kv.clone(),
                meter: meter.clone(),
            }),
            paddle: self.paddle.clone(),
            mailer: self.mailer.clone(),
            rate_tally: self.rate_tally.clone(),
            metrics: self.metrics.clone(),
            replays: self.replays.clone(),
            meter,
            tiers: self.tiers.clone(),
            client_keys: self.client_keys.clone(),
            documents: self.documents.clone(),
            deferred: RefCell::new(Vec::new()),
        }
    }

    /// Queues work for after the response.
    pub fn defer(&self, task: impl Future<Output = ()> + 'static) {
        self.deferred.borrow_mut().push(Box::pin(task));
    }

    /// Queues already-built tasks (a request's work, kept by the App for tests).
    pub fn defer_all(&self, tasks: Vec<Task>) {
        self.deferred.borrow_mut().extend(tasks);
    }

    /// Takes the queued work (the edge hands it to `waitUntil`).
    pub fn take_deferred(&self) -> Vec<Task> {
        std::mem::take(&mut *self.deferred.borrow_mut())
    }

    /// Runs the queued work to completion, in order, including work queued by that work (tests
    /// and the cron job, which have no `waitUntil`).
    pub async fn run_deferred(&self) {
        loop {
            let tasks = self.take_deferred();
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                t.await;
            }
        }
    }
}

/// One request in flight: what handlers read.
pub struct Ctx<'a> {
    pub services: &'a Services,
    pub config: &'a Config,
    pub req: &'a Request,
    pub params: Params,
    pub request_id: &'a str,
    /// `PUBLIC_BASE_URL`, or in development the request origin.
    pub issuer: String,
    /// The time the request arrived, Unix milliseconds.
    pub now_ms: i64,
}

impl Ctx<'_> {
    pub fn now_s(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or("")
    }

    /// The client IP for rate limits and audit (`CF-Connecting-IP`).
    pub fn ip(&self) -> Option<&str> {
        self.req.client_ip()
    }

    pub fn rng(&self) -> &dyn Entropy {
        self.services.rng.as_ref()
    }

    pub fn db(&self) -> &dyn Db {
        self.services.db.as_ref()
    }

    pub fn kv(&self) -> &dyn Kv {
        self.services.kv.as_ref()
    }

    /// This request's audit stamp.
    pub fn stamp(&self) -> Stamp<'_> {
        Stamp {
            now_ms: self.now_ms,
            request_id: Some(self.request_id),
            ip: self.ip(),
        }
    }

    /// Writes `event` on its own, for events that change nothing else (logins, failures,
    /// initiations). Events that describe a change go into that change's batch.
    pub async fn audit(&self, event: &Event<'_>) -> Result<(), StoreError> {
        self.db().run(event.insert(&self.stamp())).await.map(drop)
    }

    /// Runs `task` after the response was sent (Paddle calls, KV updates after a commit). Its
    /// failures must be logged by the task itself; they never change the response.
    pub fn defer(&self, task: impl Future<Output = ()> + 'static) {
        self.services.defer(task);
    }
}
