//! The strictness rules on real signatures and real curve points (curve25519-dalek computes the
//! forgeries; nothing is mocked). The same hostile signatures are sent to the wasm build by
//! `e2e/test_signature_strictness.py`.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha512};

use super::strict::{ed25519_signature, is_small_order_encoding, SignatureError};
use super::*;
use crate::b64;

const KA_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn ka() -> SigningKey {
    SigningKey::from_bytes(&b64::decode_strict(KA_SEED).unwrap().try_into().unwrap())
}

fn public(sk: &SigningKey) -> Ed25519PublicKey {
    Ed25519PublicKey::from_bytes(sk.verifying_key().as_bytes()).unwrap()
}

fn verify(key: &Ed25519PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    futures::executor::block_on(ed25519(key, msg, sig))
}

/// The secret scalar `a` of an RFC 8032 key (clamped first half of SHA-512(seed)).
fn secret_scalar(sk: &SigningKey) -> Scalar {
    let h = Sha512::digest(sk.to_bytes());
    let mut a: [u8; 32] = h[..32].try_into().unwrap();
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// k = SHA-512(R ‖ A ‖ M) mod ℓ.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

/// Whether the cofactorless equation [S]B = R + [k]A holds (what a verifier that skips the
/// small-order and canonical-S rules would accept).
fn equation_holds(a: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let r: [u8; 32] = sig[..32].try_into().unwrap();
    let Some(r_point) = CompressedEdwardsY(r).decompress() else {
        return false;
    };
    let a_point = CompressedEdwardsY(*a).decompress().unwrap();
    let s = Scalar::from_bytes_mod_order(sig[32..].try_into().unwrap());
    B * s == r_point + a_point * challenge(&r, a, msg)
}

fn add_l(s: &mut [u8]) {
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
}

fn hex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Every encoding of a small-order point: the seven y values (canonical and the non-canonical
/// p, p + 1), each with both sign bits.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let ys = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    ys.iter()
        .flat_map(|y| {
            let y = hex(y);
            let mut signed = y;
            signed[31] |= 0x80;
            [y, signed]
        })
        .collect()
}

#[test]
fn a_valid_signature_passes_the_byte_checks_and_verifies() {
    let sk = ka();
    let sig = sk.sign(b"hello").to_bytes();
    assert_eq!(ed25519_signature(&sig), Ok(&sig));
    assert!(verify(&public(&sk), b"hello", &sig));
}

#[test]
fn length_is_exactly_64() {
    let sig = ka().sign(b"hello").to_bytes();
    assert_eq!(ed25519_signature(&sig[..63]), Err(SignatureError::Length));
    let long = [sig.as_slice(), &[0]].concat();
    assert_eq!(ed25519_signature(&long), Err(SignatureError::Length));
    assert_eq!(ed25519_signature(&[]), Err(SignatureError::Length));
}

#[test]
fn s_at_or_above_the_group_order_is_refused() {
    let sk = ka();
    let sig = sk.sign(b"hello").to_bytes();
    // S + ℓ satisfies the group equation (a malleated copy) but is not canonical.
    let mut malleated = sig;
    add_l(&mut malleated[32..]);
    assert!(equation_holds(
        sk.verifying_key().as_bytes(),
        b"hello",
        &malleated
    ));
    assert_eq!(
        ed25519_signature(&malleated),
        Err(SignatureError::NonCanonicalS)
    );
    assert!(!verify(&public(&sk), b"hello", &malleated));
    // The boundary: ℓ itself is refused, ℓ − 1 passes the byte checks.
    let mut at_l = sig;
    at_l[32..].copy_from_slice(&L);
    assert_eq!(ed25519_signature(&at_l), Err(SignatureError::NonCanonicalS));
    let mut below = at_l;
    below[32] -= 1;
    assert!(ed25519_signature(&below).is_ok());
    let mut top = sig;
    top[32..].copy_from_slice(&[0xff; 32]);
    assert_eq!(ed25519_signature(&top), Err(SignatureError::NonCanonicalS));
}

#[test]
fn the_small_order_list_matches_curve_arithmetic() {
    // Each listed encoding decodes to a point of order dividing 8 ...
    for enc in small_order_encodings() {
        assert!(is_small_order_encoding(&enc), "{enc:02x?}");
        if let Some(p) = CompressedEdwardsY(enc).decompress() {
            assert!(p.is_small_order(), "{enc:02x?}");
        }
    }
    // ... and no other encoding does: every y < 2^12 and the top of the range, both signs, and
    // the R of real signatures.
    let mut checked = 0;
    let candidates = (0u32..1 << 12)
        .map(|y| {
            let mut e = [0u8; 32];
            e[..4].copy_from_slice(&y.to_le_bytes());
            e
        })
        .chain((0u8..=0xff).map(|b| {
            let mut e = [0xffu8; 32];
            e[0] = b;
            e[31] = 0x7f;
            e
        }))
        .chain((0u8..64).map(|i| ka().sign(&[i]).to_bytes()[..32].try_into().unwrap()));
    for enc in candidates {
        for sign in [0u8, 0x80] {
            let mut e = enc;
            e[31] |= sign;
            if let Some(p) = CompressedEdwardsY(e).decompress() {
                assert_eq!(is_small_order_encoding(&e), p.is_small_order(), "{e:02x?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 3_000, "{checked}");
}

/// The forgery WebCrypto may accept: the key's owner signs with R = the identity, S = k·a. The
/// cofactorless equation holds ([S]B = [k]A = R + [k]A), so only the small-order-R rule refuses it.
fn identity_r_signature(sk: &SigningKey, msg: &[u8], r: [u8; 32]) -> [u8; 64] {
    let k = challenge(&r, sk.verifying_key().as_bytes(), msg);
    let s = k * secret_scalar(sk);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

#[test]
fn small_order_r_is_refused_even_when_the_equation_holds() {
    let sk = ka();
    let identity = EdwardsPoint::default().compress().to_bytes();
    let forged = identity_r_signature(&sk, b"login", identity);
    assert!(equation_holds(
        sk.verifying_key().as_bytes(),
        b"login",
        &forged
    ));
    assert_eq!(ed25519_signature(&forged), Err(SignatureError::SmallOrderR));
    assert!(!verify(&public(&sk), b"login", &forged));
    // Every other small-order R, canonical or not, is refused before any arithmetic.
    let sig = sk.sign(b"login").to_bytes();
    for r in small_order_encodings() {
        let mut bad = sig;
        bad[..32].copy_from_slice(&r);
        assert!(ed25519_signature(&bad).is_err(), "{r:02x?}");
        assert!(!verify(&public(&sk), b"login", &bad));
    }
}

#[test]
fn non_canonical_r_is_refused() {
    let sk = ka();
    let sig = sk.sign(b"hello").to_bytes();
    // y = p + 2 .. 2^255 − 1: not the encoding any signer produces.
    for low in [0xefu8, 0xf0, 0xfe, 0xff] {
        let mut bad = sig;
        bad[0] = low;
        bad[1..31].fill(0xff);
        bad[31] = 0x7f;
        assert_eq!(ed25519_signature(&bad), Err(SignatureError::NonCanonicalR));
        bad[31] = 0xff;
        assert_eq!(ed25519_signature(&bad), Err(SignatureError::NonCanonicalR));
    }
}

/// A mixed-order key: the owner's A plus a point of order 8. It is not of small order, so it
/// parses; verification is cofactorless on both builds, so its owner's signatures verify exactly
/// when [k]T = 0, i.e. k ≡ 0 (mod 8) — a cofactored verifier would accept them all.
#[test]
fn mixed_order_keys_follow_the_cofactorless_equation() {
    let sk = ka();
    let a = secret_scalar(&sk);
    let t8 = CompressedEdwardsY(hex(
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ))
    .decompress()
    .unwrap();
    let mixed = (B * a + t8).compress().to_bytes();
    let key = Ed25519PublicKey::from_bytes(&mixed).expect("a mixed-order key is not small-order");
    let (mut accepted, mut refused) = (0, 0);
    for i in 0u8..64 {
        let msg = [b'm', i];
        let r_scalar = Scalar::from_bytes_mod_order_wide(&Sha512::digest([i, 7]).into());
        let r = (B * r_scalar).compress().to_bytes();
        let k = challenge(&r, &mixed, &msg);
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice((r_scalar + k * a).as_bytes());
        let torsion_vanishes = (t8 * k).is_identity();
        assert_eq!(verify(&key, &msg, &sig), torsion_vanishes, "message {i}");
        if torsion_vanishes {
            accepted += 1;
        } else {
            refused += 1;
        }
        if accepted > 0 && refused > 0 {
            break;
        }
    }
    assert!(accepted > 0 && refused > 0, "{accepted} {refused}");
}

#[test]
fn es256_takes_raw_signatures_only() {
    use p256::ecdsa::signature::Signer as _;
    let sk = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(b"a.b");
    let vk = sk.verifying_key();
    let run = |msg: &[u8], sig: &[u8]| futures::executor::block_on(es256(vk, msg, sig));
    assert!(run(b"a.b", &sig.to_bytes()));
    assert!(!run(b"a.c", &sig.to_bytes()));
    assert!(!run(b"a.b", sig.to_der().as_bytes()));
    assert!(!run(b"a.b", &sig.to_bytes()[..63]));
}

/// An RS256 signature made by OpenSSL (`openssl dgst -sha256 -sign`) with the RSA-2048 key
/// of `tests/fixtures/rsa2048_test_key.json`, over "agent-id rs256 vector".
const RSA_N: &str = "vI02HGmNP_oUG_zfKaHeyhmR1Q8Zv9nVAA5pLIzBCd9J9M2Gzi1UxTCsEFU3mWBHbv0fvbUrN9k_uhijUvd5Y_0q_Bg9AiSWzxxOKFxpLxTe_oD99HCbGpDP52K0JsikesN-xl7cFmRaD9T3eDqAmn0vxDn9SfWTOaIh0VW-2rhG3oCIYJRrVuk2qHJ07gqSzHhXoIBfVd0cdYeCMEPAaZvlSavc_XLvNypzHSfzPU0nHDhvQeDfjTYEhxIkUbkPnscPDDMS-blwPnwtEzAG9kKkehoNO91LNX-GjOuxB6w1TNqYKVQ_3FFuhW89RD_--Eq2YzxRPza9UsI663qgLw";
const RSA_SIG: &str = "tAbK02wARAMOTfCHWJz1h6tJRDL1zhpGuHzAy13eodRXcG7GzIeHvEPfAImjHXHeaQeCi2IbtMNP-rZ9buoHjJX0ypr7gthiSa9XcUFXrGq8amWZO4CDgXr0b2jXMttHHwVqPzSpf7sAePeaxBVAlOPHuGi37w5VJZBrtWRnminPwtSm-ibhMvy59qSVkheHLUp7_oG0wHVlhZEwRWyTVjDRIqrwz3w3Izk_5GJgfaG6YcKJwpE9B1cUEezMjM5R4_b_pFBnepTs27VIbd2otrDz3kTOfMCqU0Xobjb0SNmWTC2lQ1qQMt_q8CleJgYs5V0AYxOuL8q3znhtnjIUkQ";

#[test]
fn rs256_verifies_an_openssl_signature_and_nothing_else() {
    let key = crate::rsa_key::RsaPublicKey::from_jwk(RSA_N, "AQAB").unwrap();
    let sig = crate::b64::decode_strict(RSA_SIG).unwrap();
    let msg = b"agent-id rs256 vector";
    let run = |m: &[u8], s: &[u8]| futures::executor::block_on(super::rs256(&key, m, s));
    assert!(run(msg, &sig));
    assert!(!run(b"agent-id rs256 vectoR", &sig));
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    assert!(!run(msg, &flipped));
    // Wrong lengths never reach the backend.
    assert!(!run(msg, &sig[1..]));
    let mut long = sig.clone();
    long.insert(0, 0);
    assert!(!run(msg, &long));
}
