//! RSA public keys for RS256 (RSASSA-PKCS1-v1_5 with SHA-256), as a client's JWK gives them.
//! Only client assertions of Client ID Metadata Document clients use them; the key is checked
//! here once, so both verification backends receive a sane modulus and exponent.

use std::fmt;

use super::b64;

/// Smallest accepted modulus (NIST SP 800-57: 2,048 bits until 2030).
pub const MIN_BITS: usize = 2048;
/// Largest accepted modulus: WebCrypto's and the `rsa` crate's common ground.
pub const MAX_BITS: usize = 8192;

/// A validated RSA public key: big-endian `n` without leading zeros (2,048..=8,192 bits) and an
/// odd `e` with 3 ≤ e < 2³², kept as received in strict base64url for the JWK import.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
    n_b64: String,
    e_b64: String,
}

/// Why `n`/`e` were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaKeyError {
    /// Not strict base64url, or a leading zero byte.
    Encoding,
    /// The modulus is shorter than 2,048 or longer than 8,192 bits, or even.
    Modulus,
    /// The exponent is even, below 3 or 2³² and above.
    Exponent,
}

impl fmt::Display for RsaKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RsaKeyError::Encoding => {
                "RSA key members must be unpadded base64url without leading zeros"
            }
            RsaKeyError::Modulus => "RSA modulus must be an odd number of 2048 to 8192 bits",
            RsaKeyError::Exponent => "RSA exponent must be odd, at least 3 and below 2^32",
        })
    }
}

impl std::error::Error for RsaKeyError {}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.bits())
    }
}

impl RsaPublicKey {
    /// Validates the JWK members `n` and `e` (RFC 7518 §6.3.1).
    pub fn from_jwk(n: &str, e: &str) -> Result<Self, RsaKeyError> {
        let n_bytes = b64::decode_strict(n).ok_or(RsaKeyError::Encoding)?;
        let e_bytes = b64::decode_strict(e).ok_or(RsaKeyError::Encoding)?;
        if n_bytes.first().is_none_or(|b| *b == 0) || e_bytes.first().is_none_or(|b| *b == 0) {
            return Err(RsaKeyError::Encoding);
        }
        let bits = n_bytes.len() * 8 - n_bytes[0].leading_zeros() as usize;
        if !(MIN_BITS..=MAX_BITS).contains(&bits) || n_bytes.last().is_some_and(|b| b % 2 == 0) {
            return Err(RsaKeyError::Modulus);
        }
        if e_bytes.len() > 4 {
            return Err(RsaKeyError::Exponent);
        }
        let exponent = e_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if exponent < 3 || exponent % 2 == 0 {
            return Err(RsaKeyError::Exponent);
        }
        Ok(Self {
            n: n_bytes,
            e: e_bytes,
            n_b64: n.to_owned(),
            e_b64: e.to_owned(),
        })
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// `n` and `e` as received (strict base64url).
    pub fn jwk_members(&self) -> (&str, &str) {
        (&self.n_b64, &self.e_b64)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.n.len() * 8 - self.n[0].leading_zeros() as usize
    }

    /// A signature's length in bytes: the modulus's.
    pub fn signature_len(&self) -> usize {
        self.n.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulus(bits: usize) -> String {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0x80;
        b64::encode(&n)
    }

    #[test]
    fn accepts_common_keys() {
        let k = RsaPublicKey::from_jwk(&modulus(2048), "AQAB").unwrap();
        assert_eq!(k.bits(), 2048);
        assert_eq!(k.exponent(), &[1, 0, 1]);
        assert_eq!(k.signature_len(), 256);
        assert!(RsaPublicKey::from_jwk(&modulus(4096), "Aw").is_ok());
        assert!(RsaPublicKey::from_jwk(&modulus(8192), "AQAB").is_ok());
    }

    #[test]
    fn refuses_weak_or_malformed_keys() {
        let err = |n: &str, e: &str| RsaPublicKey::from_jwk(n, e).unwrap_err();
        assert_eq!(err(&modulus(1024), "AQAB"), RsaKeyError::Modulus);
        assert_eq!(err(&modulus(2040), "AQAB"), RsaKeyError::Modulus);
        assert_eq!(err(&modulus(8200), "AQAB"), RsaKeyError::Modulus);
        let mut even = vec![0xffu8; 256];
        even[255] = 0xfe;
        assert_eq!(err(&b64::encode(&even), "AQAB"), RsaKeyError::Modulus);
        let mut zero = vec![0u8];
        zero.extend(vec![0xffu8; 256]);
        assert_eq!(err(&b64::encode(&zero), "AQAB"), RsaKeyError::Encoding);
        assert_eq!(err(&modulus(2048), "AQA="), RsaKeyError::Encoding);
        assert_eq!(err("", "AQAB"), RsaKeyError::Encoding);
        assert_eq!(err(&modulus(2048), "AQ"), RsaKeyError::Exponent);
        assert_eq!(err(&modulus(2048), "Ag"), RsaKeyError::Exponent);
        assert_eq!(err(&modulus(2048), "AQAAAAE"), RsaKeyError::Exponent);
    }
}
