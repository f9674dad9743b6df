//! base64url codecs, Ed25519 key/signature fields and JWK parsing.
//!
//! Input: `mode` byte, then the rest. Even modes treat the rest as a text field (lossy UTF-8) for
//! the decoders and the key parser, odd modes as a JWK JSON object. The raw rest always goes
//! through an encode/decode round trip.
#![no_main]

use agent_id::jose::b64;
use agent_id::jose::ed25519::{parse_signature, Ed25519PublicKey};
use agent_id::jose::json::parse_object;
use agent_id::jose::jwk::PublicJwk;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    mode: u8,
    rest: &'a [u8],
}

fuzz_target!(|case: Case| {
    // encode ∘ decode round trips for any bytes, in both decoders.
    let encoded = b64::encode(case.rest);
    assert!(!encoded.contains(['=', '+', '/']));
    assert_eq!(b64::decode_strict(&encoded).as_deref(), Some(case.rest));
    assert_eq!(b64::decode_lenient(&encoded).as_deref(), Some(case.rest));

    if case.mode & 1 == 0 {
        let text = String::from_utf8_lossy(case.rest);
        check_text_field(&text);
    } else if let Ok(map) = parse_object(case.rest) {
        check_jwk(&Value::Object(map));
    }
});

fn check_text_field(s: &str) {
    // Strict decoding accepts exactly the canonical unpadded spelling.
    if let Some(bytes) = b64::decode_strict(s) {
        assert_eq!(b64::encode(&bytes), s);
        assert_eq!(b64::decode_lenient(s), Some(bytes));
    }
    // Lenient decoding is a superset whose canonical re-encoding is strict-decodable.
    if let Some(bytes) = b64::decode_lenient(s) {
        assert_eq!(b64::decode_strict(&b64::encode(&bytes)), Some(bytes));
        assert!(!s.contains(char::is_whitespace));
    }
    if let Ok(key) = Ed25519PublicKey::parse(s) {
        let canonical = key.canonical();
        assert_eq!(canonical, b64::encode(key.as_bytes()));
        assert_eq!(Ed25519PublicKey::parse(&canonical), Ok(key.clone()));
        assert_eq!(
            Ed25519PublicKey::from_bytes(key.as_bytes()),
            Ok(key.clone())
        );
        assert_eq!(key.thumbprint().len(), 43);
    }
    if let Some(sig) = parse_signature(s) {
        assert_eq!(b64::decode_lenient(s).as_deref(), Some(&sig[..]));
    }
}

fn check_jwk(v: &Value) {
    let Ok(jwk) = PublicJwk::from_json(v) else {
        return;
    };
    let thumbprint = jwk.thumbprint();
    assert_eq!(thumbprint.len(), 43);
    assert!(b64::decode_strict(&thumbprint).is_some());
    // The thumbprint covers the required members only: extra members never change it.
    let mut extended = v.as_object().unwrap().clone();
    extended.insert("kid".into(), Value::String("fuzz".into()));
    extended.insert("use".into(), Value::String("sig".into()));
    let again = PublicJwk::from_json(&Value::Object(extended)).expect("extra members are ignored");
    assert_eq!(again.thumbprint(), thumbprint);
    if let PublicJwk::Ed25519(key) = &jwk {
        assert_eq!(Ed25519PublicKey::parse(&key.canonical()).as_ref(), Ok(key));
    }
}
