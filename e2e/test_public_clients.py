"""Public clients and the refresh grace window against the real wasm (issue 10, items 2 and 6;
docs/resources.md "Public clients and refresh").

A public native client (``token_endpoint_auth_method: none``) gets a code on a loopback redirect
URI with an ephemeral port, redeems it with PKCE and a DPoP proof, calls userinfo, rotates its
DPoP-bound refresh token (refused with another key) and revokes its grant with its ``client_id``
alone. Then two refreshes of one token sent at once both succeed inside the grace window, one
refresh token stays live, and reuse after the successor was used revokes the family.

Loopback only, a few dozen requests, 5 s timeout each.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from agent_client import AgentClient, Ed25519Key, b64e, build_dpop_proof, build_jws, describe
from conftest import TIMEOUT_SECS
from helpers import assert_error, assert_ok
from oauth_setup import REDIRECT_URI, paid_overseer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "id name"
NATIVE_CB = "http://127.0.0.1/cb"


def pkce() -> tuple[str, str]:
    verifier = b64e(secrets.token_bytes(32))
    return verifier, b64e(hashlib.sha256(verifier.encode()).digest())


class PublicApp:
    """A public client: no key, only PKCE and a DPoP key of its own."""

    def __init__(self, http, base_url: str, client_id: str):
        self.http, self.base_url, self.client_id = http, base_url, client_id
        self.dpop = Ed25519Key.generate()

    def token(self, key: Ed25519Key | None = None, **form) -> requests.Response:
        url = self.base_url + "/v1/oauth/token"
        proof = build_dpop_proof(key or self.dpop, "POST", url)
        return self.http.post(url, data={"client_id": self.client_id, **form}, headers={"DPoP": proof},
                              timeout=TIMEOUT_SECS)

    def userinfo(self, access_token: str) -> requests.Response:
        url = self.base_url + "/v1/oauth/userinfo"
        ath = b64e(hashlib.sha256(access_token.encode()).digest())
        proof = build_dpop_proof(self.dpop, "GET", url, payload_overrides={"ath": ath})
        return self.http.get(url, headers={"Authorization": f"DPoP {access_token}", "DPoP": proof},
                             timeout=TIMEOUT_SECS)


class ConfidentialApp:
    """A private_key_jwt client, here to introspect its refresh tokens."""

    def __init__(self, http, base_url: str, client_id: str, key: Ed25519Key):
        self.http, self.base_url, self.client_id, self.key = http, base_url, client_id, key

    def post(self, path: str, **form) -> requests.Response:
        now = int(time.time())
        payload = {"iss": self.client_id, "sub": self.client_id, "aud": self.base_url + path,
                   "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
        assertion = build_jws({"alg": "EdDSA", "typ": "JWT"}, payload, self.key.sign)
        body = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **form}
        return self.http.post(self.base_url + path, data=body, timeout=TIMEOUT_SECS)

    def active(self, token: str) -> bool:
        resp = self.post("/v1/oauth/introspect", token=token)
        assert resp.status_code == 200, describe(resp)
        return resp.json()["active"]


@pytest.fixture
def world(http, base_url):
    """(overseer, agent): a paid overseer oversees a fresh agent."""
    overseer = paid_overseer(http, base_url)
    agent = AgentClient(base_url, http, timeout=TIMEOUT_SECS)
    agent.register("public clients e2e agent")
    started = assert_ok(http.post(base_url + "/v1/agents/claim/initiate", json={"agent_id": agent.agent_id},
                                  headers=overseer.bearer()))
    path = f"/v1/agents/claim/complete/{started['challenge_id']}"
    assert_ok(http.post(base_url + path, json={"overseer_id": overseer.overseer_id}, headers=agent.bearer()))
    return overseer, agent


def code_for(http, base_url: str, agent: AgentClient, client_id: str, redirect_uri: str) -> tuple[str, str]:
    """The agent approves: (code, PKCE verifier)."""
    verifier, challenge = pkce()
    body = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": SCOPE, "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"}
    resp = http.post(base_url + "/v1/oauth/authorize", json=body, headers=agent.bearer())
    assert resp.status_code == 200, describe(resp)
    return resp.json()["code"], verifier


def test_a_public_client_with_dpop_end_to_end(http, base_url, world):
    overseer, agent = world
    body = {"name": "Public e2e app", "redirect_uris": [NATIVE_CB], "scope": SCOPE,
            "token_endpoint_auth_method": "none", "application_type": "native"}
    refused = http.post(base_url + "/v1/clients/register/overseer", headers=overseer.bearer(),
                        json={**body, "public_key": Ed25519Key.generate().x})
    assert_error(refused, 400, "public_key_not_allowed")
    client = assert_ok(http.post(base_url + "/v1/clients/register/overseer", json=body,
                                 headers=overseer.bearer()), 201)["client"]
    assert (client["token_endpoint_auth_method"], client["public_key"]) == ("none", None)
    app = PublicApp(http, base_url, client["id"])

    # A native app listens on an ephemeral port: any port on the registered loopback literal.
    redirect = "http://127.0.0.1:53682/cb"
    code, verifier = code_for(http, base_url, agent, app.client_id, redirect)
    resp = app.token(grant_type="authorization_code", code=code, redirect_uri=redirect, code_verifier=verifier)
    assert resp.status_code == 200, describe(resp)
    tokens = resp.json()
    assert tokens["token_type"] == "DPoP"
    info = app.userinfo(tokens["access_token"])
    assert info.status_code == 200 and info.json()["sub"] == agent.agent_id, describe(info)

    # The refresh token is bound to the DPoP key: another key is refused and changes nothing.
    thief = app.token(Ed25519Key.generate(), grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (thief.status_code, thief.json().get("error")) == (400, "invalid_grant"), describe(thief)
    resp = app.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert resp.status_code == 200, describe(resp)
    tokens = resp.json()
    assert app.userinfo(tokens["access_token"]).status_code == 200

    # Introspection is for confidential clients; revocation works with the client_id alone.
    introspect = http.post(base_url + "/v1/oauth/introspect",
                           data={"client_id": app.client_id, "token": tokens["access_token"]}, timeout=TIMEOUT_SECS)
    assert (introspect.status_code, introspect.json().get("error")) == (401, "invalid_client"), describe(introspect)
    revoke = http.post(base_url + "/v1/oauth/revoke",
                       data={"client_id": app.client_id, "token": tokens["refresh_token"]}, timeout=TIMEOUT_SECS)
    assert (revoke.status_code, revoke.json()) == (200, {}), describe(revoke)
    assert app.userinfo(tokens["access_token"]).status_code == 401
    after = app.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (after.status_code, after.json().get("error")) == (400, "invalid_grant"), describe(after)


def test_two_concurrent_refreshes_inside_the_grace_window(http, base_url, world):
    overseer, agent = world
    key = Ed25519Key.generate()
    client = overseer.register_client(http, key.x, name="Grace e2e app", scope=SCOPE, dpop_bound=False)
    app = ConfidentialApp(http, base_url, client["id"], key)
    code, verifier = code_for(http, base_url, agent, app.client_id, REDIRECT_URI)
    resp = app.post("/v1/oauth/token", grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
                    code_verifier=verifier)
    assert resp.status_code == 200, describe(resp)
    first = resp.json()["refresh_token"]

    def refresh(token: str) -> requests.Response:
        # One session per thread: requests.Session is not thread-safe.
        with requests.Session() as s:
            return ConfidentialApp(s, base_url, app.client_id, key).post(
                "/v1/oauth/token", grant_type="refresh_token", refresh_token=token)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(refresh, [first, first]))
    assert [a.status_code for a in answers] == [200, 200], [describe(a) for a in answers]
    issued = [a.json() for a in answers]
    live = [t for t in issued if app.active(t["refresh_token"])]
    assert len(live) == 1, "exactly one live successor"
    assert all(app.active(t["access_token"]) for t in issued), "every access token answered is valid"

    # The live successor rotates; then the first token, though inside the window, is a reuse.
    resp = app.post("/v1/oauth/token", grant_type="refresh_token", refresh_token=live[0]["refresh_token"])
    assert resp.status_code == 200, describe(resp)
    latest = resp.json()
    reuse = app.post("/v1/oauth/token", grant_type="refresh_token", refresh_token=first)
    assert (reuse.status_code, reuse.json().get("error")) == (400, "invalid_grant"), describe(reuse)
    assert not app.active(latest["refresh_token"]) and not app.active(latest["access_token"])
    trail = assert_ok(http.get(base_url + "/v1/overseers/me/audit?type=oauth.refresh_retried",
                               headers=overseer.bearer()))
    assert len(trail["events"]) == 1, trail
