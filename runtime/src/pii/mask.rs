//! Kind-aware masks: what of a PII value may be shown on a support screen or in a log line.
//!
//! [`mask`] (or the allocation-free [`Masked`] `Display`) keeps, by [`Pii`] kind:
//!
//! | kind | shown | example |
//! |---|---|---|
//! | `Email` | the local part's first character if alphanumeric, and the domain if it is a plain host name | `a***@example.com` |
//! | `Phone` | the last 2 digits, when there are at least 6 | `***42` |
//! | `Name` | the initials of the first 3 words, upper-cased | `A. L.` |
//! | `PaymentCard` | the last 4 digits, when it is 12–19 digits with spaces or dashes only | `**** 4242` |
//! | `PostalAddress` | the city, by the heuristic below | `London` |
//! | `IpAddress` | the /24 network (IPv4, also IPv4-mapped IPv6) or the /48 (IPv6) | `192.0.2.0/24` |
//! | `DateOfBirth` | the year: the first run of exactly 4 digits | `1815` |
//! | `NationalId`, `Geolocation`, `FreeText`, `Other` | nothing | `<redacted>` |
//!
//! Anything that does not have the expected shape masks to [`REDACTED`]: a mask never guesses in the direction
//! of showing more, and never panics.
//!
//! **Postal addresses** are free-form strings, so "the city" is a heuristic, stated here plainly: the value is
//! split into components at `,`, `;` and line breaks; the first component (the street and house, or a name) is
//! never shown; in each later component, words containing a digit (house numbers, postcodes) are dropped, and
//! so is a lone word of at most 3 capital letters (a region or country code such as `CA`, `NSW`, `UK`); the
//! first component with words left is shown, at most 64 characters of it. So `221B Baker Street, London NW1 6XE,
//! United Kingdom` shows `London`, `1600 Amphitheatre Parkway, Mountain View, CA 94043` shows `Mountain View`,
//! and `Rue de Rivoli 1, 75001 Paris, France` shows `Paris`; a one-line address with no separator shows
//! `<redacted>`. For a layout with an extra line before the city (`Flat 3, 12 High Street, Oxford`) it shows
//! that line without its numbers (`High Street`): a street name without a house number, still less than the
//! address. A structured address (city in its own field) should be masked per field instead.

use crate::schema::Pii;
use std::fmt::{self, Write};
use std::net::IpAddr;

/// What a mask shows when nothing of the value may be shown, or the value does not have its kind's shape.
pub const REDACTED: &str = "<redacted>";

/// The most characters a postal address mask shows.
const CITY_MAX_CHARS: usize = 64;

/// How many initials a name mask shows: enough to tell people apart on a screen, too few to spell a sentence
/// that ended up in a name field.
const NAME_MAX_INITIALS: usize = 3;

/// The mask of `value` as a PII value of kind `kind` (see the [module docs](self) for each kind).
///
/// ```
/// use capacitor::pii::mask;
/// use capacitor::schema::Pii;
///
/// assert_eq!(mask(Pii::Email, "ada@example.com"), "a***@example.com");
/// assert_eq!(mask(Pii::Phone, "+44 20 7946 0958"), "***58");
/// assert_eq!(mask(Pii::Name, "Ada King Lovelace"), "A. K. L.");
/// assert_eq!(mask(Pii::PaymentCard, "4242 4242 4242 4242"), "**** 4242");
/// assert_eq!(mask(Pii::IpAddress, "192.0.2.77"), "192.0.2.0/24");
/// assert_eq!(mask(Pii::DateOfBirth, "1815-12-10"), "1815");
/// assert_eq!(mask(Pii::NationalId, "AB 12 34 56 C"), "<redacted>");
/// ```
pub fn mask(kind: Pii, value: &str) -> String {
    Masked::new(kind, value).to_string()
}

/// A value shown through its kind's mask: `Display` writes what [`mask`] returns, without allocating.
///
/// ```
/// use capacitor::pii::Masked;
/// use capacitor::schema::Pii;
///
/// let line = format!("welcome back, {}", Masked::new(Pii::Name, "Ada Lovelace"));
/// assert_eq!(line, "welcome back, A. L.");
/// ```
#[derive(Clone, Copy)]
pub struct Masked<'a> {
    kind: Pii,
    value: &'a str,
}

impl<'a> Masked<'a> {
    /// `value`, to be shown as a PII value of kind `kind`.
    pub fn new(kind: Pii, value: &'a str) -> Masked<'a> {
        Masked { kind, value }
    }
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.trim();
        match self.kind {
            Pii::Email => email(f, value),
            Pii::Phone => phone(f, value),
            Pii::Name => name(f, value),
            Pii::PaymentCard => payment_card(f, value),
            Pii::PostalAddress => city(f, value),
            Pii::IpAddress => ip_network(f, value),
            Pii::DateOfBirth => birth_year(f, value),
            Pii::NationalId | Pii::Geolocation | Pii::FreeText | Pii::Other => {
                f.write_str(REDACTED)
            }
        }
    }
}

