//! Public JWKs accepted in DPoP proofs (OKP Ed25519 and EC P-256 only) and RFC 7638 thumbprints.
//! Our own type rather than `jose-jwk`: that crate refuses `x` spellings the protocol tolerates and
//! costs 21 KB gzip (measured; README, "JWKs: why our own type").

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::b64;
use super::ed25519::{Ed25519PublicKey, KeyError};

/// Members that only private or symmetric keys carry; their presence means the client leaked a
/// secret or is attempting key confusion (`security.md` P6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A validated public JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicJwk {
    /// `kty: OKP`, `crv: Ed25519`.
    Ed25519(Ed25519PublicKey),
    /// `kty: EC`, `crv: P-256`; `x` and `y` are kept as received (strict base64url of 32 bytes
    /// each, hence already canonical) for the thumbprint.
    P256 {
        key: p256::ecdsa::VerifyingKey,
        x: String,
        y: String,
    },
}

/// Why a JWK was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwkError {
    /// The JWK is not a JSON object.
    NotObject,
    /// A private or symmetric key member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is present.
    PrivateMember,
    /// `kty`/`crv` is missing or not one of OKP/Ed25519 and EC/P-256.
    Unsupported,
    /// A coordinate member (`x` or `y`) is missing, not a string, not strict base64url, or has the
    /// wrong length.
    BadMember(&'static str),
    /// `x` is not an acceptable Ed25519 key.
    BadEd25519(KeyError),
    /// `x`/`y` are not a point on P-256 (or the point is the identity).
    BadP256Point,
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::NotObject => f.write_str("jwk must be a JSON object"),
            JwkError::PrivateMember => f.write_str("jwk must not contain private key members"),
            JwkError::Unsupported => f.write_str("jwk must be an OKP Ed25519 or EC P-256 key"),
            JwkError::BadMember(name) => write!(f, "jwk member `{name}` is invalid"),
            JwkError::BadEd25519(err) => write!(f, "jwk: {err}"),
            JwkError::BadP256Point => f.write_str("jwk is not a valid P-256 point"),
        }
    }
}

impl std::error::Error for JwkError {}

impl PublicJwk {
    /// Validates a JWK from a JOSE header. Extra members (`kid`, `alg`, `use`, …) are ignored.
    pub fn from_json(v: &Value) -> Result<Self, JwkError> {
        let obj = v.as_object().ok_or(JwkError::NotObject)?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(JwkError::PrivateMember);
        }
        let member = |name: &'static str| {
            obj.get(name)
                .and_then(Value::as_str)
                .ok_or(JwkError::BadMember(name))
        };
        let kty = obj.get("kty").and_then(Value::as_str);
        let crv = obj.get("crv").and_then(Value::as_str);
        match (kty, crv) {
            (Some("OKP"), Some("Ed25519")) => okp_x(member("x")?).map(PublicJwk::Ed25519),
            (Some("EC"), Some("P-256")) => p256_key(member("x")?, member("y")?),
            _ => Err(JwkError::Unsupported),
        }
    }

    /// An EC P-256 key from its affine coordinates (strict base64url of 32 bytes each).
    pub fn p256(x: &str, y: &str) -> Result<Self, JwkError> {
        p256_key(x, y)
    }

    /// RFC 7638 thumbprint over the required members (`api.md` 9.7).
    pub fn thumbprint(&self) -> String {
        match self {
            PublicJwk::Ed25519(key) => key.thumbprint(),
            PublicJwk::P256 { x, y, .. } => {
                thumbprint_of(&[("crv", "P-256"), ("kty", "EC"), ("x", x), ("y", y)])
            }
        }
    }
}

