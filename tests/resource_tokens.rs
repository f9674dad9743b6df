//! Resource indicators (RFC 8707), resource access tokens and the Bearer/DPoP policy, through
//! the App's HTTP surface (docs/resources.md "Resource indicators and access tokens"). Tokens
//! are checked with ed25519-dalek against the published JWKS, not with the server's verifier.

mod common;

use ed25519_dalek::{Signature, VerifyingKey};
use http::Method;
use serde_json::{json, Value};

use agent_id::jose::b64;
use agent_id::store::Value as SqlValue;

use common::oauth::{authorize, userinfo, world, Client, World, CHALLENGE, REDIRECT, VERIFIER};
use common::{Harness, Req, Resp, TestKey, ISSUER};

const MCP: &str = "https://mcp.example.com/mcp";
const FILES: &str = "https://files.example.com/api";
const OTHER: &str = "https://other.example.com/";

/// Registers a protected resource of `overseer_id` directly in the table (migration 0009).
fn resource(h: &Harness, overseer_id: &str, uri: &str, scopes: &[&str], dpop: bool, alg: &str) {
    let scopes: Vec<Value> = scopes
        .iter()
        .map(|s| json!({"name": s, "description": format!("{s} access")}))
        .collect();
    h.sql(
        "INSERT INTO protected_resources (id, overseer_id, uri, name, scopes, \
           dpop_bound_access_tokens, access_token_alg, created_at, updated_at) \
         VALUES (lower(hex(randomblob(16))), ?1, ?2, 'Resource', ?3, ?4, ?5, 0, 0)",
        vec![
            SqlValue::from(overseer_id),
            SqlValue::from(uri),
            SqlValue::from(Value::from(scopes).to_string()),
            SqlValue::from(dpop),
            SqlValue::from(alg),
        ],
    );
}

/// A world whose overseer runs MCP (`tools.read tools.write`), FILES (`files.read`) and OTHER
/// (`other`).
fn resources_world() -> World {
    let w = world();
    resource(
        &w.h,
        &w.overseer.id,
        MCP,
        &["tools.read", "tools.write"],
        false,
        "EdDSA",
    );
    resource(&w.h, &w.overseer.id, FILES, &["files.read"], false, "EdDSA");
    resource(&w.h, &w.overseer.id, OTHER, &["other"], false, "EdDSA");
    w
}

/// The agent authorizes the client for `resources` with `scope` (JSON body); the code.
fn code_for(w: &World, resources: Value, scope: Option<&str>) -> String {
    let extra = json!({"resource": resources, "scope": scope});
    let r = w.authorize(extra);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["code"].as_str().unwrap().to_owned()
}

/// Redeems `code` naming `resources` (repeated `resource` parameters), with a DPoP proof by
/// `dpop` if given.
fn redeem(w: &World, code: &str, resources: &[&str], dpop: Option<&TestKey>) -> Resp {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    pairs.extend(resources.iter().map(|r| ("resource", *r)));
    let req = w.client_form("/v1/oauth/token", &pairs);
    let req = match dpop {
        Some(k) => req.header("dpop", &w.h.post_proof(k, "/v1/oauth/token")),
        None => req,
    };
    w.h.send(req)
}

/// Refreshes `refresh` with `extra` parameters.
fn refresh(w: &World, refresh: &str, extra: &[(&str, &str)]) -> Resp {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
    pairs.extend_from_slice(extra);
    w.h.send(w.client_form("/v1/oauth/token", &pairs))
}

/// The header and claims of `token`, after checking its EdDSA signature with ed25519-dalek
/// against the key the JWKS publishes under its `kid`.
fn verified(h: &Harness, token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let json =
        |p: &str| -> Value { serde_json::from_slice(&b64::decode_strict(p).unwrap()).unwrap() };
    let (header, claims) = (json(parts[0]), json(parts[1]));
    let jwks = h.send(Req::get("/.well-known/jwks.json")).body;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in the JWKS");
    assert_eq!(
        (&header["alg"], &jwk["alg"]),
        (&json!("EdDSA"), &json!("EdDSA"))
    );
    let x: [u8; 32] = b64::decode_strict(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sig = Signature::from_slice(&b64::decode_strict(parts[2]).unwrap()).unwrap();
    VerifyingKey::from_bytes(&x)
        .unwrap()
        .verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("signature verifies");
    (header, claims)
}

/// OAuth refusals carry their code in `error` (RFC 6749 §5.2).
trait Refused {
    fn refused(&self, status: u16, error: &str);
}

impl Refused for Resp {
    #[track_caller]
    fn refused(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(error)),
            "{}",
            self.body
        );
        assert!(self.body["error_description"].is_string(), "{}", self.body);
    }
}