/// Debug shows the mask too: a `Masked` in a `{:?}` must not be the way the value leaks.
impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masked({:?}, \"{self}\")", self.kind)
    }
}

fn email(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return f.write_str(REDACTED);
    };
    if local.is_empty() || !is_host_name(domain) {
        return f.write_str(REDACTED);
    }
    if let Some(first) = local.chars().next().filter(|c| c.is_alphanumeric()) {
        f.write_char(first)?;
    }
    f.write_str("***@")?;
    f.write_str(domain)
}

/// A DNS name of letters, digits and hyphens in dot-separated labels: anything else after an `@` (spaces,
/// quotes, a second address) may be text the user typed, so it is not shown.
fn is_host_name(domain: &str) -> bool {
    (1..=253).contains(&domain.len())
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn phone(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let (count, last_two) = value
        .chars()
        .filter(char::is_ascii_digit)
        .fold((0usize, ['0'; 2]), |(count, last), digit| {
            (count + 1, [last[1], digit])
        });
    // Fewer than 6 digits is no phone number, and 2 of them would be a third of it.
    if count < 6 {
        return f.write_str(REDACTED);
    }
    f.write_str("***")?;
    f.write_char(last_two[0])?;
    f.write_char(last_two[1])
}

fn name(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let mut initials = value
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphabetic()))
        .take(NAME_MAX_INITIALS)
        .peekable();
    if initials.peek().is_none() {
        return f.write_str(REDACTED);
    }
    for (at, initial) in initials.enumerate() {
        if at > 0 {
            f.write_char(' ')?;
        }
        // Capitalized when the capital is letters only (`ß` → `SS`); some capitals are a letter and a combining
        // mark (`ὐ` → `Υ̓`), and those keep the letter as written.
        let upper = initial.to_uppercase();
        if upper.clone().all(char::is_alphabetic) {
            for capital in upper {
                f.write_char(capital)?;
            }
        } else {
            f.write_char(initial)?;
        }
        f.write_char('.')?;
    }
    Ok(())
}

fn payment_card(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if !value
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return f.write_str(REDACTED);
    }
    let digits = || value.bytes().filter(u8::is_ascii_digit);
    let count = digits().count();
    // ISO/IEC 7812 card numbers are 12 to 19 digits; PCI DSS allows showing the last 4.
    if !(12..=19).contains(&count) {
        return f.write_str(REDACTED);
    }
    f.write_str("**** ")?;
    for digit in digits().skip(count - 4) {
        f.write_char(char::from(digit))?;
    }
    Ok(())
}

fn city(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let shown = value
        .split([',', ';', '\n', '\r'])
        .map(str::trim)
        .filter(|component| !component.is_empty())
        .skip(1)
        .find(|component| city_words(component).next().is_some());
    let Some(component) = shown else {
        return f.write_str(REDACTED);
    };
    let mut written = 0;
    for (at, word) in city_words(component).enumerate() {
        let separator = usize::from(at > 0);
        let chars = word.chars().count();
        if written + separator + chars > CITY_MAX_CHARS {
            break;
        }
        if at > 0 {
            f.write_char(' ')?;
        }
        f.write_str(word)?;
        written += separator + chars;
    }
    if written == 0 {
        // A single word longer than the cap is no city name worth showing.
        return f.write_str(REDACTED);
    }
    Ok(())
}

/// The words of an address component that may name a city: no digits (house numbers, postcodes), and the
/// component is not a lone region or country code.
fn city_words(component: &str) -> impl Iterator<Item = &str> + Clone {
    let is_code = |word: &str| word.len() <= 3 && word.bytes().all(|b| b.is_ascii_uppercase());
    let words = component
        .split_whitespace()
        .filter(|word| !word.chars().any(|c| c.is_ascii_digit()));
    let mut probe = words.clone();
    let lone_code = matches!((probe.next(), probe.next()), (Some(only), None) if is_code(only));
    words.take(if lone_code { 0 } else { usize::MAX })
}

fn ip_network(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            write!(f, "{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                let [a, b, c, _] = v4.octets();
                write!(f, "{a}.{b}.{c}.0/24")
            }
            None => {
                let [s0, s1, s2, ..] = v6.segments();
                write!(
                    f,
                    "{}/48",
                    std::net::Ipv6Addr::new(s0, s1, s2, 0, 0, 0, 0, 0)
                )
            }
        },
        Err(_) => f.write_str(REDACTED),
    }
}

