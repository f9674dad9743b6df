//! DPoP as a client (RFC 9449): a fresh proof for every request (`htm`, `htu` without query and
//! fragment, `ath` when an access token is sent), and the server-nonce dance: a `DPoP-Nonce`
//! from any response is cached per origin and put in the next proofs to that origin; a
//! `use_dpop_nonce` refusal that brings a new nonce is retried once. Works at any server: the
//! agent-id API, an authorization server's token endpoint, a resource server.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use agent_id_protocol::dpop::{build_proof, ProofClaims, ProofSigner};
use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{Error, LocalError, TransportError};
use crate::random;
use crate::transport::{HttpRequest, HttpResponse, Transport};

/// Sends requests with DPoP proofs and remembers each origin's nonce.
pub struct DpopClient {
    transport: Rc<dyn Transport>,
    clock: Rc<dyn Clock>,
    nonces: RefCell<HashMap<String, String>>,
}

impl DpopClient {
    pub fn new(transport: Rc<dyn Transport>, clock: Rc<dyn Clock>) -> Self {
        Self {
            transport,
            clock,
            nonces: RefCell::default(),
        }
    }

    /// Sends `request` with a proof by `signer`; with `access_token`, also
    /// `Authorization: DPoP <token>` and the proof's `ath`. Retries once when the server
    /// answers `use_dpop_nonce` with a new nonce. The response is returned whatever its status.
    pub async fn send(
        &self,
        signer: ProofSigner<'_>,
        request: HttpRequest,
        access_token: Option<&str>,
    ) -> Result<HttpResponse, Error> {
        let url = request.uri().to_string();
        let origin = origin_of(&url)
            .ok_or_else(|| LocalError::Invalid(format!("{url} is not an absolute http(s) URL")))?;
        let (parts, body) = request.into_parts();
        let mut retried = false;
        loop {
            let nonce = self.nonce(&origin);
            let proof = self.proof(
                signer,
                parts.method.as_str(),
                &url,
                nonce.as_deref(),
                access_token,
            )?;
            let mut attempt = http::Request::from_parts(parts.clone(), body.clone());
            let headers = attempt.headers_mut();
            headers.insert("dpop", header_value(&proof)?);
            if let Some(token) = access_token {
                headers.insert(AUTHORIZATION, header_value(&format!("DPoP {token}"))?);
            }
            let response = self.transport.send(attempt).await?;
            let fresh = response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            if let Some(n) = &fresh {
                self.nonces.borrow_mut().insert(origin.clone(), n.clone());
            }
            let new_nonce = fresh.is_some() && fresh != nonce;
            if !retried && new_nonce && asks_for_nonce(&response) {
                retried = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// A proof for one request, with the origin's cached nonce (for callers that send the
    /// request themselves).
    pub fn proof_for(
        &self,
        signer: ProofSigner<'_>,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let nonce = origin_of(url).and_then(|o| self.nonce(&o));
        self.proof(signer, method, url, nonce.as_deref(), access_token)
    }

    /// Caches `nonce` for the origin of `url` (a nonce the caller received on a response it
    /// handled itself).
    pub fn remember_nonce(&self, url: &str, nonce: &str) {
        if let Some(origin) = origin_of(url) {
            self.nonces.borrow_mut().insert(origin, nonce.to_owned());
        }
    }

    /// The cached nonce of an origin (`scheme://host[:port]`).
    pub fn nonce(&self, origin: &str) -> Option<String> {
        self.nonces.borrow().get(origin).cloned()
    }

    fn proof(
        &self,
        signer: ProofSigner<'_>,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let jti = random::uuid_v4()?;
        Ok(build_proof(
            signer,
            &ProofClaims {
                htm: method,
                htu: url,
                iat: self.clock.now_s(),
                jti: &jti,
                nonce,
                access_token,
            },
        ))
    }
}

fn header_value(s: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(s)
        .map_err(|_| Error::Transport(TransportError::new("a header value is not visible ASCII")))
}

/// `scheme://authority` of an absolute URL, lowercased.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// RFC 9449 §8 (authorization server: `400 {"error":"use_dpop_nonce"}`), §9 (resource server:
/// `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`), and agent-id's own
/// `401 {"code":"use_dpop_nonce"}`.
fn asks_for_nonce(response: &HttpResponse) -> bool {
    if !matches!(response.status().as_u16(), 400 | 401) {
        return false;
    }
    let in_challenge = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("use_dpop_nonce"));
    let in_body = serde_json::from_slice::<Value>(response.body())
        .ok()
        .is_some_and(|v| {
            ["error", "code"]
                .iter()
                .any(|k| v.get(k).and_then(Value::as_str) == Some("use_dpop_nonce"))
        });
    in_challenge || in_body
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use agent_id_protocol::{b64, jws};
    use async_trait::async_trait;

    use super::*;
    use crate::clock::SystemClock;
    use crate::keys::AgentKey;

    /// A server that answers every request with the same refusal and a new nonce each time,
    /// recording the proofs it got. It checks nothing: the server-side checks are exercised
    /// against the real App in `tests/against_server.rs`.
    struct Refusing {
        status: u16,
        www_authenticate: Option<&'static str>,
        body: &'static str,
        proofs: RefCell<Vec<serde_json::Map<String, Value>>>,
        calls: Cell<u32>,
    }

    impl Refusing {
        fn new(
            status: u16,
            www_authenticate: Option<&'static str>,
            body: &'static str,
        ) -> Rc<Self> {
            Rc::new(Self {
                status,
                www_authenticate,
                body,
                proofs: RefCell::default(),
                calls: Cell::new(0),
            })
        }
    }

    #[async_trait(?Send)]
    impl Transport for Refusing {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let proof = request.headers()["dpop"].to_str().unwrap();
            self.proofs
                .borrow_mut()
                .push(jws::parse(proof).unwrap().payload);
            self.calls.set(self.calls.get() + 1);
            let mut r = http::Response::builder()
                .status(self.status)
                .header("dpop-nonce", format!("nonce-{}", self.calls.get()));
            if let Some(w) = self.www_authenticate {
                r = r.header("www-authenticate", w);
            }
            Ok(r.body(self.body.as_bytes().to_vec()).unwrap())
        }
    }

    fn send(t: &Rc<Refusing>, url: &str, token: Option<&str>) -> (DpopClient, HttpResponse) {
        let key = AgentKey::generate().unwrap();
        let dpop = DpopClient::new(t.clone(), Rc::new(SystemClock));
        let req = http::Request::post(url).body(b"{}".to_vec()).unwrap();
        let resp = futures::executor::block_on(dpop.send(key.proof_signer(), req, token)).unwrap();
        (dpop, resp)
    }

    #[test]
    fn a_nonce_refusal_is_retried_exactly_once_in_each_style() {
        let styles = [
            // agent-id's own endpoints
            Refusing::new(
                401,
                None,
                r#"{"success":false,"code":"use_dpop_nonce","error":"x"}"#,
            ),
            // RFC 9449 §8: authorization server
            Refusing::new(400, None, r#"{"error":"use_dpop_nonce"}"#),
            // RFC 9449 §9: resource server, empty body
            Refusing::new(
                401,
                Some(r#"DPoP error="use_dpop_nonce", algs="EdDSA""#),
                "",
            ),
        ];
        for t in styles {
            let (dpop, resp) = send(&t, "https://rs.example/api?q=1", Some("tok"));
            assert_eq!(t.calls.get(), 2, "one retry, no more");
            assert_eq!(resp.status().as_u16(), t.status);
            let proofs = t.proofs.borrow();
            assert_eq!(proofs[0].get("nonce"), None);
            assert_eq!(proofs[1]["nonce"], "nonce-1");
            for p in proofs.iter() {
                assert_eq!(p["htu"], "https://rs.example/api");
                assert_eq!(p["htm"], "POST");
                assert_eq!(p["ath"], agent_id_protocol::dpop::ath("tok"));
            }
            assert_ne!(proofs[0]["jti"], proofs[1]["jti"]);
            // The last nonce is cached for the origin.
            assert_eq!(dpop.nonce("https://rs.example").as_deref(), Some("nonce-2"));
            assert_eq!(dpop.nonce("https://other.example"), None);
        }
    }

    #[test]
    fn other_refusals_are_not_retried() {
        for t in [
            Refusing::new(401, None, r#"{"code":"invalid_dpop_proof","error":"x"}"#),
            Refusing::new(400, None, r#"{"error":"invalid_grant"}"#),
            Refusing::new(403, None, r#"{"error":"use_dpop_nonce"}"#),
        ] {
            send(&t, "https://as.example/token", None);
            assert_eq!(t.calls.get(), 1);
            assert_eq!(t.proofs.borrow()[0].get("ath"), None);
        }
    }

    #[test]
    fn proofs_carry_the_jwk_of_the_signing_key() {
        let key = AgentKey::generate().unwrap();
        let dpop = DpopClient::new(Refusing::new(200, None, "{}"), Rc::new(SystemClock));
        let proof = dpop
            .proof_for(key.proof_signer(), "GET", "https://x.example/a#f", None)
            .unwrap();
        let parsed = jws::parse(&proof).unwrap();
        assert_eq!(parsed.header["jwk"]["x"], key.public_b64());
        assert_eq!(parsed.header["typ"], "dpop+jwt");
        assert_eq!(parsed.payload["htu"], "https://x.example/a");
        assert!(b64::decode_strict(proof.rsplit('.').next().unwrap()).is_some());
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("HTTPS://Id.Example.com:8443/v1/x?y#z").as_deref(),
            Some("https://id.example.com:8443")
        );
        assert_eq!(origin_of("http://h?x").as_deref(), Some("http://h"));
        assert_eq!(origin_of("/relative"), None);
        assert_eq!(origin_of("ftp://h/"), None);
    }
}
