//! Finding who protects a resource: the `WWW-Authenticate` challenge of a 401 (RFC 9110 §11.6.1,
//! `resource_metadata` of RFC 9728 §5.1), the protected resource's metadata (RFC 9728) and its
//! authorization server's metadata (RFC 8414, with the OpenID Connect Discovery fallback).
//!
//! Everything here is parsing and validation of outside input, free of I/O, so the rules are
//! tested directly; [`crate::oauth::flow`] does the fetching.

use serde_json::{Map, Value};
use url::{Host, Url};

/// Why a challenge, a metadata document or a URL in one was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    /// The `WWW-Authenticate` value does not follow the RFC 9110 challenge grammar.
    MalformedChallenge(String),
    /// A URL is not absolute, or not `https` (plain `http` is allowed for loopback hosts only),
    /// or carries user information or a fragment.
    InsecureUrl { field: &'static str, url: String },
    /// A metadata document is not a JSON object, or a member has the wrong type.
    MalformedMetadata(String),
    /// A required member is absent.
    MissingMember(&'static str),
    /// The resource metadata names another resource than the one requested (RFC 9728 §3.3).
    ResourceMismatch { expected: String, found: String },
    /// The authorization server metadata names another issuer (RFC 8414 §3.3).
    IssuerMismatch { expected: String, found: String },
    /// The authorization server does not support PKCE with S256 (required by OAuth 2.1 / MCP).
    NoPkceS256,
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MalformedChallenge(why) => write!(f, "malformed WWW-Authenticate: {why}"),
            Self::InsecureUrl { field, url } => {
                write!(
                    f,
                    "{field} must be an absolute https URL (http only on loopback): {url}"
                )
            }
            Self::MalformedMetadata(why) => write!(f, "malformed metadata: {why}"),
            Self::MissingMember(name) => write!(f, "metadata lacks `{name}`"),
            Self::ResourceMismatch { expected, found } => {
                write!(f, "resource metadata is for {found}, not {expected}")
            }
            Self::IssuerMismatch { expected, found } => {
                write!(
                    f,
                    "authorization server metadata names issuer {found}, not {expected}"
                )
            }
            Self::NoPkceS256 => f.write_str("authorization server does not support PKCE S256"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// One challenge of a `WWW-Authenticate` field: its scheme and its auth-params (names lowercased,
/// quoted values unescaped). A `token68` challenge keeps it in `token68`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub token68: Option<String>,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of auth-param `name` (case-insensitive), the first if repeated.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` field value into its challenges (RFC 9110 §11.6.1: a
/// comma-separated list of `scheme [ token68 / #auth-param ]`).
pub fn parse_www_authenticate(value: &str) -> Result<Vec<Challenge>, DiscoveryError> {
    let mut lexer = Lexer {
        s: value.as_bytes(),
        i: 0,
    };
    let mut challenges: Vec<Challenge> = Vec::new();
    loop {
        lexer.skip_ows_and_commas();
        if lexer.done() {
            break;
        }
        let scheme = lexer
            .token()
            .ok_or_else(|| lexer.error("expected an auth-scheme"))?;
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        // After the scheme: nothing, a token68, or auth-params (each `name = value`).
        lexer.skip_ows();
        if !lexer.done() && lexer.peek() != Some(b',') {
            if let Some(t68) = lexer.try_token68() {
                challenge.token68 = Some(t68);
            } else {
                loop {
                    let mark = lexer.i;
                    lexer.skip_ows();
                    let Some(name) = lexer.token() else {
                        lexer.i = mark;
                        break;
                    };
                    lexer.skip_ows();
                    if lexer.peek() != Some(b'=') {
                        // A bare token: the next challenge's scheme.
                        lexer.i = mark;
                        break;
                    }
                    lexer.i += 1;
                    lexer.skip_ows();
                    let value = if lexer.peek() == Some(b'"') {
                        lexer.quoted()?
                    } else {
                        lexer
                            .token()
                            .ok_or_else(|| lexer.error("expected a parameter value"))?
                    };
                    challenge.params.push((name.to_ascii_lowercase(), value));
                    lexer.skip_ows();
                    match lexer.peek() {
                        None => break,
                        Some(b',') => {
                            lexer.i += 1;
                            continue;
                        }
                        Some(_) => return Err(lexer.error("expected `,` between parameters")),
                    }
                }
            }
        }
        challenges.push(challenge);
    }
    if challenges.is_empty() {
        return Err(DiscoveryError::MalformedChallenge("no challenge".into()));
    }
    Ok(challenges)
}

/// What a resource server's 401 tells a client about getting a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceChallenge {
    /// RFC 9728 §5.1: where the resource's metadata is.
    pub resource_metadata: Option<Url>,
    /// The scope the resource asks for, if it says.
    pub scope: Option<String>,
    /// The `error` auth-param (`invalid_token`, `use_dpop_nonce`, …).
    pub error: Option<String>,
}

/// Reads the `DPoP` or `Bearer` challenge (DPoP preferred) of a 401's `WWW-Authenticate` value.
/// `None` when neither scheme is challenged. The `resource_metadata` URL is held to
/// [`require_secure_url`].
pub fn resource_challenge(value: &str) -> Result<Option<ResourceChallenge>, DiscoveryError> {
    let challenges = parse_www_authenticate(value)?;
    let pick = |scheme: &str| {
        challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case(scheme))
    };
    let Some(challenge) = pick("DPoP").or_else(|| pick("Bearer")) else {
        return Ok(None);
    };
    let resource_metadata = challenge
        .param("resource_metadata")
        .map(|u| require_secure_url("resource_metadata", u))
        .transpose()?;
    Ok(Some(ResourceChallenge {
        resource_metadata,
        scope: challenge.param("scope").map(str::to_owned),
        error: challenge.param("error").map(str::to_owned),
    }))
}

/// Parses `raw` as an absolute URL that is `https`, or `http` to a loopback host (`localhost`,
/// 127.0.0.0/8, `::1`); no user information, no fragment. Metadata from anywhere else could
/// send tokens and code verifiers in the clear.
pub fn require_secure_url(field: &'static str, raw: &str) -> Result<Url, DiscoveryError> {
    let insecure = || DiscoveryError::InsecureUrl {
        field,
        url: raw.to_owned(),
    };
    let url = Url::parse(raw).map_err(|_| insecure())?;
    let ok_scheme = match url.scheme() {
        "https" => true,
        "http" => is_loopback(&url),
        _ => false,
    };
    if !ok_scheme || url.host().is_none() || !url.username().is_empty() || url.password().is_some()
    {
        return Err(insecure());
    }
    if url.fragment().is_some() {
        return Err(insecure());
    }
    Ok(url)
}

/// Whether `url`'s host is a loopback name or address.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// RFC 9728 §3.1: the protected resource metadata URLs to try when a 401 named none: the
/// path-inserted well-known URL first, then the root one.
pub fn resource_metadata_urls(resource: &Url) -> Vec<Url> {
    well_known_urls(resource, "oauth-protected-resource")
}

/// RFC 8414 §3.1 and OpenID Connect Discovery 1.0 §4: the authorization server metadata URLs to
/// try for `issuer`, in order: OAuth path-inserted, OIDC path-inserted, OIDC path-appended (the
/// last two only differ for issuers with a path).
pub fn auth_server_metadata_urls(issuer: &Url) -> Vec<Url> {
    let mut urls = well_known_urls(issuer, "oauth-authorization-server");
    urls.truncate(1);
    let path = issuer.path().trim_end_matches('/');
    let mut oidc = issuer.clone();
    oidc.set_query(None);
    oidc.set_path(&format!("/.well-known/openid-configuration{path}"));
    urls.push(oidc);
    if !path.is_empty() {
        let mut appended = issuer.clone();
        appended.set_query(None);
        appended.set_path(&format!("{path}/.well-known/openid-configuration"));
        urls.push(appended);
    }
    urls
}

/// `/.well-known/<suffix><path>` for a URL with a path, then `/.well-known/<suffix>`.
fn well_known_urls(base: &Url, suffix: &str) -> Vec<Url> {
    let path = base.path().trim_end_matches('/');
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    root.set_path(&format!("/.well-known/{suffix}"));
    if path.is_empty() {
        return vec![root];
    }
    let mut inserted = root.clone();
    inserted.set_path(&format!("/.well-known/{suffix}{path}"));
    vec![inserted, root]
}

/// RFC 9728 protected resource metadata, the members a client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMetadata {
    pub resource: Url,
    /// The resource identifier exactly as the document spells it: what the client sends as
    /// `resource` (RFC 8707) and the token's audience is compared with. `Url` would append a `/`
    /// to a pathless identifier, making it another string.
    pub resource_id: String,
    pub authorization_servers: Vec<Url>,
    pub scopes_supported: Vec<String>,
}

