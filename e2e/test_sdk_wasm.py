"""The Rust client library compiled to wasm32, over its `fetch` transport, run in Node against the
real Worker in workerd: register -> login -> me -> rotate -> old key refused -> login with the new
key -> logout -> session refused (crates/agent-id-client/examples/fetch_lifecycle.rs). On the
second server (DPOP_REQUIRE_NONCE=true) the same run goes through the nonce retry.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BoundedSession, _normalise_base_url

ROOT = Path(__file__).resolve().parent.parent
NONCE_ENV = "AGENT_ID_NONCE_BASE_URL"


@pytest.fixture(scope="module")
def wasm_module(tmp_path_factory) -> Path:
    """Builds the example for wasm32 (release profile, as a Worker would ship it) and binds it
    for Node with the wasm-bindgen CLI the Worker build uses."""
    out = tmp_path_factory.mktemp("sdk-wasm")
    subprocess.run(
        ["cargo", "build", "-q", "-p", "agent-id-client", "--example", "fetch_lifecycle",
         "--target", "wasm32-unknown-unknown", "--release"],
        cwd=ROOT, check=True, timeout=1500,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    wasm = target / "wasm32-unknown-unknown" / "release" / "examples" / "fetch_lifecycle.wasm"
    subprocess.run(["wasm-bindgen", "--target", "nodejs", "--out-dir", str(out), str(wasm)],
                   check=True, timeout=300)
    return out / "fetch_lifecycle.js"


def lifecycle(module: Path, base_url: str) -> dict:
    script = ("require(process.argv[1]).lifecycle(process.argv[2])"
              ".then(r => console.log(r), e => { console.error(String(e)); process.exit(1); })")
    run = subprocess.run(["node", "-e", script, str(module), base_url],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def check(result: dict, base_url: str) -> None:
    assert result["me_name"] == "wasm fetch agent"
    assert result["rotated_public_key"] == result["new_public_key"] != result["old_public_key"]
    assert result["old_key_login"] == "invalid_dpop_proof"
    assert result["after_logout"] == "invalid_session"
    # The server's public profile agrees, read by another client.
    with BoundedSession(base_url) as http:
        r = http.get(f"{base_url}/v1/agents/{result['agent_id']}")
        assert r.status_code == 200, r.text
        assert r.json()["agent"]["public_key"] == result["new_public_key"]


def test_the_wasm_library_runs_the_agent_lifecycle_over_fetch(wasm_module, base_url):
    result = lifecycle(wasm_module, base_url)
    check(result, base_url)
    assert result["nonce_cached"] is False, "no nonce is handed out when none is required"


def test_the_wasm_library_answers_nonce_challenges_over_fetch(wasm_module):
    raw = os.environ.get(NONCE_ENV)
    if not raw:
        pytest.skip(f"{NONCE_ENV} not set (server with DPOP_REQUIRE_NONCE=true)")
    url = _normalise_base_url(raw)
    result = lifecycle(wasm_module, url)
    check(result, url)
    assert result["nonce_cached"] is True
