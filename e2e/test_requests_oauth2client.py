"""Issue 10 with an unmodified third-party client: PyPI ``requests-oauth2client`` (pinned in
requirements.txt) against the real wasm.

- The ``resource`` parameter (RFC 8707): the library's authorization request and token request
  carry it; the access token's ``aud`` is exactly the resource URI, its scope the resource's, and it
  is a Bearer JWT when neither the client, the resource nor a proof asks for DPoP
  (docs/resources.md). An unregistered resource is refused with ``invalid_target`` at both
  endpoints, as the library reads it.
- A public client (``token_endpoint_auth_method: "none"``) with DPoP end to end: the library sends
  only ``client_id`` (its ``PublicApp``), PKCE S256, ``dpop_jkt`` and proofs by its own key; the
  access token is bound to that key and so is the refresh token (RFC 9449 §5): the library's refresh
  (same key) works, a refresh with another key is refused without spending the token.

The agent approves with its DPoP proof at ``GET /v1/oauth/authorize`` (agent_client.AgentClient).
Set-up through the public API only (oauth_setup.py, ``POST /v1/overseers/me/resources``).
"""

from __future__ import annotations

import socket
import uuid

import jwskate
import pytest
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client, PrivateKeyJwt
from requests_oauth2client.exceptions import AuthorizationResponseError, InvalidGrant, InvalidTarget

from agent_client import AgentClient, describe
from conftest import BoundedSession
from oauth_setup import REDIRECT_URI, load_dev_vars, paid_overseer
from test_oauth_interop import approve_get, library_session

SCOPES = [{"name": "files:read", "description": "Read files"}, {"name": "files:write", "description": "Write files"}]


