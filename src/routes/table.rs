//! Every endpoint the Worker answers, one entry each: where it answers, its log name, its
//! policies (credentials and challenge, DPoP nonces, CORS, error format, `Pragma`) and its
//! handler. The pipeline (`crate::app`), the response headers, the OpenAPI check
//! (`tests/openapi.rs`) and the challenge check (`tests/endpoint_table.rs`) all read this table;
//! no policy has a default, so a new endpoint states every fact or does not compile.

use std::future::Future;
use std::pin::Pin;

use http::Method;

use crate::config::{Config, ConfigError};
use crate::ctx::Ctx;
use crate::http::router::{self, Auth, CorsPolicy, Dpop, ErrorFormat, Pragma};
use crate::http::{ApiError, Reply};

use super::{
    account_data, account_sessions, account_settings, agent_card, agent_settings, agents, claims,
    clients, email_verification, http_signatures, key_directory, oauth, openapi, overseen,
    overseer_account, password_reset, registration, resources, rotation, service, shadow_claims,
    subscriptions, webhooks,
};

/// A handler's answer, boxed so that every handler has one type.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + 'a>>;

/// How the pipeline calls an endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// With the request's [`Ctx`]; without a usable configuration the pipeline answers
    /// `503 configuration_error` instead.
    Configured(for<'a> fn(&'a Ctx<'a>) -> Pending<'a>),
    /// Without a `Ctx`, also when the configuration is unusable: `/health` reports why.
    Unconfigured(fn(Result<&Config, &ConfigError>) -> Reply),
}

/// An entry of [`ENDPOINTS`].
pub type Endpoint = router::Endpoint<Handler>;

