//! What the CEL rules capgen compiles call at run time: evaluation errors, CEL's checked conversions, time
//! arithmetic with CEL's ranges, and `format`.
//!
//! capgen type-checks a rule's expression against the schema and lowers it to plain Rust; the few operations
//! that can fail at run time (integer overflow, division by zero, a missing map key, a conversion out of
//! range) return an [`EvalError`], which the validator reports as protovalidate's *runtime error*
//! ([`RuntimeError`](super::RuntimeError)).
//!
//! ```
//! use capacitor::validate::cel;
//! assert_eq!(cel::duration("1m30s"), Ok((90, 0)));
//! assert_eq!(cel::int_from_double(1e19), Err(cel::EvalError::RANGE));
//! assert_eq!(cel::format("%s has %d items", &[cel::Arg::Str("cart"), cel::Arg::Int(3)]).unwrap(), "cart has 3 items");
//! ```

use std::cmp::Ordering;
use std::fmt::Write as _;

/// Why a CEL expression could not be evaluated: one of a fixed set of phrases, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalError(&'static str);

impl EvalError {
    /// An `int` or `uint` result outside its type.
    pub const OVERFLOW: EvalError = EvalError("integer overflow");
    /// `x / 0` or `x % 0` on integers.
    pub const DIVIDE_BY_ZERO: EvalError = EvalError("division by zero");
    /// A conversion whose value is outside the target type (`int(1e19)`, `uint(-1)`).
    pub const RANGE: EvalError = EvalError("conversion out of range");
    /// A string that does not spell a value of the target type (`int('x')`, `duration('1y')`).
    pub const SYNTAX: EvalError = EvalError("invalid conversion");
    /// `map[key]` for a key the map does not hold.
    pub const NO_SUCH_KEY: EvalError = EvalError("no such key");
    /// `list[i]` outside the list.
    pub const INDEX: EvalError = EvalError("index out of range");
    /// A duration or timestamp outside CEL's range.
    pub const TIME_RANGE: EvalError = EvalError("duration or timestamp out of range");
    /// `string(bytes)` of bytes that are not UTF-8.
    pub const UTF8: EvalError = EvalError("invalid UTF-8");
    /// An operator applied to values whose types it does not take (possible only through `dyn`).
    pub const NO_OVERLOAD: EvalError = EvalError("no such overload");
    /// A `format` verb that does not fit its argument, or too few arguments.
    pub const FORMAT: EvalError = EvalError("invalid format");
    /// A `matches` pattern computed at evaluation that is not a valid regular expression (RE2 syntax).
    pub const PATTERN: EvalError = EvalError("invalid regular expression");

    /// The phrase.
    pub fn reason(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for EvalError {}

/// `int(uint)`.
pub fn int_from_uint(v: u64) -> Result<i64, EvalError> {
    i64::try_from(v).map_err(|_| EvalError::RANGE)
}

/// `uint(int)`.
pub fn uint_from_int(v: i64) -> Result<u64, EvalError> {
    u64::try_from(v).map_err(|_| EvalError::RANGE)
}

/// `int(double)`: truncates toward zero; NaN, infinities and values outside `int` are errors.
pub fn int_from_double(v: f64) -> Result<i64, EvalError> {
    // -2^63 is exact in f64; 2^63 is the first value above i64::MAX.
    if v.is_finite() && v > -9_223_372_036_854_775_808.0 - 1024.0 && v < 9_223_372_036_854_775_808.0
    {
        Ok(v as i64)
    } else {
        Err(EvalError::RANGE)
    }
}

/// `uint(double)`.
pub fn uint_from_double(v: f64) -> Result<u64, EvalError> {
    if v.is_finite() && v > -1.0 && v < 18_446_744_073_709_551_616.0 {
        Ok(v as u64)
    } else {
        Err(EvalError::RANGE)
    }
}

/// `int(string)`.
pub fn int_from_str(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| EvalError::SYNTAX)
}

/// `uint(string)`.
pub fn uint_from_str(s: &str) -> Result<u64, EvalError> {
    s.parse().map_err(|_| EvalError::SYNTAX)
}

/// `double(string)`.
pub fn double_from_str(s: &str) -> Result<f64, EvalError> {
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" | "+Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| EvalError::SYNTAX),
    }
}

