//! The URI parser behind [`super::is_uri`] and [`super::is_uri_ref`]: RFC 3986 with RFC 6874 zone ids in IPv6
//! literals, as protovalidate reads it.

use super::parse_ipv6;

/// A recursive-descent parser over the URI grammar. Each rule method consumes its match and returns `true`,
/// or leaves the position where it was and returns `false`.
pub(super) struct UriParser<'a> {
    s: &'a [u8],
    pos: usize,
    /// Whether a percent-encoded octet was read since the host began.
    pct_encoded_found: bool,
}

impl<'a> UriParser<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Self {
            s: s.as_bytes(),
            pos: 0,
            pct_encoded_found: false,
        }
    }

    /// `URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]`
    pub(super) fn uri(&mut self) -> bool {
        self.scheme()
            && self.take(b':')
            && self.hier_part()
            && self.query_and_fragment()
            && self.at_end()
    }

    /// `relative-ref = relative-part [ "?" query ] [ "#" fragment ]`
    pub(super) fn relative_ref(&mut self) -> bool {
        self.relative_part() && self.query_and_fragment() && self.at_end()
    }

    /// `[ "?" query ] [ "#" fragment ]`
    fn query_and_fragment(&mut self) -> bool {
        (!self.take(b'?') || self.query()) && (!self.take(b'#') || self.fragment())
    }

    /// `hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty`
    fn hier_part(&mut self) -> bool {
        self.authority_and_path()
            || self.path_absolute()
            || self.path_rootless()
            || self.path_empty()
    }

    /// `relative-part = "//" authority path-abempty / path-absolute / path-noscheme / path-empty`
    fn relative_part(&mut self) -> bool {
        self.authority_and_path()
            || self.path_absolute()
            || self.path_noscheme()
            || self.path_empty()
    }

    /// `"//" authority path-abempty`
    fn authority_and_path(&mut self) -> bool {
        let start = self.pos;
        if self.take(b'/') && self.take(b'/') && self.authority() && self.path_abempty() {
            return true;
        }
        self.pos = start;
        false
    }

    /// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, followed by `:`.
    fn scheme(&mut self) -> bool {
        let start = self.pos;
        if self.take_if(|b| b.is_ascii_alphabetic()) {
            while self.take_if(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {}
            if self.peek() == Some(b':') {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// `authority = [ userinfo "@" ] host [ ":" port ]`, ended by `/`, `?`, `#` or the end.
    fn authority(&mut self) -> bool {
        let start = self.pos;
        if self.userinfo() && !self.take(b'@') {
            self.pos = start;
            return false;
        }
        if !self.host() || (self.take(b':') && !self.port()) || !self.at_authority_end() {
            self.pos = start;
            return false;
        }
        true
    }

    fn at_authority_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'?' | b'#' | b'/'))
    }

    /// `userinfo = *( unreserved / pct-encoded / sub-delims / ":" )`, which must be followed by `@`.
    fn userinfo(&mut self) -> bool {
        let start = self.pos;
        while self.unreserved() || self.pct_encoded() || self.sub_delim() || self.take(b':') {}
        if self.peek() == Some(b'@') {
            return true;
        }
        self.pos = start;
        false
    }

    /// `host = IP-literal / IPv4address / reg-name` (an IPv4 address is also a reg-name). Percent-encoding in
    /// the host must decode to UTF-8 (RFC 3986 §3.2.2).
    fn host(&mut self) -> bool {
        let start = self.pos;
        self.pct_encoded_found = false;
        if (self.peek() == Some(b'[') && self.ip_literal()) || self.reg_name() {
            return !self.pct_encoded_found || pct_decodes_to_utf8(&self.s[start..self.pos]);
        }
        false
    }

    /// `port = *DIGIT`, ended by the end of the authority.
    fn port(&mut self) -> bool {
        let start = self.pos;
        while self.take_if(|b| b.is_ascii_digit()) {}
        if self.at_authority_end() {
            return true;
        }
        self.pos = start;
        false
    }

    /// `IP-literal = "[" ( IPv6address / IPv6addrz / IPvFuture ) "]"` (RFC 6874 adds `IPv6addrz`).
    fn ip_literal(&mut self) -> bool {
        let start = self.pos;
        if self.take(b'[') {
            let inner = self.pos;
            if self.ipv6_address() && self.take(b']') {
                return true;
            }
            self.pos = inner;
            if self.ipv6_addrz() && self.take(b']') {
                return true;
            }
            self.pos = inner;
            if self.ipv_future() && self.take(b']') {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// `IPv6address`, as [`parse_ipv6`] reads it (embedded IPv4 included, no zone).
    fn ipv6_address(&mut self) -> bool {
        let start = self.pos;
        while self.take_if(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {}
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        if parse_ipv6(text).is_some() {
            return true;
        }
        self.pos = start;
        false
    }

    /// `IPv6addrz = IPv6address "%25" ZoneID`
    fn ipv6_addrz(&mut self) -> bool {
        let start = self.pos;
        if self.ipv6_address()
            && self.take(b'%')
            && self.take(b'2')
            && self.take(b'5')
            && self.zone_id()
        {
            return true;
        }
        self.pos = start;
        false
    }

    /// `ZoneID = 1*( unreserved / pct-encoded )`
    fn zone_id(&mut self) -> bool {
        let start = self.pos;
        while self.unreserved() || self.pct_encoded() {}
        self.pos > start
    }

    /// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`
    fn ipv_future(&mut self) -> bool {
        let start = self.pos;
        if self.take(b'v') && self.take_if(|b| b.is_ascii_hexdigit()) {
            while self.take_if(|b| b.is_ascii_hexdigit()) {}
            if self.take(b'.') {
                let body = self.pos;
                while self.unreserved() || self.sub_delim() || self.take(b':') {}
                if self.pos > body {
                    return true;
                }
            }
        }
        self.pos = start;
        false
    }

    /// `reg-name = *( unreserved / pct-encoded / sub-delims )`, followed by `:` or the end of the authority.
    fn reg_name(&mut self) -> bool {
        let start = self.pos;
        while self.unreserved() || self.pct_encoded() || self.sub_delim() {}
        if self.at_authority_end() || self.peek() == Some(b':') {
            return true;
        }
        self.pos = start;
        false
    }

    fn at_path_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'?' | b'#'))
    }

    /// `*( "/" segment )`: the segments after the first.
    fn more_segments(&mut self) {
        while self.take(b'/') {
            self.segment();
        }
    }

    /// `path-abempty = *( "/" segment )`
    fn path_abempty(&mut self) -> bool {
        let start = self.pos;
        self.more_segments();
        if self.at_path_end() {
            return true;
        }
        self.pos = start;
        false
    }

    /// `path-absolute = "/" [ segment-nz *( "/" segment ) ]`
    fn path_absolute(&mut self) -> bool {
        let start = self.pos;
        if self.take(b'/') {
            if self.segment_nz() {
                self.more_segments();
            }
            if self.at_path_end() {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// `path-noscheme = segment-nz-nc *( "/" segment )`
    fn path_noscheme(&mut self) -> bool {
        let start = self.pos;
        if self.segment_nz_nc() {
            self.more_segments();
            if self.at_path_end() {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// `path-rootless = segment-nz *( "/" segment )`
    fn path_rootless(&mut self) -> bool {
        let start = self.pos;
        if self.segment_nz() {
            self.more_segments();
            if self.at_path_end() {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// `path-empty = 0<pchar>`
    fn path_empty(&self) -> bool {
        self.at_path_end()
    }

    /// `segment = *pchar`
    fn segment(&mut self) {
        while self.pchar() {}
    }

    /// `segment-nz = 1*pchar`
    fn segment_nz(&mut self) -> bool {
        let start = self.pos;
        self.segment();
        self.pos > start
    }

    /// `segment-nz-nc = 1*( unreserved / pct-encoded / sub-delims / "@" )`
    fn segment_nz_nc(&mut self) -> bool {
        let start = self.pos;
        while self.unreserved() || self.pct_encoded() || self.sub_delim() || self.take(b'@') {}
        self.pos > start
    }

    /// `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`
    fn pchar(&mut self) -> bool {
        self.unreserved()
            || self.pct_encoded()
            || self.sub_delim()
            || self.take(b':')
            || self.take(b'@')
    }

    /// `query = *( pchar / "/" / "?" )`, ended by `#` or the end.
    fn query(&mut self) -> bool {
        while self.pchar() || self.take(b'/') || self.take(b'?') {}
        matches!(self.peek(), None | Some(b'#'))
    }

    /// `fragment = *( pchar / "/" / "?" )`, ended by the end.
    fn fragment(&mut self) -> bool {
        while self.pchar() || self.take(b'/') || self.take(b'?') {}
        self.at_end()
    }

    /// `pct-encoded = "%" HEXDIG HEXDIG`
    fn pct_encoded(&mut self) -> bool {
        match self.s.get(self.pos..self.pos + 3) {
            Some([b'%', hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                self.pos += 3;
                self.pct_encoded_found = true;
                true
            }
            _ => false,
        }
    }

    /// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`
    fn unreserved(&mut self) -> bool {
        self.take_if(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }

    /// `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`
    fn sub_delim(&mut self) -> bool {
        self.take_if(|b| b"!$&'()*+,;=".contains(&b))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }

    fn take(&mut self, byte: u8) -> bool {
        self.take_if(|b| b == byte)
    }

    fn take_if(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        match self.peek() {
            Some(b) if accept(b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
}

/// Whether `raw` (whose every `%` starts a valid `%XX` escape) decodes to valid UTF-8, checked one encoded
/// character at a time so nothing is allocated.
fn pct_decodes_to_utf8(raw: &[u8]) -> bool {
    let mut rest = raw;
    let mut decoded = std::iter::from_fn(|| match *rest {
        [b'%', hi, lo, ref tail @ ..] => {
            rest = tail;
            Some(hex_value(hi) << 4 | hex_value(lo))
        }
        [b, ref tail @ ..] => {
            rest = tail;
            Some(b)
        }
        [] => None,
    });
    let mut char_buf = [0u8; 4];
    while let Some(lead) = decoded.next() {
        let len = match lead {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return false,
        };
        char_buf[0] = lead;
        for slot in &mut char_buf[1..len] {
            match decoded.next() {
                Some(b) => *slot = b,
                None => return false,
            }
        }
        if std::str::from_utf8(&char_buf[..len]).is_err() {
            return false;
        }
    }
    true
}

/// The value of an ASCII hex digit (the caller has checked it is one).
fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}
