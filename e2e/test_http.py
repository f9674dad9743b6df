"""Generic HTTP handling and the bad-input catalogue over real HTTP
(api.md §1, §2.1-2.3; security.md §17.1, §17.2, §17.4, §17.5)."""

import base64
import http.client as httpclient
import json
import os
import urllib.parse
import uuid

import pytest

from agent_client import Ed25519Key, b64e, describe, flip_bit
from helpers import (CSP_JSON, assert_dpop_challenge, assert_error, assert_ok, assert_uuid4, json_body)

INITIATE = "/v1/agents/register/initiate"
EXPECTED_ENDPOINTS = {
    "agents": "/v1/agents", "overseers": "/v1/overseers", "clients": "/v1/clients",
    "subscriptions": "/v1/subscriptions", "webhooks": "/v1/webhooks", "oauth": "/v1/oauth",
    "discovery": "/.well-known/oauth-authorization-server",
}


def initiate_body(key=None, **fields):
    body = {"name": "http agent", "public_key": (key or Ed25519Key.generate()).x}
    body.update(fields)
    return body


def post_raw(http, url, data, content_type="application/json", headers=None):
    hdrs = {} if content_type is None else {"Content-Type": content_type}
    hdrs.update(headers or {})
    return http.post(url, data=data, headers=hdrs)


# --------------------------------------------------------------------------------------------------
# Headers on every response (api.md 1.5, 1.7)
# --------------------------------------------------------------------------------------------------

SAMPLE_REQUESTS = [
    ("GET", "/health", None),
    ("GET", "/v1", None),
    ("GET", "/v1/no-such-endpoint", None),
    ("DELETE", "/health", None),
    ("GET", "/v1/agents/login", None),
    ("POST", INITIATE, {}),
    ("GET", "/v1/agents/me", None),
    ("GET", "/v1/agents/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", None),
    ("GET", "/.well-known/oauth-authorization-server", None),
]


@pytest.mark.parametrize("method,path,body", SAMPLE_REQUESTS, ids=[f"{m} {p}" for m, p, _ in SAMPLE_REQUESTS])
def test_security_headers_on_every_response(http, base_url, method, path, body):
    incoming = str(uuid.uuid4())
    resp = http.request(method, base_url + path, json=body, headers={"X-Request-Id": incoming})
    ctx = describe(resp)
    json_body(resp)  # Content-Type application/json; charset=utf-8, object body
    request_id = resp.headers.get("X-Request-Id")
    assert_uuid4(request_id, "X-Request-Id")
    assert request_id != incoming, f"incoming X-Request-Id echoed\n{ctx}"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", ctx
    assert resp.headers.get("Referrer-Policy") == "no-referrer", ctx
    assert resp.headers.get("X-Frame-Options") == "DENY", ctx
    assert resp.headers.get("Content-Security-Policy") == CSP_JSON, ctx
    if path.startswith("/v1") or path == "/health":
        assert resp.headers.get("Cache-Control") == "no-store", ctx
    assert "Strict-Transport-Security" not in resp.headers or base_url.startswith("https"), ctx


def test_request_ids_are_fresh_per_request(http, base_url):
    ids = {http.get(base_url + "/health", headers={"X-Request-Id": "client-id-1"}).headers["X-Request-Id"]
           for _ in range(3)}
    assert len(ids) == 3
    for value in ids:
        assert_uuid4(value, "X-Request-Id")
        assert value != "client-id-1"


# --------------------------------------------------------------------------------------------------
# Service information (api.md 2.1)
# --------------------------------------------------------------------------------------------------

def test_health(http, base_url):
    body = assert_ok(http.get(base_url + "/health"))
    assert set(body) == {"success", "status", "version", "environment"}, sorted(body)
    assert body["status"] == "ok"
    assert isinstance(body["version"], str) and body["version"]
    assert body["environment"] == "development"


