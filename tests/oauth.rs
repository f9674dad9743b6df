//! The OAuth 2.0 authorization server over the whole App (api.md 2.1, 2.11; security.md §3–§9,
//! 17.10–17.13). Clients sign real assertions and DPoP proofs with Ed25519 keys.

mod common;

use common::oauth::*;
use common::*;
use http::Method;
use serde_json::json;

use agent_id::jose::b64;
use agent_id::jose::jws::sign_ed25519;

#[test]
fn discovery_and_jwks() {
    let h = Harness::new();
    let docs: Vec<Resp> = [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/v1/oauth/.well-known/openid-configuration",
    ]
    .iter()
    .map(|p| h.send(Req::get(p)))
    .collect();
    assert!(docs.iter().all(|d| d.raw == docs[0].raw && d.status == 200));
    let d = &docs[0];
    assert_eq!(d.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(d.header("access-control-allow-origin"), Some("*"));
    assert_eq!(d.body["token_endpoint"], format!("{ISSUER}/v1/oauth/token"));
    // Every listed endpoint answers (security.md §16 item 1): none is an unknown route.
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "jwks_uri",
    ] {
        let url = d.body[key].as_str().unwrap();
        let path = url.strip_prefix(ISSUER).unwrap();
        let r = h.send(Req::get(path));
        assert_ne!(r.code(), "not_found", "{key}: {path}");
    }
    let jwks = h.send(Req::get("/.well-known/jwks.json"));
    assert_eq!(
        jwks.body,
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg", "kid": "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y", "use": "sig", "alg": "EdDSA"}]})
    );
}

#[test]
fn full_lifecycle_with_dpop_bound_tokens() {
    let w = world();
    let r = w.authorize(json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["iss"], ISSUER);
    assert_eq!(r.body["scope"], "id name subscription");
    assert_eq!(r.body["expires_in"], 600);
    let code = r.body["code"].as_str().unwrap();
    assert_eq!(r.body["authorization_code"], code);
    assert_eq!(
        r.body["redirect_to"],
        format!("{REDIRECT}?code={code}&state=xyz&iss=https%3A%2F%2Fid.example.com")
    );
    assert!(r.header("access-control-allow-origin").is_none());

    let dpop = TestKey::random();
    let t = w.exchange(code, Some(&dpop));
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(
        (t.body["token_type"].as_str(), t.body["expires_in"].as_i64()),
        (Some("DPoP"), Some(300))
    );
    assert_eq!(t.header("cache-control"), Some("no-store"));
    assert_eq!(t.header("pragma"), Some("no-cache"));
    let access = t.body["access_token"].as_str().unwrap().to_owned();
    let refresh = t.body["refresh_token"].as_str().unwrap().to_owned();

    let u = w.userinfo(&access, &dpop);
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["sub"], w.agent.id.as_str());
    assert_eq!(u.body["name"], "Agent A");
    assert_eq!(u.body["tier"], "BASIC");
    assert_eq!(u.body["oauth_count"], 1);
    assert!(
        u.body.get("description").is_none() && u.body.get("public_key").is_none(),
        "only granted scopes"
    );
    // Bound to the proof key: another key is a binding mismatch; Bearer is a downgrade.
    w.userinfo(&access, &TestKey::random()).body["error"]
        .as_str()
        .map(|e| assert_eq!(e, "invalid_token"))
        .unwrap();
    let bearer = w
        .h
        .send(Req::get("/v1/oauth/userinfo").header("authorization", &format!("Bearer {access}")));
    assert_eq!(
        (bearer.status, bearer.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(bearer
        .header("www-authenticate")
        .unwrap()
        .starts_with("DPoP algs=\"EdDSA Ed25519 ES256\", error=\"invalid_token\""));

    let i = w.introspect(&access);
    assert_eq!(
        (i["active"].as_bool(), i["token_type"].as_str()),
        (Some(true), Some("DPoP"))
    );
    assert_eq!(i["cnf"]["jkt"], dpop.proof_thumbprint());
    assert_eq!(i["username"], "Agent A");

    // Rotation: the old refresh token is spent; presenting it again revokes the family.
    let r2 = w.refresh(&refresh);
    assert_eq!(r2.status, 200, "{}", r2.body);
    let refresh2 = r2.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(w.introspect(&refresh2)["active"], true);
    assert_eq!(w.introspect(&refresh), json!({"active": false}));
    // Past the refresh grace window (REFRESH_GRACE_SECS, default 30), reuse is theft.
    w.h.clock.advance_secs(31);
    let reuse = w.refresh(&refresh);
    assert_eq!(
        (reuse.status, reuse.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        w.introspect(&refresh2),
        json!({"active": false}),
        "the whole grant is revoked"
    );
    assert_eq!(w.introspect(&access), json!({"active": false}));
    let audit = w.h.send(
        Req::get("/v1/overseers/me/audit?type=oauth.refresh_reuse_detected")
            .bearer(&w.overseer.session),
    );
    assert_eq!(
        audit.body["events"].as_array().map(Vec::len),
        Some(1),
        "the agent's overseer sees the reuse once: {}",
        audit.body
    );

    let history =
        w.h.send(Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session));
    assert_eq!(history.body["history"][0]["status"], "approved");
    assert!(history.body["history"][0]["exchanged_at"].is_string());
}

#[test]
fn compatible_mode_binds_to_the_client_key() {
    let w = world();
    let t = w.exchange(&w.code(), None);
    assert_eq!(t.status, 200, "{}", t.body);
    let access = t.body["access_token"].as_str().unwrap().to_owned();
    // A v1 client proves possession with its registered key and no jwk (vectors.md 5.6 shape).
    let ath = b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(access.as_bytes()));
    let payload = json!({"jti": "compat-1", "htm": "GET", "htu": format!("{ISSUER}/v1/oauth/userinfo"), "iat": w.h.now_s(), "ath": ath});
    let proof = sign_ed25519(
        r#"{"typ":"dpop+jwt","alg":"EdDSA"}"#,
        &payload.to_string(),
        &w.client.key.0,
    );
    let u = w.h.send(
        Req::get("/v1/oauth/userinfo")
            .header("authorization", &format!("DPoP {access}"))
            .header("dpop", &proof),
    );
    assert_eq!(u.status, 200, "{}", u.body);
}

