//! An agent's Ed25519 key: generated from the OS generator, serialised as a private JWK
//! (RFC 8037: `{"kty":"OKP","crv":"Ed25519","x":…,"d":…}`), wiped from memory when dropped, and
//! never printed: `Debug` shows the public key only.

use std::fmt;

use agent_id_protocol::b64;
use agent_id_protocol::dpop::ProofSigner;
use agent_id_protocol::ed25519::Ed25519PublicKey;
use agent_id_protocol::json;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::LocalError;
use crate::random;

/// An agent's Ed25519 signing key. The secret is zeroised on drop (`ed25519-dalek`'s
/// `ZeroizeOnDrop`); it leaves this type only through [`AgentKey::to_private_jwk`], whose text is
/// itself wiped on drop.
pub struct AgentKey {
    signing: SigningKey,
    public: Ed25519PublicKey,
}

/// Why a key text was refused. The reasons never quote the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormatError {
    /// Not a JSON object, or a duplicate member.
    NotJson,
    /// `kty`/`crv` are not `OKP`/`Ed25519`.
    NotEd25519,
    /// `d` missing, not base64url, or not 32 bytes.
    BadSecret,
    /// `x` missing or differs from the public key of `d`: the file was altered.
    PublicKeyMismatch,
}

impl KeyFormatError {
    pub fn reason(self) -> &'static str {
        match self {
            KeyFormatError::NotJson => "not a JSON object (garbled?)",
            KeyFormatError::NotEd25519 => "not an Ed25519 key (kty OKP, crv Ed25519)",
            KeyFormatError::BadSecret => "the private key `d` is missing or malformed",
            KeyFormatError::PublicKeyMismatch => {
                "the public key `x` does not belong to the private key `d` (tampered?)"
            }
        }
    }
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for KeyFormatError {}

impl AgentKey {
    /// A fresh key from the OS random generator.
    pub fn generate() -> Result<Self, LocalError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        random::fill(seed.as_mut())?;
        Ok(Self::from_seed(&seed))
    }

    /// The key of a 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let public = public_of(&signing);
        Self { signing, public }
    }

    /// The validated public key.
    pub fn public_key(&self) -> &Ed25519PublicKey {
        &self.public
    }

    /// The public key as the API takes it: unpadded base64url of the 32 bytes.
    pub fn public_b64(&self) -> String {
        self.public.canonical()
    }

    /// RFC 7638 thumbprint of the public JWK (what `dpop_jkt` and `cnf.jkt` carry).
    pub fn thumbprint(&self) -> String {
        self.public.thumbprint()
    }

    /// An Ed25519 signature over `msg`, unpadded base64url (challenge `signature` fields).
    pub fn sign_b64(&self, msg: &[u8]) -> String {
        b64::encode(&self.signing.sign(msg).to_bytes())
    }

    /// The underlying signing key, for the JWS builders of the protocol crate.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// This key as a DPoP proof signer.
    pub fn proof_signer(&self) -> ProofSigner<'_> {
        ProofSigner::Ed25519(&self.signing)
    }

    /// The private JWK text (what a key file holds); wiped when the returned value is dropped.
    pub fn to_private_jwk(&self) -> Zeroizing<String> {
        let d = Zeroizing::new(b64::encode(self.signing.as_bytes()));
        // Sized up front so that the secret is never left behind in a reallocated buffer.
        let mut text = Zeroizing::new(String::with_capacity(192));
        for part in [
            r#"{"kty":"OKP","crv":"Ed25519","x":""#,
            &self.public_b64(),
            r#"","d":""#,
            &d,
            "\"}\n",
        ] {
            text.push_str(part);
        }
        debug_assert!(text.capacity() == 192, "the key text outgrew its buffer");
        text
    }

    /// Reads a private JWK text written by [`AgentKey::to_private_jwk`] (or any RFC 8037 Ed25519
    /// private JWK). `x` must be present and match `d`, so an edited file is refused rather than
    /// used as some other key.
    pub fn from_private_jwk(text: &[u8]) -> Result<Self, KeyFormatError> {
        let obj = json::parse_object(text).map_err(|_| KeyFormatError::NotJson)?;
        let member = |k: &str| obj.get(k).and_then(Value::as_str);
        if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
            return Err(KeyFormatError::NotEd25519);
        }
        let d = Zeroizing::new(
            member("d")
                .and_then(b64::decode_strict)
                .ok_or(KeyFormatError::BadSecret)?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            d.as_slice()
                .try_into()
                .map_err(|_| KeyFormatError::BadSecret)?,
        );
        let key = Self::from_seed(&seed);
        match member("x") {
            Some(x) if x == key.public_b64() => Ok(key),
            _ => Err(KeyFormatError::PublicKeyMismatch),
        }
    }
}

