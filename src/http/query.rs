//! `application/x-www-form-urlencoded` decoding, shared by query strings and form bodies ([`super::form`]).

use crate::crypto::hex;

/// Decodes `a=1&b=x+y` into pairs, per the URL standard (`+` is a space, bad escapes kept).
pub fn pairs(input: &str) -> Vec<(String, String)> {
    iter(input).collect()
}

/// [`pairs`], decoded lazily: a caller that stops early decodes nothing after that point.
pub fn iter(input: &str) -> impl Iterator<Item = (String, String)> + '_ {
    input.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

/// Percent-decodes one component; invalid UTF-8 is replaced, never an error.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex::nibble(bytes[i + 1]), hex::nibble(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(
            pairs("a=1&b=x+y&c=%41%zz&d"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "A%zz".into()),
                ("d".into(), "".into()),
            ]
        );
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%E2%82%AC"), "€");
    }
}
