//! The thin Worker edge: converts workerd requests into [`Request`]s, runs the isolate's
//! [`App`], and converts back. Nothing here makes a decision.
//!
//! The App is built once per isolate ([`build_app`], cached by [`IsolateCache`] under the `env`
//! object's identity); each request gets its own meter and deferred queue from
//! [`crate::ctx::Services::for_request`]. The request and response cross the wasm boundary in
//! few JS calls: the URL once, the headers as one JSON text each way
//! ([`crate::http::edge`]), the body with one `arrayBuffer()` when its length is declared.

use std::rc::Rc;

use futures_util::StreamExt;
use http::{HeaderMap, Method};
use js_sys::{Array, Object, Uint8Array, JSON};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

use crate::app::{App, Handled};
use crate::clock::{Clock, JsClock, OsEntropy};
use crate::config::{Config, Vars};
use crate::domain::ids::uuid_v4;
use crate::domain::rate_limit::Tally;
use crate::http::edge;
use crate::http::headers::Finish;
use crate::http::{ApiError, Body, ErrorCode, Request, MAX_BODY_BYTES};
use crate::isolate::IsolateCache;
use crate::paddle::api::FetchPaddle;
use crate::store::d1::D1Db;
use crate::store::workers_kv::WorkersKv;

/// Worker vars and secrets (`.dev.vars` in development).
struct EnvVars<'a>(&'a Env);

impl Vars for EnvVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .var(name)
            .map(|v| v.to_string())
            .or_else(|_| self.0.secret(name).map(|v| v.to_string()))
            .ok()
    }
}

/// An `env` compared by identity (`Object.is`). workerd passes the same object to every request
/// while the environment is unchanged, and a new one when vars, secrets or bindings change
/// (which may happen without a new isolate), so identity is an exact and O(1) cache key.
struct EnvKey(Env);

impl PartialEq for EnvKey {
    fn eq(&self, other: &Self) -> bool {
        Object::is(&self.0, &other.0)
    }
}

thread_local! {
    /// Rate-limit attempts not yet written to KV, shared by the requests this isolate serves
    /// (kept across App rebuilds: pending attempts are not lost when the environment changes).
    static RATE_TALLY: Rc<Tally> = Rc::new(Tally::default());
    /// The isolate's App, built on its first request and again when `env` changes.
    static APP: IsolateCache<EnvKey, App> = IsolateCache::default();
}

/// The App of this isolate for `env`.
fn app(env: &Env) -> worker::Result<Rc<App>> {
    APP.with(|cache| cache.get_or_try_build(EnvKey(env.clone()), |key| build_app(&key.0)))
}

/// Everything that does not depend on the request: the configuration (keys are derived on
/// first use), the route table, the clock and randomness, D1, KV, Paddle and mail clients and
/// the rate tally. Bindings are per isolate (not request-scoped I/O objects), and the cache key is
/// the `env` they come from, so keeping them is the same as reading them again.
/// Isolate-wide services are attached here, one line each.
fn build_app(env: &Env) -> worker::Result<App> {
    // Once per isolate and environment: a line per request would mean the cache never hits.
    crate::log::info(&serde_json::json!({"event": "isolate.app_built"}));
    let config = Config::load(&EnvVars(env));
    let db = D1Db::new(env.d1("DB")?);
    let paddle = FetchPaddle {
        api_url: config
            .as_ref()
            .map_or_else(|_| String::new(), |c| c.paddle.api_url.clone()),
        api_key: config
            .as_ref()
            .ok()
            .and_then(|c| c.paddle.api_key.as_ref().ok().cloned()),
    };
    let mailer = config
        .as_ref()
        .ok()
        .map(|c| crate::mail::mailer_for(&c.mail, Rc::new(crate::mail::fetch::FetchPost)));
    let mut app = App::new(
        config,
        Rc::new(JsClock),
        Rc::new(OsEntropy),
        Rc::new(db),
        Rc::new(WorkersKv::new(env.clone())),
    )
    .with_paddle(Rc::new(paddle))
    .with_documents(Rc::new(crate::cimd::fetch::WorkerFetch))
    .with_rate_tally(RATE_TALLY.with(Rc::clone))
    .with_metrics(crate::metrics::analytics_engine::sink(env));
    if let Some(mailer) = mailer {
        app = app.with_mailer(mailer);
    }
    crate::store::durable_markers::attach(env, &mut app);
    Ok(app)
}

/// Reads at most `MAX_BODY_BYTES + 1` bytes: a declared or actual excess is `TooLarge`.
async fn read_body(req: &web_sys::Request, headers: &HeaderMap) -> Body {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Body::TooLarge;
    }
    if req.body().is_none() {
        return Body::Bytes(Vec::new());
    }
    if declared.is_some() && !headers.contains_key("transfer-encoding") {
        // The declared length frames the body, so it cannot grow past it: one read, one copy.
        let Ok(promise) = req.array_buffer() else {
            return Body::Bytes(Vec::new());
        };
        let bytes = JsFuture::from(promise)
            .await
            .map(|buf| Uint8Array::new(&buf).to_vec())
            .unwrap_or_default();
        return if bytes.len() > MAX_BODY_BYTES {
            Body::TooLarge
        } else {
            Body::Bytes(bytes)
        };
    }
    // No declared length (chunked): read chunk by chunk and stop past the limit.
    // `Clone::clone` copies the handle; `req.clone()` would be JS `Request.clone()` (a body tee).
    let Ok(mut stream) = worker::Request::from(Clone::clone(req)).stream() else {
        return Body::Bytes(Vec::new());
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                bytes.extend_from_slice(&c);
                if bytes.len() > MAX_BODY_BYTES {
                    return Body::TooLarge;
                }
            }
            Err(_) => break,
        }
    }
    Body::Bytes(bytes)
}

