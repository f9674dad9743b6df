//! Matching and the facts every endpoint declares. The table itself (which names the handlers)
//! is `routes::table`; this module knows only the shape of an entry, so it stays below the
//! routes: exact paths (literal segments beat parameters), methods, and per-endpoint policies
//! for authentication challenges, DPoP nonces, CORS, caching and error bodies.

use http::Method;
use matchit::Router;

use crate::domain::ids::canonical_uuid;
use crate::http::error::Challenge;

/// One endpoint: where it answers, what it is called in logs, every policy the pipeline
/// applies to it, and its handler. No field has a default, so an entry states every fact.
#[derive(Debug)]
pub struct Endpoint<H: 'static> {
    /// A short stable name for logs (`agents.login`).
    pub name: &'static str,
    /// Every `(method, path template)` it answers, in matchit syntax (`/v1/agents/{id}`, also
    /// OpenAPI's). Several paths may share an endpoint (aliases of one document or resource).
    pub at: &'static [(Method, &'static str)],
    /// The credentials it takes, and so the challenge of its `401`s.
    pub auth: Auth,
    /// Whether it reads DPoP proofs, and so sends `DPoP-Nonce` when nonces are required.
    pub dpop: Dpop,
    pub cors: CorsPolicy,
    pub errors: ErrorFormat,
    pub pragma: Pragma,
    pub handler: H,
}

/// The credentials an endpoint takes (api.md 1.7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// None that HTTP authentication knows: public endpoints, and those whose proof is in the
    /// body (a password, a signed challenge). Their `401`s carry no challenge.
    None,
    /// A session token, `Authorization: Bearer`: `WWW-Authenticate: Bearer`.
    Bearer,
    /// An agent's DPoP proof: `WWW-Authenticate: DPoP`.
    Dpop,
    /// Either a session or a DPoP proof: both challenges.
    BearerOrDpop,
    /// OAuth client authentication (`private_key_jwt` in the form). The handler challenges only
    /// a client that tried the `Authorization` header, with that scheme (RFC 6749 §5.2).
    Client,
    /// A DPoP-bound access token at the resource server; the handler renders its
    /// RFC 6750 §3 / RFC 9449 §7.1 challenge.
    AccessToken,
    /// Paddle's `Paddle-Signature` over the body; its `401` carries no challenge.
    WebhookSignature,
}

impl Auth {
    /// The challenge the pipeline adds to a `401` the handler left without one.
    pub const fn challenge(self) -> Option<Challenge> {
        match self {
            Auth::Bearer => Some(Challenge::Bearer),
            Auth::Dpop => Some(Challenge::Dpop),
            Auth::BearerOrDpop => Some(Challenge::BearerAndDpop),
            Auth::None | Auth::Client | Auth::AccessToken | Auth::WebhookSignature => None,
        }
    }
}

/// Whether an endpoint reads DPoP proofs (api.md 1.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dpop {
    /// It does: with `DPOP_REQUIRE_NONCE=true` every answer carries a fresh `DPoP-Nonce`.
    Accepted,
    /// It does not: a `DPoP` header is not read and no nonce is sent.
    NotAccepted,
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

/// Whether answers also carry HTTP/1.0's `Pragma: no-cache` besides `Cache-Control`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pragma {
    /// `Pragma: no-cache` on every answer (the token endpoint, RFC 6749 §5.1).
    NoCache,
    Omitted,
}

/// What the response headers and error bodies depend on (`http::headers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub cors: CorsPolicy,
    pub errors: ErrorFormat,
    pub pragma: Pragma,
}

impl<H> Endpoint<H> {
    pub const fn policy(&self) -> Policy {
        Policy {
            cors: self.cors,
            errors: self.errors,
            pragma: self.pragma,
        }
    }

    /// Endpoints that accept DPoP proofs send `DPoP-Nonce` when nonces are required.
    pub const fn accepts_dpop(&self) -> bool {
        matches!(self.dpop, Dpop::Accepted)
    }
}