/// `string(bytes)`.
pub fn string_from_bytes(b: &[u8]) -> Result<String, EvalError> {
    String::from_utf8(b.to_vec()).map_err(|_| EvalError::UTF8)
}

/// `string(double)`, as CEL prints doubles (`1.5`, `1e+100`, `NaN`, `+Inf`… spelled as cel-go does).
pub fn string_from_double(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v == v.trunc() && v.abs() < 1e21 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// `a < b` for an `int` and a `uint` (CEL compares numbers across types by value).
pub fn cmp_int_uint(a: i64, b: u64) -> Ordering {
    if a < 0 {
        Ordering::Less
    } else {
        (a as u64).cmp(&b)
    }
}

/// An `int` against a `double`, as cel-go (protovalidate's reference) compares them: a double beyond `int`'s range
/// is above or below every `int`; otherwise the `int` is converted to `double` (so `9223372036854775807` equals
/// `9223372036854775808.0`). `None` when the double is NaN.
pub fn cmp_int_double(a: i64, b: f64) -> Option<Ordering> {
    if b.is_nan() {
        None
    } else if b < i64::MIN as f64 {
        Some(Ordering::Greater)
    } else if b > i64::MAX as f64 {
        Some(Ordering::Less)
    } else {
        (a as f64).partial_cmp(&b)
    }
}

/// A `uint` against a `double`, the same way: the `uint` converted to `double` within `uint`'s range.
pub fn cmp_uint_double(a: u64, b: f64) -> Option<Ordering> {
    if b.is_nan() {
        None
    } else if b < 0.0 {
        Some(Ordering::Greater)
    } else if b > u64::MAX as f64 {
        Some(Ordering::Less)
    } else {
        (a as f64).partial_cmp(&b)
    }
}

use capacitor_schema::time_text::{self, TimeError};

impl From<TimeError> for EvalError {
    fn from(e: TimeError) -> Self {
        match e {
            TimeError::Syntax => EvalError::SYNTAX,
            TimeError::Range => EvalError::TIME_RANGE,
        }
    }
}

/// `duration + duration`.
pub fn duration_add(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), EvalError> {
    Ok(time_text::duration_add(a, b)?)
}

/// `duration - duration`.
pub fn duration_sub(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), EvalError> {
    Ok(time_text::duration_sub(a, b)?)
}

/// `-duration`.
pub fn duration_neg(a: (i64, i32)) -> Result<(i64, i32), EvalError> {
    Ok(time_text::duration_neg(a)?)
}

/// `timestamp + duration` (and `timestamp - duration` with `sign` -1).
pub fn timestamp_add(t: (i64, i32), d: (i64, i32), sign: i8) -> Result<(i64, i32), EvalError> {
    Ok(time_text::timestamp_add(t, d, sign)?)
}

/// `timestamp - timestamp`.
pub fn timestamp_sub(a: (i64, i32), b: (i64, i32)) -> Result<(i64, i32), EvalError> {
    Ok(time_text::timestamp_sub(a, b)?)
}

/// `duration(string)`: Go's duration syntax (`1h30m`, `-1.5s`, `100ms`).
pub fn duration(s: &str) -> Result<(i64, i32), EvalError> {
    Ok(time_text::duration(s)?)
}

/// `timestamp(string)`: RFC 3339.
pub fn timestamp(s: &str) -> Result<(i64, i32), EvalError> {
    Ok(time_text::timestamp(s)?)
}

pub use time_text::{format_duration, format_timestamp};

/// One argument of [`format()`].
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    /// A `string`.
    Str(&'a str),
    /// A `bytes`.
    Bytes(&'a [u8]),
    /// An `int`.
    Int(i64),
    /// A `uint`.
    Uint(u64),
    /// A `double`.
    Double(f64),
    /// A `bool`.
    Bool(bool),
    /// A `google.protobuf.Duration` as (seconds, nanos).
    Duration((i64, i32)),
    /// A `google.protobuf.Timestamp` as (seconds, nanos).
    Timestamp((i64, i32)),
    /// A list.
    List(Vec<Arg<'a>>),
    /// `null`.
    Null,
}

impl Arg<'_> {
    fn write_s(&self, out: &mut String) -> Result<(), EvalError> {
        match self {
            Arg::Str(s) => out.push_str(s),
            Arg::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
            Arg::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Arg::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            Arg::Double(d) => {
                out.push_str(&non_finite(*d).map_or_else(|| string_from_double(*d), Into::into))
            }
            Arg::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Arg::Duration(d) => out.push_str(&format_duration(*d)),
            Arg::Timestamp(t) => out.push_str(&format_timestamp(*t)),
            Arg::Null => out.push_str("null"),
            Arg::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_s(out)?;
                }
                out.push(']');
            }
        }
        Ok(())
    }
}