def test_service_info(http, base_url):
    body = assert_ok(http.get(base_url + "/v1"))
    assert set(body) == {"success", "name", "version", "issuer", "endpoints"}, sorted(body)
    assert body["name"] == "agent-id"
    assert body["issuer"] == base_url
    assert body["endpoints"] == EXPECTED_ENDPOINTS
    health = http.get(base_url + "/health").json()
    assert body["version"] == health["version"]


def test_root_in_json_mode_is_service_info(http, base_url):
    resp = http.get(base_url + "/", headers={"Accept": "application/json"})
    body = assert_ok(resp)
    assert body["name"] == "agent-id" and body["issuer"] == base_url
    assert body["endpoints"] == EXPECTED_ENDPOINTS


COMMITTED_OPENAPI = os.path.join(os.path.dirname(__file__), "..", "openapi", "openapi.json")


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_openapi_document_is_the_committed_one_from_the_static_assets(http, base_url, accept):
    """The Worker reads /openapi.json from its ASSETS binding (the build ships it there, minified)
    and answers with its own headers, whatever the client accepts."""
    resp = http.get(base_url + "/openapi.json", headers={"Accept": accept})
    ctx = describe(resp)
    assert resp.status_code == 200, ctx
    assert resp.headers.get("Content-Type") == "application/json; charset=utf-8", ctx
    assert resp.headers.get("Cache-Control") == "public, max-age=300", ctx
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", ctx
    assert resp.headers.get("Content-Security-Policy") == CSP_JSON, ctx
    assert_uuid4(resp.headers.get("X-Request-Id"), "X-Request-Id")
    with open(COMMITTED_OPENAPI, encoding="utf-8") as f:
        assert resp.json() == json.load(f), "the served document is not the committed one"
    assert b"\n" not in resp.content, "the served document keeps its indentation"


# --------------------------------------------------------------------------------------------------
# Routing: 404 and 405 (api.md 1.1, 2.12; security.md G11-G16)
# --------------------------------------------------------------------------------------------------

NOT_FOUND = [
    ("GET", "/v1/no-such-endpoint"),
    ("GET", "/v1/"),
    ("GET", "/.well-known/no-such-document"),
    ("GET", "/v1/agents"),                    # G11
    ("POST", "/v1/test-utils/reset-db"),      # G13
    ("GET", "/v1/test-utils/reset-db"),
    ("POST", "/v1/agents/respond-claim"),     # G14
    ("POST", "/v1/agents/register"),          # G15
    ("POST", "/v1/agents/complete-login"),    # G15
    ("GET", "/v1/agents/me/"),                # G16
    ("POST", "/v1/agents/login/"),
]


@pytest.mark.parametrize("method,path", NOT_FOUND, ids=[f"{m} {p}" for m, p in NOT_FOUND])
def test_unknown_and_removed_paths(http, base_url, method, path):
    resp = http.request(method, base_url + path, json={} if method == "POST" else None)
    assert_error(resp, 404, "not_found")


METHOD_NOT_ALLOWED = [
    ("DELETE", "/health", "GET"),                  # G12
    ("GET", "/v1/agents/login", "POST"),           # literal segment wins over /v1/agents/:id
    ("PUT", "/v1/agents/me", "GET"),
    ("GET", "/v1/agents/logout", "POST"),
    ("GET", INITIATE, "POST"),
]


@pytest.mark.parametrize("method,path,allowed", METHOD_NOT_ALLOWED,
                         ids=[f"{m} {p}" for m, p, _ in METHOD_NOT_ALLOWED])
