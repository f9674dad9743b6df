#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the protocol's known-answer vectors and the e2e suite's cases.

Each file is one libFuzzer input in the layout its target documents (leading flag bytes, then
free-form bytes). Re-run after changing a target's layout: `python3 fuzz/make_seeds.py`.
"""
import base64
import json
import pathlib
import shutil

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jws_parts(token: str) -> bytes:
    """`header JSON \\n payload JSON` of a compact JWS (for the targets that re-sign)."""
    h, p, _ = token.split(".")
    return b64d(h) + b"\n" + b64d(p)


# --- vectors (exact strings) -----------------------------------------------------------------
PROOF_5_3_EDDSA = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIiwiandrIjp7Imt0eSI6Ik9LUCIsImNydiI6IkVkMjU1MTkiLCJ4IjoiMTFxWUFZS3hDcmZWU183VHlXUUhPZzdoY3ZQYXBpTWxyd0lhYVBjSFVSbyJ9fQ.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.QVBRJLXemGDn6YrzR32XayFHCy-46KDgYaXocZMs9MB0p664uAy5hnBNC1_h15U71ohvly0dx7STJwJZutacDQ"
PROOF_5_3_ED25519 = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiZHBvcCtqd3QiLCJqd2siOnsiY3J2IjoiRWQyNTUxOSIsImt0eSI6Ik9LUCIsIngiOiIxMXFZQVlLeENyZlZTXzdUeVdRSE9nN2hjdlBhcGlNbHJ3SWFhUGNIVVJvIn19.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.7YOD7vKi6TLyZGv4Vet5qhGNPQ20W5ECBQGnNeeIGwxJ5_w76jgoGAwIndRRWYP9W_PIMn0nm49fVo-O0uELBQ"
PROOF_2_4 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
PROOF_2_5 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
PROOF_5_6 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIn0.eyJqdGkiOiI4YjljMGQxZS0yZjNhLTRiNWMtOGQ3ZS05ZjBhMWIyYzNkNGUiLCJodG0iOiJHRVQiLCJodHUiOiJodHRwczovL2lkLmV4YW1wbGUuY29tL3YxL29hdXRoL3VzZXJpbmZvIiwiaWF0IjoxNzY3MjI1NjA1LCJhdGgiOiJlZVBOWEQ0LVZQR3Q0MXNSMkhqUzI2cW5kSXBTZnZ4WllPOEJWbWNPTnRFIn0.pesKON7vqv78AkAPUJOP5UN8DqXZpzianRPHp7CxOREKQcs-GZntkLX9h1vQahau8v-_oaHGJDecRUvQY9z_DA"
RFC8037_JWS = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
ASSERTION_5_4 = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJzdWIiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJhdWQiOiJodHRwczovL2lkLmV4YW1wbGUuY29tL3YxL29hdXRoL3Rva2VuIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjU2NjAsImp0aSI6ImMxYTdlM2IyLTZkNGYtNGE4Yi05YzBkLTFlMmYzYTRiNWM2ZCJ9.Mvog1EXGkhDz_QH9d3EpLH7GCTiTwASJX7S08iw5c36Sa3jIi1IcbKjSAj1QhuZE5RFOZm_Oy64e-uEI9wIpAw"
ACCESS_TOKEN_5_5 = "eyJhbGciOiJFZERTQSIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFkiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiNmYxYzJiOWUtM2Q0YS00YzViLThlN2YtMGExYjJjM2Q0ZTVmIiwiYXVkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwiY2xpZW50X2lkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwic2NvcGUiOiJpZCBuYW1lIGRlc2NyaXB0aW9uIHN1YnNjcmlwdGlvbiIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiJZazNuMHZYb1E3bUo1dVIydFc4ekFBIiwiY25mIjp7ImprdCI6IkFrWElaRnpvbmI1OVptR3d5S2dpM0gzQndNaTZhbWV2cWRLUWlMWmhkdGMifX0.yRCoM6hiqq-E9wmuuyTFhy8-1R7jlWcOSuL61QfgBHCAlS77TCC3mvL_hegdIUDlhMzjFQc6lM8zdrZndQjEAA"
WEBHOOK_BODY = b'{"event_id":"evt_01test000000000000000001","event_type":"subscription.activated","occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test000000000000000001","data":{"id":"sub_01test000000000000000001","status":"active","customer_id":"ctm_01test000000000000000001","items":[{"price":{"id":"pri_01basic000000000000000000"},"quantity":1}],"current_billing_period":{"starts_at":"2026-01-01T00:00:00.000000Z","ends_at":"2026-02-01T00:00:00.000000Z"},"next_billed_at":"2026-02-01T00:00:00.000000Z","scheduled_change":null,"custom_data":{"overseer_id":"a4b3c2d1-e5f6-4789-8abc-def012345678","tier":"BASIC","price_id":"pri_01basic000000000000000000","nonce":"wMHCw8TFxsfIycrLzM3Ozw","link_sig":"qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec"}}}'
WEBHOOK_HEADER = b"ts=1767225600;h1=6185794460aa63620a0e81ee0e2546a97b5e0bef06cb97f5dde420393e2907d7"
KA = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
KC = "Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc"
JWK_KA = '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
JWK_KA_PRIVATE = '{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
JWK_EC = '{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}'
JWKS_ENTRY = '{"kty":"OKP","crv":"Ed25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg","kid":"1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y","use":"sig","alg":"EdDSA"}'
REJECTED_KEYS = [  # vectors §4
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "7P_______________________________________38",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA",
    "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o", "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA_o",
    "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU", "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_IU",
    "7f_______________________________________38", "7v_______________________________________38",
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA", "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
]
KEY_VARIANTS = [KA, KA + "=", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"]
SIGNATURE_5_1 = "aEuzMaD6vxbnngnASYWpVntPJa4nrqdSw2IvUAqkqJ0wWCF99QLR4mJnDH-C-cXG7-OGmw38UrLxJIoUbv7VBA"
# e2e/oauth_setup.py, e2e/oauth4webapi.test.mjs
E2E_REDIRECT = "http://127.0.0.1:8790/callback"

SEED_SETS = {
    # flags: bit0 raw(0)/signed(1); bits1-2 context (0 login, 1 token, 2 userinfo, 3 resource);
    # bit3 require nonce; bit4 sign with KC; bit5 RFC 9449 clock.
    "dpop_proof": {
        "login_eddsa_raw": b"\x00" + PROOF_5_3_EDDSA.encode(),
        "login_ed25519_raw": b"\x00" + PROOF_5_3_ED25519.encode(),
        "login_signed": b"\x01" + jws_parts(PROOF_5_3_EDDSA),
        "login_signed_nonce": b"\x09" + jws_parts(PROOF_5_3_EDDSA),
        "rfc9449_token_es256": bytes([0x22]) + PROOF_2_4.encode(),
        "rfc9449_resource_es256": bytes([0x26]) + PROOF_2_5.encode(),
        "userinfo_no_jwk_raw": b"\x04" + PROOF_5_6.encode(),
        "userinfo_no_jwk_signed": bytes([0x15]) + jws_parts(PROOF_5_6),
        "rfc8037_jws": b"\x00" + RFC8037_JWS.encode(),
        "two_proofs": b"\x00" + (PROOF_5_3_EDDSA + ", " + PROOF_5_3_EDDSA).encode(),
    },
    # flags: bit0 raw/signed, bit1 wrong key, bit2 revoke endpoint; then the clock byte.
    "client_assertion": {
        "vector_raw": b"\x00\x00" + ASSERTION_5_4.encode(),
        "vector_signed": b"\x01\x00" + jws_parts(ASSERTION_5_4),
        "vector_at_revoke": b"\x04\x00" + ASSERTION_5_4.encode(),
        "vector_expired": b"\x00\x7f" + ASSERTION_5_4.encode(),
        "access_token_as_assertion": b"\x00\x00" + ACCESS_TOKEN_5_5.encode(),
        "client_auth_typ": b"\x01\x00" + json.dumps({"alg": "Ed25519", "typ": "client-authentication+jwt"}, separators=(",", ":")).encode()
        + b"\n" + b64d(ASSERTION_5_4.split(".")[1]).replace(b"/v1/oauth/token", b""),
    },
    "strict_json": {
        "jwk": JWK_KA.encode(),
        "proof_header": jws_parts(PROOF_5_3_EDDSA).split(b"\n")[0],
        "access_token_claims": b64d(ACCESS_TOKEN_5_5.split(".")[1]),
        "webhook": WEBHOOK_BODY,
        "duplicate_g08": b'{"name":"a","name":"b"}',  # e2e/test_http.py G08
        "nested_duplicate": b'{"a":{"b":1,"b":2}}',
        "escaped_duplicate": b'{"a":1,"\\u0061":2}',
        "not_object": b"[1,2,3]",
        "register_body": json.dumps({"name": "Demo Agent", "public_key": KA}).encode(),
        # The fuzzer's first find: serde_json reads this float one ULP off after re-serialising.
        "float_ulp": b'{"a":1' + b"2" * 5 + b"3" + b"2" * 90 + b',"\\u0062":2}',
    },
    # content_type byte (0 form, 1 form;charset, 2 FORM, 3 json, 4 text, 5 none), then the body.
    "form_body": {
        "token_code": b"\x00grant_type=authorization_code&code=4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_v8"
        b"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8790%2Fcallback&code_verifier=oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8"
        b"&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
        + ASSERTION_5_4.encode(),
        "refresh": b"\x01grant_type=refresh_token&refresh_token=abc&scope=id+name",
        "repeated": b"\x00a=1&a=2",
        "empty_value": b"\x02token=&token_type_hint=access_token",
        "bad_escape": b"\x00a=%zz&b=%4&c=%e2%82",
        "json_type": b"\x03{\"grant_type\":\"authorization_code\"}",
    },
    # flags: bit0 raw (header \n body) / signed body; bits1-7 ts offset when signed.
    "paddle_webhook": {
        "vector_raw": b"\x00" + WEBHOOK_HEADER + b"\n" + WEBHOOK_BODY,
        "vector_signed": b"\x01" + WEBHOOK_BODY,
        "sdk_vector": b"\x00ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02\nhello-world",
        "two_ts": b"\x00ts=1767225600;ts=1767225600;h1=00\n{}",
        "transaction": b"\x01" + json.dumps({"event_id": "evt_1", "event_type": "transaction.completed", "occurred_at": "2026-01-01T00:00:00Z",
                                            "data": {"id": "txn_1", "customer_id": "ctm_1", "subscription_id": "sub_1"}}).encode(),
        "customer": b"\x01" + json.dumps({"event_id": "evt_2", "event_type": "customer.created", "occurred_at": "2026-01-01T00:00:00.123456Z",
                                         "data": {"id": "ctm_1", "email": "a@example.com"}}).encode(),
    },
    # registered \n presented
    "redirect_htu": {
        "e2e_loopback": (E2E_REDIRECT + "\n" + E2E_REDIRECT).encode(),
        "loopback_port": (E2E_REDIRECT + "\nhttp://127.0.0.1:51234/callback").encode(),
        "ipv6_loopback": b"http://[::1]/cb\nhttp://[::1]:8080/cb",
        "https_query": b"https://app.example.com/cb?x=1\nhttps://APP.example.com:443/a/../cb?x=1",
        "private_scheme": b"com.example.app:/oauth2redirect\ncom.example.app:/oauth2redirect",
        "htu_dots": b"https://id.example.com/v1/./agents/../agents/login?x#y\nHTTPS://ID.EXAMPLE.COM:443/v1/%61gents/login",
        "userinfo": b"https://user@evil.example/cb\nhttp://localhost:0/cb",
    },
    # mode byte: even = text field, odd = JWK JSON.
    "b64_jwk": {
        **{f"key_variant_{i}": b"\x00" + k.encode() for i, k in enumerate(KEY_VARIANTS)},
        **{f"rejected_key_{i}": b"\x00" + k.encode() for i, k in enumerate(REJECTED_KEYS)},
        "signature": b"\x00" + SIGNATURE_5_1.encode(),
        "kc": b"\x00" + KC.encode(),
        "jwk_ka": b"\x01" + JWK_KA.encode(),
        "jwk_private": b"\x01" + JWK_KA_PRIVATE.encode(),
        "jwk_ec": b"\x01" + JWK_EC.encode(),
        "jwks_entry": b"\x01" + JWKS_ENTRY.encode(),
    },
}

if __name__ == "__main__":
    for target, seeds in SEED_SETS.items():
        folder = SEEDS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")
