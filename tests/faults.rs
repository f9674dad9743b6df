//! Storage faults in the middle of every multi-statement flow (security.md: nothing
//! half-written). Each flow is first run clean to count its database calls; then, for every call
//! in turn, a fresh world runs the same flow with that call failing. Every run must answer 5xx
//! with `X-Request-Id` (echoed in the body in the endpoint's error format), leave every table
//! exactly as it was, and leak no storage detail.

mod common;

use common::faults::{Fault, FaultyDb};
use common::oauth::Client;
use common::paddle::{envelope, sub, sub_link};
use common::*;
use http::Method;
use serde_json::{json, Value};

use agent_id::http::Request;

/// The error body format of the endpoint under test (api.md 1.5).
#[derive(Clone, Copy)]
enum Format {
    Api,
    OAuth,
}

/// Builds the world for one flow and returns the request that runs it.
type Prepare = fn(&Harness) -> Request;

fn assert_internal_error(r: &Resp, format: Format, context: &str) {
    assert!(
        r.status >= 500,
        "{context}: expected 5xx, got {} {}",
        r.status,
        r.body
    );
    let id = r
        .header("x-request-id")
        .unwrap_or_else(|| panic!("{context}: no X-Request-Id"));
    assert_eq!(r.body["request_id"], id, "{context}: body request_id");
    match format {
        Format::Api => {
            assert_eq!(r.body["success"], false, "{context}: {}", r.body);
            assert_eq!(r.body["code"], "internal_error", "{context}: {}", r.body);
        }
        Format::OAuth => {
            assert_eq!(r.body["error"], "server_error", "{context}: {}", r.body);
            assert!(r.body["error_description"].is_string(), "{context}");
        }
    }
    let raw = String::from_utf8_lossy(&r.raw);
    assert!(
        !raw.contains("D1_ERROR") && !raw.contains("SQLITE") && !raw.contains("injected"),
        "{context}: storage detail leaked: {raw}"
    );
}

/// Every table is exactly as before, except that single-use markers (`jti_markers`) may have been
/// added: a DPoP proof or client assertion is consumed when it is checked, before the flow's own
/// writes, and stays consumed when those fail (a retry brings a fresh proof). Existing markers
/// never change.
fn assert_unchanged(before: &Dump, after: &Dump, context: &str) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "{context}"
    );
    for (table, rows) in before {
        if table == "jti_markers" {
            assert!(
                after[table].starts_with(rows),
                "{context}\nexisting replay markers changed"
            );
        } else {
            assert_eq!(&after[table], rows, "{context}\ntable {table} changed");
        }
    }
}

type Dump = std::collections::BTreeMap<String, Vec<Value>>;

/// Runs `prepare`'s flow once cleanly, then once per database call with that call failing.
/// Returns how many calls the flow makes.
fn fail_every_call(name: &str, format: Format, prepare: Prepare) -> usize {
    let h = Harness::new();
    let req = prepare(&h);
    let probe = FaultyDb::new(h.db.clone(), Fault::Never);
    let r = h.send_via(&h.app_over(probe.clone()), req);
    assert!(
        r.status < 300,
        "{name} without faults: {} {}",
        r.status,
        r.body
    );
    let calls = probe.calls();
    assert!(calls >= 1, "{name} makes no database call");
    for n in 1..=calls {
        let h = Harness::new();
        let req = prepare(&h);
        let before = h.dump();
        let db = FaultyDb::new(h.db.clone(), Fault::Call(n));
        let r = h.send_via(&h.app_over(db.clone()), req);
        let context = format!(
            "{name}, call {n} of {calls} failing:\n  {}",
            db.log().join("\n  ")
        );
        assert!(db.fired(), "{context}");
        assert_internal_error(&r, format, &context);
        assert_unchanged(&before, &h.dump(), &context);
    }
    calls
}

// --- worlds -------------------------------------------------------------------------------------

