//! The authorization endpoint (api.md 2.11): an agent approves a client's request, as a JSON
//! API (`POST`) or by following a standard authorization URL (`GET`, answered with `303`).
//! PKCE S256 only, exact redirect URIs, scopes from the registry, blocks and the monthly grant
//! limit enforced — the limit by one conditional insert, so concurrent requests cannot pass it.

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::audit::{self, Event};
use crate::auth::agent_proof;
use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::domain::ids::{canonical_uuid, opaque_token, sha256_hex, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::tier::{agent_standing, Tiers};
use crate::domain::time::month_bounds_ms;
use crate::http::body::JsonBody;
use crate::http::form::Form;
use crate::http::{query, ApiError, ErrorCode, Reply};
use crate::oauth::access_token::is_valid_jkt;
use crate::oauth::scope::{self, Scope};
use crate::oauth::{pkce, redirect};
use crate::routes::rate_limit;
use crate::store::clients::{self, ClientRow};
use crate::store::{Statement, Value};

use super::tokens::blocked;
use super::{invalid_request, oauth_error};

/// The request parameters, from the JSON body (POST) or the query (GET).
#[derive(Default)]
struct Params {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    dpop_jkt: Option<String>,
    response_type: Option<String>,
    agent_id: Option<String>,
}

const FIELDS: [&str; 9] = [
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "state",
    "dpop_jkt",
    "response_type",
    "agent_id",
];

impl Params {
    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "client_id" => &mut self.client_id,
            "redirect_uri" => &mut self.redirect_uri,
            "code_challenge" => &mut self.code_challenge,
            "code_challenge_method" => &mut self.code_challenge_method,
            "scope" => &mut self.scope,
            "state" => &mut self.state,
            "dpop_jkt" => &mut self.dpop_jkt,
            "response_type" => &mut self.response_type,
            "agent_id" => &mut self.agent_id,
            _ => return,
        };
        *slot = Some(value);
    }

    fn from_json(body: &JsonBody) -> Result<Self, ApiError> {
        let mut p = Params::default();
        for name in FIELDS {
            match body.opt_str(name) {
                Ok(Some(v)) => p.set(name, v.to_owned()),
                Ok(None) => {}
                Err(_) => return Err(invalid_request("a parameter has the wrong JSON type")),
            }
        }
        Ok(p)
    }

    fn from_query(q: Option<&str>) -> Result<Self, ApiError> {
        let form = Form::from_pairs(query::iter(q.unwrap_or("")))?;
        let mut p = Params::default();
        for name in FIELDS.iter().filter(|n| **n != "agent_id") {
            if let Some(v) = form.get(name) {
                p.set(name, v.to_owned());
            }
        }
        Ok(p)
    }
}

/// Maps the agent-authentication errors to the authorization endpoint's (api.md 2.11 #2–#4).
fn auth_error(e: ApiError) -> ApiError {
    let mut mapped = match e.code {
        ErrorCode::AmbiguousAuthentication => {
            invalid_request("send either Authorization or DPoP, not both")
        }
        ErrorCode::Forbidden => oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "an agent session is required",
        ),
        ErrorCode::InvalidDpopProof
        | ErrorCode::UseDpopNonce
        | ErrorCode::ConfigurationError
        | ErrorCode::InternalError => return e,
        _ => oauth_error(
            StatusCode::UNAUTHORIZED,
            "login_required",
            "agent authentication is required",
        ),
    };
    mapped.challenge = e.challenge;
    mapped
}

/// Where an error is reported: as JSON, or (GET, once client and redirect URI are trusted)
/// by redirecting to the client.
enum Respond<'a> {
    Json,
    Redirect {
        uri: &'a str,
        state: Option<&'a str>,
    },
}

fn error_at(respond: &Respond<'_>, issuer: &str, e: ApiError) -> Result<Reply, ApiError> {
    match respond {
        Respond::Json => Err(e),
        Respond::Redirect { uri, state } => {
            let (_, code) = e.oauth_parts();
            let mut params = vec![("error", code), ("error_description", e.message.as_ref())];
            if let Some(s) = state {
                params.push(("state", s));
            }
            params.push(("iss", issuer));
            let location = redirect::with_params(uri, &params);
            see_other(
                json!({"error": code, "error_description": e.message, "redirect_to": location}),
                &location,
            )
        }
    }
}

fn see_other(body: Json, location: &str) -> Result<Reply, ApiError> {
    Ok(Reply::json(StatusCode::SEE_OTHER, &body).header(
        LOCATION,
        HeaderValue::from_str(location).map_err(ApiError::internal)?,
    ))
}

/// `POST /v1/oauth/authorize`
pub async fn post(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req).map_err(|e| {
        let (status, description) = (e.status(), e.message.clone());
        let mut m = oauth_error(status, "invalid_request", description);
        m.code = e.code;
        m
    })?;
    let params = Params::from_json(&body)?;
    let agent = agent_proof::session_or_proof(ctx)
        .await
        .map_err(auth_error)?;
    rate_limit(ctx, Bucket::AuthorizeAgent, &agent.id).await?;
    if let Some(raw) = &params.agent_id {
        if canonical_uuid(raw).as_deref() != Some(agent.id.as_str()) {
            return Err(oauth_error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "agent_id is not the authenticated agent",
            ));
        }
    }
    let client = trusted_client(ctx, &params).await?;
    if client.disabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client is disabled",
        ));
    }
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    approve(ctx, &agent, &client, &params, redirect_uri, &Respond::Json).await
}