fn claims(h: &Harness, token: &str) -> Value {
    verified(h, token).1
}

#[test]
fn a_resource_token_has_the_resource_as_audience_and_tells_about_the_agent() {
    let w = resources_world();
    let code = code_for(&w, json!(MCP), Some("tools.read"));
    let r = redeem(&w, &code, &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "tools.read");
    assert!(r.body["refresh_token"].is_string());
    let token = r.body["access_token"].as_str().unwrap();
    let (header, c) = verified(&w.h, token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        c,
        json!({"iss": ISSUER, "sub": w.agent.id, "aud": MCP, "client_id": w.client.id,
               "scope": "tools.read", "iat": w.h.now_s(), "exp": w.h.now_s() + 300,
               "jti": c["jti"], "agent": {"oversight": "human", "tier": "BASIC"}})
    );
    // The member order of the payload is the documented one.
    let payload =
        String::from_utf8(b64::decode_strict(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert!(
        payload.starts_with(r#"{"iss":"#)
            && payload.ends_with(r#""agent":{"oversight":"human","tier":"BASIC"}}"#),
        "{payload}"
    );
    // Stored: the audience, and '' for an unbound token.
    let row =
        &w.h.sql(
            "SELECT aud, jkt, scope FROM access_tokens WHERE jti = ?1",
            vec![SqlValue::from(c["jti"].as_str().unwrap())],
        )
        .rows[0];
    assert_eq!(
        (&row["aud"], &row["jkt"], &row["scope"]),
        (&json!(MCP), &json!(""), &json!("tools.read"))
    );
    // The grant and the history keep the canonical resources.
    let grant =
        &w.h.sql("SELECT resources, scope FROM oauth_grants", vec![])
            .rows[0];
    assert_eq!(grant["resources"], json!(format!("[\"{MCP}\"]")));
    assert_eq!(grant["scope"], "tools.read");
    let history = &w.h.sql("SELECT resources FROM oauth_requests", vec![]).rows[0];
    assert_eq!(history["resources"], grant["resources"]);
}

#[test]
fn resource_values_are_canonicalised_and_repeatable_in_the_query() {
    let w = resources_world();
    // GET with two repeated `resource` parameters, one in another case.
    let query = format!(
        "/v1/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s1&resource={}&resource={}",
        w.client.id,
        urlencode(REDIRECT),
        urlencode("HTTPS://MCP.EXAMPLE.COM/mcp"),
        urlencode(FILES),
    );
    let r = w.h.send(Req::get(&query).bearer(&w.agent.session));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    let code = param(&location, "code").unwrap();
    let grant_resources = json!(format!("[\"{MCP}\",\"{FILES}\"]"));
    let stored =
        &w.h.sql("SELECT resources, scope FROM authorization_codes", vec![])
            .rows[0];
    assert_eq!(stored["resources"], grant_resources);
    // No scope: every scope of the named resources (RFC 6749 §3.3 default).
    assert_eq!(stored["scope"], "files.read tools.read tools.write");
    // Two resources: the token request must name one.
    redeem(&w, &code, &[], None).refused(400, "invalid_target");
    redeem(&w, &code, &[MCP, FILES], None).refused(400, "invalid_target");
    let r = redeem(&w, &code, &["https://files.example.com/api"], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = claims(&w.h, r.body["access_token"].as_str().unwrap());
    assert_eq!(
        (&c["aud"], &c["scope"]),
        (&json!(FILES), &json!("files.read"))
    );
    assert_eq!(r.body["scope"], "files.read");
}

#[test]
fn bad_resources_at_authorize_are_invalid_target_and_write_nothing() {
    let w = resources_world();
    for bad in [
        json!("https://unknown.example.com/mcp"),
        json!(format!("{MCP}#section")),
        json!("/mcp"),
        json!("mcp.example.com"),
        json!("http://mcp.example.com/mcp"),
        json!([MCP, "https://unknown.example.com/"]),
        json!([
            "https://a.example/",
            "https://b.example/",
            "https://c.example/",
            "https://d.example/",
            "https://e.example/",
            "https://f.example/"
        ]),
    ] {
        let r = w.authorize(json!({"resource": bad.clone()}));
        r.refused(400, "invalid_target");
        assert_eq!(r.body["error"], "invalid_target", "{bad}");
    }
    for bad in [json!(7), json!([MCP, 7]), json!({"uri": MCP})] {
        w.authorize(json!({"resource": bad}))
            .refused(400, "invalid_request");
    }
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM authorization_codes"),
        0
    );
    assert_eq!(w.h.count("SELECT COUNT(*) AS n FROM oauth_requests"), 0);
}

#[test]
fn scopes_of_a_resource_request_come_from_the_resources() {
    let w = resources_world();
    // An identity scope, or a scope of a resource not named.
    for bad in [
        "id",
        "tools.read files.read",
        "tools.admin",
        "tools.read name",
    ] {
        w.authorize(json!({"resource": MCP, "scope": bad}))
            .refused(400, "invalid_scope");
    }
    // offline_access is accepted with resources, recorded in the grant, never in the token.
    let code = code_for(&w, json!([MCP]), Some("tools.write offline_access"));
    let r = redeem(&w, &code, &[MCP], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], "tools.write");
    assert!(r.body["refresh_token"].is_string());
    assert_eq!(
        w.h.sql("SELECT scope FROM oauth_grants", vec![]).rows[0]["scope"],
        "offline_access tools.write"
    );
    // Without resource, offline_access asks for nothing more: the identity scope stays v1's.
    let r = w.authorize(json!({"scope": "id name offline_access"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], "id name");
}

#[test]
fn redemption_may_name_only_an_authorized_resource() {
    let w = resources_world();
    let code = code_for(&w, json!([MCP]), None);
    // Registered, but not authorized for this code.
    redeem(&w, &code, &[FILES], None).refused(400, "invalid_target");
    redeem(&w, &code, &["https://unknown.example.com/"], None).refused(400, "invalid_target");
    redeem(&w, &code, &[&format!("{MCP}#x")], None).refused(400, "invalid_target");
    // An identity code takes no resource.
    let identity = w.code();
    redeem(&w, &identity, &[MCP], None).refused(400, "invalid_target");
    // The refusals left both codes usable.
    assert_eq!(redeem(&w, &code, &[MCP], None).status, 200);
    assert_eq!(redeem(&w, &identity, &[], None).status, 200);
}

#[test]
fn a_resource_deleted_since_authorize_is_invalid_target() {
    let w = resources_world();
    let code = code_for(&w, json!(OTHER), None);
    w.h.sql(
        "DELETE FROM protected_resources WHERE uri = ?1",
        vec![SqlValue::from(OTHER)],
    );
    redeem(&w, &code, &[], None).refused(400, "invalid_target");
}

#[test]
fn refresh_narrows_to_granted_resources_and_never_widens() {
    let w = resources_world();
    let code = code_for(&w, json!([MCP, FILES]), None);
    let r = redeem(&w, &code, &[MCP], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut rt = r.body["refresh_token"].as_str().unwrap().to_owned();
    // Widening to a registered resource outside the grant.
    refresh(&w, &rt, &[("resource", OTHER)]).refused(400, "invalid_target");
    // Two resources, or none for a grant of two.
    refresh(&w, &rt, &[("resource", MCP), ("resource", FILES)]).refused(400, "invalid_target");
    refresh(&w, &rt, &[]).refused(400, "invalid_target");
    // The other granted resource.
    let r = refresh(&w, &rt, &[("resource", FILES)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = claims(&w.h, r.body["access_token"].as_str().unwrap());
    assert_eq!(
        (&c["aud"], &c["scope"]),
        (&json!(FILES), &json!("files.read"))
    );
    rt = r.body["refresh_token"].as_str().unwrap().to_owned();
    // Narrower scope, then a scope outside the grant.
    let r = refresh(&w, &rt, &[("resource", MCP), ("scope", "tools.read")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        claims(&w.h, r.body["access_token"].as_str().unwrap())["scope"],
        "tools.read"
    );
    rt = r.body["refresh_token"].as_str().unwrap().to_owned();
    refresh(&w, &rt, &[("resource", MCP), ("scope", "tools.admin")]).refused(400, "invalid_scope");
    // The grant itself never narrowed: the full scope again.
    let r = refresh(&w, &rt, &[("resource", MCP)]);
    assert_eq!(r.body["scope"], "tools.read tools.write");
    // An identity grant's refresh takes no resource.
    let identity = w.client.grant(&w.h, &w.agent);
    refresh(&w, &identity.refresh, &[("resource", MCP)]).refused(400, "invalid_target");
}

/// Every row of the token-type table of docs/resources.md.
#[test]
fn bearer_or_dpop_follows_the_policy() {
    let w = resources_world();
    resource(
        &w.h,
        &w.overseer.id,
        "https://strict.example.com/",
        &["s"],
        true,
        "EdDSA",
    );
    let proof_key = TestKey::random();
    let jkt = proof_key.proof_thumbprint();
    let client_jkt =
        w.h.sql(
            "SELECT key_thumbprint FROM oauth_clients WHERE id = ?1",
            vec![SqlValue::from(&w.client.id)],
        )
        .rows[0]["key_thumbprint"]
            .as_str()
            .unwrap()
            .to_owned();
    let token = |r: &Resp| {
        assert_eq!(r.status, 200, "{}", r.body);
        (
            r.body["token_type"].as_str().unwrap().to_owned(),
            claims(&w.h, r.body["access_token"].as_str().unwrap())["cnf"].clone(),
        )
    };
    // 1. Resource, no proof: Bearer, no cnf.
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], None);
    assert_eq!(token(&r), ("Bearer".into(), Value::Null));
    // 2. Resource, proof: DPoP, bound to the proof's key.
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], Some(&proof_key));
    assert_eq!(token(&r), ("DPoP".into(), json!({"jkt": jkt})));
    // 3. Resource requiring DPoP, no proof: refused.
    let strict = code_for(&w, json!("https://strict.example.com/"), None);
    redeem(&w, &strict, &[], None).refused(400, "invalid_dpop_proof");
    // 4. Resource requiring DPoP, proof: DPoP (the refusal above left the code usable).
    let r = redeem(&w, &strict, &[], Some(&proof_key));
    assert_eq!(token(&r), ("DPoP".into(), json!({"jkt": jkt})));
    // 5. Identity, registered private_key_jwt client, no proof: v1's compatible binding.
    let r = redeem(&w, &w.code(), &[], None);
    assert_eq!(token(&r), ("DPoP".into(), json!({"jkt": client_jkt})));
    // 6. Identity, proof: bound to the proof's key.
    let r = redeem(&w, &w.code(), &[], Some(&proof_key));
    assert_eq!(token(&r), ("DPoP".into(), json!({"jkt": jkt})));
    // 7. Client registered with dpop_bound_access_tokens, resource, no proof: refused; proof: DPoP.
    w.h.sql(
        "UPDATE oauth_clients SET dpop_bound_access_tokens = 1 WHERE id = ?1",
        vec![SqlValue::from(&w.client.id)],
    );
    let code = code_for(&w, json!(MCP), None);
    redeem(&w, &code, &[], None).refused(400, "invalid_dpop_proof");
    let r = redeem(&w, &code, &[], Some(&proof_key));
    assert_eq!(token(&r), ("DPoP".into(), json!({"jkt": jkt})));
}

#[test]
fn userinfo_takes_identity_tokens_only() {
    let w = resources_world();
    let proof_key = TestKey::random();
    // A DPoP-bound resource token, with a valid proof: not for userinfo.
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], Some(&proof_key));
    let bound = r.body["access_token"].as_str().unwrap().to_owned();
    userinfo(&w.h, &bound, &proof_key).refused(401, "invalid_token");
    // Presented as Bearer (RFC 9449 §7.2), and a Bearer resource token as Bearer.
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], None);
    let bearer = r.body["access_token"].as_str().unwrap().to_owned();
    for token in [&bound, &bearer] {
        let r = w.h.send(
            Req::get("/v1/oauth/userinfo").header("authorization", &format!("Bearer {token}")),
        );
        r.refused(401, "invalid_token");
    }
    // A Bearer resource token presented with the DPoP scheme and a proof.
    userinfo(&w.h, &bearer, &proof_key).refused(401, "invalid_token");
    // The identity token of the same client still works.
    let t = w.client.grant(&w.h, &w.agent);
    let r = userinfo(&w.h, &t.access, &proof_key);
    r.refused(401, "invalid_token"); // bound to the client key, not this one
    let r = w.userinfo(&w.client.grant(&w.h, &w.agent).access, &w.client.key);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn introspection_shows_audience_agent_binding_and_type() {
    let w = resources_world();
    let proof_key = TestKey::random();
    let r = redeem(&w, &code_for(&w, json!(MCP), Some("tools.read")), &[], None);
    let bearer = r.body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&w.h, &bearer);
    assert_eq!(
        w.introspect(&bearer),
        json!({"active": true, "token_type": "Bearer", "client_id": w.client.id,
               "sub": w.agent.id, "aud": MCP, "iss": ISSUER, "scope": "tools.read",
               "exp": c["exp"], "iat": c["iat"], "jti": c["jti"],
               "agent": {"oversight": "human", "tier": "BASIC"}})
    );
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], Some(&proof_key));
    let bound = r.body["access_token"].as_str().unwrap().to_owned();
    let i = w.introspect(&bound);
    assert_eq!(
        (&i["token_type"], &i["cnf"]),
        (
            &json!("DPoP"),
            &json!({"jkt": proof_key.proof_thumbprint()})
        )
    );
    assert_eq!(i["scope"], "tools.read tools.write");
    // Another client learns nothing; a revoked token is inactive.
    let other = Client::register(&w.h, "overseer", &w.overseer.session, "Other");
    assert_eq!(other.introspect(&w.h, &bearer), json!({"active": false}));
    let r =
        w.h.send(w.client_form("/v1/oauth/revoke", &[("token", &bearer)]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.introspect(&bearer), json!({"active": false}));
}

