"""Metrics and logs in workerd: the real wasm under ``wrangler dev``.

``wrangler dev`` binds ``METRICS`` (the Analytics Engine dataset of ``wrangler.toml``) to a local
stand-in whose ``writeDataPoint`` stores nothing, so no data point can be read back here; the
data point layout is tested natively (``tests/metrics.rs``). Tested here: the binding is bound,
requests through the production sink answer normally and none is refused (no ``metrics_write``
line), and the Worker's log lines, as workerd prints them, keep each request's id and never carry
a secret the requests or their answers carried.

The server's output is read from ``$AGENT_ID_TEST_OUTPUT/server-main.log`` (``scripts/test.sh``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from pathlib import Path

import pytest

from agent_client import b64e

LOG_WAIT_SECS = 10.0


def server_log() -> Path:
    out = os.environ.get("AGENT_ID_TEST_OUTPUT")
    if not out:
        pytest.skip("AGENT_ID_TEST_OUTPUT is not set: run through scripts/test.sh, which keeps the server log")
    path = Path(out) / "server-main.log"
    assert path.is_file(), f"no server log at {path}"
    return path


def log_lines(text: str) -> list[dict]:
    """The Worker's JSON lines (wrangler's own lines are not JSON objects)."""
    lines = []
    for raw in text.splitlines():
        if raw.startswith('{"level"'):
            lines.append(json.loads(raw))
    return lines


def test_wrangler_dev_binds_the_metrics_dataset():
    text = server_log().read_text(errors="replace")
    assert re.search(r"env\.METRICS \(agent_id_requests\)\s+Analytics Engine Dataset\s+local", text), \
        "wrangler dev did not list the METRICS binding"


def test_log_lines_keep_request_ids_and_never_carry_secrets(base_url, http, new_agent):
    path = server_log()
    answered: list[tuple[str, int]] = []  # (request id, status)
    carried: list[str] = []

    def sent(resp, *expected: int):
        assert resp.status_code in expected, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}"
        answered.append((resp.headers["X-Request-Id"], resp.status_code))
        return resp

    # An agent registers, logs in with DPoP, replays the proof, reads itself, logs out.
    agent = new_agent("metrics agent")
    carried.append(agent.session_id)
    proof = agent.dpop_proof("POST", "/v1/agents/login")
    carried.append(proof)
    sent(agent.login(proof=proof), 200)
    carried.append(agent.session_id)
    sent(agent.login(proof=proof), 401)
    sent(agent.me(), 200)
    forged_session = b64e(secrets.token_bytes(32))
    carried.append(forged_session)
    sent(agent.me(forged_session), 401)

    # An overseer signs up, fails and succeeds to log in.
    email = f"metrics-{uuid.uuid4().hex[:12]}@example.test"
    password = "metrics-" + secrets.token_urlsafe(18)
    wrong = "metrics-" + secrets.token_urlsafe(18)
    carried += [password, wrong]
    r = sent(http.post(base_url + "/v1/overseers/register",
                       json={"name": "Metrics Overseer", "email": email, "password": password}), 201)
    carried.append(r.json()["session_id"])
    sent(http.post(base_url + "/v1/overseers/login", json={"email": email, "password": wrong}), 401)
    r = sent(http.post(base_url + "/v1/overseers/login", json={"email": email, "password": password}), 200)
    carried.append(r.json()["session_id"])

    # Unmatched paths and methods are recorded and logged too.
    sent(http.delete(base_url + "/health"), 405)
    sent(http.get(base_url + "/v1/no-such-endpoint"), 404)
    sent(agent.logout(), 200)

    wanted = {rid for rid, _ in answered}
    deadline = time.monotonic() + LOG_WAIT_SECS
    while True:
        text = path.read_text(errors="replace")
        lines = log_lines(text)
        seen = {line.get("request_id") for line in lines if "route" in line}
        if wanted <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    for rid, status in answered:
        request_lines = [line for line in lines if line.get("request_id") == rid and "route" in line]
        assert len(request_lines) == 1, f"request {rid}: {len(request_lines)} request lines"
        assert request_lines[0]["status"] == status, request_lines[0]
    for secret in carried:
        assert secret and secret not in text, "a secret the requests carried is in the server log"
    # Request lines name their request; the cron job's lines name the job; the one line an
    # isolate writes when it builds its App (once per isolate, before any request id exists)
    # names that event and carries nothing else.
    isolate_events = {"isolate.app_built"}
    for line in lines:
        if line.get("event") in isolate_events:
            assert set(line) == {"level", "event"}, f"an isolate line carrying more: {line}"
            continue
        assert "request_id" in line or "job" in line, f"a line without its request id: {line}"
    assert "metrics_write" not in text, "the Analytics Engine binding refused a data point"
