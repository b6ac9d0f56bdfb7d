//! Duration and Timestamp literals of the derive (`"1.5s"`, `"2024-01-01T00:00:00Z"`).

use capacitor_schema::civil::days_from_civil;

/// `"30s"`, `"-1.5s"`, `"250ms"`, `"5m"`, `"2h"` → seconds and nanoseconds (both with the sign of the whole).
pub(super) fn parse_duration(text: &str) -> Option<(i64, i32)> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (number, nanos_per_unit): (&str, i128) = if let Some(n) = body.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = body.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = body.strip_suffix('m') {
        (n, 60_000_000_000)
    } else if let Some(n) = body.strip_suffix('h') {
        (n, 3_600_000_000_000)
    } else {
        return None;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if fraction.len() > 9 {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction_nanos: i128 = format!("{fraction:0<9}").parse().ok()?;
    let total = whole * nanos_per_unit + fraction_nanos * nanos_per_unit / 1_000_000_000;
    let total = if negative { -total } else { total };
    let seconds = i64::try_from(total / 1_000_000_000).ok()?;
    Some((seconds, (total % 1_000_000_000) as i32))
}

/// An RFC 3339 time (`2024-01-01T00:00:00Z`, `2024-01-01T01:00:00.5+01:00`) → seconds and nanoseconds since
/// the Unix epoch.
pub(super) fn parse_timestamp(text: &str) -> Option<(i64, i32)> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let fraction = &text[start..at];
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
        nanos = format!("{fraction:0<9}").parse().ok()?;
    }
    let offset = match &b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(at + 1..at + 3)?;
            let minutes = digits(at + 4..at + 6)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((seconds, nanos as i32))
}

pub(super) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some((30, 0)));
        assert_eq!(parse_duration("1.5s"), Some((1, 500_000_000)));
        assert_eq!(parse_duration("-1.5s"), Some((-1, -500_000_000)));
        assert_eq!(parse_duration("250ms"), Some((0, 250_000_000)));
        assert_eq!(parse_duration("5m"), Some((300, 0)));
        assert_eq!(parse_duration("2h"), Some((7200, 0)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("1.0000000001s"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_timestamp("2024-01-01T00:00:00Z"),
            Some((1_704_067_200, 0))
        );
        assert_eq!(
            parse_timestamp("2024-01-01T01:00:00.25+01:00"),
            Some((1_704_067_200, 250_000_000))
        );
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Some((-1, 0)));
        assert_eq!(parse_timestamp("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2024-01-01 00:00:00"), None);
    }
}
