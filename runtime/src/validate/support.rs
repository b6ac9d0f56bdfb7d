//! Small helpers that generated validators call. Each is allocation-free.

#[doc(hidden)]
pub use regex;

use std::time::{SystemTime, UNIX_EPOCH};

/// The length of `s` in Unicode code points (protovalidate's string length).
///
/// ASCII text (the common case) is answered by a word-at-a-time ASCII check instead of counting.
#[inline]
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Whether every item differs from every other (`repeated.unique`). Compares by `==`, so `NaN`s are unique.
pub fn is_unique<T: PartialEq>(items: &[T]) -> bool {
    super::cel::is_unique(items.iter())
}

/// The current time as (seconds, nanos) since the Unix epoch, for `lt_now`, `gt_now` and `within`.
pub fn now() -> (i64, i32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i32),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos() as i32);
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// Adds (`sign` = 1) or subtracts (`sign` = -1) a duration to a timestamp, normalized.
pub fn time_add(t: (i64, i32), d: (i64, i32), sign: i64) -> (i64, i32) {
    let total = i128::from(t.0) * 1_000_000_000
        + i128::from(t.1)
        + sign as i128 * (i128::from(d.0) * 1_000_000_000 + i128::from(d.1));
    (
        total.div_euclid(1_000_000_000) as i64,
        total.rem_euclid(1_000_000_000) as i32,
    )
}

/// Whether a `google.protobuf.Duration` is valid (|seconds| ≤ 10,000 years, nanos of the same sign).
pub fn duration_is_valid(seconds: i64, nanos: i32) -> bool {
    const MAX: i64 = 315_576_000_000;
    (-MAX..=MAX).contains(&seconds)
        && (-999_999_999..=999_999_999).contains(&nanos)
        && !(seconds > 0 && nanos < 0 || seconds < 0 && nanos > 0)
}

/// Whether a `google.protobuf.Timestamp` is valid (0001-01-01 to 9999-12-31, nanos in range).
pub fn timestamp_is_valid(seconds: i64, nanos: i32) -> bool {
    (-62_135_596_800..=253_402_300_799).contains(&seconds) && (0..=999_999_999).contains(&nanos)
}

/// Whether `path` is `entry` or lies below it (`a.b` below `a`), as field mask rules compare paths.
fn covers(entry: &str, path: &str) -> bool {
    path.strip_prefix(entry)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `field_mask.in`: every path of the mask is one of `allowed` or lies below one of them.
pub fn field_mask_in(paths: &[String], allowed: &[&str]) -> bool {
    paths
        .iter()
        .all(|p| allowed.iter().any(|entry| covers(entry, p)))
}

/// `field_mask.not_in`: no path of the mask is one of `denied` or lies below one of them.
pub fn field_mask_not_in(paths: &[String], denied: &[&str]) -> bool {
    !paths
        .iter()
        .any(|p| denied.iter().any(|entry| covers(entry, p)))
}

/// `field_mask.const`: the mask holds exactly `expected`, in that order (CEL list equality, as upstream).
pub fn field_mask_equals(paths: &[String], expected: &[&str]) -> bool {
    paths.len() == expected.len() && paths.iter().zip(expected).all(|(p, e)| p == e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn field_mask_in_accepts_listed_paths_and_paths_below_them() {
        assert!(field_mask_in(&mask(&["a", "a.b", "c.d.e"]), &["a", "c.d"]));
        assert!(field_mask_in(&mask(&[]), &["a"]));
        assert!(!field_mask_in(&mask(&["ab"]), &["a"]));
        assert!(!field_mask_in(&mask(&["c"]), &["c.d"]));
    }

    #[test]
    fn field_mask_not_in_refuses_listed_paths_and_paths_below_them() {
        assert!(!field_mask_not_in(&mask(&["x", "a.b"]), &["a"]));
        assert!(!field_mask_not_in(&mask(&["a"]), &["a"]));
        assert!(field_mask_not_in(&mask(&["ab", "b"]), &["a"]));
        assert!(field_mask_not_in(&mask(&["c"]), &["c.d"]));
    }

    #[test]
    fn field_mask_const_compares_paths_in_order() {
        assert!(field_mask_equals(&mask(&["a", "b"]), &["a", "b"]));
        assert!(!field_mask_equals(&mask(&["b", "a"]), &["a", "b"]));
        assert!(!field_mask_equals(&mask(&["a"]), &["a", "b"]));
        assert!(field_mask_equals(&mask(&[]), &[]));
    }
}
