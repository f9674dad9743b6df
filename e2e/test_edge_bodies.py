"""Request bodies without a declared length (chunked transfer coding) through the real edge.

A body with ``Content-Length`` is read in one ``arrayBuffer()``; one without is read chunk by
chunk and refused once it passes the limit (api.md 1.3, security.md G04). Both must answer alike.
"""

import json

from agent_client import Ed25519Key
from helpers import assert_error, assert_ok

INITIATE = "/v1/agents/register/initiate"
LIMIT = 65_536


def _chunked(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _padded(size: int) -> bytes:
    data = json.dumps({"name": "chunked agent", "public_key": Ed25519Key.generate().x}).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


def _post_chunked(http, base_url, data: bytes):
    resp = http.post(base_url + INITIATE, data=_chunked(data), headers={"Content-Type": "application/json"})
    sent = resp.request.headers
    assert sent.get("Transfer-Encoding") == "chunked" and "Content-Length" not in sent, sent
    return resp


def test_chunked_body_at_the_limit_is_accepted(http, base_url):
    assert_ok(_post_chunked(http, base_url, _padded(LIMIT)), 202)


def test_chunked_body_past_the_limit_is_413(http, base_url):
    assert_error(_post_chunked(http, base_url, _padded(LIMIT + 1)), 413, "payload_too_large")


def test_small_chunked_body_is_read_whole(http, base_url):
    data = json.dumps({"name": "small chunked", "public_key": Ed25519Key.generate().x}).encode()
    resp = http.post(base_url + INITIATE, data=_chunked(data, 7), headers={"Content-Type": "application/json"})
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert assert_ok(resp, 202)["challenge_data"]
