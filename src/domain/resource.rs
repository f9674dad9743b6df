//! Protected resources (RFC 8707, RFC 9728): the canonical resource identifier, shared by the
//! registration (which stores it) and the `resource` parameter at authorize and token (which
//! looks it up), so that both sides apply exactly one rule.
//!
//! Written by hand like [`crate::oauth::redirect`]: a URL library would accept and rewrite more
//! than the rule below, and the identifier is compared as an exact string (it is the `aud`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;
use crate::store::resources::ResourceRow;
use crate::store::StoreError;

/// Longest accepted resource identifier.
pub const MAX_URI_LEN: usize = 2048;

/// Why a resource identifier is refused (`400 invalid_resource_uri` at registration,
/// `invalid_target` at the OAuth endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceUriError {
    /// Empty or longer than 2,048 characters.
    Length,
    /// Whitespace, control or non-ASCII characters, characters a URI cannot contain, or a bad
    /// percent-escape.
    Characters,
    /// No `scheme://authority`.
    NotAbsolute,
    /// A scheme other than `https` (or `http` on loopback in development).
    Scheme,
    /// `http` where it is not allowed: a host other than loopback, or an issuer that is not
    /// itself on loopback.
    InsecureHttp,
    /// `userinfo@` in the authority.
    UserInfo,
    /// Missing or malformed host, or a malformed port.
    Authority,
    /// A query component (RFC 8707 §2: SHOULD NOT), even an empty `?`.
    Query,
    /// A fragment (RFC 8707 §2: MUST NOT), even an empty `#`.
    Fragment,
    /// A `.` or `..` path segment: the identifier would not be compared as written.
    DotSegment,
}

impl fmt::Display for ResourceUriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceUriError::Length => "resource URI must be 1 to 2048 characters",
            ResourceUriError::Characters => "resource URI contains characters not allowed in a URI",
            ResourceUriError::NotAbsolute => "resource URI must be an absolute https URI",
            ResourceUriError::Scheme => "resource URI scheme must be https",
            ResourceUriError::InsecureHttp => {
                "http resource URIs are allowed only on localhost, 127.0.0.1 and [::1] when agent-id itself runs on loopback"
            }
            ResourceUriError::UserInfo => "resource URI must not contain user information",
            ResourceUriError::Authority => "resource URI host or port is invalid",
            ResourceUriError::Query => "resource URI must not contain a query",
            ResourceUriError::Fragment => "resource URI must not contain a fragment",
            ResourceUriError::DotSegment => "resource URI path must not contain . or .. segments",
        })
    }
}

impl std::error::Error for ResourceUriError {}

/// Hosts on which plain `http` may be registered while the issuer itself is on loopback.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

fn is_loopback(host: &str) -> bool {
    LOOPBACK_HOSTS.contains(&host)
}

/// Characters RFC 3986 allows in an absolute URI, except `#` and `?` which are reported as
/// [`ResourceUriError::Fragment`] and [`ResourceUriError::Query`].
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/[]@!$&'()*+,;=%".contains(&b)
}

/// Whether an issuer (a bare origin, `Config::issuer_for`) runs on loopback over `http`:
/// development and tests, where resources on loopback `http` may be registered too.
pub fn issuer_is_loopback(issuer: &str) -> bool {
    let Some(authority) = issuer.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, _)| format!("[{h}]")),
        None => authority.split(':').next().map(str::to_ascii_lowercase),
    };
    host.is_some_and(|h| is_loopback(&h))
}

