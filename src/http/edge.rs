//! The runtime-neutral half of the Worker edge: what `worker_entry` does to workerd's request and
//! response text, kept here so it is tested natively. Each crossing of the wasm boundary costs a
//! JS call and a string conversion, so the edge moves the headers across in one JSON text each
//! way instead of one call per header and value.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The parts of a request URL the App uses, borrowed from workerd's serialized `request.url`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// `scheme://host[:port]`, without user info.
    pub origin: &'a str,
    /// The path as received, percent-encoded; at least `/`.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// Splits an absolute `http`/`https` URL as a WHATWG URL serializer writes it (lower-case
/// scheme and host, no default port, a path from `/`). workerd's `request.url` is always that,
/// so no second parse is needed; anything else is `None` and the edge parses it fully.
pub fn split_url(url: &str) -> Option<Target<'_>> {
    let scheme_len = ["http://", "https://"]
        .into_iter()
        .find(|s| url.starts_with(s))?
        .len();
    let rest = &url[scheme_len..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    // User info would sit inside the origin text; browsers and workerd never send it.
    if authority.is_empty() || authority.contains('@') || !rest[authority_len..].starts_with('/') {
        return None;
    }
    let origin = &url[..scheme_len + authority_len];
    let target = &rest[authority_len..];
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    Some(Target {
        origin,
        path,
        query,
    })
}

/// A header value's bytes. A JS header value is a ByteString (every char ≤ U+00FF), each char one
/// byte, so obs-text reaches the App exactly as sent, as natively. workerd decodes some non-ASCII
/// values as UTF-8 first (invalid bytes become U+FFFD); those keep their UTF-8 bytes, still
/// non-ASCII, so the App refuses them as it refuses obs-text instead of never seeing the header.
pub fn value_bytes(value: &str) -> Vec<u8> {
    value
        .chars()
        .map(|c| u8::try_from(c).ok())
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| value.as_bytes().to_vec())
}

/// The request headers from `JSON.stringify(Array.from(request.headers))`: `[[name, value], …]`
/// in workerd's order (repeated headers already joined by workerd, `Set-Cookie` kept apart).
/// `None` if the text is not that shape (the edge then reads the headers one by one).
pub fn headers_from_json(json: &str) -> Option<HeaderMap> {
    let pairs: Vec<(String, String)> = serde_json::from_str(json).ok()?;
    let mut out = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        append(&mut out, &name, &value);
    }
    Some(out)
}

/// Adds one header as workerd handed it over; a name or value `http` refuses is dropped, as the
/// App could not have read it.
pub fn append(headers: &mut HeaderMap, name: &str, value: &str) {
    let value = HeaderValue::from_bytes(&value_bytes(value));
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), value) {
        headers.append(n, v);
    }
}

/// The response headers as `[[name, value], …]` JSON for `new Response(body, {headers})`, in
/// order, repeats kept. A value that is not visible ASCII is left out, as `worker::Headers`
/// (a UTF-8 `&str` API) left it out before; the App never writes one.
pub fn headers_to_json(headers: &HeaderMap) -> String {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> (&str, &str, Option<&str>) {
        let t = split_url(url).unwrap_or_else(|| panic!("{url}"));
        (t.origin, t.path, t.query)
    }

    #[test]
    fn split_url_takes_origin_path_and_query_from_a_serialized_url() {
        assert_eq!(
            target("http://127.0.0.1:8787/v1/agents/me"),
            ("http://127.0.0.1:8787", "/v1/agents/me", None)
        );
        assert_eq!(
            target("https://id.example.com/"),
            ("https://id.example.com", "/", None)
        );
        assert_eq!(
            target("https://id.example.com/v1/oauth/authorize?client_id=a&x=%20y"),
            (
                "https://id.example.com",
                "/v1/oauth/authorize",
                Some("client_id=a&x=%20y")
            )
        );
        assert_eq!(
            target("https://id.example.com/a?"),
            ("https://id.example.com", "/a", Some(""))
        );
        assert_eq!(
            target("https://id.example.com/a?b=1#frag?x"),
            ("https://id.example.com", "/a", Some("b=1"))
        );
        assert_eq!(
            target("http://[::1]:8787/p%2Fq/%C3%A9"),
            ("http://[::1]:8787", "/p%2Fq/%C3%A9", None)
        );
    }

    #[test]
    fn split_url_refuses_what_a_serializer_would_not_write() {
        for url in [
            "ftp://id.example.com/",
            "HTTP://id.example.com/",
            "https://",
            "https:///path",
            "https://id.example.com",
            "https://id.example.com?x",
            "https://user:pw@id.example.com/",
            "/v1/agents/me",
            "",
        ] {
            assert_eq!(split_url(url), None, "{url}");
        }
    }

    #[test]
    fn headers_cross_as_json_with_obs_text_bytes_and_repeats_kept() {
        // "\u00e9" is how a ByteString carries the byte 0xE9; "\u00e9\u4e00" is a value workerd
        // decoded as UTF-8, which keeps its UTF-8 bytes.
        let json = r#"[["accept","*/*"],["dpop","abc\u00e9def"],["set-cookie","a=1"],
            ["set-cookie","b=2"],["x-utf8","\u00e9\u4e00"],["bad name","x"],["x-empty",""]]"#;
        let h = headers_from_json(json).unwrap();
        assert_eq!(h.get("accept").unwrap(), "*/*");
        assert_eq!(h.get("dpop").unwrap().as_bytes(), b"abc\xe9def");
        let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            h.get("x-utf8").unwrap().as_bytes(),
            "\u{e9}\u{4e00}".as_bytes()
        );
        assert_eq!(h.get("x-empty").unwrap(), "");
        assert_eq!(h.len(), 6, "the invalid name is dropped");
        assert_eq!(headers_from_json("{}"), None);
        assert_eq!(headers_from_json("[[\"a\"]]"), None);
    }

    #[test]
    fn response_headers_cross_as_json_in_order_with_repeats() {
        let mut h = HeaderMap::new();
        h.append("content-type", HeaderValue::from_static("application/json"));
        h.append("vary", HeaderValue::from_static("Origin"));
        h.append("vary", HeaderValue::from_static("Accept"));
        h.append(
            "www-authenticate",
            HeaderValue::from_static(r#"DPoP error="invalid_dpop_proof", algs="EdDSA""#),
        );
        h.append("x-obs", HeaderValue::from_bytes(b"a\xe9").unwrap());
        let json = headers_to_json(&h);
        assert_eq!(
            json,
            r#"[["content-type","application/json"],["vary","Origin"],["vary","Accept"],["www-authenticate","DPoP error=\"invalid_dpop_proof\", algs=\"EdDSA\""]]"#
        );
        // What goes out comes back the same through the request direction's parser.
        let back = headers_from_json(&json).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.get_all("vary").iter().count(), 2);
    }
}
