"""OAuth 2.0 interoperability with an unmodified third-party client: PyPI ``requests-oauth2client``.

The library does everything a relying party does: discovery (RFC 8414 / OpenID discovery), PKCE S256,
``state``, DPoP key binding of the code (``dpop_jkt``), validation of the authorization response
(``state`` and ``iss``, RFC 9207), ``private_key_jwt`` with EdDSA (assertion ``aud`` = the URL of the
endpoint called, api.md 9.4), DPoP proofs with EdDSA and ES256 keys (``ath`` at userinfo, RFC 9449),
refresh, revocation, introspection and the automatic ``use_dpop_nonce`` retry. The agent's approval
(api.md 2.11, ``POST``/``GET /v1/oauth/authorize``) is done by ``agent_client.AgentClient`` with the
parameters the library generated.

Spec: api.md 2.1, 2.8, 2.11, 5.9-5.12, 9.3-9.7; security.md §2-§9. Set-up: oauth_setup.py.
"""

from __future__ import annotations

import enum
import os
import urllib.parse

import jwskate
from binapy import BinaPy
import pytest
import requests
from requests.adapters import HTTPAdapter
from requests_oauth2client import (
    AuthorizationRequest,
    DPoPKey,
    DPoPToken,
    OAuth2Client,
    PrivateKeyJwt,
)
from requests_oauth2client.exceptions import AuthorizationResponseError, InvalidGrant, MismatchingIssuer

from agent_client import AgentClient, describe, thumbprint_okp
from conftest import TIMEOUT_SECS, BoundedSession, _normalise_base_url
from oauth_setup import REDIRECT_URI, load_dev_vars, paid_overseer

NONCE_ENV = "AGENT_ID_NONCE_BASE_URL"
FULL_SCOPE = "id name description pub_key subscription"
AGENT_NAME = "interop agent"
AGENT_DESCRIPTION = "approves OAuth requests of third-party libraries"
DISCOVERY_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/v1/oauth/.well-known/openid-configuration",
)
ENDPOINT_MEMBERS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "revocation_endpoint",
                    "introspection_endpoint", "jwks_uri")


# --------------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------------

class Recorder(HTTPAdapter):
    """A transport adapter keeping every exchange the library makes, retries included (the DPoP
    nonce retry of a ``DPoPToken`` re-sends through the adapter, bypassing session hooks)."""

    def __init__(self):
        super().__init__()
        self.responses: list[requests.Response] = []

    def send(self, request, *args, **kwargs):
        response = super().send(request, *args, **kwargs)
        self.responses.append(response)
        return response

    def last(self, path: str) -> requests.Response:
        for resp in reversed(self.responses):
            if urllib.parse.urlsplit(resp.request.url).path == path:
                return resp
        raise AssertionError(f"no recorded exchange with {path}")

    def all(self, path: str) -> list[requests.Response]:
        return [r for r in self.responses if urllib.parse.urlsplit(r.request.url).path == path]


def library_session(base_url: str) -> tuple[BoundedSession, Recorder]:
    """A session for the library: loopback base URL only, 5 s timeout per request, recorded."""
    session = BoundedSession(base_url)
    session.max_redirects = 0  # Session.get() asks to follow redirects: never leave the base URL that way
    recorder = Recorder()
    session.mount("http://", recorder)
    session.mount("https://", recorder)
    return session, recorder