def test_method_not_allowed(http, base_url, method, path, allowed):
    resp = http.request(method, base_url + path)
    assert_error(resp, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in resp.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed in allow, f"Allow header {resp.headers.get('Allow')!r} lacks {allowed}\n{describe(resp)}"
    assert method not in allow, describe(resp)


# --------------------------------------------------------------------------------------------------
# Request bodies (api.md 1.3; security.md G01-G10, G17)
# --------------------------------------------------------------------------------------------------

def test_truncated_json(http, base_url):  # G01
    assert_error(post_raw(http, base_url + INITIATE, b'{"name":"a",'), 400, "invalid_json")


def test_text_plain_body(http, base_url):  # G02
    data = json.dumps(initiate_body()).encode()
    assert_error(post_raw(http, base_url + INITIATE, data, "text/plain"), 415, "unsupported_media_type")


def test_non_utf8_charset(http, base_url):  # G03
    data = json.dumps(initiate_body()).encode()
    resp = post_raw(http, base_url + INITIATE, data, "application/json; charset=iso-8859-1")
    assert_error(resp, 415, "unsupported_media_type")


def test_media_type_is_case_insensitive_with_parameters(http, base_url):
    data = json.dumps(initiate_body()).encode()
    assert_ok(post_raw(http, base_url + INITIATE, data, "Application/JSON; charset=UTF-8"), 202)


def _padded_body(size: int) -> bytes:
    data = json.dumps(initiate_body()).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


def test_body_of_65537_bytes(http, base_url):  # G04
    data = _padded_body(65_537)
    assert len(data) == 65_537
    assert_error(post_raw(http, base_url + INITIATE, data), 413, "payload_too_large")


def test_body_of_65536_bytes_is_accepted(http, base_url):
    data = _padded_body(65_536)
    assert len(data) == 65_536
    assert_ok(post_raw(http, base_url + INITIATE, data), 202)


def test_huge_content_length_is_rejected_before_reading():  # G05
    # Needs the server without wrangler dev's request-body draining middleware: with it, a
    # request whose body never arrives waits for the body before the Worker even runs.
    base_url = os.environ.get("AGENT_ID_NODRAIN_BASE_URL")
    if not base_url:
        pytest.fail("AGENT_ID_NODRAIN_BASE_URL is not set (scripts/test.sh starts that server)")
    parts = urllib.parse.urlsplit(base_url)
    conn_cls = httpclient.HTTPSConnection if parts.scheme == "https" else httpclient.HTTPConnection
    conn = conn_cls(parts.hostname, parts.port, timeout=5)
    try:
        conn.putrequest("POST", INITIATE)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", "10000000")
        conn.endheaders(b'{"name":"a"')
        resp = conn.getresponse()
        status, raw = resp.status, resp.read()
    finally:
        conn.close()
    assert status == 413, f"POST {INITIATE} with Content-Length: 10000000 → {status} {raw[:300]!r}"
    body = json.loads(raw)
    assert body["success"] is False and body["code"] == "payload_too_large", raw


@pytest.mark.parametrize("data", [b"[]", b'"name"', b"42", b"null"], ids=["array", "string", "number", "null"])
def test_body_not_an_object(http, base_url, data):  # G06, G07
    assert_error(post_raw(http, base_url + INITIATE, data), 400, "invalid_json")


def test_duplicate_json_member(http, base_url):  # G08
    key = Ed25519Key.generate().x
    data = ('{"name":"a","name":"b","public_key":"%s"}' % key).encode()
    body = assert_error(post_raw(http, base_url + INITIATE, data), 400, "invalid_json")
    assert "duplicate" in body["error"].lower(), body


def test_name_of_wrong_type(http, base_url):  # G09
    body = assert_error(http.post(base_url + INITIATE, json=initiate_body(name=42)), 400, "invalid_field")
    assert "name" in body["error"], body


def test_description_of_wrong_type(http, base_url):
    body = assert_error(http.post(base_url + INITIATE, json=initiate_body(description=["x"])), 400, "invalid_field")
    assert "description" in body["error"], body


def test_body_not_utf8(http, base_url):  # G10
    assert_error(post_raw(http, base_url + INITIATE, b"\xff\xfe\x7b\x7d"), 400, "invalid_json")


def test_empty_body_is_an_empty_object(http, base_url):  # 1.3: no bytes = {} whatever the type
    assert_error(post_raw(http, base_url + INITIATE, b"", content_type=None), 400, "missing_field")
    assert_error(post_raw(http, base_url + INITIATE, b"", content_type="text/plain"), 400, "missing_field")


def test_unknown_fields_are_ignored(http, base_url):
    assert_ok(http.post(base_url + INITIATE, json=initiate_body(unexpected="ignored", extra={"a": 1})), 202)


def test_logout_without_body_or_content_type(agent, http, base_url):  # G17
    resp = http.post(base_url + "/v1/agents/logout", headers=agent.bearer())
    assert "Content-Type" not in resp.request.headers
    assert assert_ok(resp) == {"success": True, "message": "Logged out"}


def test_logout_ignores_any_body(agent, http, base_url):  # body class "none"
    resp = http.post(base_url + "/v1/agents/logout", data=b"\x00not json", headers=dict(
        agent.bearer(), **{"Content-Type": "text/plain"}))
    assert_ok(resp)


# --------------------------------------------------------------------------------------------------
# Registration bad inputs (security.md 17.2; R25 timing and R34 rate limit are covered natively)
# --------------------------------------------------------------------------------------------------

def initiate(http, base_url, body):
    return http.post(base_url + INITIATE, json=body)


def complete_ok(client, init_resp, status=201):
    init = assert_ok(init_resp, 202)
    done = client.register_complete(init["challenge_id"], client.sign_challenge(init["challenge_data"]))
    return assert_ok(done, status)


def test_r01_missing_name(http, base_url):
    body = initiate_body()
    del body["name"]
    assert_error(initiate(http, base_url, body), 400, "missing_field")


def test_null_name_is_missing(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(name=None)), 400, "missing_field")


