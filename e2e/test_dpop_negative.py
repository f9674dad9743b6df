"""DPoP proof validation at POST /v1/agents/login against the live server
(security.md §2 and §17.3, api.md §2.2 login, §9.3)."""

import hashlib
import hmac
import time
import urllib.parse
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from agent_client import DROP, Ed25519Key, b64e, compact_json, dpop_header, flip_bit, is_canonical_b64url
from helpers import assert_error, assert_login_error, assert_ok

LOGIN = "/v1/agents/login"

SMALL_ORDER_X = [
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # identity
    "7P_______________________________________38",  # order 2
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # order 4
    "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o",  # order 8
]


def reject(resp, code="invalid_dpop_proof", **kw):
    return assert_login_error(resp, 401, code, **kw)


# --------------------------------------------------------------------------------------------------
# Header presence and shape (P1, P2)
# --------------------------------------------------------------------------------------------------

def test_valid_proof_is_accepted(agent):
    body = assert_ok(agent.login())
    assert body["agent_id"] == agent.agent_id


def test_no_dpop_header(agent):  # DP01
    resp = agent.request("POST", LOGIN, json={"agent_id": agent.agent_id})
    reject(resp, "authentication_required")


def test_garbage_dpop_header(agent):  # DP02
    reject(agent.login(proof="abc"))


def test_two_dpop_headers_joined_by_fetch(agent):  # DP03
    first = agent.dpop_proof("POST", LOGIN)
    second = agent.dpop_proof("POST", LOGIN)
    reject(agent.login(proof=f"{first}, {second}"))


def test_dpop_header_over_8192_bytes(agent):  # P1 size limit (kid is otherwise ignored)
    proof = agent.dpop_proof("POST", LOGIN, header_overrides={"kid": "k" * 9000})
    assert len(proof) > 8192
    reject(agent.login(proof=proof))


def test_padded_header_segment(agent):  # DP35
    header = dpop_header(agent.key)
    if len(compact_json(header).encode()) % 3 == 0:
        header["kid"] = "a"  # make the encoding need padding; kid is ignored
    raw = compact_json(header).encode()
    segment = b64e(raw) + "=" * (-len(b64e(raw)) % 4)
    assert segment.endswith("=")
    # signed over the padded segment as sent: the padding is the only defect
    reject(agent.login(header_segment=segment))


def test_duplicate_member_in_payload(agent):  # P2
    now = int(time.time())
    payload_json = ('{"jti":"%s","htm":"POST","htu":"%s","iat":%d,"jti":"%s"}'
                    % (uuid.uuid4(), agent.url(LOGIN), now, uuid.uuid4()))
    reject(agent.login(payload_json=payload_json))


# --------------------------------------------------------------------------------------------------
# typ, alg, header members (P3-P5)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typ", ["JWT", "at+jwt", DROP], ids=["JWT", "at+jwt", "absent"])
def test_wrong_or_missing_typ(agent, typ):  # DP09-DP11
    reject(agent.login(header_overrides={"typ": typ}))


def test_alg_none_empty_signature(agent):  # DP04
    reject(agent.login(header_overrides={"alg": "none"}, signature_segment=""))


def test_alg_none_nonempty_signature(agent):  # DP05
    reject(agent.login(header_overrides={"alg": "none"}))


def test_hs256_keyed_with_public_key(agent):  # DP06
    key_bytes = agent.key.public_bytes
    reject(agent.login(header_overrides={"alg": "HS256"},
                       signer=lambda m: hmac.new(key_bytes, m, hashlib.sha256).digest()))


def test_hs256_keyed_with_public_key_text(agent):  # DP06 variant: HMAC key = the x string
    key_text = agent.key.x.encode()
    reject(agent.login(header_overrides={"alg": "HS256"},
                       signer=lambda m: hmac.new(key_text, m, hashlib.sha256).digest()))


def test_rs256(agent):  # DP07
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = rsa_key.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64e(nums.n.to_bytes(256, "big")), "e": b64e(nums.e.to_bytes(3, "big"))}
    reject(agent.login(header_overrides={"alg": "RS256", "jwk": jwk},
                       signer=lambda m: rsa_key.sign(m, padding.PKCS1v15(), hashes.SHA256())))


def _es256_signer(ec_key):
    def sign(message: bytes) -> bytes:
        r, s = utils.decode_dss_signature(ec_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return sign


def test_es256_with_okp_jwk(agent):  # DP08
    ec_key = ec.generate_private_key(ec.SECP256R1())
    reject(agent.login(header_overrides={"alg": "ES256"}, signer=_es256_signer(ec_key)))


def test_es256_with_ec_jwk_is_not_an_agent_key(agent):  # DP43
    ec_key = ec.generate_private_key(ec.SECP256R1())
    nums = ec_key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64e(nums.x.to_bytes(32, "big")), "y": b64e(nums.y.to_bytes(32, "big"))}
    reject(agent.login(header_overrides={"alg": "ES256", "jwk": jwk}, signer=_es256_signer(ec_key)))


