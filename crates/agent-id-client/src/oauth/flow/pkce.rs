//! PKCE (RFC 7636) with the S256 method only: `plain` gives no protection against a code
//! intercepted together with its challenge, and OAuth 2.1 / MCP require S256.

use agent_id_protocol::b64;
use sha2::{Digest, Sha256};

/// A code verifier and its S256 challenge. The verifier never leaves the process except in the
/// token request.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// A verifier from 32 fresh random bytes: 43 base64url characters, 256 bits of entropy
    /// (RFC 7636 §4.1 recommends exactly this).
    pub fn generate() -> Result<Self, crate::LocalError> {
        let mut bytes = [0u8; 32];
        crate::random::fill(&mut bytes)?;
        Ok(Self::from_verifier(b64::encode(&bytes)))
    }

    /// The pair for a given verifier (used by tests with RFC 7636's Appendix B vector).
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = b64::encode(&Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// Always `S256`.
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

/// A fresh random `state` value (128 bits, base64url) to bind the authorization response.
pub fn random_state() -> Result<String, crate::LocalError> {
    let mut bytes = [0u8; 16];
    crate::random::fill(&mut bytes)?;
    Ok(b64::encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(p.method(), "S256");
    }

    #[test]
    fn generated_verifiers_are_fresh_and_well_formed() {
        let a = Pkce::generate().unwrap();
        let b = Pkce::generate().unwrap();
        assert_ne!(a.verifier(), b.verifier());
        assert_eq!(a.verifier().len(), 43);
        assert!(a
            .verifier()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(Pkce::from_verifier(a.verifier().into()), a);
        assert!(!format!("{a:?}").contains(a.verifier()));
        assert_ne!(random_state().unwrap(), random_state().unwrap());
    }
}
