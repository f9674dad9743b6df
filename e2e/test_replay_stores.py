"""Single use of DPoP proofs and client assertions under both replay stores (api.md 9.11).

``REPLAY_STORE`` picks where ``jti`` markers live: D1's ``jti_markers`` (the main server,
``AGENT_ID_BASE_URL``) or one SQLite-backed Durable Object per signer (``durable_object``: the
server at ``AGENT_ID_DURABLE_BASE_URL``, started by ``scripts/test.sh`` with that setting). Every
case runs against both: a replay is refused, and of N concurrent uses of one proof or one
assertion exactly one succeeds. The last test reads the Durable Object server's local state
(``AGENT_ID_DURABLE_STATE_DIR``) to show that its markers are in the objects and none in D1.

Loopback only, bounded: N = 8 requests per burst, 5 s timeout each.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from agent_client import AgentClient, Ed25519Key, build_jws, describe
from conftest import TIMEOUT_SECS, BoundedSession, _normalise_base_url
from helpers import assert_ok
from oauth_setup import paid_overseer

STORES = {"d1": "AGENT_ID_BASE_URL", "durable_object": "AGENT_ID_DURABLE_BASE_URL"}
STATE_ENV = "AGENT_ID_DURABLE_STATE_DIR"
BURST = 8
LOGIN = "/v1/agents/login"
INTROSPECT = "/v1/oauth/introspect"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _server(env: str) -> str:
    raw = os.environ.get(env)
    if not raw:
        pytest.fail(f"{env} is not set: scripts/test.sh starts that server (see its run_e2e)",
                    pytrace=False)
    url = _normalise_base_url(raw)
    with BoundedSession(url) as probe:
        assert probe.get(url + "/health").status_code == 200, f"{url}/health"
    return url


@pytest.fixture(params=sorted(STORES))
def store_url(request) -> str:
    """The server of one replay store (the test id names the store)."""
    return _server(STORES[request.param])


@pytest.fixture
def http(store_url):
    with BoundedSession(store_url) as session:
        yield session


def _burst(send) -> list[requests.Response]:
    """Runs ``send(session)`` BURST times at once (a barrier releases them together), each on
    its own HTTP session."""
    barrier = threading.Barrier(BURST)

    def one(_):
        with requests.Session() as session:
            barrier.wait(timeout=TIMEOUT_SECS)
            return send(session)

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(one, range(BURST)))


def _exactly_one_success(responses: list[requests.Response], refused: int, reason: str) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [refused] * (BURST - 1), "\n".join(describe(r) for r in responses)
    for r in responses:
        if r.status_code == refused:
            assert reason in r.text, describe(r)


def _registered_agent(store_url: str, http) -> AgentClient:
    agent = AgentClient(store_url, http, timeout=TIMEOUT_SECS)
    agent.register("replay store agent")
    return agent


# --------------------------------------------------------------------------------------------------
# DPoP proofs (login)
# --------------------------------------------------------------------------------------------------

def test_replayed_login_proof_is_refused(store_url, http):
    agent = _registered_agent(store_url, http)
    proof = agent.dpop_proof("POST", LOGIN)
    assert_ok(agent.login(proof=proof))
    replay = agent.login(proof=proof)
    assert replay.status_code == 401, describe(replay)
    assert "already been used" in replay.text, describe(replay)
    assert_ok(agent.login())  # a fresh proof by the same key


def test_concurrent_uses_of_one_login_proof_let_exactly_one_through(store_url, http):
    agent = _registered_agent(store_url, http)
    proof = agent.dpop_proof("POST", LOGIN)
    body = {"agent_id": agent.agent_id}
    responses = _burst(lambda s: s.post(store_url + LOGIN, json=body, headers={"DPoP": proof},
                                        timeout=TIMEOUT_SECS))
    _exactly_one_success(responses, 401, "already been used")


# --------------------------------------------------------------------------------------------------
# Client assertions (private_key_jwt at introspection)
# --------------------------------------------------------------------------------------------------

@pytest.fixture
def client(store_url, http):
    """A client registered by a paid overseer; returns (client id, its Ed25519 key)."""
    key = Ed25519Key.generate()
    overseer = paid_overseer(http, store_url)
    registered = overseer.register_client(http, key.x, name="replay store client")
    return registered["id"], key


def _assertion(store_url: str, client_id: str, key: Ed25519Key) -> str:
    now = int(time.time())
    payload = {"iss": client_id, "sub": client_id, "aud": store_url + INTROSPECT, "iat": now,
               "exp": now + 60, "jti": str(uuid.uuid4())}
    return build_jws({"alg": "EdDSA", "typ": "JWT"}, payload, key.sign)


def _introspect(session, store_url: str, assertion: str) -> requests.Response:
    form = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion,
            "token": "not-a-token"}
    return session.post(store_url + INTROSPECT, data=form, timeout=TIMEOUT_SECS)


def test_replayed_client_assertion_is_refused(store_url, http, client):
    assertion = _assertion(store_url, *client)
    first = _introspect(http, store_url, assertion)
    assert first.status_code == 200 and first.json() == {"active": False}, describe(first)
    replay = _introspect(http, store_url, assertion)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client", describe(replay)
    assert "already been used" in replay.text, describe(replay)


def test_concurrent_uses_of_one_client_assertion_let_exactly_one_through(store_url, client):
    assertion = _assertion(store_url, *client)
    responses = _burst(lambda s: _introspect(s, store_url, assertion))
    _exactly_one_success(responses, 401, "already been used")


# --------------------------------------------------------------------------------------------------
# Where the markers are
# --------------------------------------------------------------------------------------------------

def _rows(path: Path, table: str) -> int | None:
    """Rows of ``table`` in the SQLite file at ``path`` (None when it has no such table)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT_SECS) as db:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (table,)).fetchone()
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if found else None


def test_the_durable_object_server_keeps_its_markers_in_objects_not_in_d1():
    url = _server(STORES["durable_object"])
    state = os.environ.get(STATE_ENV)
    if not state:
        pytest.fail(f"{STATE_ENV} is not set: scripts/test.sh names the server's --persist-to",
                    pytrace=False)
    with BoundedSession(url) as http:
        agent = _registered_agent(url, http)
        assert_ok(agent.login())
    files = [p for p in Path(state).rglob("*.sqlite") if p.is_file()]
    d1 = [n for n in (_rows(p, "jti_markers") for p in files) if n is not None]
    objects = [n for n in (_rows(p, "markers") for p in files) if n is not None]
    assert d1 == [0], f"D1 jti_markers rows per database: {d1} ({state})"
    assert objects and sum(objects) >= 1, f"replay-marker objects: {objects} ({state})"
