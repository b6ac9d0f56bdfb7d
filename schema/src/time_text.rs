//! Durations and timestamps as CEL reads and writes them: Go's duration syntax (`1h30m`), RFC 3339
//! timestamps, and CEL's ranges (a duration is a signed 64-bit count of nanoseconds, a timestamp lies in years
//! 1 to 9999). The code generator folds constant `duration('10s')` with these, and the runtime evaluates the
//! same functions on values, so both read a literal the same way.
//!
//! ```
//! use capacitor_schema::time_text::{duration, format_duration, timestamp, TimeError};
//! assert_eq!(duration("1m30s"), Ok((90, 0)));
//! assert_eq!(format_duration((-90, -500_000_000)), "-90.5s");
//! assert_eq!(timestamp("2009-02-13T23:31:30Z"), Ok((1_234_567_890, 0)));
//! assert_eq!(duration("1d"), Err(TimeError::Syntax));
//! ```

use std::fmt::Write as _;

/// Why a duration or timestamp could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// The text does not spell one.
    Syntax,
    /// The value is outside CEL's range.
    Range,
}

const NANOS: i128 = 1_000_000_000;
/// CEL durations are those of cel-go: a signed 64-bit count of nanoseconds.
const MAX_DURATION_NANOS: i128 = i64::MAX as i128;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z, CEL's timestamp range.
const MIN_TIMESTAMP: i64 = -62_135_596_800;
const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// (seconds, nanos) as nanoseconds.
pub fn to_nanos(t: (i64, i32)) -> i128 {
    i128::from(t.0) * NANOS + i128::from(t.1)
}

fn from_nanos(n: i128) -> (i64, i32) {
    // Durations keep the sign on both parts, as protobuf's Duration does.
    ((n / NANOS) as i64, (n % NANOS) as i32)
}

fn duration_checked(n: i128) -> Result<(i64, i32), TimeError> {
    if (-MAX_DURATION_NANOS..=MAX_DURATION_NANOS).contains(&n) {
        Ok(from_nanos(n))
    } else {
        Err(TimeError::Range)
    }
}

fn timestamp_checked(n: i128) -> Result<(i64, i32), TimeError> {
    let (s, ns) = (n.div_euclid(NANOS) as i64, n.rem_euclid(NANOS) as i32);
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&s) {
        Ok((s, ns))
    } else {
        Err(TimeError::Range)
    }
}

/// `duration + duration`.
pub fn duration_add(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), TimeError> {
    duration_checked(to_nanos(a) + to_nanos(b))
}

/// `duration - duration`.
pub fn duration_sub(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), TimeError> {
    duration_checked(to_nanos(a) - to_nanos(b))
}

/// `-duration`.
pub fn duration_neg(a: (i64, i32)) -> Result<(i64, i32), TimeError> {
    duration_checked(-to_nanos(a))
}

/// `timestamp + duration` (and `timestamp - duration` with `sign` -1).
pub fn timestamp_add(t: (i64, i32), d: (i64, i32), sign: i8) -> Result<(i64, i32), TimeError> {
    timestamp_checked(to_nanos(t) + i128::from(sign) * to_nanos(d))
}

/// `timestamp - timestamp`.
pub fn timestamp_sub(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), TimeError> {
    duration_checked(to_nanos(a) - to_nanos(b))
}

/// `duration('1h30m')`: a sequence of decimal numbers with units `h`, `m`, `s`, `ms`, `us`, `ns`, with an
/// optional sign (Go's `time.ParseDuration`, as CEL uses).
pub fn duration(s: &str) -> Result<(i64, i32), TimeError> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((0, 0));
    }
    if rest.is_empty() {
        return Err(TimeError::Syntax);
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(TimeError::Syntax)?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "h" => 3600 * NANOS,
            "m" => 60 * NANOS,
            "s" => NANOS,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return Err(TimeError::Syntax),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(TimeError::Syntax);
        }
        let whole: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| TimeError::Syntax)?
        };
        let mut part = whole.checked_mul(scale).ok_or(TimeError::Range)?;
        let mut unit_scale = scale;
        for d in frac.bytes() {
            unit_scale /= 10;
            part += i128::from(d - b'0') * unit_scale;
        }
        total += part;
        if total > MAX_DURATION_NANOS + 1 {
            return Err(TimeError::Range);
        }
        rest = tail;
    }
    duration_checked(if neg { -total } else { total })
}

