//! Redirect URIs: registration rules (`security.md` 6.1), matching at authorize (6.2) and
//! building the authorization response URL (`api.md` 2.11, GET authorize).
//!
//! Written by hand (no URL library) so that exactly the listed rules apply: a URL parser would
//! normalise (case, default ports, dot segments), and matching must be on the exact string.

use std::fmt;

/// Longest accepted redirect URI (`api.md` 2.8, R1).
pub const MAX_LEN: usize = 2048;

/// Hosts for which plain `http` is allowed (R2) and the port may vary at matching (R5).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Why a redirect URI cannot be registered (all map to `400 invalid_redirect_uri`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectError {
    /// Empty or longer than 2,048 characters.
    Length,
    /// Whitespace, control or non-ASCII characters, characters a URI cannot contain, or a bad
    /// percent-escape.
    Characters,
    /// A `#` (fragment), even an empty one.
    Fragment,
    /// A `*` anywhere (no wildcards).
    Wildcard,
    /// No scheme: a relative reference.
    NotAbsolute,
    /// `userinfo@` in the authority.
    UserInfo,
    /// Missing, malformed or non-DNS host, or a malformed port.
    Authority,
    /// `http` with a host other than `localhost`, `127.0.0.1` or `[::1]`.
    InsecureHttp,
    /// A scheme that is neither `https`, loopback `http`, nor a private-use scheme with a `.`
    /// (e.g. `javascript:`, `data:`, `file:`).
    Scheme,
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedirectError::Length => "redirect URI must be 1 to 2048 characters",
            RedirectError::Characters => "redirect URI contains characters not allowed in a URI",
            RedirectError::Fragment => "redirect URI must not contain a fragment",
            RedirectError::Wildcard => "redirect URI must not contain wildcards",
            RedirectError::NotAbsolute => "redirect URI must be absolute",
            RedirectError::UserInfo => "redirect URI must not contain user information",
            RedirectError::Authority => "redirect URI host or port is invalid",
            RedirectError::InsecureHttp => {
                "http redirect URIs are allowed only for localhost, 127.0.0.1 and [::1]"
            }
            RedirectError::Scheme => {
                "redirect URI scheme must be https, loopback http or a reverse-domain private-use scheme"
            }
        })
    }
}

impl std::error::Error for RedirectError {}

/// The parts of a URI this module needs, as slices of the original string.
struct Parts<'a> {
    /// Lowercased for classification only; matching never uses it.
    scheme: String,
    /// `host[:port]` when the URI has `//`.
    authority: Option<&'a str>,
    /// Everything after the authority (path and query), or after `scheme:` without one.
    rest: &'a str,
}

/// Characters RFC 3986 allows anywhere in a URI (unreserved, reserved, `%`), minus `#` and `*`
/// which R1 forbids and are reported separately.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()+,;=%".contains(&b)
}

/// R1 character rules, checked on the raw string before any parsing.
fn check_characters(uri: &str) -> Result<(), RedirectError> {
    if uri.is_empty() || uri.len() > MAX_LEN {
        return Err(RedirectError::Length);
    }
    if uri.contains('#') {
        return Err(RedirectError::Fragment);
    }
    if uri.contains('*') {
        return Err(RedirectError::Wildcard);
    }
    let bytes = uri.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !is_uri_char(b) {
            return Err(RedirectError::Characters);
        }
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(RedirectError::Characters);
            }
        }
    }
    Ok(())
}

/// Splits `scheme ":" ["//" authority] rest`. The scheme follows RFC 3986 §3.1.
fn split(uri: &str) -> Result<Parts<'_>, RedirectError> {
    let (scheme, after) = uri.split_once(':').ok_or(RedirectError::NotAbsolute)?;
    let mut chars = scheme.bytes();
    let scheme_ok = chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Err(RedirectError::NotAbsolute);
    }
    let (authority, rest) = match after.strip_prefix("//") {
        Some(hier) => {
            let end = hier.find(['/', '?']).unwrap_or(hier.len());
            let (authority, rest) = hier.split_at(end);
            (Some(authority), rest)
        }
        None => (None, after),
    };
    Ok(Parts {
        scheme: scheme.to_ascii_lowercase(),
        authority,
        rest,
    })
}

