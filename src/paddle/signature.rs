//! `Paddle-Signature` verification (`api.md` 7.1 steps 4–6, `security.md` PW2–PW4):
//! `ts=<unix seconds>;h1=<hex HMAC-SHA256>[;h1=…]`, the MAC covering `<ts as sent> ":" <raw body>`.
//! A header may carry several `h1` values (e.g. while a secret is rotated); any one may match.

use std::fmt;

use crate::crypto::hex::encode as hex;
use crate::crypto::mac::{ct_eq, hmac_sha256};

/// Length of an HMAC-SHA256 output in bytes.
const MAC_LEN: usize = 32;

/// Why a webhook signature is not accepted. Every variant is answered `401
/// invalid_webhook_signature`; the distinction is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The header is not `;`-separated `key=value` parts with exactly one decimal `ts` and at least
    /// one `h1`.
    Malformed,
    /// `ts` is further from now than the tolerance, in either direction.
    Stale,
    /// No `h1` equals the MAC of this body under this secret.
    NoMatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Malformed => "malformed Paddle-Signature header",
            SignatureError::Stale => "Paddle-Signature timestamp outside the tolerance",
            SignatureError::NoMatch => "no Paddle-Signature h1 matches",
        })
    }
}

impl std::error::Error for SignatureError {}

/// The parts of a header that matter: `ts` exactly as sent (the MAC covers the text, not the
/// number) and the `h1` values that can possibly match.
struct Parsed<'a> {
    ts_text: &'a str,
    ts: i64,
    macs: Vec<[u8; MAC_LEN]>,
}

/// Checks `header` against `raw_body` (the exact received bytes, never re-serialised JSON) at
/// `now_s` (Unix seconds). Order: header syntax, then freshness, then the MAC.
pub fn verify(
    header: &str,
    raw_body: &[u8],
    secret: &str,
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let parsed = parse(header)?;
    // i128: neither side can overflow, whatever the clock or the header says.
    let skew = (i128::from(now_s) - i128::from(parsed.ts)).abs();
    if skew > i128::from(tolerance_s) {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, parsed.ts_text, raw_body);
    // Fold over every candidate so timing does not reveal which one matched.
    let matched = parsed
        .macs
        .iter()
        .fold(false, |acc, h1| acc | ct_eq(&expected, h1));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// The header value Paddle would send for `raw_body` signed at `ts`: `ts=<ts>;h1=<lowercase hex>`.
/// For tests and dev tooling that simulate Paddle.
pub fn sign(secret: &str, ts: i64, raw_body: &[u8]) -> String {
    let ts_text = ts.to_string();
    format!("ts={ts_text};h1={}", hex(&mac(secret, &ts_text, raw_body)))
}

/// `HMAC-SHA256(UTF-8(secret), ts ":" body)`.
fn mac(secret: &str, ts_text: &str, raw_body: &[u8]) -> [u8; MAC_LEN] {
    let mut msg = Vec::with_capacity(ts_text.len() + 1 + raw_body.len());
    msg.extend_from_slice(ts_text.as_bytes());
    msg.push(b':');
    msg.extend_from_slice(raw_body);
    hmac_sha256(secret.as_bytes(), &msg)
}

/// Splits the header into parts. A part without `=` (including an empty one) makes the whole header
/// malformed; unknown keys are ignored; `h1` values that are not 64 hex digits are dropped here
/// but still count towards "at least one `h1`".
fn parse(header: &str) -> Result<Parsed<'_>, SignatureError> {
    let mut ts_values = Vec::with_capacity(1);
    let mut h1_count = 0usize;
    let mut macs = Vec::new();
    for part in header.split(';') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "ts" => ts_values.push(value),
            "h1" => {
                h1_count += 1;
                macs.extend(decode_mac(value));
            }
            _ => {}
        }
    }
    let [ts_text] = ts_values[..] else {
        return Err(SignatureError::Malformed);
    };
    if h1_count == 0 || ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    // Only digits, so the sole failure is overflow: a timestamp no clock will ever reach.
    let ts = ts_text.parse().map_err(|_| SignatureError::Malformed)?;
    Ok(Parsed { ts_text, ts, macs })
}

