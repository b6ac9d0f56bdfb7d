//! [`BlindIndex`]: equality lookups on encrypted fields, by a keyed hash of the value stored beside its
//! ciphertext.
//!
//! **Construction.** A token is HMAC-SHA256, under the blind-index sub-key of a [`KeyRing`] id, over the
//! domain `capacitor blind-index v1`, the entity's full name (`u64` big-endian length, then UTF-8), the indexed
//! field numbers (a `u32` count, then each `u32` big-endian; a compound index lists several) and the value's
//! canonical bytes (`u64` big-endian length, then the bytes), truncated to the index's [`Width`]. The
//! canonical bytes are the caller's: values that should match (an email in any letter case) must be
//! normalized to the same bytes before they are indexed and looked up.
//!
//! **Unique indexes** use the full 256 bits ([`Width::FULL`]): no two distinct values share a token, so a
//! database `UNIQUE` constraint on the token column enforces uniqueness of the values. What it leaks: which
//! rows hold equal values, which a unique column has none of.
//!
//! **Secondary indexes** use a truncated token ([`Width::bits`]), CipherSweet's trade-off. With *R* rows of
//! distinct values and *N* bits, a lookup matches its own rows plus about (*R* − 1) · 2^−*N* others by chance
//! (false positives), which the caller drops after decrypting the candidates. In exchange, the token column no
//! longer tells which rows share a value: each token is shared by about *R* / 2^*N* distinct values, so an
//! attacker reading the database sees buckets, not values. Choose *N* a few bits below log2(*R*) (e.g. 16 bits
//! for a million rows: about 15 false positives per lookup, and each bucket holds about 15 values); more bits
//! mean fewer false positives and more leakage. Frequency still leaks per bucket: a very common value makes
//! its bucket large. All widths of one field share one MAC, so a narrower token is a prefix of a wider one and
//! several indexes on one field leak no more than the widest.
//!
//! **Rotation.** Tokens are written under the ring's current id ([`BlindIndex::token`]); a lookup computes one
//! token per id ([`BlindIndex::lookup_tokens`], current first) and matches any of them, so rows indexed before a
//! rotation are still found. A `UNIQUE` constraint only sees equal tokens, so while an older id is in the ring
//! the same value indexed under two ids is not caught by the database: a writer must look the value up by
//! every token before inserting until a re-index job has moved every row to the current id.

use crate::pii::KeyRing;
use crate::pii::keyring::debug_key_ids;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Domain separation from key tokens and any other HMAC under related keys.
const DOMAIN: &[u8] = b"capacitor blind-index v1";

/// How many bits of the MAC a blind index keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Width(u16);

impl Width {
    /// All 256 bits, for unique indexes: no false collisions.
    pub const FULL: Width = Width(256);

    /// `bits` bits, clamped to 1..=256, for secondary indexes (see the [module docs](self) for the trade-off).
    pub const fn bits(bits: u16) -> Width {
        Width(if bits == 0 {
            1
        } else if bits > 256 {
            256
        } else {
            bits
        })
    }

    /// The number of bits kept.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The number of bytes a token of this width is stored in.
    pub const fn bytes(self) -> usize {
        (self.0 as usize).div_ceil(8)
    }
}

/// Which index a token is for: the entity and the field numbers it indexes.
#[derive(Debug, Clone, Copy)]
pub struct IndexContext<'a> {
    /// The entity's full name.
    pub entity: &'a str,
    /// The indexed fields' numbers, in index order.
    pub fields: &'a [u32],
    /// How many bits the token keeps.
    pub width: Width,
}

/// A blind index token: the bytes to store in (or look up by in) the index column.
///
/// `as_bytes` has [`Width::bytes`] bytes; bits past the width in the last byte are zero. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindToken {
    bytes: [u8; 32],
    len: u8,
}

