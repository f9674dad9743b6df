//! The one-time tokens of e-mailed links (verification, password reset, e-mail change):
//! 32 random bytes as unpadded base64url (256 bits), stored only as their SHA-256.

use crate::clock::{Entropy, RandomError};
use crate::domain::ids::{opaque_token, sha256_hex};

/// How long a verification link works: a day, long enough to find the mail the next morning.
pub const VERIFICATION_TTL_MS: i64 = 24 * 3_600_000;
/// How long a password-reset link works (issue 12: 30 minutes).
pub const RESET_TTL_MS: i64 = 30 * 60_000;

/// A new token: the value for the link and the hash for the database.
pub struct EmailToken {
    pub value: String,
    pub hash: String,
}

impl EmailToken {
    pub fn new(rng: &dyn Entropy) -> Result<Self, RandomError> {
        let value = opaque_token(rng)?;
        let hash = sha256_hex(&value);
        Ok(Self { value, hash })
    }
}

/// The hash of a token as received, if it has the shape of one (43 base64url characters);
/// anything else cannot be a token and is refused without a lookup.
pub fn hash_of(raw: &str) -> Option<String> {
    let shaped = raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| sha256_hex(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    #[test]
    fn tokens_have_256_bits_and_hash_like_they_are_checked() {
        let t = EmailToken::new(&OsEntropy).unwrap();
        assert_eq!(t.value.len(), 43);
        assert_eq!(hash_of(&t.value), Some(t.hash));
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}=", &"A".repeat(42)),
            &"é".repeat(21),
        ] {
            assert_eq!(hash_of(bad), None, "{bad}");
        }
    }
}
