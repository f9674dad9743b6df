"""Client ID Metadata Documents against the real wasm (issue 10 item 3; docs/resources.md
"Client ID Metadata Documents").

A loopback document server (``http.server`` in a thread) serves the client's metadata document
and JWK set; the e2e server runs with ``CIMD_ALLOW_LOOPBACK=true`` (scripts/test.sh), so
``http://127.0.0.1:PORT/...`` may be a ``client_id``. The client authenticates at the token
endpoint with RS256 ``private_key_jwt`` through ``jwks_uri`` — the way ChatGPT's CIMD client
does — with RSA and P-256 keys made by the ``cryptography`` package, which the Worker verifies
through WebCrypto. The SSRF refusals reachable here are checked too: a redirect, an oversized
document, a wrong ``client_id``, a wrong media type, and IP literals other than loopback itself
(never fetched, even with the loopback setting).

Loopback only; a few dozen requests, 5 s timeout each.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from agent_client import Ed25519Key, b64e, build_dpop_proof, build_jws, describe
from conftest import TIMEOUT_SECS

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REDIRECT = "http://127.0.0.1:8790/callback"


class DocumentServer:
    """Serves ``routes[path] = (status, headers, body)`` on 127.0.0.1 and records every path
    requested."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict, bytes]] = {}
        self.requested: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requested.append(self.path)
                status, headers, body = outer.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def json(self, path: str, doc: dict, status: int = 200, content_type: str = "application/json",
             extra: dict | None = None) -> str:
        self.routes[path] = (status, {"Content-Type": content_type, **(extra or {})},
                             json.dumps(doc).encode())
        return self.url(path)

    def hits(self, path: str) -> int:
        return self.requested.count(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def docs():
    server = DocumentServer()
    yield server
    server.close()


def b64_int(n: int) -> str:
    return b64e(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def metadata(client_id: str, **members) -> dict:
    doc = {"client_id": client_id, "client_name": "e2e CIMD client", "redirect_uris": [REDIRECT],
           "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
           "token_endpoint_auth_method": "none"}
    doc.update(members)
    return doc


def authorize(http, base_url: str, agent, client_id: str):
    verifier = b64e(secrets.token_bytes(32))
    challenge = b64e(hashlib.sha256(verifier.encode()).digest())
    body = {"client_id": client_id, "redirect_uri": REDIRECT, "scope": "id name", "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"}
    return http.post(base_url + "/v1/oauth/authorize", json=body, headers=agent.bearer()), verifier


def exchange(http, base_url: str, client_id: str, code: str, verifier: str, header: dict, sign) -> object:
    now = int(time.time())
    url = base_url + "/v1/oauth/token"
    claims = {"iss": client_id, "sub": client_id, "aud": url, "iat": now, "exp": now + 60,
              "jti": str(uuid.uuid4())}
    assertion = build_jws(header, claims, sign)
    dpop = build_dpop_proof(Ed25519Key.generate(), "POST", url)
    return http.post(url, data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                "code_verifier": verifier, "client_id": client_id,
                                "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
                     headers={"DPoP": dpop}, timeout=TIMEOUT_SECS)


def test_discovery_advertises_metadata_documents(http, base_url):
    meta = http.get(base_url + "/.well-known/oauth-authorization-server").json()
    assert meta["client_id_metadata_document_supported"] is True
    assert {"ES256", "RS256"} <= set(meta["token_endpoint_auth_signing_alg_values_supported"])


def test_rs256_private_key_jwt_through_jwks_uri(http, base_url, agent, docs):
    """The ChatGPT case: RS256 with the keys at a jwks_uri, verified by the Worker's WebCrypto."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_numbers()
    jwks_url = docs.json("/jwks.json", {"keys": [{"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig",
                                                   "n": b64_int(pub.n), "e": b64_int(pub.e)}]},
                         content_type="application/jwk-set+json")
    client_id = docs.url("/rs256/client.json")
    docs.json("/rs256/client.json", metadata(client_id, token_endpoint_auth_method="private_key_jwt",
                                             jwks_uri=jwks_url))
    resp, verifier = authorize(http, base_url, agent, client_id)
    assert resp.status_code == 200, describe(resp)
    code = resp.json()["code"]

    def sign(data: bytes) -> bytes:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    # A signature by another RSA key is refused (and does not use up the code).
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = exchange(http, base_url, client_id, code, verifier, {"alg": "RS256", "typ": "JWT", "kid": "r1"},
                      lambda d: other.sign(d, padding.PKCS1v15(), hashes.SHA256()))
    assert (forged.status_code, forged.json().get("error")) == (401, "invalid_client"), describe(forged)

    tokens = exchange(http, base_url, client_id, code, verifier, {"alg": "RS256", "typ": "JWT", "kid": "r1"}, sign)
    assert tokens.status_code == 200, describe(tokens)
    assert tokens.json()["access_token"]
    assert docs.hits("/rs256/client.json") == 1 and docs.hits("/jwks.json") == 1


def test_es256_private_key_jwt_with_inline_jwks(http, base_url, agent, docs):
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64e(nums.x.to_bytes(32, "big")), "y": b64e(nums.y.to_bytes(32, "big"))}
    client_id = docs.url("/es256/client.json")
    docs.json("/es256/client.json", metadata(client_id, token_endpoint_auth_method="private_key_jwt",
                                             jwks={"keys": [jwk]}))
    resp, verifier = authorize(http, base_url, agent, client_id)
    assert resp.status_code == 200, describe(resp)

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    tokens = exchange(http, base_url, client_id, resp.json()["code"], verifier, {"alg": "ES256", "typ": "JWT"}, sign)
    assert tokens.status_code == 200, describe(tokens)


def refused(resp) -> None:
    assert (resp.status_code, resp.json().get("error")) == (400, "invalid_client_metadata"), describe(resp)
    assert "location" not in {k.lower() for k in resp.headers}


def test_unusable_documents_are_refused(http, base_url, agent, docs):
    # Wrong client_id.
    url = docs.json("/wrong/client.json", metadata("https://elsewhere.example.com/client.json"))
    refused(authorize(http, base_url, agent, url)[0])
    # A redirect, even to a good document on the same server, is not followed.
    good = docs.url("/target/client.json")
    docs.json("/target/client.json", metadata(good))
    docs.routes["/moved/client.json"] = (302, {"Location": good}, b"")
    refused(authorize(http, base_url, agent, docs.url("/moved/client.json"))[0])
    assert docs.hits("/target/client.json") == 0
    # Over 5 KiB, whatever Content-Length says.
    big = docs.url("/big/client.json")
    docs.json("/big/client.json", metadata(big, padding="x" * 6000))
    refused(authorize(http, base_url, agent, big)[0])
    # Not JSON by its media type.
    html = docs.url("/html/client.json")
    docs.json("/html/client.json", metadata(html), content_type="text/html")
    refused(authorize(http, base_url, agent, html)[0])
    # A client secret.
    secret = docs.url("/secret/client.json")
    docs.json("/secret/client.json", metadata(secret, client_secret="s3cret"))
    refused(authorize(http, base_url, agent, secret)[0])


def test_ip_literals_other_than_loopback_are_never_fetched(http, base_url, agent, docs):
    port = docs.port
    for url in [f"http://10.0.0.1:{port}/c.json", f"http://[::ffff:127.0.0.1]:{port}/c.json",
                f"http://2130706433:{port}/c.json", f"http://localhost:{port}/c.json",
                f"https://169.254.169.254/latest/meta-data/c.json"]:
        resp, _ = authorize(http, base_url, agent, url)
        refused(resp)
    assert docs.requested == []


def test_a_public_client_document_is_cached(http, base_url, agent, docs):
    client_id = docs.url("/public/client.json")
    docs.json("/public/client.json", metadata(client_id), extra={"Cache-Control": "max-age=600"})
    for _ in range(2):
        resp, _ = authorize(http, base_url, agent, client_id)
        assert resp.status_code == 200, describe(resp)
    assert docs.hits("/public/client.json") == 1