class RelyingParty:
    """One registered OAuth client driven by requests-oauth2client (its key never leaves the library)."""

    def __init__(self, base_url: str, overseer, setup_http: requests.Session, *, scope=None,
                 name: str = "requests-oauth2client app"):
        self.base_url = base_url
        self.session, self.recorder = library_session(base_url)
        self.key = jwskate.Jwk.generate(alg="EdDSA", crv="Ed25519").with_kid_thumbprint()
        self.registered = overseer.register_client(setup_http, self.key["x"], name=name, scope=scope)
        self.client_id = self.registered["id"]
        self.client = OAuth2Client.from_discovery_endpoint(
            url=base_url + "/.well-known/oauth-authorization-server",
            issuer=base_url,
            auth=PrivateKeyJwt(self.client_id, self.key, alg="EdDSA"),
            session=self.session,
            redirect_uri=REDIRECT_URI,
            testing=True,  # plain http on loopback: skip the library's https-only endpoint checks
        )

    def authorization_request(self, scope: str = FULL_SCOPE, dpop_key: DPoPKey | None = None) -> AuthorizationRequest:
        """Library-generated request: PKCE S256 verifier/challenge, random state, dpop_jkt of the key."""
        azr = self.client.authorization_request(
            scope=scope,
            dpop=dpop_key is not None,
            dpop_key=dpop_key,
            authorization_response_iss_parameter_supported=self.client.authorization_response_iss_parameter_supported,
        )
        assert azr.code_challenge_method == "S256" and azr.code_challenge and azr.state
        return azr

    def raw_json(self, path: str) -> dict:
        resp = self.recorder.last(path)
        return resp.json()


def eddsa_dpop_key() -> DPoPKey:
    return DPoPKey(jwskate.Jwk.generate(alg="EdDSA", crv="Ed25519"), alg="EdDSA")


def approve_post(agent: AgentClient, azr: AuthorizationRequest, *, mode: str = "bearer") -> str:
    """The agent approves with POST /v1/oauth/authorize (session Bearer or its DPoP proof) using the
    parameters generated by the library; returns ``redirect_to`` (api.md 2.11)."""
    headers = agent.bearer() if mode == "bearer" else {"DPoP": agent.dpop_proof("POST", "/v1/oauth/authorize")}
    body = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in azr.args.items()}
    resp = agent.request("POST", "/v1/oauth/authorize", json=body, headers=headers)
    assert resp.status_code == 200, f"authorize ({mode}) failed\n{describe(resp)}"
    body = resp.json()
    issuer = agent.base_url
    assert body.get("success") is True, describe(resp)
    assert body["code"] == body["authorization_code"], describe(resp)
    assert (body["redirect_uri"], body["state"], body["iss"], body["expires_in"]) == (
        REDIRECT_URI, azr.state, issuer, 600), describe(resp)
    assert body["redirect_to"].startswith(REDIRECT_URI + "?"), describe(resp)
    return body["redirect_to"]


def approve_get(agent: AgentClient, azr: AuthorizationRequest) -> str:
    """The agent opens the library's authorization URL with GET and a DPoP proof: 303 to the client."""
    proof = agent.dpop_proof("GET", "/v1/oauth/authorize")  # htu without the query (security.md 2.2)
    resp = agent.http.get(azr.uri, headers={"DPoP": proof}, allow_redirects=False)
    assert resp.status_code == 303, f"GET authorize did not redirect\n{describe(resp)}"
    location = resp.headers.get("Location", "")
    assert location.startswith(REDIRECT_URI + "?"), describe(resp)
    assert resp.headers.get("Cache-Control") == "no-store", describe(resp)
    assert resp.json() == {"success": True, "redirect_to": location}, describe(resp)
    return location


def assert_token_response(rp: RelyingParty, token, *, scope: str, dpop_key: DPoPKey) -> dict:
    """Library result and raw wire answer of a successful token request (api.md 2.11)."""
    assert isinstance(token, DPoPToken), f"library did not build a DPoP token: {token!r}"
    assert token.token_type == "DPoP" and token.scope == scope and token.refresh_token
    raw_resp = rp.recorder.last("/v1/oauth/token")
    raw = raw_resp.json()
    assert raw["token_type"] == "DPoP" and raw["expires_in"] == 300 and raw["scope"] == scope, describe(raw_resp)
    assert raw["access_token"] == token.access_token and raw["refresh_token"] == token.refresh_token
    assert raw_resp.headers.get("Cache-Control") == "no-store", describe(raw_resp)
    assert raw_resp.headers.get("Pragma") == "no-cache", describe(raw_resp)
    # RFC 9068 access token, verified with the key the library fetched from jwks_uri.
    jwt = jwskate.SignedJwt(token.access_token)
    assert jwt.headers["typ"] == "at+jwt" and jwt.headers["alg"] == "EdDSA"
    jwk = rp.client.authorization_server_jwks.get_jwk_by_kid(jwt.headers["kid"])
    assert jwt.verify_signature(jwk, alg="EdDSA"), "access token does not verify with the published JWKS"
    claims = jwt.claims
    assert claims["iss"] == rp.base_url and claims["aud"] == rp.client_id == claims["client_id"]
    assert claims["exp"] - claims["iat"] == 300 and claims["scope"] == scope
    assert claims["cnf"] == {"jkt": dpop_key.dpop_jkt}, "access token is not bound to the library's DPoP key"
    return raw


