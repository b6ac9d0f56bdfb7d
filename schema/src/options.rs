//! The values of Capacitor's options (`capacitor/v1/options.proto`): personal data kinds, index kinds, backends
//! and consistency modes.

/// A single-field index kind (`capacitor.v1.Index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum IndexKind {
    /// The primary key.
    Primary,
    /// A unique index.
    Unique,
    /// A non-unique index.
    Secondary,
}

impl IndexKind {
    /// The Rust variant name, as generated code spells it.
    pub fn variant_name(self) -> &'static str {
        match self {
            IndexKind::Primary => "Primary",
            IndexKind::Unique => "Unique",
            IndexKind::Secondary => "Secondary",
        }
    }
}

/// An option enum of `options.proto` (without its UNSPECIFIED value), with its proto names, the short names
/// derive attributes use, and its Rust variant names (which generated code spells).
macro_rules! option_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $proto:literal / $short:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
        pub enum $name { $($(#[$vdoc])* $variant,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The proto enum value name (`PII_EMAIL`).
            pub fn proto_name(self) -> &'static str {
                match self { $($name::$variant => $proto,)* }
            }

            /// The short lower-case name used by derive attributes and `capgen inspect` (`email`).
            pub fn short_name(self) -> &'static str {
                match self { $($name::$variant => $short,)* }
            }

            /// The value whose short name this is.
            pub fn from_short_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.short_name() == name)
            }

            /// The value with this proto enum number; `None` for UNSPECIFIED (0) or a number the vocabulary
            /// does not know. Values are numbered from 1 in declaration order.
            pub fn from_number(n: i32) -> Option<$name> {
                usize::try_from(n - 1).ok().and_then(|i| Self::ALL.get(i).copied())
            }

            /// The Rust variant name, as emitted into `::capacitor::schema`.
            pub fn variant_name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant),)* }
            }
        }
    };
}

option_enum! {
    /// The kind of personal data a field holds (`capacitor.v1.Pii`, without UNSPECIFIED).
    Pii {
        /// An email address.
        Email = "PII_EMAIL" / "email",
        /// A person's name.
        Name = "PII_NAME" / "name",
        /// A phone number.
        Phone = "PII_PHONE" / "phone",
        /// A postal address.
        PostalAddress = "PII_POSTAL_ADDRESS" / "postal_address",
        /// A national identifier (passport, social security number…).
        NationalId = "PII_NATIONAL_ID" / "national_id",
        /// A date of birth.
        DateOfBirth = "PII_DATE_OF_BIRTH" / "date_of_birth",
        /// An IP address.
        IpAddress = "PII_IP_ADDRESS" / "ip_address",
        /// A location.
        Geolocation = "PII_GEOLOCATION" / "geolocation",
        /// A payment card number.
        PaymentCard = "PII_PAYMENT_CARD" / "payment_card",
        /// Free text that may hold any of the above.
        FreeText = "PII_FREE_TEXT" / "free_text",
        /// Any other personal data.
        Other = "PII_OTHER" / "other",
    }
}

option_enum! {
    /// Where an entity is stored (`capacitor.v1.Backend`, without UNSPECIFIED). With no configuration, SQLite
    /// (the embedded default).
    Backend {
        /// An embedded SQLite database.
        Sqlite = "BACKEND_SQLITE" / "sqlite",
        /// A PostgreSQL server.
        Postgres = "BACKEND_POSTGRES" / "postgres",
        /// The process's memory (tests, ephemeral data).
        Memory = "BACKEND_MEMORY" / "memory",
    }
}

option_enum! {
    /// How fresh reads must be (`capacitor.v1.Consistency`, without UNSPECIFIED).
    Consistency {
        /// A read that starts after a write was acknowledged never returns an older version.
        Strong = "CONSISTENCY_STRONG" / "strong",
        /// Staleness bounded by the cache ttl.
        Eventual = "CONSISTENCY_EVENTUAL" / "eventual",
    }
}
