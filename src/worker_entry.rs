//! The thin Worker edge: converts workers-rs requests into [`Request`]s, runs the [`App`],
//! and converts back. Nothing here makes a decision.

use std::rc::Rc;

use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

use crate::app::{App, Handled};
use crate::clock::{Clock, JsClock, OsEntropy};
use crate::config::{Config, Vars};
use crate::domain::rate_limit::Tally;
use crate::http::{Body, Request, MAX_BODY_BYTES};
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
    Ok(App::new(
        config,
        Rc::new(JsClock),
        Rc::new(OsEntropy),
        Rc::new(db),
        Rc::new(WorkersKv::new(env.clone())),
    )
    .with_paddle(Rc::new(paddle))
    .with_rate_tally(RATE_TALLY.with(Rc::clone)))
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

async fn convert(mut req: worker::Request) -> worker::Result<Request> {
    let url = req.url()?;
    let method = Method::from_bytes(req.method().as_ref().as_bytes()).unwrap_or(Method::GET);
    let mut headers = HeaderMap::new();
    for (name, value) in req.headers().entries() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    let body = read_body(&mut req).await;
    Ok(Request {
        method,
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers,
        body,
        origin: url.origin().ascii_serialization(),
    })
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
    let handled = app.handle(convert(req).await?).await;
    // Deferred work (Paddle calls, KV updates after a commit) runs after the response.
    let tasks = app.take_deferred();
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
    match crate::scheduled::run(&app, JsClock.now_ms()).await {
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
