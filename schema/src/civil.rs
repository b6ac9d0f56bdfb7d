//! Proleptic Gregorian calendar arithmetic on days since the Unix epoch (1970-01-01), after Howard Hinnant's
//! [`days_from_civil` / `civil_from_days`](https://howardhinnant.github.io/date_algorithms.html).
//!
//! One copy serves both sides of `google.protobuf.Timestamp`'s text form (RFC 3339): the runtime's proto3 JSON
//! mapping writes dates with [`civil_from_days`], the derive reads `Timestamp` literals in rules with
//! [`days_from_civil`].

/// Days from 1970-01-01 to `year-month-day` (month 1–12, day 1–31), negative before the epoch.
///
/// Valid for every date whose day count fits in an `i64` with room for the 400-year era arithmetic; the
/// proto3 JSON range (years 0001–9999) is far inside it.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Years start in March so that the leap day is the last day of the (shifted) year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month 1–12, day 1–31)` that lies `days` days after 1970-01-01; the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01 so that each 400-year era starts on a March 1st.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn round_trip_over_the_json_range() {
        // 0001-01-01 to 9999-12-31, every 7th day (crossing every month length and leap rule).
        for days in (-719_162..=2_932_896).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!(
                (1..=12).contains(&m) && (1..=31).contains(&d),
                "{days}: {y}-{m}-{d}"
            );
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
