"""Paid claims and sponsored (shadow) claims end to end against the real wasm: the tier comes
from a Paddle webhook signed like Paddle signs it (api.md 2.4, 2.5, 5.4, 5.5, 7)."""

from __future__ import annotations

import datetime as dt
import json
import secrets

from helpers import assert_error, assert_ok
from test_paddle_webhooks import activated, post_webhook, rfc3339, server_vars, sign_up


def upgrade(http, base_url, overseer, tier):
    v = server_vars()
    auth = {"Authorization": f"Bearer {overseer['session']}"}
    checkout = assert_ok(http.post(f"{base_url}/v1/subscriptions/upgrade", json={"target_tier": tier}, headers=auth))
    body = activated(f"sub_e2e_{secrets.token_hex(8)}", checkout["price_id"], checkout["custom_data"])
    assert assert_ok(post_webhook(http, base_url, v["PADDLE_WEBHOOK_SECRET"], body)) == {"success": True, "received": True}
    return auth


def test_paid_claim_confirmed_by_dpop_then_tier_limit_then_declaim(http, base_url, new_agent):
    overseer = sign_up(http, base_url)
    auth = upgrade(http, base_url, overseer, "BASIC")
    agent = new_agent()
    started = assert_ok(http.post(f"{base_url}/v1/agents/claim/initiate", json={"agent_id": agent.agent_id}, headers=auth))
    path = f"/v1/agents/claim/complete/{started['challenge_id']}"
    done = assert_ok(http.post(base_url + path, json={"overseer_id": overseer["id"]},
                               headers={"DPoP": agent.dpop_proof("POST", path)}))
    assert done["status"] == "completed"
    status = assert_ok(http.get(f"{base_url}/v1/agents/claim/status/{started['challenge_id']}", headers=auth))
    assert status["status"] == "completed"

    usage = assert_ok(http.get(f"{base_url}/v1/subscriptions/usage", headers=auth))["usage"]
    assert (usage["agents_claimed"], usage["max_agents"]) == (1, 1)
    me = assert_ok(http.get(f"{base_url}/v1/agents/me", headers=agent.bearer()))
    assert (me["subscription"]["tier"], me["subscription"]["source"]) == ("BASIC", "overseer")

    second = new_agent()
    assert_error(http.post(f"{base_url}/v1/agents/claim/initiate", json={"agent_id": second.agent_id}, headers=auth),
                 403, "tier_limit_reached")
    assert_ok(http.post(f"{base_url}/v1/agents/declaim/{agent.agent_id}", headers=auth))
    overseer_view = assert_ok(http.get(f"{base_url}/v1/agents/me/overseer", headers=agent.bearer()))
    assert overseer_view["overseer"] is None


def transaction_completed(price_id: str, custom_data: dict) -> bytes:
    now = dt.datetime.now(dt.timezone.utc)
    body = {
        "event_id": f"evt_e2e_{secrets.token_hex(8)}", "event_type": "transaction.completed",
        "occurred_at": rfc3339(now), "notification_id": f"ntf_e2e_{secrets.token_hex(8)}",
        "data": {"id": f"txn_e2e_{secrets.token_hex(8)}", "status": "completed", "customer_id": "ctm_e2e_sponsor",
                 "subscription_id": None, "items": [{"price": {"id": price_id}, "quantity": 1}],
                 "custom_data": custom_data},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def test_shadow_claim_paid_by_webhook_makes_the_agent_paid(http, base_url, agent):
    v = server_vars()
    started = assert_ok(http.post(f"{base_url}/v1/agents/malice/{agent.agent_id}"))
    path = f"/v1/agents/claim/complete/{started['challenge_id']}"
    assert_ok(http.post(base_url + path, json={"overseer_id": started["shadow_overseer_id"]},
                        headers={"DPoP": agent.dpop_proof("POST", path)}))
    status_url = f"{base_url}/v1/agents/malice/status/{started['challenge_id']}"
    status = assert_ok(http.get(status_url))
    custom = status["custom_data"]

    # A forged agent id in custom_data is ignored and changes nothing.
    forged = dict(custom, agent_id="00000000-0000-4000-8000-000000000000")
    r = post_webhook(http, base_url, v["PADDLE_WEBHOOK_SECRET"], transaction_completed(status["paddle_price_id"], forged))
    assert assert_ok(r)["ignored"] is True
    assert assert_ok(http.get(f"{base_url}/v1/agents/me", headers=agent.bearer()))["subscription"]["tier"] == "FREE"

    paid = post_webhook(http, base_url, v["PADDLE_WEBHOOK_SECRET"], transaction_completed(status["paddle_price_id"], custom))
    assert assert_ok(paid) == {"success": True, "received": True}
    assert assert_ok(http.get(status_url))["status"] == "completed"
    me = assert_ok(http.get(f"{base_url}/v1/agents/me", headers=agent.bearer()))
    assert (me["subscription"]["tier"], me["subscription"]["source"]) == ("PAID", "shadow")
    assert me["subscription"]["billing_period_end"] is not None
    overseer = assert_ok(http.get(f"{base_url}/v1/agents/me/overseer", headers=agent.bearer()))["overseer"]
    assert overseer["is_shadow"] is True and overseer["tier"] == "PAID"
    assert overseer["id"] == started["shadow_overseer_id"] and overseer["name"] is None