/// How the format writes a NaN or an infinity (`%s`, `%d`, `%f`, `%e` alike); `None` for a finite double.
fn non_finite(d: f64) -> Option<&'static str> {
    if d.is_nan() {
        Some("NaN")
    } else if d.is_infinite() {
        Some(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        None
    }
}

/// `'template'.format([args])` of CEL's strings extension: `%s`, `%d`, `%f` (with an optional precision,
/// `%.2f`), `%e`, `%x`, `%X`, `%o`, `%b` and `%%`.
pub fn format(template: &str, args: &[Arg<'_>]) -> Result<String, EvalError> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            precision = Some(p);
        }
        let verb = chars.next().ok_or(EvalError::FORMAT)?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.next().ok_or(EvalError::FORMAT)?;
        match (verb, arg) {
            ('s', a) => a.write_s(&mut out)?,
            ('d', Arg::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            ('d', Arg::Uint(u)) => {
                let _ = write!(out, "{u}");
            }
            ('d' | 'f' | 'e', Arg::Double(d)) if !d.is_finite() => {
                out.push_str(non_finite(*d).unwrap_or_default());
            }
            ('f', Arg::Double(d)) => {
                let _ = write!(out, "{d:.*}", precision.unwrap_or(6));
            }
            ('f', Arg::Int(i)) => {
                let _ = write!(out, "{:.*}", precision.unwrap_or(6), *i as f64);
            }
            ('e', Arg::Double(d)) => {
                // Rust writes `1.5e3`; the format's (Go's) form is `1.5e+03`: a sign and at least two digits.
                let text = format!("{d:.*e}", precision.unwrap_or(6));
                let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
                let exp: i32 = exp.parse().unwrap_or_default();
                let sign = if exp < 0 { '-' } else { '+' };
                let _ = write!(out, "{mantissa}e{sign}{:02}", exp.unsigned_abs());
            }
            ('x' | 'X', a) => {
                let start = out.len();
                match a {
                    Arg::Int(i) if *i < 0 => {
                        let _ = write!(out, "-{:x}", i.unsigned_abs());
                    }
                    Arg::Int(i) => {
                        let _ = write!(out, "{i:x}");
                    }
                    Arg::Uint(u) => {
                        let _ = write!(out, "{u:x}");
                    }
                    Arg::Str(s) => s.bytes().for_each(|b| {
                        let _ = write!(out, "{b:02x}");
                    }),
                    Arg::Bytes(bs) => bs.iter().for_each(|b| {
                        let _ = write!(out, "{b:02x}");
                    }),
                    _ => return Err(EvalError::FORMAT),
                }
                if verb == 'X' {
                    out[start..].make_ascii_uppercase();
                }
            }
            ('o', Arg::Int(i)) => {
                let _ = write!(out, "{i:o}");
            }
            ('o', Arg::Uint(u)) => {
                let _ = write!(out, "{u:o}");
            }
            ('b', Arg::Int(i)) => {
                let _ = write!(out, "{i:b}");
            }
            ('b', Arg::Uint(u)) => {
                let _ = write!(out, "{u:b}");
            }
            ('b', Arg::Bool(b)) => out.push(if *b { '1' } else { '0' }),
            _ => return Err(EvalError::FORMAT),
        }
    }
    Ok(out)
}

