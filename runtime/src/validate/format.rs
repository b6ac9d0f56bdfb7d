//! String-format predicates behind the `buf.validate` string rules.
//!
//! Each function answers one question about a string with protovalidate v1.0's semantics (the CEL library
//! functions `isEmail`, `isHostname`, `isIp`, `isIpPrefix`, `isUri`, `isUriRef`, `isHostAndPort`, and the
//! regular expressions of the `uuid`, `tuuid`, `ulid` and `well_known_regex` rules). Generated validators call
//! them; they are public so hand-written code can ask the same questions.
//!
//! They never allocate: each is a small explicit parser over the string's bytes (the grammars come from the
//! RFCs named on each function), which is both faster than a regex and exact about the corner cases the
//! upstream conformance suite pins down (leading zeros, zone ids, percent-encoding).

mod uri;

use uri::UriParser;

/// An email address as the HTML standard defines a valid one (WHATWG "valid e-mail address"), e.g.
/// `"ada@example.com"`.
///
/// The local part is one or more of ``A-Z a-z 0-9 . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -``; the domain is one
/// or more dot-separated labels of 1–63 letters, digits and hyphens that neither start nor end with a hyphen.
/// Quoted local parts, comments, IP-literal domains and a trailing dot are not accepted: the standard
/// deliberately deviates from RFC 5322 here.
pub fn is_email(s: &str) -> bool {
    // Byte-wise: every accepted byte is ASCII, and splitting on a byte skips `str`'s char searcher.
    let bytes = s.as_bytes();
    let Some(at) = bytes.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if local.is_empty() || !local.iter().all(|&b| is_email_local_byte(b)) {
        return false;
    }
    !domain.is_empty() && domain.split(|&b| b == b'.').all(is_email_domain_label)
}

fn is_email_local_byte(b: u8) -> bool {
    EMAIL_LOCAL[usize::from(b)]
}

/// The bytes of an email's local part, as a table: one load per byte instead of a scan of the symbol list.
static EMAIL_LOCAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let symbols = b"!#$%&'*+/=?^_`{|}~.-";
    let mut i = 0;
    while i < symbols.len() {
        table[symbols[i] as usize] = true;
        i += 1;
    }
    table
};

fn is_email_domain_label(bytes: &[u8]) -> bool {
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        _ => false,
    }
}

