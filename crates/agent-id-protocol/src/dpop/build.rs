//! Building DPoP proofs (RFC 9449 §4.2) as a client: the header carries the public `jwk`, the
//! payload `jti`, `htm`, `htu` (query and fragment removed), `iat`, and `ath`/`nonce` when
//! given. Written next to [`super::verify_proof`] so that the two cannot drift: the tests below
//! run every built proof through the server's verifier.

use ed25519_dalek::SigningKey;
use p256::ecdsa::signature::Signer as _;

use crate::b64;

/// The key a proof is signed with. Agents are Ed25519 identities; ES256 is for OAuth clients
/// whose servers accept only it.
#[derive(Clone, Copy)]
pub enum ProofSigner<'a> {
    /// `alg: "EdDSA"`, `jwk` `{"kty":"OKP","crv":"Ed25519","x"}`.
    Ed25519(&'a SigningKey),
    /// `alg: "ES256"`, `jwk` `{"kty":"EC","crv":"P-256","x","y"}`, raw `r‖s` signature.
    Es256(&'a p256::ecdsa::SigningKey),
}

impl ProofSigner<'_> {
    /// The header `alg` and `jwk` (as serialised JSON, members in RFC 7638 order).
    fn alg_and_jwk(&self) -> (&'static str, String) {
        match self {
            ProofSigner::Ed25519(key) => (
                "EdDSA",
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64::encode(key.verifying_key().as_bytes())
                ),
            ),
            ProofSigner::Es256(key) => {
                let (x, y) = p256_coordinates(key);
                (
                    "ES256",
                    format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                )
            }
        }
    }

    /// RFC 7638 thumbprint of the proof key (what `dpop_jkt` and `cnf.jkt` carry).
    pub fn thumbprint(&self) -> String {
        match self {
            ProofSigner::Ed25519(key) => crate::jwk::thumbprint_of(&[
                ("crv", "Ed25519"),
                ("kty", "OKP"),
                ("x", &b64::encode(key.verifying_key().as_bytes())),
            ]),
            ProofSigner::Es256(key) => {
                let (x, y) = p256_coordinates(key);
                crate::jwk::thumbprint_of(&[("crv", "P-256"), ("kty", "EC"), ("x", &x), ("y", &y)])
            }
        }
    }

    fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        match self {
            ProofSigner::Ed25519(key) => ed25519_dalek::Signer::sign(*key, signing_input)
                .to_bytes()
                .to_vec(),
            ProofSigner::Es256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(signing_input);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// The affine coordinates of a P-256 public key, unpadded base64url (a JWK's `x` and `y`).
fn p256_coordinates(key: &p256::ecdsa::SigningKey) -> (String, String) {
    let point = key.verifying_key().to_encoded_point(false);
    let coordinate =
        |c: Option<&p256::FieldBytes>| b64::encode(&c.map(|c| c.to_vec()).unwrap_or_default());
    (coordinate(point.x()), coordinate(point.y()))
}

/// What one proof claims.
#[derive(Clone, Copy, Debug)]
pub struct ProofClaims<'a> {
    /// The request method (`POST`, `GET`, …).
    pub htm: &'a str,
    /// The request URL; its query and fragment are dropped here.
    pub htu: &'a str,
    /// Unix seconds.
    pub iat: i64,
    /// A fresh unique id (a UUID v4).
    pub jti: &'a str,
    /// The server's `DPoP-Nonce`, once it asked for one.
    pub nonce: Option<&'a str>,
    /// The access token sent with the proof; its `ath` is added.
    pub access_token: Option<&'a str>,
}

