//! DPoP tests: the project and RFC vectors, then the pure cases of `security.md` 17.3. Proofs are
//! really signed with the vector keys; nothing is mocked.

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use super::*;
use crate::jws;

/// The verifier is async for the wasm build; natively it is ready at once.
fn verify_proof(header_value: &str, ctx: &ProofContext) -> Result<VerifiedProof, ProofError> {
    futures::executor::block_on(super::verify_proof(header_value, ctx))
}

const T0: i64 = 1_767_225_600;
const ISSUER_LOGIN: &str = "https://id.example.com/v1/agents/login";
const USERINFO: &str = "https://id.example.com/v1/oauth/userinfo";
const TOKEN: &str = "https://id.example.com/v1/oauth/token";

const KA_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const KA_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
const KC: &str = "Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc";
const KC_THUMBPRINT: &str = "AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc";
const SERVER_SEED: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
/// `nonce_key(SERVER_SEED)` (vectors.md §5.9).
const NONCE_KEY: [u8; 32] = [
    0xab, 0x8d, 0xfd, 0x1e, 0x59, 0x41, 0xf2, 0xc5, 0xff, 0x24, 0xa0, 0x47, 0xae, 0xcf, 0x0d, 0x80,
    0x9c, 0x0f, 0xc2, 0xac, 0xb1, 0x12, 0x08, 0xe8, 0x72, 0x39, 0x0b, 0xb5, 0x55, 0x1d, 0x18, 0xcf,
];

const PROOF_5_3_EDDSA: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIiwiandrIjp7Imt0eSI6Ik9LUCIsImNydiI6IkVkMjU1MTkiLCJ4IjoiMTFxWUFZS3hDcmZWU183VHlXUUhPZzdoY3ZQYXBpTWxyd0lhYVBjSFVSbyJ9fQ.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.QVBRJLXemGDn6YrzR32XayFHCy-46KDgYaXocZMs9MB0p664uAy5hnBNC1_h15U71ohvly0dx7STJwJZutacDQ";
const PROOF_5_3_ED25519: &str = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiZHBvcCtqd3QiLCJqd2siOnsiY3J2IjoiRWQyNTUxOSIsImt0eSI6Ik9LUCIsIngiOiIxMXFZQVlLeENyZlZTXzdUeVdRSE9nN2hjdlBhcGlNbHJ3SWFhUGNIVVJvIn19.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.7YOD7vKi6TLyZGv4Vet5qhGNPQ20W5ECBQGnNeeIGwxJ5_w76jgoGAwIndRRWYP9W_PIMn0nm49fVo-O0uELBQ";
const REPLAY_HASH_5_3: &str = "ae41cf894423fe15fa2b57aad3a0281bd3fe2607269aff8912ad9ebe94e21781";
const PROOF_2_4: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
const PROOF_2_5: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const ACCESS_TOKEN_5_5: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFkiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiNmYxYzJiOWUtM2Q0YS00YzViLThlN2YtMGExYjJjM2Q0ZTVmIiwiYXVkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwiY2xpZW50X2lkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwic2NvcGUiOiJpZCBuYW1lIGRlc2NyaXB0aW9uIHN1YnNjcmlwdGlvbiIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiJZazNuMHZYb1E3bUo1dVIydFc4ekFBIiwiY25mIjp7ImprdCI6IkFrWElaRnpvbmI1OVptR3d5S2dpM0gzQndNaTZhbWV2cWRLUWlMWmhkdGMifX0.yRCoM6hiqq-E9wmuuyTFhy8-1R7jlWcOSuL61QfgBHCAlS77TCC3mvL_hegdIUDlhMzjFQc6lM8zdrZndQjEAA";
const ATH_5_5: &str = "eePNXD4-VPGt41sR2HjS26qndIpSfvxZYO8BVmcONtE";
const PROOF_5_6: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIn0.eyJqdGkiOiI4YjljMGQxZS0yZjNhLTRiNWMtOGQ3ZS05ZjBhMWIyYzNkNGUiLCJodG0iOiJHRVQiLCJodHUiOiJodHRwczovL2lkLmV4YW1wbGUuY29tL3YxL29hdXRoL3VzZXJpbmZvIiwiaWF0IjoxNzY3MjI1NjA1LCJhdGgiOiJlZVBOWEQ0LVZQR3Q0MXNSMkhqUzI2cW5kSXBTZnZ4WllPOEJWbWNPTnRFIn0.pesKON7vqv78AkAPUJOP5UN8DqXZpzianRPHp7CxOREKQcs-GZntkLX9h1vQahau8v-_oaHGJDecRUvQY9z_DA";

const AGENT_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519];
const ALL_ALGS: &[Alg] = &[Alg::EdDSA, Alg::Ed25519, Alg::ES256];

// ---------------------------------------------------------------------------------------------
// Helpers