#[test]
fn codes_are_single_use_and_bound() {
    let w = world();
    let code = w.code();
    let first = w.exchange(&code, None);
    assert_eq!(first.status, 200);
    let second = w.exchange(&code, None);
    assert_eq!(
        (second.status, second.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let access = first.body["access_token"].as_str().unwrap();
    assert_eq!(
        w.introspect(access),
        json!({"active": false}),
        "reuse revokes what the first redemption produced"
    );

    let code = w.code();
    let bad_verifier = w.h.send(w.client_form(
        "/v1/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"a".repeat(43)),
        ],
    ));
    assert_eq!(bad_verifier.body["error"], "invalid_grant");
    let other_redirect = w.h.send(w.client_form(
        "/v1/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:8790/callback"),
            ("code_verifier", VERIFIER),
        ],
    ));
    assert_eq!(other_redirect.body["error"], "invalid_grant");
    assert_eq!(
        w.exchange(&code, None).status,
        200,
        "failed attempts leave the code unredeemed"
    );

    // dpop_jkt binds the code to one DPoP key.
    let key = TestKey::random();
    let r = w.authorize(json!({"dpop_jkt": key.proof_thumbprint()}));
    let code = r.body["code"].as_str().unwrap();
    assert_eq!(
        w.exchange(code, Some(&TestKey::random())).body["error"],
        "invalid_grant"
    );
    assert_eq!(w.exchange(code, Some(&key)).status, 200);
}

#[test]
fn parallel_redemptions_of_one_code_have_one_winner() {
    let w = world();
    let code = w.code();
    let reqs: Vec<_> = (0..4)
        .map(|_| {
            w.h.app.handle(
                w.client_form(
                    "/v1/oauth/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", VERIFIER),
                    ],
                )
                .into_request(),
            )
        })
        .collect();
    let results = futures::executor::block_on(futures::future::join_all(reqs));
    let responses: Vec<_> = results
        .into_iter()
        .map(|r| r.into_response().unwrap())
        .collect();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    let winner = responses.into_iter().find(|r| r.status().as_u16() == 200);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        3,
        "{statuses:?}"
    );
    // Concurrent losers must not leave a grant behind: no token response means no row shows it.
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM oauth_grants"),
        1,
        "one grant was ever created"
    );
    // The reuse revoked it: what the winner received is dead, and the code stays spent.
    let won = Tokens::issued(&Resp::from(winner.unwrap()));
    assert_eq!(w.introspect(&won.access), json!({"active": false}));
    assert_eq!(
        w.refresh(&won.refresh).body["error_description"],
        "the grant has been revoked"
    );
    assert_eq!(
        w.exchange(&code, None).body["error_description"],
        "authorization code has already been used"
    );
}

