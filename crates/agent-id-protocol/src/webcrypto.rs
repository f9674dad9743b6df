//! The runtime's WebCrypto (`crypto.subtle`) as the wasm build reaches it: the few calls the
//! verification and signing backends make, bound once. Every call returns a promise; a throw
//! before the promise exists is an `Err`.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle.importKey(format, keyData, algorithm, extractable, keyUsages)`.
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = importKey)]
    pub fn import_key(
        format: &str,
        key_data: &[u8],
        algorithm: &JsValue,
        extractable: bool,
        usages: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.importKey("jwk", keyData, …)`: the same call with a JWK object.
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = importKey)]
    pub fn import_jwk(
        format: &str,
        key_data: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.verify(algorithm, key, signature, data)`.
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = verify)]
    pub fn verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.exportKey(format, key)`.
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = exportKey)]
    pub fn export_key(format: &str, key: &JsValue) -> Result<Promise, JsValue>;

    /// `crypto.subtle.sign(algorithm, key, data)`.
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = sign)]
    pub fn sign(algorithm: &JsValue, key: &JsValue, data: &[u8]) -> Result<Promise, JsValue>;
}

/// A plain `{name: value, …}` dictionary (algorithm parameters, a JWK).
pub fn object(members: &[(&str, &str)]) -> Option<JsValue> {
    let out = Object::new();
    for (name, value) in members {
        Reflect::set(&out, &JsValue::from_str(name), &JsValue::from_str(value)).ok()?;
    }
    Some(out.into())
}

/// The one-element key-usages array `[usage]`.
pub fn usages(usage: &str) -> JsValue {
    js_sys::Array::of1(&JsValue::from_str(usage)).into()
}
