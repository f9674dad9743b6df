"""Server nonces when DPOP_REQUIRE_NONCE=true (security.md P12, DP41; api.md 1.7.4, 9.10).

Runs against the second server of scripts/test.sh, given by AGENT_ID_NONCE_BASE_URL; skipped when
that variable is not set (the main suite covers DPOP_REQUIRE_NONCE=false).
"""

import os

import pytest

from agent_client import AgentClient, is_canonical_b64url
from conftest import BoundedSession, TIMEOUT_SECS, _normalise_base_url
from helpers import assert_dpop_challenge, assert_error, assert_ok

NONCE_ENV = "AGENT_ID_NONCE_BASE_URL"


@pytest.fixture
def nonce_agent():
    raw = os.environ.get(NONCE_ENV)
    if not raw:
        pytest.skip(f"{NONCE_ENV} not set (server with DPOP_REQUIRE_NONCE=true)")
    url = _normalise_base_url(raw)
    with BoundedSession(url) as session:
        client = AgentClient(url, session, timeout=TIMEOUT_SECS)
        client.register("nonce agent")
        yield client


def fresh_nonce(resp) -> str:
    nonce = resp.headers.get("DPoP-Nonce")
    assert nonce and is_canonical_b64url(nonce, 24), f"DPoP-Nonce is not 24 bytes base64url: {nonce!r}"
    return nonce


def test_proof_without_nonce_then_retry_with_it(nonce_agent):  # DP41
    first = nonce_agent.login()
    assert_error(first, 401, "use_dpop_nonce")
    assert_dpop_challenge(first)
    second = nonce_agent.login(payload_overrides={"nonce": fresh_nonce(first)})
    assert_ok(second)
    fresh_nonce(second)  # every response of a DPoP endpoint carries a fresh nonce


def test_garbage_nonce_is_refused(nonce_agent):
    resp = nonce_agent.login(payload_overrides={"nonce": "garbage"})
    assert_error(resp, 401, "use_dpop_nonce")
    fresh_nonce(resp)
