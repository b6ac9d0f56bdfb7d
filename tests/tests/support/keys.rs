//! Key rings for the encryption tests. Included with `#[path]` by the tests that need it.

use capacitor::pii::{KeyRing, SecretKey};

/// A key ring of `(key id, fill byte)` entries, the first one current.
pub fn ring(entries: &[(u32, u8)]) -> KeyRing {
    KeyRing::new(
        entries
            .iter()
            .map(|(id, byte)| (*id, SecretKey::from_bytes([*byte; 32])))
            .collect(),
    )
    .expect("a valid key ring")
}
