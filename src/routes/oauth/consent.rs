//! Consent by the overseer in the browser (issue 10 item 5). An MCP host opens the authorization
//! URL in a browser, where no agent credential exists: [`browser_redirect`] sends such a
//! navigation to the web app's consent page, which describes the request ([`describe`]) to the
//! logged-in overseer and posts its decision for one of its agents ([`decide`]).
//!
//! The decision runs the agent's own checks and writes ([`authorize::approve`]), recorded as
//! consented by the overseer. Cross-site forgery is refused by the overseer cookie itself
//! (`SameSite=Strict`) and by the Origin check every cookie write passes
//! ([`session::require_overseer_reading`]); the page cannot be framed (`frame-ancestors 'none'`,
//! `X-Frame-Options: DENY`).

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::domain::ids::canonical_uuid;
use crate::domain::rate_limit::Bucket;
use crate::domain::time::month_bounds_ms;
use crate::http::body::JsonBody;
use crate::http::{query, ApiError, ErrorCode, Reply, Request};
use crate::oauth::redirect;
use crate::oauth::scope::{Scope, ScopeToken};
use crate::routes::rate_limit;
use crate::store::batch::Batch;
use crate::store::consent::{self, Candidate, Setting};
use crate::store::resources::{self, ResourceRow};

use super::authorize::{self, Consenter, Params, Requested, Respond};
use super::{invalid_request, oauth_error};

/// The web app's consent page.
const PAGE: &str = "/consent";

/// At most this many `resource` values are looked up for the description.
const MAX_RESOURCES: usize = 10;

/// `GET /v1/oauth/authorize` from a browser: no `Authorization`, no `DPoP`, and an `Accept`
/// that prefers HTML. Answered `303` to the consent page with the same query, which the page
/// hands to [`describe`]; an agent (JSON, or a credential) never gets here, so its `401
/// login_required` stays as it was.
pub fn browser_redirect(req: &Request) -> Option<Reply> {
    if req.headers.contains_key("authorization") || req.headers.contains_key("dpop") {
        return None;
    }
    if !req.header("accept").is_some_and(prefers_html) {
        return None;
    }
    let location = match req.query.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => format!("{PAGE}?{q}"),
        None => PAGE.to_owned(),
    };
    let value = HeaderValue::from_str(&location).ok()?;
    Some(
        Reply::json(StatusCode::SEE_OTHER, &json!({ "redirect_to": location }))
            .header(LOCATION, value),
    )
}

/// Whether an `Accept` header ranks `text/html` above `application/json` (a browser navigation
/// does; an API client asks for JSON or anything).
fn prefers_html(accept: &str) -> bool {
    let (mut html, mut json) = (0, 0);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1000), quality)
            .unwrap_or(0);
        if media.eq_ignore_ascii_case("text/html") {
            html = html.max(q);
        } else if media.eq_ignore_ascii_case("application/json") {
            json = json.max(q);
        }
    }
    html > 0 && html > json
}

/// An RFC 9110 §12.4.2 quality value (`0`, `0.8`, `1.000`) in thousandths; no float parsing,
/// which would bring the float tables into the Worker bundle.
fn quality(v: &str) -> Option<u16> {
    let (whole, fraction) = v.trim().split_once('.').unwrap_or((v.trim(), ""));
    let digits = fraction.len() <= 3 && fraction.bytes().all(|b| b.is_ascii_digit());
    let thousandths = format!("{fraction:0<3}")
        .parse::<u16>()
        .ok()
        .filter(|_| digits)?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// An overseer-session error in this endpoint's OAuth format, keeping its machine-readable code
/// (`invalid_session`, `csrf_check_failed`, …) as the `error`.
fn session_error(e: ApiError) -> ApiError {
    let keeps = e.code == ErrorCode::InternalError
        || e.code == ErrorCode::ConfigurationError
        || e.code == ErrorCode::RateLimited;
    if keeps {
        return e;
    }
    let mut mapped = oauth_error(e.status(), e.code.as_str(), e.message.clone());
    mapped.challenge = e.challenge;
    mapped
}

/// A scope of the request, with what it discloses.
#[derive(Serialize)]
struct ScopeView {
    name: &'static str,
    description: &'static str,
}

fn scope_view(token: ScopeToken) -> ScopeView {
    let description = match token {
        ScopeToken::Id => "The agent's identifier",
        ScopeToken::Name => "The agent's name",
        ScopeToken::Description => "The agent's description",
        ScopeToken::PubKey => "The agent's public key",
        ScopeToken::Subscription => "The agent's tier and subscription status",
    };
    ScopeView {
        name: token.as_str(),
        description,
    }
}

/// The client as the page shows it. A metadata-document client's `client_id` is its URL, whose
/// host the page shows prominently.
#[derive(Serialize)]
struct ClientView<'a> {
    client_id: &'a str,
    name: &'a str,
    /// The host of `client_id` when it is an https URL, else `null`.
    url_host: Option<&'a str>,
}

