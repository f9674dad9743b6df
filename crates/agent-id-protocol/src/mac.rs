//! HMAC-SHA256 and constant-time byte comparison: the only MAC primitives the service uses
//! (Paddle webhooks, checkout link signatures, shadow overseer ids).

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 block size: HMAC keys are normalised to exactly one block (RFC 2104 §2).
const BLOCK_LEN: usize = 64;

/// HMAC-SHA256 of `msg` under `key`. Infallible: HMAC accepts keys of any length (RFC 2104 §2 hashes
/// long keys and zero-pads short ones to the block size), so the key is brought to one 64-byte
/// block here and the fallible `new_from_slice` is never needed.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        let digest = Sha256::digest(key);
        block
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(b, d)| *b = *d);
    } else {
        block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Whether `a` and `b` are equal, in time independent of their contents. Lengths are not secret
/// (MACs have a fixed size), so different lengths return `false` at once.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::encode as hex;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 1 (20-byte key), 2 (short key), 6 (131-byte key, hashed first).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn hmac_agrees_with_the_library_for_boundary_key_lengths() {
        for len in [0, 1, 63, 64, 65, 200] {
            let key = vec![0x5a; len];
            let mut lib = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            lib.update(b"msg");
            let want: [u8; 32] = lib.finalize().into_bytes().into();
            assert_eq!(hmac_sha256(&key, b"msg"), want, "key length {len}");
        }
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }
}
