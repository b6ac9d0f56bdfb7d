//! The mapping's text forms of the well-known types pbjson-types writes differently: `Timestamp`, `FieldMask`.

use capacitor_schema::civil::civil_from_days;
use pbjson_types::Timestamp;
use std::fmt::Write as _;

/// A `Timestamp` as the mapping writes it: RFC 3339 in UTC with a `Z` suffix and 0, 3, 6 or 9 fractional
/// digits. Fails outside 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999999Z or with nanos outside
/// 0..1e9, which have no JSON form.
pub fn timestamp(t: &Timestamp) -> Result<String, String> {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    if !(MIN..=MAX).contains(&t.seconds) || !(0..1_000_000_000).contains(&t.nanos) {
        return Err(format!(
            "Timestamp {{ seconds: {}, nanos: {} }} is outside 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999999999Z",
            t.seconds, t.nanos
        ));
    }
    let (year, month, day) = civil_from_days(t.seconds.div_euclid(86_400));
    let secs = t.seconds.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    );
    // The shortest of 0, 3, 6 or 9 digits that holds the nanos exactly. Writing to a String cannot fail.
    let nanos = t.nanos;
    let _ = if nanos == 0 {
        Ok(())
    } else if nanos % 1_000_000 == 0 {
        write!(out, ".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        write!(out, ".{:06}", nanos / 1_000)
    } else {
        write!(out, ".{nanos:09}")
    };
    out.push('Z');
    Ok(out)
}

/// A `FieldMask`'s paths as the mapping writes them: one comma-separated string of lowerCamel paths. Fails on
/// a path with no lowerCamel form (an upper-case letter, `__`, `_` before a non-letter, a trailing `_`),
/// because it would not read back as the same path.
pub fn field_mask_to_json(paths: &[String]) -> Result<String, String> {
    let mut out = String::new();
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut upper = false;
        for c in path.chars() {
            if c.is_ascii_uppercase() {
                return Err(format!(
                    "FieldMask path `{path}` has an upper-case letter: no JSON form"
                ));
            }
            if c == '_' {
                if upper {
                    return Err(format!("FieldMask path `{path}` has `__`: no JSON form"));
                }
                upper = true;
            } else if upper {
                if !c.is_ascii_lowercase() {
                    return Err(format!(
                        "FieldMask path `{path}` has `_` before a non-letter: no JSON form"
                    ));
                }
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        if upper {
            return Err(format!("FieldMask path `{path}` ends in `_`: no JSON form"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64, nanos: i32) -> Result<String, String> {
        timestamp(&Timestamp { seconds, nanos })
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts(0, 0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(ts(-1, 500_000_000).unwrap(), "1969-12-31T23:59:59.500Z");
        assert_eq!(ts(1, 1_000).unwrap(), "1970-01-01T00:00:01.000001Z");
        assert_eq!(ts(1, 1).unwrap(), "1970-01-01T00:00:01.000000001Z");
        assert_eq!(ts(-62_135_596_800, 0).unwrap(), "0001-01-01T00:00:00Z");
        assert_eq!(
            ts(253_402_300_799, 999_999_999).unwrap(),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert!(ts(-62_135_596_801, 0).is_err());
        assert!(ts(253_402_300_800, 0).is_err());
        assert!(ts(0, -1).is_err());
        assert!(ts(0, 1_000_000_000).is_err());
    }

    #[test]
    fn field_masks() {
        let paths = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(field_mask_to_json(&paths(&[])).unwrap(), "");
        assert_eq!(
            field_mask_to_json(&paths(&["user_id", "a.b_c"])).unwrap(),
            "userId,a.bC"
        );
        for bad in ["fooBar", "a__b", "a_1", "a_"] {
            assert!(field_mask_to_json(&paths(&[bad])).is_err(), "{bad}");
        }
    }
}