/// The canonical form of a resource identifier (RFC 8707 §2), or why it is refused.
///
/// Accepted: `https://host[:port][/path]`, or `http` on `localhost`, `127.0.0.1` or `[::1]`
/// when `allow_loopback_http` (the issuer itself is on loopback). Refused: user information,
/// a query, a fragment, `.`/`..` segments, anything but a DNS name, IPv4 or bracketed IPv6
/// host. Canonicalised (RFC 3986 §6.2.2, §6.2.3): scheme and host lowercased, the default port
/// removed, an empty path written `/` (as browsers and the MCP SDK write it), percent-escapes
/// in upper case. The path is otherwise kept as written: `/mcp` and `/mcp/` are two resources.
///
/// The result is what registration stores and what a token's `aud` carries; comparing a
/// requested `resource` with a registered one is an exact comparison of canonical forms.
pub fn canonical_resource_uri(
    raw: &str,
    allow_loopback_http: bool,
) -> Result<String, ResourceUriError> {
    if raw.is_empty() || raw.len() > MAX_URI_LEN {
        return Err(ResourceUriError::Length);
    }
    if raw.contains('#') {
        return Err(ResourceUriError::Fragment);
    }
    if raw.contains('?') {
        return Err(ResourceUriError::Query);
    }
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !is_uri_char(b) || (b == b'%' && !(hex(i + 1) && hex(i + 2))) {
            return Err(ResourceUriError::Characters);
        }
    }
    let (scheme, after) = raw.split_once("://").ok_or(ResourceUriError::NotAbsolute)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        s if s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && s.starts_with(|c: char| c.is_ascii_alphabetic()) =>
        {
            return Err(ResourceUriError::Scheme)
        }
        _ => return Err(ResourceUriError::NotAbsolute),
    };
    let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    let (host, port) = host_port(authority)?;
    if scheme == "http" && !(allow_loopback_http && is_loopback(&host)) {
        return Err(ResourceUriError::InsecureHttp);
    }
    if path
        .split('/')
        .any(|segment| matches!(segment, "." | ".." | "%2E" | "%2e" | "%2E%2E" | "%2e%2e"))
    {
        return Err(ResourceUriError::DotSegment);
    }
    if path.contains(['[', ']']) {
        return Err(ResourceUriError::Characters);
    }

    let mut out = String::with_capacity(raw.len() + 1);
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host);
    if let Some(port) = port.filter(|p| *p != default_port) {
        out.push(':');
        out.push_str(&port);
    }
    if path.is_empty() {
        out.push('/');
    }
    upper_escapes(&mut out, path);
    Ok(out)
}

/// Splits and canonicalises `host[:port]`: the host lowercased (a DNS name of labels made of
/// letters, digits and `-`, an IPv4 address, or a bracketed IPv6 literal), the port without
/// leading zeros and within 1..=65535.
fn host_port(authority: &str) -> Result<(String, Option<String>), ResourceUriError> {
    if authority.contains('@') {
        return Err(ResourceUriError::UserInfo);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (literal, after) = v6.split_once(']').ok_or(ResourceUriError::Authority)?;
        let valid = literal.contains(':')
            && literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(ResourceUriError::Authority);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(ResourceUriError::Authority)?),
        };
        (format!("[{}]", literal.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(ResourceUriError::Authority);
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n = (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
                .filter(|n| *n != 0)
                .ok_or(ResourceUriError::Authority)?;
            Some(n.to_string())
        }
    };
    Ok((host, port))
}

/// Appends `path` with the two hex digits of every percent-escape in upper case.
fn upper_escapes(out: &mut String, path: &str) {
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        out.push('%');
        // The escape was checked to have two hex digits.
        out.push_str(&rest[i + 1..i + 3].to_ascii_uppercase());
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
}

// --- scopes ----------------------------------------------------------------------------------

/// Most scopes one resource may declare.
pub const MAX_SCOPES: usize = 32;
/// Longest scope name, in characters.
pub const MAX_SCOPE_NAME_LEN: usize = 64;
/// Longest scope description, in characters.
pub const MAX_SCOPE_DESCRIPTION_LEN: usize = 200;

