"""Live grants against the real wasm (issue 12 item 7; docs/accounts.md "Live grants").

An agent consents, a client redeems the code and uses its tokens; the agent's overseer (and the
agent itself) list the live grant and revoke it, after which the client's refresh fails with
``invalid_grant``, its access token is refused at userinfo and inactive at introspection.

Set-up through the public API only (oauth_setup.py): a paid overseer, its client (Ed25519,
``private_key_jwt``), an agent it claims. Loopback only, a few dozen requests, 5 s timeout each.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

import pytest

from agent_client import AgentClient, Ed25519Key, b64e, build_dpop_proof, build_jws, describe
from conftest import TIMEOUT_SECS
from helpers import assert_error, assert_ok
from oauth_setup import REDIRECT_URI, paid_overseer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "id name"


class App:
    """An OAuth client as a relying party drives it: assertions, code exchange, refresh, userinfo,
    introspection, all by hand over HTTP."""

    def __init__(self, http, base_url: str, client_id: str, key: Ed25519Key):
        self.http, self.base_url, self.client_id, self.key = http, base_url, client_id, key

    def _assertion(self, path: str) -> str:
        now = int(time.time())
        payload = {"iss": self.client_id, "sub": self.client_id, "aud": self.base_url + path,
                   "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
        return build_jws({"alg": "EdDSA", "typ": "JWT"}, payload, self.key.sign)

    def post(self, path: str, **form):
        body = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self._assertion(path), **form}
        return self.http.post(self.base_url + path, data=body, timeout=TIMEOUT_SECS)

    def exchange(self, code: str, verifier: str) -> dict:
        resp = self.post("/v1/oauth/token", grant_type="authorization_code", code=code,
                         redirect_uri=REDIRECT_URI, code_verifier=verifier)
        assert resp.status_code == 200, describe(resp)
        return resp.json()

    def refresh(self, refresh_token: str):
        return self.post("/v1/oauth/token", grant_type="refresh_token", refresh_token=refresh_token)

    def introspect(self, token: str) -> dict:
        resp = self.post("/v1/oauth/introspect", token=token)
        assert resp.status_code == 200, describe(resp)
        return resp.json()

    def userinfo(self, access_token: str):
        """The access token is bound to the client's key (no DPoP at the exchange)."""
        url = self.base_url + "/v1/oauth/userinfo"
        ath = b64e(hashlib.sha256(access_token.encode()).digest())
        proof = build_dpop_proof(self.key, "GET", url, payload_overrides={"ath": ath})
        return self.http.get(url, headers={"Authorization": f"DPoP {access_token}", "DPoP": proof},
                             timeout=TIMEOUT_SECS)


@pytest.fixture
def world(http, base_url):
    """(overseer, agent, app): a paid overseer oversees a fresh agent and owns an OAuth client."""
    overseer = paid_overseer(http, base_url)
    key = Ed25519Key.generate()
    client = overseer.register_client(http, key.x, name="Grants e2e app", scope=SCOPE, dpop_bound=False)
    agent = AgentClient(base_url, http, timeout=TIMEOUT_SECS)
    agent.register("grants e2e agent")
    started = assert_ok(http.post(base_url + "/v1/agents/claim/initiate", json={"agent_id": agent.agent_id},
                                  headers=overseer.bearer()))
    path = f"/v1/agents/claim/complete/{started['challenge_id']}"
    assert_ok(http.post(base_url + path, json={"overseer_id": overseer.overseer_id}, headers=agent.bearer()))
    return overseer, agent, App(http, base_url, client["id"], key)


def consent(http, base_url: str, agent: AgentClient, app: App) -> dict:
    """The agent approves the app, the app redeems the code: its token response."""
    verifier = b64e(secrets.token_bytes(32))
    challenge = b64e(hashlib.sha256(verifier.encode()).digest())
    body = {"client_id": app.client_id, "redirect_uri": REDIRECT_URI, "scope": SCOPE, "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"}
    resp = http.post(base_url + "/v1/oauth/authorize", json=body, headers=agent.bearer())
    assert resp.status_code == 200, describe(resp)
    return app.exchange(resp.json()["code"], verifier)


