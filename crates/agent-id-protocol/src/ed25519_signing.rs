//! The server's Ed25519 signing key, held as its RFC 8032 seed.
//!
//! Natively ed25519-dalek derives the public key and signs. The wasm build asks the runtime's
//! WebCrypto for both (the seed imported as PKCS#8, the public key read once from the key's
//! JWK export), which keeps SHA-512 and the base-point multiplication out of the Worker's
//! bundle, as verification already is. Ed25519 signatures are deterministic, so both builds
//! produce the same bytes (the access-token vector is reproduced by either).

use std::fmt;

use zeroize::Zeroizing;

use crate::ed25519::Ed25519PublicKey;
use crate::es256::SignError;

/// An Ed25519 private key. `Debug` never shows the seed.
#[derive(Clone)]
pub struct Ed25519SigningKey {
    seed: Zeroizing<[u8; 32]>,
    derived: backend::Derived,
}

impl fmt::Debug for Ed25519SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519SigningKey(<redacted>)")
    }
}

impl Ed25519SigningKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            seed: Zeroizing::new(*seed),
            derived: backend::Derived::new(seed),
        }
    }

    /// The 32-byte seed.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key (derived on first use in wasm, then kept).
    pub async fn public_key(&self) -> Result<Ed25519PublicKey, SignError> {
        backend::public_key(self).await
    }

    /// The 64-byte signature of `msg`.
    pub async fn sign(&self, msg: &[u8]) -> Result<[u8; 64], SignError> {
        backend::sign(self, msg).await
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use ed25519_dalek::{Signer, SigningKey};

    use super::{Ed25519PublicKey, Ed25519SigningKey, SignError};

    #[derive(Clone)]
    pub(super) struct Derived(SigningKey);

    impl Derived {
        pub(super) fn new(seed: &[u8; 32]) -> Self {
            Self(SigningKey::from_bytes(seed))
        }
    }

    pub(super) async fn public_key(key: &Ed25519SigningKey) -> Result<Ed25519PublicKey, SignError> {
        Ed25519PublicKey::try_from(&key.derived.0.verifying_key()).map_err(|_| SignError)
    }

    pub(super) async fn sign(key: &Ed25519SigningKey, msg: &[u8]) -> Result<[u8; 64], SignError> {
        Ok(key.derived.0.sign(msg).to_bytes())
    }
}

#[cfg(target_arch = "wasm32")]
mod backend {
    use std::cell::OnceCell;

    use js_sys::{Reflect, Uint8Array};
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;
    use zeroize::Zeroizing;

    use super::{Ed25519PublicKey, Ed25519SigningKey, SignError};
    use crate::b64;
    use crate::webcrypto::{self, usages};

    /// RFC 8410 §7: the PKCS#8 `PrivateKeyInfo` of an Ed25519 seed is this prefix and the seed.
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    /// The imported `CryptoKey` and its public key, once the first use has made them.
    #[derive(Clone)]
    pub(super) struct Derived(OnceCell<(JsValue, Ed25519PublicKey)>);

    impl Derived {
        pub(super) fn new(_: &[u8; 32]) -> Self {
            Self(OnceCell::new())
        }
    }

    async fn derived(key: &Ed25519SigningKey) -> Result<&(JsValue, Ed25519PublicKey), SignError> {
        if let Some(d) = key.derived.0.get() {
            return Ok(d);
        }
        let mut der = Zeroizing::new([0u8; 48]);
        der[..16].copy_from_slice(&PKCS8_PREFIX);
        der[16..].copy_from_slice(key.seed());
        let alg = JsValue::from_str("Ed25519");
        let imported = webcrypto::import_key("pkcs8", &der[..], &alg, true, &usages("sign"))
            .map_err(|_| SignError)?;
        let crypto_key = JsFuture::from(imported).await.map_err(|_| SignError)?;
        let exported = webcrypto::export_key("jwk", &crypto_key).map_err(|_| SignError)?;
        let jwk = JsFuture::from(exported).await.map_err(|_| SignError)?;
        let x = Reflect::get(&jwk, &JsValue::from_str("x"))
            .ok()
            .and_then(|x| x.as_string())
            .ok_or(SignError)?;
        let bytes: [u8; 32] = b64::decode_strict(&x)
            .and_then(|b| b.try_into().ok())
            .ok_or(SignError)?;
        let public = Ed25519PublicKey::from_bytes(&bytes).map_err(|_| SignError)?;
        // Two first uses racing in one isolate derive the same pair; the first one kept wins.
        Ok(key.derived.0.get_or_init(|| (crypto_key, public)))
    }

    pub(super) async fn public_key(key: &Ed25519SigningKey) -> Result<Ed25519PublicKey, SignError> {
        Ok(derived(key).await?.1.clone())
    }

    pub(super) async fn sign(key: &Ed25519SigningKey, msg: &[u8]) -> Result<[u8; 64], SignError> {
        let (crypto_key, _) = derived(key).await?;
        let alg = JsValue::from_str("Ed25519");
        let signed = webcrypto::sign(&alg, crypto_key, msg).map_err(|_| SignError)?;
        let signed = JsFuture::from(signed).await.map_err(|_| SignError)?;
        <[u8; 64]>::try_from(Uint8Array::new(&signed).to_vec().as_slice()).map_err(|_| SignError)
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn the_seed_gives_the_rfc8032_key_and_deterministic_signatures() {
        // RFC 8032 §7.1 TEST 1.
        let hex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let seed: [u8; 32] =
            core::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap());
        let key = Ed25519SigningKey::from_seed(&seed);
        let public = block_on(key.public_key()).unwrap();
        assert_eq!(
            crate::hex::encode(public.as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = block_on(key.sign(b"")).unwrap();
        assert_eq!(
            crate::hex::encode(&sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(block_on(public.verify_strict(b"", &sig)));
        assert_eq!(key.seed(), &seed);
        assert_eq!(format!("{key:?}"), "Ed25519SigningKey(<redacted>)");
    }
}