def test_r02_blank_name(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(name="   ")), 400, "missing_field")


def test_r03_name_of_129_characters(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(name="n" * 129)), 400, "invalid_field")


def test_name_of_128_characters(http, base_url):
    assert_ok(initiate(http, base_url, initiate_body(name="n" * 128)), 202)


def test_r04_name_of_128_emoji(make_client):
    client = make_client()
    name = "\U0001F600" * 128
    assert len(name.encode("utf-8")) == 512
    reg = complete_ok(client, client.register_initiate(name))
    assert reg["agent"]["name"] == name


def test_r05_name_with_control_character(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(name="bell\u0007")), 400, "invalid_field")


def test_r06_sql_name_is_plain_text(new_agent, make_client, http, base_url):
    bystander = new_agent("Bystander")
    name = "Robert'); DROP TABLE agents;--"
    client = make_client()
    reg = complete_ok(client, client.register_initiate(name))
    assert reg["agent"]["name"] == name
    assert assert_ok(client.me(reg["session_id"]))["agent"]["name"] == name
    assert_ok(http.get(f"{base_url}/v1/agents/{bystander.agent_id}"))
    assert_ok(bystander.me())


def test_r07_script_name_is_verbatim(make_client):
    client = make_client()
    name = "<script>alert(1)</script>"
    reg = complete_ok(client, client.register_initiate(name, description="<b>&amp;</b>"))
    me = assert_ok(client.me(reg["session_id"]))["agent"]
    assert me["name"] == name and me["description"] == "<b>&amp;</b>"


def test_r08_unicode_name_is_not_normalised(make_client):
    client = make_client()
    name = "エージェント 🤖 агент e\u0301 \u212b"  # decomposed é and ANGSTROM SIGN must survive
    reg = complete_ok(client, client.register_initiate(name))
    assert reg["agent"]["name"] == name
    assert assert_ok(client.me(reg["session_id"]))["agent"]["name"].encode() == name.encode()


def test_r09_description_of_1025_characters(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(description="d" * 1025)), 400, "invalid_field")


def test_description_of_1024_characters(http, base_url):
    assert_ok(initiate(http, base_url, initiate_body(description="d" * 1024)), 202)


def test_r10_description_with_nul(http, base_url):
    assert_error(initiate(http, base_url, initiate_body(description="a\u0000b")), 400, "invalid_field")


def test_r11_missing_public_key(http, base_url):
    body = initiate_body()
    del body["public_key"]
    assert_error(initiate(http, base_url, body), 400, "missing_field")