def loopback_uri(path: str = "/api") -> str:
    """A resource URI on a free loopback port (nobody needs to serve it: the tokens are checked here)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}{path}"


@pytest.fixture(scope="module")
def setup_http(base_url):
    with BoundedSession(base_url) as session:
        yield session


@pytest.fixture(scope="module")
def overseer(base_url, setup_http):
    return paid_overseer(setup_http, base_url, load_dev_vars())


@pytest.fixture(scope="module")
def resource(base_url, setup_http, overseer) -> dict:
    """A protected resource registered by the overseer (docs/resources.md, Protected resources)."""
    resp = setup_http.post(base_url + "/v1/overseers/me/resources", headers=overseer.bearer(), json={
        "uri": loopback_uri(), "name": "requests-oauth2client resource", "scopes": SCOPES,
    })
    assert resp.status_code == 201, describe(resp)
    body = resp.json()
    return body.get("resource", body)


@pytest.fixture
def approver(new_agent) -> AgentClient:
    return new_agent("resource agent", "approves resource requests")


def verified_claims(client: OAuth2Client, access_token: str) -> dict:
    """The RFC 9068 token verified with the key the library fetched from jwks_uri."""
    jwt = jwskate.SignedJwt(access_token)
    assert jwt.headers["typ"] == "at+jwt", jwt.headers
    jwk = client.authorization_server_jwks.get_jwk_by_kid(jwt.headers["kid"])
    assert jwt.verify_signature(jwk, alg=jwt.headers["alg"]), "access token does not verify with the JWKS"
    return jwt.claims


def test_resource_parameter_bearer_token(base_url, setup_http, overseer, resource, approver):
    key = jwskate.Jwk.generate(alg="EdDSA", crv="Ed25519").with_kid_thumbprint()
    registered = overseer.register_client(setup_http, key["x"], name="requests-oauth2client resource app",
                                          dpop_bound=False)
    session, recorder = library_session(base_url)
    client = OAuth2Client.from_discovery_endpoint(
        url=base_url + "/.well-known/oauth-authorization-server", issuer=base_url,
        auth=PrivateKeyJwt(registered["id"], key, alg="EdDSA"), session=session, redirect_uri=REDIRECT_URI,
        testing=True)

    azr = client.authorization_request(scope="files:read", resource=resource["uri"],
                                       authorization_response_iss_parameter_supported=True)
    assert azr.args["resource"] == resource["uri"]
    response = azr.validate_callback(approve_get(approver, azr))
    token = client.authorization_code(response, resource=resource["uri"])
    sent = recorder.last("/v1/oauth/token")
    assert f"resource={resource['uri'].replace(':', '%3A').replace('/', '%2F')}" in sent.request.body

    assert not isinstance(token, DPoPToken) and token.token_type.lower() == "bearer", describe(sent)
    assert token.scope == "files:read"
    claims = verified_claims(client, token.access_token)
    assert claims["aud"] == resource["uri"]
    assert claims["sub"] == approver.agent_id and claims["client_id"] == registered["id"]
    assert claims["scope"] == "files:read" and "cnf" not in claims
    assert claims["agent"]["oversight"] == "none", claims

    # An unregistered resource: invalid_target at authorize (redirected, read by the library) ...
    unknown = loopback_uri("/unknown")
    azr = client.authorization_request(scope="files:read", resource=unknown,
                                       authorization_response_iss_parameter_supported=True)
    resp = approver.http.get(azr.uri, headers={"DPoP": approver.dpop_proof("GET", "/v1/oauth/authorize")},
                             allow_redirects=False)
    assert resp.status_code == 303, describe(resp)
    with pytest.raises(AuthorizationResponseError) as refused:
        azr.validate_callback(resp.headers["Location"])
    assert refused.value.error == "invalid_target"
    # ... and at the token endpoint, for a resource the code was not issued for.
    azr = client.authorization_request(scope="files:read", resource=resource["uri"],
                                       authorization_response_iss_parameter_supported=True)
    response = azr.validate_callback(approve_get(approver, azr))
    with pytest.raises(InvalidTarget):
        client.authorization_code(response, resource=unknown)


def test_public_client_with_dpop(base_url, setup_http, overseer, resource, approver):
    resp = setup_http.post(base_url + "/v1/clients/register/overseer", headers=overseer.bearer(), json={
        "name": f"requests-oauth2client public {uuid.uuid4().hex[:6]}", "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none", "application_type": "web",
    })
    assert resp.status_code == 201, describe(resp)
    registered = resp.json()["client"]
    assert registered["token_endpoint_auth_method"] == "none" and registered["public_key"] is None

    session, recorder = library_session(base_url)
    client = OAuth2Client.from_discovery_endpoint(
        url=base_url + "/.well-known/oauth-authorization-server", issuer=base_url, client_id=registered["id"],
        session=session, redirect_uri=REDIRECT_URI, testing=True)
    dpop_key = DPoPKey.generate(alg="ES256")
    azr = client.authorization_request(scope="files:read files:write offline_access", resource=resource["uri"],
                                       dpop=True, dpop_key=dpop_key,
                                       authorization_response_iss_parameter_supported=True)
    response = azr.validate_callback(approve_get(approver, azr))
    token = client.authorization_code(response, resource=resource["uri"])

    # The library authenticated as a public client: client_id in the form, no assertion.
    form = recorder.last("/v1/oauth/token").request.body
    assert f"client_id={registered['id']}" in form and "client_assertion" not in form
    assert isinstance(token, DPoPToken) and token.token_type == "DPoP" and token.refresh_token
    claims = verified_claims(client, token.access_token)
    assert claims["aud"] == resource["uri"] and claims["client_id"] == registered["id"]
    assert claims["cnf"] == {"jkt": dpop_key.dpop_jkt}

    # Another key cannot use the refresh token (RFC 9449 §5) and spends nothing ...
    with pytest.raises(InvalidGrant):
        client.token_request({"grant_type": "refresh_token", "refresh_token": token.refresh_token},
                             dpop_key=DPoPKey.generate(alg="ES256"))
    # ... the library's own refresh (same key) rotates it, bound to the same key.
    refreshed = client.refresh_token(token)
    assert isinstance(refreshed, DPoPToken) and refreshed.dpop_key is dpop_key
    assert refreshed.refresh_token and refreshed.refresh_token != token.refresh_token
    assert verified_claims(client, refreshed.access_token)["cnf"] == {"jkt": dpop_key.dpop_jkt}
    assert recorder.last("/v1/oauth/token").status_code == 200
