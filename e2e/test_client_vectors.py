"""Self-check of the client's crypto against vectors.md (no server needed)."""

import json

import pytest
from nacl.signing import VerifyKey

from agent_client import (Ed25519Key, b64d, b64e, build_dpop_proof, build_jws, canonical_json,
                          is_canonical_b64url, thumbprint_okp)

pytestmark = pytest.mark.offline

KA = Ed25519Key.from_seed(b64d("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
KN = Ed25519Key.from_seed(bytes(range(0x40, 0x60)))

PROOF_5_3 = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIiwiandrIjp7Imt0eSI6Ik9LUCIsImNydiI6IkVkMjU1MTkiLCJ4Ijoi"
    "MTFxWUFZS3hDcmZWU183VHlXUUhPZzdoY3ZQYXBpTWxyd0lhYVBjSFVSbyJ9fQ"
    ".eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6"
    "Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9"
    ".QVBRJLXemGDn6YrzR32XayFHCy-46KDgYaXocZMs9MB0p664uAy5hnBNC1_h15U71ohvly0dx7STJwJZutacDQ"
)
PROOF_5_3_ED25519 = (
    "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiZHBvcCtqd3QiLCJqd2siOnsiY3J2IjoiRWQyNTUxOSIsImt0eSI6Ik9LUCIsIngi"
    "OiIxMXFZQVlLeENyZlZTXzdUeVdRSE9nN2hjdlBhcGlNbHJ3SWFhUGNIVVJvIn19"
    ".eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6"
    "Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9"
    ".7YOD7vKi6TLyZGv4Vet5qhGNPQ20W5ECBQGnNeeIGwxJ5_w76jgoGAwIndRRWYP9W_PIMn0nm49fVo-O0uELBQ"
)


def nacl_verify(token: str, x: str) -> None:
    h, p, s = token.split(".")
    VerifyKey(b64d(x)).verify(f"{h}.{p}".encode(), b64d(s))


def test_keys_of_section_1():
    assert KA.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert KA.thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert KN.x == "JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0"
    assert thumbprint_okp(KN.x) == "WeVHjIQTOLKu-P74oC-WL-MNn_sLM5CvrzuMjDFC3-s"


def test_rfc8037_jws():
    token = build_jws({"alg": "EdDSA"}, {}, KA.sign,
                      payload_segment=b64e(b"Example of Ed25519 signing"))
    assert token == ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
                     "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def test_login_proof_5_3_v1_format():
    proof = build_dpop_proof(KA, "POST", "https://id.example.com/v1/agents/login",
                             jti="5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42", iat=1767225600)
    assert proof == PROOF_5_3
    h, p, _ = proof.split(".")
    assert b64d(h) == (b'{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519",'
                       b'"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}')
    assert b64d(p) == (b'{"jti":"5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42","htm":"POST",'
                       b'"htu":"https://id.example.com/v1/agents/login","iat":1767225600}')
    nacl_verify(proof, KA.x)


def test_login_proof_5_3_rfc9864_alg_name():
    proof = build_dpop_proof(
        KA, "POST", "https://id.example.com/v1/agents/login",
        jti="5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42", iat=1767225600,
        header={"alg": "Ed25519", "typ": "dpop+jwt",
                "jwk": {"crv": "Ed25519", "kty": "OKP", "x": KA.x}})
    assert proof == PROOF_5_3_ED25519
    nacl_verify(proof, KA.x)


def test_registration_challenge_signature_5_1():
    data = ('{"action":"register","aud":"https://id.example.com","challenge_id":'
            '"3b0f6a3c-8f0e-4d1b-9a77-1e2d3c4b5a69","expires_at":"2026-01-01T00:05:00.000Z","nonce":'
            '"YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}')
    assert canonical_json(json.loads(data)) == data
    assert json.loads(data)["nonce"] == b64e(bytes(range(0x60, 0x80)))
    assert b64e(KA.sign(data.encode())) == (
        "aEuzMaD6vxbnngnASYWpVntPJa4nrqdSw2IvUAqkqJ0wWCF99QLR4mJnDH-C-cXG7-OGmw38UrLxJIoUbv7VBA")


def test_rotation_challenge_signature_5_2():
    data = ('{"action":"rotate_key","agent_id":"6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f","aud":'
            '"https://id.example.com","challenge_id":"9d2e4f60-1a2b-4c3d-8e9f-a0b1c2d3e4f5","expires_at":'
            '"2026-01-01T00:05:00.000Z","new_public_key":"JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0",'
            '"nonce":"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8"}')
    assert canonical_json(json.loads(data)) == data
    assert b64e(KN.sign(data.encode())) == (
        "fsJ-LY5Ys-3ZMnYz07kZS_QpXBj49hJWwSfrrgUriaLQ49R-As-IlyKzO7BR-0sehJuXh50S5wA6MkoTh96IBg")


def test_random_proofs_verify_independently():
    key = Ed25519Key.generate()
    proof = build_dpop_proof(key, "POST", "http://127.0.0.1:8787/v1/agents/login")
    nacl_verify(proof, key.x)
    header = json.loads(b64d(proof.split(".")[0]))
    payload = json.loads(b64d(proof.split(".")[1]))
    assert header == {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": key.x}}
    assert set(payload) == {"jti", "htm", "htu", "iat"} and isinstance(payload["iat"], int)


def test_canonical_b64url_check():
    assert is_canonical_b64url(KA.x, 32)
    assert not is_canonical_b64url(KA.x + "=", 32)
    assert not is_canonical_b64url("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp", 32)  # trailing bits
