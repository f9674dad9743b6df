"""The Paddle customer portal and payment failures against the real wasm (issue 12 items 5, 6).

The Worker's Paddle API is the loopback recording server ``e2e/paddle_recorder.mjs``
(``PADDLE_RECORDER_URL``, started by scripts/test.sh): it answers like Paddle and records every
call, so these tests check what the Worker really asked Paddle for. Webhooks are signed as Paddle
signs them (see test_paddle_webhooks.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time

import pytest

from conftest import BoundedSession
from helpers import assert_error, assert_ok
from test_paddle_webhooks import activated, post_webhook, rfc3339, server_vars, sign_up

WAIT_SECS = 10.0


@pytest.fixture
def recorder():
    url = os.environ.get("PADDLE_RECORDER_URL")
    if not url:
        pytest.fail("PADDLE_RECORDER_URL is not set (run the suite through scripts/test.sh)", pytrace=False)
    assert url.startswith("http://127.0.0.1:"), url
    with BoundedSession(url) as session:
        yield session


def recorded(recorder) -> list[dict]:
    return assert_ok_plain(recorder.get(f"{recorder.base_url}/__recorder/calls"))


def assert_ok_plain(r):
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(what, probe):
    """Polls ``probe`` until it returns something truthy (deferred work runs after the answer)."""
    deadline = time.monotonic() + WAIT_SECS
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def me(http, base_url, session):
    return assert_ok(http.get(f"{base_url}/v1/overseers/me", headers={"Authorization": f"Bearer {session}"}))


def customer_of(http, base_url, overseer) -> str:
    return wait_for("the sign-up's Paddle customer",
                    lambda: me(http, base_url, overseer["session"])["overseer"]["paddle_customer_id"])


def portal(http, base_url, session, **kwargs):
    return http.post(f"{base_url}/v1/subscriptions/portal", headers={"Authorization": f"Bearer {session}"},
                     **kwargs)


def subscribe(http, base_url, overseer, tier="BASIC") -> str:
    auth = {"Authorization": f"Bearer {overseer['session']}"}
    checkout = assert_ok(http.post(f"{base_url}/v1/subscriptions/upgrade", json={"target_tier": tier}, headers=auth))
    sub_id = f"sub_e2e_{secrets.token_hex(8)}"
    body = activated(sub_id, checkout["price_id"], checkout["custom_data"])
    assert assert_ok(post_webhook(http, base_url, server_vars()["PADDLE_WEBHOOK_SECRET"], body))["received"] is True
    return sub_id


def transaction_event(event_type: str, sub_id: str, status: str) -> bytes:
    body = {
        "event_id": f"evt_e2e_{secrets.token_hex(8)}", "event_type": event_type,
        "occurred_at": rfc3339(dt.datetime.now(dt.timezone.utc)),
        "notification_id": f"ntf_e2e_{secrets.token_hex(8)}",
        "data": {"id": f"txn_e2e_{secrets.token_hex(8)}", "status": status, "customer_id": "ctm_e2e",
                 "subscription_id": sub_id, "items": [{"price": {"id": "pri_any"}, "quantity": 1}],
                 "custom_data": None},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def test_sign_up_creates_the_customer_and_the_portal_opens_for_it_only(http, base_url, recorder):
    mine = sign_up(http, base_url)
    other = sign_up(http, base_url)
    my_customer = customer_of(http, base_url, mine)
    other_customer = customer_of(http, base_url, other)
    assert my_customer != other_customer
    created = [c for c in recorded(recorder) if c["path"] == "/customers"
               and c["body"]["custom_data"]["overseer_id"] == mine["id"]]
    assert len(created) == 1 and created[0]["authorized"] is True

    # A customer id in the body is ignored: the portal is the session's own customer's.
    r = portal(http, base_url, mine["session"], json={"customer_id": other_customer})
    body = assert_ok(r)
    assert r.headers["Cache-Control"] == "no-store"
    assert body["url"].startswith(f"{recorder.base_url}/portal/cpls_")
    assert body["subscriptions"] == []
    asked = [c for c in recorded(recorder) if c["path"].endswith("/portal-sessions")]
    assert asked[-1]["path"] == f"/customers/{my_customer}/portal-sessions"
    assert asked[-1]["authorized"] is True
    assert not any(c["path"] == f"/customers/{other_customer}/portal-sessions" for c in asked)

    # The link opens the (recorded) portal page.
    page = BoundedSession(recorder.base_url).get(body["url"])
    assert page.status_code == 200 and "Paddle customer portal" in page.text


def test_without_a_customer_or_with_paddle_failing_the_answer_says_why(http, base_url, recorder):
    # Paddle refuses the sign-up's customer creation: no customer, so no portal.
    assert_ok_plain(recorder.post(f"{recorder.base_url}/__recorder/fail", json={"status": 500, "count": 1}))
    lonely = sign_up(http, base_url)
    wait_for("the failed customer creation",
             lambda: any(c["path"] == "/customers" and c["body"]["custom_data"]["overseer_id"] == lonely["id"]
                         for c in recorded(recorder)))
    time.sleep(0.3)
    assert me(http, base_url, lonely["session"])["overseer"]["paddle_customer_id"] is None
    assert_error(portal(http, base_url, lonely["session"]), 400, "no_billing_customer")

    # Paddle answers the portal call with an error: 502 paddle_error.
    overseer = sign_up(http, base_url)
    customer_of(http, base_url, overseer)
    assert_ok_plain(recorder.post(f"{recorder.base_url}/__recorder/fail", json={"status": 500, "count": 1}))
    assert_error(portal(http, base_url, overseer["session"]), 502, "paddle_error")
    assert_ok(portal(http, base_url, overseer["session"]))
    assert_error(http.post(f"{base_url}/v1/subscriptions/portal"), 401, "authentication_required")


def test_cancellation_reaches_the_recorded_paddle_api(http, base_url, recorder):
    overseer = sign_up(http, base_url)
    sub_id = subscribe(http, base_url, overseer)
    auth = {"Authorization": f"Bearer {overseer['session']}"}
    assert_ok(http.post(f"{base_url}/v1/subscriptions/cancel", headers=auth))
    wait_for("the cancellation call",
             lambda: any(c["path"] == f"/subscriptions/{sub_id}/cancel" and c["authorized"]
                         and c["body"] == {"effective_from": "next_billing_period"} for c in recorded(recorder)))


def test_a_failed_payment_shows_until_the_payment_completes(http, base_url):
    secret = server_vars()["PADDLE_WEBHOOK_SECRET"]
    overseer = sign_up(http, base_url)
    sub_id = subscribe(http, base_url, overseer)
    auth = {"Authorization": f"Bearer {overseer['session']}"}
    sub = assert_ok(http.get(f"{base_url}/v1/subscriptions/me", headers=auth))["subscription"]
    assert "payment_problem" not in sub

    failed = post_webhook(http, base_url, secret, transaction_event("transaction.payment_failed", sub_id, "ready"))
    assert assert_ok(failed) == {"success": True, "received": True}
    sub = assert_ok(http.get(f"{base_url}/v1/subscriptions/me", headers=auth))["subscription"]
    assert sub["payment_problem"]["kind"] == "payment_failed"
    assert (sub["tier"], sub["is_active"]) == ("BASIC", True), "no enforcement on a failed payment"
    assert me(http, base_url, overseer["session"])["overseer"]["subscription"]["payment_problem"] == sub["payment_problem"]

    time.sleep(0.01)  # a strictly later occurred_at
    # The payment went through: the transaction stays ignored (the v1 answer), and Paddle's
    # subscription.updated back to `active` ends the problem.
    paid = post_webhook(http, base_url, secret, transaction_event("transaction.completed", sub_id, "completed"))
    assert assert_ok(paid) == {"success": True, "received": True, "ignored": True}
    assert "payment_problem" in assert_ok(http.get(f"{base_url}/v1/subscriptions/me", headers=auth))["subscription"]
    time.sleep(0.01)
    back = json.loads(activated(sub_id, server_vars()["PADDLE_PRICE_ID_BASIC"], None))
    back["event_type"] = "subscription.updated"
    updated = post_webhook(http, base_url, secret, json.dumps(back, separators=(",", ":")).encode())
    assert assert_ok(updated) == {"success": True, "received": True}
    sub = assert_ok(http.get(f"{base_url}/v1/subscriptions/me", headers=auth))["subscription"]
    assert "payment_problem" not in sub