impl ResourceMetadata {
    /// Validates a document fetched for the resource `requested`: `resource` must be present,
    /// secure and the same resource (RFC 9728 §3.3: exactly the URL the client used, compared
    /// after the normalisation `Url` applies, or its origin/prefix when the 401 came from a
    /// sub-path of it); at least one secure authorization server.
    pub fn parse(json: &str, requested: &Url) -> Result<Self, DiscoveryError> {
        let doc = object(json)?;
        let resource_id = str_member(&doc, "resource")?.to_owned();
        let resource = require_secure_url("resource", &resource_id)?;
        if !same_or_parent_resource(&resource, requested) {
            return Err(DiscoveryError::ResourceMismatch {
                expected: requested.to_string(),
                found: resource.to_string(),
            });
        }
        let servers = string_array(&doc, "authorization_servers")?;
        if servers.is_empty() {
            return Err(DiscoveryError::MissingMember("authorization_servers"));
        }
        let authorization_servers = servers
            .iter()
            .map(|s| require_secure_url("authorization_servers", s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            resource,
            resource_id,
            authorization_servers,
            scopes_supported: string_array(&doc, "scopes_supported")?,
        })
    }
}

/// Whether the advertised resource is the requested URL or a path prefix of it on the same
/// origin (MCP servers commonly advertise `https://host/mcp` for requests to it).
fn same_or_parent_resource(advertised: &Url, requested: &Url) -> bool {
    if advertised.origin() != requested.origin() {
        return false;
    }
    let adv = advertised.path().trim_end_matches('/');
    let req = requested.path().trim_end_matches('/');
    req == adv || req.starts_with(&format!("{adv}/"))
}