/// The method exactly as sent (workers-rs's `Method` enum would turn unknown methods into
/// `GET` and upper-case the rest).
fn method(req: &web_sys::Request) -> Result<Method, ApiError> {
    Method::from_bytes(req.method().as_bytes()).map_err(|_| {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            "request method is not a valid token",
        )
    })
}

/// Every header with its bytes as sent, in one crossing: `JSON.stringify(Array.from(headers))`.
/// (workers-rs's `Headers::entries` is UTF-16 → UTF-8, which re-encodes non-ASCII values.)
fn headers(h: &web_sys::Headers) -> HeaderMap {
    JSON::stringify(&Array::from(h))
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|json| edge::headers_from_json(&json))
        .unwrap_or_else(|| headers_one_by_one(h))
}

/// The header-by-header reading, for a header list JSON cannot carry (none is known).
fn headers_one_by_one(h: &web_sys::Headers) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Ok(Some(entries)) = js_sys::try_iter(h) else {
        return out;
    };
    for entry in entries.flatten() {
        let pair = Array::from(&entry);
        if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            edge::append(&mut out, &name, &value);
        }
    }
    out
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's WHATWG `URL`, for the rare request URL [`edge::split_url`] does not take.
    /// (Parsing it in Rust would link the `url`/`idna` crates: about 75 KB of gzip.)
    #[wasm_bindgen(js_name = URL)]
    type JsUrl;
    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(url: &str) -> Result<JsUrl, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, getter)]
    fn origin(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn pathname(this: &JsUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn search(this: &JsUrl) -> String;
}

async fn convert(req: &web_sys::Request, url: &str) -> worker::Result<Result<Request, ApiError>> {
    let method = match method(req) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let (origin, path, query) = match edge::split_url(url) {
        Some(t) => (
            t.origin.to_owned(),
            t.path.to_owned(),
            t.query.map(str::to_owned),
        ),
        None => {
            let url = JsUrl::new(url)?;
            let search = url.search();
            (
                url.origin(),
                url.pathname(),
                search.strip_prefix('?').map(str::to_owned),
            )
        }
    };
    let headers = headers(&req.headers());
    let body = read_body(req, &headers).await;
    Ok(Ok(Request {
        method,
        path,
        query,
        headers,
        body,
        origin,
    }))
}

/// The answer to a request that cannot become a [`Request`] (workerd's Fetch API already refuses
/// such methods, so this is a fail-closed fallback): the error with every standard header.
fn refuse(app: &App, e: &ApiError) -> crate::http::Response {
    let request_id =
        uuid_v4(&OsEntropy).unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned());
    let production = app
        .config
        .as_ref()
        .is_ok_and(|c| c.environment == crate::config::Environment::Production);
    crate::http::headers::render_error(
        e,
        &Finish {
            request_id: &request_id,
            production,
            endpoint: None,
            allowed_origin: None,
        },
    )
}

/// `new Response(body, {status, headers})`: the headers as one JSON array, the body copied once.
fn respond(res: crate::http::Response) -> worker::Result<web_sys::Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(res.status().as_u16());
    init.set_headers(&JSON::parse(&edge::headers_to_json(res.headers()))?);
    let body = res.into_body();
    let body = (!body.is_empty()).then(|| Uint8Array::from(body.as_slice()));
    Ok(web_sys::Response::new_with_opt_buffer_source_and_init(
        body.as_ref().map(AsRef::as_ref),
        &init,
    )?)
}

/// Static Assets answer the path itself, or index.html for app routes (SPA fallback), with the
/// App's document headers added.
async fn asset(env: &Env, url: &str, extra: &HeaderMap) -> worker::Result<web_sys::Response> {
    let asset = env.assets("ASSETS")?.fetch(url, None).await?;
    let headers = worker::Headers::new();
    for (name, value) in asset.headers().entries() {
        headers.set(&name, &value)?;
    }
    for (name, value) in extra {
        if let Ok(v) = value.to_str() {
            headers.set(name.as_str(), v)?;
        }
    }
    Ok(asset.with_headers(headers).into())
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let app = app(&env)?;
    let url = req.url();
    let converted = match convert(&req, &url).await? {
        Ok(converted) => converted,
        Err(e) => return respond(refuse(&app, &e)),
    };
    let (handled, tasks) = app.serve(converted).await;
    // Deferred work (Paddle calls, KV updates after a commit) runs after the response.
    if !tasks.is_empty() {
        ctx.wait_until(async move {
            for task in tasks {
                task.await;
            }
        });
    }
    match handled {
        Handled::Response(res) => respond(res),
        Handled::Asset(extra) => asset(&env, &url, &extra).await,
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Ok(app) = app(&env) else {
        worker::console_error!("scheduled: bindings unavailable");
        return;
    };
    // Its own meter and deferred queue, like a request's.
    let services = app.services.for_request();
    match crate::scheduled::run(&services, app.config.as_ref(), JsClock.now_ms()).await {
        Ok(report) => worker::console_log!(
            "{}",
            serde_json::json!({"level": "info", "job": "scheduled", "report": report})
        ),
        Err(e) => worker::console_error!(
            "{}",
            serde_json::json!({"level": "error", "job": "scheduled", "detail": e.to_string()})
        ),
    }
}