#[test]
fn blocks_and_disabled_clients_stop_resource_tokens_as_identity_ones() {
    let w = resources_world();
    let r = redeem(&w, &code_for(&w, json!(MCP), None), &[], None);
    let (access, rt) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    let blocked = w.h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", w.agent.id))
            .bearer(&w.overseer.session)
            .json(json!({"client_id": w.client.id})),
    );
    assert_eq!(blocked.status, 201, "{}", blocked.body);
    assert_eq!(w.introspect(&access), json!({"active": false}));
    refresh(&w, &rt, &[]).refused(400, "invalid_grant");
    w.authorize(json!({"resource": MCP, "scope": null}))
        .refused(403, "access_denied");
}

#[test]
fn the_agent_claim_follows_the_agents_standing() {
    // A human overseer on BASIC: see the first test. An unclaimed agent with its own client.
    let h = Harness::new();
    let overseer = h.overseer("r@example.test");
    h.subscribe(&overseer.id, "BASIC");
    resource(&h, &overseer.id, MCP, &["tools.read"], false, "EdDSA");
    let agent = h.register(&TestKey::random(), "Loner");
    let client = Client::register(&h, "overseer", &overseer.session, "Their Client");
    let tier_of = |agent: &common::Agent| {
        let r = authorize(&h, agent, &client.id, json!({"resource": MCP}));
        assert_eq!(r.status, 200, "{}", r.body);
        let t = client.exchange(&h, r.body["code"].as_str().unwrap(), None);
        assert_eq!(t.status, 200, "{}", t.body);
        claims(&h, t.body["access_token"].as_str().unwrap())["agent"].clone()
    };
    assert_eq!(
        tier_of(&agent),
        json!({"oversight": "none", "tier": "FREE"})
    );
    // A valid shadow sponsorship.
    let shadow = "5a0c6c55-0d4e-4f6e-9a51-7c1f8c3b2d10";
    h.sql(
        "INSERT INTO overseers (id, kind, shadow_agent_id, created_at, updated_at) \
         VALUES (?1, 'shadow', ?2, 0, 0)",
        vec![SqlValue::from(shadow), SqlValue::from(&agent.id)],
    );
    h.sql(
        "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, \
           updated_at) VALUES ('ov-1', ?1, ?2, 1, 0, 0, 0)",
        vec![SqlValue::from(shadow), SqlValue::from(&agent.id)],
    );
    h.sql(
        "INSERT INTO shadow_payments (transaction_id, overseer_id, agent_id, price_id, applied, \
           paid_at, valid_from, valid_until, created_at) VALUES ('txn_1', ?1, ?2, 'p', 1, 0, 0, ?3, 0)",
        vec![
            SqlValue::from(shadow),
            SqlValue::from(&agent.id),
            SqlValue::from(h.clock_ms() + 86_400_000),
        ],
    );
    assert_eq!(
        tier_of(&agent),
        json!({"oversight": "shadow", "tier": "SHADOW"})
    );
}

