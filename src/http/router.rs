//! The route table: exact paths (literal segments beat parameters), methods, and per-route
//! policies for CORS, caching and DPoP nonces.

use http::Method;
use matchit::Router;

use crate::domain::ids::canonical_uuid;
use crate::http::error::Challenge;

/// Every endpoint the Worker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    ServiceInfo,
    Health,
    OpenApi,
    RegisterInitiate,
    RegisterComplete,
    AgentLogin,
    AgentLogout,
    AgentMe,
    AgentOauthHistory,
    AgentOverseer,
    AgentProfile,
    RotateKeyInitiate,
    RotateKeyComplete,
    ClaimInitiate,
    ClaimComplete,
    ClaimStatus,
    RevokeOverseer,
    Declaim,
    MaliceInitiate,
    MaliceStatus,
    BlockClient,
    UnblockClient,
    BlockedClients,
    OverseerAgentsById,
    MarkAgent,
    OverseerClientsById,
    MarkClient,
    ClientRegister,
    ClientList,
    ClientKey,
    ClientDelete,
    ClientEnable,
    Discovery,
    Jwks,
    AuthorizePost,
    AuthorizeGet,
    Token,
    Userinfo,
    Revoke,
    Introspect,
    OverseerRegister,
    OverseerLogin,
    OverseerLogout,
    OverseerMe,
    OverseerAgents,
    OverseerAudit,
    SubscriptionTiers,
    SubscriptionMe,
    SubscriptionUsage,
    SubscriptionUpgrade,
    SubscriptionCancel,
    PaddleWebhook,
}

/// How an endpoint renders errors (api.md 1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `{"success": false, "error", "code"}`.
    Api,
    /// RFC 6749 `{"error", "error_description"}`.
    OAuth,
    /// RFC 6749 plus `"success": false` (the agent-facing JSON authorize API).
    OAuthWithSuccess,
}

/// Who may call an endpoint from a browser of another origin (api.md 1.7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorsPolicy {
    /// `Access-Control-Allow-Origin: *`, never with credentials.
    Public,
    /// Only origins in `CORS_ALLOWED_ORIGINS`.
    Session,
    /// Never any CORS header (the authorization endpoint, RFC 9700 §4.16).
    Never,
}

impl Endpoint {
    pub const fn cors(self) -> CorsPolicy {
        match self {
            Endpoint::Health
            | Endpoint::OpenApi
            | Endpoint::SubscriptionTiers
            | Endpoint::Discovery
            | Endpoint::Jwks
            | Endpoint::Token
            | Endpoint::Userinfo
            | Endpoint::Revoke
            | Endpoint::Introspect => CorsPolicy::Public,
            Endpoint::AuthorizePost | Endpoint::AuthorizeGet => CorsPolicy::Never,
            _ => CorsPolicy::Session,
        }
    }

    /// The challenge every `401` of this endpoint announces (api.md 1.7.3).
    pub const fn challenge(self) -> Option<Challenge> {
        match self {
            Endpoint::AgentLogin | Endpoint::RotateKeyComplete => Some(Challenge::Dpop),
            Endpoint::ClaimComplete | Endpoint::AuthorizePost | Endpoint::AuthorizeGet => {
                Some(Challenge::BearerAndDpop)
            }
            Endpoint::AgentLogout
            | Endpoint::AgentMe
            | Endpoint::AgentOauthHistory
            | Endpoint::AgentOverseer
            | Endpoint::RotateKeyInitiate
            | Endpoint::ClaimInitiate
            | Endpoint::ClaimStatus
            | Endpoint::RevokeOverseer
            | Endpoint::Declaim
            | Endpoint::BlockClient
            | Endpoint::UnblockClient
            | Endpoint::BlockedClients
            | Endpoint::OverseerAgentsById
            | Endpoint::MarkAgent
            | Endpoint::OverseerClientsById
            | Endpoint::MarkClient
            | Endpoint::ClientRegister
            | Endpoint::ClientList
            | Endpoint::ClientKey
            | Endpoint::ClientDelete
            | Endpoint::ClientEnable
            | Endpoint::OverseerLogout
            | Endpoint::OverseerMe
            | Endpoint::OverseerAgents
            | Endpoint::OverseerAudit
            | Endpoint::SubscriptionMe
            | Endpoint::SubscriptionUsage
            | Endpoint::SubscriptionUpgrade
            | Endpoint::SubscriptionCancel => Some(Challenge::Bearer),
            _ => None,
        }
    }

