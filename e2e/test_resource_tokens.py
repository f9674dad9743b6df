"""Resource indicators and resource access tokens against the real wasm (docs/resources.md
"Resource indicators and access tokens").

A paid overseer's client asks an agent for a protected resource (RFC 8707); the token's `aud` is
the resource, it carries the `agent` claim, it is Bearer without a DPoP proof and DPoP-bound with
one, and is checked here with the `cryptography` package against the published JWKS, not with the
server's verifier. Until protected resources can be registered through the API, the rows are
written into the main server's local D1 database (migration 0009's table).

Loopback only, a few dozen requests, 5 s timeout each.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent_client import AgentClient, Ed25519Key, b64e, build_dpop_proof, build_jws, describe
from conftest import TIMEOUT_SECS
from helpers import assert_ok
from oauth_setup import REDIRECT_URI, paid_overseer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OUTPUT_ENV = "AGENT_ID_TEST_OUTPUT"


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main_d1() -> Path:
    """The main server's local D1 database file (scripts/test.sh: test-output/state/main)."""
    out = os.environ.get(OUTPUT_ENV)
    if not out:
        pytest.fail(f"{OUTPUT_ENV} is not set: scripts/test.sh names the servers' state", pytrace=False)
    for path in sorted(Path(out, "state", "main").rglob("*.sqlite")):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT_SECS) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'protected_resources'").fetchone():
                return path
    pytest.fail("no D1 database with protected_resources under the main server's state", pytrace=False)


def register_resource(overseer_id: str, uri: str, scopes: list[str], *, dpop: bool = False) -> None:
    declared = json.dumps([{"name": s, "description": f"{s} access"} for s in scopes])
    now = int(time.time() * 1000)
    with sqlite3.connect(main_d1(), timeout=TIMEOUT_SECS) as db:
        db.execute(
            "INSERT INTO protected_resources (id, overseer_id, uri, name, scopes, "
            "dpop_bound_access_tokens, access_token_alg, created_at, updated_at) "
            "VALUES (?, ?, ?, 'e2e resource', ?, ?, 'EdDSA', ?, ?)",
            (str(uuid.uuid4()), overseer_id, uri, declared, int(dpop), now, now))


class App:
    """The overseer's `private_key_jwt` client, driven by hand over HTTP."""

    def __init__(self, http, base_url: str, client_id: str, key: Ed25519Key):
        self.http, self.base_url, self.client_id, self.key = http, base_url, client_id, key

    def post(self, path: str, form: list[tuple[str, str]], dpop: Ed25519Key | None = None):
        now = int(time.time())
        assertion = build_jws({"alg": "EdDSA", "typ": "JWT"},
                              {"iss": self.client_id, "sub": self.client_id, "aud": self.base_url + path,
                               "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}, self.key.sign)
        body = [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion), *form]
        headers = {"DPoP": build_dpop_proof(dpop, "POST", self.base_url + path)} if dpop else {}
        return self.http.post(self.base_url + path, data=body, headers=headers, timeout=TIMEOUT_SECS)

    def redeem(self, code: str, verifier: str, resources=(), dpop: Ed25519Key | None = None):
        form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier), *[("resource", r) for r in resources]]
        return self.post("/v1/oauth/token", form, dpop)

    def refresh(self, token: str, resources=()):
        form = [("grant_type", "refresh_token"), ("refresh_token", token),
                *[("resource", r) for r in resources]]
        return self.post("/v1/oauth/token", form)

    def introspect(self, token: str) -> dict:
        resp = self.post("/v1/oauth/introspect", [("token", token)])
        assert resp.status_code == 200, describe(resp)
        return resp.json()


@pytest.fixture
def world(http, base_url):
    """(overseer, agent, app, mcp, files): a paid overseer claims an agent, owns a client and two
    resources with fresh URIs."""
    overseer = paid_overseer(http, base_url)
    key = Ed25519Key.generate()
    client = overseer.register_client(http, key.x, name="Resource e2e app", dpop_bound=False)
    agent = AgentClient(base_url, http, timeout=TIMEOUT_SECS)
    agent.register("resource e2e agent")
    started = assert_ok(http.post(base_url + "/v1/agents/claim/initiate", json={"agent_id": agent.agent_id},
                                  headers=overseer.bearer()))
    assert_ok(http.post(base_url + f"/v1/agents/claim/complete/{started['challenge_id']}",
                        json={"overseer_id": overseer.overseer_id}, headers=agent.bearer()))
    suffix = secrets.token_hex(6)
    mcp, files = f"https://mcp-{suffix}.example/mcp", f"https://files-{suffix}.example/api"
    register_resource(overseer.overseer_id, mcp, ["tools.read", "tools.write"])
    register_resource(overseer.overseer_id, files, ["files.read"])
    return overseer, agent, App(http, base_url, client["id"], key), mcp, files


def pkce() -> tuple[str, str]:
    verifier = b64e(secrets.token_bytes(32))
    return verifier, b64e(hashlib.sha256(verifier.encode()).digest())