def test_alg_ed25519_rfc9864_name_is_accepted(agent):  # DP44
    body = assert_ok(agent.login(header_overrides={"alg": "Ed25519"}))
    assert body["agent_id"] == agent.agent_id


def test_crit_header(agent):  # DP16
    reject(agent.login(header_overrides={"crit": ["exp"]}))


def test_jku_header(agent):  # DP17
    reject(agent.login(header_overrides={"jku": "https://evil.example/jwks"}))


# --------------------------------------------------------------------------------------------------
# jwk (P6)
# --------------------------------------------------------------------------------------------------

def test_private_d_in_jwk(agent):  # DP12
    jwk = dict(agent.key.public_jwk(), d=b64e(agent.key.seed))
    reject(agent.login(header_overrides={"jwk": jwk}))


def test_kty_oct(agent):  # DP13
    reject(agent.login(header_overrides={"jwk": {"kty": "oct", "k": agent.key.x}}))


@pytest.mark.parametrize("x", SMALL_ORDER_X)
def test_small_order_jwk_x(agent, x):  # DP14
    reject(agent.login(header_overrides={"jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}}))


def test_jwk_x_of_31_bytes(agent):  # DP15
    reject(agent.login(header_overrides={"jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64e(agent.key.public_bytes[:31])}}))


def test_missing_jwk(agent):  # P6: jwk required for agent authentication
    reject(agent.login(header_overrides={"jwk": DROP}))


# --------------------------------------------------------------------------------------------------
# Signature (P7)
# --------------------------------------------------------------------------------------------------

def test_flipped_signature_bit(agent):  # DP34
    reject(agent.login(signature_transform=lambda sig: flip_bit(sig, 0, 0)))


def test_signature_by_another_key(agent):
    other = Ed25519Key.generate()
    reject(agent.login(signer=other.sign))


def test_truncated_signature(agent):
    reject(agent.login(signature_transform=lambda sig: sig[:63]))


# --------------------------------------------------------------------------------------------------
# Claims (P8-P11)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_missing_claim(agent, claim):  # DP18 and friends
    reject(agent.login(payload_overrides={claim: DROP}))


def test_jti_of_129_characters(agent):  # DP19
    reject(agent.login(jti="j" * 129))


def test_jti_of_128_characters_is_accepted(agent):
    assert_ok(agent.login(jti="j" * 120 + uuid.uuid4().hex[:8]))


def test_jti_is_a_number(agent):  # DP20
    reject(agent.login(payload_overrides={"jti": 12345}))


@pytest.mark.parametrize("htm", ["GET", "post"])
def test_htm_mismatch(agent, htm):  # DP21, DP22
    reject(agent.login(payload_overrides={"htm": htm}))


def _htu_variants(base_url: str) -> dict:
    parts = urllib.parse.urlsplit(base_url)
    other_scheme = "https" if parts.scheme == "http" else "http"
    return {
        "other-host": f"{parts.scheme}://evil.example{LOGIN}",
        "trailing-slash": f"{base_url}{LOGIN}/",
        "wrong-scheme": f"{other_scheme}://{parts.netloc}{LOGIN}",
        "relative": LOGIN,
        "path-case": f"{base_url}/V1/agents/login",
        "user-info": f"{parts.scheme}://user@{parts.netloc}{LOGIN}",
        "other-port": f"{parts.scheme}://{parts.hostname}:{(parts.port or 80) + 1}{LOGIN}",
        "other-path": f"{base_url}/v1/agents/me",
    }


@pytest.mark.parametrize("variant", ["other-host", "trailing-slash", "wrong-scheme", "relative",
                                     "path-case", "user-info", "other-port", "other-path"])
def test_htu_mismatch(agent, base_url, variant):  # DP23-DP25, DP28, security.md 2.2
    htu = _htu_variants(base_url)[variant]
    reject(agent.login(payload_overrides={"htu": htu}))


def test_htu_with_query_and_fragment_is_accepted(agent):  # DP26
    assert_ok(agent.login(payload_overrides={"htu": agent.url(LOGIN) + "?a=1#x"}))


def test_htu_scheme_and_host_case_is_normalised(agent, base_url):  # DP27
    parts = urllib.parse.urlsplit(base_url)
    htu = f"{parts.scheme.upper()}://{parts.netloc.upper()}{LOGIN}"
    assert_ok(agent.login(payload_overrides={"htu": htu}))


def test_stale_iat(agent):  # DP29
    reject(agent.login(iat=int(time.time()) - 301))


def test_iat_just_inside_the_past_window(agent):  # DP31
    assert_ok(agent.login(iat=int(time.time()) - 299))


def test_future_iat(agent):  # DP30
    reject(agent.login(iat=int(time.time()) + 61))


def test_iat_slightly_in_the_future_is_accepted(agent):
    assert_ok(agent.login(iat=int(time.time()) + 30))


def test_iat_as_string(agent):  # DP32
    reject(agent.login(payload_overrides={"iat": str(int(time.time()))}))


def test_iat_with_fraction_is_truncated(agent):  # P8
    assert_ok(agent.login(payload_overrides={"iat": time.time()}))


# --------------------------------------------------------------------------------------------------
# Nonce (P12), single use (P15)
# --------------------------------------------------------------------------------------------------

def test_garbage_nonce_asks_for_a_server_nonce(agent):  # DP40
    resp = agent.login(payload_overrides={"nonce": "garbage"})
    reject(resp, "use_dpop_nonce")
    nonce = resp.headers.get("DPoP-Nonce")
    assert nonce and is_canonical_b64url(nonce, 24), f"DPoP-Nonce is not 24 bytes base64url: {nonce!r}"


def test_returned_nonce_is_accepted(agent):  # 9.10: an issued nonce is valid
    first = agent.login(payload_overrides={"nonce": "garbage"})
    reject(first, "use_dpop_nonce")
    assert_ok(agent.login(payload_overrides={"nonce": first.headers["DPoP-Nonce"]}))


def test_no_unsolicited_nonce_on_success(agent):  # 1.7.4 (DPOP_REQUIRE_NONCE=false by default)
    resp = agent.login()
    assert_ok(resp)
    assert "DPoP-Nonce" not in resp.headers


def test_replayed_proof(agent):  # DP33
    proof = agent.dpop_proof("POST", LOGIN)
    assert_ok(agent.login(proof=proof))
    reject(agent.login(proof=proof), message_contains="already been used")


def test_replayed_jti_with_fresh_iat(agent):  # P15: the marker is keyed by key + jti
    jti = str(uuid.uuid4())
    assert_ok(agent.login(jti=jti))
    reject(agent.login(jti=jti, iat=int(time.time()) - 1), message_contains="already been used")


def test_same_jti_under_different_keys_is_independent(new_agent):  # scope = key thumbprint
    a, b = new_agent("jti A"), new_agent("jti B")
    jti = str(uuid.uuid4())
    assert_ok(a.login(jti=jti))
    assert_ok(b.login(jti=jti))


# --------------------------------------------------------------------------------------------------
# Key binding and body (P14, login order)
# --------------------------------------------------------------------------------------------------

def test_authorization_header_is_ignored_on_login(agent):  # DP45
    assert_ok(agent.login(headers={"Authorization": "Bearer garbage"}))


def test_proof_by_other_agent_for_agent_id(new_agent):  # DP36
    a, b = new_agent("Agent A"), new_agent("Agent B")
    reject(b.login(body={"agent_id": a.agent_id}))


def test_proof_by_unregistered_key(make_client):
    stranger = make_client()
    reject(stranger.login(body={}))


def test_proof_by_unregistered_key_with_agent_id(agent, make_client):
    stranger = make_client()
    reject(stranger.login(body={"agent_id": agent.agent_id}))


def test_unknown_agent_id(agent):  # DP37
    assert_error(agent.login(body={"agent_id": str(uuid.uuid4())}), 404, "agent_not_found")


def test_agent_id_not_a_uuid(agent):  # DP38
    assert_error(agent.login(body={"agent_id": "123"}), 400, "invalid_field")


def test_agent_id_wrong_type(agent):
    assert_error(agent.login(body={"agent_id": 123}), 400, "invalid_field")


def test_agent_id_syntax_is_checked_before_the_proof(agent):  # login order: body, agent_id, DPoP
    resp = agent.request("POST", LOGIN, json={"agent_id": "123"})
    assert_error(resp, 400, "invalid_field")


def test_previous_key_after_rotation(agent):  # DP39
    old_key = agent.key
    agent.rotate_key()
    reject(agent.login(key=old_key))
    reject(agent.login(key=old_key, body={}))
    assert_ok(agent.login())


def test_proof_signature_is_over_received_bytes(agent):
    """A header with extra whitespace is fine when the signature covers those exact bytes."""
    header_json = ' { "typ" : "dpop+jwt", "alg":"EdDSA", "jwk":{"kty":"OKP","crv":"Ed25519","x":"%s"} } ' % agent.key.x
    assert_ok(agent.login(header_json=header_json))