    /// Endpoints that accept DPoP proofs send `DPoP-Nonce` when nonces are required.
    pub const fn accepts_dpop(self) -> bool {
        matches!(
            self,
            Endpoint::AgentLogin
                | Endpoint::RotateKeyComplete
                | Endpoint::ClaimComplete
                | Endpoint::AuthorizePost
                | Endpoint::AuthorizeGet
                | Endpoint::Token
                | Endpoint::Userinfo
        )
    }

    pub const fn error_format(self) -> ErrorFormat {
        match self {
            Endpoint::AuthorizePost => ErrorFormat::OAuthWithSuccess,
            Endpoint::AuthorizeGet
            | Endpoint::Token
            | Endpoint::Userinfo
            | Endpoint::Revoke
            | Endpoint::Introspect => ErrorFormat::OAuth,
            _ => ErrorFormat::Api,
        }
    }

    /// The token endpoint also sends `Pragma: no-cache` (RFC 6749 §5.1).
    pub const fn is_token(self) -> bool {
        matches!(self, Endpoint::Token)
    }

    /// A short stable name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Endpoint::Root => "root",
            Endpoint::ServiceInfo => "service_info",
            Endpoint::Health => "health",
            Endpoint::OpenApi => "openapi",
            Endpoint::RegisterInitiate => "agents.register_initiate",
            Endpoint::RegisterComplete => "agents.register_complete",
            Endpoint::AgentLogin => "agents.login",
            Endpoint::AgentLogout => "agents.logout",
            Endpoint::AgentMe => "agents.me",
            Endpoint::AgentOauthHistory => "agents.oauth_history",
            Endpoint::AgentOverseer => "agents.overseer",
            Endpoint::AgentProfile => "agents.profile",
            Endpoint::RotateKeyInitiate => "agents.rotate_initiate",
            Endpoint::RotateKeyComplete => "agents.rotate_complete",
            Endpoint::ClaimInitiate => "claims.initiate",
            Endpoint::ClaimComplete => "claims.complete",
            Endpoint::ClaimStatus => "claims.status",
            Endpoint::RevokeOverseer => "claims.revoke_overseer",
            Endpoint::Declaim => "claims.declaim",
            Endpoint::MaliceInitiate => "shadow.initiate",
            Endpoint::MaliceStatus => "shadow.status",
            Endpoint::BlockClient => "oversight.block_client",
            Endpoint::UnblockClient => "oversight.unblock_client",
            Endpoint::BlockedClients => "oversight.blocked_clients",
            Endpoint::OverseerAgentsById => "oversight.agents",
            Endpoint::MarkAgent => "oversight.mark_agent",
            Endpoint::OverseerClientsById => "oversight.clients",
            Endpoint::MarkClient => "oversight.mark_client",
            Endpoint::ClientRegister => "clients.register",
            Endpoint::ClientList => "clients.list",
            Endpoint::ClientKey => "clients.key",
            Endpoint::ClientDelete => "clients.delete",
            Endpoint::ClientEnable => "clients.enable",
            Endpoint::Discovery => "oauth.discovery",
            Endpoint::Jwks => "oauth.jwks",
            Endpoint::AuthorizePost => "oauth.authorize_post",
            Endpoint::AuthorizeGet => "oauth.authorize_get",
            Endpoint::Token => "oauth.token",
            Endpoint::Userinfo => "oauth.userinfo",
            Endpoint::Revoke => "oauth.revoke",
            Endpoint::Introspect => "oauth.introspect",
            Endpoint::OverseerRegister => "overseers.register",
            Endpoint::OverseerLogin => "overseers.login",
            Endpoint::OverseerLogout => "overseers.logout",
            Endpoint::OverseerMe => "overseers.me",
            Endpoint::OverseerAgents => "overseers.agents",
            Endpoint::OverseerAudit => "overseers.audit",
            Endpoint::SubscriptionTiers => "subscriptions.tiers",
            Endpoint::SubscriptionMe => "subscriptions.me",
            Endpoint::SubscriptionUsage => "subscriptions.usage",
            Endpoint::SubscriptionUpgrade => "subscriptions.upgrade",
            Endpoint::SubscriptionCancel => "subscriptions.cancel",
            Endpoint::PaddleWebhook => "webhooks.paddle",
        }
    }
}