#[test]
fn authorize_refusals() {
    let w = world();
    let e = |r: &Resp| {
        (
            r.status,
            r.body["error"].as_str().unwrap_or("").to_owned(),
            r.body["success"].clone(),
        )
    };
    assert_eq!(
        e(&w.authorize(json!({"client_id": "0b7e2c1a-5f4d-4e3c-9b2a-1c0d9e8f7a6b"}))),
        (400, "invalid_request".into(), json!(false))
    );
    assert_eq!(
        e(&w.authorize(json!({"redirect_uri": "https://app.example.com/other"}))).1,
        "invalid_request"
    );
    assert_eq!(
        e(&w.authorize(json!({"code_challenge_method": "plain"}))).1,
        "invalid_request"
    );
    assert_eq!(
        e(&w.authorize(json!({"code_challenge": null}))).1,
        "invalid_request"
    );
    assert_eq!(
        e(&w.authorize(json!({"scope": "openid"}))).1,
        "invalid_scope"
    );
    assert_eq!(
        e(&w.authorize(json!({"scope": "id pub_key"}))).1,
        "invalid_scope",
        "outside the client's scope"
    );
    assert_eq!(
        e(&w.authorize(json!({"response_type": "token"}))).1,
        "unsupported_response_type"
    );
    assert_eq!(e(&w.authorize(json!({"agent_id": w.overseer.id}))).0, 403);
    let anon =
        w.h.send(Req::post("/v1/oauth/authorize").json(json!({"client_id": w.client.id})));
    assert_eq!(
        (anon.status, anon.body["error"].as_str()),
        (401, Some("login_required"))
    );
    let overseer = w.h.send(
        Req::post("/v1/oauth/authorize")
            .bearer(&w.overseer.session)
            .json(json!({})),
    );
    assert_eq!(
        (overseer.status, overseer.body["error"].as_str()),
        (403, Some("access_denied"))
    );

    // A block is recorded in the agent's history as a denial.
    let r = w.h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", w.agent.id))
            .bearer(&w.overseer.session)
            .json(json!({"client_id": w.client.id})),
    );
    assert_eq!(r.status, 201);
    let denied = w.authorize(json!({}));
    assert_eq!(
        (denied.status, denied.body["error"].as_str()),
        (403, Some("access_denied"))
    );
    let h =
        w.h.send(Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session));
    assert_eq!(
        (
            h.body["history"][0]["status"].as_str(),
            h.body["history"][0]["reason"].as_str()
        ),
        (Some("denied"), Some("client_blocked"))
    );
}

#[test]
fn redirect_style_authorize() {
    let w = world();
    let q = format!("/v1/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s%201",
        w.client.id, "https%3A%2F%2Fapp.example.com%2Fcb");
    let proof = w.agent_key.proof(&ProofSpec::new(
        "GET",
        &format!("{ISSUER}/v1/oauth/authorize"),
        w.h.now_s(),
    ));
    let r = w.h.send(Req::get(&q).header("dpop", &proof));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("https://app.example.com/cb?code=")
            && location.ends_with("&state=s%201&iss=https%3A%2F%2Fid.example.com"),
        "{location}"
    );
    // Errors after the redirect URI is trusted are redirected; before, they are JSON.
    let bad =
        w.h.send(Req::get(&q.replace("S256", "plain")).bearer(&w.agent.session));
    assert_eq!(bad.status, 303);
    assert!(bad
        .header("location")
        .unwrap()
        .contains("error=invalid_request"));
    let untrusted =
        w.h.send(Req::get(&q.replace("app.example.com", "evil.example")).bearer(&w.agent.session));
    assert_eq!(
        (untrusted.status, untrusted.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(untrusted.header("location").is_none());
}

#[test]
fn free_agents_get_ten_grants_a_month() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let client = Client::register(&h, "overseer", &o.session, "C");
    let a = h.register(&TestKey::random(), "Free agent");
    let ask = || authorize(&h, &a, &client.id, json!({}));
    for _ in 0..10 {
        assert_eq!(ask().status, 200);
    }
    let r = ask();
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("access_denied"))
    );
    assert_eq!(
        r.body["error_description"],
        "OAuth limit reached (10/10 for this period)"
    );
    let history = h.send(Req::get("/v1/agents/me/oauth-history").bearer(&a.session));
    let reasons: Vec<&str> = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["oauth_limit_reached"], "{}", history.body);
}