/// A hostname (RFC 1034 as protovalidate reads it), e.g. `"foo.example.com"`.
///
/// One or more dot-separated labels of 1–63 ASCII letters, digits and hyphens, no label starting or ending
/// with a hyphen, the right-most label not all digits; one trailing dot is allowed; at most 253 bytes in all
/// (the trailing dot included, as upstream counts it).
pub fn is_hostname(s: &str) -> bool {
    if s.len() > 253 {
        return false;
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    let mut last_all_digits = false;
    for label in name.split('.') {
        let bytes = label.as_bytes();
        if bytes.is_empty()
            || bytes.len() > 63
            || bytes[0] == b'-'
            || bytes[bytes.len() - 1] == b'-'
        {
            return false;
        }
        if !bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        last_all_digits = bytes.iter().all(u8::is_ascii_digit);
    }
    !last_all_digits
}

/// An IP address: IPv4 in strict dotted decimal (`"192.168.0.1"`, no leading zeros), or IPv6 in its text form
/// (RFC 4291: `"::1"`, `"2001:db8::ff00:42:8329"`, with embedded IPv4 `"::ffff:192.0.2.1"`), optionally with a
/// zone id (RFC 4007: `"fe80::1%eth0"`).
///
/// `version` is 0 for either, 4 or 6 for one of them; any other version is never valid.
pub fn is_ip(s: &str, version: u8) -> bool {
    match version {
        0 => parse_ipv4(s).is_some() || parse_ipv6(s).is_some(),
        4 => parse_ipv4(s).is_some(),
        6 => parse_ipv6(s).is_some(),
        _ => false,
    }
}

/// An IP prefix in CIDR notation, e.g. `"192.168.1.0/24"` or `"2001:db8::/32"`; the address part as for
/// [`is_ip`] but without a zone id, the length 0–32 (IPv4) or 0–128 (IPv6) without leading zeros.
///
/// `version` is 0 for either, 4 or 6 for one of them (anything else is never valid). With `strict`, the host
/// bits must be zero: `"192.168.1.0/24"` passes, `"192.168.1.1/24"` does not.
pub fn is_ip_prefix(s: &str, version: u8, strict: bool) -> bool {
    match version {
        0 => is_ipv4_prefix(s, strict) || is_ipv6_prefix(s, strict),
        4 => is_ipv4_prefix(s, strict),
        6 => is_ipv6_prefix(s, strict),
        _ => false,
    }
}

/// An absolute URI (RFC 3986 `URI`, with RFC 6874 zone ids in IPv6 literals), e.g.
/// `"https://example.com/foo/bar?baz=quux#frag"`.
///
/// Every percent sign must start a `%XX` escape, and percent-encoding in the host must spell UTF-8.
pub fn is_uri(s: &str) -> bool {
    UriParser::new(s).uri()
}

/// A URI reference (RFC 3986 `URI-reference`): an absolute URI as for [`is_uri`], or a relative reference
/// such as `"./foo/bar?query"` or `"//example.com/path"`.
pub fn is_uri_ref(s: &str) -> bool {
    UriParser::new(s).uri() || UriParser::new(s).relative_ref()
}

/// A host with an optional port, e.g. `"example.com:8080"`, `"127.0.0.1"`, `"[::1]:443"`.
///
/// The host is a hostname ([`is_hostname`]), an IPv4 address, or an IPv6 address in square brackets; the port
/// follows a colon and is a decimal number 0–65535 without leading zeros. With `port_required`, a host alone
/// is not valid.
pub fn is_host_and_port(s: &str, port_required: bool) -> bool {
    if s.is_empty() {
        return false;
    }
    let last_colon = s.rfind(':');
    if let Some(bracketed) = s.strip_prefix('[') {
        let Some(close) = s.rfind(']') else {
            return false;
        };
        let host = &bracketed[..close - 1];
        if close + 1 == s.len() {
            return !port_required && is_ip(host, 6);
        }
        return last_colon == Some(close + 1) && is_ip(host, 6) && is_port(&s[close + 2..]);
    }
    match last_colon {
        None => !port_required && (is_hostname(s) || is_ip(s, 4)),
        Some(colon) => {
            let (host, port) = (&s[..colon], &s[colon + 1..]);
            (is_hostname(host) || is_ip(host, 4)) && is_port(port)
        }
    }
}

/// A port for [`is_host_and_port`]: 0–65535 in decimal, without leading zeros.
fn is_port(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 5 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return false;
    }
    bytes
        .iter()
        .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'))
        <= 65535
}