def expected_userinfo(agent: AgentClient, scope: str, oauth_count: int = 1) -> dict:
    granted = scope.split()
    claims = {"sub": agent.agent_id}
    if "id" in granted:
        claims["id"] = agent.agent_id
    if "name" in granted:
        claims["name"] = AGENT_NAME
    if "description" in granted:
        claims["description"] = AGENT_DESCRIPTION
    if "pub_key" in granted:
        claims["public_key"] = agent.key.x
    if "subscription" in granted:  # an unclaimed agent is FREE: 10 approvals per calendar month
        claims.update(tier="FREE", oauth_count=oauth_count, oauth_limit=10, billing_period_end=None)
    return claims


def code_flow(rp: RelyingParty, agent: AgentClient, *, scope: str = FULL_SCOPE, dpop_key=None,
              approval: str = "bearer"):
    """Authorize (the agent approves) and exchange the code with the library; returns (token, azr)."""
    dpop_key = dpop_key or eddsa_dpop_key()
    azr = rp.authorization_request(scope, dpop_key)
    callback = approve_get(agent, azr) if approval == "get" else approve_post(agent, azr, mode=approval)
    response = azr.validate_callback(callback)  # state + iss (RFC 9207) checked by the library
    assert response.dpop_key is dpop_key and response.code_verifier == azr.code_verifier
    token = rp.client.authorization_code(response)  # private_key_jwt + DPoP proof with dpop_key
    assert_token_response(rp, token, scope=scope, dpop_key=dpop_key)
    return token, azr


def introspect(rp: RelyingParty, token: str) -> dict:
    result = rp.client.introspect_token(token)
    resp = rp.recorder.last("/v1/oauth/introspect")
    assert resp.status_code == 200 and resp.headers.get("Cache-Control") == "no-store", describe(resp)
    return result


def revoke(rp: RelyingParty, token: str, hint: str | None = None) -> None:
    assert rp.client.revoke_token(token, token_type_hint=hint) is True
    resp = rp.recorder.last("/v1/oauth/revoke")
    assert resp.status_code == 200 and resp.json() == {}, describe(resp)


def userinfo_status(rp: RelyingParty, token: DPoPToken) -> requests.Response:
    """GET userinfo with the library's auth handler (Authorization: DPoP + proof with ath)."""
    return rp.session.get(rp.client.userinfo_endpoint, auth=token)


def assert_userinfo_challenge(resp: requests.Response, error: str) -> None:
    """401 at userinfo: ``WWW-Authenticate: DPoP algs="EdDSA Ed25519 ES256"`` + ``error`` (api.md 1.7.3)."""
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("DPoP ") and 'algs="EdDSA Ed25519 ES256"' in www, describe(resp)
    assert f'error="{error}"' in www, describe(resp)


def userinfo_refused(rp: RelyingParty, token: DPoPToken) -> requests.Response:
    """GET userinfo with a proof from the library's key, without its auth handler: the handler reads
    every 401 carrying a DPoP challenge as a nonce request (and raises MissingDPoPNonce when the 401 is
    a plain invalid_token), so expected refusals are sent like this."""
    url = rp.client.userinfo_endpoint
    ath = BinaPy(token.access_token).to("sha256").to("b64u").decode()
    proof = token.dpop_key.proof(htm="GET", htu=url, ath=ath)
    return rp.session.get(url, headers={"Authorization": f"DPoP {token.access_token}", "DPoP": str(proof)})


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev_vars():
    return load_dev_vars()


@pytest.fixture(scope="module")
def setup_http(base_url):
    with BoundedSession(base_url) as session:
        yield session