/// An `async fn(&Ctx<'_>) -> Result<Reply, ApiError>` as a [`Handler`].
macro_rules! handler {
    ($f:path) => {
        Handler::Configured(|ctx| Box::pin($f(ctx)))
    };
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

/// The table. Where two entries share a path, their order is the order of `Allow`.
#[rustfmt::skip]
pub static ENDPOINTS: &[Endpoint] = &[
    // Service
    Endpoint {
        name: "root", at: &[(GET, "/")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(service_info),
    },
    Endpoint {
        name: "service_info", at: &[(GET, "/v1")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(service_info),
    },
    Endpoint {
        name: "health", at: &[(GET, "/health")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: Handler::Unconfigured(service::health),
    },
    Endpoint {
        name: "openapi", at: &[(GET, "/openapi.json")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(openapi::document),
    },
    // Agents
    Endpoint {
        name: "agents.register_initiate", at: &[(POST, "/v1/agents/register/initiate")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(registration::initiate),
    },
    Endpoint {
        name: "agents.register_complete", at: &[(POST, "/v1/agents/register/complete/{challenge_id}")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(registration::complete),
    },
    Endpoint {
        name: "agents.login", at: &[(POST, "/v1/agents/login")],
        auth: Auth::Dpop, dpop: Dpop::Accepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::login),
    },
    Endpoint {
        name: "agents.logout", at: &[(POST, "/v1/agents/logout")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::logout),
    },
    Endpoint {
        name: "agents.me", at: &[(GET, "/v1/agents/me")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::me),
    },
    Endpoint {
        name: "agents.oauth_history", at: &[(GET, "/v1/agents/me/oauth-history")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::oauth_history),
    },
    Endpoint {
        name: "agents.overseer", at: &[(GET, "/v1/agents/me/overseer")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::overseer),
    },
    Endpoint {
        name: "agents.profile", at: &[(GET, "/v1/agents/{id}")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agents::profile),
    },
    // Web Bot Auth (issue 14)
    Endpoint {
        name: "agents.key_directory", at: &[(GET, "/v1/agents/{id}/http-message-signatures-directory")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(key_directory::directory),
    },
    Endpoint {
        name: "agents.card", at: &[(GET, "/v1/agents/{id}/card")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agent_card::card),
    },
    Endpoint {
        name: "agents.did", at: &[(GET, "/v1/agents/{id}/did.json")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(key_directory::did_document),
    },
    Endpoint {
        name: "agents.remove_previous_key", at: &[(DELETE, "/v1/agents/me/keys/{kid}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(key_directory::remove_previous_key),
    },
    Endpoint {
        name: "verify.http_signature", at: &[(POST, "/v1/verify/http-signature")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(http_signatures::verify),
    },
    Endpoint {
        name: "agents.rotate_initiate", at: &[(POST, "/v1/agents/rotate-key/initiate")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(rotation::initiate),
    },
    Endpoint {
        name: "agents.rotate_complete", at: &[(POST, "/v1/agents/rotate-key/complete/{challenge_id}")],
        auth: Auth::Dpop, dpop: Dpop::Accepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(rotation::complete),
    },
    // Claims
    Endpoint {
        name: "claims.initiate", at: &[(POST, "/v1/agents/claim/initiate")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(claims::initiate),
    },
    Endpoint {
        name: "claims.complete", at: &[(POST, "/v1/agents/claim/complete/{challenge_id}")],
        auth: Auth::BearerOrDpop, dpop: Dpop::Accepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(claims::complete),
    },
    Endpoint {
        name: "claims.status", at: &[(GET, "/v1/agents/claim/status/{challenge_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(claims::status),
    },
    Endpoint {
        name: "claims.revoke_overseer", at: &[(POST, "/v1/agents/revoke-overseer")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(claims::revoke_overseer),
    },
    Endpoint {
        name: "claims.declaim", at: &[(POST, "/v1/agents/declaim/{agent_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(claims::declaim),
    },
    Endpoint {
        name: "shadow.initiate", at: &[(POST, "/v1/agents/malice/{agent_id}")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(shadow_claims::initiate),
    },
    Endpoint {
        name: "shadow.status", at: &[(GET, "/v1/agents/malice/status/{challenge_id}")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(shadow_claims::status),
    },
    // Oversight
    Endpoint {
        name: "oversight.block_client", at: &[(POST, "/v1/overseers/agents/{agent_id}/block-client")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::block),
    },
    Endpoint {
        name: "oversight.unblock_client",
        at: &[(DELETE, "/v1/overseers/agents/{agent_id}/block-client/{client_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::unblock),
    },
    Endpoint {
        name: "oversight.blocked_clients",
        at: &[(GET, "/v1/overseers/agents/{agent_id}/blocked-clients")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::blocked),
    },
    Endpoint {
        name: "oversight.agents", at: &[(GET, "/v1/overseers/{id}/agents")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::agents),
    },
    Endpoint {
        name: "oversight.mark_agent",
        at: &[(PUT, "/v1/overseers/{id}/agents/{agent_id}/cancellation")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::mark_agent),
    },
    Endpoint {
        name: "oversight.clients", at: &[(GET, "/v1/overseers/{id}/clients")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::clients),
    },
    Endpoint {
        name: "oversight.mark_client",
        at: &[(PUT, "/v1/overseers/{id}/clients/{client_id}/cancellation")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseen::mark_client),
    },
    // Live grants (issue 12): an agent's grants, listed and revoked by the agent or its overseer
    Endpoint {
        name: "grants.agent_list", at: &[(GET, "/v1/agents/me/grants")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(super::grants::agent_list),
    },
    Endpoint {
        name: "grants.agent_revoke", at: &[(DELETE, "/v1/agents/me/grants/{grant_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(super::grants::agent_revoke),
    },
    Endpoint {
        name: "grants.overseer_list", at: &[(GET, "/v1/overseers/agents/{agent_id}/grants")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(super::grants::overseer_list),
    },
    Endpoint {
        name: "grants.overseer_revoke",
        at: &[(DELETE, "/v1/overseers/agents/{agent_id}/grants/{grant_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(super::grants::overseer_revoke),
    },
    // OAuth clients
    Endpoint {
        name: "clients.register", at: &[(POST, "/v1/clients/register/{owner_type}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(clients::register),
    },
    Endpoint {
        name: "clients.list", at: &[(GET, "/v1/clients/list/{owner_type}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(clients::list),
    },
    Endpoint {
        name: "clients.key", at: &[(PUT, "/v1/clients/{client_id}/key")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(clients::rekey),
    },
    Endpoint {
        name: "clients.delete", at: &[(DELETE, "/v1/clients/{client_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(clients::delete),
    },
    Endpoint {
        name: "clients.enable", at: &[(PUT, "/v1/clients/{client_id}/enable")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(clients::enable),
    },
    // Protected resources (issue 10, slice res): the overseer's registrations and the public
    // RFC 9728 metadata document of each.
    Endpoint {
        name: "resources.register", at: &[(POST, "/v1/overseers/me/resources")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::register),
    },
    Endpoint {
        name: "resources.list", at: &[(GET, "/v1/overseers/me/resources")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::list),
    },
    Endpoint {
        name: "resources.get", at: &[(GET, "/v1/overseers/me/resources/{resource_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::get),
    },
    Endpoint {
        name: "resources.update", at: &[(PATCH, "/v1/overseers/me/resources/{resource_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::update),
    },
    Endpoint {
        name: "resources.delete", at: &[(DELETE, "/v1/overseers/me/resources/{resource_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::delete),
    },
    Endpoint {
        name: "resources.metadata", at: &[(GET, "/v1/resources/{resource_id}/oauth-protected-resource")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(resources::metadata),
    },
    // OAuth 2.1 / OpenID Connect
    Endpoint {
        name: "oauth.discovery",
        at: &[
            (GET, "/.well-known/oauth-authorization-server"),
            (GET, "/.well-known/openid-configuration"),
            (GET, "/v1/oauth/.well-known/openid-configuration"),
        ],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(discovery_metadata),
    },
    Endpoint {
        name: "oauth.jwks", at: &[(GET, "/.well-known/jwks.json")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(discovery_jwks),
    },
    // Consent by the overseer in the browser, and the agent's setting forbidding it (issue 10, consent)
    Endpoint {
        name: "oauth.consent_describe", at: &[(GET, "/v1/oauth/consent")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted, handler: handler!(oauth::consent::describe),
    },
    Endpoint {
        name: "oauth.consent_decide", at: &[(POST, "/v1/oauth/consent")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted, handler: handler!(oauth::consent::decide),
    },
    Endpoint {
        name: "agents.settings", at: &[(GET, "/v1/agents/me/settings")],
        auth: Auth::BearerOrDpop, dpop: Dpop::Accepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agent_settings::get),
    },
    Endpoint {
        name: "agents.change_settings", at: &[(PUT, "/v1/agents/me/settings")],
        auth: Auth::BearerOrDpop, dpop: Dpop::Accepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(agent_settings::put),
    },
    Endpoint {
        name: "oauth.authorize_get", at: &[(GET, "/v1/oauth/authorize")],
        auth: Auth::BearerOrDpop, dpop: Dpop::Accepted, cors: CorsPolicy::Never,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted, handler: handler!(oauth::authorize::get),
    },
    Endpoint {
        name: "oauth.authorize_post", at: &[(POST, "/v1/oauth/authorize")],
        auth: Auth::BearerOrDpop, dpop: Dpop::Accepted, cors: CorsPolicy::Never,
        errors: ErrorFormat::OAuthWithSuccess, pragma: Pragma::Omitted,
        handler: handler!(oauth::authorize::post),
    },
    Endpoint {
        name: "oauth.token", at: &[(POST, "/v1/oauth/token")],
        auth: Auth::Client, dpop: Dpop::Accepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::OAuth, pragma: Pragma::NoCache, handler: handler!(oauth::token::token),
    },
    Endpoint {
        name: "oauth.userinfo", at: &[(GET, "/v1/oauth/userinfo"), (POST, "/v1/oauth/userinfo")],
        auth: Auth::AccessToken, dpop: Dpop::Accepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted,
        handler: handler!(oauth::resource::userinfo),
    },
    Endpoint {
        name: "oauth.revoke", at: &[(POST, "/v1/oauth/revoke")],
        auth: Auth::Client, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted,
        handler: handler!(oauth::revocation::revoke),
    },
    Endpoint {
        name: "oauth.introspect", at: &[(POST, "/v1/oauth/introspect")],
        auth: Auth::Client, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::OAuth, pragma: Pragma::Omitted,
        handler: handler!(oauth::revocation::introspect),
    },
    // Overseers
    Endpoint {
        name: "overseers.register", at: &[(POST, "/v1/overseers/register")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::register),
    },
    Endpoint {
        name: "overseers.login", at: &[(POST, "/v1/overseers/login")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::login),
    },
    // Overseer e-mail verification and password reset (issue 12)
    Endpoint {
        name: "overseers.email_verification_send", at: &[(POST, "/v1/overseers/email-verification")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(email_verification::resend),
    },
    Endpoint {
        name: "overseers.email_verification_complete",
        at: &[(POST, "/v1/overseers/email-verification/complete")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(email_verification::complete),
    },
    Endpoint {
        name: "overseers.password_reset", at: &[(POST, "/v1/overseers/password-reset")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(password_reset::request),
    },
    Endpoint {
        name: "overseers.password_reset_complete",
        at: &[(POST, "/v1/overseers/password-reset/complete")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(password_reset::complete),
    },
    Endpoint {
        name: "overseers.logout", at: &[(POST, "/v1/overseers/logout")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::logout),
    },
    Endpoint {
        name: "overseers.me", at: &[(GET, "/v1/overseers/me")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::me),
    },
    Endpoint {
        name: "overseers.agents", at: &[(GET, "/v1/overseers/me/agents")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::my_agents),
    },
    Endpoint {
        name: "overseers.audit", at: &[(GET, "/v1/overseers/me/audit")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(overseer_account::my_audit),
    },
    // Overseer account settings (issue 12)
    Endpoint {
        name: "account.change_password", at: &[(POST, "/v1/overseers/me/password")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(account_settings::change_password),
    },
    Endpoint {
        name: "account.change_email", at: &[(POST, "/v1/overseers/me/email")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(account_settings::request_email_change),
    },
    Endpoint {
        name: "account.confirm_email", at: &[(POST, "/v1/overseers/me/email/confirm")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(account_settings::confirm_email_change),
    },
    Endpoint {
        name: "account.sessions", at: &[(GET, "/v1/overseers/me/sessions")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(account_sessions::list),
    },
    Endpoint {
        name: "account.end_other_sessions", at: &[(DELETE, "/v1/overseers/me/sessions")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(account_sessions::end_others),
    },
    Endpoint {
        name: "account.end_session", at: &[(DELETE, "/v1/overseers/me/sessions/{session_id}")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(account_sessions::end_one),
    },
    Endpoint {
        name: "account.export", at: &[(GET, "/v1/overseers/me/export")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(account_data::export),
    },
    Endpoint {
        name: "account.delete", at: &[(POST, "/v1/overseers/me/delete")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(account_data::delete),
    },
    // Subscriptions and billing
    Endpoint {
        name: "subscriptions.tiers", at: &[(GET, "/v1/subscriptions/tiers")],
        auth: Auth::None, dpop: Dpop::NotAccepted, cors: CorsPolicy::Public,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(subscriptions::tiers),
    },
    Endpoint {
        name: "subscriptions.me",
        at: &[(GET, "/v1/overseers/me/subscription"), (GET, "/v1/subscriptions/me")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(subscriptions::me),
    },
    Endpoint {
        name: "subscriptions.usage",
        at: &[(GET, "/v1/overseers/me/usage"), (GET, "/v1/subscriptions/usage")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(subscriptions::usage_route),
    },
    Endpoint {
        name: "subscriptions.upgrade", at: &[(POST, "/v1/subscriptions/upgrade")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(subscriptions::upgrade),
    },
    Endpoint {
        name: "subscriptions.cancel", at: &[(POST, "/v1/subscriptions/cancel")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(subscriptions::cancel),
    },
    // Billing portal and payment failures (issue 12)
    Endpoint {
        name: "subscriptions.portal", at: &[(POST, "/v1/subscriptions/portal")],
        auth: Auth::Bearer, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted,
        handler: handler!(super::billing_portal::portal),
    },
    Endpoint {
        name: "webhooks.paddle", at: &[(POST, "/v1/webhooks/paddle")],
        auth: Auth::WebhookSignature, dpop: Dpop::NotAccepted, cors: CorsPolicy::Session,
        errors: ErrorFormat::Api, pragma: Pragma::Omitted, handler: handler!(webhooks::paddle),
    },
];

// An endpoint authenticated by a DPoP proof reads proofs, so it sends nonces.
const _: () = assert!(router::dpop_follows_auth(ENDPOINTS));

/// Every `(method, path template)` the table answers. `OPTIONS` (CORS preflight on every path)
/// and `HEAD` (answered only for the web app's files, never by the API) are not listed.
pub fn operations() -> impl Iterator<Item = (&'static Method, &'static str)> {
    ENDPOINTS
        .iter()
        .flat_map(|e| e.at.iter().map(|(method, path)| (method, *path)))
}

// Adapters for the handlers that answer without awaiting anything.

async fn service_info(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    Ok(service::info(ctx))
}

async fn discovery_metadata(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    Ok(oauth::discovery::metadata(ctx))
}

async fn discovery_jwks(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    oauth::discovery::jwks(ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::router::Table;

    #[test]
    fn the_table_compiles_without_conflicts() {
        Table::try_new(ENDPOINTS).unwrap();
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ENDPOINTS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn removed_paths_are_not_found() {
        let t = Table::new(ENDPOINTS);
        for removed in [
            "/v1/agents/register",
            "/v1/agents/complete-login",
            "/v1/agents/respond-claim",
        ] {
            assert!(
                matches!(t.route(&POST, removed), router::Routed::NotFound),
                "{removed}"
            );
        }
    }
}
