//! Hardening of the OAuth endpoints over the whole App: bounded form parsing, rate limits at
//! revocation, introspection and authorize, collapsed refusals, RFC 6749 §5.2 challenges, and
//! replay markers that outlive the proofs and assertions they protect to the millisecond.

mod common;

use common::oauth::*;
use common::*;
use http::Method;
use serde_json::json;

use agent_id::jose::b64;

impl World {
    /// The agent asks for scope `id` (no state).
    fn authorize_id(&self) -> Resp {
        authorize(
            &self.h,
            &self.agent,
            &self.client.id,
            json!({"scope": "id"}),
        )
    }

    fn block(&self) {
        let r = self.h.send(
            Req::post(&format!(
                "/v1/overseers/agents/{}/block-client",
                self.agent.id
            ))
            .bearer(&self.overseer.session)
            .json(json!({"client_id": self.client.id})),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }

    fn unblock(&self) {
        let r = self.h.send(
            Req::new(
                Method::DELETE,
                &format!(
                    "/v1/overseers/agents/{}/block-client/{}",
                    self.agent.id, self.client.id
                ),
            )
            .bearer(&self.overseer.session),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// (history entries, denial audit events) of the agent, as the agent and its overseer see
    /// them.
    fn refusal_rows(&self) -> (usize, usize) {
        let history = self
            .h
            .send(Req::get("/v1/agents/me/oauth-history?limit=100").bearer(&self.agent.session));
        let audit = self.h.send(
            Req::get("/v1/overseers/me/audit?type=oauth.authorization_denied&limit=100")
                .bearer(&self.overseer.session),
        );
        let len = |r: &Resp, key: &str| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body[key].as_array().unwrap().len()
        };
        (len(&history, "history"), len(&audit, "events"))
    }
}

fn assert_oauth_error(r: &Resp, status: u16, error: &str, description: &str) {
    assert_eq!(
        (
            r.status,
            r.body["error"].as_str(),
            r.body["error_description"].as_str()
        ),
        (status, Some(error), Some(description)),
        "{}",
        r.body
    );
}

/// `n` distinct parameters, `k0=v&k1=v&…`.
fn many_params(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn forms_with_too_many_parameters_are_refused_before_anything_is_written() {
    let w = world();
    // The issue's body: 64 KiB of 16,000 distinct three-letter keys.
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let huge: String = (0..16_000)
        .map(|i| {
            let n = letters.len();
            format!(
                "{}{}{}&",
                letters[i / (n * n)],
                letters[i / n % n],
                letters[i % n]
            )
        })
        .collect();
    assert!(huge.len() <= 65_536);
    let markers = w.h.count("SELECT COUNT(*) AS n FROM jti_markers");
    for endpoint in [
        "/v1/oauth/token",
        "/v1/oauth/revoke",
        "/v1/oauth/introspect",
    ] {
        for body in [huge.clone(), many_params(65)] {
            let r = w.h.send(Req::post(endpoint).raw(FORM, body.into_bytes()));
            assert_oauth_error(
                &r,
                400,
                "invalid_request",
                "too many parameters (at most 64)",
            );
        }
        // With a valid assertion among them, the assertion is not even looked at.
        let assertion = w.assertion_until(&format!("{ISSUER}{endpoint}"), w.h.now_s() + 60);
        let body = format!(
            "client_assertion_type={ASSERTION_TYPE}&client_assertion={assertion}&{}",
            many_params(63)
        );
        let r = w.h.send(Req::post(endpoint).raw(FORM, body.into_bytes()));
        assert_oauth_error(
            &r,
            400,
            "invalid_request",
            "too many parameters (at most 64)",
        );
        // 64 parameters are parsed: the request reaches client authentication.
        let body = format!("grant_type=refresh_token&{}", many_params(63));
        let r = w.h.send(Req::post(endpoint).raw(FORM, body.into_bytes()));
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM jti_markers"), markers);

    // The authorization URL's query is held to the same cap.
    let q = format!(
        "/v1/oauth/authorize?response_type=code&client_id={}&{}",
        w.client.id,
        many_params(63)
    );
    let r = w.h.send(Req::get(&q).bearer(&w.agent.session));
    assert_oauth_error(
        &r,
        400,
        "invalid_request",
        "too many parameters (at most 64)",
    );
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM oauth_requests"), 0);
}

#[test]
fn repeated_parameters_are_still_refused_and_consume_nothing() {
    let w = world();
    let assertion = w.assertion_until(&format!("{ISSUER}/v1/oauth/revoke"), w.h.now_s() + 60);
    // The repeat comes late in a long form: still found, and the assertion stays unused.
    let mut pairs: Vec<(String, String)> = (0..40).map(|i| (format!("x{i}"), "1".into())).collect();
    pairs.push(("token".into(), "a".into()));
    pairs.push(("token".into(), "b".into()));
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r =
        w.h.send(with_assertion("/v1/oauth/revoke", &assertion, &refs));
    assert_oauth_error(
        &r,
        400,
        "invalid_request",
        "a parameter appears more than once",
    );
    let r = w.h.send(with_assertion(
        "/v1/oauth/revoke",
        &assertion,
        &[("token", "a")],
    ));
    assert_eq!((r.status, &r.body), (200, &json!({})));
    // Empty values still count as absent.
    let r =
        w.h.send(w.client_form("/v1/oauth/introspect", &[("token", "")]));
    assert_oauth_error(&r, 400, "invalid_request", "token is required");
}

#[test]
fn revocation_and_introspection_are_rate_limited_per_ip_and_per_client() {
    let config = r#"{"revoke_ip": "3/60", "introspect": "2/60"}"#;
    let w = world_with(&[("RATE_LIMIT_CONFIG", config)]);
    // Per IP, before the form is even parsed.
    for _ in 0..3 {
        let r =
            w.h.send(Req::post("/v1/oauth/revoke").raw(FORM, b"token=x".to_vec()));
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r =
        w.h.send(Req::post("/v1/oauth/revoke").raw(FORM, b"token=x".to_vec()));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (429, Some("temporarily_unavailable"))
    );
    assert!(r.header("retry-after").is_some());
    // Another address is not affected.
    let r = w.h.send(
        w.client_form("/v1/oauth/revoke", &[("token", "x")])
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", "198.51.100.1"),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Per client, whatever the address.
    for ip in ["198.51.100.2", "198.51.100.3"] {
        let r = w.h.send(
            w.client_form("/v1/oauth/introspect", &[("token", "x")])
                .without_header("cf-connecting-ip")
                .header("cf-connecting-ip", ip),
        );
        assert_eq!((r.status, &r.body), (200, &json!({"active": false})));
    }
    let r = w.h.send(
        w.client_form("/v1/oauth/introspect", &[("token", "x")])
            .without_header("cf-connecting-ip")
            .header("cf-connecting-ip", "198.51.100.4"),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    // The window ends.
    w.h.clock.advance_secs(60);
    let r =
        w.h.send(w.client_form("/v1/oauth/introspect", &[("token", "x")]));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn invalid_client_after_an_authorization_header_carries_its_scheme_challenge() {
    let w = world();
    let basic = format!(
        "Basic {}",
        b64::encode(format!("{}:secret", w.client.id).as_bytes())
    );
    for (endpoint, body) in [
        ("/v1/oauth/token", "grant_type=client_credentials"),
        ("/v1/oauth/revoke", "token=x"),
        ("/v1/oauth/introspect", "token=x"),
    ] {
        let plain =
            w.h.send(Req::post(endpoint).raw(FORM, body.as_bytes().to_vec()));
        assert_eq!(plain.status, 401);
        assert_eq!(plain.header("www-authenticate"), None);
        let r = w.h.send(
            Req::post(endpoint)
                .header("authorization", &basic)
                .raw(FORM, body.as_bytes().to_vec()),
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"agent-id\"")
        );
        // Same status and body as without the header.
        assert_eq!((r.status, &r.body), (plain.status, &plain.body));
        assert_eq!(
            r.body,
            json!({"error": "invalid_client",
                   "error_description": "client authentication with private_key_jwt is required"})
        );
    }
    let r = w.h.send(
        Req::post("/v1/oauth/revoke")
            .header("authorization", "Bearer abc")
            .raw(FORM, b"token=x".to_vec()),
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"agent-id\"")
    );
    // A scheme that is not an RFC 9110 token is not echoed.
    let r = w.h.send(
        Req::post("/v1/oauth/revoke")
            .header("authorization", "\"x\" y")
            .raw(FORM, b"token=x".to_vec()),
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"agent-id\"")
    );
    // An assertion together with the header is a 400, not a challenge.
    let r = w.h.send(
        w.client_form("/v1/oauth/revoke", &[("token", "x")])
            .header("authorization", &basic),
    );
    assert_eq!((r.status, r.header("www-authenticate")), (400, None));
}

/// Replays `assertion` at each instant (ms) and expects `description` each time.
fn replay_at(w: &World, assertion: &str, instants: &[i64], description: &str) {
    for &ms in instants {
        w.h.clock.set_ms(ms);
        let r = w.h.send(with_assertion(
            "/v1/oauth/revoke",
            assertion,
            &[("token", "x")],
        ));
        assert_eq!(
            (r.status, r.body["error_description"].as_str()),
            (401, Some(description)),
            "at {ms} ms"
        );
    }
}

#[test]
fn assertion_markers_live_exactly_as_long_as_assertions_are_accepted() {
    for skew in ["60", "0"] {
        let w = world_with(&[("CLOCK_SKEW_SECS", skew)]);
        let skew: i64 = skew.parse().unwrap();
        let exp = w.h.now_s() + 60;
        // The last instant at which the assertion is accepted: the end of second exp + skew.
        let last_ms = (exp + skew) * 1000 + 999;
        let assertion = w.assertion_until(&format!("{ISSUER}/v1/oauth/revoke"), exp);
        let r = w.h.send(with_assertion(
            "/v1/oauth/revoke",
            &assertion,
            &[("token", "x")],
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        let used = "client assertion has already been used";
        replay_at(
            &w,
            &assertion,
            &[last_ms - 1000, last_ms - 999, last_ms - 1, last_ms],
            used,
        );
        replay_at(
            &w,
            &assertion,
            &[last_ms + 1, last_ms + 2000],
            "client assertion has expired",
        );

        // A fresh assertion is accepted at the very last instant, and only once.
        w.h.clock.set_ms(T0 * 1000);
        let late = w.assertion_until(&format!("{ISSUER}/v1/oauth/revoke"), exp);
        w.h.clock.set_ms(last_ms);
        let r =
            w.h.send(with_assertion("/v1/oauth/revoke", &late, &[("token", "x")]));
        assert_eq!(r.status, 200, "{}", r.body);
        replay_at(&w, &late, &[last_ms], used);
    }
}

#[test]
fn dpop_markers_live_exactly_as_long_as_proofs_are_accepted() {
    for skew in ["0", "60"] {
        let h = Harness::with_vars(&[("CLOCK_SKEW_SECS", skew)]);
        let key = TestKey::random();
        h.register(&key, "Agent D");
        let iat = h.now_s();
        // DPOP_IAT_PAST_SECS = 300: accepted through the end of second iat + 300.
        let last_ms = (iat + 300) * 1000 + 999;
        let login = |proof: &str, ms: i64| {
            h.clock.set_ms(ms);
            h.send(Req::post("/v1/agents/login").header("dpop", proof))
        };
        let proof = h.login_proof(&key);
        assert_eq!(login(&proof, iat * 1000).status, 200);
        for ms in [last_ms - 1000, last_ms - 999, last_ms - 1, last_ms] {
            let r = login(&proof, ms);
            assert_eq!(
                (r.status, r.body["error"].as_str()),
                (401, Some("DPoP proof has already been used")),
                "skew {skew}, at {ms} ms"
            );
        }
        for ms in [last_ms + 1, last_ms + 60_000] {
            let r = login(&proof, ms);
            assert_eq!(
                (r.status, r.body["error"].as_str()),
                (401, Some("DPoP proof iat is too old")),
                "skew {skew}, at {ms} ms"
            );
        }
        // A proof first presented at the last instant is accepted once.
        let late = key.proof(&ProofSpec::new(
            "POST",
            &format!("{ISSUER}/v1/agents/login"),
            iat,
        ));
        assert_eq!(login(&late, last_ms).status, 200);
        assert_eq!(login(&late, last_ms).status, 401);
    }
}

#[test]
fn repeated_refusals_collapse_into_one_history_and_audit_row() {
    // Sessions outlive the collapse window (one hour) here.
    let w = world_with(&[("SESSION_TTL_SECS", "86400")]);
    w.block();
    let denied = |r: Resp| {
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (403, Some("access_denied")),
            "{}",
            r.body
        );
    };
    for _ in 0..5 {
        denied(w.authorize_id());
        w.h.clock.advance_secs(60);
    }
    assert_eq!(w.refusal_rows(), (1, 1));
    let history =
        w.h.send(Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session));
    assert_eq!(history.body["history"].as_array().unwrap().len(), 1);
    assert_eq!(history.body["history"][0]["reason"], "client_blocked");

    // Once the window has passed since the recorded refusal, the next one is recorded.
    w.h.clock.advance_secs(3600);
    denied(w.authorize_id());
    assert_eq!(w.refusal_rows(), (2, 2));

    // A refusal after an approval is new information: recorded at once.
    w.h.clock.advance_secs(1);
    w.unblock();
    assert_eq!(w.authorize_id().status, 200);
    w.h.clock.advance_secs(1);
    w.block();
    denied(w.authorize_id());
    w.h.clock.advance_secs(1);
    denied(w.authorize_id());
    assert_eq!(w.refusal_rows(), (4, 3));
    let history =
        w.h.send(Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session));
    let statuses: Vec<&str> = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["denied", "approved", "denied", "denied"]);
}

#[test]
fn authorization_attempts_are_rate_limited_per_agent() {
    let w = world_with(&[("RATE_LIMIT_CONFIG", r#"{"authorize_agent": "3/60"}"#)]);
    w.block();
    for _ in 0..3 {
        assert_eq!(w.authorize_id().status, 403);
    }
    let r = w.authorize_id();
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    // The GET form counts against the same agent.
    let q = format!(
        "/v1/oauth/authorize?response_type=code&client_id={}&redirect_uri={REDIRECT}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        w.client.id
    );
    let r = w.h.send(Req::get(&q).bearer(&w.agent.session));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(w.refusal_rows(), (1, 1));
    // Another agent of the same overseer is not affected.
    let other = w.h.register(&TestKey::random(), "Agent B");
    let r = w.h.send(
        Req::post("/v1/oauth/authorize")
            .bearer(&other.session)
            .json(json!({"client_id": w.client.id, "redirect_uri": REDIRECT,
                "code_challenge": CHALLENGE, "code_challenge_method": "S256", "scope": "id"})),
    );
    assert_ne!(r.status, 429, "{}", r.body);
}