/// Agent-authentication context (`security.md` 2.3) for `POST /v1/agents/login` at `T0`.
fn login_ctx() -> ProofContext<'static> {
    ProofContext {
        method: "POST",
        expected_url: ISSUER_LOGIN,
        allowed_algs: AGENT_ALGS,
        jwk_required: true,
        fallback_key: None,
        now_s: T0,
        iat_past_secs: 300,
        iat_future_secs: 60,
        nonce_key: &NONCE_KEY,
        require_nonce: false,
        access_token: None,
    }
}

/// Token-endpoint context: any algorithm, `jwk` required.
fn token_ctx() -> ProofContext<'static> {
    ProofContext {
        expected_url: TOKEN,
        allowed_algs: ALL_ALGS,
        ..login_ctx()
    }
}

fn seed(b64: &str) -> [u8; 32] {
    crate::b64::decode_strict(b64).unwrap().try_into().unwrap()
}

fn ka() -> SigningKey {
    SigningKey::from_bytes(&seed(KA_SEED))
}

fn kc_public() -> Ed25519PublicKey {
    Ed25519PublicKey::parse(KC).unwrap()
}

/// A fixed P-256 key (scalar 0x07…07) and its public JWK.
fn es_key() -> (p256::ecdsa::SigningKey, Value) {
    let sk = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": crate::b64::encode(point.x().unwrap()),
        "y": crate::b64::encode(point.y().unwrap()),
    });
    (sk, jwk)
}

enum Signer {
    Ed(SigningKey),
    Es(p256::ecdsa::SigningKey),
    /// Fixed signature bytes (e.g. an HMAC, or nothing for `alg: none`).
    Raw(Vec<u8>),
}

/// A proof under construction: edit the header or claims, then `build()` signs it for real.
struct Proof {
    header: Value,
    claims: Value,
    signer: Signer,
}

impl Proof {
    /// A valid v1 agent login proof by KA at `T0` (`api.md` 9.3).
    fn login() -> Self {
        Proof {
            header: json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": KA}}),
            claims: json!({
                "jti": "5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42",
                "htm": "POST",
                "htu": ISSUER_LOGIN,
                "iat": T0,
            }),
            signer: Signer::Ed(ka()),
        }
    }

    /// A valid ES256 proof (fixed P-256 key) for the login URL at `T0`.
    fn es256() -> Self {
        let (sk, jwk) = es_key();
        Proof {
            header: json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
            signer: Signer::Es(sk),
            ..Proof::login()
        }
    }

    fn header(mut self, name: &str, value: Value) -> Self {
        self.header[name] = value;
        self
    }

    fn without_header(mut self, name: &str) -> Self {
        self.header.as_object_mut().unwrap().remove(name);
        self
    }

    fn jwk_member(mut self, name: &str, value: Value) -> Self {
        self.header["jwk"][name] = value;
        self
    }

    fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims[name] = value;
        self
    }

    fn without_claim(mut self, name: &str) -> Self {
        self.claims.as_object_mut().unwrap().remove(name);
        self
    }

    fn signer(mut self, signer: Signer) -> Self {
        self.signer = signer;
        self
    }

    fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            crate::b64::encode(self.header.to_string().as_bytes()),
            crate::b64::encode(self.claims.to_string().as_bytes())
        )
    }

    fn build(&self) -> String {
        let input = self.signing_input();
        let sig = sign(&self.signer, input.as_bytes());
        format!("{input}.{}", crate::b64::encode(&sig))
    }
}

fn sign(signer: &Signer, input: &[u8]) -> Vec<u8> {
    match signer {
        Signer::Ed(sk) => ed25519_dalek::Signer::sign(sk, input).to_bytes().to_vec(),
        Signer::Es(sk) => {
            let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(sk, input);
            sig.to_bytes().to_vec()
        }
        Signer::Raw(bytes) => bytes.clone(),
    }
}

fn invalid(result: Result<VerifiedProof, ProofError>) -> &'static str {
    match result {
        Err(ProofError::Invalid(reason)) => reason,
        other => panic!("expected invalid_dpop_proof, got {other:?}"),
    }
}

fn assert_invalid(proof: &str, ctx: &ProofContext, reason: &str) {
    assert_eq!(invalid(verify_proof(proof, ctx)), reason);
}

// ---------------------------------------------------------------------------------------------
// Vectors

#[test]
fn nonce_key_constant_is_the_vector() {
    assert_eq!(nonce::nonce_key(&SERVER_SEED), NONCE_KEY);
}

