use futures::executor::block_on;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;

use super::*;

/// The key with scalar `first, 0, …, 0, 1` and its private JWK.
fn jwk_for(first: u8) -> (SigningKey, serde_json::Value) {
    let mut d = [0u8; 32];
    d[0] = first;
    d[31] = 1;
    let sk = SigningKey::from_slice(&d).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64::encode(point.x().unwrap()),
        "y": b64::encode(point.y().unwrap()),
        "d": b64::encode(&d),
    });
    (sk, jwk)
}

fn with(mut jwk: serde_json::Value, name: &str, value: serde_json::Value) -> String {
    jwk[name] = value;
    jwk.to_string()
}

#[test]
fn signatures_are_raw_r_s_and_verify_under_the_published_key() {
    let (sk, jwk) = jwk_for(7);
    let key = Es256SigningKey::from_jwk(&jwk.to_string()).unwrap();
    assert_eq!(key.verifying_key(), sk.verifying_key());
    let (x, y) = key.coordinates();
    assert_eq!(
        (x, y),
        (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
    );

    let sig = block_on(key.sign(b"header.payload")).unwrap();
    let parsed = Signature::from_slice(&sig).unwrap();
    assert!(sk
        .verifying_key()
        .verify(b"header.payload", &parsed)
        .is_ok());
    assert!(sk
        .verifying_key()
        .verify(b"header.payloaD", &parsed)
        .is_err());
    // The crate's own verifier (what introspection uses) agrees.
    assert!(block_on(crate::verify::es256(
        sk.verifying_key(),
        b"header.payload",
        &sig
    )));
}

#[test]
fn the_kid_is_the_rfc7638_thumbprint_of_the_public_members() {
    let (_, jwk) = jwk_for(9);
    let key = Es256SigningKey::from_jwk(&with(jwk.clone(), "kid", json!("mine"))).unwrap();
    let public = json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]});
    assert_eq!(
        key.kid(),
        PublicJwk::from_json(&public).unwrap().thumbprint()
    );
    assert_eq!(key.kid().len(), 43);
}

#[test]
fn optional_members_are_checked_when_present() {
    let (_, jwk) = jwk_for(3);
    for (name, value) in [("alg", "ES256"), ("use", "sig"), ("kid", "k1")] {
        assert!(Es256SigningKey::from_jwk(&with(jwk.clone(), name, json!(value))).is_ok());
    }
    assert!(Es256SigningKey::from_jwk(&with(jwk.clone(), "key_ops", json!(["sign"]))).is_ok());
    for (name, value) in [
        ("alg", json!("ES384")),
        ("alg", json!(null)),
        ("use", json!("enc")),
    ] {
        assert_eq!(
            Es256SigningKey::from_jwk(&with(jwk.clone(), name, value)).unwrap_err(),
            Es256KeyError::Unsupported
        );
    }
}

#[test]
fn malformed_keys_are_refused_with_their_reason() {
    let (_, jwk) = jwk_for(5);
    let (_, other) = jwk_for(6);
    let n = "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE";
    let cases: Vec<(String, Es256KeyError)> = vec![
        ("not json".into(), Es256KeyError::NotObject),
        ("[]".into(), Es256KeyError::NotObject),
        (
            with(jwk.clone(), "kty", json!("OKP")),
            Es256KeyError::Unsupported,
        ),
        (
            with(jwk.clone(), "crv", json!("P-384")),
            Es256KeyError::Unsupported,
        ),
        (with(jwk.clone(), "d", json!(null)), Es256KeyError::Private),
        (
            with(jwk.clone(), "d", json!(b64::encode(&[0u8; 32]))),
            Es256KeyError::Private,
        ),
        (with(jwk.clone(), "d", json!(n)), Es256KeyError::Private),
        (
            with(jwk.clone(), "d", json!(b64::encode(&[1u8; 31]))),
            Es256KeyError::Private,
        ),
        (
            with(jwk.clone(), "d", json!(b64::encode(&[1u8; 33]))),
            Es256KeyError::Private,
        ),
        (
            with(
                jwk.clone(),
                "d",
                json!(format!("{}=", other["d"].as_str().unwrap())),
            ),
            Es256KeyError::Private,
        ),
        (
            with(jwk.clone(), "y", json!(null)),
            Es256KeyError::Public(JwkError::BadMember("y")),
        ),
        (
            with(jwk.clone(), "y", other["y"].clone()),
            Es256KeyError::Public(JwkError::BadP256Point),
        ),
        (
            with(jwk.clone(), "d", other["d"].clone()),
            Es256KeyError::Mismatch,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(
            Es256SigningKey::from_jwk(&text).unwrap_err(),
            want,
            "{text}"
        );
    }
}

#[test]
fn debug_never_shows_the_private_scalar() {
    let (_, jwk) = jwk_for(8);
    let key = Es256SigningKey::from_jwk(&jwk.to_string()).unwrap();
    let shown = format!("{key:?}");
    assert!(!shown.contains(jwk["d"].as_str().unwrap()));
    assert!(shown.contains(&key.kid()));
}
