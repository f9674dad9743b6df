"""Assertion helpers shared by the e2e tests (formats from api.md §1.2, §1.5, §1.7)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

import requests

from agent_client import b64d, describe

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
OPAQUE43_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CSP_JSON = "default-src 'none'; frame-ancestors 'none'"


def assert_uuid4(value, what: str = "id") -> str:
    assert isinstance(value, str) and UUID4_RE.match(value), f"{what} is not a lowercase UUID v4: {value!r}"
    return value


def parse_timestamp(value, what: str = "timestamp") -> dt.datetime:
    """Assert RFC 3339 UTC with milliseconds and ``Z`` (api.md 1.2); return an aware datetime."""
    assert isinstance(value, str) and TIMESTAMP_RE.match(value), (
        f"{what} is not an RFC 3339 millisecond Z timestamp: {value!r}")
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def assert_opaque43(value, what: str = "session_id") -> str:
    """32 random bytes as unpadded base64url: 43 characters (api.md 1.2)."""
    assert isinstance(value, str) and OPAQUE43_RE.match(value), f"{what} is not 43 base64url chars: {value!r}"
    raw = b64d(value)
    assert len(raw) == 32, f"{what} does not decode to 32 bytes: {value!r}"
    return value


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def json_body(resp: requests.Response) -> dict:
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.lower().replace(" ", "") == JSON_CONTENT_TYPE.replace(" ", ""), (
        f"Content-Type is {ctype!r}, expected {JSON_CONTENT_TYPE!r}\n{describe(resp)}")
    try:
        body = resp.json()
    except ValueError as exc:  # pragma: no cover - reported as a failure
        raise AssertionError(f"body is not JSON: {exc}\n{describe(resp)}")
    assert isinstance(body, dict), f"body is not a JSON object\n{describe(resp)}"
    return body


def assert_ok(resp: requests.Response, status: int = 200) -> dict:
    """A success answer: status, JSON content type, ``success: true``."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}\n{describe(resp)}"
    body = json_body(resp)
    assert body.get("success") is True, f"success is not true\n{describe(resp)}"
    return body


def assert_error(resp: requests.Response, status: int, code: str, *,
                 message_contains: Optional[str] = None) -> dict:
    """A non-OAuth error answer (api.md 1.5): exactly ``{success: false, error, code}``."""
    assert (resp.status_code, _code(resp)) == (status, code), (
        f"expected {status} {code}, got {resp.status_code} {_code(resp)}\n{describe(resp)}")
    body = json_body(resp)
    assert set(body) == {"success", "error", "code"}, f"unexpected error members {sorted(body)}\n{describe(resp)}"
    assert body["success"] is False, describe(resp)
    assert isinstance(body["error"], str) and body["error"].strip(), f"empty error message\n{describe(resp)}"
    if message_contains is not None:
        assert message_contains.lower() in body["error"].lower(), (
            f"error message does not contain {message_contains!r}\n{describe(resp)}")
    return body


def assert_dpop_challenge(resp: requests.Response) -> str:
    """401 on DPoP-only endpoints carries ``WWW-Authenticate: DPoP …`` (api.md 1.7.3)."""
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("DPoP"), f"WWW-Authenticate does not start with DPoP: {www!r}\n{describe(resp)}"
    code = _code(resp)
    if code in ("invalid_dpop_proof", "use_dpop_nonce"):
        assert f'error="{code}"' in www, f"WWW-Authenticate lacks error=\"{code}\": {www!r}\n{describe(resp)}"
    return www


def assert_login_error(resp: requests.Response, status: int, code: str, **kw) -> dict:
    body = assert_error(resp, status, code, **kw)
    if status == 401:
        assert_dpop_challenge(resp)
    return body


def _code(resp: requests.Response):
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
