//! Issue 12 items 5 and 6 through the App's HTTP surface: `POST /v1/subscriptions/portal` opens
//! a Paddle customer-portal session for the overseer's own customer only (through the recording
//! fake of Paddle's API), and Paddle's payment-failure webhooks set and clear the subscription's
//! `payment_problem` in `occurred_at` order, idempotently, without ever enforcing on their own.

mod common;

use serde_json::{json, Value};

use agent_id::paddle::api::PaddleApiError;

use common::paddle::*;
use common::*;

const PORTAL: &str = "/v1/subscriptions/portal";

fn portal(h: &Harness, session: &str) -> Resp {
    h.send(Req::post(PORTAL).bearer(session))
}

fn portal_calls(h: &Harness) -> Vec<(String, Vec<String>)> {
    h.paddle
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            PaddleCall::PortalSession {
                customer_id,
                subscription_ids,
            } => Some((customer_id, subscription_ids)),
            _ => None,
        })
        .collect()
}

/// A transaction entity as Paddle sends it with `transaction.*` events.
fn txn(id: &str, subscription_id: Option<&str>, status: &str) -> Value {
    json!({
        "id": id, "status": status, "customer_id": "ctm_01test000000000000000001",
        "subscription_id": subscription_id,
        "items": [{"price": {"id": PRICE_BASIC}, "quantity": 1}],
        "custom_data": null,
    })
}

fn payment_event(event_id: &str, event_type: &str, occurred: i64, sub_id: &str) -> String {
    let status = match event_type {
        "transaction.completed" => "completed",
        "transaction.past_due" => "past_due",
        _ => "ready",
    };
    envelope(
        event_id,
        event_type,
        occurred,
        txn(&format!("txn_{event_id}"), Some(sub_id), status),
    )
}

/// The subscription's `payment_problem` as `GET /v1/subscriptions/me` shows it.
fn problem(h: &Harness, session: &str) -> Value {
    subscription(h, session)["payment_problem"].clone()
}

// --- the portal --------------------------------------------------------------------------

#[test]
fn the_portal_opens_for_the_overseers_own_customer_with_its_subscriptions_links() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    // The subscription's webhook stores its customer as the overseer's (no sign-up call ran).
    subscribe(&h, &o.id, "sub_own", "BASIC", PRICE_BASIC);
    let customer = customer_id(&h, &o.session);
    assert_eq!(customer, "ctm_01test000000000000000001");

    let r = portal(&h, &o.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let url = r.body["url"].as_str().unwrap();
    assert!(url.starts_with("https://customer-portal.paddle.com/cpl_ctm_01test"));
    assert_eq!(r.body["subscriptions"][0]["id"], "sub_own");
    assert!(r.body["subscriptions"][0]["cancel_url"]
        .as_str()
        .unwrap()
        .contains("action=cancel"));
    assert!(r.body["subscriptions"][0]["update_payment_method_url"]
        .as_str()
        .unwrap()
        .contains("action=update"));
    assert_eq!(
        r.headers.get("cache-control").unwrap(),
        "no-store",
        "a portal link signs the customer in: never cached"
    );
    assert_eq!(
        portal_calls(&h),
        vec![(
            customer.as_str().unwrap().to_owned(),
            vec!["sub_own".into()]
        )]
    );
}