BAD_KEYS = {
    "R12-not-base64": "not base64!",
    "R13-31-bytes": b64e(bytes(range(1, 32))),
    "R14-33-bytes": b64e(bytes(range(1, 34))),
    "R15-identity": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "R16-order-8": "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o",
    "order-2": "7P_______________________________________38",
    "order-4": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "R17-non-canonical": "7f_______________________________________38",
    "non-canonical-identity": "7v_______________________________________38",
    "negative-zero": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA",
    "R18-not-a-point": "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "R19-trailing-bits": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp",
    "whitespace": " 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_invalid_public_keys(http, base_url, key):
    assert_error(initiate(http, base_url, initiate_body(public_key=key)), 400, "invalid_public_key")


def test_r20_mixed_alphabets(http, base_url):
    key = Ed25519Key.generate_where(lambda k: sum(c in "-_" for c in k.x) >= 2)
    x = key.x
    i = next(i for i, c in enumerate(x) if c in "-_")
    mixed = x[:i] + {"-": "+", "_": "/"}[x[i]] + x[i + 1:]
    assert any(c in "-_" for c in mixed) and any(c in "+/" for c in mixed)
    assert_error(initiate(http, base_url, initiate_body(public_key=mixed)), 400, "invalid_public_key")


def test_duplicate_key(new_agent, http, base_url):
    a = new_agent("Owner")
    assert_error(initiate(http, base_url, initiate_body(public_key=a.key.x)), 409, "duplicate_public_key")


def test_r21_duplicate_key_with_padding(new_agent, http, base_url):
    a = new_agent("Owner")
    assert_error(initiate(http, base_url, initiate_body(public_key=a.key.x + "=")), 409, "duplicate_public_key")


def test_r22_duplicate_key_in_standard_alphabet(new_agent, http, base_url):
    a = new_agent("Owner", key=Ed25519Key.generate_where(lambda k: "-" in k.x or "_" in k.x))
    std = a.key.x.replace("-", "+").replace("_", "/")
    assert std != a.key.x
    assert_error(initiate(http, base_url, initiate_body(public_key=std)), 409, "duplicate_public_key")


def test_r23_unknown_challenge(make_client):
    client = make_client()
    resp = client.register_complete(str(uuid.uuid4()), b64e(bytes(64)))
    assert_error(resp, 404, "challenge_not_found", message_contains="not found")


def test_r24_challenge_id_not_a_uuid(make_client):
    client = make_client()
    assert_error(client.register_complete("not-a-uuid", b64e(bytes(64))), 404, "challenge_not_found")


@pytest.fixture
def pending(make_client):
    """A client with a pending registration challenge: (client, initiate body)."""
    client = make_client()
    return client, assert_ok(client.register_initiate("pending agent"), 202)


def test_r26_missing_signature(pending):
    client, init = pending
    assert_error(client.register_complete(init["challenge_id"], None, body={}), 400, "missing_field")


@pytest.mark.parametrize("signature", [b64e(bytes(63)), b64e(bytes(65)), "not base64!"],
                         ids=["63-bytes", "65-bytes", "not-base64"])
def test_r27_signature_of_wrong_length_or_encoding(pending, signature):
    client, init = pending
    assert_error(client.register_complete(init["challenge_id"], signature), 400, "invalid_field")


def test_signature_of_wrong_type(pending):
    client, init = pending
    assert_error(client.register_complete(init["challenge_id"], 42), 400, "invalid_field")


def test_r28_signature_over_reserialised_challenge(pending):
    client, init = pending
    respaced = json.dumps(json.loads(init["challenge_data"]))  # ", " and ": " separators
    assert respaced != init["challenge_data"]
    resp = client.register_complete(init["challenge_id"], client.sign_challenge(respaced))
    assert_error(resp, 401, "invalid_signature")


def test_r29_signature_by_another_key(pending):
    client, init = pending
    resp = client.register_complete(init["challenge_id"],
                                    client.sign_challenge(init["challenge_data"], Ed25519Key.generate()))
    assert_error(resp, 401, "invalid_signature")


def test_r30_flipped_bit_then_challenge_still_usable(pending):
    client, init = pending
    good = client.key.sign(init["challenge_data"].encode())
    assert_error(client.register_complete(init["challenge_id"], b64e(flip_bit(good, 5, 3))), 401, "invalid_signature")
    assert_ok(client.register_complete(init["challenge_id"], b64e(good)), 201)


def test_signature_in_padded_standard_alphabet_is_accepted(pending):
    client, init = pending
    sig = client.key.sign(init["challenge_data"].encode())
    assert_ok(client.register_complete(init["challenge_id"], base64.b64encode(sig).decode()), 201)


def test_r31_second_complete(pending):
    client, init = pending
    sig = client.sign_challenge(init["challenge_data"])
    assert_ok(client.register_complete(init["challenge_id"], sig), 201)
    assert_error(client.register_complete(init["challenge_id"], sig), 404, "challenge_not_found")


def test_r32_rotation_challenge_at_register_complete(agent):
    new_key = Ed25519Key.generate()
    rot = assert_ok(agent.rotate_initiate(new_key.x))
    resp = agent.register_complete(rot["challenge_id"], agent.sign_challenge(rot["challenge_data"], new_key))
    assert_error(resp, 404, "challenge_not_found")


def test_registration_challenge_at_rotate_complete(agent, make_client):
    other = make_client()
    init = assert_ok(other.register_initiate("never completed"), 202)
    resp = agent.rotate_complete(init["challenge_id"], other.sign_challenge(init["challenge_data"]))
    assert_error(resp, 404, "challenge_not_found")


def test_r33_two_initiates_for_one_key(make_client):
    client = make_client()
    first = assert_ok(client.register_initiate("first"), 202)
    second = assert_ok(client.register_initiate("second"), 202)
    assert_ok(client.register_complete(first["challenge_id"], client.sign_challenge(first["challenge_data"])), 201)
    resp = client.register_complete(second["challenge_id"], client.sign_challenge(second["challenge_data"]))
    assert_error(resp, 409, "duplicate_public_key")
    # the losing challenge is deleted
    resp = client.register_complete(second["challenge_id"], client.sign_challenge(second["challenge_data"]))
    assert_error(resp, 404, "challenge_not_found")


# --------------------------------------------------------------------------------------------------
# Key rotation (security.md 17.5; K09 expiry is covered natively)
# --------------------------------------------------------------------------------------------------

def test_k01_new_key_equals_current(agent):
    assert_error(agent.rotate_initiate(agent.key.x), 400, "invalid_public_key")
    assert_error(agent.rotate_initiate(agent.key.x + "="), 400, "invalid_public_key")


def test_k02_new_key_of_another_agent(new_agent):
    a, b = new_agent("A"), new_agent("B")
    assert_error(a.rotate_initiate(b.key.x), 409, "duplicate_public_key")


@pytest.mark.parametrize("key", [BAD_KEYS["R15-identity"], BAD_KEYS["R16-order-8"], BAD_KEYS["R17-non-canonical"],
                                 "not base64!"], ids=["identity", "order-8", "non-canonical", "not-base64"])
def test_k03_invalid_new_key(agent, key):
    assert_error(agent.rotate_initiate(key), 400, "invalid_public_key")


def test_rotate_initiate_missing_key(agent):
    assert_error(agent.rotate_initiate(None, body={}), 400, "missing_field")


def test_rotate_initiate_needs_session(agent):
    resp = agent.request("POST", "/v1/agents/rotate-key/initiate", json={"new_public_key": Ed25519Key.generate().x})
    assert_error(resp, 401, "authentication_required")


@pytest.fixture
def rotation(agent):
    """A registered agent with one pending rotation: (agent, new key, initiate body)."""
    new_key = Ed25519Key.generate()
    return agent, new_key, assert_ok(agent.rotate_initiate(new_key.x))


def test_k04_proof_by_the_new_key(rotation):
    agent, new_key, init = rotation
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"], new_key),
                                 proof_key=new_key)
    assert_error(resp, 401, "invalid_dpop_proof")
    assert_dpop_challenge(resp)


