//! Stateless DPoP server nonces (`api.md` 9.10): `b64url(be64(step) ‖ HMAC(key, be64(step))[..16])`
//! with one-minute steps, so any isolate can issue and check them without storage.

use subtle::ConstantTimeEq;

use crate::mac::hmac_sha256;

use crate::b64;

/// Seconds per nonce time step.
const STEP_SECS: i64 = 60;
/// Accepted steps relative to the current one: two back (up to three minutes old), one ahead
/// (tolerates isolates whose clocks differ slightly).
const STEPS_BACK: i64 = 2;
const STEPS_AHEAD: i64 = 1;
const MAC_LEN: usize = 16;
const DERIVATION_LABEL: &[u8] = b"agent-id/dpop-nonce/v1";

/// The nonce key used when `DPOP_NONCE_SECRET` is unset: derived from the signing key seed so no
/// extra secret is needed, and domain-separated so it never equals the seed itself.
pub fn nonce_key(signing_seed: &[u8; 32]) -> [u8; 32] {
    hmac_sha256(signing_seed, DERIVATION_LABEL)
}

/// A fresh nonce for the time step containing `now_s`.
pub fn issue(key: &[u8], now_s: i64) -> String {
    let step = now_s.div_euclid(STEP_SECS).to_be_bytes();
    let mac = hmac_sha256(key, &step);
    let mut raw = Vec::with_capacity(step.len() + MAC_LEN);
    raw.extend_from_slice(&step);
    raw.extend(mac.iter().take(MAC_LEN));
    b64::encode(&raw)
}

/// Whether `nonce` was issued with `key` within the accepted window around `now_s`. The MAC is
/// compared in constant time.
pub fn is_valid(key: &[u8], nonce: &str, now_s: i64) -> bool {
    let Some(raw) = b64::decode_strict(nonce) else {
        return false;
    };
    if raw.len() != 8 + MAC_LEN {
        return false;
    }
    let Some((step_bytes, tag)) = raw.split_first_chunk::<8>() else {
        return false;
    };
    let expected = hmac_sha256(key, step_bytes);
    let Some(expected) = expected.get(..MAC_LEN) else {
        return false;
    };
    if !bool::from(expected.ct_eq(tag)) {
        return false;
    }
    let step = i64::from_be_bytes(*step_bytes);
    let current = now_s.div_euclid(STEP_SECS);
    let (low, high) = (
        current.saturating_sub(STEPS_BACK),
        current.saturating_add(STEPS_AHEAD),
    );
    (low..=high).contains(&step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600;
    const SERVER_SEED: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    const VECTOR_NONCE: &str = "AAAAAAHBbcDROdJgJutB6J9khqTQybUt";

    #[test]
    fn vector_5_9() {
        let key = nonce_key(&SERVER_SEED);
        assert_eq!(
            crate::hex::encode(&key),
            "ab8dfd1e5941f2c5ff24a047aecf0d809c0fc2acb11208e872390bb5551d18cf"
        );
        assert_eq!(T0 / 60, 29_453_760);
        assert_eq!(issue(&key, T0), VECTOR_NONCE);
        assert_eq!(issue(&key, T0 + 59), VECTOR_NONCE);
        assert_ne!(issue(&key, T0 + 60), VECTOR_NONCE);
        assert_eq!(VECTOR_NONCE.len(), 32);
    }

    #[test]
    fn vector_5_9_acceptance_window() {
        // Accepted while the current step is 29453759..=29453762.
        let key = nonce_key(&SERVER_SEED);
        for (now, ok) in [
            (T0 - 61, false), // step 29453758
            (T0 - 60, true),  // step 29453759
            (T0 - 1, true),
            (T0, true),
            (T0 + 179, true),  // step 29453762
            (T0 + 180, false), // step 29453763
            (T0 + 300, false), // DP42: five minutes old
        ] {
            assert_eq!(
                is_valid(&key, VECTOR_NONCE, now),
                ok,
                "now = T0 {:+}",
                now - T0
            );
        }
    }

    #[test]
    fn rejects_forged_and_malformed_nonces() {
        let key = nonce_key(&SERVER_SEED);
        assert!(!is_valid(b"another key", VECTOR_NONCE, T0));
        let mut raw = b64::decode_strict(VECTOR_NONCE).unwrap();
        raw[23] ^= 1;
        assert!(!is_valid(&key, &b64::encode(&raw), T0));
        // Changing the step without the MAC.
        let mut raw = b64::decode_strict(VECTOR_NONCE).unwrap();
        raw[7] ^= 1;
        assert!(!is_valid(&key, &b64::encode(&raw), T0));
        for bad in [
            "",
            "garbage",
            &VECTOR_NONCE[..31],
            &format!("{VECTOR_NONCE}AAAA"),
            &format!("{VECTOR_NONCE}="),
            &format!(" {VECTOR_NONCE}"),
        ] {
            assert!(!is_valid(&key, bad, T0), "{bad}");
        }
    }

    #[test]
    fn secret_keys_of_any_length_work() {
        for key in [&b""[..], b"short", &[0x5a; 64], &[0xa5; 200]] {
            let nonce = issue(key, T0);
            assert!(is_valid(key, &nonce, T0));
            assert!(!is_valid(b"other", &nonce, T0));
        }
    }

    #[test]
    fn extreme_clocks_do_not_panic() {
        let key = nonce_key(&SERVER_SEED);
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let nonce = issue(&key, now);
            assert!(is_valid(&key, &nonce, now));
        }
    }
}