/// A requested resource: its registered name, or `null` when no resource has that URI.
#[derive(Serialize)]
struct ResourceView {
    uri: String,
    name: Option<String>,
}

/// Why the overseer cannot consent for an agent now (`null`: it can).
#[derive(Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Ineligible {
    OverseerConsentForbidden,
    ClientBlocked,
    OauthLimitReached,
}

#[derive(Serialize)]
struct CandidateView {
    id: String,
    name: String,
    overseer_consent: bool,
    blocked: bool,
    limit_reached: bool,
    eligible: bool,
    reason: Option<Ineligible>,
}

fn candidate_view(c: Candidate, limit: i64) -> CandidateView {
    let limit_reached = limit >= 0 && c.oauth_count >= limit;
    let reason = if !c.overseer_consent {
        Some(Ineligible::OverseerConsentForbidden)
    } else if c.blocked {
        Some(Ineligible::ClientBlocked)
    } else if limit_reached {
        Some(Ineligible::OauthLimitReached)
    } else {
        None
    };
    CandidateView {
        id: c.id,
        name: c.name,
        overseer_consent: c.overseer_consent,
        blocked: c.blocked,
        limit_reached,
        eligible: reason.is_none(),
        reason,
    }
}

#[derive(Serialize)]
struct Description<'a> {
    client: ClientView<'a>,
    redirect_uri: &'a str,
    redirect_host: &'a str,
    scopes: Vec<ScopeView>,
    resources: Vec<ResourceView>,
    state: Option<&'a str>,
    agents: Vec<CandidateView>,
}

/// The host of an absolute URI (`scheme://[userinfo@]host[:port]/…`), or `""`.
fn host_of(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("")
}

/// The `resource` values of the query, distinct, at most [`MAX_RESOURCES`].
fn requested_resources(q: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, value) in query::iter(q.unwrap_or("")) {
        if name == "resource" && !out.contains(&value) && out.len() < MAX_RESOURCES {
            out.push(value);
        }
    }
    out
}

/// The client and redirect URI are trusted, the client is enabled and the request passes the
/// protocol checks: otherwise the authorization endpoint's error, as JSON (never a redirect).
async fn checked_request(
    ctx: &Ctx<'_>,
    params: &Params,
    agent_id: &str,
) -> Result<(Requested, Option<Scope>), ApiError> {
    let requested = authorize::trusted_client(ctx, params, agent_id).await?;
    if requested.client.disabled {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client is disabled",
        ));
    }
    if params.response_type.is_none() {
        return Err(invalid_request("response_type is required"));
    }
    let scope = authorize::check(
        params,
        &requested.client,
        crate::domain::resource::issuer_is_loopback(&ctx.issuer),
    )?
    .identity_scope()
    .cloned();
    Ok((requested, scope))
}

/// `GET /v1/oauth/consent?<authorization request>`: what the consent page shows.
pub async fn describe(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let q = ctx.req.query.as_deref();
    let params = Params::from_query(q)?;
    let session = session::require_overseer(ctx)
        .await
        .map_err(session_error)?;
    let overseer_id = session.overseer.id.as_str();
    // No agent chosen yet: blocks are read per agent below.
    let (Requested { client, .. }, scope) = checked_request(ctx, &params, "").await?;

    let uris = requested_resources(q);
    let mut reads = Batch::new();
    let listed = reads.push(consent::candidates_statement(
        overseer_id,
        &client.id,
        month_bounds_ms(ctx.now_ms),
    ));
    let found: Vec<_> = uris
        .iter()
        .map(|u| reads.push(resources::find_by_uri_statement(u)))
        .collect();
    let mut out = reads.run(ctx.db()).await?;
    let candidates: Vec<Candidate> = out.take(listed).decode()?;
    let mut resources = Vec::with_capacity(uris.len());
    for (uri, step) in uris.into_iter().zip(found) {
        let row: Option<ResourceRow> = out.take(step).first()?;
        resources.push(ResourceView {
            uri,
            name: row.map(|r| r.name),
        });
    }
    // All of an overseer's agents share its tier: one agent's standing gives the limit.
    let limit = match candidates.first() {
        Some(c) => authorize::monthly_limit(ctx, &c.id).await?,
        None => -1,
    };
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    let url_host = client
        .id
        .starts_with("https://")
        .then(|| host_of(&client.id));
    Ok(Reply::ok(&Description {
        client: ClientView {
            client_id: &client.id,
            name: &client.name,
            url_host,
        },
        redirect_uri,
        redirect_host: host_of(redirect_uri),
        scopes: scope
            .iter()
            .flat_map(|s| s.tokens())
            .map(scope_view)
            .collect(),
        resources,
        state: params.state.as_deref(),
        agents: candidates
            .into_iter()
            .map(|c| candidate_view(c, limit))
            .collect(),
    }))
}