def authorize(http, base_url, agent: AgentClient, app: App, resource, scope=None):
    verifier, challenge = pkce()
    body = {"client_id": app.client_id, "redirect_uri": REDIRECT_URI, "code_challenge": challenge,
            "code_challenge_method": "S256", "resource": resource}
    if scope is not None:
        body["scope"] = scope
    resp = http.post(base_url + "/v1/oauth/authorize", json=body, headers=agent.bearer())
    return resp, verifier


def verified_claims(http, base_url: str, token: str) -> dict:
    """The claims of `token` once its EdDSA signature verifies with the JWKS key of its kid."""
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(b64d(header_b64))
    assert (header["alg"], header["typ"]) == ("EdDSA", "at+jwt"), header
    resp = http.get(base_url + "/.well-known/jwks.json", timeout=TIMEOUT_SECS)
    assert resp.status_code == 200, describe(resp)
    jwks = resp.json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(
        b64d(sig_b64), f"{header_b64}.{payload_b64}".encode())
    return json.loads(b64d(payload_b64))


def test_a_resource_token_is_a_bearer_jwt_for_the_resource_with_the_agent_claim(http, base_url, world):
    _, agent, app, mcp, _ = world
    resp, verifier = authorize(http, base_url, agent, app, mcp, "tools.read")
    assert resp.status_code == 200, describe(resp)
    token = app.redeem(resp.json()["code"], verifier)
    assert token.status_code == 200, describe(token)
    body = token.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "tools.read"), body
    claims = verified_claims(http, base_url, body["access_token"])
    assert claims["aud"] == mcp and claims["sub"] == agent.agent_id and claims["client_id"] == app.client_id
    assert claims["agent"] == {"oversight": "human", "tier": "PRO"}
    assert "cnf" not in claims
    seen = app.introspect(body["access_token"])
    assert (seen["active"], seen["token_type"], seen["aud"], seen["agent"]) == (
        True, "Bearer", mcp, {"oversight": "human", "tier": "PRO"}), seen
    assert "cnf" not in seen
    # Not a token for userinfo, whatever the scheme.
    info = http.get(base_url + "/v1/oauth/userinfo", timeout=TIMEOUT_SECS,
                    headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (info.status_code, info.json()["error"]) == (401, "invalid_token"), describe(info)


def test_a_dpop_proof_at_the_token_endpoint_binds_the_resource_token(http, base_url, world):
    _, agent, app, mcp, _ = world
    proof_key = Ed25519Key.generate()
    resp, verifier = authorize(http, base_url, agent, app, [mcp])
    assert resp.status_code == 200, describe(resp)
    token = app.redeem(resp.json()["code"], verifier, dpop=proof_key)
    assert token.status_code == 200, describe(token)
    assert token.json()["token_type"] == "DPoP"
    claims = verified_claims(http, base_url, token.json()["access_token"])
    assert claims["cnf"] == {"jkt": proof_key.thumbprint()}
    assert claims["scope"] == "tools.read tools.write"


def test_invalid_targets_are_refused_at_authorize_and_token(http, base_url, world):
    _, agent, app, mcp, files = world
    for bad in ["https://unknown.example/mcp", mcp + "#frag", "/mcp"]:
        resp, _ = authorize(http, base_url, agent, app, bad)
        assert (resp.status_code, resp.json()["error"]) == (400, "invalid_target"), describe(resp)
    # GET: redirected with state and iss.
    verifier, challenge = pkce()
    resp = http.get(base_url + "/v1/oauth/authorize", headers=agent.bearer(), allow_redirects=False,
                    timeout=TIMEOUT_SECS,
                    params=[("response_type", "code"), ("client_id", app.client_id),
                            ("redirect_uri", REDIRECT_URI), ("code_challenge", challenge),
                            ("code_challenge_method", "S256"), ("state", "st"),
                            ("resource", "https://unknown.example/mcp")])
    assert resp.status_code == 303, describe(resp)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert (query["error"], query["state"], query["iss"]) == (["invalid_target"], ["st"], [base_url])
    # A resource the code does not cover.
    resp, verifier = authorize(http, base_url, agent, app, mcp)
    token = app.redeem(resp.json()["code"], verifier, resources=[files])
    assert (token.status_code, token.json()["error"]) == (400, "invalid_target"), describe(token)


def test_refresh_moves_between_granted_resources_and_never_widens(http, base_url, world):
    overseer, agent, app, mcp, files = world
    other = f"https://other-{secrets.token_hex(6)}.example/"
    register_resource(overseer.overseer_id, other, ["x"])
    resp, verifier = authorize(http, base_url, agent, app, [mcp, files])
    assert resp.status_code == 200, describe(resp)
    token = app.redeem(resp.json()["code"], verifier, resources=[mcp])
    assert token.status_code == 200, describe(token)
    widened = app.refresh(token.json()["refresh_token"], [other])
    assert (widened.status_code, widened.json()["error"]) == (400, "invalid_target"), describe(widened)
    moved = app.refresh(token.json()["refresh_token"], [files])
    assert moved.status_code == 200, describe(moved)
    claims = verified_claims(http, base_url, moved.json()["access_token"])
    assert (claims["aud"], claims["scope"]) == (files, "files.read")
