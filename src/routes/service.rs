//! `GET /`, `GET /v1` and `GET /health`.

use http::StatusCode;
use serde::Serialize;

use crate::config::{default_build_version, Config, ConfigError};
use crate::ctx::Ctx;
use crate::http::Reply;

#[derive(Serialize)]
struct Endpoints {
    agents: &'static str,
    overseers: &'static str,
    clients: &'static str,
    subscriptions: &'static str,
    webhooks: &'static str,
    oauth: &'static str,
    discovery: &'static str,
}

#[derive(Serialize)]
struct Info<'a> {
    name: &'static str,
    version: &'a str,
    issuer: &'a str,
    endpoints: Endpoints,
}

pub fn info(ctx: &Ctx<'_>) -> Reply {
    Reply::ok(&Info {
        name: "agent-id",
        version: &ctx.config.build_version,
        issuer: &ctx.issuer,
        endpoints: Endpoints {
            agents: "/v1/agents",
            overseers: "/v1/overseers",
            clients: "/v1/clients",
            subscriptions: "/v1/subscriptions",
            webhooks: "/v1/webhooks",
            oauth: "/v1/oauth",
            discovery: "/.well-known/oauth-authorization-server",
        },
    })
}

#[derive(Serialize)]
struct Healthy<'a> {
    status: &'static str,
    version: &'a str,
    environment: &'static str,
}

#[derive(Serialize)]
struct Misconfigured {
    success: bool,
    status: &'static str,
    error: &'static str,
    code: &'static str,
    version: String,
}

/// Liveness without storage access; `503 misconfigured` when the configuration is unusable.
pub fn health(config: Result<&Config, &ConfigError>) -> Reply {
    match config {
        Ok(c) => Reply::ok(&Healthy {
            status: "ok",
            version: &c.build_version,
            environment: c.environment.as_str(),
        }),
        Err(_) => Reply::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Misconfigured {
                success: false,
                status: "misconfigured",
                error: "Service unavailable",
                code: "configuration_error",
                version: default_build_version(),
            },
        ),
    }
}