fn registration_complete(h: &Harness) -> Request {
    let key = TestKey::random();
    let r = h.send(
        Req::post("/v1/agents/register/initiate")
            .json(json!({"name": "Faulty", "public_key": key.x()})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let data = r.body["challenge_data"].as_str().unwrap();
    let id = r.body["challenge_id"].as_str().unwrap();
    Req::post(&format!("/v1/agents/register/complete/{id}"))
        .json(json!({"signature": key.sign_b64(data.as_bytes())}))
        .into_request()
}

fn rotation_complete(h: &Harness) -> Request {
    let (old, new) = (TestKey::random(), TestKey::random());
    let a = h.register(&old, "A");
    let r = h.send(
        Req::post("/v1/agents/rotate-key/initiate")
            .bearer(&a.session)
            .json(json!({"new_public_key": new.x()})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.body["challenge_data"].as_str().unwrap();
    let path = format!(
        "/v1/agents/rotate-key/complete/{}",
        r.body["challenge_id"].as_str().unwrap()
    );
    Req::post(&path)
        .header("dpop", &h.post_proof(&old, &path))
        .json(json!({"signature": new.sign_b64(data.as_bytes())}))
        .into_request()
}

fn claim_complete(h: &Harness) -> Request {
    let o = h.overseer("o@example.test");
    h.subscribe(&o.id, "BASIC");
    let key = TestKey::random();
    let a = h.register(&key, "A");
    let r = h.send(
        Req::post("/v1/agents/claim/initiate")
            .bearer(&o.session)
            .json(json!({"agent_id": a.id})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let path = format!(
        "/v1/agents/claim/complete/{}",
        r.body["challenge_id"].as_str().unwrap()
    );
    Req::post(&path)
        .header("dpop", &h.post_proof(&key, &path))
        .json(json!({"overseer_id": o.id}))
        .into_request()
}

fn declaim(h: &Harness) -> Request {
    let (o, a) = h.overseer_with_agent("BASIC");
    Req::post(&format!("/v1/agents/declaim/{}", a.id))
        .bearer(&o.session)
        .into_request()
}

fn revoke_overseer(h: &Harness) -> Request {
    let (_, a) = h.overseer_with_agent("BASIC");
    Req::post("/v1/agents/revoke-overseer")
        .bearer(&a.session)
        .into_request()
}

/// An overseer-owned client, for an agent that the overseer oversees.
struct OAuthWorld {
    overseer: Overseer,
    agent: Agent,
    client: Client,
}

fn oauth_world(h: &Harness) -> OAuthWorld {
    let (overseer, agent) = h.overseer_with_agent("BASIC");
    let client = Client::register(h, "overseer", &overseer.session, "Faulty Client");
    OAuthWorld {
        overseer,
        agent,
        client,
    }
}

fn code_redemption(h: &Harness) -> Request {
    let w = oauth_world(h);
    let code = w.client.code(h, &w.agent);
    w.client.exchange_request(h, &code, None).into_request()
}

fn refresh_rotation(h: &Harness) -> Request {
    let w = oauth_world(h);
    let tokens = w.client.grant(h, &w.agent);
    w.client.refresh_request(h, &tokens.refresh).into_request()
}

fn client_rekey(h: &Harness) -> Request {
    let w = oauth_world(h);
    w.client.grant(h, &w.agent);
    Req::new(Method::PUT, &format!("/v1/clients/{}/key", w.client.id))
        .bearer(&w.overseer.session)
        .json(json!({"public_key": TestKey::random().x()}))
        .into_request()
}

fn client_delete(h: &Harness) -> Request {
    let w = oauth_world(h);
    w.client.grant(h, &w.agent);
    Req::new(Method::DELETE, &format!("/v1/clients/{}", w.client.id))
        .bearer(&w.overseer.session)
        .into_request()
}

fn signed_webhook(h: &Harness, body: &str) -> Request {
    let sig = agent_id::paddle::signature::sign(WEBHOOK_SECRET, h.now_s(), body.as_bytes());
    Req::post("/v1/webhooks/paddle")
        .header("paddle-signature", &sig)
        .raw("application/json", body.as_bytes().to_vec())
        .into_request()
}

fn subscription_webhook(h: &Harness) -> Request {
    let o = h.overseer("o@example.test");
    let body = envelope(
        "evt_fault_sub",
        "subscription.activated",
        0,
        sub(
            "sub_fault",
            "active",
            PRICE_BASIC,
            Some(sub_link(&o.id, "BASIC", PRICE_BASIC)),
        ),
    );
    signed_webhook(h, &body)
}

/// A failed payment of an existing subscription (issue 12): its state change and its audit row.
fn payment_failed_webhook(h: &Harness) -> Request {
    let o = h.overseer("o@example.test");
    common::paddle::subscribe(h, &o.id, "sub_fault_pay", "BASIC", PRICE_BASIC);
    let body = envelope(
        "evt_fault_pay",
        "transaction.payment_failed",
        10,
        json!({"id": "txn_fault_pay", "status": "past_due", "customer_id": "ctm_x",
               "subscription_id": "sub_fault_pay",
               "items": [{"price": {"id": PRICE_BASIC}, "quantity": 1}], "custom_data": null}),
    );
    signed_webhook(h, &body)
}

fn shadow_payment_webhook(h: &Harness) -> Request {
    let key = TestKey::random();
    let a = h.register(&key, "Sponsored");
    let started = h.send(Req::post(&format!("/v1/agents/malice/{}", a.id)));
    assert_eq!(started.status, 200, "{}", started.body);
    let cid = started.body["challenge_id"].as_str().unwrap().to_owned();
    let shadow = started.body["shadow_overseer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/agents/claim/complete/{cid}");
    let r = h.send(
        Req::post(&path)
            .header("dpop", &h.post_proof(&key, &path))
            .json(json!({"overseer_id": shadow})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let custom: Value = h
        .send(Req::get(&format!("/v1/agents/malice/status/{cid}")))
        .body["custom_data"]
        .clone();
    let body = envelope(
        "evt_fault_shadow",
        "transaction.completed",
        0,
        json!({"id": "txn_fault", "status": "completed", "customer_id": "ctm_sponsor",
               "subscription_id": null, "items": [{"price": {"id": PRICE_SHADOW}, "quantity": 1}],
               "custom_data": custom}),
    );
    signed_webhook(h, &body)
}

// --- the flows ----------------------------------------------------------------------------------

#[test]
fn registration_complete_is_all_or_nothing() {
    fail_every_call("register/complete", Format::Api, registration_complete);
}

#[test]
fn key_rotation_complete_is_all_or_nothing() {
    fail_every_call("rotate-key/complete", Format::Api, rotation_complete);
}

#[test]
fn claim_complete_is_all_or_nothing() {
    fail_every_call("claim/complete", Format::Api, claim_complete);
}

#[test]
fn declaim_is_all_or_nothing() {
    fail_every_call("declaim", Format::Api, declaim);
}

#[test]
fn revoke_overseer_is_all_or_nothing() {
    fail_every_call("revoke-overseer", Format::Api, revoke_overseer);
}

#[test]
fn code_redemption_is_all_or_nothing() {
    fail_every_call("token (authorization_code)", Format::OAuth, code_redemption);
}

#[test]
fn refresh_rotation_is_all_or_nothing() {
    fail_every_call("token (refresh_token)", Format::OAuth, refresh_rotation);
}

#[test]
fn client_rekey_is_all_or_nothing() {
    fail_every_call("PUT /v1/clients/{id}/key", Format::Api, client_rekey);
}

#[test]
fn client_delete_is_all_or_nothing() {
    fail_every_call("DELETE /v1/clients/{id}", Format::Api, client_delete);
}

#[test]
fn subscription_webhook_is_all_or_nothing() {
    fail_every_call("subscription.activated", Format::Api, subscription_webhook);
}

#[test]
fn shadow_payment_webhook_is_all_or_nothing() {
    fail_every_call(
        "transaction.completed (shadow)",
        Format::Api,
        shadow_payment_webhook,
    );
}

#[test]
fn payment_failed_webhook_is_all_or_nothing() {
    fail_every_call(
        "transaction.payment_failed",
        Format::Api,
        payment_failed_webhook,
    );
}

/// A fault chosen by statement rather than position: the batch that creates the agent fails as
/// a whole, before any of it runs.
#[test]
fn a_batch_with_a_matching_statement_fails_as_a_whole() {
    let h = Harness::new();
    let req = registration_complete(&h);
    let before = h.dump();
    let db = FaultyDb::new(h.db.clone(), Fault::Matching("INSERT INTO agents"));
    let r = h.send_via(&h.app_over(db.clone()), req);
    assert!(db.fired(), "{:?}", db.log());
    assert_internal_error(&r, Format::Api, &db.log().join("\n"));
    assert_eq!(h.dump(), before);
}

// --- used by oauth ---

fn code_redemption_with_dpop(h: &Harness) -> Request {
    let w = oauth_world(h);
    let code = w.client.code(h, &w.agent);
    let key = TestKey::random();
    w.client
        .exchange_request(h, &code, Some(&key))
        .into_request()
}

fn refresh_revocation(h: &Harness) -> Request {
    let w = oauth_world(h);
    let tokens = w.client.grant(h, &w.agent);
    w.client
        .form(h, "/v1/oauth/revoke", &[("token", &tokens.refresh)])
        .into_request()
}

fn access_revocation(h: &Harness) -> Request {
    let w = oauth_world(h);
    let tokens = w.client.grant(h, &w.agent);
    w.client
        .form(h, "/v1/oauth/revoke", &[("token", &tokens.access)])
        .into_request()
}

/// Both replay markers share the grant's batch.
#[test]
fn dpop_bound_code_redemption_is_all_or_nothing() {
    fail_every_call(
        "token (authorization_code, DPoP)",
        Format::OAuth,
        code_redemption_with_dpop,
    );
}

#[test]
fn revocations_are_all_or_nothing() {
    fail_every_call("revoke (refresh token)", Format::OAuth, refresh_revocation);
    fail_every_call("revoke (access token)", Format::OAuth, access_revocation);
}

/// Introspection with the client's key cached is one batch: when it fails, the answer is 5xx
/// and nothing is written, not even the assertion's marker; the cache survives and a retry is
/// answered in one call.
#[test]
fn cached_key_introspection_is_all_or_nothing() {
    let h = Harness::new();
    let w = oauth_world(&h);
    let tokens = w.client.grant(&h, &w.agent);
    let db = FaultyDb::new(h.db.clone(), Fault::Call(3));
    let app = h.app_over(db.clone());
    let introspect = || {
        w.client
            .form(&h, "/v1/oauth/introspect", &[("token", &tokens.access)])
            .into_request()
    };
    let r = h.send_via(&app, introspect());
    assert_eq!((r.status, db.calls()), (200, 2), "{}", r.body);
    let before = h.dump();
    let r = h.send_via(&app, introspect());
    let context = db.log().join("\n  ");
    assert!(db.fired() && db.calls() == 3, "{context}");
    assert_internal_error(&r, Format::OAuth, &context);
    assert_eq!(h.dump(), before, "{context}");
    let r = h.send_via(&app, introspect());
    assert_eq!((r.status, db.calls()), (200, 4), "{}", r.body);
    assert_eq!(r.body["active"], true);
}
