//! The OAuth fixture: a registered client that authenticates with `private_key_jwt` assertions
//! signed by its real Ed25519 key, and a [`World`] (a BASIC overseer, an agent it oversees and
//! the overseer's client) in which tests create codes, grants and tokens through the flow itself
//! (authorize, exchange, refresh) instead of writing rows.

#![allow(dead_code)]

use serde_json::{json, Value};

use agent_id::jose::b64;
use agent_id::jose::jws::sign_ed25519;

use super::{form, Agent, Harness, Overseer, ProofSpec, Req, Resp, TestKey, ISSUER};

pub const REDIRECT: &str = "https://app.example.com/cb";
/// The PKCE pair of RFC 7636 Appendix B.
pub const VERIFIER: &str = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8";
pub const CHALLENGE: &str = "Y9-Bupk9c7XztXcbq62n63XxVzBU7ZldomREHi5_u2s";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The scope [`Client::register`] asks for.
pub const CLIENT_SCOPE: &str = "id name description subscription";

/// A registered OAuth client and the key it signs its assertions with.
pub struct Client {
    pub id: String,
    pub key: TestKey,
}

/// The tokens one successful token response carries.
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    /// The tokens of a token response, which must be a success.
    #[track_caller]
    pub fn issued(r: &Resp) -> Self {
        assert_eq!(r.status, 200, "{}", r.body);
        Self {
            access: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// `POST endpoint` as a form carrying `assertion` before `pairs`.
pub fn with_assertion(endpoint: &str, assertion: &str, pairs: &[(&str, &str)]) -> Req {
    let mut all = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    all.extend_from_slice(pairs);
    Req::post(endpoint).raw(FORM, form(&all))
}

impl Client {
    /// Registers a client with a fresh key, owned by `owner_type` (`overseer` or `agent`) through
    /// `session`, for [`REDIRECT`] and a local callback, with [`CLIENT_SCOPE`].
    pub fn register(h: &Harness, owner_type: &str, session: &str, name: &str) -> Self {
        let key = TestKey::random();
        let r = h.send(
            Req::post(&format!("/v1/clients/register/{owner_type}"))
                .bearer(session)
                .json(json!({"name": name,
                    "redirect_uris": ["http://localhost:8790/callback", REDIRECT],
                    "public_key": key.x(), "scope": CLIENT_SCOPE})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        Self {
            id: r.body["client"]["id"].as_str().unwrap().to_owned(),
            key,
        }
    }

    /// A `private_key_jwt` assertion for `aud`, issued now and expiring at `exp`.
    pub fn assertion_until(&self, h: &Harness, aud: &str, exp: i64) -> String {
        let mut jti = [0u8; 12];
        getrandom::fill(&mut jti).unwrap();
        let payload = json!({"iss": self.id, "sub": self.id, "aud": aud, "iat": h.now_s(),
                             "exp": exp, "jti": b64::encode(&jti)});
        sign_ed25519(
            r#"{"alg":"EdDSA","typ":"JWT"}"#,
            &payload.to_string(),
            &self.key.0,
        )
    }

    /// A `private_key_jwt` assertion for `aud`, valid for a minute.
    pub fn assertion(&self, h: &Harness, aud: &str) -> String {
        self.assertion_until(h, aud, h.now_s() + 60)
    }

    /// `POST endpoint` authenticated by a fresh assertion for that endpoint.
    pub fn form(&self, h: &Harness, endpoint: &str, pairs: &[(&str, &str)]) -> Req {
        let assertion = self.assertion(h, &format!("{ISSUER}{endpoint}"));
        with_assertion(endpoint, &assertion, pairs)
    }

    /// The token request redeeming `code` (PKCE verifier [`VERIFIER`]), with a DPoP proof by
    /// `dpop` if given.
    pub fn exchange_request(&self, h: &Harness, code: &str, dpop: Option<&TestKey>) -> Req {
        let req = self.form(
            h,
            "/v1/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        );
        match dpop {
            Some(k) => req.header("dpop", &h.post_proof(k, "/v1/oauth/token")),
            None => req,
        }
    }

    pub fn exchange(&self, h: &Harness, code: &str, dpop: Option<&TestKey>) -> Resp {
        h.send(self.exchange_request(h, code, dpop))
    }

    pub fn refresh_request(&self, h: &Harness, refresh: &str) -> Req {
        self.form(
            h,
            "/v1/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
    }

    pub fn refresh(&self, h: &Harness, refresh: &str) -> Resp {
        h.send(self.refresh_request(h, refresh))
    }

    /// The introspection response for `token`.
    pub fn introspect(&self, h: &Harness, token: &str) -> Value {
        h.send(self.form(h, "/v1/oauth/introspect", &[("token", token)]))
            .body
    }

    /// The agent's consent: a code issued now (see [`authorize`]).
    pub fn code(&self, h: &Harness, agent: &Agent) -> String {
        let r = authorize(h, agent, &self.id, json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }

    /// A grant of `agent` to this client, redeemed without DPoP (bound to the client's key).
    pub fn grant(&self, h: &Harness, agent: &Agent) -> Tokens {
        Tokens::issued(&self.exchange(h, &self.code(h, agent), None))
    }
}

/// `POST /v1/oauth/authorize` by `agent`'s session for `client_id` with PKCE S256 and
/// [`REDIRECT`]; the members of `extra` are added or replace these (null sends null).
pub fn authorize(h: &Harness, agent: &Agent, client_id: &str, extra: Value) -> Resp {
    let mut body = json!({"client_id": client_id, "redirect_uri": REDIRECT,
                          "code_challenge": CHALLENGE, "code_challenge_method": "S256"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    h.send(
        Req::post("/v1/oauth/authorize")
            .bearer(&agent.session)
            .json(body),
    )
}

/// `GET /v1/oauth/userinfo` with `access` and a DPoP proof by `key`.
pub fn userinfo(h: &Harness, access: &str, key: &TestKey) -> Resp {
    let ath = b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(access.as_bytes()));
    let proof = key.proof(
        &ProofSpec::new("GET", &format!("{ISSUER}/v1/oauth/userinfo"), h.now_s())
            .claim("ath", json!(ath)),
    );
    h.send(
        Req::get("/v1/oauth/userinfo")
            .header("authorization", &format!("DPoP {access}"))
            .header("dpop", &proof),
    )
}

/// A BASIC overseer, an agent it oversees (claimed through the API) and an overseer-owned client.
pub struct World {
    pub h: Harness,
    pub overseer: Overseer,
    pub agent: Agent,
    pub agent_key: TestKey,
    pub client: Client,
}

pub fn world() -> World {
    World::on(Harness::new())
}

/// [`world`] on a harness configured with `vars`.
pub fn world_with(vars: &[(&str, &str)]) -> World {
    World::on(Harness::with_vars(vars))
}

impl World {
    pub fn on(h: Harness) -> Self {
        let overseer = h.overseer("o@example.test");
        h.subscribe(&overseer.id, "BASIC");
        let agent_key = TestKey::random();
        let agent = h.register(&agent_key, "Agent A");
        h.claim(&overseer, &agent);
        let client = Client::register(&h, "overseer", &overseer.session, "Demo Client");
        Self {
            h,
            overseer,
            agent,
            agent_key,
            client,
        }
    }

    pub fn assertion(&self, aud: &str) -> String {
        self.client.assertion(&self.h, aud)
    }

    pub fn assertion_until(&self, aud: &str, exp: i64) -> String {
        self.client.assertion_until(&self.h, aud, exp)
    }

    pub fn client_form(&self, endpoint: &str, pairs: &[(&str, &str)]) -> Req {
        self.client.form(&self.h, endpoint, pairs)
    }

    /// The agent authorizes the client for `id name subscription` with state `xyz`; `extra`
    /// adds or replaces members.
    pub fn authorize(&self, extra: Value) -> Resp {
        let mut body = json!({"scope": "id name subscription", "state": "xyz"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        authorize(&self.h, &self.agent, &self.client.id, body)
    }

    pub fn code(&self) -> String {
        let r = self.authorize(json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }

    pub fn exchange(&self, code: &str, dpop: Option<&TestKey>) -> Resp {
        self.client.exchange(&self.h, code, dpop)
    }

    pub fn refresh(&self, token: &str) -> Resp {
        self.client.refresh(&self.h, token)
    }

    pub fn userinfo(&self, access: &str, key: &TestKey) -> Resp {
        userinfo(&self.h, access, key)
    }

    pub fn introspect(&self, token: &str) -> Value {
        self.client.introspect(&self.h, token)
    }
}
