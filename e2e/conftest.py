"""Fixtures for the agent-id end-to-end suite.

The suite runs against a live server (``wrangler dev --local``) whose origin is given by the
environment variable ``AGENT_ID_BASE_URL`` (e.g. ``http://127.0.0.1:8787``). Tests marked
``offline`` need no server.

The suite registers many agents and logs in many times within a minute, so the server must run with
rate limits disabled (``RATE_LIMIT_ENABLED=false``) or raised via ``RATE_LIMIT_CONFIG``; a ``429``
answer fails the test with a message saying so.
"""

from __future__ import annotations

import http.cookiejar
import os
import urllib.parse

import pytest
import requests

from agent_client import AgentClient, Ed25519Key

ENV_VAR = "AGENT_ID_BASE_URL"
TIMEOUT_SECS = 5.0


def pytest_configure(config):
    config.addinivalue_line("markers", "offline: runs without a server (no AGENT_ID_BASE_URL needed)")


class _RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # agent endpoints set no cookies; keep tests independent
        return False


class BoundedSession(requests.Session):
    """A requests session that only talks to the base URL, always with a timeout, never via proxies."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT_SECS):
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        self.trust_env = False  # no proxies from the environment: loopback traffic only
        self.cookies.set_policy(_RejectAllCookies())

    def request(self, method, url, *args, **kwargs):
        if not (url == self.base_url or url.startswith(self.base_url + "/")):
            raise AssertionError(f"refusing to send a request outside the base URL: {url}")
        kwargs["timeout"] = min(kwargs.get("timeout") or self.timeout, self.timeout)
        # Never follow a redirect: it could leave the base URL (requests' .get() would pass True).
        kwargs["allow_redirects"] = False
        resp = super().request(method, url, *args, **kwargs)
        if resp.status_code == 429:
            pytest.fail(
                f"{method} {url} answered 429 rate_limited: run the e2e server with "
                f"RATE_LIMIT_ENABLED=false (or high limits in RATE_LIMIT_CONFIG). Body: {resp.text[:300]}",
                pytrace=False,
            )
        return resp


def _normalise_base_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        pytest.fail(f"{ENV_VAR} must be an origin like http://127.0.0.1:8787 (got {raw!r})", pytrace=False)
    return url


@pytest.fixture(scope="session")
def base_url() -> str:
    """The server origin from AGENT_ID_BASE_URL; fails (never skips) when missing or unreachable."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        pytest.fail(
            f"{ENV_VAR} is not set: start the server (wrangler dev --local) and export "
            f"{ENV_VAR}=http://127.0.0.1:8787 before running the e2e suite",
            pytrace=False,
        )
    url = _normalise_base_url(raw)
    try:
        with BoundedSession(url) as probe:
            probe.get(url + "/health")
    except requests.RequestException as exc:
        pytest.fail(f"agent-id server at {url} is not reachable ({exc.__class__.__name__}: {exc})",
                    pytrace=False)
    return url


@pytest.fixture
def http(base_url):
    """A fresh HTTP session bound to the base URL with a 5 s timeout per request."""
    with BoundedSession(base_url) as session:
        yield session


@pytest.fixture
def make_client(base_url, http):
    """Factory for unregistered agent clients (random key unless ``key=`` is given)."""

    def factory(key: Ed25519Key | None = None) -> AgentClient:
        return AgentClient(base_url, http, key=key, timeout=TIMEOUT_SECS)

    return factory


@pytest.fixture
def new_agent(make_client):
    """Factory for registered agents: ``new_agent(name=…, description=…, key=…)``."""

    def factory(name: str = "e2e agent", description: str | None = None,
                key: Ed25519Key | None = None) -> AgentClient:
        client = make_client(key)
        client.register(name, description)
        return client

    return factory


@pytest.fixture
def agent(new_agent) -> AgentClient:
    """One freshly registered agent with an active session."""
    return new_agent("e2e agent", "registered by the e2e suite")
