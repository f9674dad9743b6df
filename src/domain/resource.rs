//! Protected resources (RFC 8707, RFC 9728): the canonical resource identifier, shared by the
//! registration (which stores it) and the `resource` parameter at authorize and token (which
//! looks it up), so that both sides apply exactly one rule.
//!
//! Written by hand like [`crate::oauth::redirect`]: a URL library would accept and rewrite more
//! than the rule below, and the identifier is compared as an exact string (it is the `aud`).

use std::fmt;

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
}