type Methods = &'static [(Method, Endpoint)];

const ROUTES: &[(&str, Methods)] = &[
    ("/", &[(Method::GET, Endpoint::Root)]),
    ("/v1", &[(Method::GET, Endpoint::ServiceInfo)]),
    ("/health", &[(Method::GET, Endpoint::Health)]),
    ("/openapi.json", &[(Method::GET, Endpoint::OpenApi)]),
    (
        "/v1/agents/register/initiate",
        &[(Method::POST, Endpoint::RegisterInitiate)],
    ),
    (
        "/v1/agents/register/complete/{challenge_id}",
        &[(Method::POST, Endpoint::RegisterComplete)],
    ),
    ("/v1/agents/login", &[(Method::POST, Endpoint::AgentLogin)]),
    (
        "/v1/agents/logout",
        &[(Method::POST, Endpoint::AgentLogout)],
    ),
    ("/v1/agents/me", &[(Method::GET, Endpoint::AgentMe)]),
    (
        "/v1/agents/me/oauth-history",
        &[(Method::GET, Endpoint::AgentOauthHistory)],
    ),
    (
        "/v1/agents/me/overseer",
        &[(Method::GET, Endpoint::AgentOverseer)],
    ),
    ("/v1/agents/{id}", &[(Method::GET, Endpoint::AgentProfile)]),
    (
        "/v1/agents/rotate-key/initiate",
        &[(Method::POST, Endpoint::RotateKeyInitiate)],
    ),
    (
        "/v1/agents/rotate-key/complete/{challenge_id}",
        &[(Method::POST, Endpoint::RotateKeyComplete)],
    ),
    (
        "/v1/overseers/register",
        &[(Method::POST, Endpoint::OverseerRegister)],
    ),
    (
        "/v1/overseers/login",
        &[(Method::POST, Endpoint::OverseerLogin)],
    ),
    (
        "/v1/overseers/logout",
        &[(Method::POST, Endpoint::OverseerLogout)],
    ),
    ("/v1/overseers/me", &[(Method::GET, Endpoint::OverseerMe)]),
    (
        "/v1/overseers/me/agents",
        &[(Method::GET, Endpoint::OverseerAgents)],
    ),
    (
        "/v1/overseers/me/audit",
        &[(Method::GET, Endpoint::OverseerAudit)],
    ),
    (
        "/v1/overseers/me/subscription",
        &[(Method::GET, Endpoint::SubscriptionMe)],
    ),
    (
        "/v1/overseers/me/usage",
        &[(Method::GET, Endpoint::SubscriptionUsage)],
    ),
    (
        "/v1/subscriptions/tiers",
        &[(Method::GET, Endpoint::SubscriptionTiers)],
    ),
    (
        "/v1/subscriptions/me",
        &[(Method::GET, Endpoint::SubscriptionMe)],
    ),
    (
        "/v1/subscriptions/usage",
        &[(Method::GET, Endpoint::SubscriptionUsage)],
    ),
    (
        "/v1/agents/claim/initiate",
        &[(Method::POST, Endpoint::ClaimInitiate)],
    ),
    (
        "/v1/agents/claim/complete/{challenge_id}",
        &[(Method::POST, Endpoint::ClaimComplete)],
    ),
    (
        "/v1/agents/claim/status/{challenge_id}",
        &[(Method::GET, Endpoint::ClaimStatus)],
    ),
    (
        "/v1/agents/revoke-overseer",
        &[(Method::POST, Endpoint::RevokeOverseer)],
    ),
    (
        "/v1/agents/declaim/{agent_id}",
        &[(Method::POST, Endpoint::Declaim)],
    ),
    (
        "/v1/agents/malice/{agent_id}",
        &[(Method::POST, Endpoint::MaliceInitiate)],
    ),
    (
        "/v1/agents/malice/status/{challenge_id}",
        &[(Method::GET, Endpoint::MaliceStatus)],
    ),
    (
        "/v1/overseers/agents/{agent_id}/block-client",
        &[(Method::POST, Endpoint::BlockClient)],
    ),
    (
        "/v1/overseers/agents/{agent_id}/block-client/{client_id}",
        &[(Method::DELETE, Endpoint::UnblockClient)],
    ),
    (
        "/v1/overseers/agents/{agent_id}/blocked-clients",
        &[(Method::GET, Endpoint::BlockedClients)],
    ),
    (
        "/v1/overseers/{id}/agents",
        &[(Method::GET, Endpoint::OverseerAgentsById)],
    ),
    (
        "/v1/overseers/{id}/agents/{agent_id}/cancellation",
        &[(Method::PUT, Endpoint::MarkAgent)],
    ),
    (
        "/v1/overseers/{id}/clients",
        &[(Method::GET, Endpoint::OverseerClientsById)],
    ),
    (
        "/v1/overseers/{id}/clients/{client_id}/cancellation",
        &[(Method::PUT, Endpoint::MarkClient)],
    ),
    (
        "/v1/clients/register/{owner_type}",
        &[(Method::POST, Endpoint::ClientRegister)],
    ),
    (
        "/v1/clients/list/{owner_type}",
        &[(Method::GET, Endpoint::ClientList)],
    ),
    (
        "/v1/clients/{client_id}",
        &[(Method::DELETE, Endpoint::ClientDelete)],
    ),
    (
        "/v1/clients/{client_id}/key",
        &[(Method::PUT, Endpoint::ClientKey)],
    ),
    (
        "/v1/clients/{client_id}/enable",
        &[(Method::PUT, Endpoint::ClientEnable)],
    ),
    (
        "/.well-known/oauth-authorization-server",
        &[(Method::GET, Endpoint::Discovery)],
    ),
    (
        "/.well-known/openid-configuration",
        &[(Method::GET, Endpoint::Discovery)],
    ),
    (
        "/v1/oauth/.well-known/openid-configuration",
        &[(Method::GET, Endpoint::Discovery)],
    ),
    ("/.well-known/jwks.json", &[(Method::GET, Endpoint::Jwks)]),
    (
        "/v1/oauth/authorize",
        &[
            (Method::GET, Endpoint::AuthorizeGet),
            (Method::POST, Endpoint::AuthorizePost),
        ],
    ),
    ("/v1/oauth/token", &[(Method::POST, Endpoint::Token)]),
    (
        "/v1/oauth/userinfo",
        &[
            (Method::GET, Endpoint::Userinfo),
            (Method::POST, Endpoint::Userinfo),
        ],
    ),
    ("/v1/oauth/revoke", &[(Method::POST, Endpoint::Revoke)]),
    (
        "/v1/oauth/introspect",
        &[(Method::POST, Endpoint::Introspect)],
    ),
    (
        "/v1/subscriptions/upgrade",
        &[(Method::POST, Endpoint::SubscriptionUpgrade)],
    ),
    (
        "/v1/subscriptions/cancel",
        &[(Method::POST, Endpoint::SubscriptionCancel)],
    ),
    (
        "/v1/webhooks/paddle",
        &[(Method::POST, Endpoint::PaddleWebhook)],
    ),
];