def test_k05_signature_by_the_old_key(rotation):
    agent, _new_key, init = rotation
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"]))
    assert_error(resp, 401, "invalid_signature")
    assert_dpop_challenge(resp)


def test_k06_proof_by_another_agent(rotation, new_agent):
    agent, new_key, init = rotation
    b = new_agent("B")
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"], new_key),
                                 proof_key=b.key)
    assert_error(resp, 403, "challenge_mismatch")


def test_k07_session_without_dpop(rotation):
    agent, new_key, init = rotation
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"], new_key),
                                 proof="", headers=agent.bearer())
    assert_error(resp, 401, "authentication_required")
    assert_dpop_challenge(resp)


def test_k08_second_pending_rotation_after_the_first(agent):
    k2, k3 = Ed25519Key.generate(), Ed25519Key.generate()
    first = assert_ok(agent.rotate_initiate(k2.x))
    second = assert_ok(agent.rotate_initiate(k3.x))
    assert_ok(agent.rotate_complete(first["challenge_id"], agent.sign_challenge(first["challenge_data"], k2)))
    resp = agent.rotate_complete(second["challenge_id"], agent.sign_challenge(second["challenge_data"], k3),
                                 proof_key=k2)
    assert_error(resp, 404, "challenge_not_found")


def test_rotate_complete_unknown_challenge(agent):
    resp = agent.rotate_complete(str(uuid.uuid4()), b64e(bytes(64)))
    assert_error(resp, 404, "challenge_not_found")


