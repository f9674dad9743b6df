//! The checks that make Ed25519 verification strict, done in Rust before any backend sees the
//! signature: ed25519-dalek's `verify_strict` makes them too, but WebCrypto implementations need not
//! (the Web Crypto Ed25519 text leaves small-order points to the implementation).

use std::fmt;

/// The group order ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Every encoding whose point has order dividing 8, with the sign bit (bit 255) cleared: y = 0,
/// 1, the two y of the order-8 points, p − 1, and the non-canonical p and p + 1. A point's order
/// depends on y alone up to the sign of x, so these seven cover all of them (libsodium's list).
const SMALL_ORDER_Y: [[u8; 32]; 7] = [
    [0; 32],
    le_small(1),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
];

/// Why a signature was refused before any curve arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// Not exactly 64 bytes.
    Length,
    /// `S` ≥ ℓ: a malleable second form of some signature.
    NonCanonicalS,
    /// `R`'s y coordinate is ≥ p: not the encoding a signer produces.
    NonCanonicalR,
    /// `R` is a point of small order: with it, equations hold that prove nothing.
    SmallOrderR,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Length => "signature must be 64 bytes",
            SignatureError::NonCanonicalS => "signature S is not reduced modulo the group order",
            SignatureError::NonCanonicalR => "signature R is not canonically encoded",
            SignatureError::SmallOrderR => "signature R is a small-order point",
        })
    }
}

impl std::error::Error for SignatureError {}

/// The byte-level half of `verify_strict`: 64 bytes, `S` < ℓ, `R` canonical and not of small
/// order. No curve arithmetic, so it costs nanoseconds.
pub fn ed25519_signature(sig: &[u8]) -> Result<&[u8; 64], SignatureError> {
    let sig: &[u8; 64] = sig.try_into().map_err(|_| SignatureError::Length)?;
    let (r, s) = sig.split_at(32);
    if !less_than_group_order(s) {
        return Err(SignatureError::NonCanonicalS);
    }
    let r: &[u8; 32] = r.try_into().map_err(|_| SignatureError::Length)?;
    if y_at_least_p(r) {
        return Err(SignatureError::NonCanonicalR);
    }
    if is_small_order_encoding(r) {
        return Err(SignatureError::SmallOrderR);
    }
    Ok(sig)
}

/// Whether the 255-bit little-endian `y` of an encoded point is at least p = 2^255 − 19,
/// i.e. bytes `ed..ff ff … ff 7f|ff` (the sign bit is ignored).
pub(crate) fn y_at_least_p(bytes: &[u8; 32]) -> bool {
    bytes[0] >= 0xed && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[31] & 0x7f == 0x7f
}

/// Whether `point` encodes (canonically or not, either sign) a point whose order divides 8.
pub(crate) fn is_small_order_encoding(point: &[u8; 32]) -> bool {
    let mut y = *point;
    y[31] &= 0x7f;
    SMALL_ORDER_Y.contains(&y)
}

/// Little-endian comparison `s < ℓ`.
fn less_than_group_order(s: &[u8]) -> bool {
    for (b, l) in s.iter().rev().zip(GROUP_ORDER.iter().rev()) {
        if b != l {
            return b < l;
        }
    }
    false
}

const fn le_small(v: u8) -> [u8; 32] {
    let mut out = [0; 32];
    out[0] = v;
    out
}

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lowercase hex"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 64);
    let mut out = [0; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}
