//! The OAuth client flow against a small in-process authorization server and resource server,
//! reached through a [`Transport`]: discovery from the 401, the headless authorization step,
//! PKCE, DPoP proofs checked by the server's own verifier (`verify_proof`) with real nonces,
//! reuse of a stored token, refresh before expiry, and a full re-run once refresh is refused.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use agent_id_client::clock::Clock;
use agent_id_client::oauth::flow::dpop_key::DpopAlg;
use agent_id_client::oauth::flow::run::build;
use agent_id_client::oauth::flow::store::{TokenStore, REFRESH_MARGIN_S};
use agent_id_client::oauth::flow::{ClientIdentity, FlowError, OAuthAgent, Obtained};
use agent_id_client::{
    AgentKey, Client, HttpRequest, HttpResponse, Profile, ServerUrl, Transport, TransportError,
};
use agent_id_protocol::dpop::{nonce, verify_proof, ProofContext, ProofError};
use agent_id_protocol::jws::Alg;
use async_trait::async_trait;
use futures::executor::block_on;
use sha2::{Digest, Sha256};
use url::Url;

const RS: &str = "http://127.0.0.1:1";
const AS: &str = "http://127.0.0.1:2";
const T0: i64 = 1_767_225_600;
const LIFETIME: i64 = 600;
const NONCE_KEY: [u8; 32] = [9; 32];

struct ManualClock(Cell<i64>);

impl Clock for ManualClock {
    fn now_s(&self) -> i64 {
        self.0.get()
    }
}

/// What the fake servers saw and hold.
#[derive(Default)]
struct State {
    /// Query of each authorization request.
    authorizations: Vec<HashMap<String, String>>,
    /// `grant_type` of each token request that passed the proof checks.
    grants: Vec<String>,
    /// Form of the last token request.
    last_form: HashMap<String, String>,
    as_nonce_challenges: u32,
    rs_nonce_challenges: u32,
    /// PKCE challenge of the pending code.
    code_challenge: Option<String>,
    /// access token → (bound thumbprint, expiry).
    access: HashMap<String, (String, i64)>,
    /// refresh token → bound thumbprint.
    refresh: HashMap<String, String>,
    issued: u32,
    /// Answer the authorization request with this `state` instead of the client's.
    wrong_state: bool,
    /// Publish metadata for another issuer.
    wrong_issuer: bool,
}