/// The overseer's decision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Approve,
    Deny,
}

fn decision(body: &JsonBody) -> Result<Decision, ApiError> {
    match body.opt_str("decision") {
        Ok(Some("approve")) => Ok(Decision::Approve),
        Ok(Some("deny")) => Ok(Decision::Deny),
        _ => Err(invalid_request("decision must be \"approve\" or \"deny\"")),
    }
}

/// `POST /v1/oauth/consent`: the overseer approves or denies the request for one of its agents.
/// `200` with `redirect_to`, where the page sends the browser (the client's redirect URI with
/// `code` or `error=access_denied`).
pub async fn decide(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req).map_err(|e| {
        let mut m = oauth_error(e.status(), "invalid_request", e.message.clone());
        m.code = e.code;
        m
    })?;
    let params = Params::from_json(&body)?;
    let session = session::require_overseer(ctx)
        .await
        .map_err(session_error)?;
    let decision = decision(&body)?;
    let agent_id = params
        .agent_id
        .as_deref()
        .and_then(canonical_uuid)
        .ok_or_else(|| invalid_request("agent_id must be the id of an agent you oversee"))?;
    // Not in the session check's batch: a generic read there costs more bundle than a round trip.
    let mut reads = Batch::new();
    let agent_step = reads.push(consent::overseen_agent_statement(
        &session.overseer.id,
        &agent_id,
    ));
    let setting_step = reads.push(consent::setting_statement(&agent_id));
    let mut out = reads.run(ctx.db()).await?;
    let overseen = out.take(agent_step);
    let setting: Option<Setting> = out.take(setting_step).first()?;
    let (Some(agent), Some(setting)) = (overseen.first::<AgentRow>()?, setting) else {
        return Err(oauth_error(
            StatusCode::NOT_FOUND,
            "agent_not_found",
            "no agent with this id is actively overseen by you",
        ));
    };
    if !setting.overseer_consent {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "overseer_consent_forbidden",
            "this agent does not allow its overseer to consent in its name",
        ));
    }
    rate_limit(ctx, Bucket::AuthorizeAgent, &agent.id).await?;
    let consenter = Consenter::Overseer {
        overseer_id: &session.overseer.id,
    };
    let (Requested { client, blocked }, scope) = checked_request(ctx, &params, &agent.id).await?;
    let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
    match decision {
        Decision::Approve => {
            authorize::approve(
                ctx,
                &agent,
                consenter,
                &client,
                blocked,
                &params,
                redirect_uri,
                &Respond::Json,
            )
            .await
        }
        Decision::Deny => {
            let scope = scope.map_or_else(
                || params.scope.clone().unwrap_or_default(),
                |s| s.to_string(),
            );
            authorize::deny(ctx, &agent, consenter, &client, &scope, "overseer_denied").await?;
            let mut out = vec![
                ("error", "access_denied"),
                ("error_description", "the overseer denied the request"),
            ];
            if let Some(s) = params.state.as_deref() {
                out.push(("state", s));
            }
            out.push(("iss", ctx.issuer.as_str()));
            let redirect_to = redirect::with_params(redirect_uri, &out);
            Ok(Reply::ok(&json!({ "redirect_to": redirect_to })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{host_of, prefers_html};

    #[test]
    fn a_browser_navigation_prefers_html_and_an_api_client_does_not() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                        image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        assert!(prefers_html(chromium));
        assert!(prefers_html("text/html"));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html("application/json, text/html;q=0.5"));
        assert!(!prefers_html("text/html;q=0"));
        assert!(!prefers_html("text/html, application/json"));
        assert!(prefers_html("application/json;q=0.5, text/html;q=0.501"));
        assert!(!prefers_html("text/html;q=2"));
        assert!(!prefers_html("text/html;q=0.1234"));
        assert!(!prefers_html("text/html;q=x"));
    }

    #[test]
    fn host_of_takes_the_authority_without_user_info() {
        assert_eq!(host_of("https://app.example.com/cb?x=1"), "app.example.com");
        assert_eq!(host_of("http://127.0.0.1:8123/cb"), "127.0.0.1:8123");
        assert_eq!(host_of("https://u@h.example#f"), "h.example");
        assert_eq!(host_of("not a uri"), "");
    }
}