#[test]
fn vector_5_3_both_login_proofs_pass_at_t0() {
    for token in [PROOF_5_3_EDDSA, PROOF_5_3_ED25519] {
        let proof = verify_proof(token, &login_ctx()).unwrap();
        let ProofKey::Jwk(PublicJwk::Ed25519(key)) = &proof.key else {
            panic!("expected an Ed25519 jwk");
        };
        assert_eq!(key.canonical(), KA);
        assert_eq!(proof.thumbprint, KA_THUMBPRINT);
        assert_eq!(proof.jti, "5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42");
        assert_eq!(proof.iat, T0);
        assert_eq!(proof.replay_hash, REPLAY_HASH_5_3);
        assert_eq!(proof.accepted_through.last_s(), T0 + 300);
    }
    // Building the same proof with the helper reproduces the vector's replay identity.
    let built = verify_proof(&Proof::login().build(), &login_ctx()).unwrap();
    assert_eq!(built.replay_hash, REPLAY_HASH_5_3);
}

#[test]
fn vector_5_3_fails_freshness_with_a_later_clock() {
    let ctx = ProofContext {
        now_s: T0 + 301,
        ..login_ctx()
    };
    assert_invalid(PROOF_5_3_EDDSA, &ctx, "DPoP proof iat is too old");
}

#[test]
fn vector_5_4_client_assertion_replay_hash() {
    assert_eq!(
        replay_hash(
            "client_assertion",
            "0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20",
            "c1a7e3b2-6d4f-4a8b-9c0d-1e2f3a4b5c6d"
        ),
        "3a61bbda1340572957420cc0e5a12d629f08504dbb0cfa9726298ff043b6595d"
    );
    assert_eq!(
        replay_hash(
            "dpop",
            KA_THUMBPRINT,
            "5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42"
        ),
        REPLAY_HASH_5_3
    );
}