/// Every `(method, path template)` the table answers, in matchit syntax (`/v1/agents/{id}`,
/// which is also OpenAPI's). `OPTIONS` (CORS preflight on every path) and `HEAD` (answered only
/// for the web app's files, never by the API) are not listed. `tests/openapi.rs` checks this list
/// against `openapi/openapi.json` in both directions.
pub fn operations() -> impl Iterator<Item = (&'static Method, &'static str)> {
    ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(move |(m, _)| (m, *path)))
}

/// Path parameters of a matched route.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of routing.
#[derive(Debug)]
pub enum Routed {
    Found(Endpoint, Params),
    /// `OPTIONS` on a known path: a CORS preflight.
    Preflight(Endpoint),
    MethodNotAllowed {
        allow: String,
    },
    NotFound,
}

/// The compiled route table.
pub struct Table {
    router: Router<Methods>,
}

impl Table {
    pub fn new() -> Self {
        let mut router = Router::new();
        for (path, methods) in ROUTES {
            // The table is static and conflict-free; a bad entry is a programming error caught
            // by `route_table_compiles` below, so skipping it here cannot go unnoticed.
            let _ = router.insert(*path, *methods);
        }
        Self { router }
    }

    pub fn route(&self, method: &Method, path: &str) -> Routed {
        let Ok(m) = self.router.at(path) else {
            return Routed::NotFound;
        };
        let methods = *m.value;
        if let Some((_, e)) = methods.iter().find(|(mm, _)| mm == method) {
            let params = m
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            return Routed::Found(*e, Params(params));
        }
        // A parameter that is not an id cannot name a resource, so the path does not exist:
        // `POST /v1/agents/register` is 404, not "405 from GET /v1/agents/{id}".
        let is_id = |name: &str| name == "id" || name.ends_with("_id");
        if m.params
            .iter()
            .any(|(k, v)| is_id(k) && canonical_uuid(v).is_none())
        {
            return Routed::NotFound;
        }
        if method == Method::OPTIONS {
            if let Some((_, e)) = methods.first() {
                return Routed::Preflight(*e);
            }
        }
        let mut allow: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
        allow.push("OPTIONS");
        Routed::MethodNotAllowed {
            allow: allow.join(", "),
        }
    }
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_compiles() {
        let mut router = Router::new();
        for (path, methods) in ROUTES {
            router.insert(*path, *methods).unwrap();
        }
    }

