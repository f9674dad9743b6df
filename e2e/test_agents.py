"""Agent registration, login, session, key rotation and logout against the live server
(api.md §2.2, §2.3, §5.1-5.3, §9.2)."""

import datetime as dt
import json
import uuid

from agent_client import Ed25519Key, canonical_json, is_canonical_b64url
from helpers import (assert_dpop_challenge, assert_error, assert_ok, assert_opaque43, assert_uuid4,
                     now_utc, parse_timestamp)

AGENT_FIELDS = {"id", "name", "description", "public_key", "created_at", "updated_at"}
PUBLIC_AGENT_FIELDS = {"id", "name", "description", "public_key", "created_at"}


def check_agent(agent: dict, *, name: str, description, public_key: str) -> None:
    """The Agent object of api.md 1.9."""
    assert set(agent) == AGENT_FIELDS, f"agent members: {sorted(agent)}"
    assert_uuid4(agent["id"], "agent.id")
    assert agent["name"] == name
    assert agent["description"] == description
    assert agent["public_key"] == public_key and is_canonical_b64url(agent["public_key"], 32)
    created = parse_timestamp(agent["created_at"], "created_at")
    updated = parse_timestamp(agent["updated_at"], "updated_at")
    assert updated >= created


def check_challenge(resp, *, action: str, base_url: str, key_member: str, key: str,
                    agent_id: str | None = None, status: int = 200) -> dict:
    """Initiate answers of registration and rotation (api.md 2.2, 2.3, 9.2, security.md H2)."""
    received = now_utc()
    body = assert_ok(resp, status)
    assert set(body) == {"success", "challenge_id", "challenge_data", "expires_at", "expires_in"}, sorted(body)
    assert_uuid4(body["challenge_id"], "challenge_id")
    assert body["expires_in"] == 300
    # expires_at - now = 300 s: the creation time lies within the request's round trip (±1 s rounding)
    created = parse_timestamp(body["expires_at"], "expires_at") - dt.timedelta(seconds=300)
    sent = received - resp.elapsed
    assert sent - dt.timedelta(seconds=1) <= created <= received + dt.timedelta(seconds=1), (
        f"expires_at {body['expires_at']} is not request time + 300 s (request sent {sent.isoformat()})")
    text = body["challenge_data"]
    assert isinstance(text, str)
    data = json.loads(text)
    assert canonical_json(data) == text, f"challenge_data is not canonical JSON: {text}"
    expected = {"action": action, "aud": base_url, "challenge_id": body["challenge_id"],
                "expires_at": body["expires_at"], key_member: key}
    if agent_id is not None:
        expected["agent_id"] = agent_id
    nonce = data.pop("nonce")
    assert data == expected
    assert is_canonical_b64url(nonce, 32), f"nonce is not 32 bytes base64url: {nonce!r}"
    return data


# --------------------------------------------------------------------------------------------------
# Full flow
# --------------------------------------------------------------------------------------------------

