//! PKCE with `S256` only (RFC 7636; `api.md` 9.5, `security.md` §5).

use sha2::{Digest, Sha256};

use crate::crypto::mac::ct_eq;
use crate::jose::b64;

/// A challenge is `BASE64URL(SHA-256(…))`: 32 bytes, 43 unpadded characters.
pub const CHALLENGE_LEN: usize = 43;
/// RFC 7636 §4.1 verifier length bounds.
pub const VERIFIER_MIN_LEN: usize = 43;
pub const VERIFIER_MAX_LEN: usize = 128;

fn is_base64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `code_challenge` at authorize (K1): exactly 43 characters of the base64url alphabet. Trailing
/// bits are not checked: a challenge that no SHA-256 output can produce simply never verifies.
pub fn is_valid_challenge(c: &str) -> bool {
    c.len() == CHALLENGE_LEN && c.bytes().all(is_base64url_char)
}

/// `code_verifier` at the token endpoint (K3): 43..128 characters of `[A-Za-z0-9-._~]`.
pub fn is_valid_verifier(v: &str) -> bool {
    (VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA-256(ASCII(verifier)))`.
pub fn challenge_for(verifier: &str) -> String {
    b64::encode(&Sha256::digest(verifier.as_bytes()))
}

/// S256 check (K3): the verifier is well-formed and its challenge equals the stored one,
/// compared in constant time. There is no `plain` method, so a verifier equal to the challenge
/// fails like any other wrong verifier.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && is_valid_challenge(challenge)
        && ct_eq(challenge_for(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // vectors.md 2.3 (RFC 7636 Appendix B)
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    // vectors.md 5.11 (v1-style verifier: b64url of bytes a0..bf)
    const V1_VERIFIER: &str = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8";
    const V1_CHALLENGE: &str = "Y9-Bupk9c7XztXcbq62n63XxVzBU7ZldomREHi5_u2s";

    #[test]
    fn vectors_verify() {
        assert_eq!(challenge_for(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verify(RFC_VERIFIER, RFC_CHALLENGE));
        let bytes: Vec<u8> = (0xa0..=0xbf).collect();
        assert_eq!(b64::encode(&bytes), V1_VERIFIER);
        assert_eq!(challenge_for(V1_VERIFIER), V1_CHALLENGE);
        assert!(verify(V1_VERIFIER, V1_CHALLENGE));
    }

    #[test]
    fn wrong_verifier_or_challenge_fails() {
        // T28
        assert!(!verify(V1_VERIFIER, RFC_CHALLENGE));
        assert!(!verify(RFC_VERIFIER, V1_CHALLENGE));
        // `plain`-style: verifier equal to the challenge.
        assert!(!verify(RFC_CHALLENGE, RFC_CHALLENGE));
        assert!(!verify(V1_CHALLENGE, V1_CHALLENGE));
        // Challenge of the wrong shape never verifies, even if it is a prefix.
        assert!(!verify(RFC_VERIFIER, &RFC_CHALLENGE[..42]));
        assert!(!verify(RFC_VERIFIER, &format!("{RFC_CHALLENGE}=")));
        assert!(!verify(RFC_VERIFIER, ""));
    }

    #[test]
    fn verifier_shape() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(is_valid_verifier(
            "0123456789-._~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        ));
        assert!(!is_valid_verifier(&"a".repeat(42))); // T29
        assert!(!is_valid_verifier(&"a".repeat(129))); // T30
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(42)))); // T31
        assert!(!is_valid_verifier("")); // T32
        for bad in ['/', '=', ' ', '%', '\n', 'é'] {
            let v = format!("{}{bad}", "a".repeat(44));
            assert!(!is_valid_verifier(&v), "{bad:?}");
        }
        // Too short by characters even when multi-byte characters reach 43 bytes.
        assert!(!is_valid_verifier(&"é".repeat(22)));
        // A valid-looking but too short verifier fails verification too.
        let short = "a".repeat(42);
        assert!(!verify(&short, &challenge_for(&short)));
        let long = "a".repeat(129);
        assert!(!verify(&long, &challenge_for(&long)));
    }

    #[test]
    fn challenge_shape() {
        assert!(is_valid_challenge(RFC_CHALLENGE));
        assert!(is_valid_challenge(V1_CHALLENGE));
        assert!(!is_valid_challenge(&RFC_CHALLENGE[..42])); // Z13
        assert!(!is_valid_challenge(&format!("{RFC_CHALLENGE}A")));
        assert!(!is_valid_challenge("")); // Z14
        assert!(!is_valid_challenge(&"+".repeat(43)));
        assert!(!is_valid_challenge(&format!("{}=", &RFC_CHALLENGE[..42])));
        assert!(!is_valid_challenge(&format!("{}.", &RFC_CHALLENGE[..42])));
        assert!(!is_valid_challenge(&format!("{}~", &RFC_CHALLENGE[..42])));
    }
}