@pytest.fixture(scope="module")
def overseer(base_url, setup_http, dev_vars):
    """One overseer per module on a paid tier (PRO: unlimited clients), set up by signed webhook."""
    return paid_overseer(setup_http, base_url, dev_vars)


@pytest.fixture
def rp(base_url, overseer, setup_http):
    """A fresh client registered for this test, driven by requests-oauth2client."""
    return RelyingParty(base_url, overseer, setup_http)


@pytest.fixture
def approver(new_agent) -> AgentClient:
    """A fresh agent that approves the authorization requests."""
    return new_agent(AGENT_NAME, AGENT_DESCRIPTION)


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_with_the_library(base_url, path):
    session, recorder = library_session(base_url)
    client = OAuth2Client.from_discovery_endpoint(url=base_url + path, issuer=base_url, client_id="discovery-only",
                                                  session=session, testing=True)
    doc = recorder.last(path).json()
    assert doc["issuer"] == client.issuer == base_url
    for member in ENDPOINT_MEMBERS:
        assert doc[member].startswith(base_url + "/"), f"{member} {doc[member]!r} is not under the issuer"
    assert tuple(getattr(client, m) for m in ENDPOINT_MEMBERS) == tuple(doc[m] for m in ENDPOINT_MEMBERS)
    assert client.authorization_response_iss_parameter_supported is True
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["private_key_jwt", "none"]
    assert {"EdDSA", "Ed25519", "ES256"} <= set(doc["dpop_signing_alg_values_supported"])
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert "openid" not in doc["scopes_supported"]
    # The library fetched jwks_uri: the server's Ed25519 signing key(s) first, then the ES256
    # key(s) of OAUTH_ES256_SIGNING_KEY (set in development); kid = RFC 7638 thumbprint.
    keys = list(client.authorization_server_jwks.jwks)
    assert keys and keys[0]["kty"] == "OKP", keys
    kinds = [jwk["kty"] for jwk in keys]
    assert kinds == sorted(kinds, key=lambda k: k != "OKP"), "Ed25519 keys come first"
    for jwk in keys:
        if jwk["kty"] == "OKP":
            assert (jwk["crv"], jwk.get("alg"), jwk.get("use")) == ("Ed25519", "EdDSA", "sig")
            assert jwk["kid"] == thumbprint_okp(jwk["x"]) == jwk.thumbprint()
        else:
            assert (jwk["kty"], jwk["crv"], jwk.get("alg"), jwk.get("use")) == ("EC", "P-256", "ES256", "sig")
            assert jwk["kid"] == jwk.thumbprint() and "d" not in jwk
    # All three paths serve the same document.
    other = {p: session.get(base_url + p).json() for p in DISCOVERY_PATHS}
    assert all(d == doc for d in other.values()), other


def test_discovery_from_issuer_uses_openid_configuration(base_url):
    session, recorder = library_session(base_url)
    client = OAuth2Client.from_discovery_endpoint(issuer=base_url, client_id="discovery-only", session=session,
                                                  testing=True)
    assert urllib.parse.urlsplit(recorder.responses[0].request.url).path == "/.well-known/openid-configuration"
    assert client.issuer == base_url and client.token_endpoint == base_url + "/v1/oauth/token"


# --------------------------------------------------------------------------------------------------
# Authorization code + PKCE + DPoP, userinfo, introspection
# --------------------------------------------------------------------------------------------------