def test_rotate_complete_missing_signature(rotation):
    agent, _new_key, init = rotation
    assert_error(agent.rotate_complete(init["challenge_id"], None, body={}), 400, "missing_field")


def test_rotate_complete_proof_for_another_url(rotation):
    agent, new_key, init = rotation
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"], new_key),
                                 payload_overrides={"htu": agent.url("/v1/agents/login")})
    assert_error(resp, 401, "invalid_dpop_proof")


def test_rotate_complete_ignores_authorization(rotation):  # DPoP-only endpoint
    agent, new_key, init = rotation
    resp = agent.rotate_complete(init["challenge_id"], agent.sign_challenge(init["challenge_data"], new_key),
                                 headers={"Authorization": "Bearer garbage"})
    assert assert_ok(resp)["agent"]["public_key"] == new_key.x


def test_rotated_challenge_cannot_be_completed_twice(rotation):
    agent, new_key, init = rotation
    sig = agent.sign_challenge(init["challenge_data"], new_key)
    assert_ok(agent.rotate_complete(init["challenge_id"], sig))
    resp = agent.rotate_complete(init["challenge_id"], sig, proof_key=new_key)
    assert_error(resp, 404, "challenge_not_found")


# --------------------------------------------------------------------------------------------------
# Sessions (security.md 17.4)
# --------------------------------------------------------------------------------------------------

def me_with(http, base_url, headers=None, query=""):
    return http.get(f"{base_url}/v1/agents/me{query}", headers=headers or {})


def assert_bearer_challenge(resp, error=None):
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith('Bearer realm="agent-id"'), f"WWW-Authenticate {www!r}\n{describe(resp)}"
    if error:
        assert f'error="{error}"' in www, f"WWW-Authenticate {www!r}\n{describe(resp)}"


def test_s01_no_authorization(http, base_url):
    resp = me_with(http, base_url)
    assert_error(resp, 401, "authentication_required")
    assert_bearer_challenge(resp)


def test_s02_bearer_without_token(http, base_url):
    resp = me_with(http, base_url, {"Authorization": "Bearer"})
    assert_error(resp, 401, "authentication_required")
    assert_bearer_challenge(resp)


def test_s03_random_token(http, base_url):
    resp = me_with(http, base_url, {"Authorization": "Bearer " + b64e(uuid.uuid4().bytes * 2)})
    assert_error(resp, 401, "invalid_session")
    assert_bearer_challenge(resp, "invalid_token")


def test_s04_session_after_logout(agent):
    session = agent.session_id
    assert_ok(agent.logout())
    assert_error(agent.me(session), 401, "invalid_session")