/// The byte offset of the `i`-th code point of `s` (`s.len()` for `i` = the number of code points), if any.
fn char_offset(s: &str, i: i64) -> Option<usize> {
    let i = usize::try_from(i).ok()?;
    s.char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(s.len()))
        .nth(i)
}

/// `s.charAt(i)`: the code point at `i` as a string; `""` at the end; an error beyond it.
pub fn char_at(s: &str, i: i64) -> Result<&str, EvalError> {
    let start = char_offset(s, i).ok_or(EvalError::INDEX)?;
    let end = s[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    Ok(&s[start..end])
}

/// `s.indexOf(sub[, from])`: the code point index of the first `sub` at or after `from`, or -1.
pub fn index_of(s: &str, sub: &str, from: Option<i64>) -> Result<i64, EvalError> {
    let start = char_offset(s, from.unwrap_or(0)).ok_or(EvalError::INDEX)?;
    Ok(s[start..]
        .find(sub)
        .map_or(-1, |at| size(s[..start + at].chars().count())))
}

/// `s.lastIndexOf(sub[, before])`: the code point index of the last `sub` starting at or before `before`, or -1.
pub fn last_index_of(s: &str, sub: &str, before: Option<i64>) -> Result<i64, EvalError> {
    let end = match before {
        None => s.len(),
        Some(b) => {
            let at = char_offset(s, b).ok_or(EvalError::INDEX)?;
            // A match may start at `before`: search up to its start plus the substring.
            (at + sub.len()).min(s.len())
        }
    };
    let end = (0..=end)
        .rev()
        .find(|e| s.is_char_boundary(*e))
        .unwrap_or(0);
    Ok(s[..end]
        .rfind(sub)
        .map_or(-1, |at| size(s[..at].chars().count())))
}

/// `s.replace(from, to[, n])`: the first `n` occurrences (all when `n` is absent or negative).
pub fn replace(s: &str, from: &str, to: &str, n: Option<i64>) -> String {
    match n {
        Some(n) if n >= 0 => s.replacen(from, to, usize::try_from(n).unwrap_or(usize::MAX)),
        _ => s.replace(from, to),
    }
}

/// `s.split(sep[, n])`: at most `n` parts (all when absent or negative, none when 0).
pub fn split<'a>(s: &'a str, sep: &str, n: Option<i64>) -> Vec<&'a str> {
    let split_all = |s: &'a str| -> Vec<&'a str> {
        if sep.is_empty() {
            s.char_indices()
                .map(|(i, c)| &s[i..i + c.len_utf8()])
                .collect()
        } else {
            s.split(sep).collect()
        }
    };
    match n {
        Some(0) => Vec::new(),
        Some(n) if n > 0 => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if sep.is_empty() {
                let mut parts = split_all(s);
                if parts.len() > n {
                    let rest_at: usize = parts[..n - 1].iter().map(|p| p.len()).sum();
                    parts.truncate(n - 1);
                    parts.push(&s[rest_at..]);
                }
                parts
            } else {
                s.splitn(n, sep).collect()
            }
        }
        _ => split_all(s),
    }
}

/// `s.substring(start[, end])`: code points `start..end`; an error when out of range or reversed.
pub fn substring(s: &str, start: i64, end: Option<i64>) -> Result<&str, EvalError> {
    let a = char_offset(s, start).ok_or(EvalError::INDEX)?;
    let b = match end {
        None => s.len(),
        Some(e) => char_offset(s, e).ok_or(EvalError::INDEX)?,
    };
    if a > b {
        return Err(EvalError::INDEX);
    }
    Ok(&s[a..b])
}