def test_code_flow_bearer_approval_eddsa_dpop(rp, approver):
    dpop_key = eddsa_dpop_key()
    token, _ = code_flow(rp, approver, dpop_key=dpop_key, approval="bearer")

    # Userinfo: the library's own call (POST) and a GET with its auth handler; both carry a proof with ath.
    assert rp.client.userinfo(token) == expected_userinfo(approver, FULL_SCOPE)
    resp = userinfo_status(rp, token)
    assert resp.status_code == 200, describe(resp)
    assert resp.json() == expected_userinfo(approver, FULL_SCOPE)
    proof = jwskate.SignedJwt(resp.request.headers["DPoP"])
    assert resp.request.headers["Authorization"] == f"DPoP {token.access_token}"
    assert proof.alg == "EdDSA" and proof.claims["htm"] == "GET"
    assert proof.claims["htu"] == rp.base_url + "/v1/oauth/userinfo"
    assert proof.claims["ath"] == BinaPy(token.access_token).to("sha256").to("b64u").decode()

    at = introspect(rp, token.access_token)
    assert at["active"] is True and at["token_type"] == "DPoP", at
    assert at["cnf"] == {"jkt": dpop_key.dpop_jkt}, at
    assert (at["client_id"], at["aud"], at["sub"], at["iss"], at["scope"]) == (
        rp.client_id, rp.client_id, approver.agent_id, rp.base_url, FULL_SCOPE), at
    assert at["username"] == AGENT_NAME and at["exp"] - at["iat"] == 300, at
    assert set(at) == {"active", "token_type", "client_id", "sub", "aud", "iss", "scope", "exp", "iat", "jti",
                       "cnf", "username"}, at
    assert at["jti"] == jwskate.SignedJwt(token.access_token).claims["jti"], at

    rt = introspect(rp, token.refresh_token)
    assert rt["active"] is True and rt["token_type"] == "refresh_token", rt
    assert (rt["client_id"], rt["sub"], rt["scope"]) == (rp.client_id, approver.agent_id, FULL_SCOPE), rt
    assert set(rt) == {"active", "token_type", "client_id", "sub", "scope", "exp", "iat"}, rt

    # The client-assertion audience of requests-oauth2client is the endpoint URL.
    for path in ("/v1/oauth/token", "/v1/oauth/introspect"):
        sent = urllib.parse.parse_qs(rp.recorder.last(path).request.body)
        assertion = jwskate.SignedJwt(sent["client_assertion"][0])
        assert assertion.alg == "EdDSA" and assertion.claims["aud"] == rp.base_url + path


def test_code_flow_dpop_approval_es256_dpop(rp, approver):
    dpop_key = DPoPKey.generate(alg="ES256")
    token, _ = code_flow(rp, approver, scope="id name", dpop_key=dpop_key, approval="dpop")
    assert jwskate.SignedJwt(rp.recorder.last("/v1/oauth/token").request.headers["DPoP"]).alg == "ES256"
    assert rp.client.userinfo(token) == expected_userinfo(approver, "id name")
    at = introspect(rp, token.access_token)
    assert at["active"] is True and at["cnf"] == {"jkt": dpop_key.dpop_jkt} and at["scope"] == "id name", at


def test_get_authorize_redirect_validated_by_the_library(rp, approver):
    dpop_key = eddsa_dpop_key()
    azr = rp.authorization_request("id pub_key", dpop_key)
    location = approve_get(approver, azr)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert params["iss"] == [rp.base_url] and params["state"] == [azr.state], location
    # The library refuses a response whose iss is not the issuer (RFC 9207) ...
    forged_params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query), iss="http://evil.example")
    forged = REDIRECT_URI + "?" + urllib.parse.urlencode(forged_params)
    with pytest.raises(MismatchingIssuer):
        azr.validate_callback(forged)
    # ... and accepts the real one.
    token = rp.client.authorization_code(azr.validate_callback(location))
    assert_token_response(rp, token, scope="id pub_key", dpop_key=dpop_key)
    assert rp.client.userinfo(token) == expected_userinfo(approver, "id pub_key")


def test_get_authorize_error_is_redirected_with_state_and_iss(rp, approver):
    azr = rp.authorization_request("id openid", eddsa_dpop_key())  # openid is not a supported scope
    resp = approver.http.get(azr.uri, headers={"DPoP": approver.dpop_proof("GET", "/v1/oauth/authorize")},
                             allow_redirects=False)
    assert resp.status_code == 303, describe(resp)
    location = resp.headers.get("Location", "")
    assert location.startswith(REDIRECT_URI + "?"), describe(resp)
    with pytest.raises(AuthorizationResponseError) as raised:  # after the library checked iss and state
        azr.validate_callback(location)
    assert raised.value.error == "invalid_scope", location


