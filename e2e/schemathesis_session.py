"""Prints a fresh session id for scripts/test.sh's schemathesis passes (stdout: the id only).

    python e2e/schemathesis_session.py overseer|agent BASE_URL

An overseer signs up with a random e-mail; an agent registers with a fresh Ed25519 key through the
independent client in agent_client.py. The session authenticates one schemathesis pass with
`-H "Authorization: Bearer <id>"`, so the generated requests reach past authentication.
"""
import secrets
import sys

import requests

from agent_client import AgentClient


def main() -> None:
    kind, base = sys.argv[1], sys.argv[2].rstrip("/")
    if not base.startswith("http://127.0.0.1:"):
        sys.exit(f"refusing non-loopback base URL {base}")
    if kind == "overseer":
        resp = requests.post(f"{base}/v1/overseers/register", timeout=10, json={
            "name": "schemathesis",
            "email": f"schemathesis-{secrets.token_hex(6)}@example.test",
            "password": secrets.token_urlsafe(18),
        })
        resp.raise_for_status()
        print(resp.json()["session_id"])
    elif kind == "agent":
        agent = AgentClient(base)
        agent.register("schemathesis agent")
        print(agent.session_id)
    else:
        sys.exit(f"unknown session kind {kind!r}")


if __name__ == "__main__":
    main()
