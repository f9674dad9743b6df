"""Set-up for the OAuth interoperability tests, through the public API only (api.md 2.12).

A client can only be registered in a pool with room (api.md 5.8), so the set-up is:

1. sign up a human overseer (``POST /v1/overseers/register``);
2. put it on a paid tier with a correctly signed Paddle webhook (``POST /v1/webhooks/paddle``,
   api.md §7): a ``subscription.activated`` event whose ``custom_data`` carries the server's
   ``link_sig`` (api.md 7.3), signed with the development ``PADDLE_WEBHOOK_SECRET`` from the
   dev-vars file named by ``AGENT_ID_ENV_FILE``;
3. register an overseer-owned OAuth client (``POST /v1/clients/register/overseer``) with the
   Ed25519 public key whose private key the client library holds.

Agents come from ``agent_client.AgentClient`` (registration gives an agent session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import requests

from agent_client import describe

ENV_FILE_VAR = "AGENT_ID_ENV_FILE"
REDIRECT_URI = "http://127.0.0.1:8790/callback"
PAID_TIER = "PRO"  # unlimited clients per pool (api.md §6)


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_dev_vars(path: Optional[str] = None) -> dict:
    """Parse the KEY="value" lines of the dev-vars file (``.dev.vars.example``)."""
    if path is None:
        path = os.environ.get(ENV_FILE_VAR)
        if not path:
            default = Path(__file__).resolve().parent.parent / ".dev.vars.example"
            path = str(default)
    values = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def link_key(dev_vars: dict) -> bytes:
    """api.md 7.3: WEBHOOK_LINK_SECRET, else HMAC-SHA256(SHADOW_SECRET, "agent-id/webhook-link/v1")."""
    if dev_vars.get("WEBHOOK_LINK_SECRET"):
        return dev_vars["WEBHOOK_LINK_SECRET"].encode()
    return hmac.new(dev_vars["SHADOW_SECRET"].encode(), b"agent-id/webhook-link/v1", hashlib.sha256).digest()


def paddle_time(epoch: float) -> str:
    """Paddle's timestamp format: RFC 3339 with microseconds and Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int((epoch % 1) * 1e6):06d}Z"


def subscription_webhook(dev_vars: dict, overseer_id: str, tier: str = PAID_TIER) -> tuple[bytes, str]:
    """A signed ``subscription.activated`` event for ``overseer_id``: (raw body, Paddle-Signature)."""
    price_id = dev_vars[f"PADDLE_PRICE_ID_{tier}"]
    nonce = b64e(secrets.token_bytes(16))
    message = f"sub|{overseer_id}|{price_id}|{nonce}".encode()
    link_sig = b64e(hmac.new(link_key(dev_vars), message, hashlib.sha256).digest())
    now = time.time()
    suffix = uuid.uuid4().hex
    event = {
        "event_id": f"evt_e2e{suffix}",
        "event_type": "subscription.activated",
        "occurred_at": paddle_time(now),
        "notification_id": f"ntf_e2e{suffix}",
        "data": {
            "id": f"sub_e2e{suffix}",
            "status": "active",
            "customer_id": f"ctm_e2e{suffix}",
            "items": [{"price": {"id": price_id}, "quantity": 1}],
            "current_billing_period": {
                "starts_at": paddle_time(now - 86400),
                "ends_at": paddle_time(now + 29 * 86400),
            },
            "next_billed_at": paddle_time(now + 29 * 86400),
            "scheduled_change": None,
            "custom_data": {"overseer_id": overseer_id, "tier": tier, "price_id": price_id,
                            "nonce": nonce, "link_sig": link_sig},
        },
    }
    body = json.dumps(event, separators=(",", ":")).encode()
    ts = str(int(now))
    h1 = hmac.new(dev_vars["PADDLE_WEBHOOK_SECRET"].encode(), ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return body, f"ts={ts};h1={h1}"


class SetupError(AssertionError):
    """The public-API set-up failed (the message says which step and shows the exchange)."""


@dataclass
class PaidOverseer:
    base_url: str
    overseer_id: str
    session_id: str

    def bearer(self) -> dict:
        return {"Authorization": f"Bearer {self.session_id}"}

    def register_client(self, http: requests.Session, public_key: str, *, name: str = "e2e interop client",
                        redirect_uris: Optional[list] = None, scope: Optional[str] = None,
                        dpop_bound: bool = True) -> dict:
        """``POST /v1/clients/register/overseer``; returns the Client object (api.md 1.9)."""
        body = {
            "name": name,
            "redirect_uris": redirect_uris or [REDIRECT_URI],
            "public_key": public_key,
            "token_endpoint_auth_method": "private_key_jwt",
            "application_type": "web",
            "dpop_bound_access_tokens": dpop_bound,
        }
        if scope is not None:
            body["scope"] = scope
        resp = http.post(self.base_url + "/v1/clients/register/overseer", json=body, headers=self.bearer())
        if resp.status_code != 201:
            raise SetupError("client registration failed (api.md 2.8)\n" + describe(resp))
        client = resp.json()["client"]
        if client.get("public_key") != public_key:
            raise SetupError(f"registered client has another public_key: {client!r}")
        return client


def paid_overseer(http: requests.Session, base_url: str, dev_vars: Optional[dict] = None,
                  tier: str = PAID_TIER) -> PaidOverseer:
    """Sign up an overseer and activate a paid subscription for it with a signed webhook."""
    dev_vars = dev_vars or load_dev_vars()
    email = f"e2e-oauth-{uuid.uuid4().hex[:12]}@example.test"
    resp = http.post(base_url + "/v1/overseers/register",
                     json={"name": "E2E OAuth Overseer", "email": email, "password": "correct horse battery"})
    if resp.status_code != 201:
        raise SetupError("overseer sign-up failed (api.md 2.6)\n" + describe(resp))
    signed_up = resp.json()
    overseer = PaidOverseer(base_url, signed_up["overseer"]["id"], signed_up["session_id"])

    body, signature = subscription_webhook(dev_vars, overseer.overseer_id, tier)
    resp = http.post(base_url + "/v1/webhooks/paddle", data=body,
                     headers={"Content-Type": "application/json", "Paddle-Signature": signature})
    if resp.status_code != 200:
        raise SetupError("signed subscription.activated webhook was not accepted (api.md 2.10, §7)\n"
                         + describe(resp))
    answer = resp.json()
    if answer.get("ignored") or answer.get("duplicate") or answer.get("received") is not True:
        raise SetupError("signed subscription.activated webhook was not applied "
                         "(expected {success, received} without ignored/duplicate)\n" + describe(resp))

    resp = http.get(base_url + "/v1/subscriptions/me", headers=overseer.bearer())
    if resp.status_code != 200:
        raise SetupError("GET /v1/subscriptions/me failed\n" + describe(resp))
    sub = resp.json().get("subscription") or {}
    if sub.get("tier") != tier or sub.get("is_active") is not True:
        raise SetupError(f"after the webhook the overseer is not on an active {tier} subscription: {sub!r}\n"
                         + describe(resp))
    return overseer
