//! Hex: the one encoder (ids, stored hashes, MAC comparisons) and the one nibble decoder
//! (percent-escapes in query strings and `htu` URLs) of the crate.

const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Lowercase hex of `bytes`, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b & 0x0F));
    }
    s
}

/// The lowercase digit of a nibble (`0..=15`; higher bits are ignored).
pub fn digit(nibble: u8) -> char {
    char::from(LOWER[usize::from(nibble & 0x0F)])
}

/// The uppercase digit of a nibble: percent-escapes are normalised to uppercase (RFC 3986 §6.2.2.1).
pub fn upper_digit(nibble: u8) -> char {
    char::from(UPPER[usize::from(nibble & 0x0F)])
}

/// The value of one hex digit, either case; anything else is `None`.
pub fn nibble(c: u8) -> Option<u8> {
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

    #[test]
    fn encodes_lowercase_two_digits_a_byte() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(upper_digit(0xa), 'A');
        assert_eq!(digit(0xa), 'a');
    }

    #[test]
    fn nibble_decodes_both_cases_and_nothing_else() {
        for (i, c) in "0123456789abcdef".bytes().enumerate() {
            assert_eq!(nibble(c), u8::try_from(i).ok());
            assert_eq!(nibble(c.to_ascii_uppercase()), u8::try_from(i).ok());
        }
        for c in [b'g', b'G', b'/', b':', b'@', b'`', b' ', 0xff] {
            assert_eq!(nibble(c), None, "{c}");
        }
    }

    #[test]
    fn nibbles_round_trip_every_byte() {
        for b in 0..=u8::MAX {
            let h = encode(&[b]).into_bytes();
            assert_eq!(
                nibble(h[0]).zip(nibble(h[1])).map(|(hi, lo)| hi << 4 | lo),
                Some(b)
            );
        }
    }
}
