//! Compact JWS: parsing (strict encoding, duplicate-free JSON), verification over the received
//! bytes, and Ed25519 signing of already-serialised JSON.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Map, Value};

use super::b64;
use super::json::{self, JsonError};
use super::jwk::PublicJwk;
use super::verify as verifier;

/// The JWS algorithms the service knows. Anything else (`none`, HMAC, RSA, other curves) is
/// unknown and never verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519 under the RFC 8037 name.
    EdDSA,
    /// Ed25519 under the fully specified RFC 9864 name.
    Ed25519,
    /// ECDSA P-256 with SHA-256, raw `r‖s` signatures.
    ES256,
}

impl Alg {
    /// Maps a header `alg` value (case-sensitive) to a known algorithm.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Alg::EdDSA),
            "Ed25519" => Some(Alg::Ed25519),
            "ES256" => Some(Alg::ES256),
            _ => None,
        }
    }

    /// The header name of the algorithm.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::Ed25519 => "Ed25519",
            Alg::ES256 => "ES256",
        }
    }

    /// `EdDSA` and `Ed25519` are the same algorithm under two names.
    pub fn is_ed25519(self) -> bool {
        matches!(self, Alg::EdDSA | Alg::Ed25519)
    }
}

/// A structurally valid compact JWS whose signature has NOT been checked yet.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactJws {
    /// `segment1 "." segment2` exactly as received: the bytes the signature covers.
    pub signing_input: String,
    /// Decoded protected header.
    pub header: Map<String, Value>,
    /// Decoded payload (claims).
    pub payload: Map<String, Value>,
    /// Decoded signature bytes (length not checked here).
    pub signature: Vec<u8>,
}

/// Why a token is not a well-formed compact JWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwsError {
    /// Not exactly three non-empty `.`-separated segments.
    Segments,
    /// A segment is not unpadded base64url.
    Encoding,
    /// The header is not a duplicate-free JSON object.
    Header(JsonError),
    /// The payload is not a duplicate-free JSON object.
    Payload(JsonError),
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwsError::Segments => f.write_str("JWS must have three non-empty segments"),
            JwsError::Encoding => f.write_str("JWS segment is not unpadded base64url"),
            JwsError::Header(err) => write!(f, "JWS header: {}", json_reason(err)),
            JwsError::Payload(err) => write!(f, "JWS payload: {}", json_reason(err)),
        }
    }
}

impl std::error::Error for JwsError {}

/// `JsonError`'s Display speaks of a "body"; inside a JWS the segment is named instead.
fn json_reason(err: &JsonError) -> String {
    match err {
        JsonError::NotObject => "not a JSON object".to_owned(),
        JsonError::NotUtf8 => "not valid UTF-8".to_owned(),
        other => other.to_string(),
    }
}

/// Splits and decodes a compact JWS without verifying it. The signing input is kept as received;
/// nothing is ever re-serialised.
pub fn parse(token: &str) -> Result<CompactJws, JwsError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Segments);
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(JwsError::Segments);
    }
    let header_bytes = b64::decode_strict(h).ok_or(JwsError::Encoding)?;
    let payload_bytes = b64::decode_strict(p).ok_or(JwsError::Encoding)?;
    let signature = b64::decode_strict(s).ok_or(JwsError::Encoding)?;
    let header = json::parse_object(&header_bytes).map_err(JwsError::Header)?;
    let payload = json::parse_object(&payload_bytes).map_err(JwsError::Payload)?;
    Ok(CompactJws {
        signing_input: format!("{h}.{p}"),
        header,
        payload,
        signature,
    })
}

/// The JWS signing input of already-serialised header and payload texts (the caller controls
/// member order and formatting, since `serde_json::Map` sorts keys).
pub fn signing_input(header_json: &str, payload_json: &str) -> String {
    format!(
        "{}.{}",
        b64::encode(header_json.as_bytes()),
        b64::encode(payload_json.as_bytes())
    )
}

/// Signs already-serialised header and payload texts and returns the compact JWS.
pub fn sign_ed25519(header_json: &str, payload_json: &str, key: &SigningKey) -> String {
    let signing_input = signing_input(header_json, payload_json);
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(&signature.to_bytes()))
}

