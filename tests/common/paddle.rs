//! Paddle events as Paddle sends them, with `custom_data` signed the way the service signs it
//! (for a real, signed-up overseer), and direct-state helpers for pools.

#![allow(dead_code)]

use serde_json::{json, Value};

use agent_id::domain::time::rfc3339_ms;
use agent_id::paddle::link;

use super::{Harness, Req, Resp, SHADOW_SECRET, T0};

pub fn link_key() -> Vec<u8> {
    link::link_key(None, SHADOW_SECRET)
}

/// `custom_data` of a subscription checkout, signed as `POST /v1/subscriptions/upgrade` does.
pub fn sub_link(overseer_id: &str, tier: &str, price_id: &str) -> Value {
    let nonce = "wMHCw8TFxsfIycrLzM3Ozw";
    json!({"overseer_id": overseer_id, "tier": tier, "price_id": price_id, "nonce": nonce,
           "link_sig": link::subscription_sig(&link_key(), overseer_id, price_id, nonce)})
}

/// RFC 3339 text of `T0 + secs` (microsecond field, as Paddle sends it).
pub fn at(secs: i64) -> String {
    rfc3339_ms((T0 + secs) * 1000)
}

/// A subscription entity; `status` and the single price decide most behaviour.
pub fn sub(id: &str, status: &str, price: &str, custom: Option<Value>) -> Value {
    json!({
        "id": id, "status": status, "customer_id": "ctm_01test000000000000000001",
        "items": [{"price": {"id": price}, "quantity": 1}],
        "current_billing_period": {"starts_at": at(0), "ends_at": at(31 * 86_400)},
        "next_billed_at": if status == "canceled" { Value::Null } else { json!(at(31 * 86_400)) },
        "scheduled_change": null,
        "paused_at": if status == "paused" { json!(at(1)) } else { Value::Null },
        "canceled_at": if status == "canceled" { json!(at(1)) } else { Value::Null },
        "custom_data": custom,
    })
}

/// An envelope; `occurred` is seconds after T0.
pub fn envelope(event_id: &str, event_type: &str, occurred: i64, data: Value) -> String {
    json!({"event_id": event_id, "event_type": event_type, "occurred_at": at(occurred),
           "notification_id": format!("ntf_{event_id}"), "data": data})
    .to_string()
}

/// The overseer's Paddle customer id as `GET /v1/overseers/me` shows it.
pub fn customer_id(h: &Harness, session: &str) -> Value {
    let r = h.send(Req::get("/v1/overseers/me").bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["overseer"]["paddle_customer_id"].clone()
}

/// The overseer's subscription as `GET /v1/subscriptions/me` shows it.
pub fn subscription(h: &Harness, session: &str) -> Value {
    let r = h.send(Req::get("/v1/subscriptions/me").bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["subscription"].clone()
}

#[track_caller]
pub fn assert_processed(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "received": true}),
        "{}",
        r.body
    );
}

#[track_caller]
pub fn assert_ignored(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "received": true, "ignored": true})
    );
}

#[track_caller]
pub fn assert_duplicate(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "received": true, "duplicate": true})
    );
}

/// Subscribes `overseer_id` to `tier` through a signed activation webhook.
pub fn subscribe(h: &Harness, overseer_id: &str, sub_id: &str, tier: &str, price: &str) {
    let body = envelope(
        &format!("evt_act_{sub_id}"),
        "subscription.activated",
        0,
        sub(
            sub_id,
            "active",
            price,
            Some(sub_link(overseer_id, tier, price)),
        ),
    );
    assert_processed(&h.webhook(&body));
}

/// Writes an OAuth client owned by `owner_type`/`owner_id`, created `age_rank` ms after T0.
/// Only for states the API never creates (a pool over its limit, rows for the retention
/// tests); everything else registers through `oauth::Client::register`.
pub fn client(h: &Harness, owner_type: &str, owner_id: &str, age_rank: i64) -> String {
    let id = uuid();
    h.sql(
        "INSERT INTO oauth_clients (id, owner_type, owner_id, name, redirect_uris, public_key, \
         key_thumbprint, created_at, updated_at) VALUES (?1, ?2, ?3, 'C', '[]', 'k', 't', ?4, ?4)",
        vec![
            id.as_str().into(),
            owner_type.into(),
            owner_id.into(),
            (T0 * 1000 + age_rank).into(),
        ],
    );
    id
}

pub fn uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    agent_id::domain::ids::format_uuid(&b)
}

/// `(disabled, disabled_reason)` of a client.
pub fn client_state(h: &Harness, id: &str) -> (i64, Option<String>) {
    let rows = h
        .sql(
            "SELECT disabled, disabled_reason FROM oauth_clients WHERE id = ?1",
            vec![id.into()],
        )
        .rows;
    (
        rows[0]["disabled"].as_i64().unwrap(),
        rows[0]["disabled_reason"].as_str().map(str::to_owned),
    )
}

/// `(disabled, disabled_reason)` of client `id` as its owner sees it in
/// `GET /v1/clients/list/{owner_type}` through `session`.
pub fn listed_client_state(
    h: &Harness,
    owner_type: &str,
    session: &str,
    id: &str,
) -> (i64, Option<String>) {
    let r = h.send(Req::get(&format!("/v1/clients/list/{owner_type}")).bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed: {}", r.body));
    (
        i64::from(c["disabled"].as_bool().unwrap()),
        c["disabled_reason"].as_str().map(str::to_owned),
    )
}

/// `(active, deactivated_reason)` of the oversight of `agent_id` by `overseer_id`.
pub fn oversight(h: &Harness, overseer_id: &str, agent_id: &str) -> (i64, Option<String>) {
    let rows = h
        .sql(
            "SELECT active, deactivated_reason FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2",
            vec![overseer_id.into(), agent_id.into()],
        )
        .rows;
    (
        rows[0]["active"].as_i64().unwrap(),
        rows[0]["deactivated_reason"].as_str().map(str::to_owned),
    )
}

/// How many `kind` events the overseer sees in its activity trail (`GET /v1/overseers/me/audit`).
pub fn overseer_audit_count(h: &Harness, session: &str, kind: &str) -> i64 {
    let r =
        h.send(Req::get(&format!("/v1/overseers/me/audit?type={kind}&limit=100")).bearer(session));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["events"].as_array().unwrap().len() as i64
}

/// Every `kind` audit row, whoever it concerns (for events no endpoint shows: a shadow
/// overseer's, an agent's, or ones tied to no overseer at all).
pub fn audit_count(h: &Harness, kind: &str) -> i64 {
    h.sql(
        "SELECT COUNT(*) AS n FROM audit_events WHERE type = ?1",
        vec![kind.into()],
    )
    .rows[0]["n"]
        .as_i64()
        .unwrap()
}

/// A whole table as JSON rows (for "nothing changed" comparisons).
pub fn snapshot(h: &Harness, table: &'static str) -> Vec<Value> {
    h.sql(table, vec![])
        .rows
        .into_iter()
        .map(Value::Object)
        .collect()
}