fn birth_year(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let year = value
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 4);
    match year {
        Some(year) => f.write_str(year),
        None => f.write_str(REDACTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;

    const KINDS: [Pii; 11] = [
        Pii::Email,
        Pii::Name,
        Pii::Phone,
        Pii::PostalAddress,
        Pii::NationalId,
        Pii::DateOfBirth,
        Pii::IpAddress,
        Pii::Geolocation,
        Pii::PaymentCard,
        Pii::FreeText,
        Pii::Other,
    ];

    #[test]
    fn email() {
        assert_eq!(mask(Pii::Email, "ada@example.com"), "a***@example.com");
        assert_eq!(
            mask(Pii::Email, "  Ada.Lovelace+x@mail.example.co.uk "),
            "A***@mail.example.co.uk"
        );
        // The last `@` splits: a quoted local part with an `@` keeps its domain.
        assert_eq!(mask(Pii::Email, "\"a@b\"@example.com"), "***@example.com");
        for malformed in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@exa mple.com",
            "ada@example..com",
            "a@<b>",
        ] {
            assert_eq!(mask(Pii::Email, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn phone() {
        assert_eq!(mask(Pii::Phone, "+44 20 7946 0958"), "***58");
        assert_eq!(mask(Pii::Phone, "(555) 010-2299"), "***99");
        for malformed in ["", "12345", "call me", "+1"] {
            assert_eq!(mask(Pii::Phone, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn name() {
        assert_eq!(mask(Pii::Name, "Ada Lovelace"), "A. L.");
        assert_eq!(mask(Pii::Name, "ada"), "A.");
        assert_eq!(
            mask(Pii::Name, "Augusta Ada King Noel Lovelace"),
            "A. A. K."
        );
        assert_eq!(mask(Pii::Name, "Émile ßtraße (Zola)"), "É. SS. Z.");
        // `ὐ`'s capital is `Υ` plus a combining mark: the letter stays as written.
        assert_eq!(mask(Pii::Name, "ὐ"), "ὐ.");
        for malformed in ["", "   ", "1234 5678", "--"] {
            assert_eq!(mask(Pii::Name, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn payment_card() {
        assert_eq!(mask(Pii::PaymentCard, "4242 4242 4242 4242"), "**** 4242");
        assert_eq!(mask(Pii::PaymentCard, "4000-0566-5566-5556"), "**** 5556");
        assert_eq!(mask(Pii::PaymentCard, "378282246310005"), "**** 0005");
        for malformed in [
            "",
            "4242",
            "4242 4242 4242 4242 4242",
            "4242x4242x4242x4242",
            "card 4242424242424242",
        ] {
            assert_eq!(mask(Pii::PaymentCard, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn postal_address_shows_the_city_only() {
        let cases = [
            (
                "221B Baker Street, London NW1 6XE, United Kingdom",
                "London",
            ),
            (
                "1600 Amphitheatre Parkway, Mountain View, CA 94043",
                "Mountain View",
            ),
            ("Rue de Rivoli 1, 75001 Paris, France", "Paris"),
            ("1 Main St\nSpringfield\nIL 62701", "Springfield"),
            ("10 Downing Street, SW1A 2AA, London", "London"),
            ("742 Evergreen Terrace Springfield", REDACTED),
            ("12 High Street, 4000", REDACTED),
            ("PO Box 1, NSW", REDACTED),
            ("", REDACTED),
        ];
        for (address, city) in cases {
            assert_eq!(mask(Pii::PostalAddress, address), city, "{address}");
        }
        let long = format!("1 A St, {}", "Llanfair ".repeat(20));
        let shown = mask(Pii::PostalAddress, &long);
        assert!(
            shown.chars().count() <= CITY_MAX_CHARS && shown.starts_with("Llanfair"),
            "{shown}"
        );
    }

    #[test]
    fn ip_address() {
        assert_eq!(mask(Pii::IpAddress, "192.0.2.77"), "192.0.2.0/24");
        assert_eq!(
            mask(Pii::IpAddress, "2001:db8:85a3:8d3:1319:8a2e:370:7348"),
            "2001:db8:85a3::/48"
        );
        assert_eq!(
            mask(Pii::IpAddress, "::ffff:198.51.100.9"),
            "198.51.100.0/24"
        );
        for malformed in ["", "192.0.2", "localhost", "192.0.2.1/24", "2001:db8::zz"] {
            assert_eq!(mask(Pii::IpAddress, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn date_of_birth() {
        assert_eq!(mask(Pii::DateOfBirth, "1815-12-10"), "1815");
        assert_eq!(mask(Pii::DateOfBirth, "10/12/1815"), "1815");
        assert_eq!(mask(Pii::DateOfBirth, "10 December 1815"), "1815");
        for malformed in ["", "18151210", "10/12/15", "yesterday"] {
            assert_eq!(mask(Pii::DateOfBirth, malformed), REDACTED, "{malformed}");
        }
    }

    #[test]
    fn kinds_that_show_nothing() {
        for kind in [Pii::NationalId, Pii::Geolocation, Pii::FreeText, Pii::Other] {
            assert_eq!(mask(kind, "AB 12 34 56 C"), REDACTED);
            assert_eq!(mask(kind, ""), REDACTED);
        }
    }

    #[test]
    fn debug_shows_the_mask_not_the_value() {
        let shown = format!("{:?}", Masked::new(Pii::Email, "canary@example.com"));
        assert_eq!(shown, r#"Masked(Email, "c***@example.com")"#);
    }

    /// `shown` with each non-ASCII letter or digit replaced by `L`, judged by the `char` predicates the masks
    /// use. The regex crate's Unicode tables may be older than std's (a CJK extension letter proptest found was
    /// alphabetic to std and not to `\p{Alphabetic}`), so the shapes below match `L` instead. ASCII letters
    /// (a domain's) are also `L` only where a shape says so.
    fn letters_as_l(kind: Pii, shown: &str) -> String {
        if shown == "<redacted>" {
            return shown.to_owned();
        }
        match kind {
            Pii::Name => shown
                .chars()
                .map(|c| if c.is_alphabetic() { 'L' } else { c })
                .collect(),
            Pii::Email => match shown.split_once("***@") {
                Some((first, domain)) => {
                    let first: String = first
                        .chars()
                        .map(|c| if c.is_alphanumeric() { 'L' } else { c })
                        .collect();
                    format!("{first}***@{domain}")
                }
                None => shown.to_owned(),
            },
            _ => shown.to_owned(),
        }
    }

    /// What each kind's mask may output, as a whole-string pattern over [`letters_as_l`]'s output;
    /// `<redacted>` is always allowed.
    fn allowed(kind: Pii) -> Regex {
        let shape = match kind {
            // `L` stands for a letter or digit by Rust's own `char` predicates (see `letters_as_l`).
            Pii::Email => r"L?\*\*\*@[A-Za-z0-9.-]{1,253}",
            Pii::Phone => r"\*\*\*[0-9]{2}",
            Pii::Name => r"L{1,3}\.( L{1,3}\.){0,2}",
            Pii::PaymentCard => r"\*\*\*\* [0-9]{4}",
            Pii::PostalAddress => r"[^0-9\s,;]+( [^0-9\s,;]+)*",
            Pii::IpAddress => r"([0-9]{1,3}\.){3}0/24|[0-9a-f:]+/48",
            Pii::DateOfBirth => r"[0-9]{4}",
            Pii::NationalId | Pii::Geolocation | Pii::FreeText | Pii::Other => "(?:)",
        };
        Regex::new(&format!("^(?:<redacted>|{shape})$")).unwrap()
    }

    /// Whether `shown` has the shape `kind`'s mask may output.
    fn fits(kind: Pii, shown: &str) -> bool {
        allowed(kind).is_match(&letters_as_l(kind, shown))
    }

    proptest! {
        #[test]
        fn never_panics_and_never_shows_more_than_its_shape(value in ".{0,80}", kind in 0..KINDS.len()) {
            let kind = KINDS[kind];
            let shown = mask(kind, &value);
            prop_assert!(fits(kind, &shown), "{kind:?} {value:?} -> {shown:?}");
            if kind == Pii::PostalAddress {
                prop_assert!(shown.chars().count() <= CITY_MAX_CHARS.max(REDACTED.len()));
            }
        }

        #[test]
        fn shaped_inputs_keep_their_shape(
            local in "[a-z0-9._%+-]{1,20}",
            domain in "[a-z0-9-]{1,20}(\\.[a-z]{2,6}){1,2}",
            digits in "[0-9]{6,15}",
        ) {
            let email = mask(Pii::Email, &format!("{local}@{domain}"));
            prop_assert!(fits(Pii::Email, &email) && email != REDACTED, "{email}");
            let suffix = format!("***@{domain}");
            prop_assert!(email.ends_with(&suffix), "{email}");
            let phone = mask(Pii::Phone, &digits);
            prop_assert_eq!(phone, format!("***{}", &digits[digits.len() - 2..]));
        }

        #[test]
        fn addresses_never_show_their_first_component(street in "[A-Za-z ]{1,30}", rest in "[A-Za-z0-9 ,]{0,60}") {
            let address = format!("{street}, {rest}");
            let shown = mask(Pii::PostalAddress, &address);
            prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()));
            // What is shown comes from one later component, word for word.
            if shown != REDACTED {
                let later: Vec<&str> = rest.split(',').collect();
                prop_assert!(later.iter().any(|component| {
                    shown.split(' ').all(|word| component.split_whitespace().any(|w| w == word))
                }), "{address:?} -> {shown:?}");
            }
        }
    }
}