#[test]
fn only_the_sessions_own_customer_is_asked_for_whatever_the_body_says() {
    let h = Harness::new();
    let mine = h.overseer("mine@example.test");
    let other = h.overseer("other@example.test");
    h.drain(); // both sign-ups create their Paddle customers
    let (my_customer, other_customer) = (
        customer_id(&h, &mine.session),
        customer_id(&h, &other.session),
    );
    assert_ne!(my_customer, other_customer);
    subscribe(&h, &other.id, "sub_other", "PRO", PRICE_PRO);
    h.paddle.calls.borrow_mut().clear();

    let r = h.send(Req::post(PORTAL).bearer(&mine.session).json(json!({
        "customer_id": other_customer, "subscription_ids": ["sub_other"]})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subscriptions"], json!([]));
    assert_eq!(
        portal_calls(&h),
        vec![(my_customer.as_str().unwrap().to_owned(), vec![])]
    );

    // A subscription of another Paddle customer than the overseer's gets no deep links.
    let r = portal(&h, &other.session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        portal_calls(&h)[1],
        (other_customer.as_str().unwrap().to_owned(), vec![])
    );
}

#[test]
fn without_a_paddle_customer_there_is_no_portal_and_paddle_is_not_called() {
    let h = Harness::new();
    let o = h.overseer("o@example.test"); // its customer creation never ran (not drained)
    assert_eq!(customer_id(&h, &o.session), Value::Null);
    portal(&h, &o.session).assert_error(400, "no_billing_customer");
    assert!(portal_calls(&h).is_empty());
}

#[test]
fn paddle_failures_answer_502_or_503_with_a_code() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_f", "BASIC", PRICE_BASIC);

    h.paddle.failing.set(true);
    portal(&h, &o.session).assert_error(503, "paddle_unavailable");
    h.paddle.failing.set(false);
    for failure in [
        PaddleApiError::Status(404),
        PaddleApiError::Status(500),
        PaddleApiError::Response("no data.urls".into()),
    ] {
        *h.paddle.portal_failure.borrow_mut() = Some(failure);
        portal(&h, &o.session).assert_error(502, "paddle_error");
    }
    *h.paddle.portal_failure.borrow_mut() = None;
    assert_eq!(portal(&h, &o.session).status, 200);
}

#[test]
fn the_portal_needs_a_session_and_a_configured_api_key() {
    let h = Harness::new();
    let r = h.send(Req::post(PORTAL));
    r.assert_error(401, "authentication_required");

    let h = Harness::with_vars(&[("PADDLE_API_KEY", "")]);
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_k", "BASIC", PRICE_BASIC);
    portal(&h, &o.session).assert_error(503, "configuration_error");
    assert!(portal_calls(&h).is_empty());
}

#[test]
fn a_malformed_stored_customer_id_never_reaches_paddles_url() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    h.sql(
        "UPDATE overseers SET paddle_customer_id = 'ctm_x/../../subscriptions' WHERE id = ?1",
        vec![o.id.as_str().into()],
    );
    portal(&h, &o.session).assert_error(500, "internal_error");
    assert!(portal_calls(&h).is_empty());
}

// --- payment failures --------------------------------------------------------------------

#[test]
fn a_failed_payment_shows_until_a_completed_transaction_ends_it() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_p", "BASIC", PRICE_BASIC);
    assert_eq!(problem(&h, &o.session), Value::Null, "absent");

    assert_processed(&h.webhook(&payment_event(
        "evt_f1",
        "transaction.payment_failed",
        10,
        "sub_p",
    )));
    let want = json!({"kind": "payment_failed", "since": at(10)});
    assert_eq!(problem(&h, &o.session), want);
    let me = h.send(Req::get("/v1/overseers/me").bearer(&o.session));
    assert_eq!(me.body["overseer"]["subscription"]["payment_problem"], want);
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.payment_problem"),
        1
    );

    // Paddle's dunning marks it past due: the kind escalates, the start stays.
    assert_processed(&h.webhook(&payment_event(
        "evt_pd",
        "transaction.past_due",
        20,
        "sub_p",
    )));
    assert_eq!(
        problem(&h, &o.session),
        json!({"kind": "past_due", "since": at(10)})
    );
    // A further failed retry does not turn past_due back into payment_failed.
    assert_processed(&h.webhook(&payment_event(
        "evt_f2",
        "transaction.payment_failed",
        30,
        "sub_p",
    )));
    assert_eq!(problem(&h, &o.session)["kind"], "past_due");

    // The payment went through: the transaction is answered as api.md 7.4 says (ignored, no
    // effect) and the subscription's return to `active` ends the problem.
    assert_ignored(&h.webhook(&payment_event(
        "evt_ok",
        "transaction.completed",
        40,
        "sub_p",
    )));
    assert_eq!(problem(&h, &o.session)["kind"], "past_due");
    assert_processed(&h.webhook(&envelope(
        "evt_back",
        "subscription.updated",
        41,
        sub("sub_p", "active", PRICE_BASIC, None),
    )));
    assert_eq!(problem(&h, &o.session), Value::Null, "absent");
}