/// A UUID in its canonical hyphenated form (RFC 4122), any version, either case:
/// `"8-4-4-4-12"` hex digits, e.g. `"123e4567-e89b-12d3-a456-426614174000"`.
pub fn is_uuid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A trimmed UUID: the 32 hex digits of a UUID without hyphens, either case.
pub fn is_tuuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A fully-qualified Protobuf name (`pkg.v1.Message`): dot-separated identifiers of ASCII letters, digits and
/// `_`, none starting with a digit; with `leading_dot`, the name must start with a `.` (`.pkg.v1.Message`).
pub fn is_protobuf_fqn(s: &str, leading_dot: bool) -> bool {
    let name = if leading_dot {
        match s.strip_prefix('.') {
            Some(rest) => rest,
            None => return false,
        }
    } else {
        s
    };
    name.split('.').all(|ident| {
        let mut bytes = ident.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// A ULID: 26 characters of Crockford base32 (digits and letters except I, L, O, U, either case), the first
/// one `0`–`7` so the value fits in 128 bits.
pub fn is_ulid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 26
        && (b'0'..=b'7').contains(&bytes[0])
        && bytes[1..].iter().all(|&b| {
            b.is_ascii_digit()
                || (b.is_ascii_alphabetic()
                    && !matches!(b.to_ascii_uppercase(), b'I' | b'L' | b'O' | b'U'))
        })
}

/// An HTTP header name.
///
/// `strict`: a token of RFC 7230 (letters, digits and ``! # $ % & ' * + - . ^ _ ` | ~``), optionally after one
/// leading `:` for HTTP/2 pseudo-headers such as `:authority`. Not strict: any non-empty string without NUL,
/// LF or CR.
pub fn is_http_header_name(s: &str, strict: bool) -> bool {
    if !strict {
        return !s.is_empty() && s.bytes().all(is_loose_header_byte);
    }
    let token = s.strip_prefix(':').unwrap_or(s);
    !token.is_empty() && token.bytes().all(is_header_token_byte)
}

/// An HTTP header value, possibly empty.
///
/// `strict`: no control characters other than horizontal tab (nothing in U+0000–U+0008, U+000A–U+001F,
/// U+007F). Not strict: no NUL, LF or CR.
pub fn is_http_header_value(s: &str, strict: bool) -> bool {
    if strict {
        s.bytes().all(|b| b == b'\t' || !(b < 0x20 || b == 0x7f))
    } else {
        s.bytes().all(is_loose_header_byte)
    }
}

fn is_loose_header_byte(b: u8) -> bool {
    !matches!(b, b'\0' | b'\n' | b'\r')
}

fn is_header_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ---------------------------------------------------------------------------------------------------------
// IP addresses

/// Parses an IPv4 address in strict dotted decimal: four octets 0–255, one to three digits, no leading zeros.
fn parse_ipv4(s: &str) -> Option<u32> {
    let mut octets = s.split('.');
    let mut bits = 0u32;
    for _ in 0..4 {
        bits = (bits << 8) | u32::from(parse_decimal(octets.next()?, 3, 255)?);
    }
    octets.next().is_none().then_some(bits)
}

/// Parses 1..=`max_digits` decimal digits without a leading zero, at most `max`.
fn parse_decimal(s: &str, max_digits: usize, max: u16) -> Option<u16> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    let value = bytes
        .iter()
        .fold(0u16, |n, &b| n * 10 + u16::from(b - b'0'));
    (value <= max).then_some(value)
}

fn is_ipv4_prefix(s: &str, strict: bool) -> bool {
    let Some((address, length)) = s.split_once('/') else {
        return false;
    };
    let (Some(bits), Some(length)) = (parse_ipv4(address), parse_decimal(length, 2, 32)) else {
        return false;
    };
    let host_mask = u32::MAX.checked_shr(u32::from(length)).unwrap_or(0);
    !strict || bits & host_mask == 0
}

fn is_ipv6_prefix(s: &str, strict: bool) -> bool {
    let Some((address, length)) = s.split_once('/') else {
        return false;
    };
    let (Some(parsed), Some(length)) = (parse_ipv6(address), parse_decimal(length, 3, 128)) else {
        return false;
    };
    if parsed.zone {
        return false;
    }
    let host_mask = u128::MAX.checked_shr(u32::from(length)).unwrap_or(0);
    !strict || parsed.bits & host_mask == 0
}

/// A parsed IPv6 address.
struct Ipv6 {
    bits: u128,
    /// Whether a zone id (`%eth0`) followed the address.
    zone: bool,
}

/// Parses an IPv6 address (RFC 4291 text forms, RFC 4007 zone id after `%`).
///
/// Groups are 1–4 hex digits; one `::` stands for one or more zero groups; the last 32 bits may be written as
/// an IPv4 address; a zone id is any non-empty string.
fn parse_ipv6(s: &str) -> Option<Ipv6> {
    let (address, zone) = match s.split_once('%') {
        Some((_, "")) => return None,
        Some((address, _)) => (address, true),
        None => (s, false),
    };
    let (head, tail) = match address.split_once("::") {
        Some((head, tail)) => (head, Some(tail)),
        None => (address, None),
    };
    let mut groups = [0u16; 8];
    let head_len = parse_ipv6_groups(head, &mut groups, tail.is_none())?;
    let bits = match tail {
        None => {
            if head_len != 8 {
                return None;
            }
            groups
        }
        Some(tail) => {
            let mut tail_groups = [0u16; 8];
            let tail_len = parse_ipv6_groups(tail, &mut tail_groups, true)?;
            // `::` must stand for at least one group.
            if head_len + tail_len > 7 {
                return None;
            }
            groups[8 - tail_len..].copy_from_slice(&tail_groups[..tail_len]);
            groups
        }
    };
    let bits = bits
        .iter()
        .fold(0u128, |acc, &g| (acc << 16) | u128::from(g));
    Some(Ipv6 { bits, zone })
}

/// Parses colon-separated groups into `out`, returning how many 16-bit groups they make (an IPv4 tail, allowed
/// only when `ipv4_tail_allowed`, counts as two). An empty string is zero groups.
fn parse_ipv6_groups(s: &str, out: &mut [u16; 8], ipv4_tail_allowed: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    let mut parts = s.split(':').peekable();
    while let Some(part) = parts.next() {
        let is_last = parts.peek().is_none();
        if is_last && ipv4_tail_allowed && part.contains('.') {
            let v4 = parse_ipv4(part)?;
            if count + 2 > 8 {
                return None;
            }
            out[count] = (v4 >> 16) as u16;
            out[count + 1] = v4 as u16;
            return Some(count + 2);
        }
        if part.is_empty()
            || part.len() > 4
            || !part.bytes().all(|b| b.is_ascii_hexdigit())
            || count == 8
        {
            return None;
        }
        out[count] = u16::from_str_radix(part, 16).ok()?;
        count += 1;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email() {
        assert!(is_email("ada@example.com"));
        assert!(is_email("a.b+tag!#$%&'*/=?^_`{|}~-@x-y.example"));
        assert!(is_email("a@localhost"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("ada@"));
        assert!(!is_email("ada@@example.com"));
        assert!(!is_email("\"ada\"@example.com"));
        assert!(!is_email("ada@example.com."));
        assert!(!is_email("ada@-example.com"));
        assert!(!is_email("ada@example..com"));
        assert!(!is_email("Ada <ada@example.com>"));
        assert!(!is_email("ada@[127.0.0.1]"));
        assert!(!is_email(&format!("a@{}.com", "x".repeat(64))));
        assert!(is_email(&format!("a@{}.com", "x".repeat(63))));
    }

    #[test]
    fn hostname() {
        assert!(is_hostname("example.com"));
        assert!(is_hostname("example.com."));
        assert!(is_hostname("A-1.B2"));
        assert!(is_hostname("localhost"));
        assert!(!is_hostname(""));
        assert!(!is_hostname("."));
        assert!(!is_hostname("example..com"));
        assert!(!is_hostname("-a.com"));
        assert!(!is_hostname("a-.com"));
        assert!(!is_hostname("127.0.0.1"));
        assert!(is_hostname("1.2.3.a"));
        assert!(!is_hostname("ex_ample.com"));
        assert!(!is_hostname("exämple.com"));
        assert!(!is_hostname(&"a".repeat(64)));
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(long.len(), 253);
        assert!(is_hostname(&long));
        assert!(!is_hostname(&format!("{long}.")));
    }

    #[test]
    fn ip() {
        for ok in ["0.0.0.0", "255.255.255.255", "192.168.0.1"] {
            assert!(is_ip(ok, 4) && is_ip(ok, 0) && !is_ip(ok, 6), "{ok}");
        }
        for bad in [
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4 ",
            "",
            "1..2.3",
        ] {
            assert!(!is_ip(bad, 0), "{bad}");
        }
        for ok in [
            "::",
            "::1",
            "1::",
            "2001:db8::ff00:42:8329",
            "1:2:3:4:5:6:7:8",
            "::ffff:192.0.2.1",
            "fe80::1%eth0",
        ] {
            assert!(is_ip(ok, 6) && is_ip(ok, 0) && !is_ip(ok, 4), "{ok}");
        }
        for bad in [
            ":1",
            "1:",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "fe80::1%",
            "::1.2.3",
        ] {
            assert!(!is_ip(bad, 6), "{bad}");
        }
        assert!(!is_ip("::1", 5));
    }

    #[test]
    fn ip_prefix() {
        assert!(is_ip_prefix("192.168.1.0/24", 4, true));
        assert!(is_ip_prefix("192.168.1.1/24", 4, false));
        assert!(!is_ip_prefix("192.168.1.1/24", 4, true));
        assert!(is_ip_prefix("0.0.0.0/0", 0, true));
        assert!(!is_ip_prefix("1.0.0.0/0", 0, true));
        assert!(is_ip_prefix("1.2.3.4/32", 4, true));
        assert!(!is_ip_prefix("1.2.3.4/33", 4, false));
        assert!(!is_ip_prefix("1.2.3.4/08", 4, false));
        assert!(!is_ip_prefix("1.2.3.4", 4, false));
        assert!(is_ip_prefix("2001:db8::/32", 6, true));
        assert!(!is_ip_prefix("2001:db8::1/32", 6, true));
        assert!(is_ip_prefix("::1/128", 0, true));
        assert!(!is_ip_prefix("::1/129", 6, false));
        assert!(!is_ip_prefix("fe80::%eth0/64", 6, false));
        assert!(!is_ip_prefix("2001:db8::/32", 4, false));
    }

    #[test]
    fn uri() {
        for ok in [
            "https://example.com/foo/bar?baz=quux#frag",
            "mailto:ada@example.com",
            "urn:isbn:0451450523",
            "http://user:pw@[::1]:8080/",
            "http://[fe80::1%25eth0]/",
            "http://[v1.fe]/",
            "http://[::ffff:1.2.3.4]/",
            "file:///etc/hosts",
            "http://%E2%82%AC.example/",
            "a:",
        ] {
            assert!(is_uri(ok) && is_uri_ref(ok), "{ok}");
        }
        for bad in [
            "",
            "//example.com",
            "/path",
            "1http://x",
            "http://exa mple.com",
            "http://%zz/",
            "http://%ff/",
            "http://[::1/",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
        for ok in [
            "",
            "./foo/bar?query",
            "//example.com/path",
            "/abs",
            "#frag",
            "?q",
        ] {
            assert!(is_uri_ref(ok), "{ok}");
        }
        for bad in [":foo", "a b", "%", "http://x/%2"] {
            assert!(!is_uri_ref(bad), "{bad}");
        }
    }

    #[test]
    fn host_and_port() {
        assert!(is_host_and_port("example.com:8080", true));
        assert!(is_host_and_port("example.com", false));
        assert!(!is_host_and_port("example.com", true));
        assert!(is_host_and_port("127.0.0.1:0", true));
        assert!(is_host_and_port("[::1]:65535", true));
        assert!(is_host_and_port("[::1]", false));
        assert!(!is_host_and_port("[::1]", true));
        assert!(!is_host_and_port("::1", false));
        assert!(!is_host_and_port("example.com:65536", true));
        assert!(!is_host_and_port("example.com:080", true));
        assert!(!is_host_and_port("example.com:", true));
        assert!(!is_host_and_port("[::1]x:80", true));
        assert!(!is_host_and_port("", false));
    }

    #[test]
    fn ids() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
        assert!(is_tuuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_tuuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(is_ulid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(!is_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));
    }

    #[test]
    fn protobuf_names() {
        assert!(is_protobuf_fqn("buf.validate.FieldRules", false));
        assert!(is_protobuf_fqn("_x9", false));
        assert!(!is_protobuf_fqn(".buf.validate", false));
        assert!(!is_protobuf_fqn("buf..validate", false));
        assert!(!is_protobuf_fqn("buf.9x", false));
        assert!(!is_protobuf_fqn("buf.", false));
        assert!(is_protobuf_fqn(".buf.validate", true));
        assert!(!is_protobuf_fqn("buf.validate", true));
        assert!(!is_protobuf_fqn(".", true));
    }

    #[test]
    fn http_headers() {
        assert!(is_http_header_name("Content-Type", true));
        assert!(is_http_header_name(":authority", true));
        assert!(!is_http_header_name(":", true));
        assert!(!is_http_header_name("", true));
        assert!(!is_http_header_name("", false));
        assert!(!is_http_header_name("a b", true));
        assert!(is_http_header_name("a b", false));
        assert!(!is_http_header_name("a\nb", false));
        assert!(is_http_header_value("", true));
        assert!(is_http_header_value("text/html; q=0.9\t", true));
        assert!(is_http_header_value("ümlaut", true));
        assert!(!is_http_header_value("a\x01b", true));
        assert!(is_http_header_value("a\x01b", false));
        assert!(!is_http_header_value("a\rb", false));
        assert!(!is_http_header_value("a\x7fb", true));
    }
}
