//! An ES256 signing key given as a private JWK (`{"kty":"EC","crv":"P-256","x","y","d"}`), the
//! form operators generate with `jose`, Node's `crypto` or WebCrypto's `exportKey("jwk")`.
//!
//! Signing is async for the wasm build, which signs through the runtime's WebCrypto and so keeps
//! P-256 scalar arithmetic out of the Worker's bundle; natively RustCrypto's `p256` signs
//! (RFC 6979 deterministic nonces). Both produce the JWS form of the signature: raw `r‖s`,
//! 64 bytes (RFC 7518 §3.4).

use std::fmt;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::b64;
use crate::jwk::{JwkError, PublicJwk};

/// Why a private JWK is not an acceptable ES256 signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Es256KeyError {
    /// Not a JSON object.
    NotObject,
    /// `kty`/`crv` are not `EC`/`P-256`, or `alg`/`use` say something other than `ES256`/`sig`.
    Unsupported,
    /// `x`/`y` are not a point on P-256.
    Public(JwkError),
    /// `d` is missing, not 32 bytes of strict base64url, zero or not below the group order.
    Private,
    /// `d` is a valid scalar but not the private key of `x`/`y` (checked where the arithmetic
    /// is at hand: natively at parse time, in wasm by WebCrypto at the first signature).
    Mismatch,
}

impl fmt::Display for Es256KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Es256KeyError::NotObject => f.write_str("must be a JSON object (a private JWK)"),
            Es256KeyError::Unsupported => {
                f.write_str("must be an EC P-256 key (alg ES256, use sig when given)")
            }
            Es256KeyError::Public(e) => write!(f, "public part: {e}"),
            Es256KeyError::Private => f.write_str("`d` must be a P-256 private scalar"),
            Es256KeyError::Mismatch => f.write_str("`d` is not the private key of `x`/`y`"),
        }
    }
}

impl std::error::Error for Es256KeyError {}

/// The signature could not be made (wasm: WebCrypto refused the key or the call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignError;

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ES256 signing failed")
    }
}

impl std::error::Error for SignError {}

/// A validated P-256 key pair. The private scalar is wiped on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Es256SigningKey {
    d: Zeroizing<String>,
    public: PublicJwk,
}

impl fmt::Debug for Es256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256SigningKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl Es256SigningKey {
    /// Parses a private JWK. `kid`, `key_ops` and `ext` are ignored (the key id we publish is
    /// the RFC 7638 thumbprint); `alg` and `use`, when present, must be `ES256` and `sig`.
    pub fn from_jwk(text: &str) -> Result<Self, Es256KeyError> {
        let v: Value = serde_json::from_str(text).map_err(|_| Es256KeyError::NotObject)?;
        let obj = v.as_object().ok_or(Es256KeyError::NotObject)?;
        let is = |name: &str, want: &str| obj.get(name).and_then(Value::as_str) == Some(want);
        let absent_or = |name: &str, want: &str| !obj.contains_key(name) || is(name, want);
        if !is("kty", "EC") || !is("crv", "P-256") || !absent_or("alg", "ES256") {
            return Err(Es256KeyError::Unsupported);
        }
        if !absent_or("use", "sig") {
            return Err(Es256KeyError::Unsupported);
        }
        let d = obj
            .get("d")
            .and_then(Value::as_str)
            .ok_or(Es256KeyError::Private)?;
        let scalar = Zeroizing::new(b64::decode_strict(d).ok_or(Es256KeyError::Private)?);
        if scalar.len() != 32 || p256::SecretKey::from_slice(&scalar).is_err() {
            return Err(Es256KeyError::Private);
        }
        let member = |name: &'static str| {
            obj.get(name)
                .and_then(Value::as_str)
                .ok_or(Es256KeyError::Public(JwkError::BadMember(name)))
        };
        let public = PublicJwk::p256(member("x")?, member("y")?).map_err(Es256KeyError::Public)?;
        let key = Self {
            d: Zeroizing::new(d.to_owned()),
            public,
        };
        backend::check_pair(&key)?;
        Ok(key)
    }

    /// The public half, as published in the JWKS.
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The affine coordinates `(x, y)`, base64url.
    pub fn coordinates(&self) -> (&str, &str) {
        match &self.public {
            PublicJwk::P256 { x, y, .. } => (x, y),
            PublicJwk::Ed25519(_) => unreachable!("from_jwk accepts only P-256 keys"),
        }
    }

    /// The verification key.
    pub fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        match &self.public {
            PublicJwk::P256 { key, .. } => key,
            PublicJwk::Ed25519(_) => unreachable!("from_jwk accepts only P-256 keys"),
        }
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> String {
        self.public.thumbprint()
    }

    /// ECDSA P-256 / SHA-256 over `msg`: the raw 64-byte `r‖s` of a JWS.
    pub async fn sign(&self, msg: &[u8]) -> Result<[u8; 64], SignError> {
        backend::sign(self, msg).await
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use zeroize::Zeroizing;

    use super::{Es256KeyError, Es256SigningKey, SignError};
    use crate::b64;

    fn signing_key(key: &Es256SigningKey) -> Option<SigningKey> {
        let d = Zeroizing::new(b64::decode_strict(&key.d)?);
        SigningKey::from_slice(&d).ok()
    }

    pub(super) fn check_pair(key: &Es256SigningKey) -> Result<(), Es256KeyError> {
        match signing_key(key) {
            Some(sk) if sk.verifying_key() == key.verifying_key() => Ok(()),
            _ => Err(Es256KeyError::Mismatch),
        }
    }

    pub(super) async fn sign(key: &Es256SigningKey, msg: &[u8]) -> Result<[u8; 64], SignError> {
        let sk = signing_key(key).ok_or(SignError)?;
        let sig: Signature = sk.sign(msg);
        Ok(sig.to_bytes().into())
    }
}

#[cfg(target_arch = "wasm32")]
mod backend {
    use js_sys::Uint8Array;
    use wasm_bindgen_futures::JsFuture;

    use super::{Es256KeyError, Es256SigningKey, SignError};
    use crate::webcrypto::{self, object, usages};

    /// WebCrypto checks the pair when the key is imported (workerd refuses a `d` that does not
    /// belong to `x`/`y`), so a mismatch surfaces as a failed signature.
    pub(super) fn check_pair(_: &Es256SigningKey) -> Result<(), Es256KeyError> {
        Ok(())
    }

    pub(super) async fn sign(key: &Es256SigningKey, msg: &[u8]) -> Result<[u8; 64], SignError> {
        let (x, y) = key.coordinates();
        let jwk = object(&[
            ("kty", "EC"),
            ("crv", "P-256"),
            ("x", x),
            ("y", y),
            ("d", &key.d),
        ]);
        let import = object(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
        let params = object(&[("name", "ECDSA"), ("hash", "SHA-256")]);
        let (Some(jwk), Some(import), Some(params)) = (jwk, import, params) else {
            return Err(SignError);
        };
        let imported = webcrypto::import_jwk("jwk", &jwk, &import, false, &usages("sign"))
            .map_err(|_| SignError)?;
        let imported = JsFuture::from(imported).await.map_err(|_| SignError)?;
        let signed = webcrypto::sign(&params, &imported, msg).map_err(|_| SignError)?;
        let signed = JsFuture::from(signed).await.map_err(|_| SignError)?;
        let bytes = Uint8Array::new(&signed).to_vec();
        <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| SignError)
    }
}

#[cfg(test)]
mod tests;
