//! Ed25519 public keys as the service accepts them (`api.md` 9.1): tolerant base64 on input,
//! canonical point encoding, no small-order points, strict verification.

use std::fmt;

use ed25519_dalek::VerifyingKey;

use super::verify::strict::y_at_least_p;
use super::{b64, jwk, verify};

/// A validated Ed25519 public key: canonical encoding, on the curve, not of small order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    bytes: [u8; 32],
    /// The decompressed point, kept so that native verification does not decompress it again
    /// (the wasm build verifies through WebCrypto, which takes the bytes).
    #[cfg(not(target_arch = "wasm32"))]
    key: VerifyingKey,
}

/// Why a submitted Ed25519 public key was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not base64/base64url as accepted by `b64::decode_lenient`.
    Encoding,
    /// Decodes to something other than 32 bytes.
    Length,
    /// The bytes do not decompress to a curve point.
    NotOnCurve,
    /// A non-canonical encoding of a point (y ≥ p, or x = 0 with the sign bit set).
    NonCanonical,
    /// A point of small order (order divides 8): signatures by it prove nothing.
    SmallOrder,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::Encoding => "public key is not valid base64url",
            KeyError::Length => "public key must be 32 bytes",
            KeyError::NotOnCurve => "public key is not a valid Ed25519 point",
            KeyError::NonCanonical => "public key is not canonically encoded",
            KeyError::SmallOrder => "public key is a small-order point",
        })
    }
}

impl std::error::Error for KeyError {}

impl Ed25519PublicKey {
    /// Parses a key from an API field or `jwk.x`: tolerant base64 (padding, standard alphabet),
    /// then the point checks of [`Self::from_bytes`].
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = b64::decode_lenient(s).ok_or(KeyError::Encoding)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length)?;
        Self::from_bytes(&bytes)
    }

    /// Validates raw key bytes. `VerifyingKey::from_bytes` accepts non-canonical encodings (it keeps
    /// the submitted bytes), and two encodings of one key would give two "different" keys and
    /// thumbprints. A non-canonical encoding has `y ≥ p` — checked on the bytes, which is far
    /// cheaper than re-compressing the point — or `x = 0` with the sign bit set, whose points
    /// (`y = ±1`) are small-order and rejected below.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        if y_at_least_p(bytes) {
            return Err(KeyError::NonCanonical);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
        if key.is_weak() {
            return Err(KeyError::SmallOrder);
        }
        Ok(Self {
            bytes: *bytes,
            #[cfg(not(target_arch = "wasm32"))]
            key,
        })
    }

    /// The decompressed point, for the native verifier.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 32 canonical key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The stored, compared and returned form: unpadded base64url.
    pub fn canonical(&self) -> String {
        b64::encode(&self.bytes)
    }

    /// RFC 7638 thumbprint of the OKP JWK with the canonical `x` (`api.md` 9.7).
    pub fn thumbprint(&self) -> String {
        let x = self.canonical();
        jwk::thumbprint_of(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &x)])
    }

    /// Strict Ed25519 verification (rejects small-order `R` and non-canonical `S`); `false` unless
    /// `sig` is exactly 64 bytes. Through [`verify::ed25519`]: Rust natively, WebCrypto in wasm.
    pub async fn verify_strict(&self, msg: &[u8], sig: &[u8]) -> bool {
        verify::ed25519(self, msg, sig).await
    }
}

/// A key already decompressed (the server's own, derived from its seed): the byte checks of
/// [`Ed25519PublicKey::from_bytes`] without decompressing again.
impl TryFrom<&VerifyingKey> for Ed25519PublicKey {
    type Error = KeyError;

    fn try_from(key: &VerifyingKey) -> Result<Self, KeyError> {
        if y_at_least_p(key.as_bytes()) {
            return Err(KeyError::NonCanonical);
        }
        if key.is_weak() {
            return Err(KeyError::SmallOrder);
        }
        Ok(Self {
            bytes: key.to_bytes(),
            #[cfg(not(target_arch = "wasm32"))]
            key: *key,
        })
    }
}