/// `jwk.x` follows the API key rules of api.md 9.1: padding and the standard alphabet are
/// tolerated (never mixed), and the key is canonicalised, so lookups and thumbprints agree
/// whatever encoding a client used.
fn okp_x(x: &str) -> Result<Ed25519PublicKey, JwkError> {
    let bytes = b64::decode_lenient(x).ok_or(JwkError::BadMember("x"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| JwkError::BadEd25519(KeyError::Length))?;
    Ed25519PublicKey::from_bytes(&bytes).map_err(JwkError::BadEd25519)
}

/// Builds a P-256 key from the affine coordinates via the SEC1 uncompressed form, which checks
/// that both coordinates are field elements and the point is on the curve (the identity has no
/// uncompressed encoding).
fn p256_key(x: &str, y: &str) -> Result<PublicJwk, JwkError> {
    let coordinate = |s: &str, name: &'static str| -> Result<[u8; 32], JwkError> {
        b64::decode_strict(s)
            .and_then(|b| b.try_into().ok())
            .ok_or(JwkError::BadMember(name))
    };
    let (xb, yb) = (coordinate(x, "x")?, coordinate(y, "y")?);
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(&xb);
    sec1[33..].copy_from_slice(&yb);
    let key =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| JwkError::BadP256Point)?;
    Ok(PublicJwk::P256 {
        key,
        x: x.to_owned(),
        y: y.to_owned(),
    })
}

