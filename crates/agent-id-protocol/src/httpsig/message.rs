//! A request as a signer (or a verifier holding the whole request) sees it: method, absolute
//! target URI and header fields, with the derived components of RFC 9421 §2.2.

use super::base::{BaseError, Components};

/// A request to sign or verify.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The absolute target URI, `scheme://authority/path?query`.
    pub url: &'a str,
    /// Header fields as sent; names compare case-insensitively, repeated names combine.
    pub headers: &'a [(&'a str, &'a str)],
}

/// The parts of an absolute URI the derived components need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Splits `scheme://authority[/path][?query][#fragment]`; userinfo and an empty authority
    /// are refused.
    pub fn parse(url: &'a str) -> Result<Self, BaseError> {
        let (scheme, rest) = url.split_once("://").ok_or(BaseError::BadUri)?;
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return Err(BaseError::BadUri);
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.is_empty()
            || authority.contains('@')
            || authority.bytes().any(|b| b <= b' ' || b >= 0x7f)
        {
            return Err(BaseError::BadUri);
        }
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        Ok(Self {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// `@authority` (RFC 9421 §2.2.3): lowercase, without the scheme's default port.
    pub fn normalized_authority(&self) -> String {
        let lower = self.authority.to_ascii_lowercase();
        let default = match self.scheme.to_ascii_lowercase().as_str() {
            "https" => ":443",
            _ => ":80",
        };
        match lower.strip_suffix(default) {
            Some(host) => host.to_owned(),
            None => lower,
        }
    }
}

impl Components for HttpRequest<'_> {
    fn derived(&self, name: &str) -> Result<Option<String>, BaseError> {
        let t = Target::parse(self.url)?;
        Ok(Some(match name {
            "@method" => self.method.to_owned(),
            "@target-uri" => self.url.split('#').next().unwrap_or_default().to_owned(),
            "@authority" => t.normalized_authority(),
            "@scheme" => t.scheme.to_ascii_lowercase(),
            "@path" if t.path.is_empty() => "/".to_owned(),
            "@path" => t.path.to_owned(),
            "@query" => format!("?{}", t.query.unwrap_or_default()),
            _ => return Err(BaseError::UnsupportedComponent(format!("\"{name}\""))),
        }))
    }

    fn field(&self, name: &str) -> Option<String> {
        combined_field(self.headers, name)
    }
}

/// RFC 9421 §2.1: the field's lines, trimmed, joined with `", "`; `None` if absent.
pub fn combined_field(headers: &[(&str, &str)], name: &str) -> Option<String> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']))
        .peekable();
    values.peek()?;
    Some(values.collect::<Vec<_>>().join(", "))
}
