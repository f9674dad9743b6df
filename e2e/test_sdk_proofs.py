"""DPoP proofs built by the Rust client library (agent-id-client), judged by verifiers nobody here
wrote: `cryptography` for the signatures, `jwskate` for the JWS and the RFC 7638 thumbprint, and
plain hashlib for `ath`. No server needed: the library's example program prints the proofs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwskate import Jwk, JwsCompact

pytestmark = pytest.mark.offline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "target" / "debug" / "examples" / "dpop_proof"


def b64d(s: str) -> bytes:
    assert "=" not in s and "+" not in s and "/" not in s, "JWS segments must be unpadded base64url"
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def example() -> Path:
    """Builds the example (a no-op when it is up to date); bounded in time."""
    subprocess.run(
        ["cargo", "build", "-q", "-p", "agent-id-client", "--example", "dpop_proof"],
        cwd=ROOT, check=True, timeout=900,
    )
    return EXAMPLE


def proof(example: Path, alg: str, htm: str, htu: str, nonce: str | None = None,
          token: str | None = None) -> dict:
    args = [str(example), "--alg", alg, "--htm", htm, "--htu", htu]
    if nonce:
        args += ["--nonce", nonce]
    if token:
        args += ["--token-stdin"]
    out = subprocess.run(args, input=token or "", capture_output=True, text=True, check=True,
                         timeout=30, env={**os.environ, "RUST_BACKTRACE": "0"})
    return json.loads(out.stdout)


def rfc7638(jwk: dict) -> str:
    """RFC 7638 §3 by hand: required members, sorted, no whitespace, SHA-256, base64url."""
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    text = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64e(hashlib.sha256(text.encode()).digest())


def check_signature(token: str, jwk: dict) -> None:
    h, p, s = token.split(".")
    signing_input, sig = f"{h}.{p}".encode(), b64d(s)
    if jwk["kty"] == "OKP":
        assert jwk["crv"] == "Ed25519"
        Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(sig, signing_input)
    else:
        assert jwk["crv"] == "P-256" and len(sig) == 64, "ES256 is raw r||s (RFC 7518 §3.4)"
        key = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"),
            ec.SECP256R1()).public_key()
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_proofs_verify_independently_with_their_thumbprint(example, alg):
    htu = "https://id.example.com/v1/oauth/userinfo?x=1#frag"
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln"
    out = proof(example, alg, "GET", htu, nonce="n-123", token=token)
    jws = out["proof"]
    h, p, _ = jws.split(".")
    header, claims = json.loads(b64d(h)), json.loads(b64d(p))

    # RFC 9449 §4.2 header
    assert header["typ"] == "dpop+jwt" and header["alg"] == alg
    assert header["jwk"] == out["jwk"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(header["jwk"]), "no private members"
    # signature: cryptography, then jwskate
    check_signature(jws, header["jwk"])
    assert JwsCompact(jws).verify_signature(Jwk(header["jwk"]), alg=alg)
    # RFC 7638 thumbprint: by hand, by jwskate, by the library
    assert rfc7638(header["jwk"]) == Jwk(header["jwk"]).thumbprint() == out["thumbprint"]
    # claims
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://id.example.com/v1/oauth/userinfo", "query and fragment dropped"
    assert abs(claims["iat"] - time.time()) < 60
    assert uuid.UUID(claims["jti"]).version == 4
    assert claims["ath"] == b64e(hashlib.sha256(token.encode("ascii")).digest())
    assert claims["nonce"] == "n-123"


def test_a_tampered_proof_fails_the_independent_verifiers(example):
    out = proof(example, "EdDSA", "POST", "https://id.example.com/v1/agents/login")
    h, p, s = out["proof"].split(".")
    claims = json.loads(b64d(p))
    claims["htu"] = "https://evil.example/v1/agents/login"
    forged = f"{h}.{b64e(json.dumps(claims).encode())}.{s}"
    with pytest.raises(InvalidSignature):
        check_signature(forged, out["jwk"])
    assert not JwsCompact(forged).verify_signature(Jwk(out["jwk"]), alg="EdDSA")
    # Without ath or nonce when none were given.
    assert "ath" not in json.loads(b64d(p)) and "nonce" not in json.loads(b64d(p))


def test_each_proof_is_fresh(example):
    a = proof(example, "EdDSA", "POST", "https://id.example.com/v1/agents/login")
    b = proof(example, "EdDSA", "POST", "https://id.example.com/v1/agents/login")
    ca, cb = (json.loads(b64d(x["proof"].split(".")[1])) for x in (a, b))
    assert ca["jti"] != cb["jti"]