def test_full_agent_lifecycle(make_client, base_url):
    client = make_client()
    old_key = client.key

    # register/initiate
    init = client.register_initiate("Lifecycle Agent", "e2e lifecycle")
    init_body = assert_ok(init, 202)
    check_challenge(init, action="register", base_url=base_url, key_member="public_key", key=old_key.x, status=202)

    # register/complete: signature over challenge_data bytes exactly as received
    done = client.register_complete(init_body["challenge_id"], client.sign_challenge(init_body["challenge_data"]))
    reg = assert_ok(done, 201)
    assert set(reg) == {"success", "agent", "session_id", "expires_in"}, sorted(reg)
    check_agent(reg["agent"], name="Lifecycle Agent", description="e2e lifecycle", public_key=old_key.x)
    assert_opaque43(reg["session_id"])
    assert reg["expires_in"] == 1800
    agent_id = reg["agent"]["id"]
    client.agent_id, client.session_id = agent_id, reg["session_id"]
    registration_session = reg["session_id"]

    # login with the registered key
    login = assert_ok(client.login())
    assert set(login) == {"success", "session_id", "expires_in", "agent_id"}, sorted(login)
    assert_opaque43(login["session_id"])
    assert login["expires_in"] == 1800
    assert login["agent_id"] == agent_id
    assert login["session_id"] != registration_session
    login_session = login["session_id"]

    # GET /v1/agents/me
    me = assert_ok(client.me(login_session))
    assert set(me) == {"success", "agent", "subscription"}, sorted(me)
    assert me["agent"] == reg["agent"]
    assert_ok(client.me(registration_session))

    # rotate: initiate with the new key, sign with the NEW key, complete with a proof by the OLD key
    new_key = Ed25519Key.generate()
    rinit_resp = client.rotate_initiate(new_key.x, session_id=login_session)
    rinit = assert_ok(rinit_resp)
    check_challenge(rinit_resp, action="rotate_key", base_url=base_url, key_member="new_public_key",
                    key=new_key.x, agent_id=agent_id)
    rdone = client.rotate_complete(rinit["challenge_id"], client.sign_challenge(rinit["challenge_data"], new_key),
                                   proof_key=old_key)
    rot = assert_ok(rdone)
    assert set(rot) == {"success", "session_id", "expires_in", "agent"}, sorted(rot)
    assert_opaque43(rot["session_id"])
    assert rot["expires_in"] == 1800
    check_agent(rot["agent"], name="Lifecycle Agent", description="e2e lifecycle", public_key=new_key.x)
    assert rot["agent"]["id"] == agent_id
    assert rot["agent"]["created_at"] == reg["agent"]["created_at"]
    rotation_session = rot["session_id"]
    client.key = new_key

    # login with the new key works
    new_login = assert_ok(client.login())
    assert new_login["agent_id"] == agent_id
    new_session = new_login["session_id"]

    # login with the old key fails
    old = client.login(key=old_key)
    assert_error(old, 401, "invalid_dpop_proof")
    assert_dpop_challenge(old)

    # sessions from before the rotation are superseded
    assert_error(client.me(login_session), 401, "invalid_session")
    assert_error(client.me(registration_session), 401, "invalid_session")

    # the rotation session and the new login session are valid
    assert assert_ok(client.me(rotation_session))["agent"]["public_key"] == new_key.x
    assert assert_ok(client.me(new_session))["agent"]["public_key"] == new_key.x

    # logout
    out = assert_ok(client.logout(new_session))
    assert out == {"success": True, "message": "Logged out"}
    assert_error(client.me(new_session), 401, "invalid_session")
    assert_error(client.logout(new_session), 401, "invalid_session")

    # logging out one session leaves the others alone
    assert_ok(client.me(rotation_session))


def test_me_returns_agent_and_free_subscription_summary(agent):
    body = assert_ok(agent.me())
    assert body["agent"] == agent.agent
    sub = body["subscription"]
    assert set(sub) == {"tier", "source", "max_clients", "max_oauth_per_period", "clients_registered",
                        "oauth_count", "period_start", "period_end", "billing_period_end"}, sorted(sub)
    assert sub["tier"] == "FREE" and sub["source"] == "none"
    assert sub["max_clients"] == 0 and sub["max_oauth_per_period"] == 10
    assert sub["clients_registered"] == 0 and sub["oauth_count"] == 0
    assert sub["billing_period_end"] is None
    # calendar month in UTC (api.md 5.7)
    start = parse_timestamp(sub["period_start"], "period_start")
    end = parse_timestamp(sub["period_end"], "period_end")
    now = now_utc()
    expected_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    expected_end = (expected_start + dt.timedelta(days=32)).replace(day=1)
    assert (start, end) == (expected_start, expected_end), (sub["period_start"], sub["period_end"])


def test_login_without_agent_id_finds_agent_by_key(agent):
    body = assert_ok(agent.login(body={}))
    assert body["agent_id"] == agent.agent_id
    assert_ok(agent.me(body["session_id"]))


def test_login_with_no_body_at_all(agent):
    body = assert_ok(agent.login(body=None))
    assert body["agent_id"] == agent.agent_id


def test_login_accepts_uppercase_agent_id(agent):
    body = assert_ok(agent.login(body={"agent_id": agent.agent_id.upper()}))
    assert body["agent_id"] == agent.agent_id


def test_each_login_creates_a_distinct_session(agent):
    first = assert_ok(agent.login())["session_id"]
    second = assert_ok(agent.login())["session_id"]
    assert first != second
    assert_ok(agent.me(first))
    assert_ok(agent.me(second))


def test_rotate_key_flow_via_client(agent):
    old_key = agent.key
    old_session = agent.session_id
    body = agent.rotate_key()
    assert body["agent"]["public_key"] == agent.key.x != old_key.x
    assert_error(agent.me(old_session), 401, "invalid_session")
    assert_ok(agent.me())
    assert_error(agent.login(key=old_key), 401, "invalid_dpop_proof")
    assert_ok(agent.login())


# --------------------------------------------------------------------------------------------------
# Registration details
# --------------------------------------------------------------------------------------------------

def test_description_is_null_when_absent(new_agent):
    client = new_agent("No Description")
    assert client.agent["description"] is None
    assert assert_ok(client.me())["agent"]["description"] is None


