"""Paddle webhooks against the real wasm (api.md 7, security.md §12).

Webhooks are signed here exactly as Paddle signs them (``ts ":" raw_body``, HMAC-SHA256 with the
notification secret of the server's dev-vars file). Paddle's official Python SDK (``Verifier``)
cross-checks the scheme: a signature it accepts must be accepted by the service and vice versa.
The subscription is linked through the server-signed ``custom_data`` that
``POST /v1/subscriptions/upgrade`` hands to the checkout, for a real signed-up overseer.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from types import SimpleNamespace

import pytest
from paddle_billing.Notifications import Secret, Verifier

from helpers import assert_error, assert_ok

VECTOR_BODY = (
    '{"event_id":"evt_01test000000000000000001","event_type":"subscription.activated",'
    '"occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test000000000000000001",'
    '"data":{"id":"sub_01test000000000000000001","status":"active",'
    '"customer_id":"ctm_01test000000000000000001","items":[{"price":{"id":"pri_01basic000000000000000000"},'
    '"quantity":1}],"current_billing_period":{"starts_at":"2026-01-01T00:00:00.000000Z",'
    '"ends_at":"2026-02-01T00:00:00.000000Z"},"next_billed_at":"2026-02-01T00:00:00.000000Z",'
    '"scheduled_change":null,"custom_data":{"overseer_id":"a4b3c2d1-e5f6-4789-8abc-def012345678",'
    '"tier":"BASIC","price_id":"pri_01basic000000000000000000","nonce":"wMHCw8TFxsfIycrLzM3Ozw",'
    '"link_sig":"qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec"}}}'
)
VECTOR_HEADER = "ts=1767225600;h1=6185794460aa63620a0e81ee0e2546a97b5e0bef06cb97f5dde420393e2907d7"
VECTOR_SECRET = "pdl_ntfset_01test_secret_for_vectors_only"


def sign(secret: str, body: bytes, ts: int | None = None) -> str:
    """The ``Paddle-Signature`` header Paddle would send for ``body``."""
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return f"ts={ts};h1={mac}"


def sdk_accepts(secret: str, header: str, body: bytes, *, check_time: bool = True) -> bool:
    request = SimpleNamespace(headers={"Paddle-Signature": header}, body=body)
    return Verifier().verify(request, Secret(secret), verify_time_drift=check_time)


def server_vars() -> dict[str, str]:
    """Settings of the running server, from the dev-vars file it was started with."""
    path = os.environ.get("AGENT_ID_ENV_FILE")
    if not path:
        pytest.fail("AGENT_ID_ENV_FILE is not set (run the suite through scripts/test.sh)", pytrace=False)
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'^\s*([A-Z0-9_]+)\s*=\s*"?([^"\n]*)"?\s*$', line)
            if m:
                values[m.group(1)] = m.group(2)
    return values


@pytest.fixture(scope="module")
def paddle():
    v = server_vars()
    return SimpleNamespace(secret=v["PADDLE_WEBHOOK_SECRET"], price_pro=v["PADDLE_PRICE_ID_PRO"])


def rfc3339(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def activated(sub_id: str, price_id: str, custom_data: dict) -> bytes:
    now = dt.datetime.now(dt.timezone.utc)
    body = {
        "event_id": f"evt_e2e_{secrets.token_hex(8)}",
        "event_type": "subscription.activated",
        "occurred_at": rfc3339(now),
        "notification_id": f"ntf_e2e_{secrets.token_hex(8)}",
        "data": {
            "id": sub_id, "status": "active", "customer_id": "ctm_e2e",
            "items": [{"price": {"id": price_id}, "quantity": 1}],
            "current_billing_period": {"starts_at": rfc3339(now),
                                       "ends_at": rfc3339(now + dt.timedelta(days=30))},
            "next_billed_at": rfc3339(now + dt.timedelta(days=30)),
            "scheduled_change": None, "custom_data": custom_data,
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def post_webhook(http, base_url: str, secret: str, body: bytes, header: str | None = None):
    return http.post(f"{base_url}/v1/webhooks/paddle", data=body,
                     headers={"Content-Type": "application/json",
                              "Paddle-Signature": header or sign(secret, body)})


def sign_up(http, base_url: str) -> dict:
    email = f"e2e-billing-{secrets.token_hex(6)}@example.test"
    body = assert_ok(http.post(f"{base_url}/v1/overseers/register",
                               json={"name": "E2E Billing", "email": email, "password": "correct horse"}), 201)
    return {"id": body["overseer"]["id"], "session": body["session_id"]}


def subscription(http, base_url: str, session: str) -> dict:
    r = http.get(f"{base_url}/v1/subscriptions/me", headers={"Authorization": f"Bearer {session}"})
    return assert_ok(r)["subscription"]


@pytest.mark.offline
def test_sdk_verifier_accepts_our_signature_scheme():
    # vectors.md §5.12: the known-answer header verifies with the official SDK…
    assert sdk_accepts(VECTOR_SECRET, VECTOR_HEADER, VECTOR_BODY.encode(), check_time=False)
    # …our signer reproduces it byte for byte…
    assert sign(VECTOR_SECRET, VECTOR_BODY.encode(), 1767225600) == VECTOR_HEADER
    # …and the SDK rejects what the service rejects (changed body, `.` delimiter).
    assert not sdk_accepts(VECTOR_SECRET, VECTOR_HEADER, (VECTOR_BODY + " ").encode(), check_time=False)
    ts = int(time.time())
    dotted = hmac.new(VECTOR_SECRET.encode(), f"{ts}.".encode() + VECTOR_BODY.encode(), hashlib.sha256).hexdigest()
    assert not sdk_accepts(VECTOR_SECRET, f"ts={ts};h1={dotted}", VECTOR_BODY.encode())


def test_signed_activation_links_the_subscription(http, base_url, paddle):
    overseer = sign_up(http, base_url)
    auth = {"Authorization": f"Bearer {overseer['session']}"}
    checkout = assert_ok(http.post(f"{base_url}/v1/subscriptions/upgrade", json={"target_tier": "PRO"},
                                   headers=auth))
    assert checkout["price_id"] == paddle.price_pro
    assert checkout["custom_data"] == checkout["customData"]
    assert subscription(http, base_url, overseer["session"])["tier"] == "FREE"

    sub_id = f"sub_e2e_{secrets.token_hex(8)}"
    body = activated(sub_id, paddle.price_pro, checkout["custom_data"])
    header = sign(paddle.secret, body)
    assert sdk_accepts(paddle.secret, header, body), "Paddle's SDK must accept the signature we send"
    r = post_webhook(http, base_url, paddle.secret, body, header)
    assert assert_ok(r) == {"success": True, "received": True}

    sub = subscription(http, base_url, overseer["session"])
    assert (sub["id"], sub["tier"], sub["status"], sub["is_active"]) == (sub_id, "PRO", "active", True)
    assert sub["will_renew"] is True

    # The same delivery again is a duplicate; a changed byte is a signature failure.
    assert assert_ok(post_webhook(http, base_url, paddle.secret, body, header))["duplicate"] is True
    assert_error(post_webhook(http, base_url, paddle.secret, body + b" ", header), 401,
                 "invalid_webhook_signature")


def test_tampered_custom_data_is_ignored(http, base_url, paddle):
    payer = sign_up(http, base_url)
    victim = sign_up(http, base_url)
    checkout = assert_ok(http.post(f"{base_url}/v1/subscriptions/upgrade", json={"target_tier": "PRO"},
                                   headers={"Authorization": f"Bearer {payer['session']}"}))
    forged = copy.deepcopy(checkout["custom_data"])
    forged["overseer_id"] = victim["id"]
    body = activated(f"sub_e2e_{secrets.token_hex(8)}", paddle.price_pro, forged)
    r = post_webhook(http, base_url, paddle.secret, body)
    assert assert_ok(r) == {"success": True, "received": True, "ignored": True}
    for who in (payer, victim):
        assert subscription(http, base_url, who["session"])["tier"] == "FREE"


def test_missing_signature_and_bad_payload(http, base_url, paddle):
    body = b'{"event_type":"x"}'
    r = http.post(f"{base_url}/v1/webhooks/paddle", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "missing_signature")
    assert_error(post_webhook(http, base_url, paddle.secret, body), 400, "invalid_payload")
    assert_error(post_webhook(http, base_url, paddle.secret, body, "garbage"), 401, "invalid_webhook_signature")