/// `GET /v1/oauth/authorize`
pub async fn get(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let params = Params::from_query(ctx.req.query.as_deref())?;
    let agent = agent_proof::session_or_proof(ctx)
        .await
        .map_err(auth_error)?;
    rate_limit(ctx, Bucket::AuthorizeAgent, &agent.id).await?;
    let client = trusted_client(ctx, &params).await?;
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    let state = params
        .state
        .as_deref()
        .filter(|s| redirect::is_valid_state(s));
    let respond = Respond::Redirect {
        uri: redirect_uri,
        state,
    };
    if client.disabled {
        let e = oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client is disabled",
        );
        return error_at(&respond, &ctx.issuer, e);
    }
    if params.response_type.is_none() {
        return error_at(
            &respond,
            &ctx.issuer,
            invalid_request("response_type is required"),
        );
    }
    approve(ctx, &agent, &client, &params, redirect_uri, &respond).await
}

/// #6 and #8: the client exists and the redirect URI is one of its own — otherwise JSON 400,
/// never a redirect to an unverified URI.
async fn trusted_client(ctx: &Ctx<'_>, params: &Params) -> Result<ClientRow, ApiError> {
    let id = params
        .client_id
        .as_deref()
        .and_then(canonical_uuid)
        .ok_or_else(|| invalid_request("client_id is missing or unknown"))?;
    let client = clients::find(ctx.db(), &id)
        .await?
        .ok_or_else(|| invalid_request("client_id is missing or unknown"))?;
    let presented = params.redirect_uri.as_deref().unwrap_or_default();
    if !redirect::matches(&client.redirect_uris(), presented) {
        return Err(invalid_request(
            "redirect_uri is missing or not registered for this client",
        ));
    }
    Ok(client)
}

async fn approve(
    ctx: &Ctx<'_>,
    agent: &AgentRow,
    client: &ClientRow,
    params: &Params,
    redirect_uri: &str,
    respond: &Respond<'_>,
) -> Result<Reply, ApiError> {
    let fail = |e: ApiError| error_at(respond, &ctx.issuer, e);
    if params.response_type.as_deref().is_some_and(|t| t != "code") {
        let e = oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "only response_type=code is supported",
        );
        return fail(e);
    }
    let challenge = params
        .code_challenge
        .as_deref()
        .filter(|c| pkce::is_valid_challenge(c));
    let (Some(challenge), Some("S256")) = (challenge, params.code_challenge_method.as_deref())
    else {
        return fail(invalid_request(
            "PKCE with code_challenge_method=S256 is required",
        ));
    };
    let client_scope = client
        .scope
        .as_deref()
        .map(Scope::parse)
        .transpose()
        .ok()
        .flatten();
    let scope = match scope::granted(params.scope.as_deref(), client_scope.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            return fail(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                e.to_string(),
            ))
        }
    };
    if params
        .state
        .as_deref()
        .is_some_and(|s| !redirect::is_valid_state(s))
    {
        return fail(invalid_request(
            "state must be at most 1024 printable ASCII characters",
        ));
    }
    if params.dpop_jkt.as_deref().is_some_and(|j| !is_valid_jkt(j)) {
        return fail(invalid_request(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
        ));
    }

    let db = ctx.services.db.as_ref();
    let standing = agent_standing(db, &agent.id, ctx.now_ms).await?;
    let limit = Tiers::load(db)
        .await?
        .get(&standing.tier)?
        .max_oauth_per_period;
    let (period_start, period_end) = month_bounds_ms(ctx.now_ms);
    let scope_text = scope.to_string();
    let history_id = uuid_v4(ctx.rng())?;

    let blocked = !db
        .run(Statement::new(
            format!("SELECT 1 AS one WHERE {}", blocked("?1", "?2")),
            vec![client.id.as_str().into(), agent.id.as_str().into()],
        ))
        .await?
        .rows
        .is_empty();
    if blocked {
        deny(ctx, agent, client, &scope_text, "client_blocked").await?;
        return fail(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "the agent's overseer has blocked this client",
        ));
    }

    let code = opaque_token(ctx.rng())?;
    let history = Statement::new(
        "INSERT INTO oauth_requests (id, agent_id, client_id, client_name, scope, status, reason, exchanged_at, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, 'approved', NULL, NULL, ?6 WHERE ?7 < 0 OR \
           (SELECT COUNT(*) FROM oauth_requests WHERE agent_id = ?2 AND status = 'approved' \
              AND created_at >= ?8 AND created_at < ?9) < ?7",
        vec![
            Value::from(history_id.as_str()),
            Value::from(agent.id.as_str()),
            Value::from(client.id.as_str()),
            Value::from(client.name.as_str()),
            Value::from(scope_text.as_str()),
            Value::from(ctx.now_ms),
            Value::from(limit),
            Value::from(period_start),
            Value::from(period_end),
        ],
    );
    let code_row = Statement::new(
        "INSERT INTO authorization_codes (id, code_hash, client_id, agent_id, redirect_uri, code_challenge, scope, \
           dpop_jkt, oauth_request_id, expires_at, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM oauth_requests WHERE id = ?9)",
        vec![
            Value::from(uuid_v4(ctx.rng())?),
            Value::from(sha256_hex(&code)),
            Value::from(client.id.as_str()),
            Value::from(agent.id.as_str()),
            Value::from(redirect_uri),
            Value::from(challenge),
            Value::from(scope_text.as_str()),
            Value::from(params.dpop_jkt.as_deref()),
            Value::from(history_id.as_str()),
            Value::from(ctx.now_ms + ctx.config.auth_code_ttl_secs * 1000),
            Value::from(ctx.now_ms),
        ],
    );
    let event = oauth_event("oauth.code_issued", agent, client, &scope_text);
    let audit_row = audit::insert_where(
        ctx,
        &event,
        Some((
            "EXISTS (SELECT 1 FROM oauth_requests WHERE id = ?13)",
            vec![Value::from(history_id.as_str())],
        )),
    )?;
    let outcomes = db.batch(vec![history, code_row, audit_row]).await?;
    if outcomes.first().map_or(0, |o| o.changes) != 1 {
        deny(ctx, agent, client, &scope_text, "oauth_limit_reached").await?;
        let e = oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("OAuth limit reached ({limit}/{limit} for this period)"),
        );
        return fail(e);
    }

    let mut params_out = vec![("code", code.as_str())];
    if let Some(s) = &params.state {
        params_out.push(("state", s));
    }
    params_out.push(("iss", ctx.issuer.as_str()));
    let redirect_to = redirect::with_params(redirect_uri, &params_out);
    match respond {
        Respond::Redirect { .. } => see_other(
            json!({"success": true, "redirect_to": redirect_to}),
            &redirect_to,
        ),
        Respond::Json => Ok(Reply::ok(&json!({
            "success": true,
            "authorization_code": code,
            "code": code,
            "redirect_uri": redirect_uri,
            "state": params.state,
            "scope": scope_text,
            "expires_in": ctx.config.auth_code_ttl_secs,
            "iss": ctx.issuer,
            "redirect_to": redirect_to,
        }))),
    }
}

