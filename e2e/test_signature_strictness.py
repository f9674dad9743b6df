"""Strict Ed25519 in the wasm build (README "Signature verification"): the Worker verifies DPoP
proofs through WebCrypto, which may accept what ed25519-dalek's ``verify_strict`` refuses, so the
strictness checks run in Rust first. Each proof here is forged with real curve arithmetic (below,
RFC 8032's reference formulas) and sent to ``POST /v1/agents/login``; the answer must be the
native build's refusal, naming the check that refused it (``src/jose/verify/tests.rs`` has the
same forgeries natively).

Measured with the Rust checks disabled in the wasm build: workerd's WebCrypto lets the identity-R
forgery log in (200) and 13 of the 14 small-order-key forgeries through to the agent lookup ("no
agent has this DPoP key"), and the non-canonical key is refused only as a bad signature, so those
tests fail. It refuses S + ℓ, the other small-order R and the non-canonical R by itself; those
tests, and the mixed-order ones, pin `verify_strict` semantics in the wasm build."""

import hashlib
import secrets

import pytest

from agent_client import b64e
from helpers import assert_login_error

# --------------------------------------------------------------------------------------------------
# Edwards25519 arithmetic (RFC 8032 §5.1, extended coordinates)
# --------------------------------------------------------------------------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    a_ = (y1 - x1) * (y2 - x2) % P
    b_ = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b_ - a_, d - c, d + c, b_ + a_
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(s, point):
    out = IDENTITY
    while s > 0:
        if s & 1:
            out = add(out, point)
        point = add(point, point)
        s >>= 1
    return out


def compress(point) -> bytes:
    x, y, z, _ = point
    zinv = pow(z, P - 2, P)
    x, y = x * zinv % P, y * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decompress(data: bytes):
    """The point of a 32-byte encoding (y is read modulo p, as lenient decoders do), or None."""
    v = int.from_bytes(data, "little")
    sign, y = v >> 255, (v & ((1 << 255) - 1)) % P
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def same(a, b) -> bool:
    return compress(a) == compress(b)


def order_dividing_8(point) -> int:
    """The order of a small-order point (1, 2, 4 or 8), or 0 when it is not of small order."""
    for n in (1, 2, 4, 8):
        if same(mul(n, point), IDENTITY):
            return n
    return 0


B = decompress((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def secret_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def challenge(r: bytes, a: bytes, msg: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + msg).digest(), "little") % L


def signature(r: bytes, s: int) -> bytes:
    return r + s.to_bytes(32, "little")


def equation_holds(a: bytes, msg: bytes, sig: bytes) -> bool:
    """[S]B = R + [k]A, cofactorless, S read without reduction: what a lax verifier checks."""
    r_point, a_point = decompress(sig[:32]), decompress(a)
    s = int.from_bytes(sig[32:], "little")
    return same(mul(s, B), add(r_point, mul(challenge(sig[:32], a, msg), a_point)))


def okp(x: bytes) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64e(x)}


assert compress(B) == bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")

LOGIN = "/v1/agents/login"
IDENTITY_ENC = compress(IDENTITY)
T8_ENC = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")

