//! `--server URL` / `AGENT_ID_SERVER`: the agent-id server's origin, checked while the command line
//! is parsed, so that a typo is a usage error (exit 2) and not a network error.

use std::net::IpAddr;

use agent_id_client::ServerUrl;

/// clap's value parser for `--server`: an origin (the library's [`ServerUrl`] rules), and
/// `https` unless the host is loopback — a session token or a DPoP proof must not cross a
/// network in clear text.
pub fn parse(raw: &str) -> Result<ServerUrl, String> {
    let server = ServerUrl::parse(raw.trim()).map_err(|err| err.to_string())?;
    let origin = server.origin();
    if let Some(authority) = origin.strip_prefix("http://") {
        if !is_loopback(host_of(authority)) {
            return Err(format!(
                "{origin}: plain http is allowed only for a loopback host \
                 (localhost, 127.0.0.1, [::1]); use https"
            ));
        }
    }
    Ok(server)
}

/// The host of a normalised `host[:port]` / `[v6][:port]` authority.
fn host_of(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_https_and_loopback_http() {
        for (raw, origin) in [
            ("https://ID.example.com/", "https://id.example.com"),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            ("http://127.1.2.3:8787", "http://127.1.2.3:8787"),
            ("http://localhost:8787/", "http://localhost:8787"),
            ("http://[::1]:8787", "http://[::1]:8787"),
        ] {
            assert_eq!(parse(raw).unwrap().origin(), origin, "{raw}");
        }
    }

    #[test]
    fn refuses_non_origins_and_clear_text_to_a_network_host() {
        for raw in [
            "id.example.com",
            "https://id.example.com/v1",
            "http://id.example.com",
            "http://10.0.0.1:8787",
            "http://[2001:db8::1]:8787",
            "http://127.0.0.1.example.com",
        ] {
            assert!(parse(raw).is_err(), "{raw} was accepted");
        }
    }
}
