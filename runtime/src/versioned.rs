//! A value together with its row version.

/// An entity as stored, with its row version (`_version`).
///
/// Versions increase with every write of a key and never go backwards, not even across delete and
/// re-insert (see [`next_version`](crate::record::next_version)), so every tier can keep the newest copy by
/// comparing versions.
#[derive(Clone, PartialEq)]
pub struct Versioned<E> {
    /// The entity.
    pub value: E,
    /// Its row version.
    pub version: u64,
}

impl<E> Versioned<E> {
    /// Pairs a value with its version.
    pub fn new(value: E, version: u64) -> Self {
        Versioned { value, version }
    }

    /// The value, dropping the version.
    pub fn into_value(self) -> E {
        self.value
    }
}

// The value's own Debug decides what is shown (generated entities redact PII).
impl<E: std::fmt::Debug> std::fmt::Debug for Versioned<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versioned")
            .field("value", &self.value)
            .field("version", &self.version)
            .finish()
    }
}
