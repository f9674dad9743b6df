//! Overseer passwords: bcrypt (`$2b$`) at the configured cost with a salt from the App's
//! CSPRNG. An unknown e-mail still costs one bcrypt computation, so timing does not reveal
//! which addresses have accounts (security.md §11).

use crate::clock::Entropy;
use crate::http::ApiError;

/// Hashes a validated password (8..=72 bytes, no NUL).
pub fn hash(rng: &dyn Entropy, password: &str, cost: u32) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    bcrypt::hash_with_salt(password.as_bytes(), cost, salt)
        .map(|parts| parts.format_for_version(bcrypt::Version::TwoB))
        .map_err(ApiError::internal)
}

/// Whether `password` matches `stored`; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    bcrypt::verify(password.as_bytes(), stored).unwrap_or(false)
}

/// Spends the same work as [`verify`] for a login whose e-mail is unknown.
pub fn verify_nothing(password: &str, cost: u32) {
    const FIXED_SALT: [u8; 16] = *b"agent-id/no-user";
    let _ = bcrypt::hash_with_salt(password.as_bytes(), cost, FIXED_SALT);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    #[test]
    fn hashes_verify_and_use_fresh_salts() {
        let a = hash(&OsEntropy, "correct horse", 4).unwrap();
        let b = hash(&OsEntropy, "correct horse", 4).unwrap();
        assert!(a.starts_with("$2b$04$") && a.len() == 60);
        assert_ne!(a, b);
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsf", &a));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn interoperates_with_a_published_hash() {
        // OpenBSD bcrypt test vector ("U*U", cost 5) in $2b$ form.
        assert!(verify(
            "U*U",
            "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        ));
    }
}