def test_s05_session_from_before_rotation(agent):
    session = agent.session_id
    agent.rotate_key()
    resp = agent.me(session)
    assert_error(resp, 401, "invalid_session")
    assert_bearer_challenge(resp, "invalid_token")


def test_s08_basic_scheme(http, base_url):
    resp = me_with(http, base_url, {"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(resp, 401, "authentication_required")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_s09_scheme_is_case_insensitive(agent, http, base_url, scheme):
    body = assert_ok(me_with(http, base_url, {"Authorization": f"{scheme} {agent.session_id}"}))
    assert body["agent"]["id"] == agent.agent_id


def test_s13_session_in_query_is_ignored(agent, http, base_url):
    resp = me_with(http, base_url, query=f"?session_id={agent.session_id}")
    assert_error(resp, 401, "authentication_required")


def test_dpop_proof_is_not_a_session(agent, http, base_url):
    proof = agent.dpop_proof("GET", "/v1/agents/me")
    assert_error(me_with(http, base_url, {"DPoP": proof}), 401, "authentication_required")



# --------------------------------------------------------------------------------------------------
# Requests workerd and workers-rs used to alter before the App saw them. Each answer is the one
# `edge_sensitive_requests_answer_alike_natively_and_in_workerd` (tests/http_handling.rs) asserts
# natively. http.client sends exactly these bytes (requests would merge or re-encode headers).
# --------------------------------------------------------------------------------------------------

def raw_request(base_url, method, path, headers):
    """Sends ``headers`` (a list of (name, str | bytes) pairs, repeats kept) and returns
    (status, headers, parsed JSON body)."""
    parts = urllib.parse.urlsplit(base_url)
    conn_cls = httpclient.HTTPSConnection if parts.scheme == "https" else httpclient.HTTPConnection
    conn = conn_cls(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        resp = conn.getresponse()
        status, hdrs, raw = resp.status, resp.headers, resp.read()
    finally:
        conn.close()
    try:
        body = json.loads(raw)
    except ValueError:
        pytest.fail(f"{method} {path} → {status}, body is not JSON: {raw[:300]!r}")
    assert hdrs.get("X-Request-Id"), f"{method} {path} → {status} without X-Request-Id"
    return status, hdrs, body


def test_edge_u03_two_authorization_headers_at_userinfo(base_url):  # U03
    status, _, body = raw_request(base_url, "GET", "/v1/oauth/userinfo", [
        ("Authorization", "DPoP some.access.token"),
        ("Authorization", "Bearer some.access.token"),
    ])
    assert (status, body.get("error")) == (400, "invalid_request"), body


def test_edge_two_bearer_sessions_are_no_credentials(agent, base_url):
    status, _, body = raw_request(base_url, "GET", "/v1/agents/me", [
        ("Authorization", f"Bearer {agent.session_id}"),
        ("Authorization", f"Bearer {agent.session_id}"),
    ])
    assert (status, body.get("code")) == (401, "authentication_required"), body


def test_edge_dp03_two_dpop_headers(agent, base_url):  # DP03
    proofs = [agent.dpop_proof("POST", "/v1/agents/login") for _ in range(2)]
    status, _, body = raw_request(base_url, "POST", "/v1/agents/login",
                                  [("DPoP", p) for p in proofs])
    assert (status, body.get("code")) == (401, "invalid_dpop_proof"), body


def test_edge_unknown_method_is_405_not_get(base_url):
    status, hdrs, body = raw_request(base_url, "PROPFIND", "/v1/agents/me", [])
    assert (status, body.get("code")) == (405, "method_not_allowed"), body
    assert hdrs.get("Allow") == "GET, OPTIONS", hdrs.get("Allow")


def test_edge_dpop_header_with_obs_text_is_a_bad_proof(base_url):
    status, _, body = raw_request(base_url, "POST", "/v1/agents/login", [("DPoP", b"abc\xe9def")])
    assert (status, body.get("code")) == (401, "invalid_dpop_proof"), body
