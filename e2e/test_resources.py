"""Protected resources against the real wasm (issue 10; docs/resources.md "Protected resources").

An overseer registers an API / MCP server, reads, lists, updates and deletes it; agent-id serves
its RFC 9728 metadata document publicly with CORS ``*``; the tier limit and the refusals answer
their codes. Set-up through the public API only. Loopback only, a few dozen requests, 5 s timeout
each.
"""

from __future__ import annotations

import uuid

import pytest

from agent_client import describe
from helpers import assert_error, assert_ok, assert_uuid4, parse_timestamp
from oauth_setup import paid_overseer

PATH = "/v1/overseers/me/resources"


def sign_up(http, base_url) -> dict:
    email = f"e2e-res-{uuid.uuid4().hex[:12]}@example.test"
    resp = http.post(base_url + "/v1/overseers/register",
                     json={"name": "E2E Resource Overseer", "email": email, "password": "correct horse battery"})
    assert resp.status_code == 201, describe(resp)
    return {"Authorization": f"Bearer {resp.json()['session_id']}"}


def unique_uri(base: str = "https://mcp-{}.example.com/mcp") -> str:
    return base.format(uuid.uuid4().hex[:12])


def test_an_overseer_manages_a_resource_and_agent_id_serves_its_metadata(http, base_url):
    auth = sign_up(http, base_url)
    host = f"MCP-{uuid.uuid4().hex[:8]}.Example.com"
    body = {"uri": f"HTTPS://{host}:443/mcp", "name": "E2E MCP",
            "scopes": [{"name": "tools:read", "description": "List tools"}, {"name": "tools:call"}],
            "dpop_bound_access_tokens": True, "access_token_alg": "ES256"}
    created = assert_ok(http.post(base_url + PATH, json=body, headers=auth), 201)["resource"]
    rid = assert_uuid4(created["id"], "resource id")
    uri = f"https://{host.lower()}/mcp"
    metadata_url = f"{base_url}/v1/resources/{rid}/oauth-protected-resource"
    parse_timestamp(created["created_at"], "created_at")
    assert created == {
        "id": rid, "uri": uri, "name": "E2E MCP",
        "scopes": [{"name": "tools:read", "description": "List tools"}, {"name": "tools:call", "description": ""}],
        "dpop_bound_access_tokens": True, "access_token_alg": "ES256", "metadata_url": metadata_url,
        "created_at": created["created_at"], "updated_at": created["created_at"],
    }

    got = assert_ok(http.get(f"{base_url}{PATH}/{rid}", headers=auth))["resource"]
    assert got == created
    listed = assert_ok(http.get(base_url + PATH, headers=auth))
    assert listed["resources"] == [created]
    assert (listed["count"], listed["max_resources"]) == (1, 1)

    # The metadata document: public, exact members, cacheable, CORS *.
    resp = http.get(metadata_url, headers={"Origin": "https://elsewhere.example"})
    assert resp.status_code == 200, describe(resp)
    assert resp.json() == {
        "resource": uri, "authorization_servers": [base_url],
        "scopes_supported": ["tools:read", "tools:call", "offline_access"],
        "bearer_methods_supported": ["header"], "dpop_signing_alg_values_supported": ["EdDSA", "ES256"],
        "dpop_bound_access_tokens_required": True, "resource_name": "E2E MCP",
    }
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Content-Type"].startswith("application/json")
    pre = http.options(metadata_url, headers={"Origin": "https://elsewhere.example",
                                              "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204, describe(pre)
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]

    changed = assert_ok(http.patch(f"{base_url}{PATH}/{rid}", headers=auth,
                                   json={"name": "Renamed", "dpop_bound_access_tokens": False,
                                         "scopes": [{"name": "files:read"}]}))["resource"]
    assert (changed["uri"], changed["name"], changed["dpop_bound_access_tokens"]) == (uri, "Renamed", False)
    assert changed["access_token_alg"] == "ES256", "absent members keep their value"
    doc = http.get(metadata_url).json()
    assert doc["scopes_supported"] == ["files:read", "offline_access"]
    assert doc["resource_name"] == "Renamed" and doc["dpop_bound_access_tokens_required"] is False
    assert_error(http.patch(f"{base_url}{PATH}/{rid}", headers=auth, json={"uri": "https://x.example.com/"}),
                 400, "invalid_field", message_contains="audience")

    assert_ok(http.delete(f"{base_url}{PATH}/{rid}", headers=auth))
    assert_error(http.get(f"{base_url}{PATH}/{rid}", headers=auth), 404, "resource_not_found")
    gone = http.get(metadata_url)
    assert_error(gone, 404, "resource_not_found")
    assert gone.headers["Access-Control-Allow-Origin"] == "*"


def test_loopback_http_resources_while_agent_id_runs_on_loopback(http, base_url):
    if not base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        pytest.skip("the server is not on loopback http")
    auth = sign_up(http, base_url)
    uri = f"http://127.0.0.1:{40000 + uuid.uuid4().int % 20000}/mcp-{uuid.uuid4().hex[:8]}"
    created = assert_ok(http.post(base_url + PATH, json={"uri": uri, "name": "Local MCP",
                                                          "scopes": [{"name": "use"}]}, headers=auth), 201)
    assert created["resource"]["uri"] == uri
    assert_ok(http.delete(f"{base_url}{PATH}/{created['resource']['id']}", headers=auth))
    assert_error(http.post(base_url + PATH, json={"uri": "http://mcp.example.com/", "name": "N",
                                                  "scopes": [{"name": "use"}]}, headers=auth),
                 400, "invalid_resource_uri")


@pytest.mark.parametrize("change, code", [
    ({"uri": "https://mcp.example.com/mcp?x=1"}, "invalid_resource_uri"),
    ({"uri": "https://mcp.example.com/mcp#f"}, "invalid_resource_uri"),
    ({"scopes": []}, "invalid_scope"),
    ({"scopes": [{"name": "offline_access"}]}, "invalid_scope"),
    ({"scopes": [{"name": "a"}, {"name": "a"}]}, "invalid_scope"),
    ({"access_token_alg": "RS256"}, "invalid_field"),
    ({"name": ""}, "missing_field"),
])
def test_bad_registrations_are_refused(http, base_url, change, code):
    auth = sign_up(http, base_url)
    body = {"uri": unique_uri(), "name": "N", "scopes": [{"name": "use"}], **change}
    assert_error(http.post(base_url + PATH, json=body, headers=auth), 400, code)
    assert assert_ok(http.get(base_url + PATH, headers=auth))["count"] == 0


def test_limits_duplicates_and_ownership(http, base_url):
    free = sign_up(http, base_url)
    uri = unique_uri()
    first = assert_ok(http.post(base_url + PATH, json={"uri": uri, "name": "One", "scopes": [{"name": "use"}]},
                                headers=free), 201)["resource"]
    assert_error(http.post(base_url + PATH, json={"uri": unique_uri(), "name": "Two", "scopes": [{"name": "use"}]},
                           headers=free), 403, "tier_limit_reached")

    pro = paid_overseer(http, base_url, tier="PRO")
    assert_error(http.post(base_url + PATH, json={"uri": uri.upper().replace("/MCP", "/mcp"), "name": "Mine",
                                                  "scopes": [{"name": "use"}]}, headers=pro.bearer()),
                 409, "resource_exists")
    assert_error(http.get(f"{base_url}{PATH}/{first['id']}", headers=pro.bearer()), 404, "resource_not_found")
    assert_error(http.delete(f"{base_url}{PATH}/{first['id']}", headers=pro.bearer()), 404, "resource_not_found")
    usage = assert_ok(http.get(base_url + "/v1/overseers/me/usage", headers=free))["usage"]
    assert (usage["resources_registered"], usage["max_resources"]) == (1, 1)
    tiers = {t["tier"]: t["max_resources"] for t in assert_ok(http.get(base_url + "/v1/subscriptions/tiers"))["tiers"]}
    assert tiers == {"FREE": 1, "BASIC": 3, "PRO": 10, "PREMIUM": -1}
