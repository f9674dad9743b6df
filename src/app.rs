//! The App: configuration, clock, randomness and storage, and the request pipeline
//! (route → config → handler → headers → log) shared by workerd and native tests.

use std::rc::Rc;

use http::{header, HeaderValue, Method};

use crate::clock::{Clock, Entropy};
use crate::config::{Config, ConfigError};
use crate::ctx::{Ctx, Services, Task};
use crate::domain::ids::uuid_v4;
use crate::domain::rate_limit::Tally;
use crate::http::document;
use crate::http::headers::{self, Finish};
use crate::http::router::{Routed, Table};
use crate::http::{ApiError, ErrorCode, Request, Response};
use crate::log;
use crate::metrics::{Metrics, RequestRecord};
use crate::paddle::api::PaddleApi;
use crate::routes::table::{Endpoint, Handler, ENDPOINTS};
use crate::store::{Db, Kv};

/// The Worker's application: its configuration (or why it is unusable), the services requests
/// use, and the endpoint table. Built once per isolate in workerd (`crate::isolate`), once per
/// test natively; everything that belongs to one request comes from
/// [`Services::for_request`].
pub struct App {
    pub config: Result<Config, ConfigError>,
    pub services: Services,
    table: Table<Handler>,
}

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
            services: Services::new(clock, rng, db, kv),
            table: Table::new(ENDPOINTS),
        }
    }

    /// Uses `paddle` for outgoing Paddle API calls.
    pub fn with_paddle(mut self, paddle: Rc<dyn PaddleApi>) -> Self {
        self.services.paddle = paddle;
        self
    }

    /// Uses `documents` to fetch Client ID Metadata Documents (workerd's `fetch` at the edge).
    pub fn with_documents(mut self, documents: Rc<dyn crate::cimd::fetch::DocumentFetch>) -> Self {
        self.services.documents = documents;
        self
    }

    /// Uses `mailer` to deliver outgoing e-mail.
    pub fn with_mailer(mut self, mailer: Rc<dyn crate::mail::Mailer>) -> Self {
        self.services.mailer = mailer;
        self
    }

    /// Shares `tally` (the isolate's) for rate-limit counting.
    pub fn with_rate_tally(mut self, tally: Rc<Tally>) -> Self {
        self.services.rate_tally = tally;
        self
    }

    /// Takes the work queued for after the response (the edge hands it to `waitUntil`).
    pub fn take_deferred(&self) -> Vec<Task> {
        self.services.take_deferred()
    }

    /// Runs the queued work to completion (tests).
    pub async fn run_deferred(&self) {
        self.services.run_deferred().await;
    }

    /// Uses `metrics` for the per-request records.
    pub fn with_metrics(mut self, metrics: Rc<dyn Metrics>) -> Self {
        self.services.metrics = metrics;
        self
    }

    /// Answers one request, keeping its deferred work for [`App::take_deferred`] /
    /// [`App::run_deferred`] (tests; the edge uses [`App::serve`]).
    pub async fn handle(&self, req: Request) -> Handled {
        let (handled, tasks) = self.serve(req).await;
        self.services.defer_all(tasks);
        handled
    }

    /// Answers one request and hands back the work to run after the response. Never panics
    /// on request data; every failure is a response. Records the request's metrics.
    pub async fn serve(&self, req: Request) -> (Handled, Vec<Task>) {
        let services = self.services.for_request();
        let started = services.clock.now_ms();
        let (handled, route) = self.answer(&services, &req, started).await;
        let status = match &handled {
            Handled::Response(r) => r.status().as_u16(),
            Handled::Asset(_) => 200,
        };
        services.metrics.record(&RequestRecord {
            route,
            method: req.method.as_str().to_owned(),
            status,
            usage: services.meter.usage(),
            wall_ms: services.clock.now_ms() - started,
        });
        (handled, services.take_deferred())
    }

    async fn answer(
        &self,
        services: &Services,
        req: &Request,
        started: i64,
    ) -> (Handled, &'static str) {
        let request_id = uuid_v4(services.rng.as_ref())
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
        if let Some(headers) = self.app_file(req, &routed, &request_id, production) {
            return (Handled::Asset(headers), "app");
        }
        let endpoint: Option<&Endpoint> = match &routed {
            Routed::Found(e, _) | Routed::Preflight(e) => Some(*e),
            _ => None,
        };
        let allowed_origin = self.allowed_origin(req);
        let finish = Finish {
            request_id: &request_id,
            production,
            endpoint: endpoint.map(Endpoint::policy),
            allowed_origin: allowed_origin.as_deref(),
        };

        let result = match routed {
            Routed::NotFound => Err(ApiError::not_found()),
            Routed::MethodNotAllowed { allow } => {
                let mut e = ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed");
                e.extra_mut().allow = Some(allow);
                Err(e)
            }
            Routed::Preflight(e) => {
                return (Handled::Response(headers::preflight(&finish)), e.name);
            }
            Routed::Found(endpoint, params) => match (endpoint.handler, &self.config) {
                (Handler::Unconfigured(answer), config) => Ok(answer(config.as_ref())),
                (Handler::Configured(_), Err(e)) => Err(ApiError::configuration(e)),
                (Handler::Configured(handle), Ok(config)) => {
                    let ctx = Ctx {
                        services,
                        config,
                        req,
                        params,
                        request_id: &request_id,
                        issuer: config.issuer_for(&req.origin),
                        now_ms: started,
                    };
                    handle(&ctx)
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
                    e.challenge = endpoint.and_then(|e| e.auth.challenge());
                }
                if let Some(detail) = &e.extra().log_detail {
                    log::error(&request_id, detail);
                }
                headers::render_error(&e, &finish)
            }
        };
        let route = endpoint.map_or("unmatched", |e| e.name);
        log::request(&log::RequestLine {
            request_id: &request_id,
            method: req.method.as_str(),
            route,
            status: response.status().as_u16(),
            duration_ms: services.clock.now_ms() - started,
            client_request_id: req
                .header("x-request-id")
                .filter(|v| is_loggable_request_id(v)),
        });
        (Handled::Response(response), route)
    }

    /// `GET`/`HEAD` outside the API is the web app's (api.md 1.1). An endpoint on such a path
    /// (`GET /`) yields to the app only when HTML is accepted, otherwise it answers JSON.
    fn app_file(
        &self,
        req: &Request,
        routed: &Routed<Handler>,
        request_id: &str,
        production: bool,
    ) -> Option<http::HeaderMap> {
        if !matches!(req.method, Method::GET | Method::HEAD) || !document::is_app_path(&req.path) {
            return None;
        }
        if matches!(routed, Routed::Found(..)) && !accepts_html(req) {
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
        endpoint: &Endpoint,
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
        endpoint: &Endpoint,
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

fn fresh_nonce(endpoint: &Endpoint, config: &Config, now_ms: i64) -> Option<HeaderValue> {
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