/// Names a resource may not declare: the identity registry (`api.md` 2.11), whose tokens mean
/// agent-id's own claims; `offline_access`, which asks the authorization server for a refresh
/// token; and `openid`, kept for OpenID Connect.
pub const RESERVED_SCOPES: [&str; 7] = [
    "id",
    "name",
    "description",
    "pub_key",
    "subscription",
    "offline_access",
    "openid",
];

/// One scope a resource understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceScope {
    pub name: String,
    /// Shown to whoever consents; may be empty.
    pub description: String,
}

/// A resource's scopes: 1..=32, unique names, none reserved. Stored as the JSON array of
/// `{"name", "description"}` in `protected_resources.scopes`, in the order registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceScopes(Vec<ResourceScope>);

/// Why a scope list is refused (`400 invalid_scope` at registration and update).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceScopeError {
    /// No scope, or more than [`MAX_SCOPES`].
    Count,
    /// A name that is not an RFC 6749 scope-token (`%x21 / %x23-5B / %x5D-7E`), or too long.
    Name(String),
    /// A name of [`RESERVED_SCOPES`].
    Reserved(String),
    /// The same name twice.
    Duplicate(String),
    /// A description that is too long or holds control characters.
    Description(String),
}

impl fmt::Display for ResourceScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceScopeError::Count => write!(f, "scopes must have 1 to {MAX_SCOPES} entries"),
            ResourceScopeError::Name(n) => write!(
                f,
                "scope name \"{n}\" must be 1 to {MAX_SCOPE_NAME_LEN} printable ASCII characters without space, \" or \\"
            ),
            ResourceScopeError::Reserved(n) => write!(
                f,
                "scope name \"{n}\" is reserved (id, name, description, pub_key, subscription, offline_access, openid)"
            ),
            ResourceScopeError::Duplicate(n) => write!(f, "scope name \"{n}\" is listed twice"),
            ResourceScopeError::Description(n) => write!(
                f,
                "description of scope \"{n}\" must be at most {MAX_SCOPE_DESCRIPTION_LEN} characters without control characters"
            ),
        }
    }
}

impl std::error::Error for ResourceScopeError {}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCOPE_NAME_LEN
        && name
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

impl ResourceScopes {
    /// Validates a list as given (names exactly as written: scope tokens are case-sensitive;
    /// descriptions trimmed).
    pub fn new(list: Vec<ResourceScope>) -> Result<Self, ResourceScopeError> {
        if list.is_empty() || list.len() > MAX_SCOPES {
            return Err(ResourceScopeError::Count);
        }
        let mut out: Vec<ResourceScope> = Vec::with_capacity(list.len());
        for ResourceScope { name, description } in list {
            if !is_scope_token(&name) {
                return Err(ResourceScopeError::Name(name));
            }
            if RESERVED_SCOPES.contains(&name.as_str()) {
                return Err(ResourceScopeError::Reserved(name));
            }
            if out.iter().any(|s| s.name == name) {
                return Err(ResourceScopeError::Duplicate(name));
            }
            let description = description.trim();
            if description.chars().count() > MAX_SCOPE_DESCRIPTION_LEN
                || description.chars().any(char::is_control)
            {
                return Err(ResourceScopeError::Description(name));
            }
            out.push(ResourceScope {
                description: description.to_owned(),
                name,
            });
        }
        Ok(Self(out))
    }

    /// The scopes as stored (already validated when written).
    pub fn from_stored(json: &str) -> Result<Self, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Decode(format!("resource scopes: {e}")))
    }

    /// The JSON text `protected_resources.scopes` holds.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn as_slice(&self) -> &[ResourceScope] {
        &self.0
    }

    /// The names, in the order registered (`scopes_supported` of the metadata document).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| s.name.as_str())
    }

    /// Whether the resource understands `name` (exact, case-sensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }
}

impl ResourceRow {
    /// The resource's scopes, decoded from the stored JSON.
    pub fn scope_list(&self) -> Result<ResourceScopes, StoreError> {
        ResourceScopes::from_stored(&self.scopes)
    }