/// An Ed25519 public key derived from a secret is always a valid, canonical, prime-order point
/// (it is a multiple of the base point), so the protocol crate's checks cannot refuse it.
fn public_of(signing: &SigningKey) -> Ed25519PublicKey {
    Ed25519PublicKey::from_bytes(signing.verifying_key().as_bytes())
        .expect("a derived Ed25519 public key is canonical and of prime order")
}

/// Only the public half: a key must never reach a log through `{:?}`.
impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKey")
            .field("public_key", &self.public_b64())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1 (vectors.md §1, KA).
    const KA_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const KA_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn ka() -> AgentKey {
        AgentKey::from_seed(&b64::decode_strict(KA_SEED).unwrap().try_into().unwrap())
    }

    #[test]
    fn rfc8037_key_and_thumbprint() {
        let k = ka();
        assert_eq!(k.public_b64(), KA);
        assert_eq!(k.thumbprint(), KA_THUMBPRINT);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = ka();
        let seed = b64::decode_strict(KA_SEED).unwrap();
        let shown = format!("{k:?} {k:#?}");
        assert!(shown.contains(KA), "{shown}");
        assert!(!shown.contains(KA_SEED), "{shown}");
        // Not in any other common rendering of the 32 secret bytes either.
        assert!(!shown.contains(&agent_id_protocol::hex::encode(&seed)));
        assert!(!shown.contains(&format!("{:?}", seed.as_slice())));
        assert!(!shown.contains(&format!("{:?}", &seed[..8])[1..20]));
    }

    #[test]
    fn private_jwk_round_trips() {
        let k = AgentKey::generate().unwrap();
        let text = k.to_private_jwk();
        let back = AgentKey::from_private_jwk(text.as_bytes()).unwrap();
        assert_eq!(back.public_b64(), k.public_b64());
        assert_eq!(back.sign_b64(b"m"), k.sign_b64(b"m"));
    }

    #[test]
    fn altered_or_garbled_key_texts_are_refused() {
        let other = AgentKey::generate().unwrap().public_b64();
        let cases: [(&[u8], KeyFormatError); 7] = [
            (b"", KeyFormatError::NotJson),
            (b"\x00\x01garbage", KeyFormatError::NotJson),
            (
                br#"{"kty":"EC","crv":"P-256","x":"a","d":"b"}"#,
                KeyFormatError::NotEd25519,
            ),
            (
                br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
                KeyFormatError::BadSecret,
            ),
            (
                br#"{"kty":"OKP","crv":"Ed25519","d":"AAAA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
                KeyFormatError::BadSecret,
            ),
            (
                br#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
                KeyFormatError::PublicKeyMismatch,
            ),
            (
                br#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
                KeyFormatError::NotJson,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                AgentKey::from_private_jwk(text).map(|_| ()),
                Err(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let swapped = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{other}","d":"{KA_SEED}"}}"#);
        assert_eq!(
            AgentKey::from_private_jwk(swapped.as_bytes()).map(|_| ()),
            Err(KeyFormatError::PublicKeyMismatch)
        );
        // And the good one, for contrast.
        let good = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{KA}","d":"{KA_SEED}"}}"#);
        assert_eq!(
            AgentKey::from_private_jwk(good.as_bytes())
                .unwrap()
                .public_b64(),
            KA
        );
    }
}
