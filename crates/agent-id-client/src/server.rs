//! The agent-id server a client talks to, as a validated origin: `scheme://host[:port]`, nothing
//! else. The origin is the issuer, the `aud` of challenges, the base of every `htu`, and the
//! name of the per-server state directory.

use std::fmt;

use agent_id_protocol::dpop::normalize_htu;

use crate::error::LocalError;

/// An `http`/`https` origin, normalised (lowercase scheme and host, default port dropped).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    origin: String,
}

impl ServerUrl {
    /// Parses `https://id.example.com` (one trailing `/` tolerated). A path, query, fragment or
    /// user information is refused: the issuer is an origin.
    pub fn parse(s: &str) -> Result<Self, LocalError> {
        let invalid = || {
            LocalError::Invalid(format!(
                "server URL {s:?} is not an origin like https://id.example.com"
            ))
        };
        if s.contains(['?', '#']) || s.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let normalized = normalize_htu(s).ok_or_else(invalid)?;
        let origin = normalized.strip_suffix('/').ok_or_else(invalid)?;
        let after_scheme = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if after_scheme.contains('/') {
            return Err(invalid());
        }
        Ok(Self {
            origin: origin.to_owned(),
        })
    }

    /// `scheme://host[:port]`, the issuer.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The absolute URL of an API path (`/v1/agents/login`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A directory name for this origin: `https_id.example.com`, `http_127.0.0.1_8787`
    /// (`:` is not portable in file names; IPv6 brackets dropped).
    pub fn slug(&self) -> String {
        self.origin
            .replace("://", "_")
            .replace(':', "_")
            .replace(['[', ']'], "")
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::ServerUrl;

    #[test]
    fn origins_are_normalised_and_slugged() {
        for (input, origin, slug) in [
            (
                "https://ID.Example.com",
                "https://id.example.com",
                "https_id.example.com",
            ),
            (
                "https://id.example.com/",
                "https://id.example.com",
                "https_id.example.com",
            ),
            (
                "https://id.example.com:443",
                "https://id.example.com",
                "https_id.example.com",
            ),
            (
                "http://127.0.0.1:8787",
                "http://127.0.0.1:8787",
                "http_127.0.0.1_8787",
            ),
            ("http://[::1]:8787", "http://[::1]:8787", "http___1_8787"),
        ] {
            let s = ServerUrl::parse(input).unwrap();
            assert_eq!(s.origin(), origin, "{input}");
            assert_eq!(s.slug(), slug, "{input}");
        }
    }

    #[test]
    fn non_origins_are_refused() {
        for bad in [
            "",
            "id.example.com",
            "ftp://id.example.com",
            "https://id.example.com/v1",
            "https://id.example.com/?x",
            "https://id.example.com#f",
            "https://user@id.example.com",
            "https://id.example.com:99999",
            "https:// id.example.com",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