/// Splits `host[:port]`, validating both. Hosts are DNS names (letters, digits, `-`, `.`) or
/// bracketed IPv6 literals; ports are 1..5 digits up to 65535 (an empty port is refused as
/// ambiguous).
fn host_port(authority: &str) -> Result<(&str, Option<&str>), RedirectError> {
    if authority.contains('@') {
        return Err(RedirectError::UserInfo);
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(RedirectError::Authority)?;
        let (host, after) = authority.split_at(close + 1);
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(RedirectError::Authority);
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or(RedirectError::Authority)?),
            ),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && !host.starts_with('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return Err(RedirectError::Authority);
        }
        (host, port)
    };
    if let Some(port) = port {
        let digits_ok = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok || port.parse::<u16>().is_err() {
            return Err(RedirectError::Authority);
        }
    }
    // Brackets are only legal around an IPv6 host.
    if host.starts_with('[') != host.ends_with(']') {
        return Err(RedirectError::Authority);
    }
    Ok((host, port))
}

fn is_loopback(host: &str) -> bool {
    LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Checks one URI against `security.md` 6.1 (R1, R2). The list rules (1..10 entries, duplicates
/// removed) belong to the caller.
pub fn validate_registration(uri: &str) -> Result<(), RedirectError> {
    check_characters(uri)?;
    let parts = split(uri)?;
    let web = match parts.scheme.as_str() {
        "https" | "http" => true,
        // RFC 8252 §7.1: private-use schemes are reverse domain names, so they contain a `.`;
        // this rules out `javascript:`, `data:`, `file:`, `vbscript:` and other single labels.
        scheme if scheme.contains('.') => false,
        _ => return Err(RedirectError::Scheme),
    };
    let host = match parts.authority {
        Some(authority) => Some(host_port(authority)?.0),
        None => None,
    };
    // `[` and `]` are only allowed in an IP-literal host.
    if parts.rest.contains(['[', ']']) {
        return Err(RedirectError::Characters);
    }
    if web {
        let host = host.ok_or(RedirectError::Authority)?;
        if parts.scheme == "http" && !is_loopback(host) {
            return Err(RedirectError::InsecureHttp);
        }
    } else if host.is_none() && parts.rest.is_empty() {
        return Err(RedirectError::NotAbsolute);
    }
    Ok(())
}

/// For the loopback exception: `(host, path-and-query)` of an `http://` URI on a loopback host,
/// or `None`.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let hier = uri.strip_prefix("http://")?;
    let end = hier.find(['/', '?']).unwrap_or(hier.len());
    let (authority, rest) = hier.split_at(end);
    let (host, _port) = host_port(authority).ok()?;
    is_loopback(host).then_some((host, rest))
}

/// Whether `presented` may be used as the redirect URI of a client with `registered` URIs
/// (`security.md` 6.2): an exact string match (R4), or — RFC 8252 §7.3, R5 — both are `http` on
/// the same loopback host literal with identical path and query, differing only in the port
/// (native apps get an ephemeral port). The presented URI must itself be registrable, so the
/// exception cannot admit user information, fragments or odd authorities.
pub fn matches(registered: &[String], presented: &str) -> bool {
    matches_with(LoopbackPorts::AnyLoopbackHost, registered, presented)
}

/// Which registered redirect URIs may be presented with another port (RFC 8252 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackPorts {
    /// `http` on `localhost`, `127.0.0.1` or `[::1]`: registered (`private_key_jwt`) clients,
    /// as always (R5).
    AnyLoopbackHost,
    /// Only the IP literals `127.0.0.1` and `[::1]`: native public clients. RFC 8252 §8.3
    /// advises against `localhost`, which a hostile resolver or hosts file could point away.
    IpLiteralsOnly,
    /// None: every presented URI matches exactly (public web clients).
    Exact,
}