/// Decodes exactly 64 hex digits (either case; Paddle sends lowercase).
fn decode_mac(value: &str) -> Option<[u8; MAC_LEN]> {
    let digits = value.as_bytes();
    if digits.len() != 2 * MAC_LEN {
        return None;
    }
    let mut out = [0u8; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paddle::vectors::{
        SUBSCRIPTION_ACTIVATED, SUBSCRIPTION_ACTIVATED_SIGNATURE, T0, WEBHOOK_SECRET,
    };

    const TOLERANCE: i64 = 300;

    // vectors.md §3 (Paddle SDK test vector).
    const SDK_SECRET: &str = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh";
    const SDK_TS: i64 = 1_696_195_954;
    const SDK_BODY: &[u8] = b"hello-world";
    const SDK_H1: &str = "d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";

    fn sdk(header: &str) -> Result<(), SignatureError> {
        verify(header, SDK_BODY, SDK_SECRET, SDK_TS, TOLERANCE)
    }

    fn vector(header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(header, body, WEBHOOK_SECRET, now, TOLERANCE)
    }

    #[test]
    fn sdk_vector_second_h1_matches() {
        assert_eq!(
            sign(SDK_SECRET, SDK_TS, SDK_BODY),
            format!("ts={SDK_TS};h1={SDK_H1}")
        );
        assert_eq!(sdk(&format!("ts={SDK_TS};h1=dummy;h1={SDK_H1}")), Ok(()));
        assert_eq!(sdk(&format!("ts={SDK_TS};h1={SDK_H1}")), Ok(()));
        // The order of the parts does not matter.
        assert_eq!(sdk(&format!("h1={SDK_H1};h1=dummy;ts={SDK_TS}")), Ok(()));
    }

    #[test]
    fn sdk_vector_is_stale_with_the_real_clock() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let now = i64::try_from(now).unwrap();
        assert_eq!(
            verify(
                &format!("ts={SDK_TS};h1=dummy;h1={SDK_H1}"),
                SDK_BODY,
                SDK_SECRET,
                now,
                TOLERANCE
            ),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn dot_delimiter_does_not_verify() {
        // P06: HMAC over "1696195954.hello-world".
        let dotted = hex(&hmac_sha256(
            SDK_SECRET.as_bytes(),
            b"1696195954.hello-world",
        ));
        assert_eq!(
            dotted,
            "a2fd8c4d5ede071e09ebb2509aa85c66a68c61c08b785584cbdb99b82900c013"
        );
        assert_eq!(
            sdk(&format!("ts={SDK_TS};h1={dotted}")),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn project_vector_5_12() {
        let body = SUBSCRIPTION_ACTIVATED.as_bytes();
        assert_eq!(body.len(), 751);
        assert_eq!(
            sign(WEBHOOK_SECRET, T0, body),
            SUBSCRIPTION_ACTIVATED_SIGNATURE
        );
        assert_eq!(vector(SUBSCRIPTION_ACTIVATED_SIGNATURE, body, T0), Ok(()));
        assert_eq!(
            verify(
                SUBSCRIPTION_ACTIVATED_SIGNATURE,
                body,
                "another secret",
                T0,
                TOLERANCE
            ),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn any_changed_body_byte_fails() {
        let body = SUBSCRIPTION_ACTIVATED.as_bytes();
        for i in [0, 100, 500, body.len() - 1] {
            let mut changed = body.to_vec();
            changed[i] ^= 0x01;
            assert_eq!(
                vector(SUBSCRIPTION_ACTIVATED_SIGNATURE, &changed, T0),
                Err(SignatureError::NoMatch),
                "byte {i}"
            );
        }
        // P09: one space added; §5.12: overseer_id edited.
        let spaced = SUBSCRIPTION_ACTIVATED.replacen(",", ", ", 1);
        let edited = SUBSCRIPTION_ACTIVATED.replacen("a4b3c2d1", "a4b3c2d2", 1);
        for body in [spaced, edited] {
            assert_eq!(
                vector(SUBSCRIPTION_ACTIVATED_SIGNATURE, body.as_bytes(), T0),
                Err(SignatureError::NoMatch)
            );
        }
    }

    #[test]
    fn tolerance_applies_in_both_directions() {
        let body = SUBSCRIPTION_ACTIVATED.as_bytes();
        let header = SUBSCRIPTION_ACTIVATED_SIGNATURE;
        for (now, want) in [
            (T0 - 300, Ok(())),
            (T0 + 300, Ok(())),
            (T0 + 301, Err(SignatureError::Stale)), // P03: ts 301 s old
            (T0 - 301, Err(SignatureError::Stale)), // P04: ts 301 s in the future
            (0, Err(SignatureError::Stale)),
            (i64::MIN, Err(SignatureError::Stale)),
            (i64::MAX, Err(SignatureError::Stale)),
        ] {
            assert_eq!(vector(header, body, now), want, "now = {now}");
        }
        // Freshness is checked before the MAC, so a stale forgery reports Stale.
        let forged = format!("ts={T0};h1={}", "0".repeat(64));
        assert_eq!(vector(&forged, body, T0 + 301), Err(SignatureError::Stale));
        assert_eq!(vector(&forged, body, T0), Err(SignatureError::NoMatch));
    }

    #[test]
    fn malformed_headers() {
        for header in [
            "",
            "garbage",                                       // P02
            &format!("h1={SDK_H1}"),                         // no ts
            &format!("ts={SDK_TS};ts={SDK_TS};h1={SDK_H1}"), // two ts
            &format!("ts={SDK_TS}"),                         // no h1
            &format!("ts={SDK_TS};v1={SDK_H1}"),             // P08: only v1
            &format!("ts=;h1={SDK_H1}"),
            &format!("ts=+1696195954;h1={SDK_H1}"),
            &format!("ts=-1;h1={SDK_H1}"),
            &format!("ts=1696195954s;h1={SDK_H1}"),
            &format!("ts=1.5;h1={SDK_H1}"),
            &format!("ts=１６９６;h1={SDK_H1}"), // non-ASCII digits
            &format!("ts=99999999999999999999;h1={SDK_H1}"), // overflows i64
            &format!("ts={SDK_TS};h1={SDK_H1};"), // empty trailing part
            &format!("ts={SDK_TS};;h1={SDK_H1}"),
            &format!("ts={SDK_TS};junk;h1={SDK_H1}"),
            &format!("ts={SDK_TS},h1={SDK_H1}"), // wrong separator
            &format!("TS={SDK_TS};h1={SDK_H1}"), // keys are case-sensitive
            &format!("ts = {SDK_TS};h1={SDK_H1}"), // no trimming around "="
        ] {
            assert_eq!(sdk(header), Err(SignatureError::Malformed), "{header:?}");
        }
    }

    #[test]
    fn whitespace_around_parts_and_unknown_keys_are_tolerated() {
        assert_eq!(sdk(&format!(" ts={SDK_TS} ; h1={SDK_H1} ")), Ok(()));
        assert_eq!(
            sdk(&format!("ts={SDK_TS};v1=x;h1={SDK_H1};foo=bar=baz")),
            Ok(())
        );
        // Leading zeros are digits: accepted syntactically, but the MAC covers the text as sent.
        assert_eq!(
            sdk(&format!("ts=0{SDK_TS};h1={SDK_H1}")),
            Err(SignatureError::NoMatch)
        );
        let zeroed = hex(&hmac_sha256(
            SDK_SECRET.as_bytes(),
            b"01696195954:hello-world",
        ));
        assert_eq!(sdk(&format!("ts=0{SDK_TS};h1={zeroed}")), Ok(()));
    }

    #[test]
    fn h1_values_that_cannot_match_are_skipped() {
        let short = &SDK_H1[..63];
        let long = format!("{SDK_H1}0");
        let non_hex = format!("{}g", &SDK_H1[..63]);
        let spaced = format!("{} ", &SDK_H1[..63]);
        for bad in [short, &long, &non_hex, &spaced, "", "dummy"] {
            // Only unusable h1 values: well-formed header, but nothing matches.
            assert_eq!(
                sdk(&format!("ts={SDK_TS};h1={bad}")),
                Err(SignatureError::NoMatch),
                "{bad:?}"
            );
            // Next to the right one they do no harm.
            assert_eq!(sdk(&format!("ts={SDK_TS};h1={bad};h1={SDK_H1}")), Ok(()));
        }
    }

    #[test]
    fn hex_is_case_insensitive() {
        assert_eq!(
            sdk(&format!("ts={SDK_TS};h1={}", SDK_H1.to_uppercase())),
            Ok(())
        );
        let mixed: String = SDK_H1
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(sdk(&format!("ts={SDK_TS};h1={mixed}")), Ok(()));
    }

    #[test]
    fn wrong_h1_and_multiple_wrong_h1() {
        let wrong = "0".repeat(64);
        assert_eq!(
            sdk(&format!("ts={SDK_TS};h1={wrong}")),
            Err(SignatureError::NoMatch)
        );
        // P07: wrong then right.
        assert_eq!(sdk(&format!("ts={SDK_TS};h1={wrong};h1={SDK_H1}")), Ok(()));
        assert_eq!(
            sdk(&format!("ts={SDK_TS};h1={wrong};h1={wrong}")),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn sign_round_trips_for_any_body() {
        for body in [&b""[..], b"{}", &[0xff, 0x00, 0x80]] {
            let header = sign("s", 42, body);
            assert_eq!(verify(&header, body, "s", 42, 0), Ok(()));
            assert_eq!(
                verify(&header, body, "t", 42, 0),
                Err(SignatureError::NoMatch)
            );
        }
        assert_eq!(sign("s", 0, b"").len(), "ts=0;h1=".len() + 64);
    }

    #[test]
    fn errors_display_without_input() {
        assert_eq!(
            SignatureError::Malformed.to_string(),
            "malformed Paddle-Signature header"
        );
        assert_eq!(
            SignatureError::Stale.to_string(),
            "Paddle-Signature timestamp outside the tolerance"
        );
        assert_eq!(
            SignatureError::NoMatch.to_string(),
            "no Paddle-Signature h1 matches"
        );
    }
}
