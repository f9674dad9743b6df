//! The authorization endpoint (api.md 2.11): an agent approves a client's request, as a JSON
//! API (`POST`) or by following a standard authorization URL (`GET`, answered with `303`).
//! PKCE S256 only, exact redirect URIs, scopes from the registry, blocks and the monthly grant
//! limit enforced — the limit by one conditional insert, so concurrent requests cannot pass it.

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::auth::agent_proof;
use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::domain::ids::{canonical_uuid, opaque_token, sha256_hex, uuid_v4};
use crate::domain::rate_limit::Bucket;
use crate::domain::resource::issuer_is_loopback;
use crate::domain::tier::{agent_standing, Tiers};
use crate::domain::time::month_bounds_ms;
use crate::http::body::JsonBody;
use crate::http::form::Form;
use crate::http::{query, ApiError, ErrorCode, Reply};
use crate::oauth::access_token::is_valid_jkt;
use crate::oauth::client_metadata::is_url_client_id;
use crate::oauth::scope::{self, Scope};
use crate::oauth::target::{Resources, OFFLINE_ACCESS};
use crate::oauth::{pkce, redirect};
use crate::routes::rate_limit;
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::clients::{self, ClientRow};
use crate::store::grants::{self, Approval, ApproveOutcome, NewCode, Refusal};
use crate::store::live_grants::ConsentedBy;

use super::target::{self, invalid_target};
use super::{invalid_request, oauth_error};

/// The request parameters, from the JSON body (POST) or the query (GET).
#[derive(Default)]
pub(super) struct Params {
    client_id: Option<String>,
    pub(super) redirect_uri: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) state: Option<String>,
    dpop_jkt: Option<String>,
    pub(super) response_type: Option<String>,
    pub(super) agent_id: Option<String>,
    /// RFC 8707 resource indicators: repeated in the query; a string or an array of strings in
    /// the JSON body.
    pub(super) resource: Vec<String>,
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

    pub(super) fn from_json(body: &JsonBody) -> Result<Self, ApiError> {
        let mut p = Params::default();
        for name in FIELDS {
            match body.opt_str(name) {
                Ok(Some(v)) => p.set(name, v.to_owned()),
                Ok(None) => {}
                Err(_) => return Err(invalid_request("a parameter has the wrong JSON type")),
            }
        }
        let wrong_type = |_| invalid_request("a parameter has the wrong JSON type");
        p.resource = match body.opt_str("resource") {
            Ok(one) => one.into_iter().map(str::to_owned).collect(),
            Err(_) => body
                .opt_str_array("resource")
                .map_err(wrong_type)?
                .unwrap_or_default()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        Ok(p)
    }

    pub(super) fn from_query(q: Option<&str>) -> Result<Self, ApiError> {
        let form = Form::from_pairs(query::iter(q.unwrap_or("")))?;
        let mut p = Params::default();
        for name in FIELDS.iter().filter(|n| **n != "agent_id") {
            if let Some(v) = form.get(name) {
                p.set(name, v.to_owned());
            }
        }
        p.resource = form
            .all("resource")
            .into_iter()
            .map(str::to_owned)
            .collect();
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
pub(super) enum Respond<'a> {
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
    let Requested { client, blocked } = trusted_client(ctx, &params, &agent.id).await?;
    if client.disabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client is disabled",
        ));
    }
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    approve(
        ctx,
        &agent,
        Consenter::Agent,
        &client,
        blocked,
        &params,
        redirect_uri,
        &Respond::Json,
    )
    .await
}

/// `GET /v1/oauth/authorize`
pub async fn get(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    if let Some(to_page) = super::consent::browser_redirect(ctx.req) {
        return Ok(to_page);
    }
    let params = Params::from_query(ctx.req.query.as_deref())?;
    let agent = agent_proof::session_or_proof(ctx)
        .await
        .map_err(auth_error)?;
    rate_limit(ctx, Bucket::AuthorizeAgent, &agent.id).await?;
    let Requested { client, blocked } = trusted_client(ctx, &params, &agent.id).await?;
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
    approve(
        ctx,
        &agent,
        Consenter::Agent,
        &client,
        blocked,
        &params,
        redirect_uri,
        &respond,
    )
    .await
}

/// The client an authorization request names, and whether the agent's overseer blocked it.
pub(super) struct Requested {
    pub(super) client: ClientRow,
    pub(super) blocked: bool,
}

