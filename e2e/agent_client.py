"""Independent agent client for the agent-id HTTP API (api.md §2.2, §2.3, §9).

Built only on PyPI ``cryptography`` (Ed25519) and ``requests``. Nothing here is derived from the
server code: every format follows the spec documents (api.md §9.1-9.3, vectors.md §6).

Low-level calls return the ``requests.Response`` unchanged so that tests can assert status codes and
bodies; the convenience flows ``register()`` and ``rotate_key()`` raise ``AgentClientError`` when the
server does not answer with the documented success status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any, Callable, Mapping, Optional

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Sentinel: use as a value in header/payload overrides to remove that member.
DROP = object()


# --------------------------------------------------------------------------------------------------
# Encoding helpers (api.md 9.1)
# --------------------------------------------------------------------------------------------------

def b64e(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode unpadded (or padded) base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(obj: Any) -> str:
    """JSON without whitespace, keeping the key order of ``obj``."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> str:
    """JSON without whitespace, keys sorted (RFC 7638 / challenge_data style)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def is_canonical_b64url(text: str, nbytes: int) -> bool:
    """True when ``text`` is the canonical unpadded base64url encoding of ``nbytes`` bytes."""
    if not isinstance(text, str) or len(text) != (4 * nbytes + 2) // 3:
        return False
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        return False
    try:
        raw = b64d(text)
    except Exception:
        return False
    return len(raw) == nbytes and b64e(raw) == text


def thumbprint_okp(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 OKP key (api.md 9.7)."""
    return b64e(hashlib.sha256(canonical_json({"crv": "Ed25519", "kty": "OKP", "x": x}).encode()).digest())


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------

