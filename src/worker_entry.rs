//! The thin Worker edge: converts workers-rs requests into [`Request`]s, runs the [`App`],
//! and converts back. Nothing here makes a decision.

use std::rc::Rc;

use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

use crate::app::{App, Handled};
use crate::clock::{Clock, JsClock, OsEntropy};
use crate::config::{Config, Vars};
use crate::domain::ids::uuid_v4;
use crate::domain::rate_limit::Tally;
use crate::http::headers::Finish;
use crate::http::{ApiError, Body, ErrorCode, Request, MAX_BODY_BYTES};
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

thread_local! {
    /// Rate-limit attempts not yet written to KV, shared by the requests this isolate serves.
    static RATE_TALLY: Rc<Tally> = Rc::new(Tally::default());
}

fn app(env: &Env) -> worker::Result<App> {
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
    let mut app = App::new(
        config,
        Rc::new(JsClock),
        Rc::new(OsEntropy),
        Rc::new(db),
        Rc::new(WorkersKv::new(env.clone())),
    )
    .with_paddle(Rc::new(paddle))
    .with_rate_tally(RATE_TALLY.with(Rc::clone));
    crate::store::durable_markers::attach(env, &mut app);
    Ok(app)
}

/// Reads at most `MAX_BODY_BYTES + 1` bytes: a declared or actual excess is `TooLarge`.
async fn read_body(req: &mut worker::Request) -> Body {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Body::TooLarge;
    }
    let Ok(mut stream) = req.stream() else {
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

/// The method exactly as sent. workers-rs's `Method` enum turns every method it does not know
/// into `GET` (and upper-cases the rest), so it is read from the underlying `web_sys::Request`.
fn method(req: &worker::Request) -> Result<Method, ApiError> {
    Method::from_bytes(req.inner().method().as_bytes()).map_err(|_| {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            "request method is not a valid token",
        )
    })
}

/// A header value's bytes. A JS header value is a ByteString (every char ≤ U+00FF), each char one
/// byte, so obs-text reaches the App exactly as sent, as natively. workerd decodes some non-ASCII
/// values as UTF-8 first (invalid bytes become U+FFFD); those keep their UTF-8 bytes, still
/// non-ASCII, so the App refuses them as it refuses obs-text instead of never seeing the header.
fn value_bytes(value: &str) -> Vec<u8> {
    value
        .chars()
        .map(|c| u8::try_from(c).ok())
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| value.as_bytes().to_vec())
}

/// Every header with its bytes as sent. workers-rs's `Headers::entries` is UTF-16 → UTF-8, which
/// re-encodes non-ASCII values, so the `web_sys::Headers` is iterated here.
fn headers(req: &worker::Request) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Ok(Some(entries)) = js_sys::try_iter(&req.inner().headers()) else {
        return out;
    };
    for entry in entries.flatten() {
        let pair = js_sys::Array::from(&entry);
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        let value = HeaderValue::from_bytes(&value_bytes(&value));
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), value) {
            out.append(n, v);
        }
    }
    out
}

async fn convert(mut req: worker::Request) -> worker::Result<Result<Request, ApiError>> {
    let url = req.url()?;
    let method = match method(&req) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let headers = headers(&req);
    let body = read_body(&mut req).await;
    Ok(Ok(Request {
        method,
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers,
        body,
        origin: url.origin().ascii_serialization(),
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

fn respond(res: crate::http::Response) -> worker::Result<worker::Response> {
    let status = res.status().as_u16();
    let headers = worker::Headers::new();
    for (name, value) in res.headers() {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let body = res.into_body();
    let out = if body.is_empty() {
        worker::Response::empty()?
    } else {
        worker::Response::from_bytes(body)?
    };
    Ok(out.with_status(status).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    let url = req.url()?.to_string();
    let app = app(&env)?;
    let req = match convert(req).await? {
        Ok(req) => req,
        Err(e) => return respond(refuse(&app, &e)),
    };
    let (handled, tasks) = app.serve(req).await;
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
        Handled::Asset(extra) => {
            // Static Assets answer the path itself, or index.html for app routes (SPA fallback).
            let asset = env.assets("ASSETS")?.fetch(url, None).await?;
            let headers = worker::Headers::new();
            for (name, value) in asset.headers().entries() {
                headers.set(&name, &value)?;
            }
            for (name, value) in &extra {
                if let Ok(v) = value.to_str() {
                    headers.set(name.as_str(), v)?;
                }
            }
            Ok(asset.with_headers(headers))
        }
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Ok(app) = app(&env) else {
        worker::console_error!("scheduled: bindings unavailable");
        return;
    };
    match crate::scheduled::run(&app.services, app.config.as_ref(), JsClock.now_ms()).await {
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
