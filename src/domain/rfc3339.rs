//! Strict RFC 3339 parsing to Unix microseconds, for timestamps received from Paddle
//! (`2026-01-01T00:00:00.000000Z`). Paddle's `occurred_at` ordering is compared at microsecond
//! precision (`api.md` 7.2), so nothing coarser will do.

use crate::domain::time::days_from_civil;

/// Parses `YYYY-MM-DD("T"|"t")hh:mm:ss[.fraction]("Z"|"z"|("+"|"-")hh:mm)` (RFC 3339 §5.6) to Unix
/// microseconds. The fraction has 1–9 digits; digits beyond the sixth are truncated. Month, day
/// (leap years included), hour, minute and second are range-checked; a leap second (`60`) is
/// rejected because Unix time cannot represent it. Anything else is `None`.
pub fn parse_rfc3339_us(s: &str) -> Option<i64> {
    let [y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T' | b't', time @ ..] = s.as_bytes()
    else {
        return None;
    };
    let [h0, h1, b':', mi0, mi1, b':', s0, s1, rest @ ..] = time else {
        return None;
    };
    let year = number(&[*y0, *y1, *y2, *y3])?;
    let month = number(&[*mo0, *mo1])?;
    let day = number(&[*d0, *d1])?;
    let hour = number(&[*h0, *h1])?;
    let minute = number(&[*mi0, *mi1])?;
    let second = number(&[*s0, *s1])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let (micros, zone) = fraction(rest)?;
    let offset_s = offset_seconds(zone)?;
    let days = days_from_civil(year, month as u32, day as u32);
    let unix_s = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    // Four-digit years keep this within ±3.2e17, far inside i64.
    Some(unix_s * 1_000_000 + micros)
}

/// Splits an optional `.digits` prefix off `rest`: (microseconds, remainder).
fn fraction(rest: &[u8]) -> Option<(i64, &[u8])> {
    let Some(after_dot) = rest.strip_prefix(b".") else {
        return Some((0, rest));
    };
    let len = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&len) {
        return None;
    }
    let (digits, zone) = after_dot.split_at(len);
    // Right-pad to six digits, or truncate beyond them.
    let micros = digits
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(6)
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some((micros, zone))
}

/// The zone designator as seconds east of UTC.
fn offset_seconds(zone: &[u8]) -> Option<i64> {
    match zone {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (hours, minutes) = (number(&[*h0, *h1])?, number(&[*m0, *m1])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

/// ASCII decimal digits only (`str::parse` would also take a sign).
fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_US: i64 = 1_767_225_600_000_000;

    fn p(s: &str) -> Option<i64> {
        parse_rfc3339_us(s)
    }

    #[test]
    fn known_instants() {
        assert_eq!(p("2026-01-01T00:00:00.000000Z"), Some(T0_US));
        assert_eq!(p("2026-01-01T00:00:00Z"), Some(T0_US));
        assert_eq!(p("2026-01-01T00:05:00.000Z"), Some(T0_US + 300_000_000));
        assert_eq!(
            p("2026-02-01T00:00:00.000000Z"),
            Some(1_769_904_000_000_000)
        );
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(p("2000-02-29T12:34:56Z"), Some(951_827_696_000_000));
        assert_eq!(p("2099-12-31T23:59:59.999Z"), Some(4_102_444_799_999_000));
        assert_eq!(p("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000_000));
        assert_eq!(
            p("9999-12-31T23:59:59.999999Z"),
            Some(253_402_300_799_999_999)
        );
    }

    #[test]
    fn fractions() {
        assert_eq!(p("2026-01-01T00:00:00.5Z"), Some(T0_US + 500_000));
        assert_eq!(p("2026-01-01T00:00:00.000001Z"), Some(T0_US + 1));
        assert_eq!(p("2026-01-01T00:00:00.123456Z"), Some(T0_US + 123_456));
        // Beyond microseconds: truncated, never rounded.
        assert_eq!(p("2026-01-01T00:00:00.1234567Z"), Some(T0_US + 123_456));
        assert_eq!(p("2026-01-01T00:00:00.999999999Z"), Some(T0_US + 999_999));
        assert_eq!(p("1969-12-31T23:59:59.9999999Z"), Some(-1));
    }

    #[test]
    fn offsets_and_lowercase_separators() {
        assert_eq!(p("2026-01-01T01:00:00+01:00"), Some(T0_US));
        assert_eq!(p("2025-12-31T19:00:00-05:00"), Some(T0_US));
        assert_eq!(p("2026-01-01T05:30:00.000001+05:30"), Some(T0_US + 1));
        assert_eq!(p("2026-01-01T00:00:00-00:00"), Some(T0_US));
        assert_eq!(p("2026-01-01T00:00:00+00:00"), Some(T0_US));
        assert_eq!(p("2025-12-31T00:01:00-23:59"), Some(T0_US));
        assert_eq!(p("2026-01-01t00:00:00z"), Some(T0_US));
        assert_eq!(p("2026-01-01t00:00:00.25Z"), Some(T0_US + 250_000));
    }

    #[test]
    fn calendar_ranges() {
        assert!(p("2024-02-29T00:00:00Z").is_some());
        assert!(p("2000-02-29T00:00:00Z").is_some());
        assert!(p("2026-04-30T23:59:59Z").is_some());
        assert!(p("2026-12-31T23:59:59Z").is_some());
        for bad in [
            "2025-02-29T00:00:00Z", // not a leap year
            "1900-02-29T00:00:00Z", // century, not a leap year
            "2024-02-30T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-32T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z", // leap second
            "2026-01-01T00:00:99Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_syntax() {
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",             // no zone
            "2026-01-01T00:00Z",               // no seconds
            "2026-01-01 00:00:00Z",            // space separator
            "2026-01-01T00:00:00.Z",           // empty fraction
            "2026-01-01T00:00:00,5Z",          // comma fraction
            "2026-01-01T00:00:00.1234567890Z", // ten digits
            "2026-01-01T00:00:00ZZ",
            "2026-01-01T00:00:00Z ",
            " 2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00+01",
            "2026-01-01T00:00:00+1:00",
            "2026-01-01T00:00:00UTC",
            "26-01-01T00:00:00Z",
            "20260-01-01T00:00:00Z",
            "+2026-01-01T00:00:00Z",
            "2026-+1-01T00:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026/01/01T00:00:00Z",
            "2026-01-01T0a:00:00Z",
            "２026-01-01T00:00:00Z", // non-ASCII digit
            "2026-01-01T00:00:00.５Z",
            "1767225600",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn days_from_civil_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
