//! Consent by the overseer in the browser (issue 10 item 5), over the real App: a browser's
//! navigation to the authorization URL is sent to the consent page while an agent's request keeps
//! api.md's `401 login_required`; the page's API describes the request and takes the overseer's
//! decision for one of its agents, with the agent's own checks (blocks, tier limit), its own
//! setting forbidding it, and the cookie's CSRF protection.

mod common;

use common::oauth::{world, Client, World, CHALLENGE, REDIRECT};
use common::{oversee, Harness, ProofSpec, Req, Resp, TestKey, ISSUER};
use serde_json::{json, Value};

const CHROMIUM_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,\
                               image/avif,image/webp,image/apng,*/*;q=0.8";
const COOKIE: &str = "__Host-agentid_session";

/// The authorization request's query, as an MCP host would put it in the browser.
fn query(client_id: &str) -> String {
    format!(
        "response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&scope=id%20name&state=xyz"
    )
}

/// The same request as the JSON the consent page posts.
fn params(client_id: &str) -> Value {
    json!({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
           "code_challenge": CHALLENGE, "code_challenge_method": "S256",
           "scope": "id name", "state": "xyz"})
}

fn with_cookie(req: Req, session: &str) -> Req {
    req.header("cookie", &format!("{COOKIE}={session}"))
}

/// `GET /v1/oauth/consent?…` by the page, with the overseer's cookie.
fn describe(h: &Harness, session: &str, client_id: &str) -> Resp {
    h.send(with_cookie(
        Req::get(&format!("/v1/oauth/consent?{}", query(client_id))),
        session,
    ))
}

/// `POST /v1/oauth/consent` by the page (same origin), for `agent_id`.
fn decide(h: &Harness, session: &str, client_id: &str, agent_id: &str, decision: &str) -> Resp {
    let mut body = params(client_id);
    body["agent_id"] = json!(agent_id);
    body["decision"] = json!(decision);
    h.send(
        with_cookie(Req::post("/v1/oauth/consent"), session)
            .header("origin", ISSUER)
            .json(body),
    )
}

fn approve(w: &World) -> Resp {
    decide(
        &w.h,
        &w.overseer.session,
        &w.client.id,
        &w.agent.id,
        "approve",
    )
}

fn history(w: &World) -> Vec<Value> {
    let r =
        w.h.send(Req::get("/v1/agents/me/oauth-history").bearer(&w.agent.session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["history"].as_array().unwrap().clone()
}

#[track_caller]
fn assert_oauth_error(r: &Resp, status: u16, error: &str) {
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (status, Some(error)),
        "{}",
        r.body
    );
    assert!(r.body["error_description"].is_string(), "{}", r.body);
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_browser_navigation_is_sent_to_the_consent_page_and_an_agent_keeps_its_401() {
    let w = world();
    let path = format!("/v1/oauth/authorize?{}", query(&w.client.id));
    let browser = w.h.send(Req::get(&path).header("accept", CHROMIUM_ACCEPT));
    assert_eq!(browser.status, 303, "{}", browser.body);
    assert_eq!(
        browser.header("location"),
        Some(format!("/consent?{}", query(&w.client.id)).as_str())
    );

    // v1 agents (JSON or no Accept) without credentials: api.md's 401, byte for byte.
    let v1 =
        br#"{"error":"login_required","error_description":"agent authentication is required"}"#;
    for accept in [None, Some("application/json"), Some("*/*")] {
        let req = Req::get(&path);
        let req = match accept {
            Some(a) => req.header("accept", a),
            None => req,
        };
        let r = w.h.send(req);
        assert_eq!((r.status, r.raw.as_slice()), (401, &v1[..]), "{accept:?}");
        assert!(r.header("location").is_none());
    }
    // Any agent credential means the agent itself is asking: never the page.
    let with_session = w.h.send(
        Req::get(&path)
            .header("accept", CHROMIUM_ACCEPT)
            .bearer(&w.agent.session),
    );
    assert_eq!(with_session.status, 303);
    assert!(with_session
        .header("location")
        .unwrap()
        .starts_with("https://app.example.com/cb?code="));
    let proof = w.agent_key.proof(&ProofSpec::new(
        "GET",
        &format!("{ISSUER}/v1/oauth/authorize"),
        w.h.now_s(),
    ));
    let with_proof = w.h.send(
        Req::get(&path)
            .header("accept", CHROMIUM_ACCEPT)
            .header("dpop", &proof),
    );
    assert!(with_proof
        .header("location")
        .unwrap()
        .starts_with("https://app.example.com/cb?code="));
}

