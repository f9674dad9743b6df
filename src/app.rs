//! The App: configuration, clock, randomness and storage, and the request pipeline
//! (route → config → handler → headers → log) shared by workerd and native tests.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use http::{header, HeaderValue, Method};

use crate::clock::{Clock, Entropy};
use crate::config::{Config, ConfigError};
use crate::domain::ids::uuid_v4;
use crate::domain::rate_limit::Tally;
use crate::http::document;
use crate::http::headers::{self, Finish};
use crate::http::router::{Endpoint, Params, Routed, Table};
use crate::http::{ApiError, ErrorCode, Request, Response};
use crate::log;
use crate::paddle::api::{PaddleApi, Unavailable};
use crate::routes;
use crate::store::{Db, Kv};

/// Everything a request may touch. Built per request in workerd (bindings are per request),
/// once per test natively.
pub struct App {
    pub config: Result<Config, ConfigError>,
    pub clock: Rc<dyn Clock>,
    pub rng: Rc<dyn Entropy>,
    pub db: Rc<dyn Db>,
    pub kv: Rc<dyn Kv>,
    /// The Paddle API client (calls run only in deferred tasks and the cron job).
    pub paddle: Rc<dyn PaddleApi>,
    /// Rate-limit attempts counted but not yet written to KV: one per isolate at the edge
    /// ([`App::with_rate_tally`]), one per `App` natively.
    pub rate_tally: Rc<Tally>,
    /// Work to do after the response is sent (`waitUntil` at the edge).
    deferred: RefCell<Vec<Task>>,
    table: Table,
}

/// A unit of deferred work. Workers is single-threaded, so it need not be `Send`.
pub type Task = Pin<Box<dyn Future<Output = ()>>>;

/// What the edge should send.
#[derive(Debug)]
pub enum Handled {
    Response(Response),
    /// Serve the request from the app's static assets (SPA fallback to `index.html`) with these
    /// headers added (CSP and security headers, [`crate::http::document`]).
    Asset(http::HeaderMap),
}

impl Handled {
    /// The response, for callers that never expect the SPA.
    pub fn into_response(self) -> Option<Response> {
        match self {
            Handled::Response(r) => Some(r),
            Handled::Asset(_) => None,
        }
    }
}

/// One request in flight: what handlers read.
pub struct Ctx<'a> {
    pub app: &'a App,
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
        self.app.rng.as_ref()
    }

    /// Runs `task` after the response was sent (Paddle calls, KV updates after a commit). Its
    /// failures must be logged by the task itself; they never change the response.
    pub fn defer(&self, task: impl Future<Output = ()> + 'static) {
        self.app.defer(task);
    }
}

impl App {
    pub fn new(
        config: Result<Config, ConfigError>,
        clock: Rc<dyn Clock>,
        rng: Rc<dyn Entropy>,
        db: Rc<dyn Db>,
        kv: Rc<dyn Kv>,
    ) -> Self {
        Self {
            config,
            clock,
            rng,
            db,
            kv,
            paddle: Rc::new(Unavailable),
            rate_tally: Rc::new(Tally::default()),
            deferred: RefCell::new(Vec::new()),
            table: Table::new(),
        }
    }

    /// Uses `paddle` for outgoing Paddle API calls.
    pub fn with_paddle(mut self, paddle: Rc<dyn PaddleApi>) -> Self {
        self.paddle = paddle;
        self
    }

    /// Shares `tally` (the isolate's) for rate-limit counting.
    pub fn with_rate_tally(mut self, tally: Rc<Tally>) -> Self {
        self.rate_tally = tally;
        self
    }

    /// Queues work for after the response.
    pub fn defer(&self, task: impl Future<Output = ()> + 'static) {
        self.deferred.borrow_mut().push(Box::pin(task));
    }

    /// Takes the queued work (the edge hands it to `waitUntil`).
    pub fn take_deferred(&self) -> Vec<Task> {
        std::mem::take(&mut *self.deferred.borrow_mut())
    }

    /// Runs the queued work to completion, in order (tests; the cron job).
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

    /// Answers one request. Never panics on request data; every failure is a response.
    pub async fn handle(&self, req: Request) -> Handled {
        let started = self.clock.now_ms();
        let request_id = uuid_v4(self.rng.as_ref())
            .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned());
        let production = self
            .config
            .as_ref()
            .map(|c| c.environment == crate::config::Environment::Production)
            .unwrap_or(false);
        if let Err(e) = &self.config {
            log::error(&request_id, &e.to_string());
        }
        let routed = self.table.route(&req.method, &req.path);
        if let Some(headers) = self.app_file(&req, &routed, &request_id, production) {
            return Handled::Asset(headers);
        }
        let endpoint = match &routed {
            Routed::Found(e, _) | Routed::Preflight(e) => Some(*e),
            _ => None,
        };
        let allowed_origin = self.allowed_origin(&req);
        let finish = Finish {
            request_id: &request_id,
            production,
            endpoint,
            allowed_origin: allowed_origin.as_deref(),
        };