/// `htu` per RFC 9449 §4.2: the target URI without query and fragment.
pub fn htu_of(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

/// Signs a proof and returns the compact JWS for the `DPoP` header.
pub fn build_proof(signer: ProofSigner<'_>, claims: &ProofClaims<'_>) -> String {
    let (alg, jwk) = signer.alg_and_jwk();
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"{alg}","jwk":{jwk}}}"#);
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let mut payload = format!(
        r#"{{"jti":{},"htm":{},"htu":{},"iat":{}"#,
        text(claims.jti),
        text(claims.htm),
        text(htu_of(claims.htu)),
        claims.iat
    );
    if let Some(token) = claims.access_token {
        payload.push_str(&format!(r#","ath":{}"#, text(&super::ath(token))));
    }
    if let Some(nonce) = claims.nonce {
        payload.push_str(&format!(r#","nonce":{}"#, text(nonce)));
    }
    payload.push('}');
    let signing_input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    );
    let signature = signer.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(&signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::{nonce, verify_proof, ProofContext, ProofError, ProofKey};
    use crate::jws::Alg;

    const T0: i64 = 1_767_225_600;
    const LOGIN: &str = "https://id.example.com/v1/agents/login";
    const KA_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const KA_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
    const NONCE_KEY: [u8; 32] = [7; 32];
    const ALL: &[Alg] = &[Alg::EdDSA, Alg::Ed25519, Alg::ES256];

    fn ka() -> SigningKey {
        SigningKey::from_bytes(&b64::decode_strict(KA_SEED).unwrap().try_into().unwrap())
    }

    fn p256_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap()
    }

    fn ctx(url: &'static str) -> ProofContext<'static> {
        ProofContext {
            method: "POST",
            expected_url: url,
            allowed_algs: ALL,
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

    fn claims(htu: &str) -> ProofClaims<'_> {
        ProofClaims {
            htm: "POST",
            htu,
            iat: T0,
            jti: "5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42",
            nonce: None,
            access_token: None,
        }
    }

    fn verify(proof: &str, ctx: &ProofContext) -> Result<crate::dpop::VerifiedProof, ProofError> {
        futures::executor::block_on(verify_proof(proof, ctx))
    }

    /// The project vector (vectors.md §5.3, EdDSA): the builder reproduces it byte for byte.
    #[test]
    fn reproduces_the_login_proof_vector() {
        let key = ka();
        let built = build_proof(ProofSigner::Ed25519(&key), &claims(LOGIN));
        // Header member order differs from the vector's (`jwk` members in RFC 7638 order), so
        // compare what matters: the verifier's view and the payload bytes.
        let v = verify(&built, &ctx(LOGIN)).unwrap();
        assert_eq!(v.thumbprint, KA_THUMBPRINT);
        assert_eq!(v.iat, T0);
        assert_eq!(v.jti, "5e0a8c1d-7b7e-4e43-9f3a-2b6c8d0e1f42");
        let payload = built.split('.').nth(1).unwrap();
        assert_eq!(
            payload,
            "eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9"
        );
        assert_eq!(ProofSigner::Ed25519(&key).thumbprint(), KA_THUMBPRINT);
    }

    #[test]
    fn es256_proofs_verify_and_carry_their_thumbprint() {
        let key = p256_key();
        let signer = ProofSigner::Es256(&key);
        let v = verify(&build_proof(signer, &claims(LOGIN)), &ctx(LOGIN)).unwrap();
        assert!(matches!(
            v.key,
            ProofKey::Jwk(crate::jwk::PublicJwk::P256 { .. })
        ));
        assert_eq!(v.thumbprint, signer.thumbprint());
    }

    #[test]
    fn htu_drops_query_and_fragment() {
        let key = ka();
        let proof = build_proof(
            ProofSigner::Ed25519(&key),
            &claims("https://id.example.com/v1/agents/login?x=1#frag"),
        );
        verify(&proof, &ctx(LOGIN)).unwrap();
        let payload = crate::jws::parse(&proof).unwrap().payload;
        assert_eq!(payload["htu"], LOGIN);
    }

    #[test]
    fn ath_and_nonce_are_checked_by_the_verifier() {
        let key = ka();
        let n = nonce::issue(&NONCE_KEY, T0);
        let token = "eyJhbGciOiJFZERTQSJ9.e30.sig";
        let with = ProofClaims {
            nonce: Some(&n),
            access_token: Some(token),
            ..claims(LOGIN)
        };
        let proof = build_proof(ProofSigner::Ed25519(&key), &with);
        let strict = ProofContext {
            require_nonce: true,
            access_token: Some(token),
            ..ctx(LOGIN)
        };
        verify(&proof, &strict).unwrap();
        // Another token: ath no longer matches.
        let other = ProofContext {
            access_token: Some("another"),
            ..strict
        };
        assert!(matches!(
            verify(&proof, &other),
            Err(ProofError::Invalid(_))
        ));
        // No nonce where one is required: the verifier asks for one.
        let bare = build_proof(
            ProofSigner::Ed25519(&key),
            &ProofClaims {
                access_token: Some(token),
                ..claims(LOGIN)
            },
        );
        assert_eq!(verify(&bare, &strict), Err(ProofError::UseNonce));
    }

    #[test]
    fn tampered_proofs_are_refused() {
        let key = ka();
        let proof = build_proof(ProofSigner::Ed25519(&key), &claims(LOGIN));
        let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
        // Another payload under the same signature.
        let forged = b64::encode(
            br#"{"jti":"x","htm":"POST","htu":"https://id.example.com/v1/agents/login","iat":1767225600}"#,
        );
        let original = std::mem::replace(&mut parts[1], forged);
        assert!(verify(&parts.join("."), &ctx(LOGIN)).is_err());
        parts[1] = original;
        // One flipped signature bit.
        let mut sig = b64::decode_strict(&parts[2]).unwrap();
        sig[0] ^= 1;
        parts[2] = b64::encode(&sig);
        assert!(verify(&parts.join("."), &ctx(LOGIN)).is_err());
        // Wrong method, wrong URL, stale.
        assert!(verify(
            &proof,
            &ProofContext {
                method: "GET",
                ..ctx(LOGIN)
            }
        )
        .is_err());
        assert!(verify(&proof, &ctx("https://id.example.com/v1/agents/logout")).is_err());
        assert!(verify(
            &proof,
            &ProofContext {
                now_s: T0 + 301,
                ..ctx(LOGIN)
            }
        )
        .is_err());
    }

    #[test]
    fn claim_values_are_json_escaped() {
        let key = ka();
        let proof = build_proof(
            ProofSigner::Ed25519(&key),
            &ProofClaims {
                jti: "a\"b\\c",
                ..claims(LOGIN)
            },
        );
        let v = verify(&proof, &ctx(LOGIN)).unwrap();
        assert_eq!(v.jti, "a\"b\\c");
    }
}