def test_empty_description_is_stored_as_null(make_client):
    client = make_client()
    init = assert_ok(client.register_initiate("Empty Description", ""), 202)
    reg = assert_ok(client.register_complete(init["challenge_id"], client.sign_challenge(init["challenge_data"])), 201)
    assert reg["agent"]["description"] is None


def test_name_and_description_are_trimmed(new_agent):
    client = new_agent("  Trimmed Name  ", "\n  kept\ttext  \n")
    assert client.agent["name"] == "Trimmed Name"
    assert client.agent["description"] == "kept\ttext"


def test_description_keeps_inner_newlines_and_tabs(new_agent):
    client = new_agent("Multi-line", "line one\nline\ttwo")
    assert assert_ok(client.me())["agent"]["description"] == "line one\nline\ttwo"


def test_padded_standard_alphabet_key_is_canonicalised(make_client):
    key = Ed25519Key.generate_where(lambda k: "_" in k.x or "-" in k.x)
    client = make_client(key)
    submitted = key.x.replace("-", "+").replace("_", "/") + "="
    init = assert_ok(client.register_initiate("Canonical Key", public_key=submitted), 202)
    assert json.loads(init["challenge_data"])["public_key"] == key.x
    reg = assert_ok(client.register_complete(init["challenge_id"], client.sign_challenge(init["challenge_data"])), 201)
    assert reg["agent"]["public_key"] == key.x


def test_challenge_ids_are_fresh(make_client):
    client = make_client()
    first = assert_ok(client.register_initiate("Twice"), 202)
    second = assert_ok(client.register_initiate("Twice"), 202)
    assert first["challenge_id"] != second["challenge_id"]
    assert json.loads(first["challenge_data"])["nonce"] != json.loads(second["challenge_data"])["nonce"]


# --------------------------------------------------------------------------------------------------
# Public profile, overseer, OAuth history
# --------------------------------------------------------------------------------------------------

def test_public_profile(agent, http, base_url):
    resp = http.get(f"{base_url}/v1/agents/{agent.agent_id}")
    body = assert_ok(resp)
    assert set(body) == {"success", "agent"}
    assert set(body["agent"]) == PUBLIC_AGENT_FIELDS, sorted(body["agent"])
    expected = {k: agent.agent[k] for k in PUBLIC_AGENT_FIELDS}
    assert body["agent"] == expected


def test_public_profile_accepts_uppercase_id(agent, http, base_url):
    body = assert_ok(http.get(f"{base_url}/v1/agents/{agent.agent_id.upper()}"))
    assert body["agent"]["id"] == agent.agent_id


def test_public_profile_needs_no_authentication_and_shows_rotated_key(agent, http, base_url):
    agent.rotate_key()
    body = assert_ok(http.get(f"{base_url}/v1/agents/{agent.agent_id}"))
    assert body["agent"]["public_key"] == agent.key.x


def test_public_profile_unknown_agent(http, base_url):
    assert_error(http.get(f"{base_url}/v1/agents/{uuid.uuid4()}"), 404, "agent_not_found")


def test_public_profile_non_uuid_is_not_found(http, base_url):
    assert_error(http.get(f"{base_url}/v1/agents/not-a-uuid"), 404, "agent_not_found")


def test_overseer_is_null_for_unclaimed_agent(agent):
    resp = agent.request("GET", "/v1/agents/me/overseer", headers=agent.bearer())
    assert assert_ok(resp) == {"success": True, "overseer": None}


def test_overseer_requires_session(agent):
    resp = agent.request("GET", "/v1/agents/me/overseer")
    assert_error(resp, 401, "authentication_required")


def test_oauth_history_is_empty(agent):
    resp = agent.request("GET", "/v1/agents/me/oauth-history", headers=agent.bearer())
    assert assert_ok(resp) == {"success": True, "history": [], "next_cursor": None}


def test_oauth_history_accepts_limit(agent):
    resp = agent.request("GET", "/v1/agents/me/oauth-history?limit=100", headers=agent.bearer())
    assert assert_ok(resp) == {"success": True, "history": [], "next_cursor": None}


def test_oauth_history_rejects_invalid_limit(agent):
    for limit in ("0", "101", "abc"):
        resp = agent.request("GET", f"/v1/agents/me/oauth-history?limit={limit}", headers=agent.bearer())
        assert_error(resp, 400, "invalid_field")


def test_oauth_history_rejects_garbage_cursor(agent):
    resp = agent.request("GET", "/v1/agents/me/oauth-history?cursor=%21%21not-a-cursor%21%21", headers=agent.bearer())
    assert_error(resp, 400, "invalid_field")


def test_oauth_history_requires_session(agent):
    resp = agent.request("GET", "/v1/agents/me/oauth-history")
    assert_error(resp, 401, "authentication_required")