#[test]
fn client_authentication_and_revocation() {
    let w = world();
    let t = w.exchange(&w.code(), None);
    let access = t.body["access_token"].as_str().unwrap().to_owned();
    let refresh = t.body["refresh_token"].as_str().unwrap().to_owned();

    // An assertion for the token endpoint does not authenticate at revoke (aud).
    let wrong_aud = w.assertion(&format!("{ISSUER}/v1/oauth/token"));
    let r = w.h.send(Req::post("/v1/oauth/revoke").raw(
        "application/x-www-form-urlencoded",
        form(&[
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &wrong_aud),
            ("token", &access),
        ]),
    ));
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // The same assertion twice: the second is a replay.
    let assertion = w.assertion(ISSUER);
    let send = || {
        w.h.send(Req::post("/v1/oauth/introspect").raw(
            "application/x-www-form-urlencoded",
            form(&[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
                ("token", &access),
            ]),
        ))
    };
    assert_eq!(send().status, 200);
    assert_eq!(send().body["error"], "invalid_client");
    let none = w.h.send(Req::post("/v1/oauth/token").raw(
        "application/x-www-form-urlencoded",
        form(&[("grant_type", "refresh_token"), ("client_id", &w.client.id)]),
    ));
    assert_eq!(
        (none.status, none.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let dup = w.h.send(Req::post("/v1/oauth/token").raw(
        "application/x-www-form-urlencoded",
        b"grant_type=a&grant_type=b".to_vec(),
    ));
    assert_eq!(
        (dup.status, dup.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let json_body =
        w.h.send(Req::post("/v1/oauth/token").json(json!({"grant_type": "refresh_token"})));
    assert_eq!(
        (json_body.status, json_body.body["error"].as_str()),
        (415, Some("invalid_request"))
    );

    assert_eq!(
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", &access)]))
            .body,
        json!({})
    );
    assert_eq!(w.introspect(&access), json!({"active": false}));
    assert_eq!(
        w.introspect(&refresh)["active"],
        true,
        "revoking an access token leaves the refresh token"
    );
    assert_eq!(
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", "garbage")]))
            .body,
        json!({})
    );
    assert_eq!(
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", &refresh)]))
            .body,
        json!({})
    );
    assert_eq!(w.introspect(&refresh), json!({"active": false}));
    assert_eq!(w.refresh(&refresh).body["error"], "invalid_grant");
}

#[test]
fn token_endpoint_requires_nonces_when_configured() {
    let w = world_with(&[("DPOP_REQUIRE_NONCE", "true")]);
    let code = w.code();
    let first = w.exchange(&code, Some(&w.client.key));
    assert_eq!(
        (first.status, first.body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    let proof = w.client.key.proof(
        &ProofSpec::new("POST", &format!("{ISSUER}/v1/oauth/token"), w.h.now_s())
            .claim("nonce", json!(nonce)),
    );
    let req = w
        .client_form(
            "/v1/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .header("dpop", &proof);
    let ok = w.h.send(req);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.header("dpop-nonce").is_some());
}

#[test]
fn method_and_cors_rules_of_oauth_routes() {
    let h = Harness::with_vars(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]);
    let r = h.send(Req::new(Method::OPTIONS, "/v1/oauth/token"));
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (204, Some("*"))
    );
    let r = h.send(
        Req::post("/v1/oauth/authorize")
            .header("origin", "https://app.example.com")
            .json(json!({})),
    );
    assert!(
        r.header("access-control-allow-origin").is_none(),
        "never CORS on authorize"
    );
    let r = h.send(Req::new(Method::DELETE, "/v1/oauth/token"));
    assert_eq!(r.status, 405);
}

/// Issue item 5 end to end: an agent sponsored by a shadow payment registers its own client and
/// grants it access; once the agent revokes the sponsor, its pool is FREE (no clients), so the
/// client's tokens stop working at once: userinfo and refresh are refused.
#[test]
fn revoking_a_shadow_sponsor_stops_the_agents_clients_tokens() {
    use agent_id::domain::shadow::derive_id;
    use agent_id::paddle::link;
    use common::paddle::{assert_processed, envelope, link_key};

    let h = Harness::new();
    let overseer = h.overseer("unused@example.test");
    let agent_key = TestKey::random();
    let agent = h.register(&agent_key, "Agent A");
    let shadow = derive_id(SHADOW_SECRET, &agent.id);
    let challenge = common::paddle::uuid();
    let issued = h.now_s();
    let custom = json!({"is_shadow_claim": true, "challenge_id": challenge, "agent_id": agent.id,
        "shadow_overseer_id": shadow, "issued_at": issued,
        "link_sig": link::shadow_sig(&link_key(), &challenge, &agent.id, &shadow, issued)});
    assert_processed(&h.webhook(&envelope(
        "evt_sponsor",
        "transaction.completed",
        0,
        json!({"id": "txn_sponsor", "status": "completed", "customer_id": "ctm_s",
               "subscription_id": null, "items": [{"price": {"id": PRICE_SHADOW}, "quantity": 1}],
               "custom_data": custom}),
    )));
    let client = Client::register(&h, "agent", &agent.session, "Agent's Client");
    let w = World {
        h,
        overseer,
        agent,
        agent_key,
        client,
    };
    let dpop = TestKey::random();
    let t = w.exchange(&w.code(), Some(&dpop));
    assert_eq!(t.status, 200, "{}", t.body);
    let access = t.body["access_token"].as_str().unwrap().to_owned();
    let refresh = t.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(w.userinfo(&access, &dpop).status, 200);

    let r =
        w.h.send(Req::post("/v1/agents/revoke-overseer").bearer(&w.agent.session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.userinfo(&access, &dpop).status, 401);
    let again = w.refresh(&refresh);
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{}",
        again.body
    );
    assert_eq!(w.introspect(&access)["active"], false);
}

// --- introspection with the client's key cached in the isolate ---

/// What an introspection answered: status, body and `WWW-Authenticate`.
fn answer(r: &Resp) -> (u16, serde_json::Value, Option<String>) {
    (
        r.status,
        r.body.clone(),
        r.header("www-authenticate").map(str::to_owned),
    )
}

/// How the client changed after its key was cached.
#[derive(Clone, Copy, Debug)]
enum Change {
    KeyReplaced,
    Disabled,
    Deleted,
}

/// The cache never decides: after the client's key is replaced, the client disabled or deleted
/// (as another isolate would), an assertion signed with the cached (old) key gets exactly the
/// answer of an isolate that never cached it, and the batch that trusted the stale entry spent
/// no marker and wrote nothing.
#[test]
fn a_stale_cached_client_key_decides_nothing() {
    for change in [Change::KeyReplaced, Change::Disabled, Change::Deleted] {
        let w = world();
        let tokens = w.client.grant(&w.h, &w.agent);
        assert_eq!(w.introspect(&tokens.refresh)["active"], true, "{change:?}");
        let path = format!("/v1/clients/{}", w.client.id);
        let new_key = TestKey::random();
        let changed = match change {
            Change::KeyReplaced => w.h.send(
                Req::new(Method::PUT, &format!("{path}/key"))
                    .bearer(&w.overseer.session)
                    .json(json!({"public_key": new_key.x()})),
            ),
            Change::Deleted => {
                w.h.send(Req::new(Method::DELETE, &path).bearer(&w.overseer.session))
            }
            Change::Disabled => {
                // As tier enforcement does it, from another isolate.
                w.h.sql(
                    "UPDATE oauth_clients SET disabled = 1, disabled_at = 1, \
                     disabled_reason = 'tier_limit' WHERE id = ?1",
                    vec![w.client.id.as_str().into()],
                );
                Resp {
                    status: 200,
                    headers: Default::default(),
                    body: json!({}),
                    raw: Vec::new(),
                }
            }
        };
        assert_eq!(changed.status, 200, "{change:?}: {}", changed.body);
        let introspect = || w.client_form("/v1/oauth/introspect", &[("token", &tokens.refresh)]);
        // Today's answer: an App over the same database that never cached the key.
        let cold =
            w.h.send_via(&w.h.app_over(w.h.db.clone()), introspect().into_request());
        let before = w.h.dump();
        let stale = w.h.send(introspect());
        assert_eq!(answer(&stale), answer(&cold), "{change:?}");
        // The stale batch, then the uncached path: its read (which refuses), or its read and
        // the marker's write.
        let trips = w.h.metrics.last().unwrap().usage.d1_round_trips;
        match change {
            Change::KeyReplaced | Change::Deleted => {
                assert_eq!(stale.body["error"], "invalid_client", "{change:?}");
                assert!(w.h.dump() == before, "{change:?}: a refused client wrote");
                assert_eq!(trips, 2, "{change:?}");
            }
            // Disabled clients authenticate (and see their tokens inactive); the fallback spent
            // the marker, which a marker spent by the stale batch would have made a replay.
            Change::Disabled => {
                assert_eq!(stale.body, json!({"active": false}));
                assert_eq!(trips, 3);
            }
        }
        if let Change::KeyReplaced = change {
            // The new key is accepted at once, and cached from then on.
            let rekeyed = Client {
                id: w.client.id.clone(),
                key: new_key,
            };
            let r =
                w.h.send(rekeyed.form(&w.h, "/v1/oauth/introspect", &[("token", &tokens.refresh)]));
            assert_eq!(answer(&r), (200, json!({"active": false}), None));
            let r =
                w.h.send(rekeyed.form(&w.h, "/v1/oauth/introspect", &[("token", &tokens.access)]));
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(w.h.metrics.last().unwrap().usage.d1_round_trips, 1);
        }
    }
}

/// With the key cached, a replayed assertion is still refused, and the refusal spends nothing
/// more.
#[test]
fn a_replayed_assertion_is_refused_with_the_key_cached() {
    let w = world();
    let tokens = w.client.grant(&w.h, &w.agent);
    assert_eq!(w.introspect(&tokens.access)["active"], true);
    let assertion = w.assertion(&format!("{ISSUER}/v1/oauth/introspect"));
    let send = || {
        w.h.send(with_assertion(
            "/v1/oauth/introspect",
            &assertion,
            &[("token", &tokens.access)],
        ))
    };
    let first = send();
    assert_eq!(first.body["active"], true, "{}", first.body);
    assert_eq!(w.h.metrics.last().unwrap().usage.d1_round_trips, 1);
    let before = w.h.dump();
    let replayed = send();
    assert_eq!(
        (replayed.status, replayed.body["error_description"].as_str()),
        (401, Some("client assertion has already been used")),
        "{}",
        replayed.body
    );
    assert_eq!(replayed.body["error"], "invalid_client");
    assert_eq!(w.h.metrics.last().unwrap().usage.d1_round_trips, 1);
    assert!(w.h.dump() == before, "the replay wrote");
}

/// The `subscription` claims of userinfo, read in its one batch, are the agent's summary of
/// `/v1/agents/me`, and a repeat (the tiers then surely cached) answers the same bytes.
#[test]
fn userinfo_subscription_claims_are_the_agents_summary() {
    let w = world();
    let dpop = TestKey::random();
    let t = w.exchange(&w.code(), Some(&dpop));
    assert_eq!(t.status, 200, "{}", t.body);
    let access = t.body["access_token"].as_str().unwrap().to_owned();
    let first = w.userinfo(&access, &dpop);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = w.userinfo(&access, &dpop);
    assert_eq!(again.raw, first.raw, "the same bytes with the tiers cached");
    let me = w.h.send(Req::get("/v1/agents/me").bearer(&w.agent.session));
    let s = &me.body["subscription"];
    assert_eq!(
        first.body,
        json!({"sub": w.agent.id, "id": w.agent.id, "name": "Agent A", "tier": s["tier"],
               "oauth_count": s["oauth_count"], "oauth_limit": s["max_oauth_per_period"],
               "billing_period_end": s["billing_period_end"]}),
    );
    assert_eq!(
        (s["tier"].as_str(), s["oauth_count"].as_i64()),
        (Some("BASIC"), Some(1))
    );
}