/// Verifies `sig` over `signing_input` with `key` under `alg`. An algorithm/key-type mismatch is
/// `false` (never "try the key with whatever alg the token names"). Ed25519 uses strict
/// verification; ES256 takes only the 64-byte raw `r‖s` form (DER is rejected by length).
pub async fn verify(alg: Alg, key: &PublicJwk, signing_input: &[u8], sig: &[u8]) -> bool {
    match (alg, key) {
        (Alg::EdDSA | Alg::Ed25519, PublicJwk::Ed25519(key)) => {
            verifier::ed25519(key, signing_input, sig).await
        }
        (Alg::ES256, PublicJwk::P256 { key, .. }) => verifier::es256(key, signing_input, sig).await,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ed25519::Ed25519PublicKey;
    use serde_json::json;

    /// The verifier is async for the wasm build; natively it is ready at once.
    fn verify(alg: Alg, key: &PublicJwk, signing_input: &[u8], sig: &[u8]) -> bool {
        futures::executor::block_on(super::verify(alg, key, signing_input, sig))
    }

    const KA_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    const RFC9449_FIG1: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
    const SERVER_SEED: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    const ACCESS_TOKEN_5_5: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFkiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoiNmYxYzJiOWUtM2Q0YS00YzViLThlN2YtMGExYjJjM2Q0ZTVmIiwiYXVkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwiY2xpZW50X2lkIjoiMGM4ZjNmNWUtMmI3YS00ZDYxLTljM2UtNWE0YjdkOWUxZjIwIiwic2NvcGUiOiJpZCBuYW1lIGRlc2NyaXB0aW9uIHN1YnNjcmlwdGlvbiIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiJZazNuMHZYb1E3bUo1dVIydFc4ekFBIiwiY25mIjp7ImprdCI6IkFrWElaRnpvbmI1OVptR3d5S2dpM0gzQndNaTZhbWV2cWRLUWlMWmhkdGMifX0.yRCoM6hiqq-E9wmuuyTFhy8-1R7jlWcOSuL61QfgBHCAlS77TCC3mvL_hegdIUDlhMzjFQc6lM8zdrZndQjEAA";

    fn ka_signing_key() -> SigningKey {
        SigningKey::from_bytes(&b64::decode_strict(KA_SEED).unwrap().try_into().unwrap())
    }

    fn ka_jwk() -> PublicJwk {
        PublicJwk::Ed25519(Ed25519PublicKey::parse(KA).unwrap())
    }

    fn split(token: &str) -> (&str, Vec<u8>) {
        let (input, sig) = token.rsplit_once('.').unwrap();
        (input, b64::decode_strict(sig).unwrap())
    }

    #[test]
    fn alg_names() {
        assert_eq!(Alg::parse("EdDSA"), Some(Alg::EdDSA));
        assert_eq!(Alg::parse("Ed25519"), Some(Alg::Ed25519));
        assert_eq!(Alg::parse("ES256"), Some(Alg::ES256));
        for unknown in [
            "none", "HS256", "HS384", "HS512", "RS256", "PS256", "ES384", "ES512", "eddsa",
            "ES256K", "",
        ] {
            assert_eq!(Alg::parse(unknown), None, "{unknown}");
        }
        for alg in [Alg::EdDSA, Alg::Ed25519, Alg::ES256] {
            assert_eq!(Alg::parse(alg.as_str()), Some(alg));
        }
    }

    #[test]
    fn rfc8037_jws_signs_and_verifies() {
        // vectors.md §2.1: Ed25519 is deterministic, so signing reproduces the token exactly.
        let token = sign_ed25519(
            r#"{"alg":"EdDSA"}"#,
            "Example of Ed25519 signing",
            &ka_signing_key(),
        );
        assert_eq!(token, RFC8037_JWS);
        let (input, sig) = split(RFC8037_JWS);
        assert_eq!(
            input,
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        );
        assert!(verify(Alg::EdDSA, &ka_jwk(), input.as_bytes(), &sig));
        assert!(verify(Alg::Ed25519, &ka_jwk(), input.as_bytes(), &sig));
        assert!(!verify(Alg::ES256, &ka_jwk(), input.as_bytes(), &sig));
        // Its payload is not a JSON object, so it is not an acceptable token for this service.
        assert!(matches!(
            parse(RFC8037_JWS),
            Err(JwsError::Payload(JsonError::Syntax(_)))
        ));
    }

    #[test]
    fn rfc9449_es256_proof_verifies_raw_only() {
        // vectors.md §2.4
        let jws = parse(RFC9449_FIG1).unwrap();
        let key = PublicJwk::from_json(&jws.header["jwk"]).unwrap();
        assert_eq!(jws.header["alg"], "ES256");
        assert_eq!(jws.payload["htu"], "https://server.example.com/token");
        assert!(verify(
            Alg::ES256,
            &key,
            jws.signing_input.as_bytes(),
            &jws.signature
        ));
        assert!(!verify(
            Alg::EdDSA,
            &key,
            jws.signing_input.as_bytes(),
            &jws.signature
        ));
        assert!(!verify(Alg::ES256, &key, b"other", &jws.signature));
        let mut flipped = jws.signature.clone();
        flipped[5] ^= 0x80;
        assert!(!verify(
            Alg::ES256,
            &key,
            jws.signing_input.as_bytes(),
            &flipped
        ));
        // The same signature in DER form is rejected.
        let der = to_der(&jws.signature);
        assert!(!verify(
            Alg::ES256,
            &key,
            jws.signing_input.as_bytes(),
            &der
        ));
    }

    /// Encodes a raw `r‖s` signature as an ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`.
    fn to_der(raw: &[u8]) -> Vec<u8> {
        let int = |bytes: &[u8]| {
            let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
            let mut v = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
                vec![0]
            } else {
                vec![]
            };
            v.extend(trimmed);
            let mut out = vec![0x02, v.len() as u8];
            out.extend(v);
            out
        };
        let body = [int(&raw[..32]), int(&raw[32..])].concat();
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        der
    }

    #[test]
    fn es256_signatures_from_a_fixed_scalar_verify() {
        use p256::ecdsa::signature::Signer as _;
        let sk = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
        let point = sk.verifying_key().to_encoded_point(false);
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": b64::encode(point.x().unwrap()),
            "y": b64::encode(point.y().unwrap()),
        });
        let key = PublicJwk::from_json(&jwk).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"a.b");
        assert!(verify(Alg::ES256, &key, b"a.b", &sig.to_bytes()));
        assert!(!verify(Alg::ES256, &key, b"a.b", sig.to_der().as_bytes()));
        assert!(!verify(Alg::ES256, &key, b"a.c", &sig.to_bytes()));
    }

    #[test]
    fn access_token_vector_verifies_with_the_server_key() {
        // vectors.md §5.5
        let jws = parse(ACCESS_TOKEN_5_5).unwrap();
        let server = SigningKey::from_bytes(&SERVER_SEED);
        let key = Ed25519PublicKey::from_bytes(server.verifying_key().as_bytes()).unwrap();
        assert_eq!(jws.header["kid"], key.thumbprint());
        assert_eq!(jws.header["typ"], "at+jwt");
        let key = PublicJwk::Ed25519(key);
        assert!(verify(
            Alg::EdDSA,
            &key,
            jws.signing_input.as_bytes(),
            &jws.signature
        ));
        assert!(!verify(
            Alg::EdDSA,
            &ka_jwk(),
            jws.signing_input.as_bytes(),
            &jws.signature
        ));
        // Re-signing the exact texts reproduces the token.
        let (h, p) = jws.signing_input.split_once('.').unwrap();
        let header = String::from_utf8(b64::decode_strict(h).unwrap()).unwrap();
        let payload = String::from_utf8(b64::decode_strict(p).unwrap()).unwrap();
        assert_eq!(sign_ed25519(&header, &payload, &server), ACCESS_TOKEN_5_5);
    }

    #[test]
    fn client_assertion_vector_verifies_with_kc() {
        // vectors.md §5.4
        let token = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJzdWIiOiIwYzhmM2Y1ZS0yYjdhLTRkNjEtOWMzZS01YTRiN2Q5ZTFmMjAiLCJhdWQiOiJodHRwczovL2lkLmV4YW1wbGUuY29tL3YxL29hdXRoL3Rva2VuIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjU2NjAsImp0aSI6ImMxYTdlM2IyLTZkNGYtNGE4Yi05YzBkLTFlMmYzYTRiNWM2ZCJ9.Mvog1EXGkhDz_QH9d3EpLH7GCTiTwASJX7S08iw5c36Sa3jIi1IcbKjSAj1QhuZE5RFOZm_Oy64e-uEI9wIpAw";
        let jws = parse(token).unwrap();
        let kc = PublicJwk::Ed25519(
            Ed25519PublicKey::parse("Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc").unwrap(),
        );
        assert!(verify(
            Alg::EdDSA,
            &kc,
            jws.signing_input.as_bytes(),
            &jws.signature
        ));
        assert_eq!(jws.payload["jti"], "c1a7e3b2-6d4f-4a8b-9c0d-1e2f3a4b5c6d");
    }

    #[test]
    fn parse_requires_three_non_empty_strict_segments() {
        let sk = ka_signing_key();
        let good = sign_ed25519(r#"{"alg":"EdDSA"}"#, r#"{"a":1}"#, &sk);
        let jws = parse(&good).unwrap();
        assert_eq!(jws.header["alg"], "EdDSA");
        assert_eq!(jws.payload["a"], 1);
        assert_eq!(jws.signature.len(), 64);
        assert!(verify(
            Alg::EdDSA,
            &ka_jwk(),
            jws.signing_input.as_bytes(),
            &jws.signature
        ));

        let (h, rest) = good.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        for bad in [
            "abc".to_owned(),
            String::new(),
            format!("{h}.{p}"),
            format!("{h}.{p}."),
            format!(".{p}.{s}"),
            format!("{h}..{s}"),
            format!("{h}.{p}.{s}.{s}"),
            format!("{h}.{p}.{s}."),
        ] {
            assert_eq!(parse(&bad), Err(JwsError::Segments), "{bad}");
        }
        for bad in [
            format!("{h}=.{p}.{s}"),
            format!("{h}.{p}.{s}=="),
            format!(" {h}.{p}.{s}"),
            format!("{h}.{p}.{s}\n"),
            format!("{h}.{}.{s}", p.replace('J', "+")),
        ] {
            assert_eq!(parse(&bad), Err(JwsError::Encoding), "{bad}");
        }
    }

    #[test]
    fn parse_requires_duplicate_free_json_objects() {
        let sk = ka_signing_key();
        let dup_header = sign_ed25519(r#"{"alg":"EdDSA","alg":"none"}"#, "{}", &sk);
        assert_eq!(
            parse(&dup_header),
            Err(JwsError::Header(JsonError::DuplicateKey("alg".into())))
        );
        let dup_nested = sign_ed25519(r#"{"jwk":{"x":"a","x":"b"}}"#, "{}", &sk);
        assert_eq!(
            parse(&dup_nested),
            Err(JwsError::Header(JsonError::DuplicateKey("x".into())))
        );
        let dup_payload = sign_ed25519("{}", r#"{"iat":1,"iat":2}"#, &sk);
        assert_eq!(
            parse(&dup_payload),
            Err(JwsError::Payload(JsonError::DuplicateKey("iat".into())))
        );
        let array = sign_ed25519("[]", "{}", &sk);
        assert_eq!(parse(&array), Err(JwsError::Header(JsonError::NotObject)));
        let latin1 = format!("{}.e30.AA", b64::encode(&[0x7b, 0xe9, 0x7d]));
        assert_eq!(parse(&latin1), Err(JwsError::Header(JsonError::NotUtf8)));
        assert_eq!(
            JwsError::Payload(JsonError::DuplicateKey("iat".into())).to_string(),
            "JWS payload: duplicate field `iat`"
        );
    }
}