/// #6 and #8: the client exists and the redirect URI is one of its own — otherwise JSON 400,
/// never a redirect to an unverified URI. The block of the client for `agent_id` is read in the
/// same round trip (and decided later, in [`approve`]).
pub(super) async fn trusted_client(
    ctx: &Ctx<'_>,
    params: &Params,
    agent_id: &str,
) -> Result<Requested, ApiError> {
    let raw = params.client_id.as_deref().unwrap_or_default();
    let metadata_document = is_url_client_id(raw);
    let id = if metadata_document {
        Some(raw.to_owned())
    } else {
        canonical_uuid(raw)
    }
    .ok_or_else(|| invalid_request("client_id is missing or unknown"))?;
    let mut reads = Batch::new();
    let found = reads.push(clients::find_statement(&id));
    let block = reads.push(clients::blocked_statement(&id, agent_id));
    let mut out = reads.run(ctx.db()).await?;
    let blocked = !out.rows(block).is_empty();
    let found = out.take(found).first::<ClientRow>()?;
    let client = if metadata_document {
        crate::cimd::current(ctx, &id, found)
            .await
            .map_err(crate::cimd::CimdError::at_authorize)?
    } else {
        found.ok_or_else(|| invalid_request("client_id is missing or unknown"))?
    };
    let presented = params.redirect_uri.as_deref().unwrap_or_default();
    if !redirect::matches_with(client.loopback_ports(), &client.redirect_uris(), presented) {
        return Err(invalid_request(
            "redirect_uri is missing or not registered for this client",
        ));
    }
    Ok(Requested { client, blocked })
}

/// What a request asks for.
pub(super) enum Asked {
    /// The agent's identity, for the client itself (v1): scopes of the registry.
    Identity(Scope),
    /// Access to protected resources (RFC 8707); their scope is decided once they are read.
    Resources(Resources),
}

/// A request that passed the protocol checks (#9–#13).
pub(super) struct Checked<'p> {
    code_challenge: &'p str,
    pub(super) asked: Asked,
}

/// The requested identity scope without `offline_access`: identity grants always carry a
/// refresh token, so the scope that asks for one changes nothing.
fn identity_scope_text(requested: Option<&str>) -> Option<String> {
    requested.map(|s| {
        s.split(' ')
            .filter(|t| *t != OFFLINE_ACCESS)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The protocol checks of a request by a trusted client: response type, PKCE S256, scope,
/// `state` and `dpop_jkt` syntax.
/// `loopback`: the issuer is on loopback, where `http` loopback resources exist.
pub(super) fn check<'p>(
    params: &'p Params,
    client: &ClientRow,
    loopback: bool,
) -> Result<Checked<'p>, ApiError> {
    if params.response_type.as_deref().is_some_and(|t| t != "code") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let challenge = params
        .code_challenge
        .as_deref()
        .filter(|c| pkce::is_valid_challenge(c));
    let (Some(code_challenge), Some("S256")) = (challenge, params.code_challenge_method.as_deref())
    else {
        return Err(invalid_request(
            "PKCE with code_challenge_method=S256 is required",
        ));
    };
    let asked = match Resources::parse(&params.resource, loopback).map_err(invalid_target)? {
        Some(resources) => Asked::Resources(resources),
        None => {
            let client_scope = client
                .scope
                .as_deref()
                .map(Scope::parse)
                .transpose()
                .ok()
                .flatten();
            let requested = identity_scope_text(params.scope.as_deref());
            let scope =
                scope::granted(requested.as_deref(), client_scope.as_ref()).map_err(|e| {
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
                })?;
            Asked::Identity(scope)
        }
    };
    if params
        .state
        .as_deref()
        .is_some_and(|s| !redirect::is_valid_state(s))
    {
        return Err(invalid_request(
            "state must be at most 1024 printable ASCII characters",
        ));
    }
    if params.dpop_jkt.as_deref().is_some_and(|j| !is_valid_jkt(j)) {
        return Err(invalid_request(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
        ));
    }
    Ok(Checked {
        code_challenge,
        asked,
    })
}

/// The agent's tier's `max_oauth_per_period` (−1 unlimited).
pub(super) async fn monthly_limit(ctx: &Ctx<'_>, agent_id: &str) -> Result<i64, ApiError> {
    let standing = agent_standing(ctx.db(), agent_id, ctx.now_ms).await?;
    let tiers = Tiers::load(ctx.db()).await?;
    Ok(tiers.get(&standing.tier)?.max_oauth_per_period)
}

/// Who approves a request: the agent itself, or its overseer in the browser (for the agent).
#[derive(Clone, Copy)]
pub(super) enum Consenter<'a> {
    Agent,
    Overseer { overseer_id: &'a str },
}

impl Consenter<'_> {
    fn consented_by(self) -> ConsentedBy {
        match self {
            Consenter::Agent => ConsentedBy::Agent,
            Consenter::Overseer { .. } => ConsentedBy::Overseer,
        }
    }
}