        let result = match routed {
            Routed::NotFound => Err(ApiError::not_found()),
            Routed::MethodNotAllowed { allow } => {
                let mut e = ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed");
                e.extra_mut().allow = Some(allow);
                Err(e)
            }
            Routed::Preflight(_) => return Handled::Response(headers::preflight(&finish)),
            Routed::Found(Endpoint::Health, _) => Ok(routes::service::health(&self.config)),
            Routed::Found(endpoint, params) => match &self.config {
                Err(e) => Err(ApiError::configuration(e)),
                Ok(config) => {
                    let ctx = Ctx {
                        app: self,
                        config,
                        req: &req,
                        params,
                        request_id: &request_id,
                        issuer: config.issuer_for(&req.origin),
                        now_ms: started,
                    };
                    routes::dispatch(&ctx, endpoint)
                        .await
                        .map(|reply| self.with_nonce(reply, endpoint, config, started))
                        .map_err(|e| self.error_with_nonce(e, endpoint, config, started))
                }
            },
        };

        let response = match result {
            Ok(reply) => headers::finish(reply.status, reply.body, reply.headers, &finish),
            Err(mut e) => {
                if e.challenge.is_none() && e.status() == http::StatusCode::UNAUTHORIZED {
                    e.challenge = endpoint.and_then(Endpoint::challenge);
                }
                if let Some(detail) = &e.extra().log_detail {
                    log::error(&request_id, detail);
                }
                headers::render_error(&e, &finish)
            }
        };
        log::request(&log::RequestLine {
            request_id: &request_id,
            method: req.method.as_str(),
            route: endpoint.map_or("unmatched", Endpoint::name),
            status: response.status().as_u16(),
            duration_ms: self.clock.now_ms() - started,
            client_request_id: req
                .header("x-request-id")
                .filter(|v| is_loggable_request_id(v)),
        });
        Handled::Response(response)
    }

    /// `GET`/`HEAD` outside the API is the web app's (api.md 1.1); `GET /` only when HTML is
    /// accepted, otherwise it is the service-info JSON.
    fn app_file(
        &self,
        req: &Request,
        routed: &Routed,
        request_id: &str,
        production: bool,
    ) -> Option<http::HeaderMap> {
        if !matches!(req.method, Method::GET | Method::HEAD) || !document::is_app_path(&req.path) {
            return None;
        }
        if matches!(routed, Routed::Found(Endpoint::Root, _)) && !accepts_html(req) {
            return None;
        }
        let checkout = self.config.as_ref().ok().and_then(|c| {
            document::Checkout::for_environment(
                &c.paddle.environment,
                c.paddle.client_token.is_ok(),
            )
        });
        log::request(&log::RequestLine {
            request_id,
            method: req.method.as_str(),
            route: "app",
            status: 200,
            duration_ms: 0,
            client_request_id: None,
        });
        Some(document::asset_headers(request_id, production, checkout))
    }

    fn allowed_origin(&self, req: &Request) -> Option<String> {
        let origin = req.header("origin")?;
        let config = self.config.as_ref().ok()?;
        config
            .cors_allowed_origins
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .cloned()
    }

    /// With `DPOP_REQUIRE_NONCE=true`, every response of a DPoP endpoint carries a fresh nonce.
    fn with_nonce(
        &self,
        mut reply: crate::http::Reply,
        endpoint: Endpoint,
        config: &Config,
        now_ms: i64,
    ) -> crate::http::Reply {
        if let Some(nonce) = fresh_nonce(endpoint, config, now_ms) {
            reply
                .headers
                .push((header::HeaderName::from_static("dpop-nonce"), nonce));
        }
        reply
    }

    fn error_with_nonce(
        &self,
        mut e: ApiError,
        endpoint: Endpoint,
        config: &Config,
        now_ms: i64,
    ) -> ApiError {
        if e.extra().dpop_nonce.is_none() {
            if let Some(nonce) = fresh_nonce(endpoint, config, now_ms) {
                e.extra_mut().dpop_nonce = nonce.to_str().ok().map(str::to_owned);
            }
        }
        e
    }
}

fn fresh_nonce(endpoint: Endpoint, config: &Config, now_ms: i64) -> Option<HeaderValue> {
    if !(config.dpop_require_nonce && endpoint.accepts_dpop()) {
        return None;
    }
    let key = config.dpop_nonce_key.as_ref().ok()?;
    HeaderValue::from_str(&crate::auth::dpop::nonce::issue(
        key,
        now_ms.div_euclid(1000),
    ))
    .ok()
}

/// `GET /` serves the SPA unless the client clearly wants JSON (no `text/html` in `Accept`).
fn accepts_html(req: &Request) -> bool {
    req.header("accept")
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// An incoming `X-Request-Id` is logged (never echoed) when short and plain.
fn is_loggable_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
