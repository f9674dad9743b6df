//! The wasm backend: the runtime's WebCrypto. Each verification imports the raw public key and
//! calls `verify`, two promises awaited through wasm-bindgen-futures. A rejected promise (an
//! unsupported algorithm, a key the runtime refuses) is a failed verification: fail closed.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::ed25519::Ed25519PublicKey;
use crate::rsa_key::RsaPublicKey;
use crate::webcrypto::{self, object, usages};

pub(super) async fn ed25519(key: &Ed25519PublicKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    let alg = JsValue::from_str("Ed25519");
    verify(&alg, &alg, key.as_bytes(), msg, sig).await
}

pub(super) async fn es256(key: &p256::ecdsa::VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    let point = key.to_encoded_point(false);
    let (Some(import), Some(check)) = (
        object(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
        object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
    ) else {
        return false;
    };
    verify(&import, &check, point.as_bytes(), msg, sig).await
}

pub(super) async fn rs256(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
    let (n, e) = key.jwk_members();
    let (Some(jwk), Some(alg)) = (
        object(&[("kty", "RSA"), ("n", n), ("e", e), ("alg", "RS256")]),
        object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")]),
    ) else {
        return false;
    };
    let Ok(imported) = webcrypto::import_jwk("jwk", &jwk, &alg, false, &usages("verify")) else {
        return false;
    };
    let Ok(imported) = JsFuture::from(imported).await else {
        return false;
    };
    let Ok(verified) = webcrypto::verify(&alg, &imported, sig, msg) else {
        return false;
    };
    matches!(JsFuture::from(verified).await, Ok(v) if v.as_bool() == Some(true))
}

/// Imports `raw` as a verification key under `import` and verifies `sig` over `msg` under
/// `check`. The byte slices are views of wasm memory that WebCrypto copies during each call.
async fn verify(import: &JsValue, check: &JsValue, raw: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(imported) = webcrypto::import_key("raw", raw, import, false, &usages("verify")) else {
        return false;
    };
    let Ok(key) = JsFuture::from(imported).await else {
        return false;
    };
    let Ok(verified) = webcrypto::verify(check, &key, sig, msg) else {
        return false;
    };
    matches!(JsFuture::from(verified).await, Ok(v) if v.as_bool() == Some(true))
}