struct Fake {
    clock: Rc<ManualClock>,
    require_nonce: bool,
    /// The one DPoP algorithm the servers advertise and accept.
    alg: Alg,
    state: RefCell<State>,
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    let mut b = http::Response::builder().status(status);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(body.as_bytes().to_vec()).unwrap()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl Fake {
    fn new(require_nonce: bool, alg: Alg) -> Rc<Self> {
        Rc::new(Self {
            clock: Rc::new(ManualClock(Cell::new(T0))),
            require_nonce,
            alg,
            state: RefCell::default(),
        })
    }

    fn now(&self) -> i64 {
        self.clock.0.get()
    }

    async fn check_proof(
        &self,
        req: &HttpRequest,
        url: &str,
        token: Option<&str>,
    ) -> Result<String, ProofError> {
        let proof = req
            .headers()
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .ok_or(ProofError::Invalid("no proof"))?;
        let ctx = ProofContext {
            method: req.method().as_str(),
            expected_url: url,
            allowed_algs: std::slice::from_ref(&self.alg),
            jwk_required: true,
            fallback_key: None,
            now_s: self.now(),
            iat_past_secs: 300,
            iat_future_secs: 5,
            nonce_key: &NONCE_KEY,
            require_nonce: self.require_nonce,
            access_token: token,
        };
        verify_proof(proof, &ctx).await.map(|p| p.thumbprint)
    }

    fn nonce(&self) -> String {
        nonce::issue(&NONCE_KEY, self.now())
    }

    async fn resource(&self, req: HttpRequest) -> HttpResponse {
        let prm = format!("{RS}/.well-known/oauth-protected-resource/api");
        let Some(auth) = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            let challenge = format!(r#"DPoP resource_metadata="{prm}""#);
            return response(401, &[("www-authenticate", &challenge)], "");
        };
        let token = auth.strip_prefix("DPoP ").unwrap_or_default().to_owned();
        match self
            .check_proof(&req, &format!("{RS}/api"), Some(&token))
            .await
        {
            Err(ProofError::UseNonce) => {
                self.state.borrow_mut().rs_nonce_challenges += 1;
                let nonce = self.nonce();
                response(
                    401,
                    &[
                        ("www-authenticate", r#"DPoP error="use_dpop_nonce""#),
                        ("dpop-nonce", &nonce),
                    ],
                    "",
                )
            }
            Err(e) => panic!("resource refused the proof: {e}"),
            Ok(jkt) => {
                let state = self.state.borrow();
                match state.access.get(&token) {
                    Some((bound, exp)) if *bound == jkt && *exp > self.now() => {
                        response(200, &[("content-type", "text/plain")], "hello agent")
                    }
                    _ => response(
                        401,
                        &[("www-authenticate", r#"DPoP error="invalid_token""#)],
                        "",
                    ),
                }
            }
        }
    }

    async fn token(&self, req: HttpRequest) -> HttpResponse {
        let jkt = match self.check_proof(&req, &format!("{AS}/token"), None).await {
            Err(ProofError::UseNonce) => {
                self.state.borrow_mut().as_nonce_challenges += 1;
                let nonce = self.nonce();
                return response(
                    400,
                    &[("dpop-nonce", &nonce), ("content-type", "application/json")],
                    r#"{"error":"use_dpop_nonce"}"#,
                );
            }
            Err(e) => panic!("token endpoint refused the proof: {e}"),
            Ok(jkt) => jkt,
        };
        let f = form(req.body());
        let mut state = self.state.borrow_mut();
        state.last_form = f.clone();
        let grant = f.get("grant_type").cloned().unwrap_or_default();
        state.grants.push(grant.clone());
        let invalid = |e: &str| {
            response(
                400,
                &[("content-type", "application/json")],
                &format!(r#"{{"error":"{e}"}}"#),
            )
        };
        assert_eq!(
            f.get("resource").map(String::as_str),
            Some(RS),
            "resource as published"
        );
        match grant.as_str() {
            "authorization_code" => {
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let computed = agent_id_protocol::b64::encode(&Sha256::digest(verifier.as_bytes()));
                if f.get("code").map(String::as_str) != Some("the-code")
                    || state.code_challenge.take() != Some(computed)
                    || f.get("redirect_uri").map(String::as_str)
                        != Some("http://127.0.0.1/callback")
                {
                    return invalid("invalid_grant");
                }
            }
            "refresh_token" => {
                let rt = f.get("refresh_token").cloned().unwrap_or_default();
                match state.refresh.remove(&rt) {
                    Some(bound) if bound == jkt => {}
                    _ => return invalid("invalid_grant"),
                }
            }
            _ => return invalid("unsupported_grant_type"),
        }
        state.issued += 1;
        let (at, rt) = (
            format!("at-{}", state.issued),
            format!("rt-{}", state.issued),
        );
        let exp = self.now() + LIFETIME;
        state.access.insert(at.clone(), (jkt.clone(), exp));
        state.refresh.insert(rt.clone(), jkt);
        let body = format!(
            r#"{{"access_token":"{at}","token_type":"DPoP","expires_in":{LIFETIME},"refresh_token":"{rt}"}}"#
        );
        response(200, &[("content-type", "application/json")], &body)
    }

    fn authorize(&self, url: &Url) -> HttpResponse {
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let mut state = self.state.borrow_mut();
        assert_eq!(
            q.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        state.code_challenge = q.get("code_challenge").cloned();
        let returned_state = if state.wrong_state {
            "forged".to_owned()
        } else {
            q["state"].clone()
        };
        state.authorizations.push(q.clone());
        let mut back = Url::parse(&q["redirect_uri"]).unwrap();
        back.query_pairs_mut()
            .append_pair("code", "the-code")
            .append_pair("state", &returned_state)
            .append_pair("iss", AS);
        response(302, &[("location", back.as_str())], "")
    }
}

#[async_trait(?Send)]
impl Transport for Fake {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = Url::parse(&req.uri().to_string()).unwrap();
        let origin = url.origin().ascii_serialization();
        Ok(match (origin.as_str(), url.path()) {
            (RS, "/api") => self.resource(req).await,
            (RS, "/.well-known/oauth-protected-resource/api") => response(
                200,
                &[("content-type", "application/json")],
                // A pathless identifier: it must travel as `resource` exactly like this.
                &format!(r#"{{"resource":"{RS}","authorization_servers":["{AS}"]}}"#),
            ),
            (AS, "/.well-known/oauth-authorization-server") => {
                let issuer = if self.state.borrow().wrong_issuer {
                    "http://127.0.0.1:3"
                } else {
                    AS
                };
                response(
                    200,
                    &[("content-type", "application/json")],
                    &format!(
                        r#"{{"issuer":"{issuer}","authorization_endpoint":"{AS}/authorize",
                        "token_endpoint":"{AS}/token","code_challenge_methods_supported":["S256"],
                        "dpop_signing_alg_values_supported":["{alg}"],
                        "authorization_response_iss_parameter_supported":true}}"#,
                        alg = self.alg.as_str()
                    ),
                )
            }
            (AS, "/authorize") => self.authorize(&url),
            (AS, "/token") => self.token(req).await,
            _ => response(404, &[], ""),
        })
    }
}

struct Setup {
    fake: Rc<Fake>,
    client: Client,
    key: AgentKey,
    profile: Profile,
    base: std::path::PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn setup(name: &str, require_nonce: bool) -> Setup {
    setup_with(name, require_nonce, Alg::EdDSA)
}

fn setup_with(name: &str, require_nonce: bool, alg: Alg) -> Setup {
    let fake = Fake::new(require_nonce, alg);
    let server = ServerUrl::parse("http://127.0.0.1:9").unwrap();
    let client = Client::with_transport_and_clock(server.clone(), fake.clone(), fake.clock.clone());
    let base = std::env::temp_dir().join(format!("agent-id-oauth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let profile = Profile::in_base(&base, &server);
    let key = AgentKey::from_seed(&[7; 32]);
    Setup {
        fake,
        client,
        key,
        profile,
        base,
    }
}

fn get(url: &str) -> Result<HttpRequest, FlowError> {
    build(http::Method::GET, url, &[], Vec::new())
}

#[test]
fn discovers_authorizes_reuses_refreshes_and_reauthorizes() {
    let s = setup("lifecycle", false);
    let store = TokenStore::new(&s.profile);
    let agent = OAuthAgent::new(&s.client, &s.key, Some(&store));
    let url = Url::parse(&format!("{RS}/api")).unwrap();
    let public = ClientIdentity::parse("agent-cli").unwrap();
    let api = format!("{RS}/api");
    let make = || get(&api);

    // 1. No token: the 401 leads to discovery, the code flow and a retry with the token.
    let mut token = None;
    let resp = block_on(agent.send_protected(&url, &public, &make, &mut token)).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), b"hello agent");
    {
        let st = s.fake.state.borrow();
        assert_eq!(st.grants, ["authorization_code"]);
        let q = &st.authorizations[0];
        assert_eq!(q["client_id"], "agent-cli");
        assert_eq!(
            q["resource"], RS,
            "pathless resource sent exactly as published"
        );
        assert_eq!(q["response_type"], "code");
    }
    let stored = token.clone().unwrap();
    assert_eq!(stored.expires_at, Some(T0 as u64 + LIFETIME as u64));

    // 2. The token and its refresh token are in the state directory, 0600; a later run reuses
    //    the live token without asking the authorization server.
    let on_disk = store.load(RS, "agent-cli").unwrap().unwrap();
    assert_eq!(on_disk, stored);
    assert_eq!(on_disk.refresh_token.as_deref(), Some("rt-1"));
    let files: Vec<_> = std::fs::read_dir(s.profile.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let oauth_file = files
        .iter()
        .find(|p| p.to_string_lossy().contains("oauth-"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(oauth_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let found = block_on(agent.discover(&url, None)).unwrap();
    let (again, how) = block_on(agent.obtain(&found, &public)).unwrap();
    assert_eq!(
        (how, again.access_token.as_str()),
        (Obtained::Reused, "at-1")
    );
    assert_eq!(s.fake.state.borrow().grants.len(), 1);

    // 3. Within the refresh margin of expiry: refreshed (before the resource would refuse it).
    s.fake
        .clock
        .0
        .set(T0 + LIFETIME - REFRESH_MARGIN_S as i64 + 1);
    let (refreshed, how) = block_on(agent.obtain(&found, &public)).unwrap();
    assert_eq!(
        (how, refreshed.access_token.as_str()),
        (Obtained::Refreshed, "at-2")
    );
    assert_eq!(
        s.fake.state.borrow().grants,
        ["authorization_code", "refresh_token"]
    );
    assert_eq!(s.fake.state.borrow().last_form["refresh_token"], "rt-1");
    assert_eq!(
        store
            .load(RS, "agent-cli")
            .unwrap()
            .unwrap()
            .refresh_token
            .as_deref(),
        Some("rt-2")
    );
    let mut token = Some(refreshed);
    let resp = block_on(agent.send_protected(&url, &public, &make, &mut token)).unwrap();
    assert_eq!(resp.status(), 200);

    // 4. Expired and the refresh token revoked: refused refresh, forgotten, full flow again.
    s.fake.state.borrow_mut().refresh.clear();
    s.fake.clock.0.set(T0 + 10 * LIFETIME);
    let (fresh, how) = block_on(agent.obtain(&found, &public)).unwrap();
    assert_eq!(
        (how, fresh.access_token.as_str()),
        (Obtained::Authorized, "at-3")
    );
    assert_eq!(
        s.fake.state.borrow().grants,
        [
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "authorization_code"
        ]
    );
}

#[test]
fn answers_nonce_challenges_at_the_authorization_server_and_the_resource() {
    let s = setup("nonce", true);
    let agent = OAuthAgent::new(&s.client, &s.key, None);
    let url = Url::parse(&format!("{RS}/api")).unwrap();
    let api = format!("{RS}/api");
    let make = || get(&api);
    let mut token = None;
    let public = ClientIdentity::parse("agent-cli").unwrap();
    let resp = block_on(agent.send_protected(&url, &public, &make, &mut token)).unwrap();
    assert_eq!(resp.status(), 200);
    let st = s.fake.state.borrow();
    assert_eq!((st.as_nonce_challenges, st.rs_nonce_challenges), (1, 1));
    assert_eq!(st.grants, ["authorization_code"]);
}

#[test]
fn refuses_a_forged_state_or_a_foreign_issuer_before_any_token_request() {
    let url = Url::parse(&format!("{RS}/api")).unwrap();
    let public = ClientIdentity::parse("agent-cli").unwrap();

    let s = setup("state", false);
    let store = TokenStore::new(&s.profile);
    let agent = OAuthAgent::new(&s.client, &s.key, Some(&store));
    s.fake.state.borrow_mut().wrong_state = true;
    let found = block_on(agent.discover(&url, None)).unwrap();
    let err = block_on(agent.obtain(&found, &public)).unwrap_err();
    assert!(
        matches!(err, FlowError::BadAuthorizationResponse(_)),
        "{err}"
    );
    assert!(s.fake.state.borrow().grants.is_empty());
    assert_eq!(store.load(RS, "agent-cli").unwrap(), None);

    let s = setup("issuer", false);
    let agent = OAuthAgent::new(&s.client, &s.key, None);
    s.fake.state.borrow_mut().wrong_issuer = true;
    let err = block_on(agent.discover(&url, None)).unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
    assert!(s.fake.state.borrow().authorizations.is_empty());

    // A Client ID Metadata Document URL is not sent to a server that does not support them.
    let s = setup("cimd", false);
    let agent = OAuthAgent::new(&s.client, &s.key, None);
    let cimd = ClientIdentity::parse("https://agent.example/client.json").unwrap();
    let found = block_on(agent.discover(&url, None)).unwrap();
    assert!(matches!(
        block_on(agent.obtain(&found, &cimd)),
        Err(FlowError::ClientId(_))
    ));
    assert!(s.fake.state.borrow().authorizations.is_empty());
}

#[test]
fn an_es256_only_server_gets_proofs_by_a_kept_p256_key() {
    let s = setup_with("es256", true, Alg::ES256);
    let store = TokenStore::new(&s.profile);
    let url = Url::parse(&format!("{RS}/api")).unwrap();
    let api = format!("{RS}/api");
    let make = || get(&api);
    let public = ClientIdentity::parse("agent-cli").unwrap();
    let agent = OAuthAgent::new(&s.client, &s.key, Some(&store));
    let mut token = None;
    let resp = block_on(agent.send_protected(&url, &public, &make, &mut token)).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(token.as_ref().unwrap().dpop_alg, DpopAlg::ES256);
    let key_file = s.profile.dir().join("oauth-dpop-es256.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A later run (a new agent value) loads the same P-256 key: the stored token, bound to it,
    // is accepted by the resource.
    let agent = OAuthAgent::new(&s.client, &s.key, Some(&store));
    let mut token = store.load(RS, "agent-cli").unwrap();
    let resp = block_on(agent.send_protected(&url, &public, &make, &mut token)).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(s.fake.state.borrow().grants, ["authorization_code"]);
}