#[test]
fn subscription_past_due_sets_it_and_back_to_active_clears_it() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_s", "BASIC", PRICE_BASIC);
    assert_processed(&h.webhook(&envelope(
        "evt_spd",
        "subscription.past_due",
        10,
        sub("sub_s", "past_due", PRICE_BASIC, None),
    )));
    assert_eq!(
        problem(&h, &o.session),
        json!({"kind": "past_due", "since": at(10)})
    );
    assert_processed(&h.webhook(&envelope(
        "evt_sup",
        "subscription.updated",
        20,
        sub("sub_s", "active", PRICE_BASIC, None),
    )));
    assert_eq!(problem(&h, &o.session), Value::Null, "absent");
}

#[test]
fn payment_events_apply_in_occurred_at_order_whatever_the_delivery_order() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_o", "BASIC", PRICE_BASIC);

    // The subscription is active at 20; the failure at 10 arrives late: no problem.
    assert_processed(&h.webhook(&envelope(
        "evt_c20",
        "subscription.updated",
        20,
        sub("sub_o", "active", PRICE_BASIC, None),
    )));
    assert_processed(&h.webhook(&payment_event(
        "evt_f10",
        "transaction.payment_failed",
        10,
        "sub_o",
    )));
    assert_eq!(problem(&h, &o.session), Value::Null, "absent");
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.payment_problem"),
        0,
        "a stale failure is not audited"
    );

    // A failure at 30, then an `active` subscription event from 25 delivered late: still failing.
    assert_processed(&h.webhook(&payment_event(
        "evt_f30",
        "transaction.payment_failed",
        30,
        "sub_o",
    )));
    assert_processed(&h.webhook(&envelope(
        "evt_u25",
        "subscription.updated",
        25,
        sub("sub_o", "active", PRICE_BASIC, None),
    )));
    assert_eq!(
        problem(&h, &o.session),
        json!({"kind": "payment_failed", "since": at(30)})
    );

    // And the reverse delivery of a past_due at 40 and its recovery at 50 ends recovered.
    assert_processed(&h.webhook(&envelope(
        "evt_a50",
        "subscription.updated",
        50,
        sub("sub_o", "active", PRICE_BASIC, None),
    )));
    assert_ignored(&h.webhook(&envelope(
        "evt_pd40",
        "subscription.past_due",
        40,
        sub("sub_o", "past_due", PRICE_BASIC, None),
    )));
    assert_eq!(problem(&h, &o.session), Value::Null, "absent");
}

#[test]
fn a_redelivered_failure_is_a_duplicate_with_one_audit_row() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_d", "BASIC", PRICE_BASIC);
    let body = payment_event("evt_dup", "transaction.payment_failed", 10, "sub_d");
    assert_processed(&h.webhook(&body));
    assert_duplicate(&h.webhook(&body));
    assert_eq!(
        overseer_audit_count(&h, &o.session, "subscription.payment_problem"),
        1
    );
}

#[test]
fn failures_of_unknown_subscriptions_or_one_time_payments_are_ignored() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_k", "BASIC", PRICE_BASIC);
    let before = snapshot(&h, "SELECT * FROM subscriptions");
    assert_ignored(&h.webhook(&payment_event(
        "evt_u1",
        "transaction.payment_failed",
        10,
        "sub_unknown",
    )));
    assert_ignored(&h.webhook(&envelope(
        "evt_u2",
        "transaction.payment_failed",
        10,
        txn("txn_once", None, "ready"),
    )));
    assert_ignored(&h.webhook(&envelope(
        "evt_u3",
        "transaction.past_due",
        10,
        json!({"id": "txn_bad", "subscription_id": 7}),
    )));
    // A completed one-time payment is still the shadow-claim handler's (ignored: not one).
    assert_ignored(&h.webhook(&envelope(
        "evt_u4",
        "transaction.completed",
        10,
        txn("txn_once2", None, "completed"),
    )));
    assert_eq!(snapshot(&h, "SELECT * FROM subscriptions"), before);
    assert_eq!(audit_count(&h, "subscription.payment_problem"), 0);
}