def test_code_is_bound_to_dpop_jkt(rp, approver):
    bound = eddsa_dpop_key()
    azr = rp.authorization_request("id", bound)
    response = azr.validate_callback(approve_post(approver, azr))
    with pytest.raises(InvalidGrant):  # proof with another key than dpop_jkt (security.md A8)
        rp.client.authorization_code(response.code, code_verifier=response.code_verifier,
                                     redirect_uri=REDIRECT_URI, dpop=True, dpop_key=eddsa_dpop_key())
    token = rp.client.authorization_code(response)  # the code was not consumed by the refused attempt
    assert_token_response(rp, token, scope="id", dpop_key=bound)


def test_code_reuse_is_refused_and_revokes_the_grant(rp, approver):
    dpop_key = eddsa_dpop_key()
    azr = rp.authorization_request("id", dpop_key)
    response = azr.validate_callback(approve_post(approver, azr))
    token = rp.client.authorization_code(response)
    with pytest.raises(InvalidGrant):
        rp.client.authorization_code(response)
    assert introspect(rp, token.access_token) == {"active": False}
    assert introspect(rp, token.refresh_token) == {"active": False}
    with pytest.raises(InvalidGrant):
        rp.client.refresh_token(token)


# --------------------------------------------------------------------------------------------------
# Refresh rotation, revocation
# --------------------------------------------------------------------------------------------------

def test_refresh_rotation_and_reuse_detection(rp, approver):
    dpop_key = eddsa_dpop_key()
    first, _ = code_flow(rp, approver, scope="id name", dpop_key=dpop_key)

    second = rp.client.refresh_token(first)  # same DPoP key (RFC 9449 §5), scope kept
    assert_token_response(rp, second, scope="id name", dpop_key=dpop_key)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert rp.client.userinfo(second) == expected_userinfo(approver, "id name")
    assert introspect(rp, first.refresh_token) == {"active": False}  # rotated
    assert introspect(rp, second.refresh_token)["active"] is True

    narrowed = rp.client.refresh_token(second, scope="id")  # may only narrow (security.md F7)
    assert narrowed.scope == "id" and rp.raw_json("/v1/oauth/token")["scope"] == "id"
    assert rp.client.userinfo(narrowed) == expected_userinfo(approver, "id")

    # Presenting a rotated refresh token: invalid_grant, and the whole grant is revoked.
    with pytest.raises(InvalidGrant):
        rp.client.refresh_token(first)
    with pytest.raises(InvalidGrant):
        rp.client.refresh_token(narrowed)
    for t in (second.access_token, narrowed.access_token, narrowed.refresh_token):
        assert introspect(rp, t) == {"active": False}
    resp = userinfo_refused(rp, narrowed)
    assert resp.status_code == 401 and resp.json().get("error") == "invalid_token", describe(resp)
    assert_userinfo_challenge(resp, "invalid_token")


def test_revocation_and_introspection(rp, approver):
    dpop_key = eddsa_dpop_key()
    token, _ = code_flow(rp, approver, scope="id", dpop_key=dpop_key)

    # Revoking the access token affects only that token (api.md 5.11).
    rp.client.revoke_access_token(token)
    resp = rp.recorder.last("/v1/oauth/revoke")
    assert resp.status_code == 200 and resp.json() == {}, describe(resp)
    assert introspect(rp, token.access_token) == {"active": False}
    resp = userinfo_refused(rp, token)
    assert resp.status_code == 401 and resp.json().get("error") == "invalid_token", describe(resp)
    assert_userinfo_challenge(resp, "invalid_token")
    assert introspect(rp, token.refresh_token)["active"] is True

    refreshed = rp.client.refresh_token(token)
    assert_token_response(rp, refreshed, scope="id", dpop_key=dpop_key)
    assert introspect(rp, refreshed.access_token)["active"] is True

    # Revoking the refresh token revokes the grant: every token of it.
    rp.client.revoke_refresh_token(refreshed)
    resp = rp.recorder.last("/v1/oauth/revoke")
    assert resp.status_code == 200 and resp.json() == {}, describe(resp)
    assert introspect(rp, refreshed.access_token) == {"active": False}
    assert introspect(rp, refreshed.refresh_token) == {"active": False}
    with pytest.raises(InvalidGrant):
        rp.client.refresh_token(refreshed)

    # Unknown tokens: always 200 {} (RFC 7009 §2.2) and never active.
    revoke(rp, "not-a-token")
    revoke(rp, refreshed.refresh_token, "refresh_token")  # already revoked: still 200 {}
    assert introspect(rp, "not-a-token") == {"active": False}