/// Whether `endpoints` is consistent where one fact implies another: an endpoint that
/// authenticates with DPoP proofs accepts them. Checked at compile time by the table.
pub const fn dpop_follows_auth<H>(endpoints: &[Endpoint<H>]) -> bool {
    let mut i = 0;
    while i < endpoints.len() {
        let e = &endpoints[i];
        if matches!(e.auth, Auth::Dpop | Auth::BearerOrDpop) && !e.accepts_dpop() {
            return false;
        }
        i += 1;
    }
    true
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
pub enum Routed<H: 'static> {
    Found(&'static Endpoint<H>, Params),
    /// `OPTIONS` on a known path: a CORS preflight.
    Preflight(&'static Endpoint<H>),
    MethodNotAllowed {
        allow: String,
    },
    NotFound,
}

/// The endpoints answering one path, in table order (which is the order of `Allow`).
type Methods<H> = Vec<(&'static Method, &'static Endpoint<H>)>;

/// Two entries claim the same `(method, path)`, or matchit refuses a path.
#[derive(Debug, PartialEq, Eq)]
pub struct Conflict(pub String);

/// The compiled route table.
pub struct Table<H: 'static> {
    router: Router<Methods<H>>,
}

impl<H> Table<H> {
    /// Compiles `endpoints`, or names the first conflict.
    pub fn try_new(endpoints: &'static [Endpoint<H>]) -> Result<Self, Conflict> {
        let mut paths: Vec<(&'static str, Methods<H>)> = Vec::new();
        for endpoint in endpoints {
            for (method, path) in endpoint.at {
                let i = match paths.iter().position(|(p, _)| p == path) {
                    Some(i) => i,
                    None => {
                        paths.push((path, Vec::new()));
                        paths.len() - 1
                    }
                };
                let methods = &mut paths[i].1;
                if methods.iter().any(|(m, _)| *m == method) {
                    return Err(Conflict(format!("{method} {path} is declared twice")));
                }
                methods.push((method, endpoint));
            }
        }
        let mut router = Router::new();
        for (path, methods) in paths {
            router
                .insert(path, methods)
                .map_err(|e| Conflict(format!("{path}: {e}")))?;
        }
        Ok(Self { router })
    }

    /// Compiles `endpoints`. The table is static; a conflict is a programming error that
    /// `routes::table`'s tests catch with [`Table::try_new`], so here it only empties the table
    /// (every request is then `404`) instead of panicking in the Worker.
    pub fn new(endpoints: &'static [Endpoint<H>]) -> Self {
        Self::try_new(endpoints).unwrap_or_else(|_| Self {
            router: Router::new(),
        })
    }

    pub fn route(&self, method: &Method, path: &str) -> Routed<H> {
        let Ok(m) = self.router.at(path) else {
            return Routed::NotFound;
        };
        let methods = m.value;
        if let Some((_, e)) = methods.iter().find(|(mm, _)| *mm == method) {
            let params = m
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            return Routed::Found(e, Params(params));
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
                return Routed::Preflight(e);
            }
        }
        let mut allow: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
        allow.push("OPTIONS");
        Routed::MethodNotAllowed {
            allow: allow.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn endpoint(name: &'static str, at: &'static [(Method, &'static str)]) -> Endpoint<()> {
        Endpoint {
            name,
            at,
            auth: Auth::None,
            dpop: Dpop::NotAccepted,
            cors: CorsPolicy::Public,
            errors: ErrorFormat::Api,
            pragma: Pragma::Omitted,
            handler: (),
        }
    }

    static SAMPLE: &[Endpoint<()>] = &[
        endpoint("health", &[(Method::GET, "/health")]),
        endpoint("me", &[(Method::GET, "/v1/agents/me")]),
        endpoint("login", &[(Method::POST, "/v1/agents/login")]),
        endpoint("profile", &[(Method::GET, "/v1/agents/{id}")]),
        endpoint(
            "either",
            &[(Method::GET, "/v1/either"), (Method::POST, "/v1/either")],
        ),
    ];

    fn name(r: Routed<()>) -> Option<&'static str> {
        match r {
            Routed::Found(e, _) => Some(e.name),
            _ => None,
        }
    }

    #[test]
    fn literal_segments_win_and_trailing_slashes_differ() {
        let t = Table::try_new(SAMPLE).unwrap();
        assert_eq!(name(t.route(&Method::GET, "/v1/agents/me")), Some("me"));
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
            Routed::Found(e, p) => {
                assert_eq!(e.name, "profile");
                assert_eq!(p.get("id"), Some("6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f"));
            }
            other => panic!("{other:?}"),
        }
        // Another method on a parameter that is not an id: no such resource.
        assert!(matches!(
            t.route(&Method::POST, "/v1/agents/register"),
            Routed::NotFound
        ));
        assert_eq!(
            name(t.route(&Method::GET, "/v1/agents/not-a-uuid")),
            Some("profile")
        );
        match t.route(&Method::DELETE, "/health") {
            Routed::MethodNotAllowed { allow } => assert_eq!(allow, "GET, OPTIONS"),
            other => panic!("{other:?}"),
        }
        match t.route(&Method::DELETE, "/v1/either") {
            Routed::MethodNotAllowed { allow } => assert_eq!(allow, "GET, POST, OPTIONS"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.route(&Method::OPTIONS, "/v1/either"),
            Routed::Preflight(e) if e.name == "either"
        ));
    }

    #[test]
    fn a_method_and_path_declared_twice_is_a_conflict() {
        static TWICE: &[Endpoint<()>] = &[
            endpoint("a", &[(Method::GET, "/x")]),
            endpoint("b", &[(Method::POST, "/x"), (Method::GET, "/x")]),
        ];
        assert_eq!(
            Table::try_new(TWICE).err(),
            Some(Conflict("GET /x is declared twice".to_owned()))
        );
        static CLASH: &[Endpoint<()>] = &[
            endpoint("a", &[(Method::GET, "/x/{id}")]),
            endpoint("b", &[(Method::GET, "/x/{other}")]),
        ];
        assert!(Table::try_new(CLASH).is_err());
        assert!(matches!(
            Table::new(CLASH).route(&Method::GET, "/x/1"),
            Routed::NotFound
        ));
    }

    #[test]
    fn an_endpoint_authenticated_by_dpop_must_accept_dpop() {
        static LIAR: &[Endpoint<()>] = &[Endpoint {
            auth: Auth::Dpop,
            ..endpoint("login", &[(Method::POST, "/login")])
        }];
        assert!(!dpop_follows_auth(LIAR));
        assert!(dpop_follows_auth(SAMPLE));
    }
}
