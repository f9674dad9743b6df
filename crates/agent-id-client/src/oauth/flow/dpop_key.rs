//! Which key signs the DPoP proofs of a token. The agent's Ed25519 identity key (`EdDSA`) when the
//! authorization server accepts it (it lists `EdDSA`, or lists nothing); otherwise, when it lists
//! `ES256`, a P-256 key kept for this purpose next to the agent's key — an authorization server
//! may refuse proofs in an algorithm it did not advertise (RFC 9449 §5.1). The algorithm is kept
//! with each token, because the resource must see proofs by the key the token is bound to.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::FlowError;
use agent_id_protocol::b64;

/// The proof algorithm a token is bound with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DpopAlg {
    /// The agent's identity key.
    #[default]
    EdDSA,
    /// The agent's P-256 DPoP key.
    ES256,
}

impl DpopAlg {
    /// The algorithm to use with a server advertising `supported`
    /// (`dpop_signing_alg_values_supported`); refused when it lists neither.
    pub fn choose(supported: &[String]) -> Result<Self, FlowError> {
        let has = |alg: &str| supported.iter().any(|s| s == alg);
        if supported.is_empty() || has("EdDSA") || has("Ed25519") {
            Ok(Self::EdDSA)
        } else if has("ES256") {
            Ok(Self::ES256)
        } else {
            Err(FlowError::NoCommonDpopAlg(supported.join(", ")))
        }
    }
}

/// The P-256 DPoP key. `Debug` never shows it; the serialised scalar is wiped after use.
pub struct Es256Key(p256::ecdsa::SigningKey);

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Key(<redacted>)")
    }
}

impl Es256Key {
    /// A fresh key from the OS generator (a scalar out of range, odds ~2^-32, is drawn again).
    pub fn generate() -> Result<Self, crate::LocalError> {
        loop {
            let mut d = Zeroizing::new([0u8; 32]);
            crate::random::fill(d.as_mut())?;
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(d.as_ref()) {
                return Ok(Self(key));
            }
        }
    }

    /// The private scalar as unpadded base64url (what the state file holds).
    pub fn to_secret(&self) -> Zeroizing<String> {
        Zeroizing::new(b64::encode(&self.0.to_bytes()))
    }

    /// Reads [`Self::to_secret`]'s form; `None` when it is not a P-256 private scalar.
    pub fn from_secret(s: &str) -> Option<Self> {
        let d = Zeroizing::new(b64::decode_strict(s.trim())?);
        p256::ecdsa::SigningKey::from_slice(&d).ok().map(Self)
    }

    pub fn signing_key(&self) -> &p256::ecdsa::SigningKey {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_eddsa_unless_only_es256_is_offered() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(DpopAlg::choose(&[]).unwrap(), DpopAlg::EdDSA);
        assert_eq!(
            DpopAlg::choose(&v(&["ES256", "EdDSA"])).unwrap(),
            DpopAlg::EdDSA
        );
        assert_eq!(
            DpopAlg::choose(&v(&["ES256", "RS256"])).unwrap(),
            DpopAlg::ES256
        );
        assert!(matches!(
            DpopAlg::choose(&v(&["RS256"])),
            Err(FlowError::NoCommonDpopAlg(_))
        ));
    }

    #[test]
    fn es256_key_round_trips_and_is_redacted() {
        let k = Es256Key::generate().unwrap();
        let back = Es256Key::from_secret(&k.to_secret()).unwrap();
        assert_eq!(back.signing_key(), k.signing_key());
        assert!(!format!("{k:?}").contains(k.to_secret().as_str()));
        assert!(Es256Key::from_secret("not a key").is_none());
        assert!(Es256Key::from_secret(&b64::encode(&[0u8; 32])).is_none());
    }
}