/// [`matches`] under the port rule `ports`.
pub fn matches_with(ports: LoopbackPorts, registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    if ports == LoopbackPorts::Exact || validate_registration(presented).is_err() {
        return false;
    }
    let Some(wanted) = loopback_parts(presented) else {
        return false;
    };
    if ports == LoopbackPorts::IpLiteralsOnly && wanted.0.eq_ignore_ascii_case("localhost") {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| loopback_parts(r))
        .any(|have| have == wanted)
}

/// Longest `state` accepted at authorize (`api.md` 2.11).
pub const MAX_STATE_LEN: usize = 1024;

/// `state` at authorize: at most 1,024 characters of `%x20-7E` (Z17: a newline is refused). It
/// is echoed unchanged, so anything that could break the redirect or a header is kept out.
pub fn is_valid_state(state: &str) -> bool {
    state.len() <= MAX_STATE_LEN && state.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so spaces are `%20`, never
/// `+`, and `:`/`/` in the `iss` value are escaped as in the spec's example).
fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Appends `params` to the query of `redirect_uri`: `?` when it has no query yet, `&` when it has
/// one (nothing when it already ends in `?` or `&`). Names and values are percent-encoded. A
/// fragment cannot occur in a registered URI; should one appear anyway, the parameters go before
/// it so they stay in the query.
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match redirect_uri.find('#') {
        Some(i) => redirect_uri.split_at(i),
        None => (redirect_uri, ""),
    };
    let mut out = String::with_capacity(base.len() + fragment.len() + 64 * params.len());
    out.push_str(base);
    let mut separator = if !base.contains('?') {
        Some('?')
    } else if base.ends_with('?') || base.ends_with('&') {
        None
    } else {
        Some('&')
    };
    for (name, value) in params {
        if let Some(sep) = separator {
            out.push(sep);
        }
        separator = Some('&');
        percent_encode(&mut out, name);
        out.push('=');
        percent_encode(&mut out, value);
    }
    out.push_str(fragment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str) {
        assert_eq!(validate_registration(uri), Ok(()), "{uri}");
    }

    fn err(uri: &str, want: RedirectError) {
        assert_eq!(validate_registration(uri), Err(want), "{uri}");
    }

    #[test]
    fn accepts_https_loopback_http_and_private_use() {
        ok("https://app.example.com/cb");
        ok("https://app.example.com/cb/");
        ok("https://app.example.com:8443/cb?x=1&y=%20");
        ok("https://app.example.com");
        ok("HTTPS://App.Example.com/CB");
        ok("https://[2001:db8::1]/cb");
        ok("http://localhost/cb");
        ok("http://localhost:8790/callback");
        ok("http://127.0.0.1:1234/cb");
        ok("http://[::1]:1234/cb");
        ok("http://LOCALHOST/cb");
        ok("com.example.app:/cb");
        ok("com.example.app:/oauth2redirect/example-provider");
        ok("com.example.app://callback");
        ok(&format!(
            "https://app.example.com/{}",
            "a".repeat(MAX_LEN - 25)
        ));
    }

    #[test]
    fn rejects_the_catalogue() {
        err("http://example.com/cb", RedirectError::InsecureHttp); // L07
        err("https://app.example.com/cb#frag", RedirectError::Fragment); // L08
        err("https://app.example.com/cb#", RedirectError::Fragment);
        err("https://*.example.com/cb", RedirectError::Wildcard); // L09
        err("https://app.example.com/*", RedirectError::Wildcard);
        err("/cb", RedirectError::NotAbsolute); // L10
        err("cb", RedirectError::NotAbsolute);
        err("//app.example.com/cb", RedirectError::NotAbsolute);
        err("javascript:alert(1)", RedirectError::Scheme); // L11
        err(
            "https://user:pw@app.example.com/cb",
            RedirectError::UserInfo,
        ); // L12
        err("https://user@app.example.com/cb", RedirectError::UserInfo);
        err("http://localhost@evil.example/cb", RedirectError::UserInfo);
        err("data:text/html,hi", RedirectError::Scheme);
        err("file:///etc/passwd", RedirectError::Scheme);
        err("ftp://example.com/cb", RedirectError::Scheme);
        err("myapp:/cb", RedirectError::Scheme);
        err("com.example.app:", RedirectError::NotAbsolute);
        err("http://127.0.0.2/cb", RedirectError::InsecureHttp);
        err(
            "http://localhost.evil.example/cb",
            RedirectError::InsecureHttp,
        );
        err("http://[::2]/cb", RedirectError::InsecureHttp);
        err("http://0x7f000001/cb", RedirectError::InsecureHttp);
    }

    #[test]
    fn rejects_bad_characters_length_and_authority() {
        err("", RedirectError::Length);
        err(
            &format!("https://app.example.com/{}", "a".repeat(MAX_LEN)),
            RedirectError::Length,
        );
        err("https://app.example.com/c b", RedirectError::Characters);
        err(" https://app.example.com/cb", RedirectError::Characters);
        err("https://app.example.com/cb\n", RedirectError::Characters);
        err("https://app.example.com/cb\t", RedirectError::Characters);
        err("https://app.example.com/\u{0}", RedirectError::Characters);
        err("https://app.example.com/é", RedirectError::Characters);
        err(
            "https://app.example.com/<script>",
            RedirectError::Characters,
        );
        err("https://app.example.com/a\\b", RedirectError::Characters);
        err("https://app.example.com/%zz", RedirectError::Characters);
        err("https://app.example.com/%4", RedirectError::Characters);
        err("https://app.example.com/[x]", RedirectError::Characters);
        err("https:///cb", RedirectError::Authority);
        err("https:/cb", RedirectError::Authority);
        err("https://app.example.com:/cb", RedirectError::Authority);
        err("https://app.example.com:99999/cb", RedirectError::Authority);
        err("https://app.example.com:8a/cb", RedirectError::Authority);
        err("https://app_example.com/cb", RedirectError::Authority);
        err("https://[]/cb", RedirectError::Authority);
        err("https://[::1/cb", RedirectError::Authority);
        err("https://[::1]x/cb", RedirectError::Authority);
        err("https://%61pp.example.com/cb", RedirectError::Authority);
    }

    fn list(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn matching_is_exact() {
        let reg = list(&[
            "https://app.example.com/cb",
            "http://localhost:8790/callback",
        ]);
        assert!(matches(&reg, "https://app.example.com/cb"));
        assert!(matches(&reg, "http://localhost:8790/callback"));
        assert!(!matches(&reg, "http://localhost:8790/other")); // Z07
        assert!(!matches(&reg, "https://app.example.com/cb/")); // Z08
        assert!(!matches(&reg, "https://app.example.com:443/cb")); // Z10
        assert!(!matches(&reg, "https://APP.example.com/cb"));
        assert!(!matches(&reg, "https://app.example.com/cb?x=1"));
        assert!(!matches(&reg, "https://app.example.com/CB"));
        assert!(!matches(&reg, "https://app.example.com/cb#x"));
        assert!(!matches(&reg, ""));
        assert!(!matches(&[], "https://app.example.com/cb"));
    }

    #[test]
    fn loopback_port_may_differ() {
        let reg = list(&[
            "http://localhost:8790/callback",
            "http://127.0.0.1/cb?a=1",
            "http://[::1]:1/cb",
        ]);
        assert!(matches(&reg, "http://localhost:9999/callback")); // Z09
        assert!(matches(&reg, "http://localhost/callback"));
        assert!(matches(&reg, "http://127.0.0.1:50000/cb?a=1"));
        assert!(matches(&reg, "http://[::1]:50000/cb"));
        // Same host literal only.
        assert!(!matches(&reg, "http://127.0.0.1:9999/callback"));
        assert!(!matches(&reg, "http://LOCALHOST:9999/callback"));
        // Path and query identical.
        assert!(!matches(&reg, "http://localhost:9999/callback/"));
        assert!(!matches(&reg, "http://localhost:9999/callback?x"));
        assert!(!matches(&reg, "http://127.0.0.1:50000/cb"));
        assert!(!matches(&reg, "http://127.0.0.1:50000/cb?a=2"));
        // Never for https or non-loopback hosts, never with user info or bad ports.
        let https = list(&[
            "https://localhost:8443/cb",
            "https://app.example.com:8443/cb",
        ]);
        assert!(!matches(&https, "https://localhost:9443/cb"));
        assert!(!matches(&https, "https://app.example.com:9443/cb"));
        assert!(!matches(
            &reg,
            "http://localhost:9999@evil.example/callback"
        ));
        assert!(!matches(&reg, "http://localhost:99999/callback"));
        assert!(!matches(&reg, "http://localhost:9999/callback#frag"));
        assert!(!matches(&reg, "HTTP://localhost:9999/callback"));
    }

    #[test]
    fn public_native_clients_get_any_port_on_ip_literals_only() {
        let reg = list(&[
            "http://127.0.0.1/cb",
            "http://[::1]:7000/cb",
            "http://localhost:8790/callback",
            "https://app.example.com/cb",
        ]);
        let native = |uri| matches_with(LoopbackPorts::IpLiteralsOnly, &reg, uri);
        assert!(native("http://127.0.0.1:51234/cb"));
        assert!(native("http://127.0.0.1/cb"));
        assert!(native("http://[::1]:1/cb"));
        assert!(
            native("http://localhost:8790/callback"),
            "exact still matches"
        );
        assert!(!native("http://localhost:9999/callback"), "RFC 8252 §8.3");
        assert!(!native("http://127.0.0.1:51234/cb/"));
        assert!(!native("http://127.0.0.1:51234/other"));
        assert!(!native("http://127.0.0.2:51234/cb"));
        assert!(!native("http://[::1]:51234/cb?x=1"));
        assert!(!native("https://app.example.com:8443/cb"));
        let web = |uri| matches_with(LoopbackPorts::Exact, &reg, uri);
        assert!(web("http://127.0.0.1/cb"));
        assert!(!web("http://127.0.0.1:51234/cb"));
        assert!(!web("http://[::1]:7001/cb"));
    }

    #[test]
    fn with_params_appends_encoded_query() {
        assert_eq!(
            with_params(
                "http://localhost:8790/callback",
                &[
                    ("code", "abc"),
                    ("state", "e2e"),
                    ("iss", "https://id.example.com")
                ]
            ),
            "http://localhost:8790/callback?code=abc&state=e2e&iss=https%3A%2F%2Fid.example.com"
        );
        assert_eq!(
            with_params("https://app.example.com/cb?x=1", &[("code", "a b&c=d")]),
            "https://app.example.com/cb?x=1&code=a%20b%26c%3Dd"
        );
        assert_eq!(
            with_params("https://app.example.com/cb?", &[("a", "1"), ("b", "2")]),
            "https://app.example.com/cb?a=1&b=2"
        );
        assert_eq!(
            with_params("https://app.example.com/cb?x=1&", &[("a", "1")]),
            "https://app.example.com/cb?x=1&a=1"
        );
        assert_eq!(
            with_params("com.example.app:/cb", &[("error", "access_denied"), ("error_description", "OAuth limit reached (10/10 for this period)")]),
            "com.example.app:/cb?error=access_denied&error_description=OAuth%20limit%20reached%20%2810%2F10%20for%20this%20period%29"
        );
        assert_eq!(
            with_params("https://app.example.com/cb#f", &[("a", "é~-._")]),
            "https://app.example.com/cb?a=%C3%A9~-._#f"
        );
        assert_eq!(
            with_params("https://app.example.com/cb", &[]),
            "https://app.example.com/cb"
        );
    }

    #[test]
    fn state_shape() {
        assert!(is_valid_state("e2e"));
        assert!(is_valid_state(""));
        assert!(is_valid_state(" !~ a&b=c#d"));
        assert!(is_valid_state(&"x".repeat(MAX_STATE_LEN)));
        assert!(!is_valid_state(&"x".repeat(MAX_STATE_LEN + 1)));
        assert!(!is_valid_state("a\nb")); // Z17
        assert!(!is_valid_state("a\tb"));
        assert!(!is_valid_state("a\u{7f}"));
        assert!(!is_valid_state("é"));
    }

    #[test]
    fn errors_have_short_reasons() {
        assert_eq!(
            RedirectError::Fragment.to_string(),
            "redirect URI must not contain a fragment"
        );
    }
}
