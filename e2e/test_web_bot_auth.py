"""Web Bot Auth (issue 14) against the real wasm: each agent's key directory, signature-agent card
and did:web document, and POST /v1/verify/http-signature with requests signed here by an
independent RFC 9421 signer (``cryptography`` Ed25519, the signature base written out by hand)."""

import base64
import time

from agent_client import Ed25519Key
from helpers import assert_error, assert_ok

DIRECTORY_TYPE = "application/http-message-signatures-directory+json"
SIGNATURE_AGENT = '"signature-agent";key="agent1"'
AUTHORITY = '"@authority"'


def signed(agent, *, created=None, expires=None, tag="web-bot-auth", key=None, keyid=None,
           components=(AUTHORITY, SIGNATURE_AGENT), authority="shop.example"):
    """The verification endpoint's body for a request to ``authority`` signed by ``key``."""
    key = key or agent.key
    now = int(time.time())
    created = now if created is None else created
    expires = created + 60 if expires is None else expires
    card = f"{agent.base_url}/v1/agents/{agent.agent_id}/card"
    params = (f"({' '.join(components)});created={created};expires={expires};"
              f'keyid="{keyid or key.thumbprint()}";alg="ed25519";tag="{tag}"')
    lines = []
    for c in components:
        lines.append(f"{c}: {authority}" if c == AUTHORITY else f'{c}: "{card}"')
    lines.append(f'"@signature-params": {params}')
    signature = base64.b64encode(key.sign("\n".join(lines).encode("ascii"))).decode("ascii")
    return {"signature_input": f"sig1={params}", "signature": f"sig1=:{signature}:",
            "signature_agent": f'agent1="{card}"', "authority": authority}


def verify(agent, body):
    return agent.request("POST", "/v1/verify/http-signature", json=body)


def directory(agent):
    return agent.request("GET", f"/v1/agents/{agent.agent_id}/http-message-signatures-directory")


def test_directory_card_and_did_document(new_agent):
    agent = new_agent(name="Crawler")
    resp = directory(agent)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == DIRECTORY_TYPE
    assert resp.headers["cache-control"] == "public, max-age=300"
    assert resp.json() == {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": agent.key.x,
                                     "kid": agent.key.thumbprint()}]}

    card_url = f"{agent.base_url}/v1/agents/{agent.agent_id}/card"
    card = agent.request("GET", card_url)
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["client_id"] == card_url
    assert body["client_name"] == "Crawler"
    assert body["jwks_uri"] == f"{agent.base_url}/v1/agents/{agent.agent_id}/http-message-signatures-directory"
    assert isinstance(body["web_bot_auth"], dict)
    assert body["accountability"] == {"overseen_by": "none", "since": None}
    host = agent.base_url.split("://", 1)[1].replace(":", "%3A")
    assert body["did"] == f"did:web:{host}:v1:agents:{agent.agent_id}"

    did = agent.request("GET", f"/v1/agents/{agent.agent_id}/did.json")
    assert did.status_code == 200, did.text
    assert did.headers["content-type"] == "application/did+json"
    assert did.json()["id"] == body["did"]
    assert did.json()["verificationMethod"][0]["publicKeyJwk"]["x"] == agent.key.x


def test_a_signed_request_verifies_as_its_agent(new_agent):
    agent = new_agent(name="Crawler")
    body = assert_ok(verify(agent, signed(agent)))
    assert body["valid"] is True
    assert body["agent"]["id"] == agent.agent_id
    assert body["keyid"] == agent.key.thumbprint()
    assert body["key_status"] == "current"
    assert body["accountability"]["overseen_by"] == "none"


def test_each_bad_input_is_refused_with_its_code(new_agent):
    agent = new_agent(name="Crawler")
    now = int(time.time())
    cases = [
        (signed(agent, tag="other"), 400, "invalid_signature_tag"),
        (signed(agent, created=now - 120, expires=now - 60), 400, "signature_expired"),
        (signed(agent, created=now + 600, expires=now + 660), 400, "signature_not_yet_valid"),
        (signed(agent, components=(SIGNATURE_AGENT,)), 400, "authority_not_covered"),
        (signed(agent, components=(AUTHORITY,)), 400, "signature_agent_not_covered"),
        (signed(agent, keyid=Ed25519Key.generate().thumbprint()), 404, "unknown_key"),
        (signed(agent, key=Ed25519Key.generate(), keyid=agent.key.thumbprint()), 400, "signature_mismatch"),
        (dict(signed(agent), signature_input="sig1=(\"@authority\""), 400, "malformed_signature"),
        (dict(signed(agent), signature="sig1=not-a-byte-sequence"), 400, "malformed_signature"),
        (dict(signed(agent), authority="elsewhere.example"), 400, "signature_mismatch"),
    ]
    for body, status, code in cases:
        assert_error(verify(agent, body), status, code)


def test_rotation_overlap_and_immediate_removal(new_agent):
    agent = new_agent(name="Crawler")
    old = agent.key
    in_flight = signed(agent)
    agent.rotate_key()
    kids = [k["kid"] for k in directory(agent).json()["keys"]]
    assert kids == [agent.key.thumbprint(), old.thumbprint()]
    assert assert_ok(verify(agent, in_flight))["key_status"] == "previous"

    removed = agent.request("DELETE", f"/v1/agents/me/keys/{old.thumbprint()}", headers=agent.bearer())
    assert assert_ok(removed)["removed"] == old.thumbprint()
    assert_error(verify(agent, in_flight), 404, "unknown_key")
    assert [k["kid"] for k in directory(agent).json()["keys"]] == [agent.key.thumbprint()]
    assert assert_ok(verify(agent, signed(agent)))["key_status"] == "current"