    #[test]
    fn literal_segments_win_and_trailing_slashes_differ() {
        let t = Table::new();
        assert!(matches!(
            t.route(&Method::GET, "/v1/agents/me"),
            Routed::Found(Endpoint::AgentMe, _)
        ));
        assert!(matches!(
            t.route(&Method::GET, "/v1/agents/login"),
            Routed::MethodNotAllowed { .. }
        ));
        assert!(matches!(
            t.route(&Method::GET, "/v1/agents/me/"),
            Routed::NotFound
        ));
        assert!(matches!(
            t.route(&Method::GET, "/v1/agents"),
            Routed::NotFound
        ));
        match t.route(
            &Method::GET,
            "/v1/agents/6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f",
        ) {
            Routed::Found(Endpoint::AgentProfile, p) => {
                assert_eq!(p.get("id"), Some("6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f"));
            }
            other => panic!("{other:?}"),
        }
        for removed in [
            "/v1/agents/register",
            "/v1/agents/complete-login",
            "/v1/agents/respond-claim",
        ] {
            assert!(
                matches!(t.route(&Method::POST, removed), Routed::NotFound),
                "{removed}"
            );
        }
        assert!(matches!(
            t.route(&Method::GET, "/v1/agents/not-a-uuid"),
            Routed::Found(Endpoint::AgentProfile, _)
        ));
        match t.route(&Method::DELETE, "/health") {
            Routed::MethodNotAllowed { allow } => assert_eq!(allow, "GET, OPTIONS"),
            other => panic!("{other:?}"),
        }
    }
}