impl BlindToken {
    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for BlindToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindToken(")?;
        for byte in self.as_bytes() {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// Computes blind index tokens under a [`KeyRing`]'s blind-index sub-keys.
///
/// Keyed once (the HMAC state after key and domain is kept and cloned per token). `Debug` shows key ids only.
///
/// ```
/// use capacitor::pii::{BlindIndex, IndexContext, KeyRing, SecretKey, Width};
///
/// let ring = KeyRing::new(vec![(1, SecretKey::from_bytes([7; 32]))])?;
/// let index = BlindIndex::new(&ring);
/// let email = IndexContext { entity: "app.v1.User", fields: &[2], width: Width::FULL };
/// let stored = index.token(&email, b"ada@example.com");
/// assert_eq!(stored.as_bytes().len(), 32);
/// assert_eq!(index.lookup_tokens(&email, b"ada@example.com"), [stored]);
///
/// let by_city = IndexContext { entity: "app.v1.User", fields: &[5], width: Width::bits(16) };
/// assert_eq!(index.token(&by_city, b"London").as_bytes().len(), 2);
/// # Ok::<(), capacitor::pii::PiiError>(())
/// ```
pub struct BlindIndex {
    /// Current first.
    keys: Vec<(u32, Hmac<Sha256>)>,
}

impl BlindIndex {
    /// The blind index of `ring`'s keys.
    pub fn new(ring: &KeyRing) -> BlindIndex {
        let keys = ring
            .blind_index_keys()
            .map(|(id, key)| {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
                    .expect("HMAC takes a key of any length");
                mac.update(DOMAIN);
                (id, mac)
            })
            .collect();
        BlindIndex { keys }
    }

    /// The token to store for `value` in the index `ctx`: under the current key.
    pub fn token(&self, ctx: &IndexContext<'_>, value: &[u8]) -> BlindToken {
        compute(&self.keys[0].1, ctx, value)
    }

    /// The tokens to look `value` up by in the index `ctx`: one per key id, the current first. A query
    /// matches a row whose token is any of them (`IN (…)`); with a single id there is one.
    pub fn lookup_tokens(&self, ctx: &IndexContext<'_>, value: &[u8]) -> Vec<BlindToken> {
        self.keys
            .iter()
            .map(|(_, mac)| compute(mac, ctx, value))
            .collect()
    }
}

fn compute(keyed: &Hmac<Sha256>, ctx: &IndexContext<'_>, value: &[u8]) -> BlindToken {
    let mut mac = keyed.clone();
    mac.update(&(ctx.entity.len() as u64).to_be_bytes());
    mac.update(ctx.entity.as_bytes());
    mac.update(&(ctx.fields.len() as u32).to_be_bytes());
    for field in ctx.fields {
        mac.update(&field.to_be_bytes());
    }
    mac.update(&(value.len() as u64).to_be_bytes());
    mac.update(value);
    let mut bytes: [u8; 32] = mac.finalize().into_bytes().into();
    let len = ctx.width.bytes();
    bytes[len..].fill(0);
    let spare = len * 8 - usize::from(ctx.width.get());
    if spare > 0 {
        bytes[len - 1] &= 0xFF << spare;
    }
    BlindToken {
        bytes,
        len: len as u8,
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_key_ids(f, "BlindIndex", self.keys.iter().map(|(id, _)| *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::SecretKey;
    use proptest::prelude::*;

    fn index(ids: &[(u32, u8)]) -> BlindIndex {
        BlindIndex::new(
            &KeyRing::new(
                ids.iter()
                    .map(|&(id, byte)| (id, SecretKey::from_bytes([byte; 32])))
                    .collect(),
            )
            .unwrap(),
        )
    }

    const EMAIL: IndexContext<'static> = IndexContext {
        entity: "app.v1.User",
        fields: &[2],
        width: Width::FULL,
    };

    #[test]
    fn stable_and_separated_by_entity_field_and_key() {
        let index = index(&[(1, 1)]);
        let value = b"ada@example.com";
        let token = index.token(&EMAIL, value);
        assert_eq!(token, index.token(&EMAIL, value));
        assert_ne!(token, index.token(&EMAIL, b"Ada@example.com"));
        let others = [
            IndexContext {
                entity: "app.v1.Admin",
                ..EMAIL
            },
            IndexContext {
                fields: &[3],
                ..EMAIL
            },
            IndexContext {
                fields: &[2, 3],
                ..EMAIL
            },
        ];
        for other in others {
            assert_ne!(token, index.token(&other, value), "{other:?}");
        }
        assert_ne!(token, self::index(&[(1, 2)]).token(&EMAIL, value));
    }

    #[test]
    fn truncation_keeps_a_prefix_with_the_spare_bits_zeroed() {
        let index = index(&[(1, 1)]);
        let full = index.token(&EMAIL, b"v");
        for bits in [1u16, 7, 8, 12, 16, 31, 64, 255] {
            let short = index.token(
                &IndexContext {
                    width: Width::bits(bits),
                    ..EMAIL
                },
                b"v",
            );
            let bytes = short.as_bytes();
            assert_eq!(bytes.len(), usize::from(bits).div_ceil(8), "{bits}");
            let whole = usize::from(bits / 8);
            assert_eq!(&bytes[..whole], &full.as_bytes()[..whole], "{bits}");
            if bits % 8 != 0 {
                let keep = 0xFFu8 << (8 - bits % 8);
                assert_eq!(bytes[whole], full.as_bytes()[whole] & keep, "{bits}");
            }
        }
        assert_eq!(Width::bits(0).get(), 1);
        assert_eq!(Width::bits(999), Width::FULL);
    }

    #[test]
    fn lookups_find_rows_indexed_before_a_rotation() {
        let before = index(&[(1, 1)]).token(&EMAIL, b"ada@example.com");
        let rotated = index(&[(2, 2), (1, 1)]);
        let tokens = rotated.lookup_tokens(&EMAIL, b"ada@example.com");
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0], rotated.token(&EMAIL, b"ada@example.com"));
        assert_eq!(tokens[1], before);
    }

    #[test]
    fn debug_shows_no_key_material_or_value() {
        let index = index(&[(3, 0xAB)]);
        assert_eq!(format!("{index:?}"), "BlindIndex { current: 3, ids: [3] }");
        let token = index.token(
            &IndexContext {
                width: Width::bits(16),
                ..EMAIL
            },
            b"canary",
        );
        let shown = format!("{token:?}");
        assert!(
            shown.starts_with("BlindToken(") && shown.len() == "BlindToken()".len() + 4,
            "{shown}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// The false-positive rate is what the width promises: about 2^-bits per pair of distinct values.
        #[test]
        fn eight_bit_tokens_collide_about_once_in_256(seed in any::<u64>()) {
            let index = index(&[(1, 1)]);
            let ctx = IndexContext { width: Width::bits(8), ..EMAIL };
            let probe = index.token(&ctx, &seed.to_be_bytes());
            let matches = (0..4096u64)
                .map(|other| index.token(&ctx, &(seed ^ (other + 1)).to_be_bytes()))
                .filter(|token| *token == probe)
                .count();
            // Expected 16; a binomial(4096, 1/256) is below 40 with overwhelming probability.
            prop_assert!(matches < 40, "{matches}");
        }
    }
}
