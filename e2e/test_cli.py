"""The `agent-id` CLI against the real wasm in workerd (issue 11, "e2e").

The binary is given by ``AGENT_ID_CLI`` (``scripts/test.sh`` builds it with ``cargo build -p
agent-id-cli``). Every test runs it as a subprocess with its own temporary ``XDG_CONFIG_HOME`` /
``XDG_STATE_HOME`` / ``HOME``, ``--json`` output and a bounded run time; the servers are the
loopback ones of ``AGENT_ID_BASE_URL`` and ``AGENT_ID_NONCE_BASE_URL``. The human overseer's side
(claims) and the OAuth client's registration go over HTTP with the suite's own helpers, so the CLI
is checked against an independent party on the other side of every exchange.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from agent_client import Ed25519Key, thumbprint_okp
from conftest import _normalise_base_url
from helpers import assert_error, assert_ok, assert_uuid4
from oauth_setup import REDIRECT_URI, load_dev_vars, paid_overseer

CLI_ENV = "AGENT_ID_CLI"
NONCE_ENV = "AGENT_ID_NONCE_BASE_URL"
RUN_TIMEOUT_SECS = 30


@dataclass
class Run:
    args: tuple
    rc: int
    stdout: str
    stderr: str

    def out(self) -> dict:
        """The one JSON object a successful ``--json`` run prints on stdout."""
        assert self.rc == 0, self.explain("expected exit 0")
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.explain("expected exactly one line of JSON on stdout")
        value = json.loads(lines[0])
        assert isinstance(value, dict), self.explain("stdout is not a JSON object")
        return value

    def error(self, rc: int) -> dict:
        """The ``{"error": {...}}`` object a failed ``--json`` run prints on stderr."""
        assert self.rc == rc, self.explain(f"expected exit {rc}")
        assert self.stdout == "", self.explain("a failed run printed on stdout")
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.explain("expected exactly one line of JSON on stderr")
        value = json.loads(lines[0])
        assert set(value) == {"error"}, self.explain("stderr is not {error: …}")
        return value["error"]

    def refused(self, code: str, status: Optional[int] = None) -> dict:
        err = self.error(1)
        assert err["kind"] == "refused" and err["code"] == code, self.explain(f"expected refusal {code}")
        if status is not None:
            assert err["status"] == status, self.explain(f"expected status {status}")
        return err

    def explain(self, what: str) -> str:
        return (f"{what}: agent-id {' '.join(self.args)} exited {self.rc}\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")


class Cli:
    """One agent's CLI: a private config/state directory, one server."""

    def __init__(self, binary: str, server: str, home: Path):
        self.binary = binary
        self.server = server
        self.home = home
        self.config = home / "config"
        self.state = home / "state"
        for d in (self.config, self.state):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)

    def env(self) -> dict:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.config),
            "XDG_STATE_HOME": str(self.state),
            "AGENT_ID_SERVER": self.server,
            # loopback only: no proxy may redirect the CLI's traffic
            "NO_PROXY": "*",
        }

    def run(self, *args: str, json_output: bool = True, stdin: Optional[str] = None) -> Run:
        argv = [self.binary, *(["--json"] if json_output else []), *args]
        proc = subprocess.run(argv, env=self.env(), input=stdin, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_SECS)
        return Run(tuple(argv[1:]), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> dict:
        return self.run(*args).out()

    def keygen(self) -> dict:
        return self.ok("keygen")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pkce_pair() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def assert_no_secret_printed(run: Run, *secrets_: str) -> None:
    for secret in secrets_:
        assert secret not in run.stdout and secret not in run.stderr, run.explain("a secret was printed")


@pytest.fixture(scope="session")
def cli_binary() -> str:
    path = os.environ.get(CLI_ENV)
    if not path:
        pytest.fail(f"{CLI_ENV} is not set: build the CLI (cargo build -p agent-id-cli) and export "
                    f"{CLI_ENV}=target/debug/agent-id (scripts/test.sh does both)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{CLI_ENV}={path} is not an executable file", pytrace=False)
    return path


@pytest.fixture
def cli(cli_binary, base_url, tmp_path) -> Cli:
    return Cli(cli_binary, base_url, tmp_path / "agent")


@pytest.fixture
def nonce_cli(cli_binary, tmp_path) -> Cli:
    raw = os.environ.get(NONCE_ENV)
    if not raw:
        pytest.skip(f"{NONCE_ENV} not set (server with DPOP_REQUIRE_NONCE=true)")
    return Cli(cli_binary, _normalise_base_url(raw), tmp_path / "nonce-agent")


@pytest.fixture
def overseer(http, base_url):
    """A human overseer on a paid tier (a FREE overseer may claim no agent, api.md §6)."""
    return paid_overseer(http, base_url, load_dev_vars())


def test_lifecycle_register_login_rotate_claim_authorize_logout(cli, http, base_url, overseer, tmp_path):
    # keygen: a fresh Ed25519 key in the per-server directory, 0600 in a 0700 directory
    generated = cli.keygen()
    key_file = Path(generated["key_file"])
    assert key_file.is_relative_to(cli.config / "agent-id"), generated
    assert mode(key_file) == 0o600 and mode(key_file.parent) == 0o700
    public_key = generated["public_key"]
    assert generated["thumbprint"] == thumbprint_okp(public_key)  # RFC 7638, computed independently

    # register: the server's view of the agent carries the key keygen printed
    registered = cli.ok("register", "--name", "CLI e2e agent", "--description", "driven by pytest")
    agent = registered["agent"]
    agent_id = assert_uuid4(agent["id"], "agent.id")
    assert agent["public_key"] == public_key and agent["name"] == "CLI e2e agent"
    assert agent["description"] == "driven by pytest"

    # login (one DPoP proof) and whoami (the saved session)
    logged_in = cli.ok("login")
    assert logged_in["agent_id"] == agent_id and logged_in["expires_in"] > 0
    me = cli.ok("whoami")
    assert me["agent"]["id"] == agent_id and me["agent"]["public_key"] == public_key
    assert me["subscription"]["tier"] == "FREE"

    # rotate: both keys proven; the server now lists the new key, the old one is refused
    old_key = tmp_path / "old-key.json"
    shutil.copy2(key_file, old_key)
    old_key.chmod(0o600)
    rotated = cli.ok("rotate")
    new_key = rotated["public_key"]
    assert new_key != public_key and rotated["previous_public_key"] == public_key
    assert rotated["agent"]["id"] == agent_id
    profile = assert_ok(http.get(f"{base_url}/v1/agents/{agent_id}"))
    assert profile["agent"]["public_key"] == new_key
    assert cli.ok("whoami")["agent"]["public_key"] == new_key
    assert cli.ok("login")["agent_id"] == agent_id
    cli.run("--key-file", str(old_key), "login").refused("invalid_dpop_proof", 401)

    # claim: the overseer initiates over HTTP, the agent accepts with the CLI
    assert cli.ok("overseer")["overseer"] is None
    initiated = assert_ok(http.post(f"{base_url}/v1/agents/claim/initiate", json={"agent_id": agent_id},
                                    headers=overseer.bearer()))
    challenge_id = initiated["challenge_id"]
    accepted = cli.ok("claim", "accept", challenge_id, "--overseer-id", overseer.overseer_id)
    assert accepted == {"status": "completed", "agent_id": agent_id, "overseer_id": overseer.overseer_id,
                        "shadow_overseer_id": None}
    status = assert_ok(http.get(f"{base_url}/v1/agents/claim/status/{challenge_id}", headers=overseer.bearer()))
    assert status["status"] == "completed"
    seen = cli.ok("overseer")["overseer"]
    assert seen["id"] == overseer.overseer_id and seen["is_shadow"] is False

    # authorize: approve an OAuth client's request; the redirect carries the code and the state
    client_key = Ed25519Key.generate()
    client = overseer.register_client(http, client_key.public_jwk()["x"])
    _verifier, challenge = pkce_pair()
    approval = cli.run("authorize", "--client-id", client["id"], "--redirect-uri", REDIRECT_URI,
                       "--code-challenge", challenge, "--scope", "id name", "--state", "cli-e2e")
    approved = approval.out()
    redirect = urllib.parse.urlsplit(approved["redirect_to"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT_URI, approved
    query = urllib.parse.parse_qs(redirect.query)
    assert query["code"] == [approved["code"]] and query["state"] == ["cli-e2e"]
    assert query["iss"] == [base_url] and approved["scope"] == "id name"
    # the same approval from the whole authorization URL the client made
    url = f"{base_url}/v1/oauth/authorize?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": client["id"], "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": "id",
        "state": "from url"})
    by_url = cli.ok("authorize", "--url", url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(by_url["redirect_to"]).query)
    assert query["state"] == ["from url"] and by_url["scope"] == "id" and query["code"] != [approved["code"]]
    history = cli.ok("history")
    assert [(h["client_id"], h["status"], h["scopes"]) for h in history["history"]] == [
        (client["id"], "approved", "id"), (client["id"], "approved", "id name")]
    assert history["next_cursor"] is None

    # logout: the server revokes the session (checked with the token the CLI had saved); the
    # CLI forgets it
    session_file = key_file.parent / "session.json"
    assert mode(session_file) == 0o600
    token = json.loads(session_file.read_text())["session_id"]
    assert_ok(http.get(f"{base_url}/v1/agents/me", headers={"Authorization": f"Bearer {token}"}))
    assert cli.ok("logout") == {"logged_out": True}
    assert not session_file.exists()
    assert_error(http.get(f"{base_url}/v1/agents/me", headers={"Authorization": f"Bearer {token}"}),
                 401, "invalid_session")
    assert "agent-id login" in cli.run("whoami").error(3)["message"]


def test_secrets_are_never_printed(cli):
    generated = cli.keygen()
    key = json.loads(Path(generated["key_file"]).read_text())
    private_parts = [v for k, v in key.items() if k == "d"]
    assert private_parts, f"the key file has no private member `d`: {sorted(key)}"
    runs = [cli.run("register", "--name", "quiet agent"), cli.run("login"), cli.run("whoami"),
            cli.run("rotate"), cli.run("logout")]
    runs += [cli.run("login", json_output=False), cli.run("whoami", json_output=False)]
    for run in runs:
        assert run.rc == 0, run.explain("expected success")
        assert_no_secret_printed(run, *private_parts)
        assert "session_id" not in run.stdout, run.explain("a session id was printed")


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(cli, bad_mode):
    key_file = Path(cli.keygen()["key_file"])
    cli.ok("register", "--name", "permission agent")
    key_file.chmod(bad_mode)
    err = cli.run("login").error(3)
    assert err["kind"] == "local"
    assert str(key_file) in err["message"] and "chmod 600" in err["message"], err
    human = cli.run("login", json_output=False)
    assert human.rc == 3 and str(key_file) in human.stderr and human.stdout == ""
    key_file.chmod(0o600)
    assert cli.ok("login")


def test_state_directory_open_to_others_is_refused(cli):
    # the per-server directory exists already, readable by everyone: no key is written into it
    slug = cli.server.replace("://", "_").replace(":", "_")
    directory = cli.config / "agent-id" / slug
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    err = cli.run("keygen").error(3)
    assert str(directory) in err["message"] and "chmod 700" in err["message"], err
    assert list(directory.iterdir()) == []
    directory.chmod(0o700)
    assert cli.keygen()["key_file"] == str(directory / "key.jwk")


def test_tampered_key_file_is_refused(cli):
    key_file = Path(cli.keygen()["key_file"])
    cli.ok("register", "--name", "tamper agent")
    original = key_file.read_text()
    key = json.loads(original)
    # another public key next to the private key: the file no longer holds one key pair
    key["x"] = Ed25519Key.generate().public_jwk()["x"]
    key_file.write_text(json.dumps(key))
    err = cli.run("login").error(3)
    assert str(key_file) in err["message"], err
    # garbage in place of JSON
    key_file.write_text("not a key\n")
    assert str(key_file) in cli.run("login").error(3)["message"]
    key_file.write_text(original)
    assert cli.ok("login")


def test_keygen_never_overwrites_a_key(cli):
    first = cli.keygen()
    err = cli.run("keygen").error(3)
    assert first["key_file"] in err["message"], err
    assert json.loads(Path(first["key_file"]).read_text())["x"] == first["public_key"]


def test_rotation_leaves_exactly_the_new_key(cli):
    """After a confirmed rotation the key file holds the new key (0600) and no side file is left."""
    key_file = Path(cli.keygen()["key_file"])
    cli.ok("register", "--name", "rotating agent")
    rotated = cli.ok("rotate")
    assert json.loads(key_file.read_text())["x"] == rotated["public_key"]
    assert mode(key_file) == 0o600
    leftovers = [p.name for p in key_file.parent.iterdir() if p.name != key_file.name and "key" in p.name]
    assert leftovers == [], f"rotation left key files behind: {leftovers}"


def test_server_refusals_exit_1_with_the_servers_code(cli, http, base_url):
    cli.keygen()
    cli.ok("register", "--name", "refused agent")
    # a claim challenge that does not exist
    cli.run("claim", "accept", "00000000-0000-4000-8000-000000000000",
            "--overseer-id", "00000000-0000-4000-8000-000000000001").refused("challenge_not_found", 404)
    # an OAuth client that does not exist (OAuth error format: code from `error`)
    _v, challenge = pkce_pair()
    cli.run("authorize", "--client-id", "00000000-0000-4000-8000-000000000002",
            "--redirect-uri", REDIRECT_URI, "--code-challenge", challenge).refused("invalid_request", 400)
    # the same key cannot register twice
    cli.run("register", "--name", "twice").refused("duplicate_public_key", 409)


def test_usage_errors_exit_2(cli):
    assert cli.run("register").rc == 2  # --name is required
    assert cli.run("claim", "accept").rc == 2
    assert cli.run("no-such-command").rc == 2
    bad = subprocess.run([cli.binary, "--server", "http://example.com", "whoami"], capture_output=True,
                         text=True, env=cli.env(), timeout=RUN_TIMEOUT_SECS)
    assert bad.returncode == 2 and "loopback" in bad.stderr, bad.stderr
    # a bad AGENT_ID_SERVER is a usage error too, but only when no --server replaces it
    stale = {**cli.env(), "AGENT_ID_SERVER": "http://example.com"}
    bad = subprocess.run([cli.binary, "--json", "whoami"], capture_output=True, text=True, env=stale,
                         timeout=RUN_TIMEOUT_SECS)
    assert bad.returncode == 2 and "AGENT_ID_SERVER" in json.loads(bad.stderr)["error"]["message"]
    cli.keygen()
    cli.ok("register", "--name", "explicit server")
    good = subprocess.run([cli.binary, "--json", "--server", cli.server, "whoami"], capture_output=True,
                          text=True, env=stale, timeout=RUN_TIMEOUT_SECS)
    assert good.returncode == 0, good.stderr


def test_nonce_retry_on_a_server_that_requires_nonces(nonce_cli):
    nonce_cli.keygen()
    agent_id = nonce_cli.ok("register", "--name", "nonce CLI agent")["agent"]["id"]
    # login and rotation completion carry DPoP proofs: the server answers use_dpop_nonce first,
    # the CLI retries once with the nonce it was given
    assert nonce_cli.ok("login")["agent_id"] == agent_id
    rotated = nonce_cli.ok("rotate")
    assert rotated["agent"]["id"] == agent_id
    assert nonce_cli.ok("login")["agent_id"] == agent_id
    assert nonce_cli.ok("whoami")["agent"]["public_key"] == rotated["public_key"]
