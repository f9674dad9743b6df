//! Identifiers: UUIDs (v4 issued, any accepted case-insensitively) and opaque tokens.

use sha2::{Digest, Sha256};

use crate::clock::{Entropy, RandomError};
use crate::crypto::hex;
use crate::jose::b64;

/// Parses a UUID in canonical `8-4-4-4-12` text (any case) and returns it lowercased.
/// Anything else — braces, URNs, missing hyphens — is not an id of this service.
pub fn canonical_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let hyphen = matches!(i, 8 | 13 | 18 | 23);
        if hyphen != (*c == b'-') || (!hyphen && !c.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

/// Formats 16 bytes as lowercase UUID text.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A fresh random UUID version 4.
pub fn uuid_v4(rng: &dyn Entropy) -> Result<String, RandomError> {
    let mut u = [0u8; 16];
    rng.fill(&mut u)?;
    u[6] = (u[6] & 0x0F) | 0x40;
    u[8] = (u[8] & 0x3F) | 0x80;
    Ok(format_uuid(&u))
}

/// 32 random bytes as unpadded base64url (43 characters): session ids, codes, refresh tokens.
pub fn opaque_token(rng: &dyn Entropy) -> Result<String, RandomError> {
    let mut b = [0u8; 32];
    rng.fill(&mut b)?;
    Ok(b64::encode(&b))
}

/// `hex(SHA-256(UTF-8(value)))`: the only form in which secrets are stored (api.md 9.8).
pub fn sha256_hex(value: &str) -> String {
    hex::encode(&Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsEntropy;

    #[test]
    fn uuid_parsing_is_strict_and_lowercases() {
        assert_eq!(
            canonical_uuid("6F1C2B9E-3D4A-4C5B-8E7F-0A1B2C3D4E5F").as_deref(),
            Some("6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f")
        );
        for bad in [
            "not-a-uuid",
            "123",
            "6f1c2b9e3d4a4c5b8e7f0a1b2c3d4e5f",
            "{6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f}",
            "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5g",
            "",
        ] {
            assert_eq!(canonical_uuid(bad), None, "{bad}");
        }
    }

    #[test]
    fn v4_has_version_and_variant() {
        let id = uuid_v4(&OsEntropy).unwrap();
        assert_eq!(canonical_uuid(&id).as_deref(), Some(id.as_str()));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, uuid_v4(&OsEntropy).unwrap());
    }

    #[test]
    fn stored_hash_vectors() {
        // vectors.md 5.10
        assert_eq!(
            sha256_hex("0NHS09TV1tfY2drb3N3e3-Dh4uPk5ebn6Onq6-zt7u8"),
            "096f7baf0dc590b0c4962637aaf656c0457c5e7bbe4aef1c7dfa62417146da95"
        );
        assert_eq!(
            sha256_hex("4OHi4-Tl5ufo6err7O3u7_Dx8vP09fb3-Pn6-_z9_v8"),
            "d90bad97384181273203dd0f8cc30e16a817bef7a51b026eb6bf0a7fcba3312a"
        );
        assert_eq!(opaque_token(&OsEntropy).unwrap().len(), 43);
    }
}