/// Parses a challenge `signature` field: tolerant base64, exactly 64 bytes.
pub fn parse_signature(s: &str) -> Option<[u8; 64]> {
    b64::decode_lenient(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// The verifier is async for the wasm build; natively it is ready at once.
    fn verify_strict(key: &Ed25519PublicKey, msg: &[u8], sig: &[u8]) -> bool {
        futures::executor::block_on(key.verify_strict(msg, sig))
    }

    pub(crate) const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn signing_key(seed_b64: &str) -> SigningKey {
        let seed: [u8; 32] = b64::decode_strict(seed_b64).unwrap().try_into().unwrap();
        SigningKey::from_bytes(&seed)
    }

    #[test]
    fn vector_keys_match_their_seeds_and_thumbprints() {
        // vectors.md §1
        let keys = [
            (
                "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
                KA,
                "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
            ),
            (
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
                "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y",
            ),
            (
                "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
                "Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc",
                "AkXIZFzonb59ZmGwyKgi3H3BwMi6amevqdKQiLZhdtc",
            ),
            (
                "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8",
                "JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0",
                "WeVHjIQTOLKu-P74oC-WL-MNn_sLM5CvrzuMjDFC3-s",
            ),
        ];
        for (seed, x, thumbprint) in keys {
            let sk = signing_key(seed);
            let key = Ed25519PublicKey::parse(x).unwrap();
            assert_eq!(key.as_bytes(), sk.verifying_key().as_bytes());
            assert_eq!(key.canonical(), x);
            assert_eq!(key.thumbprint(), thumbprint);
            assert_eq!(Ed25519PublicKey::from_bytes(key.as_bytes()), Ok(key));
        }
    }

    #[test]
    fn rejects_small_order_points() {
        // vectors.md §4, first table
        for x in [
            "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "7P_______________________________________38",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA",
            "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o",
            "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA_o",
            "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU",
            "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_IU",
        ] {
            assert_eq!(Ed25519PublicKey::parse(x), Err(KeyError::SmallOrder), "{x}");
        }
    }

    #[test]
    fn rejects_non_canonical_encodings_and_non_points() {
        // vectors.md §4, second table
        for (x, err) in [
            (
                "7f_______________________________________38",
                KeyError::NonCanonical,
            ),
            (
                "7v_______________________________________38",
                KeyError::NonCanonical,
            ),
            // "Negative zero": x = 0 with the sign bit set. Its point (y = 1) is the identity,
            // so the small-order check refuses it.
            (
                "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA",
                KeyError::SmallOrder,
            ),
            (
                "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                KeyError::NotOnCurve,
            ),
        ] {
            assert_eq!(Ed25519PublicKey::parse(x), Err(err), "{x}");
        }
    }

    #[test]
    fn encoding_variants_of_ka() {
        // vectors.md §4, third table; bad inputs R12–R14, R19–R22
        for ok in [
            KA,
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        ] {
            assert_eq!(Ed25519PublicKey::parse(ok).unwrap().canonical(), KA, "{ok}");
        }
        for (bad, err) in [
            (
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp",
                KeyError::Encoding,
            ),
            (
                "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR-",
                KeyError::Encoding,
            ),
            ("not base64!", KeyError::Encoding),
            (
                " 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                KeyError::Encoding,
            ),
            (
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo==",
                KeyError::Encoding,
            ),
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                KeyError::Length,
            ),
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                KeyError::Length,
            ),
            ("", KeyError::Length),
        ] {
            assert_eq!(Ed25519PublicKey::parse(bad), Err(err), "{bad}");
        }
    }

    #[test]
    fn verify_strict_accepts_valid_and_rejects_tampering() {
        let sk = signing_key("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
        let key = Ed25519PublicKey::parse(KA).unwrap();
        let sig = sk.sign(b"hello").to_bytes();
        assert!(verify_strict(&key, b"hello", &sig));
        assert!(!verify_strict(&key, b"hellp", &sig));
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!verify_strict(&key, b"hello", &flipped));
        assert!(!verify_strict(&key, b"hello", &sig[..63]));
        assert!(!verify_strict(
            &key,
            b"hello",
            &[sig.as_slice(), &[0]].concat()
        ));
        // Non-canonical S (S + L) must be rejected even though it satisfies the group equation.
        let mut s_plus_l = sig;
        add_group_order(&mut s_plus_l[32..]);
        assert!(!verify_strict(&key, b"hello", &s_plus_l));
        // Another key's signature.
        let other = Ed25519PublicKey::parse("Kay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc").unwrap();
        assert!(!verify_strict(&other, b"hello", &sig));
    }

    /// Adds the Ed25519 group order L to a little-endian 32-byte scalar.
    fn add_group_order(s: &mut [u8]) {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, l) in s.iter_mut().zip(L) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
    }

    #[test]
    fn challenge_signature_vectors() {
        // vectors.md §5.1 (registration, KA) and §5.2 (rotation, KN)
        let cases = [
            (
                KA,
                r#"{"action":"register","aud":"https://id.example.com","challenge_id":"3b0f6a3c-8f0e-4d1b-9a77-1e2d3c4b5a69","expires_at":"2026-01-01T00:05:00.000Z","nonce":"YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
                "aEuzMaD6vxbnngnASYWpVntPJa4nrqdSw2IvUAqkqJ0wWCF99QLR4mJnDH-C-cXG7-OGmw38UrLxJIoUbv7VBA",
            ),
            (
                "JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0",
                r#"{"action":"rotate_key","agent_id":"6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f","aud":"https://id.example.com","challenge_id":"9d2e4f60-1a2b-4c3d-8e9f-a0b1c2d3e4f5","expires_at":"2026-01-01T00:05:00.000Z","new_public_key":"JUO5L_EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0","nonce":"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8"}"#,
                "fsJ-LY5Ys-3ZMnYz07kZS_QpXBj49hJWwSfrrgUriaLQ49R-As-IlyKzO7BR-0sehJuXh50S5wA6MkoTh96IBg",
            ),
        ];
        for (x, data, sig) in cases {
            let key = Ed25519PublicKey::parse(x).unwrap();
            let sig = parse_signature(sig).unwrap();
            assert!(verify_strict(&key, data.as_bytes(), &sig));
            // R28: re-serialised with a space no longer verifies.
            let spaced = data.replacen(",", ", ", 1);
            assert!(!verify_strict(&key, spaced.as_bytes(), &sig));
        }
    }

    #[test]
    fn parse_signature_is_tolerant_but_exact_length() {
        let sig = "aEuzMaD6vxbnngnASYWpVntPJa4nrqdSw2IvUAqkqJ0wWCF99QLR4mJnDH-C-cXG7-OGmw38UrLxJIoUbv7VBA";
        let bytes = parse_signature(sig).unwrap();
        assert_eq!(parse_signature(&format!("{sig}==")), Some(bytes));
        let standard = sig.replace('-', "+").replace('_', "/");
        assert_eq!(parse_signature(&standard), Some(bytes));
        // R27: 63 bytes; also 65 bytes.
        assert_eq!(parse_signature(&b64::encode(&[7u8; 63])), None);
        assert_eq!(parse_signature(&b64::encode(&[7u8; 65])), None);
        assert_eq!(parse_signature("not base64!"), None);
    }
}