def test_tokens_of_another_client_are_not_visible(rp, approver, base_url, overseer, setup_http):
    token, _ = code_flow(rp, approver, scope="id")
    other = RelyingParty(base_url, overseer, setup_http, name="another requests-oauth2client app")
    assert introspect(other, token.access_token) == {"active": False}
    assert introspect(other, token.refresh_token) == {"active": False}
    revoke(other, token.refresh_token)  # 200 {} and nothing happens
    assert introspect(rp, token.refresh_token)["active"] is True
    with pytest.raises(InvalidGrant):  # with a DPoP proof (the client requires one), still not its token
        other.client.refresh_token(token)


# --------------------------------------------------------------------------------------------------
# Server-required DPoP nonces: the library's automatic use_dpop_nonce retry
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nonce_base_url():
    raw = os.environ.get(NONCE_ENV)
    if not raw:
        pytest.skip(f"{NONCE_ENV} not set (server with DPOP_REQUIRE_NONCE=true)")
    return _normalise_base_url(raw)


def test_nonce_server_automatic_retry_at_token_and_userinfo(nonce_base_url, dev_vars):
    with BoundedSession(nonce_base_url) as http:
        overseer = paid_overseer(http, nonce_base_url, dev_vars)
        rp = RelyingParty(nonce_base_url, overseer, http, name="nonce client")
        agent = AgentClient(nonce_base_url, http, timeout=TIMEOUT_SECS)
        agent.register(AGENT_NAME, AGENT_DESCRIPTION)

        dpop_key = eddsa_dpop_key()
        azr = rp.authorization_request("id name", dpop_key)
        response = azr.validate_callback(approve_post(agent, azr, mode="bearer"))
        token = rp.client.authorization_code(response)

        # Token endpoint: 400 use_dpop_nonce + DPoP-Nonce, then the library retried with the nonce.
        exchanges = rp.recorder.all("/v1/oauth/token")
        assert len(exchanges) == 2, [describe(r) for r in exchanges]
        first, second = exchanges
        assert first.status_code == 400 and first.json().get("error") == "use_dpop_nonce", describe(first)
        nonce = first.headers.get("DPoP-Nonce")
        assert nonce, describe(first)
        assert jwskate.SignedJwt(second.request.headers["DPoP"]).claims.get("nonce") == nonce
        assert second.status_code == 200, describe(second)
        assert_token_response(rp, token, scope="id name", dpop_key=dpop_key)

        # Userinfo: 401 use_dpop_nonce with WWW-Authenticate: DPoP, then the token's hook retried.
        assert rp.client.userinfo(token) == expected_userinfo(agent, "id name")
        exchanges = rp.recorder.all("/v1/oauth/userinfo")
        assert [r.status_code for r in exchanges] == [401, 200], [describe(r) for r in exchanges]
        challenged, retried = exchanges
        assert challenged.json().get("error") == "use_dpop_nonce", describe(challenged)
        assert jwskate.SignedJwt(retried.request.headers["DPoP"]).claims.get("nonce") == challenged.headers.get(
            "DPoP-Nonce"), describe(retried)
        assert 'error="use_dpop_nonce"' in challenged.headers.get("WWW-Authenticate", ""), describe(challenged)
        assert token.dpop_key.rs_nonce == challenged.headers.get("DPoP-Nonce")

        # With the nonce cached the next calls succeed at once (nonces stay valid for minutes).
        resp = userinfo_status(rp, token)
        assert resp.status_code == 200 and resp.json() == expected_userinfo(agent, "id name"), describe(resp)
        refreshed = rp.client.refresh_token(token)
        assert_token_response(rp, refreshed, scope="id name", dpop_key=dpop_key)
        assert introspect(rp, refreshed.access_token)["active"] is True