class Ed25519Key:
    """An Ed25519 key pair; ``x`` is the canonical unpadded base64url public key."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self.private_key = private_key
        self.public_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.seed = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self.x = b64e(self.public_bytes)

    @classmethod
    def generate(cls) -> "Ed25519Key":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "Ed25519Key":
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate_where(cls, predicate: Callable[["Ed25519Key"], bool], tries: int = 10_000) -> "Ed25519Key":
        """A random key whose properties satisfy ``predicate`` (e.g. its ``x`` contains ``_``)."""
        for _ in range(tries):
            key = cls.generate()
            if predicate(key):
                return key
        raise RuntimeError("no key satisfied the predicate")

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def public_jwk(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x}

    def thumbprint(self) -> str:
        return thumbprint_okp(self.x)

    def __repr__(self) -> str:  # never print the seed
        return f"Ed25519Key(x={self.x})"


# --------------------------------------------------------------------------------------------------
# JWS / DPoP proofs (api.md 9.3)
# --------------------------------------------------------------------------------------------------

def _apply_overrides(base: dict, overrides: Optional[Mapping[str, Any]]) -> dict:
    out = dict(base)
    for name, value in (overrides or {}).items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def build_jws(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    signer: Callable[[bytes], bytes],
    *,
    header_json: Optional[str] = None,
    payload_json: Optional[str] = None,
    header_segment: Optional[str] = None,
    payload_segment: Optional[str] = None,
    signature_transform: Optional[Callable[[bytes], bytes]] = None,
    signature_segment: Optional[str] = None,
) -> str:
    """Compact JWS ``b64(header).b64(payload).b64(signature)``.

    Hooks (all optional):
      header_json / payload_json       exact JSON text to encode instead of serialising the dict
      header_segment / payload_segment exact segment text (e.g. re-encoded with padding); the
                                       signature is computed over the segments as given
      signature_transform              applied to the signature bytes (e.g. flip one bit)
      signature_segment                exact third segment (e.g. "" for alg none)
    """
    h = header_segment if header_segment is not None else b64e(
        (header_json if header_json is not None else compact_json(header)).encode("utf-8")
    )
    p = payload_segment if payload_segment is not None else b64e(
        (payload_json if payload_json is not None else compact_json(payload)).encode("utf-8")
    )
    signing_input = f"{h}.{p}".encode("ascii")
    if signature_segment is not None:
        s = signature_segment
    else:
        sig = signer(signing_input)
        if signature_transform is not None:
            sig = signature_transform(sig)
        s = b64e(sig)
    return f"{h}.{p}.{s}"


def dpop_header(key: Ed25519Key) -> dict:
    """The v1 agent proof header, member order as in api.md 9.3."""
    return {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public_jwk()}


def dpop_payload(method: str, htu: str, *, jti: Optional[str] = None, iat: Optional[int] = None) -> dict:
    return {
        "jti": jti if jti is not None else str(uuid.uuid4()),
        "htm": method,
        "htu": htu,
        "iat": int(time.time()) if iat is None else iat,
    }


def build_dpop_proof(
    key: Ed25519Key,
    method: str,
    htu: str,
    *,
    jti: Optional[str] = None,
    iat: Optional[int] = None,
    header: Optional[Mapping[str, Any]] = None,
    payload: Optional[Mapping[str, Any]] = None,
    header_overrides: Optional[Mapping[str, Any]] = None,
    payload_overrides: Optional[Mapping[str, Any]] = None,
    signer: Optional[Callable[[bytes], bytes]] = None,
    **jws_hooks: Any,
) -> str:
    """A DPoP proof per api.md 9.3, signed with ``key`` unless ``signer`` is given.

    ``header``/``payload`` replace the defaults wholesale; ``*_overrides`` set (or, with ``DROP``,
    remove) single members. Remaining keyword arguments are the hooks of ``build_jws``.
    """
    hdr = dict(header) if header is not None else dpop_header(key)
    pl = dict(payload) if payload is not None else dpop_payload(method, htu, jti=jti, iat=iat)
    hdr = _apply_overrides(hdr, header_overrides)
    pl = _apply_overrides(pl, payload_overrides)
    return build_jws(hdr, pl, signer or key.sign, **jws_hooks)


def flip_bit(data: bytes, index: int = 0, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Agent client
# --------------------------------------------------------------------------------------------------

class AgentClientError(AssertionError):
    """A convenience flow got an unexpected answer; carries a readable description."""


def describe(resp: requests.Response) -> str:
    """Readable request/response summary for assertion messages."""
    req = resp.request
    body = req.body
    if isinstance(body, bytes):
        body = body[:300].decode("utf-8", "replace")
    elif isinstance(body, str):
        body = body[:300]
    interesting = {k: v for k, v in req.headers.items()
                   if k.lower() in ("content-type", "authorization", "dpop", "content-length")}
    if "DPoP" in interesting and len(interesting["DPoP"]) > 80:
        interesting["DPoP"] = interesting["DPoP"][:80] + "…"
    resp_headers = {k: v for k, v in resp.headers.items()
                    if k.lower() in ("content-type", "www-authenticate", "dpop-nonce", "allow",
                                     "x-request-id", "retry-after")}
    return (f"request: {req.method} {req.url} headers={interesting} body={body!r}\n"
            f"response: {resp.status_code} headers={resp_headers} body={resp.text[:500]!r}")


class AgentClient:
    """An agent program talking to agent-id.

    ``http`` is a ``requests.Session`` (the e2e suite passes one that enforces timeouts and the base
    URL); ``base_url`` is the issuer origin, e.g. ``http://127.0.0.1:8787``.
    """

    def __init__(self, base_url: str, http: Optional[requests.Session] = None,
                 key: Optional[Ed25519Key] = None, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.http = http or requests.Session()
        self.timeout = timeout
        self.key = key or Ed25519Key.generate()
        self.previous_keys: list[Ed25519Key] = []
        self.agent_id: Optional[str] = None
        self.session_id: Optional[str] = None
        self.agent: Optional[dict] = None

    # -- plumbing ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.http.request(method, self.url(path), **kwargs)

    def bearer(self, session_id: Optional[str] = None) -> dict:
        return {"Authorization": f"Bearer {session_id or self.session_id}"}

    # -- proofs -----------------------------------------------------------------------------------

    def dpop_proof(self, method: str, url: str, **overrides: Any) -> str:
        """DPoP proof for ``method`` + ``url`` (absolute, or a path appended to the base URL).

        ``key=`` signs with another key; all other keyword arguments are those of
        ``build_dpop_proof`` (jti, iat, header, payload, header_overrides, payload_overrides,
        signer, header_json, payload_json, header_segment, payload_segment, signature_transform,
        signature_segment).
        """
        key = overrides.pop("key", None) or self.key
        return build_dpop_proof(key, method, self.url(url), **overrides)

    # -- registration (api.md 2.2) ----------------------------------------------------------------

    def register_initiate(self, name: Any = None, description: Any = None, *,
                          public_key: Any = None, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is None:
            body = {"name": name, "public_key": public_key if public_key is not None else self.key.x}
            if description is not None:
                body["description"] = description
        return self.request("POST", "/v1/agents/register/initiate", json=body, **kwargs)

    def sign_challenge(self, challenge_data: str, key: Optional[Ed25519Key] = None) -> str:
        """Signature over the UTF-8 bytes of ``challenge_data`` exactly as received (api.md 9.2)."""
        return b64e((key or self.key).sign(challenge_data.encode("utf-8")))

    def register_complete(self, challenge_id: str, signature: Any, *, body: Any = None,
                          **kwargs: Any) -> requests.Response:
        if body is None:
            body = {"signature": signature}
        return self.request("POST", f"/v1/agents/register/complete/{challenge_id}", json=body, **kwargs)

    def register(self, name: str = "e2e agent", description: Optional[str] = None) -> dict:
        """initiate → sign challenge_data → complete. Returns the complete (201) body."""
        init = self.register_initiate(name, description)
        if init.status_code != 202:
            raise AgentClientError("register/initiate failed\n" + describe(init))
        data = init.json()
        done = self.register_complete(data["challenge_id"], self.sign_challenge(data["challenge_data"]))
        if done.status_code != 201:
            raise AgentClientError("register/complete failed\n" + describe(done))
        body = done.json()
        self.agent = body["agent"]
        self.agent_id = body["agent"]["id"]
        self.session_id = body["session_id"]
        return body

    # -- login / session (api.md 2.2) -------------------------------------------------------------

    def login(self, *, proof: Optional[str] = None, body: Any = ..., headers: Optional[dict] = None,
              **proof_overrides: Any) -> requests.Response:
        """POST /v1/agents/login with a fresh proof (or ``proof``). On 200 the session is kept.

        ``body`` defaults to ``{"agent_id": <own id>}`` when the id is known, else ``{}``; pass
        ``body=None`` to send no body at all.
        """
        if proof is None:
            proof = self.dpop_proof("POST", "/v1/agents/login", **proof_overrides)
        if body is ...:
            body = {"agent_id": self.agent_id} if self.agent_id else {}
        hdrs = {"DPoP": proof}
        hdrs.update(headers or {})
        if body is None:
            resp = self.request("POST", "/v1/agents/login", headers=hdrs)
        else:
            resp = self.request("POST", "/v1/agents/login", json=body, headers=hdrs)
        if resp.status_code == 200:
            self.session_id = resp.json().get("session_id", self.session_id)
        return resp

    def me(self, session_id: Optional[str] = None) -> requests.Response:
        return self.request("GET", "/v1/agents/me", headers=self.bearer(session_id))

    def logout(self, session_id: Optional[str] = None) -> requests.Response:
        return self.request("POST", "/v1/agents/logout", headers=self.bearer(session_id))

    # -- key rotation (api.md 2.3) ----------------------------------------------------------------

    def rotate_initiate(self, new_public_key: Any, *, session_id: Optional[str] = None,
                        body: Any = None) -> requests.Response:
        if body is None:
            body = {"new_public_key": new_public_key}
        return self.request("POST", "/v1/agents/rotate-key/initiate", json=body,
                            headers=self.bearer(session_id))

    def rotate_complete(self, challenge_id: str, signature: Any, *, proof_key: Optional[Ed25519Key] = None,
                        proof: Optional[str] = None, headers: Optional[dict] = None,
                        body: Any = None, **proof_overrides: Any) -> requests.Response:
        """Complete a rotation: ``signature`` by the NEW key, DPoP proof by the current (old) key.

        ``proof=""`` sends no DPoP header at all."""
        path = f"/v1/agents/rotate-key/complete/{challenge_id}"
        if proof is None:
            proof = self.dpop_proof("POST", path, key=proof_key or self.key, **proof_overrides)
        hdrs = {"DPoP": proof} if proof != "" else {}
        hdrs.update(headers or {})
        if body is None:
            body = {"signature": signature}
        return self.request("POST", path, json=body, headers=hdrs)

    def rotate_key(self, new_key: Optional[Ed25519Key] = None) -> dict:
        """initiate with the new key → sign challenge_data with the NEW key → complete with a proof
        by the OLD key. Returns the complete (200) body and switches to the new key and session."""
        new_key = new_key or Ed25519Key.generate()
        init = self.rotate_initiate(new_key.x)
        if init.status_code != 200:
            raise AgentClientError("rotate-key/initiate failed\n" + describe(init))
        data = init.json()
        done = self.rotate_complete(data["challenge_id"], self.sign_challenge(data["challenge_data"], new_key))
        if done.status_code != 200:
            raise AgentClientError("rotate-key/complete failed\n" + describe(done))
        body = done.json()
        self.previous_keys.append(self.key)
        self.key = new_key
        self.session_id = body["session_id"]
        self.agent = body["agent"]
        return body