/// RFC 8414 authorization server metadata, the members this client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthServerMetadata {
    pub issuer: Url,
    /// The issuer exactly as the document spells it, for RFC 9207 `iss` comparison.
    pub issuer_str: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub registration_endpoint: Option<Url>,
    pub scopes_supported: Vec<String>,
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// `client_id_metadata_document_supported` (draft-ietf-oauth-client-id-metadata-document).
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207: the authorization response carries `iss`, and the client must check it.
    pub authorization_response_iss_parameter_supported: bool,
}

impl AuthServerMetadata {
    /// Validates a document fetched for `expected_issuer`: the `issuer` member must be identical
    /// to it (RFC 8414 §3.3, a trailing `/` aside), the endpoints secure, and PKCE S256 listed
    /// (an absent `code_challenge_methods_supported` is refused, as MCP requires).
    pub fn parse(json: &str, expected_issuer: &Url) -> Result<Self, DiscoveryError> {
        let doc = object(json)?;
        let issuer_str = str_member(&doc, "issuer")?.to_owned();
        let issuer = require_secure_url("issuer", &issuer_str)?;
        if issuer.as_str().trim_end_matches('/') != expected_issuer.as_str().trim_end_matches('/') {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_string(),
                found: issuer_str,
            });
        }
        let endpoint = |name: &'static str| -> Result<Url, DiscoveryError> {
            require_secure_url(name, str_member(&doc, name)?)
        };
        let registration_endpoint = match doc.get("registration_endpoint") {
            None | Some(Value::Null) => None,
            Some(_) => Some(endpoint("registration_endpoint")?),
        };
        let methods = string_array(&doc, "code_challenge_methods_supported")?;
        if !methods.iter().any(|m| m == "S256") {
            return Err(DiscoveryError::NoPkceS256);
        }
        Ok(Self {
            authorization_endpoint: endpoint("authorization_endpoint")?,
            token_endpoint: endpoint("token_endpoint")?,
            registration_endpoint,
            scopes_supported: string_array(&doc, "scopes_supported")?,
            dpop_signing_alg_values_supported: string_array(
                &doc,
                "dpop_signing_alg_values_supported",
            )?,
            client_id_metadata_document_supported: bool_member(
                &doc,
                "client_id_metadata_document_supported",
            )?,
            authorization_response_iss_parameter_supported: bool_member(
                &doc,
                "authorization_response_iss_parameter_supported",
            )?,
            issuer,
            issuer_str,
        })
    }
}

fn object(json: &str) -> Result<Map<String, Value>, DiscoveryError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DiscoveryError::MalformedMetadata(
            "not a JSON object".into(),
        )),
        Err(e) => Err(DiscoveryError::MalformedMetadata(e.to_string())),
    }
}

fn str_member<'a>(
    doc: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, DiscoveryError> {
    match doc.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(DiscoveryError::MissingMember(name)),
        Some(_) => Err(DiscoveryError::MalformedMetadata(format!(
            "`{name}` is not a string"
        ))),
    }
}

/// An optional array of strings; absent means empty.
fn string_array(doc: &Map<String, Value>, name: &str) -> Result<Vec<String>, DiscoveryError> {
    let bad = || DiscoveryError::MalformedMetadata(format!("`{name}` is not an array of strings"));
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// An optional boolean; absent means false.
fn bool_member(doc: &Map<String, Value>, name: &str) -> Result<bool, DiscoveryError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(DiscoveryError::MalformedMetadata(format!(
            "`{name}` is not a boolean"
        ))),
    }
}

/// A byte cursor over a header value, for the RFC 9110 grammar.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn error(&self, what: &str) -> DiscoveryError {
        DiscoveryError::MalformedChallenge(format!("{what} at byte {}", self.i))
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// RFC 9110 `token` (tchar+).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// `token68` followed by end or `,`; leaves the cursor unchanged if what follows is not one
    /// (e.g. an auth-param `name=value`).
    fn try_token68(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        let end = self.i;
        self.skip_ows();
        if self.done() || self.peek() == Some(b',') {
            // Nothing after the `=` run: `name=value` would continue with the value.
            return Some(String::from_utf8_lossy(&self.s[start..end]).into_owned());
        }
        self.i = start;
        None
    }

    /// `quoted-string`, unescaping `\x`.
    fn quoted(&mut self) -> Result<String, DiscoveryError> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted-string")),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| self.error("invalid UTF-8"));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or_else(|| self.error("dangling escape"))?;
                    out.push(c);
                    self.i += 1;
                }
                Some(c) if c == b'\t' || (c >= 0x20 && c != 0x7f) => {
                    out.push(c);
                    self.i += 1;
                }
                Some(_) => return Err(self.error("control character in quoted-string")),
            }
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