/// `timestamp('2009-02-13T23:31:30Z')`: RFC 3339, `Z` or a numeric offset.
pub fn timestamp(s: &str) -> Result<(i64, i32), TimeError> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, TimeError> {
        let t = s.get(r).ok_or(TimeError::Syntax)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().map_err(|_| TimeError::Syntax)
        } else {
            Err(TimeError::Syntax)
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return Err(TimeError::Syntax);
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(TimeError::Syntax);
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return Err(TimeError::Syntax);
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return Err(TimeError::Syntax);
        }
        nanos = digits.parse::<i64>().map_err(|_| TimeError::Syntax)?
            * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match &s[i..] {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(o.as_bytes()[0], b'+' | b'-') && o.as_bytes()[3] == b':' => {
            let mins = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if o.as_bytes()[0] == b'-' { -mins } else { mins }
        }
        _ => return Err(TimeError::Syntax),
    };
    let secs =
        crate::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60;
    timestamp_checked(i128::from(secs) * NANOS + i128::from(nanos))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `string(timestamp)`: RFC 3339 in UTC, with as many fractional digits as needed.
pub fn format_timestamp(t: (i64, i32)) -> String {
    let (days, secs) = (t.0.div_euclid(86_400), t.0.rem_euclid(86_400));
    let (y, m, d) = crate::civil::civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    push_fraction(&mut out, t.1.unsigned_abs());
    out.push('Z');
    out
}

/// `string(duration)`: seconds with a fraction when needed, `s` suffix (`90s`, `1.5s`).
pub fn format_duration(d: (i64, i32)) -> String {
    let n = to_nanos(d);
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    let n = n.unsigned_abs();
    let _ = write!(out, "{}", n / NANOS as u128);
    push_fraction(&mut out, (n % NANOS as u128) as u32);
    out.push('s');
    out
}

fn push_fraction(out: &mut String, nanos: u32) {
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(duration("10s"), Ok((10, 0)));
        assert_eq!(duration("-1.5h"), Ok((-5400, 0)));
        assert_eq!(duration("1m30.25s"), Ok((90, 250_000_000)));
        assert_eq!(duration("100ms"), Ok((0, 100_000_000)));
        assert_eq!(duration("1d"), Err(TimeError::Syntax));
        assert_eq!(duration(""), Err(TimeError::Syntax));
        assert_eq!(duration("3000000h"), Err(TimeError::Range));
    }

    #[test]
    fn timestamps_round_trip_rfc3339() {
        assert_eq!(timestamp("1970-01-01T00:00:00Z"), Ok((0, 0)));
        assert_eq!(
            timestamp("2009-02-14T00:31:30.5+01:00"),
            Ok((1_234_567_890, 500_000_000))
        );
        assert_eq!(timestamp("2009-02-30T00:00:00Z"), Err(TimeError::Syntax));
        assert_eq!(timestamp("10000-01-01T00:00:00Z"), Err(TimeError::Syntax));
        assert_eq!(
            format_timestamp((1_234_567_890, 500_000_000)),
            "2009-02-13T23:31:30.5Z"
        );
        assert_eq!(format_timestamp((-1, 0)), "1969-12-31T23:59:59Z");
        assert_eq!(timestamp_add((0, 0), (-1, 0), 1), Ok((-1, 0)));
        assert_eq!(
            timestamp_add((253_402_300_799, 0), (1, 0), 1),
            Err(TimeError::Range)
        );
    }
}