/// `list.join([sep])`.
pub fn join<'a>(items: impl Iterator<Item = &'a str>, sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item);
    }
    out
}

/// `strings.quote(s)`: `s` in double quotes with `\\`, `"` and control characters escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s.reverse()`, by code point.
pub fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}

/// A calendar or clock field of a timestamp `offset` seconds east of UTC: `year`, `month` (0-based),
/// `day_of_year` (0-based), `day_of_month` (0-based), `date` (1-based), `day_of_week` (0 = Sunday), `hours`,
/// `minutes`, `seconds`, `milliseconds` — CEL's `getFullYear()` … `getMilliseconds()`.
pub fn timestamp_part(t: (i64, i32), part: &str, offset: i64) -> i64 {
    use capacitor_schema::civil::{civil_from_days, days_from_civil};
    let local = t.0 + offset;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    match part {
        "year" => y,
        "month" => m - 1,
        "day_of_year" => days - days_from_civil(y, 1, 1),
        "day_of_month" => d - 1,
        "date" => d,
        // 1970-01-01 was a Thursday.
        "day_of_week" => (days + 4).rem_euclid(7),
        "hours" => secs / 3600,
        "minutes" => secs / 60 % 60,
        "seconds" => secs % 60,
        _ => i64::from(t.1 / 1_000_000),
    }
}

/// An operation whose operand types do not fit, found at evaluation (through `dyn`).
pub fn no_overload<T>() -> Result<T, EvalError> {
    Err(EvalError::NO_OVERLOAD)
}

/// `matches` with a pattern computed at evaluation (`this.code.matches(this.pattern)`): each distinct pattern is
/// compiled once and kept in a cache shared by every thread (bounded: 256 patterns); an invalid one is
/// [`EvalError::PATTERN`]. A constant pattern is compiled by capgen instead, and checked at build time.
///
/// ```
/// use capacitor::validate::cel;
/// assert_eq!(cel::matches("SKU-12", "^SKU-[0-9]+$"), Ok(true));
/// assert_eq!(cel::matches("sku", "(unclosed"), Err(cel::EvalError::PATTERN));
/// ```
pub fn matches(text: &str, pattern: &str) -> Result<bool, EvalError> {
    type Patterns = quick_cache::sync::Cache<String, Option<regex::Regex>>;
    static PATTERNS: std::sync::LazyLock<Patterns> =
        std::sync::LazyLock::new(|| Patterns::new(256));
    let compiled = PATTERNS
        .get_or_insert_with(pattern, || {
            Ok::<_, std::convert::Infallible>(regex::Regex::new(pattern).ok())
        })
        .unwrap_or_else(|never| match never {});
    compiled
        .map(|re| re.is_match(text))
        .ok_or(EvalError::PATTERN)
}

