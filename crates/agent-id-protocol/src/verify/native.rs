//! The native backend: RustCrypto. `verify_strict` repeats the byte checks of [`super::strict`]
//! and makes the cofactorless check.

use ed25519_dalek::Signature;
use p256::ecdsa::signature::Verifier;

use crate::ed25519::Ed25519PublicKey;
use crate::rsa_key::RsaPublicKey;

pub(super) async fn ed25519(key: &Ed25519PublicKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    key.verifying_key()
        .verify_strict(msg, &Signature::from_bytes(sig))
        .is_ok()
}

pub(super) async fn es256(key: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
        return false;
    };
    key.verify(msg, &sig).is_ok()
}

pub(super) async fn rs256(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::BigUint;
    let Ok(public) = rsa::RsaPublicKey::new(
        BigUint::from_bytes_be(key.modulus()),
        BigUint::from_bytes_be(key.exponent()),
    ) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    VerifyingKey::<sha2::Sha256>::new(public)
        .verify(msg, &sig)
        .is_ok()
}