#[test]
fn the_page_is_told_who_asks_for_what_and_for_which_agents() {
    let w = world();
    let r = describe(&w.h, &w.overseer.session, &w.client.id);
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["client"]["client_id"], json!(w.client.id));
    assert_eq!(b["client"]["name"], "Demo Client");
    assert_eq!(b["client"]["url_host"], Value::Null);
    assert_eq!(b["redirect_host"], "app.example.com");
    assert_eq!(b["redirect_uri"], REDIRECT);
    assert_eq!(b["state"], "xyz");
    let scopes: Vec<&str> = b["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["id", "name"]);
    assert!(b["scopes"][0]["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert_eq!(b["resources"], json!([]));
    assert_eq!(
        b["agents"],
        json!([{"id": w.agent.id, "name": "Agent A", "overseer_consent": true, "blocked": false,
                "limit_reached": false, "eligible": true, "reason": null}])
    );

    // A registered resource is shown by name; an unknown one by its URI alone.
    w.h.sql(
        "INSERT INTO protected_resources (id, overseer_id, uri, name, scopes, created_at, updated_at) \
         VALUES ('r1', ?1, 'https://mcp.example.com/mcp', 'Example MCP', '[]', 0, 0)",
        vec![w.overseer.id.clone().into()],
    );
    let with_resource = |uri: &str| {
        let q = format!("{}&resource={uri}", query(&w.client.id));
        let r = w.h.send(with_cookie(
            Req::get(&format!("/v1/oauth/consent?{q}")),
            &w.overseer.session,
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["resources"].clone()
    };
    assert_eq!(
        with_resource("https%3A%2F%2Fmcp.example.com%2Fmcp"),
        json!([{"uri": "https://mcp.example.com/mcp", "name": "Example MCP"}])
    );
    assert_eq!(
        with_resource("https%3A%2F%2Fother.example%2F"),
        json!([{"uri": "https://other.example/", "name": null}])
    );
}

#[test]
fn bad_requests_get_the_authorization_endpoints_errors() {
    let w = world();
    let s = &w.overseer.session;
    let get = |q: String| {
        w.h.send(with_cookie(Req::get(&format!("/v1/oauth/consent?{q}")), s))
    };
    let q = query(&w.client.id);
    // C1 unknown client, C2 unregistered redirect URI, C3 PKCE plain, C4 unknown scope,
    // C5 no response_type.
    assert_oauth_error(
        &get(q.replace(&w.client.id, "nope")),
        400,
        "invalid_request",
    );
    assert_oauth_error(
        &get(q.replace("app.example.com", "evil.example")),
        400,
        "invalid_request",
    );
    assert_oauth_error(&get(q.replace("S256", "plain")), 400, "invalid_request");
    assert_oauth_error(
        &get(q.replace("id%20name", "id%20admin")),
        400,
        "invalid_scope",
    );
    assert_oauth_error(
        &get(q.replace("response_type=code&", "")),
        400,
        "invalid_request",
    );

    // C6 a decision other than approve or deny; C7 no agent_id; C8 not JSON.
    let bad = decide(&w.h, s, &w.client.id, &w.agent.id, "maybe");
    assert_oauth_error(&bad, 400, "invalid_request");
    let mut body = params(&w.client.id);
    body["decision"] = json!("approve");
    let no_agent = w.h.send(
        with_cookie(Req::post("/v1/oauth/consent"), s)
            .header("origin", ISSUER)
            .json(body),
    );
    assert_oauth_error(&no_agent, 400, "invalid_request");
    let not_json = w.h.send(
        with_cookie(Req::post("/v1/oauth/consent"), s)
            .header("origin", ISSUER)
            .raw("text/plain", b"approve".to_vec()),
    );
    assert_eq!(not_json.status, 415, "{}", not_json.body);
    assert!(history(&w).is_empty());
}

#[test]
fn approval_issues_a_code_the_client_redeems_recorded_as_consented_by_the_overseer() {
    let w = world();
    let r = approve(&w);
    assert_eq!(r.status, 200, "{}", r.body);
    let to = r.body["redirect_to"].as_str().unwrap();
    assert!(to.starts_with("https://app.example.com/cb?code="), "{to}");
    assert_eq!(query_param(to, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(to, "iss").as_deref(), Some(ISSUER));
    let code = query_param(to, "code").unwrap();

    let tokens = w.exchange(&code, None);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["scope"], "id name");
    let access = tokens.body["access_token"].as_str().unwrap();
    let me = w.userinfo(access, &w.client.key);
    assert_eq!(
        (me.status, &me.body["sub"]),
        (200, &json!(w.agent.id)),
        "{}",
        me.body
    );

    let rows = history(&w);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (&rows[0]["status"], &rows[0]["consented_by"]),
        (&json!("approved"), &json!("overseer"))
    );
    let grants =
        w.h.send(Req::get("/v1/agents/me/grants").bearer(&w.agent.session));
    assert_eq!(
        grants.body["grants"][0]["consented_by"], "overseer",
        "{}",
        grants.body
    );

    let audit =
        w.h.send(Req::get("/v1/overseers/me/audit").bearer(&w.overseer.session));
    let issued = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "oauth.code_issued")
        .unwrap_or_else(|| panic!("no oauth.code_issued in {}", audit.body))
        .clone();
    assert_eq!(issued["actor_type"], "overseer", "{issued}");
    assert_eq!(issued["actor_id"], json!(w.overseer.id), "{issued}");
    assert_eq!(issued["details"]["consented_by"], "overseer", "{issued}");
}

#[test]
fn the_agents_own_consent_stays_recorded_as_the_agents() {
    let w = world();
    assert_eq!(w.authorize(json!({})).status, 200);
    let rows = history(&w);
    assert_eq!(rows[0]["consented_by"], "agent");
}

#[test]
fn denial_sends_access_denied_to_the_client_and_is_recorded() {
    let w = world();
    let r = decide(&w.h, &w.overseer.session, &w.client.id, &w.agent.id, "deny");
    assert_eq!(r.status, 200, "{}", r.body);
    let to = r.body["redirect_to"].as_str().unwrap();
    assert!(
        to.starts_with("https://app.example.com/cb?error=access_denied&"),
        "{to}"
    );
    assert_eq!(query_param(to, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(to, "iss").as_deref(), Some(ISSUER));
    assert!(query_param(to, "code").is_none());
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM authorization_codes"),
        0
    );
    let rows = history(&w);
    assert_eq!(
        (
            &rows[0]["status"],
            &rows[0]["reason"],
            &rows[0]["consented_by"]
        ),
        (
            &json!("denied"),
            &json!("overseer_denied"),
            &json!("overseer")
        )
    );
}

#[test]
fn an_agent_that_forbids_overseer_consent_is_not_consented_for() {
    let w = world();
    let settings = |req: Req| w.h.send(req);
    let r = settings(Req::get("/v1/agents/me/settings").bearer(&w.agent.session));
    assert_eq!(
        (r.status, &r.body["settings"]["overseer_consent"]),
        (200, &json!(true))
    );
    // The agent decides with its session or a DPoP proof; the overseer cannot.
    let proof = w.agent_key.proof(&ProofSpec::new(
        "PUT",
        &format!("{ISSUER}/v1/agents/me/settings"),
        w.h.now_s(),
    ));
    let off = settings(
        Req::new(http::Method::PUT, "/v1/agents/me/settings")
            .header("dpop", &proof)
            .json(json!({"overseer_consent": false})),
    );
    assert_eq!(
        (off.status, &off.body["settings"]["overseer_consent"]),
        (200, &json!(false)),
        "{}",
        off.body
    );
    let by_overseer = settings(
        Req::new(http::Method::PUT, "/v1/agents/me/settings")
            .bearer(&w.overseer.session)
            .json(json!({"overseer_consent": true})),
    );
    assert_eq!(by_overseer.status, 403, "{}", by_overseer.body);

    let listed = describe(&w.h, &w.overseer.session, &w.client.id);
    assert_eq!(listed.body["agents"][0]["eligible"], false);
    assert_eq!(
        listed.body["agents"][0]["reason"],
        "overseer_consent_forbidden"
    );
    assert_oauth_error(&approve(&w), 403, "overseer_consent_forbidden");
    assert!(history(&w).is_empty());

    let on = settings(
        Req::new(http::Method::PUT, "/v1/agents/me/settings")
            .bearer(&w.agent.session)
            .json(json!({"overseer_consent": true})),
    );
    assert_eq!(on.status, 200);
    assert_eq!(approve(&w).status, 200);
}

#[test]
fn the_agents_setting_refuses_bad_bodies() {
    let w = world();
    let put = |body: Value| {
        w.h.send(
            Req::new(http::Method::PUT, "/v1/agents/me/settings")
                .bearer(&w.agent.session)
                .json(body),
        )
    };
    // S1 missing, S2 wrong type, S3 no credential.
    put(json!({})).assert_error(400, "missing_field");
    put(json!({"overseer_consent": "no"})).assert_error(400, "invalid_field");
    let anonymous = w.h.send(
        Req::new(http::Method::PUT, "/v1/agents/me/settings")
            .json(json!({"overseer_consent": false})),
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let r =
        w.h.send(Req::get("/v1/agents/me/settings").bearer(&w.agent.session));
    assert_eq!(r.body["settings"]["overseer_consent"], true);
}

#[test]
fn only_an_agent_the_overseer_actively_oversees_can_be_chosen() {
    let w = world();
    let other = w.h.overseer("other@example.test");
    let r = decide(&w.h, &other.session, &w.client.id, &w.agent.id, "approve");
    assert_oauth_error(&r, 404, "agent_not_found");
    let unknown = decide(
        &w.h,
        &w.overseer.session,
        &w.client.id,
        "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f",
        "approve",
    );
    assert_oauth_error(&unknown, 404, "agent_not_found");
    let listed = describe(&w.h, &other.session, &w.client.id);
    assert_eq!(listed.body["agents"], json!([]));
    assert!(history(&w).is_empty());
}

#[test]
fn a_blocked_client_is_refused_and_the_refusal_recorded() {
    let w = world();
    let r = w.h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", w.agent.id))
            .bearer(&w.overseer.session)
            .json(json!({"client_id": w.client.id})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let listed = describe(&w.h, &w.overseer.session, &w.client.id);
    assert_eq!(
        listed.body["agents"][0]["reason"], "client_blocked",
        "{}",
        listed.body
    );
    assert_oauth_error(&approve(&w), 403, "access_denied");
    let rows = history(&w);
    assert_eq!(
        (
            &rows[0]["status"],
            &rows[0]["reason"],
            &rows[0]["consented_by"]
        ),
        (
            &json!("denied"),
            &json!("client_blocked"),
            &json!("overseer")
        )
    );
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM authorization_codes"),
        0
    );
}

#[test]
fn the_tier_limit_applies_as_for_the_agents_own_consent() {
    let h = Harness::new();
    let o = h.overseer("free@example.test");
    let a = h.register(&TestKey::random(), "Free agent");
    // FREE cannot claim through the API; its limit is what this test needs.
    oversee(&h, &o.id, &a.id);
    let owner = h.overseer("owner@example.test");
    h.subscribe(&owner.id, "BASIC");
    let client = Client::register(&h, "overseer", &owner.session, "C");
    for _ in 0..10 {
        let r = decide(&h, &o.session, &client.id, &a.id, "approve");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let listed = describe(&h, &o.session, &client.id);
    assert_eq!(
        listed.body["agents"][0]["limit_reached"], true,
        "{}",
        listed.body
    );
    assert_eq!(listed.body["agents"][0]["reason"], "oauth_limit_reached");
    let r = decide(&h, &o.session, &client.id, &a.id, "approve");
    assert_oauth_error(&r, 403, "access_denied");
    assert_eq!(
        r.body["error_description"],
        "OAuth limit reached (10/10 for this period)"
    );
    assert_eq!(
        h.count("SELECT COUNT(*) AS n FROM oauth_requests WHERE reason = 'oauth_limit_reached' AND consented_by = 'overseer'"),
        1
    );
}

#[test]
fn a_cross_site_post_is_refused_and_writes_nothing() {
    let w = world();
    let mut body = params(&w.client.id);
    body["agent_id"] = json!(w.agent.id);
    body["decision"] = json!("approve");
    let post =
        || with_cookie(Req::post("/v1/oauth/consent"), &w.overseer.session).json(body.clone());
    let forged = w.h.send(post().header("origin", "https://evil.example"));
    assert_oauth_error(&forged, 403, "csrf_check_failed");
    let no_origin = w.h.send(post());
    assert_oauth_error(&no_origin, 403, "csrf_check_failed");
    assert!(history(&w).is_empty());
    assert_eq!(
        w.h.count("SELECT COUNT(*) AS n FROM authorization_codes"),
        0
    );
}

#[test]
fn without_an_overseer_session_nothing_is_shown_or_decided() {
    let w = world();
    let get = w.h.send(Req::get(&format!(
        "/v1/oauth/consent?{}",
        query(&w.client.id)
    )));
    assert_oauth_error(&get, 401, "authentication_required");
    assert!(get
        .header("www-authenticate")
        .is_some_and(|c| c.starts_with("Bearer")));
    let post = w.h.send(
        Req::post("/v1/oauth/consent")
            .header("origin", ISSUER)
            .json(json!({
        "decision": "approve", "agent_id": w.agent.id, "client_id": w.client.id})),
    );
    assert_eq!(post.status, 401, "{}", post.body);
    let stale = describe(&w.h, "not-a-session", &w.client.id);
    assert_oauth_error(&stale, 401, "invalid_session");
    // An agent's session is not an overseer's.
    let agent = w.h.send(
        Req::get(&format!("/v1/oauth/consent?{}", query(&w.client.id))).bearer(&w.agent.session),
    );
    assert_oauth_error(&agent, 403, "forbidden");
}
