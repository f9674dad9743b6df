//! Base64 codecs: one strict decoder for JWS segments and one tolerant decoder for API key and
//! signature fields (`api.md` 9.1). Output is always unpadded base64url.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Padded input must carry exactly the canonical padding (`Indifferent` would also accept `Zg=`).
const PADDED: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
    .with_decode_allow_trailing_bits(false);

/// Unpadded input.
const UNPADDED: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::RequireNone)
    .with_decode_allow_trailing_bits(false);

const URL_SAFE_PADDED: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDED);
const STANDARD_PADDED: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDED);
const STANDARD_UNPADDED: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, UNPADDED);

/// Unpadded base64url (RFC 4648 §5), the only form the service emits.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url only. Used for JWS segments, where padding, `+`, `/`, whitespace or
/// non-zero trailing bits make the token malformed (`api.md` 9.1).
pub fn decode_strict(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Decodes an API key or signature field: base64url or the standard alphabet (never both in one
/// value), canonical `=` padding optional, no whitespace, zero trailing bits.
pub fn decode_lenient(s: &str) -> Option<Vec<u8>> {
    let url_chars = s.bytes().any(|b| b == b'-' || b == b'_');
    let std_chars = s.bytes().any(|b| b == b'+' || b == b'/');
    let padded = s.ends_with('=');
    let engine = match (url_chars, std_chars, padded) {
        (true, true, _) => return None,
        (false, true, true) => &STANDARD_PADDED,
        (false, true, false) => &STANDARD_UNPADDED,
        (_, false, true) => &URL_SAFE_PADDED,
        (_, false, false) => &URL_SAFE_NO_PAD,
    };
    engine.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KA: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn encode_is_unpadded_url_safe() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
    }

    #[test]
    fn strict_accepts_unpadded_url_safe() {
        assert_eq!(decode_strict("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(decode_strict(KA).map(|v| v.len()), Some(32));
        assert_eq!(decode_strict("").as_deref(), Some(&[][..]));
    }

    #[test]
    fn strict_rejects_everything_else() {
        for bad in [
            "Zg==",      // padding
            "Zg=",       // partial padding
            "+/8",       // standard alphabet
            "Zm9v YmFy", // inner whitespace
            " Zm9v",     // leading whitespace
            "Zm9v\n",    // trailing newline
            "Zh",        // non-zero trailing bits
            "Z",         // impossible length
            "Zm9v!",     // invalid character
            &format!("{KA}="),
        ] {
            assert_eq!(decode_strict(bad), None, "{bad:?}");
        }
        // KA with non-zero trailing bits (vectors.md §4).
        assert_eq!(
            decode_strict("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"),
            None
        );
    }

    #[test]
    fn lenient_accepts_both_alphabets_and_canonical_padding() {
        let want = decode_strict(KA);
        assert!(want.is_some());
        assert_eq!(decode_lenient(KA), want);
        assert_eq!(decode_lenient(&format!("{KA}=")), want);
        assert_eq!(
            decode_lenient("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
            want
        );
        assert_eq!(
            decode_lenient("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            want
        );
        assert_eq!(decode_lenient("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_lenient("Zg").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_lenient("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn lenient_rejects_mixed_alphabets_bad_padding_whitespace_trailing_bits() {
        for bad in [
            "-/8",                                         // mixed alphabets
            "+_8",                                         // mixed alphabets
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR+", // mixed alphabets
            "Zg=",                                         // incomplete padding
            "Zg===",                                       // excess padding
            "Zm9v=",                                       // padding where none belongs
            "Zm9v====",                                    // padding where none belongs
            "Zg=a",                                        // padding inside
            "=",                                           // padding only
            "Zm 9v",                                       // whitespace
            "Zm9v\t",                                      // whitespace
            "Zh==",                                        // non-zero trailing bits
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp", // non-zero trailing bits
            "not base64!",
        ] {
            assert_eq!(decode_lenient(bad), None, "{bad:?}");
        }
    }
}