# Every encoding of a small-order point: canonical y (0, 1, p - 1, the two order-8 y), the
# non-canonical p and p + 1, each with both sign bits.
SMALL_ORDER_ENCODINGS = [
    (y | (sign << 255)).to_bytes(32, "little")
    for y in (0, 1, P - 1, P, P + 1,
              int.from_bytes(T8_ENC, "little"),
              int.from_bytes(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little"))
    for sign in (0, 1)
]


def reject(resp, message: str):
    return assert_login_error(resp, 401, "invalid_dpop_proof", message_contains=message)


# --------------------------------------------------------------------------------------------------
# R and S (the checks of src/jose/verify/strict.rs)
# --------------------------------------------------------------------------------------------------

def test_identity_r_forgery_by_the_key_owner_is_refused(agent):
    """R = identity, S = k·a: the cofactorless equation holds, so only the small-order-R rule refuses it."""
    a = secret_scalar(agent.key.seed)
    seen = {}

    def forge(msg: bytes) -> bytes:
        sig = signature(IDENTITY_ENC, challenge(IDENTITY_ENC, agent.key.public_bytes, msg) * a % L)
        seen["holds"] = equation_holds(agent.key.public_bytes, msg, sig)
        return sig

    reject(agent.login(signer=forge), "signature is invalid")
    assert seen["holds"], "the forgery must satisfy the equation, or the test proves nothing"
    assert agent.login().status_code == 200  # the agent's honest proofs still log in


@pytest.mark.parametrize("r", SMALL_ORDER_ENCODINGS, ids=lambda r: r.hex()[:8] + r.hex()[-2:])
def test_small_order_r_is_refused(agent, r):
    def forge(msg: bytes) -> bytes:
        return r + agent.key.sign(msg)[32:]

    reject(agent.login(signer=forge), "signature is invalid")


def test_s_plus_group_order_is_refused(agent):
    seen = {}

    def malleate(msg: bytes) -> bytes:
        sig = agent.key.sign(msg)
        s = int.from_bytes(sig[32:], "little") + L
        out = signature(sig[:32], s)
        seen["holds"] = equation_holds(agent.key.public_bytes, msg, out)
        return out

    reject(agent.login(signer=malleate), "signature is invalid")
    assert seen["holds"]


def test_non_canonical_r_is_refused(agent):
    # y = 2^255 - 1 (≥ p) with the honest S: not an encoding any signer produces.
    r = ((1 << 255) - 1).to_bytes(32, "little")
    reject(agent.login(signer=lambda msg: r + agent.key.sign(msg)[32:]), "signature is invalid")


# --------------------------------------------------------------------------------------------------
# Keys (the checks of src/jose/ed25519.rs: canonical, not of small order)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x", SMALL_ORDER_ENCODINGS, ids=lambda x: x.hex()[:8] + x.hex()[-2:])
def test_small_order_key_with_a_satisfied_equation_is_refused(agent, x):
    """A small-order key T: R = [r]B, S = r satisfies [S]B = R + [k]T whenever [k]T = 0, which
    takes a few tries of r. Only the small-order-key rule refuses it."""
    point = decompress(x)
    if point is None:  # y = p - 1 with the sign bit: no such point
        pytest.skip("not a point")
    order = order_dividing_8(point)
    assert order, x.hex()
    seen = {}

    def forge(msg: bytes) -> bytes:
        for _ in range(1000):
            r = secrets.randbelow(L - 1) + 1
            r_enc = compress(mul(r, B))
            if challenge(r_enc, x, msg) % order == 0:
                sig = signature(r_enc, r)
                seen["holds"] = equation_holds(x, msg, sig)
                return sig
        raise AssertionError("no r found")

    reject(agent.login(header_overrides={"jwk": okp(x)}, signer=forge, body={}),
           "jwk is not a valid public key")
    assert seen["holds"]


def test_non_canonical_key_is_refused(agent):
    """y + p for a small y that is a point of large order: the same point as y, another encoding."""
    for y in range(2, 19):
        enc = (y + P).to_bytes(32, "little")
        point = decompress(enc)
        if point is not None and not order_dividing_8(point):
            break
    else:
        pytest.fail("no non-canonical encoding of a large-order point")
    reject(agent.login(header_overrides={"jwk": okp(enc)}, body={}), "jwk is not a valid public key")


# --------------------------------------------------------------------------------------------------
# Mixed-order keys: the cofactorless equation on both builds
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("torsion_vanishes", [False, True])
def test_mixed_order_key_follows_the_cofactorless_equation(agent, torsion_vanishes):
    """Key A + T (T of order 8) parses (it is not of small order). Its owner's signatures satisfy
    the cofactorless equation only when [k]T = 0 (k ≡ 0 mod 8): then the signature is valid and
    the login fails later, on the unknown key; otherwise the signature is refused. A cofactored
    verifier would accept both."""
    a = secret_scalar(agent.key.seed)
    mixed = compress(add(mul(a, B), decompress(T8_ENC)))

    def sign(msg: bytes) -> bytes:
        for _ in range(1000):
            r = secrets.randbelow(L - 1) + 1
            r_enc = compress(mul(r, B))
            k = challenge(r_enc, mixed, msg)
            if (k % 8 == 0) == torsion_vanishes:
                return signature(r_enc, (r + k * a) % L)
        raise AssertionError("no r found")

    resp = agent.login(header_overrides={"jwk": okp(mixed)}, signer=sign, body={})
    reject(resp, "no agent has this DPoP key" if torsion_vanishes else "signature is invalid")