/// Checks the request, then refuses it (block, monthly limit; recorded in the history) or
/// issues a code, with its history row and audit event in one batch.
#[allow(clippy::too_many_arguments)]
pub(super) async fn approve(
    ctx: &Ctx<'_>,
    agent: &AgentRow,
    consenter: Consenter<'_>,
    client: &ClientRow,
    blocked: bool,
    params: &Params,
    redirect_uri: &str,
    respond: &Respond<'_>,
) -> Result<Reply, ApiError> {
    let fail = |e: ApiError| error_at(respond, &ctx.issuer, e);
    let checked = match check(params, client, issuer_is_loopback(&ctx.issuer)) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let (scope_text, resources) = match &checked.asked {
        Asked::Identity(scope) => (scope.to_string(), None),
        Asked::Resources(resources) => {
            match target::grant(ctx, resources, params.scope.as_deref()).await? {
                Ok(scope) => (scope.to_string(), Some(resources.to_json())),
                Err(refused) => return fail(refused),
            }
        }
    };
    let db = ctx.db();
    let limit = monthly_limit(ctx, &agent.id).await?;
    if blocked {
        deny(ctx, agent, consenter, client, &scope_text, "client_blocked").await?;
        return fail(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "the agent's overseer has blocked this client",
        ));
    }

    let code = opaque_token(ctx.rng())?;
    let (request_id, code_id, code_hash) =
        (uuid_v4(ctx.rng())?, uuid_v4(ctx.rng())?, sha256_hex(&code));
    let approval = Approval {
        request_id: &request_id,
        agent_id: &agent.id,
        client_id: &client.id,
        client_name: &client.name,
        scope: &scope_text,
        resources: resources.as_deref(),
        consented_by: consenter.consented_by(),
        limit,
        period_ms: month_bounds_ms(ctx.now_ms),
        code: NewCode {
            id: &code_id,
            hash: &code_hash,
            redirect_uri,
            code_challenge: checked.code_challenge,
            dpop_jkt: params.dpop_jkt.as_deref(),
            expires_at_ms: ctx.now_ms + ctx.config.auth_code_ttl_secs * 1000,
        },
        now_ms: ctx.now_ms,
    };
    let event = oauth_event("oauth.code_issued", agent, consenter, client, &scope_text);
    if grants::approve(db, &approval, event.insert(&ctx.stamp())).await?
        == ApproveOutcome::LimitReached
    {
        deny(
            ctx,
            agent,
            consenter,
            client,
            &scope_text,
            "oauth_limit_reached",
        )
        .await?;
        return fail(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("OAuth limit reached ({limit}/{limit} for this period)"),
        ));
    }
    issued(ctx, params, redirect_uri, respond, &code, &scope_text)
}

/// The answer carrying a new code: a redirect (GET) or the JSON of api.md 2.11 (POST).
fn issued(
    ctx: &Ctx<'_>,
    params: &Params,
    redirect_uri: &str,
    respond: &Respond<'_>,
    code: &str,
    scope: &str,
) -> Result<Reply, ApiError> {
    let mut params_out = vec![("code", code)];
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
            "authorization_code": code,
            "code": code,
            "redirect_uri": redirect_uri,
            "state": params.state,
            "scope": scope,
            "expires_in": ctx.config.auth_code_ttl_secs,
            "iss": ctx.issuer,
            "redirect_to": redirect_to,
        }))),
    }
}

/// The audit event of a decision: its actor is whoever consented; its agent is the agent.
fn oauth_event<'a>(
    kind: &'static str,
    agent: &'a AgentRow,
    consenter: Consenter<'a>,
    client: &'a ClientRow,
    scope: &str,
) -> Event<'a> {
    let actor = match consenter {
        Consenter::Agent => Actor::Agent(&agent.id),
        Consenter::Overseer { overseer_id } => Actor::Overseer(overseer_id),
    };
    Event::new(kind, actor)
        .subject(Subject::Client(&client.id))
        .agent(&agent.id)
        .details(with_consenter(
            json!({ "client_id": client.id, "scope": scope }),
            consenter,
        ))
}

/// Adds `consented_by: "overseer"` to an event's details when the overseer decided; an
/// agent's own events stay as they were.
fn with_consenter(mut details: Json, consenter: Consenter<'_>) -> Json {
    if let (Consenter::Overseer { .. }, Some(map)) = (consenter, details.as_object_mut()) {
        map.insert("consented_by".into(), json!("overseer"));
    }
    details
}

/// A refusal repeating the latest history row of the same agent and client (same reason)
/// within this window adds no rows: retries cannot grow the history and audit trail.
const REFUSAL_COLLAPSE_MS: i64 = 3_600_000;

/// Records a refusal in the agent's history (and the audit trail), unless it repeats the
/// agent's latest request to this client, refused for the same reason less than
/// [`REFUSAL_COLLAPSE_MS`] ago. Both rows are written or neither.
pub(super) async fn deny(
    ctx: &Ctx<'_>,
    agent: &AgentRow,
    consenter: Consenter<'_>,
    client: &ClientRow,
    scope: &str,
    reason: &'static str,
) -> Result<(), ApiError> {
    let details = json!({ "client_id": client.id, "reason": reason });
    let event = oauth_event(
        "oauth.authorization_denied",
        agent,
        consenter,
        client,
        scope,
    )
    .details(with_consenter(details, consenter));
    let request_id = uuid_v4(ctx.rng())?;
    let refusal = Refusal {
        request_id: &request_id,
        agent_id: &agent.id,
        client_id: &client.id,
        client_name: &client.name,
        scope,
        reason,
        decided_by: consenter.consented_by(),
        now_ms: ctx.now_ms,
        collapse_after_ms: ctx.now_ms - REFUSAL_COLLAPSE_MS,
    };
    Ok(grants::record_refusal(ctx.db(), &refusal, event.insert(&ctx.stamp())).await?)
}