    /// The names of the resource's scopes, in the order registered.
    pub fn scope_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.scope_list()?.names().map(str::to_owned).collect())
    }
}

// --- views -----------------------------------------------------------------------------------

/// Where agent-id serves a resource's RFC 9728 metadata: stable for the resource's life, and
/// on the issuer's origin because the resource's own origin is not agent-id's to serve.
pub fn metadata_url(issuer: &str, resource_id: &str) -> String {
    format!("{issuer}/v1/resources/{resource_id}/oauth-protected-resource")
}

/// The Resource object of the overseer API.
#[derive(Debug, Serialize)]
pub struct ResourceView<'a> {
    pub id: &'a str,
    pub uri: &'a str,
    pub name: &'a str,
    pub scopes: ResourceScopes,
    pub dpop_bound_access_tokens: bool,
    pub access_token_alg: &'static str,
    pub metadata_url: String,
    pub created_at: String,
    pub updated_at: String,
}

impl ResourceRow {
    pub fn view(&self, issuer: &str) -> Result<ResourceView<'_>, StoreError> {
        Ok(ResourceView {
            id: &self.id,
            uri: &self.uri,
            name: &self.name,
            scopes: self.scope_list()?,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            access_token_alg: self.access_token_alg.as_str(),
            metadata_url: metadata_url(issuer, &self.id),
            created_at: rfc3339_ms(self.created_at),
            updated_at: rfc3339_ms(self.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceUriError as E;

    fn canon(raw: &str) -> Result<String, ResourceUriError> {
        canonical_resource_uri(raw, false)
    }

    #[test]
    fn canonical_forms() {
        for (raw, want) in [
            ("https://mcp.example.com", "https://mcp.example.com/"),
            ("https://mcp.example.com/", "https://mcp.example.com/"),
            ("HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp"),
            (
                "https://mcp.example.com:443/mcp",
                "https://mcp.example.com/mcp",
            ),
            (
                "https://mcp.example.com:0443/Mcp/",
                "https://mcp.example.com/Mcp/",
            ),
            (
                "https://api.example.com:8443/v1",
                "https://api.example.com:8443/v1",
            ),
            (
                "https://api.example.com/a%2fb",
                "https://api.example.com/a%2Fb",
            ),
            ("https://10.0.0.1/x", "https://10.0.0.1/x"),
            ("https://[2001:DB8::1]:443/", "https://[2001:db8::1]/"),
        ] {
            assert_eq!(canon(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn canonical_forms_are_fixed_points() {
        let once = canon("HTTPS://A.Example:443").unwrap();
        assert_eq!(canon(&once).unwrap(), once);
    }

    #[test]
    fn refusals() {
        let long = format!("https://a.example/{}", "x".repeat(MAX_URI_LEN));
        for (raw, want) in [
            ("", E::Length),
            (long.as_str(), E::Length),
            ("https://a.example/x#", E::Fragment),
            ("https://a.example/x#frag", E::Fragment),
            ("https://a.example/x?", E::Query),
            ("https://a.example/x?a=1", E::Query),
            ("https://a.example/a b", E::Characters),
            ("https://a.example/é", E::Characters),
            ("https://a.example/%zz", E::Characters),
            ("https://a.example/[x]", E::Characters),
            ("mcp.example.com/mcp", E::NotAbsolute),
            ("/relative", E::NotAbsolute),
            ("urn:example:resource", E::NotAbsolute),
            ("ftp://a.example/", E::Scheme),
            ("wss://a.example/", E::Scheme),
            ("http://a.example/", E::InsecureHttp),
            ("http://localhost:8080/mcp", E::InsecureHttp),
            ("https://user:pw@a.example/", E::UserInfo),
            ("https://@a.example/", E::UserInfo),
            ("https:///x", E::Authority),
            ("https://a..example/", E::Authority),
            ("https://-a.example/", E::Authority),
            ("https://a_b.example/", E::Authority),
            ("https://a.example:/", E::Authority),
            ("https://a.example:0/", E::Authority),
            ("https://a.example:65536/", E::Authority),
            ("https://[zz::1]/", E::Authority),
            ("https://a.example/./x", E::DotSegment),
            ("https://a.example/x/..", E::DotSegment),
            ("https://a.example/%2e%2e/x", E::DotSegment),
        ] {
            assert_eq!(canon(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn loopback_http_only_when_allowed() {
        let ok = |raw: &str| canonical_resource_uri(raw, true);
        assert_eq!(
            ok("http://127.0.0.1:8787/mcp").as_deref(),
            Ok("http://127.0.0.1:8787/mcp")
        );
        assert_eq!(
            ok("HTTP://LOCALHOST:80").as_deref(),
            Ok("http://localhost/")
        );
        assert_eq!(
            ok("http://[::1]:3000/").as_deref(),
            Ok("http://[::1]:3000/")
        );
        assert_eq!(ok("http://example.com/"), Err(E::InsecureHttp));
        assert_eq!(ok("http://127.0.0.2/"), Err(E::InsecureHttp));
    }

    #[test]
    fn loopback_issuers() {
        assert!(issuer_is_loopback("http://127.0.0.1:8787"));
        assert!(issuer_is_loopback("http://localhost"));
        assert!(issuer_is_loopback("http://[::1]:8787"));
        assert!(!issuer_is_loopback("https://localhost:8787"));
        assert!(!issuer_is_loopback("http://id.example.com"));
        assert!(!issuer_is_loopback("http://127.0.0.1.example.com"));
    }

    fn scope(name: &str, description: &str) -> ResourceScope {
        ResourceScope {
            name: name.into(),
            description: description.into(),
        }
    }

    #[test]
    fn scopes_are_validated_and_round_trip() {
        let scopes = ResourceScopes::new(vec![
            scope("tools:read", "  Read tools "),
            scope("Tools:Write", ""),
            scope("a!#[]~", "x"),
        ])
        .unwrap();
        assert_eq!(
            scopes.names().collect::<Vec<_>>(),
            ["tools:read", "Tools:Write", "a!#[]~"]
        );
        assert_eq!(scopes.as_slice()[0].description, "Read tools");
        let stored = scopes.to_stored();
        assert!(
            stored.starts_with(r#"[{"name":"tools:read","description":"Read tools"},{"#),
            "{stored}"
        );
        assert_eq!(ResourceScopes::from_stored(&stored).unwrap(), scopes);
        assert!(scopes.contains("Tools:Write") && !scopes.contains("tools:write"));
    }

    #[test]
    fn scope_refusals() {
        type Se = ResourceScopeError;
        let one = |name: &str, d: &str| ResourceScopes::new(vec![scope(name, d)]);
        assert_eq!(ResourceScopes::new(vec![]), Err(Se::Count));
        let many = (0..=MAX_SCOPES)
            .map(|i| scope(&format!("s{i}"), ""))
            .collect();
        assert_eq!(ResourceScopes::new(many), Err(Se::Count));
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            assert_eq!(one(bad, ""), Err(Se::Name(bad.into())), "{bad:?}");
        }
        assert_eq!(one(&"a".repeat(65), ""), Err(Se::Name("a".repeat(65))));
        assert!(one(&"a".repeat(64), "").is_ok());
        for reserved in RESERVED_SCOPES {
            assert_eq!(one(reserved, ""), Err(Se::Reserved(reserved.into())));
        }
        assert_eq!(
            ResourceScopes::new(vec![scope("a", ""), scope("a", "again")]),
            Err(Se::Duplicate("a".into()))
        );
        assert_eq!(one("a", &"x".repeat(201)), Err(Se::Description("a".into())));
        assert!(one("a", &"é".repeat(200)).is_ok());
        assert_eq!(one("a", "x\ny"), Err(Se::Description("a".into())));
    }
}