fn oauth_event<'a>(
    kind: &'static str,
    agent: &'a AgentRow,
    client: &'a ClientRow,
    scope: &str,
) -> Event<'a> {
    Event {
        kind,
        actor_type: "agent",
        actor_id: Some(&agent.id),
        subject_type: Some("client"),
        subject_id: Some(&client.id),
        overseer_id: None,
        agent_id: Some(&agent.id),
        details: json!({ "client_id": client.id, "scope": scope }),
    }
}

/// A refusal repeating the latest history row of the same agent and client (same reason)
/// within this window adds no rows: retries cannot grow the history and audit trail.
const REFUSAL_COLLAPSE_MS: i64 = 3_600_000;

/// Records a refusal in the agent's history (and the audit trail), unless it repeats the
/// agent's latest request to this client, refused for the same reason less than
/// [`REFUSAL_COLLAPSE_MS`] ago. Both rows are written or neither.
async fn deny(
    ctx: &Ctx<'_>,
    agent: &AgentRow,
    client: &ClientRow,
    scope: &str,
    reason: &'static str,
) -> Result<(), ApiError> {
    let mut event = oauth_event("oauth.authorization_denied", agent, client, scope);
    event.details = json!({ "client_id": client.id, "reason": reason });
    let history_id = uuid_v4(ctx.rng())?;
    ctx.services
        .db
        .batch(vec![
            Statement::new(
                "INSERT INTO oauth_requests (id, agent_id, client_id, client_name, scope, status, reason, created_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, 'denied', ?6, ?7 WHERE NOT EXISTS ( \
                   SELECT 1 FROM (SELECT status, reason FROM oauth_requests \
                     WHERE agent_id = ?2 AND created_at > ?8 AND client_id = ?3 \
                     ORDER BY created_at DESC, id DESC LIMIT 1) AS latest \
                   WHERE latest.status = 'denied' AND latest.reason = ?6)",
                vec![
                    Value::from(history_id.as_str()),
                    Value::from(agent.id.as_str()),
                    Value::from(client.id.as_str()),
                    Value::from(client.name.as_str()),
                    Value::from(scope),
                    Value::from(reason),
                    Value::from(ctx.now_ms),
                    Value::from(ctx.now_ms - REFUSAL_COLLAPSE_MS),
                ],
            ),
            audit::insert_where(
                ctx,
                &event,
                Some((
                    "EXISTS (SELECT 1 FROM oauth_requests WHERE id = ?13)",
                    vec![Value::from(history_id.as_str())],
                )),
            )?,
        ])
        .await?;
    Ok(())
}