#[test]
fn every_redirected_authorize_error_carries_iss() {
    let w = resources_world();
    let get = |w: &World, extra: &str| {
        let path = format!(
            "/v1/oauth/authorize?client_id={}&redirect_uri={}&state=st{extra}",
            w.client.id,
            urlencode(REDIRECT)
        );
        w.h.send(Req::get(&path).bearer(&w.agent.session))
    };
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let expect = |r: Resp, error: &str| {
        assert_eq!(r.status, 303, "{error}: {}", r.body);
        let location = r.header("location").unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            param(location, "error").as_deref(),
            Some(error),
            "{location}"
        );
        assert_eq!(
            param(location, "state").as_deref(),
            Some("st"),
            "{location}"
        );
        assert_eq!(
            param(location, "iss").as_deref(),
            Some(ISSUER),
            "{location}"
        );
    };
    expect(get(&w, &pkce), "invalid_request"); // no response_type
    expect(
        get(&w, &format!("&response_type=token{pkce}")),
        "unsupported_response_type",
    );
    expect(get(&w, "&response_type=code"), "invalid_request"); // no PKCE
    expect(
        get(&w, &format!("&response_type=code{pkce}&scope=openid")),
        "invalid_scope",
    );
    expect(
        get(
            &w,
            &format!(
                "&response_type=code{pkce}&resource={}",
                urlencode("https://nowhere.example/")
            ),
        ),
        "invalid_target",
    );
    expect(
        get(
            &w,
            &format!(
                "&response_type=code{pkce}&resource={}&scope=id",
                urlencode(MCP)
            ),
        ),
        "invalid_scope",
    );
    // Blocked client.
    let blocked = w.h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", w.agent.id))
            .bearer(&w.overseer.session)
            .json(json!({"client_id": w.client.id})),
    );
    assert_eq!(blocked.status, 201);
    expect(
        get(&w, &format!("&response_type=code{pkce}")),
        "access_denied",
    );
    // Disabled client.
    w.h.sql(
        "UPDATE oauth_clients SET disabled = 1, disabled_at = 1, disabled_reason = 'tier_limit' WHERE id = ?1",
        vec![SqlValue::from(&w.client.id)],
    );
    expect(
        get(&w, &format!("&response_type=code{pkce}")),
        "unauthorized_client",
    );
}

#[test]
fn the_monthly_limit_refusal_redirect_carries_iss() {
    // An unclaimed agent may grant ten a month; the eleventh is refused by redirect.
    let h = Harness::new();
    let overseer = h.overseer("r@example.test");
    h.subscribe(&overseer.id, "BASIC");
    let agent = h.register(&TestKey::random(), "Busy");
    let client = Client::register(&h, "overseer", &overseer.session, "Their Client");
    for _ in 0..10 {
        assert_eq!(authorize(&h, &agent, &client.id, json!({})).status, 200);
    }
    let path = format!(
        "/v1/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let r = h.send(Req::get(&path).bearer(&agent.session));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "iss").as_deref(), Some(ISSUER));
}

#[test]
fn discovery_lists_offline_access() {
    let h = Harness::new();
    let d = h
        .send(Req::new(
            Method::GET,
            "/.well-known/oauth-authorization-server",
        ))
        .body;
    assert_eq!(
        d["scopes_supported"],
        json!([
            "id",
            "name",
            "description",
            "pub_key",
            "subscription",
            "offline_access"
        ])
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The decoded value of query parameter `name` in `url`.
fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
