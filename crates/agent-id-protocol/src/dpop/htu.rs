//! `htu` normalisation (`security.md` 2.2), written by hand so the comparison rules are exactly the
//! ones the spec lists and no more: scheme/host lowercased, default port dropped, query and
//! fragment dropped, percent-escapes normalised, dot segments removed, empty path → `/`.

use crate::hex;

/// Normalises an absolute `http`/`https` URL for comparison; `None` when it is not one (relative,
/// other scheme, user information, malformed authority, port or path).
pub fn normalize_htu(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    // Everything after the first `?` or `#` is query/fragment, which `htu` ignores.
    let without_query = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match without_query.find('/') {
        Some(i) => without_query.split_at(i),
        None => (without_query, ""),
    };
    let (host, port) = split_host_port(authority)?;
    let mut out = format!("{scheme}://{host}");
    if let Some(port) = port.filter(|p| *p != default_port) {
        out.push(':');
        out.push_str(&port.to_string());
    }
    let path = normalize_percent_escapes(path)?;
    let path = remove_dot_segments(&path);
    out.push_str(if path.is_empty() { "/" } else { &path });
    Some(out)
}

/// Splits `host[:port]` (host may be a bracketed IPv6 literal), lowercasing the host. Rejects user
/// information, empty hosts, characters outside a DNS name/IP literal and ports above 65535. An
/// empty port (`host:`) means the default (RFC 3986 §6.2.3).
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (literal, after) = v6.split_once(']')?;
        let valid = !literal.is_empty()
            && literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{literal}]"), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return None;
        }
        (host.to_owned(), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Characters RFC 3986 allows literally in a path: unreserved, sub-delims, `:`, `@`, `/`.
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Uppercases percent-escapes and decodes those of unreserved characters (RFC 3986 §6.2.2.1–2).
/// A malformed escape or a character not allowed in a path (space, `"`, non-ASCII, …) → `None`:
/// such a string does not parse as a URL.
fn normalize_percent_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex::nibble(*bytes.get(i + 1)?)?;
            let lo = hex::nibble(*bytes.get(i + 2)?)?;
            let decoded = hi << 4 | lo;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(hex::upper_digit(hi));
                out.push(hex::upper_digit(lo));
            }
            i += 3;
        } else if is_path_char(b) {
            out.push(char::from(b));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 `remove_dot_segments`, on segments: `.` is dropped, `..` drops the previous
/// segment (never above the root), and a trailing `.`/`..` leaves a trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let Some(rest) = path.strip_prefix('/') else {
        // With an authority the path is empty or absolute; nothing else reaches here.
        return path.to_owned();
    };
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = rest.split('/').peekable();
    while let Some(segment) = parts.next() {
        let last = parts.peek().is_none();
        match segment {
            "." | ".." => {
                if segment == ".." {
                    segments.pop();
                }
                if last {
                    segments.push("");
                }
            }
            _ => segments.push(segment),
        }
    }
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: &str = "https://id.example.com/v1/agents/login";

    fn matches_login(htu: &str) -> bool {
        normalize_htu(htu).is_some() && normalize_htu(htu) == normalize_htu(EXPECTED)
    }

    #[test]
    fn security_md_2_2_table() {
        for (htu, accept) in [
            ("https://id.example.com/v1/agents/login", true),
            ("HTTPS://ID.Example.COM:443/v1/agents/login", true),
            ("https://id.example.com/v1/agents/login?x=1#frag", true),
            ("https://id.example.com/v1/agents/login/", false),
            ("https://id.example.com/V1/agents/login", false),
            ("http://id.example.com/v1/agents/login", false),
            ("https://id.example.com:8443/v1/agents/login", false),
            ("https://user@id.example.com/v1/agents/login", false),
            ("/v1/agents/login", false),
            ("https://evil.example/v1/agents/login", false),
        ] {
            assert_eq!(matches_login(htu), accept, "{htu}");
        }
        assert_eq!(normalize_htu(EXPECTED).as_deref(), Some(EXPECTED));
        assert_eq!(normalize_htu("/v1/agents/login"), None);
        assert_eq!(
            normalize_htu("https://user@id.example.com/v1/agents/login"),
            None
        );
        assert_eq!(normalize_htu("https://user:pw@id.example.com/"), None);
    }

    #[test]
    fn normal_forms() {
        for (input, want) in [
            ("https://id.example.com", "https://id.example.com/"),
            ("https://id.example.com?x", "https://id.example.com/"),
            ("https://id.example.com#f", "https://id.example.com/"),
            ("HtTp://LOCALHOST:80/a", "http://localhost/a"),
            ("http://localhost:8787/a", "http://localhost:8787/a"),
            ("http://localhost:08787/a", "http://localhost:8787/a"),
            ("https://id.example.com:/a", "https://id.example.com/a"),
            ("https://id.example.com:0443/a", "https://id.example.com/a"),
            ("https://127.0.0.1:443/a", "https://127.0.0.1/a"),
            ("http://[::1]:8787/a", "http://[::1]:8787/a"),
            ("http://[FE80::1]/a", "http://[fe80::1]/a"),
            ("http://[::1]/", "http://[::1]/"),
            ("https://h/%7e%41%2d%5F%2e", "https://h/~A-_."),
            ("https://h/a%2fb%3a", "https://h/a%2Fb%3A"),
            ("https://h/a%2Fb", "https://h/a%2Fb"),
            ("https://h/a/./b/../c", "https://h/a/c"),
            ("https://h/a/b/..", "https://h/a/"),
            ("https://h/a/b/.", "https://h/a/b/"),
            ("https://h/../../a", "https://h/a"),
            ("https://h/a/%2E%2E/b", "https://h/b"),
            ("https://h/a/.b/..c", "https://h/a/.b/..c"),
            ("https://h//a", "https://h//a"),
            ("https://h/a?b/../c", "https://h/a"),
            ("https://h/a#b?c", "https://h/a"),
            ("https://h/!$&'()*+,;=:@", "https://h/!$&'()*+,;=:@"),
            (
                "https://id.example.com/v1/agents/login?q=a b|é",
                "https://id.example.com/v1/agents/login",
            ),
        ] {
            assert_eq!(normalize_htu(input).as_deref(), Some(want), "{input}");
        }
        assert!(matches_login(
            "https://id.example.com/v1/./agents/x/../login"
        ));
        assert!(matches_login("https://id.example.com/v1/agents/%6Cogin"));
        assert!(!matches_login("https://id.example.com/v1/agents/login%2F"));
        assert!(!matches_login("https://id.example.com./v1/agents/login"));
    }

    #[test]
    fn rejects_malformed_urls() {
        for input in [
            "",
            "https:",
            "https:/id.example.com/",
            "https:id.example.com/",
            "//id.example.com/v1/agents/login",
            "ftp://id.example.com/",
            "wss://id.example.com/",
            "javascript://id.example.com/",
            "https:///path",
            "https://:443/path",
            "https://id.example.com:99999/",
            "https://id.example.com:-1/",
            "https://id.example.com:44a/",
            "https://id.example.com:443:443/",
            "https://id.example.com%2F/",
            "https://id.exam ple.com/",
            "https://ïd.example.com/",
            "https://id.example.com\\@evil.example/",
            "https://[::1/",
            "https://[]/",
            "https://[::1]x/",
            "https://[v1.zz]/",
            "https://h/a%2",
            "https://h/a%zz",
            "https://h/a%",
            "https://h/a b",
            "https://h/é",
            "https://h/a\"b",
            "https://h/a\\b",
            "https://h/a\tb",
            " https://h/",
        ] {
            assert_eq!(normalize_htu(input), None, "{input:?}");
        }
    }
}