/// RFC 7638 §3: SHA-256 over the JSON object of the given (required) members, sorted by name, no
/// whitespace, string values; result in unpadded base64url.
pub fn thumbprint_of(members: &[(&str, &str)]) -> String {
    let mut sorted = members.to_vec();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut json = String::from("{");
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // `Value`'s Display writes a compact, correctly escaped JSON string.
        json.push_str(&Value::from(*name).to_string());
        json.push(':');
        json.push_str(&Value::from(*value).to_string());
    }
    json.push('}');
    b64::encode(&Sha256::digest(json.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const EC_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    const EC_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";

    #[test]
    fn rfc8037_okp_jwk_and_thumbprint() {
        // vectors.md §2.1
        let jwk = PublicJwk::from_json(&json!({"kty":"OKP","crv":"Ed25519","x":KA})).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        // The private JWK of the same vector is refused.
        let private = json!({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":KA});
        assert_eq!(PublicJwk::from_json(&private), Err(JwkError::PrivateMember));
    }

    #[test]
    fn rfc7638_rsa_thumbprint_procedure() {
        // vectors.md §2.2 (member order given scrambled to show the helper sorts)
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint_of(&[("n", n), ("kty", "RSA"), ("e", "AQAB")]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // RSA keys are still not accepted as proof keys.
        let rsa = json!({"kty":"RSA","n":n,"e":"AQAB"});
        assert_eq!(PublicJwk::from_json(&rsa), Err(JwkError::Unsupported));
    }

    #[test]
    fn rfc9449_ec_jwk_and_thumbprint() {
        // vectors.md §2.4
        let jwk =
            PublicJwk::from_json(&json!({"kty":"EC","x":EC_X,"y":EC_Y,"crv":"P-256"})).unwrap();
        assert!(matches!(jwk, PublicJwk::P256 { .. }));
        assert_eq!(
            jwk.thumbprint(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn ignores_extra_public_members() {
        let jwk = json!({"kty":"OKP","crv":"Ed25519","x":KA,"kid":"k1","alg":"EdDSA","use":"sig"});
        assert!(PublicJwk::from_json(&jwk).is_ok());
    }

    #[test]
    fn rejects_private_and_symmetric_members() {
        for m in PRIVATE_MEMBERS {
            let mut okp = json!({"kty":"OKP","crv":"Ed25519","x":KA});
            okp[m] = json!("AAAA");
            assert_eq!(
                PublicJwk::from_json(&okp),
                Err(JwkError::PrivateMember),
                "{m}"
            );
            let mut ec = json!({"kty":"EC","crv":"P-256","x":EC_X,"y":EC_Y});
            ec[m] = json!(null);
            assert_eq!(
                PublicJwk::from_json(&ec),
                Err(JwkError::PrivateMember),
                "{m}"
            );
        }
        // DP13: a symmetric key.
        let oct = json!({"kty":"oct","k":"c2VjcmV0"});
        assert_eq!(PublicJwk::from_json(&oct), Err(JwkError::PrivateMember));
        assert_eq!(
            PublicJwk::from_json(&json!({"kty":"oct"})),
            Err(JwkError::Unsupported)
        );
    }

    #[test]
    fn rejects_unsupported_types_and_curves() {
        for jwk in [
            json!({"crv":"Ed25519","x":KA}),
            json!({"kty":"OKP","x":KA}),
            json!({"kty":"OKP","crv":"X25519","x":KA}),
            json!({"kty":"OKP","crv":"Ed448","x":KA}),
            json!({"kty":"okp","crv":"Ed25519","x":KA}),
            json!({"kty":"EC","crv":"P-384","x":EC_X,"y":EC_Y}),
            json!({"kty":"EC","crv":"secp256k1","x":EC_X,"y":EC_Y}),
            json!({"kty":"OKP","crv":"P-256","x":EC_X,"y":EC_Y}),
            json!({"kty":["OKP"],"crv":"Ed25519","x":KA}),
        ] {
            assert_eq!(
                PublicJwk::from_json(&jwk),
                Err(JwkError::Unsupported),
                "{jwk}"
            );
        }
        for not_object in [json!(null), json!("jwk"), json!([KA])] {
            assert_eq!(PublicJwk::from_json(&not_object), Err(JwkError::NotObject));
        }
    }

    #[test]
    fn okp_x_is_canonicalised_and_must_be_a_good_key() {
        let okp = |x: Value| json!({"kty":"OKP","crv":"Ed25519","x":x});
        for variant in [
            format!("{KA}="),
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".to_owned(),
        ] {
            let Ok(PublicJwk::Ed25519(key)) = PublicJwk::from_json(&okp(json!(variant))) else {
                panic!("{variant} must be accepted");
            };
            assert_eq!(key.canonical(), KA);
        }
        for (x, err) in [
            (json!(null), JwkError::BadMember("x")),
            (json!(42), JwkError::BadMember("x")),
            (
                json!("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH-Ro"),
                JwkError::BadMember("x"),
            ),
            (
                json!("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"),
                JwkError::BadMember("x"),
            ),
            // DP15: 31 bytes
            (
                json!(b64::encode(&[9u8; 31])),
                JwkError::BadEd25519(KeyError::Length),
            ),
            // DP14: small order
            (
                json!("xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o"),
                JwkError::BadEd25519(KeyError::SmallOrder),
            ),
            (
                json!("7f_______________________________________38"),
                JwkError::BadEd25519(KeyError::NonCanonical),
            ),
        ] {
            assert_eq!(PublicJwk::from_json(&okp(x.clone())), Err(err), "{x}");
        }
        let Ok(PublicJwk::Ed25519(key)) = PublicJwk::from_json(&okp(json!(KA))) else {
            panic!("KA must be accepted");
        };
        assert_eq!(key.canonical(), KA);
    }

    #[test]
    fn ec_coordinates_must_form_a_point() {
        let ec = |x: &str, y: &str| json!({"kty":"EC","crv":"P-256","x":x,"y":y});
        let zero = b64::encode(&[0u8; 32]);
        let p_bytes = b64::encode(&[
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        // y + 1 is not on the curve.
        let mut y_plus_one = b64::decode_strict(EC_Y).unwrap();
        if let Some(last) = y_plus_one.last_mut() {
            *last ^= 1;
        }
        let y_plus_one = b64::encode(&y_plus_one);
        for (x, y, err) in [
            (zero.as_str(), zero.as_str(), JwkError::BadP256Point),
            (EC_X, y_plus_one.as_str(), JwkError::BadP256Point),
            (p_bytes.as_str(), EC_Y, JwkError::BadP256Point),
            (EC_X, "", JwkError::BadMember("y")),
            (&EC_X[..42], EC_Y, JwkError::BadMember("x")),
        ] {
            assert_eq!(PublicJwk::from_json(&ec(x, y)), Err(err), "{x} {y}");
        }
        let padded = format!("{EC_X}=");
        assert_eq!(
            PublicJwk::from_json(&ec(&padded, EC_Y)),
            Err(JwkError::BadMember("x"))
        );
        assert_eq!(
            PublicJwk::from_json(&json!({"kty":"EC","crv":"P-256","x":EC_X})),
            Err(JwkError::BadMember("y"))
        );
    }
}