def assert_grant_ended(app: App, tokens: dict) -> None:
    refresh = app.refresh(tokens["refresh_token"])
    assert (refresh.status_code, refresh.json().get("error")) == (400, "invalid_grant"), describe(refresh)
    userinfo = app.userinfo(tokens["access_token"])
    assert (userinfo.status_code, userinfo.json().get("error")) == (401, "invalid_token"), describe(userinfo)
    assert app.introspect(tokens["access_token"]) == {"active": False}


def test_the_overseer_revokes_a_grant_and_the_clients_refresh_fails(http, base_url, world):
    overseer, agent, app = world
    tokens = consent(http, base_url, agent, app)
    # The grant works: userinfo answers, introspection says active, a refresh rotates.
    assert app.userinfo(tokens["access_token"]).status_code == 200
    assert app.introspect(tokens["access_token"])["active"] is True
    refreshed = app.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, describe(refreshed)
    tokens = refreshed.json()

    listing = f"{base_url}/v1/overseers/agents/{agent.agent_id}/grants"
    listed = assert_ok(http.get(listing, headers=overseer.bearer()))
    assert listed["agent_id"] == agent.agent_id and listed["next_cursor"] is None
    [grant] = listed["grants"]
    assert grant["client"] == {"id": app.client_id, "name": "Grants e2e app"}
    assert (grant["scopes"], grant["resources"], grant["consented_by"]) == (SCOPE, None, "agent")
    assert grant["last_used_at"] >= grant["consented_at"]
    # The agent sees the same grant.
    mine = assert_ok(http.get(base_url + "/v1/agents/me/grants", headers=agent.bearer()))
    assert mine["grants"] == [grant]

    revoked = assert_ok(http.delete(f"{listing}/{grant['id']}", headers=overseer.bearer()))
    assert revoked == {"success": True, "message": "Grant revoked", "grant_id": grant["id"]}
    assert_grant_ended(app, tokens)
    assert assert_ok(http.get(listing, headers=overseer.bearer()))["grants"] == []
    trail = assert_ok(http.get(base_url + "/v1/overseers/me/audit?type=oauth.grant_revoked",
                               headers=overseer.bearer()))
    assert trail["events"][0]["details"]["grant_id"] == grant["id"]
    assert trail["events"][0]["details"]["revoked_by"] == "overseer"


def test_the_agent_revokes_its_own_grant_once(http, base_url, world):
    _, agent, app = world
    tokens = consent(http, base_url, agent, app)
    [grant] = assert_ok(http.get(base_url + "/v1/agents/me/grants", headers=agent.bearer()))["grants"]
    path = f"{base_url}/v1/agents/me/grants/{grant['id']}"
    assert_ok(http.delete(path, headers=agent.bearer()))
    assert_grant_ended(app, tokens)
    assert_error(http.delete(path, headers=agent.bearer()), 404, "grant_not_found")


def test_a_stranger_cannot_see_or_revoke_the_grants(http, base_url, world):
    _, agent, app = world
    consent(http, base_url, agent, app)
    [grant] = assert_ok(http.get(base_url + "/v1/agents/me/grants", headers=agent.bearer()))["grants"]
    stranger = paid_overseer(http, base_url)
    listing = f"{base_url}/v1/overseers/agents/{agent.agent_id}/grants"
    assert_error(http.get(listing, headers=stranger.bearer()), 404, "no_active_oversight")
    assert_error(http.delete(f"{listing}/{grant['id']}", headers=stranger.bearer()), 404, "no_active_oversight")
    other = AgentClient(base_url, http, timeout=TIMEOUT_SECS)
    other.register("another agent")
    assert_error(http.delete(f"{base_url}/v1/agents/me/grants/{grant['id']}", headers=other.bearer()),
                 404, "grant_not_found")
    assert len(assert_ok(http.get(base_url + "/v1/agents/me/grants", headers=agent.bearer()))["grants"]) == 1