#[test]
fn vector_2_4_rfc9449_es256_token_proof() {
    let ctx = ProofContext {
        expected_url: "https://server.example.com/token",
        now_s: 1_562_262_616,
        ..token_ctx()
    };
    let proof = verify_proof(PROOF_2_4, &ctx).unwrap();
    assert!(matches!(proof.key, ProofKey::Jwk(PublicJwk::P256 { .. })));
    assert_eq!(
        proof.thumbprint,
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(proof.jti, "-BwC3ESc6acc2lTc");
    // With the real clock (any time now) it fails P11.
    let later = ProofContext { now_s: T0, ..ctx };
    assert_invalid(PROOF_2_4, &later, "DPoP proof iat is too old");
    // At an agent endpoint ES256 is not allowed.
    let agent = ProofContext {
        allowed_algs: AGENT_ALGS,
        ..ctx
    };
    assert_invalid(PROOF_2_4, &agent, "DPoP proof alg is not allowed here");
}

#[test]
fn vector_2_5_rfc9449_resource_proof_with_ath() {
    let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    assert_eq!(ath(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    let ctx = ProofContext {
        method: "GET",
        expected_url: "https://resource.example.org/protectedresource",
        now_s: 1_562_262_618,
        access_token: Some(token),
        ..token_ctx()
    };
    let proof = verify_proof(PROOF_2_5, &ctx).unwrap();
    assert_eq!(
        proof.thumbprint,
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    let other_token = ProofContext {
        access_token: Some("another token"),
        ..ctx
    };
    assert_invalid(
        PROOF_2_5,
        &other_token,
        "DPoP proof ath does not match the access token",
    );
    // The Figure 1 proof has no ath: refused at a resource.
    let resource = ProofContext {
        method: "POST",
        expected_url: "https://server.example.com/token",
        now_s: 1_562_262_616,
        ..ctx
    };
    assert_invalid(PROOF_2_4, &resource, "DPoP proof ath is missing");
}

#[test]
fn vector_5_5_access_token_ath() {
    assert_eq!(ath(ACCESS_TOKEN_5_5), ATH_5_5);
    let token = jws::parse(ACCESS_TOKEN_5_5).unwrap();
    let server = SigningKey::from_bytes(&SERVER_SEED);
    let server = PublicJwk::Ed25519(
        Ed25519PublicKey::from_bytes(server.verifying_key().as_bytes()).unwrap(),
    );
    assert!(futures::executor::block_on(jws::verify(
        Alg::EdDSA,
        &server,
        token.signing_input.as_bytes(),
        &token.signature
    )));
    assert_eq!(token.payload["cnf"]["jkt"], KC_THUMBPRINT);
}

/// Userinfo context in compatible mode for the 5.6 vector.
fn userinfo_ctx(fallback: &Ed25519PublicKey) -> ProofContext<'_> {
    ProofContext {
        method: "GET",
        expected_url: USERINFO,
        allowed_algs: ALL_ALGS,
        jwk_required: false,
        fallback_key: Some(fallback),
        now_s: T0 + 5,
        access_token: Some(ACCESS_TOKEN_5_5),
        ..login_ctx()
    }
}

#[test]
fn vector_5_6_compatible_userinfo_proof_with_kc() {
    let kc = kc_public();
    let ctx = userinfo_ctx(&kc);
    let proof = verify_proof(PROOF_5_6, &ctx).unwrap();
    assert_eq!(proof.key, ProofKey::Fallback);
    assert_eq!(proof.thumbprint, KC_THUMBPRINT); // = cnf.jkt of the 5.5 token
    assert_eq!(proof.iat, T0 + 5);
    assert_eq!(
        proof.replay_hash,
        replay_hash(
            "dpop",
            KC_THUMBPRINT,
            "8b9c0d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e"
        )
    );
    // Another registered key does not verify it.
    let ka_pub = Ed25519PublicKey::parse(KA).unwrap();
    assert_invalid(
        PROOF_5_6,
        &userinfo_ctx(&ka_pub),
        "DPoP proof signature is invalid",
    );
    // Where jwk is required, or no fallback key exists, a proof without jwk is refused.
    let required = ProofContext {
        jwk_required: true,
        ..userinfo_ctx(&kc)
    };
    assert_invalid(PROOF_5_6, &required, "DPoP proof jwk is missing");
    let no_fallback = ProofContext {
        fallback_key: None,
        ..userinfo_ctx(&kc)
    };
    assert_invalid(PROOF_5_6, &no_fallback, "DPoP proof jwk is missing");
    // POST userinfo needs htm POST; the vector says GET.
    let post = ProofContext {
        method: "POST",
        ..userinfo_ctx(&kc)
    };
    assert_invalid(
        PROOF_5_6,
        &post,
        "DPoP proof htm does not match the request method",
    );
    // Another access token: ath mismatch.
    let other = ProofContext {
        access_token: Some(PROOF_5_3_EDDSA),
        ..userinfo_ctx(&kc)
    };
    assert_invalid(
        PROOF_5_6,
        &other,
        "DPoP proof ath does not match the access token",
    );
}

#[test]
fn compatible_mode_is_ed25519_only() {
    let kc = kc_public();
    let ctx = userinfo_ctx(&kc);
    let (es, _) = es_key();
    let es256_no_jwk = Proof::login()
        .without_header("jwk")
        .header("alg", json!("ES256"))
        .claim("htm", json!("GET"))
        .claim("htu", json!(USERINFO))
        .claim("ath", json!(ATH_5_5))
        .signer(Signer::Es(es))
        .build();
    assert_invalid(
        &es256_no_jwk,
        &ctx,
        "DPoP proof without jwk must use EdDSA or Ed25519",
    );
    // A userinfo proof that does carry a jwk is verified with that jwk instead.
    let with_jwk = Proof::login()
        .claim("htm", json!("GET"))
        .claim("htu", json!(USERINFO))
        .claim("iat", json!(T0 + 5))
        .claim("ath", json!(ATH_5_5))
        .build();
    let proof = verify_proof(&with_jwk, &ctx).unwrap();
    assert_eq!(proof.thumbprint, KA_THUMBPRINT);
}

// ---------------------------------------------------------------------------------------------
// security.md 17.3 (the pure cases; DP01, DP33 and DP36–DP39, DP45 need the HTTP layer or D1)

#[test]
fn dp02_not_a_jws() {
    assert_invalid(
        "abc",
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
    assert_invalid(
        "",
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
}

#[test]
fn dp03_two_headers_joined_by_fetch() {
    let proof = Proof::login().build();
    for joined in [
        format!("{proof}, {proof}"),
        format!("{proof},{proof}"),
        format!("{proof} {proof}"),
        format!("{proof}\t"),
    ] {
        assert_invalid(
            &joined,
            &login_ctx(),
            "DPoP header must carry exactly one proof",
        );
    }
}

#[test]
fn p1_length_limit() {
    let long = format!("{}.{}.AA", "e".repeat(MAX_PROOF_LEN), "e");
    assert_invalid(&long, &login_ctx(), "DPoP proof is too long");
    // A valid proof padded with extra claims up to just over the limit is refused too.
    let padded = Proof::login()
        .claim("pad", json!("x".repeat(MAX_PROOF_LEN)))
        .build();
    assert_invalid(&padded, &login_ctx(), "DPoP proof is too long");
}

#[test]
fn dp04_dp05_alg_none() {
    let unsigned = Proof::login()
        .header("alg", json!("none"))
        .signer(Signer::Raw(vec![]));
    // Empty signature segment: not even a compact JWS for us.
    assert_invalid(
        &unsigned.build(),
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
    let with_sig = unsigned.signer(Signer::Raw(vec![0; 64]));
    assert_invalid(
        &with_sig.build(),
        &login_ctx(),
        "DPoP proof alg is not supported",
    );
    // A valid Ed25519 signature does not help either.
    let signed_none = Proof::login().header("alg", json!("none")).build();
    assert_invalid(
        &signed_none,
        &login_ctx(),
        "DPoP proof alg is not supported",
    );
}

#[test]
fn dp06_hs256_keyed_with_the_public_key() {
    use hmac::{Mac, SimpleHmac};
    let proof = Proof::login().header("alg", json!("HS256"));
    let input = proof.signing_input();
    let key_bytes = crate::b64::decode_strict(KA).unwrap();
    let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(&key_bytes).unwrap();
    mac.update(input.as_bytes());
    let hs = proof.signer(Signer::Raw(mac.finalize().into_bytes().to_vec()));
    for ctx in [login_ctx(), token_ctx()] {
        assert_invalid(&hs.build(), &ctx, "DPoP proof alg is not supported");
    }
}

#[test]
fn dp07_rs256_and_other_unknown_algs() {
    for alg in [
        "RS256", "PS256", "HS384", "HS512", "ES384", "ES512", "EdDSA ", "eddsa",
    ] {
        let proof = Proof::login().header("alg", json!(alg)).build();
        assert_invalid(&proof, &token_ctx(), "DPoP proof alg is not supported");
    }
    let missing = Proof::login().without_header("alg").build();
    assert_invalid(&missing, &login_ctx(), "DPoP proof alg is not supported");
    let not_string = Proof::login().header("alg", json!(["EdDSA"])).build();
    assert_invalid(&not_string, &login_ctx(), "DPoP proof alg is not supported");
}

#[test]
fn dp08_es256_with_an_okp_jwk() {
    let proof = Proof::login().header("alg", json!("ES256")).build();
    // At login ES256 is not allowed at all; where it is, the key type must match.
    assert_invalid(&proof, &login_ctx(), "DPoP proof alg is not allowed here");
    assert_invalid(
        &proof,
        &token_ctx(),
        "DPoP proof alg does not match the jwk key type",
    );
    // And the converse: EdDSA with an EC key.
    let (_, ec_jwk) = es_key();
    let converse = Proof::login().header("jwk", ec_jwk).build();
    assert_invalid(
        &converse,
        &token_ctx(),
        "DPoP proof alg does not match the jwk key type",
    );
}

#[test]
fn dp09_dp10_dp11_typ() {
    let missing = Proof::login().without_header("typ").build();
    assert_invalid(&missing, &login_ctx(), "DPoP proof typ must be dpop+jwt");
    for typ in [
        json!("JWT"),
        json!("at+jwt"),
        json!("DPOP+JWT"),
        json!("application/dpop+jwt"),
        json!(null),
    ] {
        let proof = Proof::login().header("typ", typ).build();
        assert_invalid(&proof, &login_ctx(), "DPoP proof typ must be dpop+jwt");
    }
}

#[test]
fn dp12_jwk_with_private_member() {
    let proof = Proof::login().jwk_member("d", json!(KA_SEED)).build();
    assert_invalid(
        &proof,
        &login_ctx(),
        "DPoP proof jwk must not contain private key members",
    );
}

#[test]
fn dp13_symmetric_jwk() {
    let proof = Proof::login()
        .header("jwk", json!({"kty": "oct", "k": "c2VjcmV0"}))
        .build();
    assert_invalid(
        &proof,
        &login_ctx(),
        "DPoP proof jwk must not contain private key members",
    );
    let no_k = Proof::login().header("jwk", json!({"kty": "oct"})).build();
    assert_invalid(
        &no_k,
        &login_ctx(),
        "DPoP proof jwk is not a valid public key",
    );
}

#[test]
fn dp14_dp15_bad_jwk_x() {
    for x in [
        "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o", // small order (DP14)
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // identity
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // 31 bytes (DP15)
        "7f_______________________________________38", // non-canonical
        "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // not a point
    ] {
        let proof = Proof::login().jwk_member("x", json!(x)).build();
        assert_invalid(
            &proof,
            &login_ctx(),
            "DPoP proof jwk is not a valid public key",
        );
    }
    for jwk in [
        json!(null),
        json!("jwk"),
        json!({"kty": "OKP", "crv": "Ed25519"}),
    ] {
        let proof = Proof::login().header("jwk", jwk).build();
        assert_invalid(
            &proof,
            &login_ctx(),
            "DPoP proof jwk is not a valid public key",
        );
    }
    let missing = Proof::login().without_header("jwk").build();
    assert_invalid(&missing, &login_ctx(), "DPoP proof jwk is missing");
}

#[test]
fn jwk_x_in_another_encoding_is_the_same_key() {
    // api.md 9.1: padding and the standard alphabet are tolerated in jwk.x; the thumbprint and
    // the replay marker are computed over the canonical key (security.md §16 item 15).
    let canonical = verify_proof(&Proof::login().build(), &login_ctx()).unwrap();
    for x in [
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ] {
        let proof = Proof::login().jwk_member("x", json!(x)).build();
        let verified = verify_proof(&proof, &login_ctx()).unwrap();
        assert_eq!(verified.thumbprint, canonical.thumbprint, "{x}");
        assert_eq!(verified.replay_hash, canonical.replay_hash, "{x}");
    }
}

#[test]
fn dp16_dp17_forbidden_header_members() {
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("x5c", json!(["MIIB"])),
        ("b64", json!(false)),
        ("b64", json!(true)),
    ] {
        let proof = Proof::login().header(name, value).build();
        assert_invalid(
            &proof,
            &login_ctx(),
            "DPoP proof header contains a forbidden member",
        );
    }
    // kid is ignored.
    let kid = Proof::login().header("kid", json!("whatever")).build();
    assert!(verify_proof(&kid, &login_ctx()).is_ok());
}

#[test]
fn dp18_dp19_dp20_jti() {
    let reason = "DPoP proof jti is missing or invalid";
    assert_invalid(
        &Proof::login().without_claim("jti").build(),
        &login_ctx(),
        reason,
    );
    for jti in [
        json!("j".repeat(129)),
        json!(42),
        json!(""),
        json!(null),
        json!(["a"]),
    ] {
        assert_invalid(
            &Proof::login().claim("jti", jti).build(),
            &login_ctx(),
            reason,
        );
    }
    // 128 characters (multi-byte ones count as one) are fine.
    for jti in ["j".repeat(128), "é".repeat(128)] {
        let proof = Proof::login().claim("jti", json!(jti)).build();
        assert_eq!(verify_proof(&proof, &login_ctx()).unwrap().jti, jti);
    }
}

#[test]
fn dp21_dp22_htm() {
    let reason = "DPoP proof htm does not match the request method";
    for htm in ["GET", "post", "POST ", "PUT"] {
        let proof = Proof::login().claim("htm", json!(htm)).build();
        assert_invalid(&proof, &login_ctx(), reason);
    }
    let missing = Proof::login().without_claim("htm").build();
    assert_invalid(
        &missing,
        &login_ctx(),
        "DPoP proof htm is missing or not a string",
    );
    let number = Proof::login().claim("htm", json!(1)).build();
    assert_invalid(
        &number,
        &login_ctx(),
        "DPoP proof htm is missing or not a string",
    );
}

#[test]
fn dp23_to_dp28_htu() {
    let reason = "DPoP proof htu does not match the request URL";
    for htu in [
        "https://evil.example/v1/agents/login",    // DP23
        "https://id.example.com/v1/agents/login/", // DP24
        "http://id.example.com/v1/agents/login",   // DP25
        "/v1/agents/login",                        // DP28
        "https://id.example.com/V1/agents/login",
        "https://id.example.com:8443/v1/agents/login",
        "https://user@id.example.com/v1/agents/login",
        "https://id.example.com/v1/agents/register",
    ] {
        let proof = Proof::login().claim("htu", json!(htu)).build();
        assert_invalid(&proof, &login_ctx(), reason);
    }
    for htu in [
        "https://id.example.com/v1/agents/login?a=1#x", // DP26
        "HTTPS://ID.EXAMPLE.COM:443/v1/agents/login",   // DP27
        "HTTPS://ID.Example.COM:443/v1/agents/login",
        "https://id.example.com/v1/agents/./login",
    ] {
        let proof = Proof::login().claim("htu", json!(htu)).build();
        assert!(verify_proof(&proof, &login_ctx()).is_ok(), "{htu}");
    }
    let missing = Proof::login().without_claim("htu").build();
    assert_invalid(
        &missing,
        &login_ctx(),
        "DPoP proof htu is missing or not a string",
    );
}

#[test]
fn dp29_to_dp32_iat() {
    for (iat, ok) in [
        (T0 - 301, false), // DP29
        (T0 + 61, false),  // DP30
        (T0 - 299, true),  // DP31
        (T0 - 300, true),
        (T0 + 60, true),
    ] {
        let proof = Proof::login().claim("iat", json!(iat)).build();
        assert_eq!(
            verify_proof(&proof, &login_ctx()).is_ok(),
            ok,
            "iat = T0 {:+}",
            iat - T0
        );
    }
    assert_invalid(
        &Proof::login().claim("iat", json!(T0 + 61)).build(),
        &login_ctx(),
        "DPoP proof iat is in the future",
    );
    // DP32 and other non-numbers.
    for iat in [json!("1767225600"), json!(null), json!(true), json!([T0])] {
        let proof = Proof::login().claim("iat", iat).build();
        assert_invalid(
            &proof,
            &login_ctx(),
            "DPoP proof iat is missing or not a number",
        );
    }
    let missing = Proof::login().without_claim("iat").build();
    assert_invalid(
        &missing,
        &login_ctx(),
        "DPoP proof iat is missing or not a number",
    );
    // Out of i64 range.
    for iat in [json!(u64::MAX), json!(1e300), json!(-1e300)] {
        let proof = Proof::login().claim("iat", iat).build();
        assert_invalid(
            &proof,
            &login_ctx(),
            "DPoP proof iat is missing or not a number",
        );
    }
}

#[test]
fn iat_fraction_is_truncated() {
    let proof = Proof::login().claim("iat", json!(T0 as f64 + 0.9)).build();
    let verified = verify_proof(&proof, &login_ctx()).unwrap();
    assert_eq!(verified.iat, T0);
    assert_eq!(verified.accepted_through.last_s(), T0 + 300);
    // T0 + 60.5 truncates to T0 + 60, the newest accepted.
    let edge = Proof::login().claim("iat", json!(T0 as f64 + 60.5)).build();
    assert_eq!(verify_proof(&edge, &login_ctx()).unwrap().iat, T0 + 60);
}

#[test]
fn dp34_flipped_signature_bit() {
    let proof = Proof::login().build();
    let (input, sig) = proof.rsplit_once('.').unwrap();
    let mut sig = crate::b64::decode_strict(sig).unwrap();
    sig[17] ^= 0x01;
    let tampered = format!("{input}.{}", crate::b64::encode(&sig));
    assert_invalid(&tampered, &login_ctx(), "DPoP proof signature is invalid");
    // Signed by another key (KB-like) with KA's jwk.
    let other = Proof::login()
        .signer(Signer::Ed(SigningKey::from_bytes(&[0x40; 32])))
        .build();
    assert_invalid(&other, &login_ctx(), "DPoP proof signature is invalid");
    // Truncated signature.
    let short = Proof::login().signer(Signer::Raw(vec![1; 63])).build();
    assert_invalid(&short, &login_ctx(), "DPoP proof signature is invalid");
}

#[test]
fn dp35_padded_header_segment() {
    let proof = Proof::login();
    let header = crate::b64::encode(proof.header.to_string().as_bytes());
    let padded = format!("{header}{}", "=".repeat((4 - header.len() % 4) % 4));
    assert_ne!(
        padded, header,
        "test needs a header whose encoding is padded"
    );
    // Signed over the padded input, so only the encoding rule can reject it.
    let payload = crate::b64::encode(proof.claims.to_string().as_bytes());
    let input = format!("{padded}.{payload}");
    let sig = sign(&Signer::Ed(ka()), input.as_bytes());
    let token = format!("{input}.{}", crate::b64::encode(&sig));
    assert_invalid(
        &token,
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
    // Standard-alphabet re-encoding likewise.
    let std_payload = payload.replace('-', "+").replace('_', "/");
    if std_payload != payload {
        let token = format!("{header}.{std_payload}.AA");
        assert_invalid(
            &token,
            &login_ctx(),
            "DPoP proof is not a well-formed compact JWS",
        );
    }
}

#[test]
fn duplicate_members_are_rejected() {
    let sk = ka();
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","alg":"ES256","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{KA}"}}}}"#
    );
    let payload = Proof::login().claims.to_string();
    let token = jws::sign_ed25519(&header, &payload, &sk);
    assert_invalid(
        &token,
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
    let header = Proof::login().header.to_string();
    let payload = format!(
        r#"{{"jti":"a","htm":"POST","htu":"{ISSUER_LOGIN}","iat":{T0},"iat":{}}}"#,
        T0 + 1
    );
    let token = jws::sign_ed25519(&header, &payload, &sk);
    assert_invalid(
        &token,
        &login_ctx(),
        "DPoP proof is not a well-formed compact JWS",
    );
}

#[test]
fn dp40_garbage_nonce_when_not_required() {
    let proof = Proof::login().claim("nonce", json!("garbage")).build();
    assert_eq!(
        verify_proof(&proof, &login_ctx()),
        Err(ProofError::UseNonce)
    );
    // A valid nonce is accepted even when not required.
    let good = Proof::login()
        .claim("nonce", json!(nonce::issue(&NONCE_KEY, T0)))
        .build();
    assert!(verify_proof(&good, &login_ctx()).is_ok());
    // A nonce of the wrong JSON type is a malformed proof, not a nonce problem.
    let number = Proof::login().claim("nonce", json!(12)).build();
    assert_invalid(&number, &login_ctx(), "DPoP proof nonce is not a string");
}

#[test]
fn dp41_required_nonce_then_retry() {
    let ctx = ProofContext {
        require_nonce: true,
        ..login_ctx()
    };
    let without = Proof::login().build();
    assert_eq!(verify_proof(&without, &ctx), Err(ProofError::UseNonce));
    let issued = nonce::issue(ctx.nonce_key, ctx.now_s);
    let retry = Proof::login()
        .claim("jti", json!("retry-jti"))
        .claim("nonce", json!(issued))
        .build();
    assert_eq!(verify_proof(&retry, &ctx).unwrap().jti, "retry-jti");
    // A nonce issued with another key is refused.
    let foreign = Proof::login()
        .claim("nonce", json!(nonce::issue(b"other key", T0)))
        .build();
    assert_eq!(verify_proof(&foreign, &ctx), Err(ProofError::UseNonce));
}

#[test]
fn dp42_stale_nonce() {
    let ctx = ProofContext {
        require_nonce: true,
        ..login_ctx()
    };
    let stale = nonce::issue(&NONCE_KEY, T0 - 300);
    let proof = Proof::login().claim("nonce", json!(stale)).build();
    assert_eq!(verify_proof(&proof, &ctx), Err(ProofError::UseNonce));
    // Also when nonces are optional: a present but stale nonce asks for a fresh one.
    assert_eq!(
        verify_proof(&proof, &login_ctx()),
        Err(ProofError::UseNonce)
    );
}

#[test]
fn nonce_errors_only_for_otherwise_valid_proofs() {
    let ctx = ProofContext {
        require_nonce: true,
        ..login_ctx()
    };
    // Bad signature and no nonce: the signature failure wins.
    let unsigned = Proof::login().signer(Signer::Raw(vec![0; 64])).build();
    assert_invalid(&unsigned, &ctx, "DPoP proof signature is invalid");
    // Wrong htu, stale iat, bad ath: each is reported instead of the nonce.
    let wrong_htu = Proof::login()
        .claim("htu", json!("https://evil.example/"))
        .claim("nonce", json!("garbage"))
        .build();
    assert_invalid(
        &wrong_htu,
        &ctx,
        "DPoP proof htu does not match the request URL",
    );
    let old = Proof::login().claim("iat", json!(T0 - 1000)).build();
    assert_invalid(&old, &ctx, "DPoP proof iat is too old");
    let kc = kc_public();
    let resource = ProofContext {
        require_nonce: true,
        ..userinfo_ctx(&kc)
    };
    assert_eq!(
        verify_proof(PROOF_5_6, &resource),
        Err(ProofError::UseNonce)
    );
    let other_token = ProofContext {
        access_token: Some("another token"),
        ..resource
    };
    assert_invalid(
        PROOF_5_6,
        &other_token,
        "DPoP proof ath does not match the access token",
    );
}

#[test]
fn dp43_es256_proof_at_login() {
    let proof = Proof::es256().build();
    assert_invalid(&proof, &login_ctx(), "DPoP proof alg is not allowed here");
    // The same proof is fine where ES256 is allowed.
    let ctx = ProofContext {
        expected_url: ISSUER_LOGIN,
        ..token_ctx()
    };
    let verified = verify_proof(&proof, &ctx).unwrap();
    assert!(matches!(
        verified.key,
        ProofKey::Jwk(PublicJwk::P256 { .. })
    ));
    // DER-encoded ES256 signatures are refused.
    let p = Proof::es256();
    let (sk, _) = es_key();
    let sig: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&sk, p.signing_input().as_bytes());
    let der = p
        .signer(Signer::Raw(sig.to_der().as_bytes().to_vec()))
        .build();
    assert_invalid(&der, &ctx, "DPoP proof signature is invalid");
}

#[test]
fn dp44_rfc9864_alg_name() {
    let proof = Proof::login().header("alg", json!("Ed25519")).build();
    let verified = verify_proof(&proof, &login_ctx()).unwrap();
    assert_eq!(verified.thumbprint, KA_THUMBPRINT);
}

#[test]
fn ath_is_ignored_outside_resources_but_must_be_a_string() {
    let with_ath = Proof::login().claim("ath", json!("anything")).build();
    assert!(verify_proof(&with_ath, &login_ctx()).is_ok());
    let not_string = Proof::login().claim("ath", json!(1)).build();
    assert_invalid(&not_string, &login_ctx(), "DPoP proof ath is not a string");
}

#[test]
fn error_reasons_are_header_safe() {
    // Reasons go into WWW-Authenticate error_description: ASCII, no quotes or backslashes.
    let reasons = [
        invalid(verify_proof("abc", &login_ctx())),
        invalid(verify_proof(
            &Proof::login().without_header("typ").build(),
            &login_ctx(),
        )),
        ProofError::UseNonce.to_string().leak(),
    ];
    for reason in reasons {
        assert!(reason
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
    }
}

#[test]
fn context_debug_redacts_secrets() {
    let ctx = ProofContext {
        access_token: Some(ACCESS_TOKEN_5_5),
        ..login_ctx()
    };
    let shown = format!("{ctx:?}");
    assert!(shown.contains("<redacted>"));
    assert!(!shown.contains("171")); // first byte of NONCE_KEY (0xab) in decimal
    assert!(!shown.contains(ACCESS_TOKEN_5_5));
}