/// `size()`: a length as CEL's `int`.
pub fn size(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// `isIp(version)`: version 0 is either; a version other than 0, 4 or 6 matches nothing.
pub fn is_ip(s: &str, version: i64) -> bool {
    matches!(version, 0 | 4 | 6) && super::format::is_ip(s, version as u8)
}

/// `isIpPrefix(version, strict)`: version 0 is either; another version than 0, 4 or 6 matches nothing.
pub fn is_ip_prefix(s: &str, version: i64, strict: bool) -> bool {
    matches!(version, 0 | 4 | 6) && super::format::is_ip_prefix(s, version as u8, strict)
}

/// `isInf(sign)`: positive infinity for a positive sign, negative for a negative one, either for 0.
pub fn is_inf(v: f64, sign: i64) -> bool {
    match sign {
        0 => v.is_infinite(),
        s if s > 0 => v == f64::INFINITY,
        _ => v == f64::NEG_INFINITY,
    }
}

/// `bytes.contains(bytes)`.
pub fn bytes_contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `bool(string)`, with the spellings CEL accepts.
pub fn bool_from_str(s: &str) -> Result<bool, EvalError> {
    match s {
        "true" | "True" | "TRUE" | "t" | "1" => Ok(true),
        "false" | "False" | "FALSE" | "f" | "0" => Ok(false),
        _ => Err(EvalError::SYNTAX),
    }
}

/// Whether every item differs from every other, by `==` (so `NaN`s are unique): `list.unique()`, and
/// `repeated.unique` through [`support::is_unique`](super::support::is_unique).
pub fn is_unique<T: PartialEq>(items: impl Iterator<Item = T> + Clone) -> bool {
    let mut outer = items.clone().enumerate();
    outer.all(|(i, a)| items.clone().skip(i + 1).all(|b| a != b))
}

/// CEL's `==` between two lists: the same length, and `eq` holds for the items at each position.
///
/// ```
/// use capacitor::validate::cel::lists_equal;
/// assert!(lists_equal([1, 2], [1, 2], |p, q| p == q));
/// assert!(!lists_equal([1, 2], [1], |p, q| p == q));
/// ```
pub fn lists_equal<I: IntoIterator, J: IntoIterator>(
    i: I,
    j: J,
    mut eq: impl FnMut(I::Item, J::Item) -> bool,
) -> bool {
    let (mut i, mut j) = (i.into_iter(), j.into_iter());
    loop {
        match (i.next(), j.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) => {
                if !eq(p, q) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// CEL's `==` between two messages of one type, each read as `Option<&M>` (`None`: an unset field, which CEL
/// reads as the message with no field set): protobuf equality as prost derives it, field by field (a `NaN` is
/// not equal to itself; `-0.0` equals `0.0`).
///
/// ```
/// use capacitor::validate::cel::message_eq;
/// let zero = prost_types::Duration::default();
/// let second = prost_types::Duration { seconds: 1, nanos: 0 };
/// assert!(message_eq(None, Some(&zero)));
/// assert!(!message_eq(Some(&second), None));
/// assert!(message_eq(Some(&second), Some(&second.clone())));
/// ```
pub fn message_eq<M: Default + PartialEq>(a: Option<&M>, b: Option<&M>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        (None, None) => true,
        (Some(m), None) | (None, Some(m)) => *m == M::default(),
    }
}

/// A message field's value read as `&M` however prost holds it: `M`, or `Box<M>` for a field that makes its
/// message recursive (or one configured `boxed`), so that values of one message type read from different
/// fields have one Rust type where they meet (a `?:`, a list literal). Generated code calls `(&x).held()` with
/// both traits in scope: method lookup tries the receiver `&&Box<M>` before it dereferences it, so
/// [`Boxed`](held::Boxed) answers for a `&Box<M>` and [`Plain`](held::Plain) for a `&M`.
///
/// ```
/// use capacitor::validate::cel::held::{Boxed as _, Plain as _};
/// let (plain, boxed) = (prost_types::Duration::default(), Box::new(prost_types::Duration::default()));
/// let (a, b) = (&plain, &boxed);
/// let both: [&prost_types::Duration; 2] = [(&a).held(), (&b).held()];
/// assert_eq!(both[0], both[1]);
/// ```
pub mod held {
    /// `&Box<M>` read as `&M`.
    pub trait Boxed<'a> {
        /// The message.
        type Message;
        /// The message the box holds.
        fn held(&self) -> &'a Self::Message;
    }

    impl<'a, M> Boxed<'a> for &'a Box<M> {
        type Message = M;
        fn held(&self) -> &'a M {
            // The inner reference, copied out of `self`, so the result lives as long as the box's borrow.
            let inner = *self;
            inner.as_ref()
        }
    }

    /// `&M` as it is.
    pub trait Plain<'a> {
        /// The message.
        type Message;
        /// The message.
        fn held(self) -> &'a Self::Message;
    }

    impl<'a, M: prost::Message> Plain<'a> for &'a M {
        type Message = M;
        fn held(self) -> &'a M {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_cross_type_comparisons_are_exact() {
        assert_eq!(int_from_double(-1.9), Ok(-1));
        assert_eq!(int_from_double(f64::NAN), Err(EvalError::RANGE));
        assert_eq!(uint_from_int(-1), Err(EvalError::RANGE));
        assert_eq!(int_from_uint(u64::MAX), Err(EvalError::RANGE));
        assert_eq!(cmp_int_uint(-1, 0), Ordering::Less);
        assert_eq!(cmp_int_double(3, 3.5), Some(Ordering::Less));
        assert_eq!(cmp_uint_double(u64::MAX, 1e30), Some(Ordering::Less));
        assert_eq!(cmp_int_double(1, f64::NAN), None);
        assert_eq!(
            cmp_int_double(i64::MAX, 9_223_372_036_854_775_808.0),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp_uint_double(0, -0.5), Some(Ordering::Greater));
        assert_eq!(string_from_double(2.0), "2");
        assert_eq!(string_from_double(0.5), "0.5");
    }

    #[test]
    fn strings_extension_by_code_point() {
        assert_eq!(char_at("héllo", 1), Ok("é"));
        assert_eq!(char_at("abc", 3), Ok(""));
        assert_eq!(char_at("abc", 4), Err(EvalError::INDEX));
        assert_eq!(index_of("héllo héllo", "llo", None), Ok(2));
        assert_eq!(index_of("héllo héllo", "llo", Some(3)), Ok(8));
        assert_eq!(index_of("abc", "", Some(3)), Ok(3));
        assert_eq!(index_of("abc", "x", Some(4)), Err(EvalError::INDEX));
        assert_eq!(last_index_of("ababa", "aba", None), Ok(2));
        assert_eq!(last_index_of("ababa", "aba", Some(1)), Ok(0));
        assert_eq!(substring("héllo", 1, Some(3)), Ok("él"));
        assert_eq!(substring("abc", 2, Some(1)), Err(EvalError::INDEX));
        assert_eq!(split("a,b,c", ",", Some(2)), ["a", "b,c"]);
        assert_eq!(split("abc", "", None), ["a", "b", "c"]);
        assert_eq!(replace("aaa", "a", "b", Some(2)), "bba");
        assert_eq!(join(["a", "b"].into_iter(), "-"), "a-b");
        assert_eq!(reverse("héllo"), "olléh");
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }

    #[test]
    fn timestamp_fields_in_utc_and_fixed_offsets() {
        // 2009-02-13T23:31:30.5Z, a Friday.
        let t = (1_234_567_890, 500_000_000);
        assert_eq!(timestamp_part(t, "year", 0), 2009);
        assert_eq!(timestamp_part(t, "month", 0), 1);
        assert_eq!(timestamp_part(t, "date", 0), 13);
        assert_eq!(timestamp_part(t, "day_of_month", 0), 12);
        assert_eq!(timestamp_part(t, "day_of_year", 0), 43);
        assert_eq!(timestamp_part(t, "day_of_week", 0), 5);
        assert_eq!(timestamp_part(t, "hours", 0), 23);
        assert_eq!(timestamp_part(t, "milliseconds", 0), 500);
        // One hour east it is already Saturday the 14th.
        assert_eq!(timestamp_part(t, "date", 3600), 14);
        assert_eq!(timestamp_part(t, "day_of_week", 3600), 6);
        assert_eq!(timestamp_part((-1, 0), "year", 0), 1969);
    }

    #[test]
    fn format_verbs() {
        let args = [
            Arg::List(vec![Arg::Int(1), Arg::Str("a")]),
            Arg::Double(1.5),
            Arg::Bytes(b"\x01\xff"),
        ];
        assert_eq!(
            format("%s %.1f %x 100%%", &args).unwrap(),
            "[1, a] 1.5 01ff 100%"
        );
        assert_eq!(format("%d", &[Arg::Str("x")]), Err(EvalError::FORMAT));
        assert_eq!(format("%s", &[]), Err(EvalError::FORMAT));
        assert!(is_unique([1, 2, 3].iter()));
        assert!(!is_unique(["a", "b", "a"].iter()));
    }
}