/// The dunning rule: agent-id never enforces during `past_due`; the tier, the agents and the
/// clients stay until Paddle's dunning cancels (or pauses) the subscription, and then the
/// existing cancellation enforcement applies and the problem is over.
#[test]
fn past_due_keeps_the_tier_until_paddles_dunning_cancels_the_subscription() {
    let h = Harness::new();
    let (o, a) = h.overseer_with_agent("PRO");
    let sub_id = format!("sub_{}", &o.id[..8]);
    assert_processed(&h.webhook(&payment_event(
        "evt_df",
        "transaction.payment_failed",
        10,
        &sub_id,
    )));
    assert_processed(&h.webhook(&envelope(
        "evt_dpd",
        "subscription.past_due",
        11,
        sub(&sub_id, "past_due", PRICE_PRO, None),
    )));
    // Weeks of retries later (past the billing period's end), still past due, the cron job
    // run: nothing enforced.
    h.clock.advance_secs(40 * 86_400);
    futures::executor::block_on(agent_id::scheduled::run(
        &h.app.services,
        h.app.config.as_ref(),
        h.clock_ms(),
    ))
    .unwrap();
    let login = h.send(
        Req::post("/v1/overseers/login")
            .json(json!({"email": "o@example.test", "password": "correct horse"})),
    );
    let session = login.body["session_id"].as_str().unwrap().to_owned();
    let s = subscription(&h, &session);
    assert_eq!(
        (
            s["tier"].as_str(),
            s["status"].as_str(),
            s["is_active"].as_bool()
        ),
        (Some("PRO"), Some("past_due"), Some(true))
    );
    assert_eq!(s["payment_problem"]["kind"], "past_due");
    assert_eq!(oversight(&h, &o.id, &a.id), (1, None));

    // Paddle's dunning gives up and cancels: the existing cancellation enforcement applies.
    assert_processed(&h.webhook(&envelope(
        "evt_dc",
        "subscription.canceled",
        30 * 86_400,
        sub(&sub_id, "canceled", PRICE_PRO, None),
    )));
    assert_eq!(
        oversight(&h, &o.id, &a.id),
        (0, Some("subscription_canceled".into()))
    );
    let s = subscription(&h, &session);
    assert_eq!(
        (s["tier"].as_str(), s["payment_problem"].clone()),
        (Some("FREE"), Value::Null)
    );
}

#[test]
fn an_oversized_body_or_a_cross_site_cookie_request_never_reaches_paddle() {
    let h = Harness::new();
    let o = h.overseer("o@example.test");
    subscribe(&h, &o.id, "sub_b", "BASIC", PRICE_BASIC);
    let big = vec![b' '; 70_000];
    h.send(
        Req::post(PORTAL)
            .bearer(&o.session)
            .raw("application/json", big),
    )
    .assert_error(413, "payload_too_large");

    let login = h.send(
        Req::post("/v1/overseers/login")
            .json(json!({"email": "o@example.test", "password": "correct horse"})),
    );
    let cookie = login.header("set-cookie").expect("Set-Cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    h.send(
        Req::post(PORTAL)
            .header("cookie", &cookie)
            .header("origin", "https://evil.example"),
    )
    .assert_error(403, "csrf_check_failed");
    assert!(portal_calls(&h).is_empty());
    // The same cookie from the app's own origin opens it.
    let r = h.send(
        Req::post(PORTAL)
            .header("cookie", &cookie)
            .header("origin", ISSUER),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
