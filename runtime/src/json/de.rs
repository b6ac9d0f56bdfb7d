//! Reading values in the proto3 JSON mapping where pbjson-types' own `Deserialize` differs.

use pbjson_types::FieldMask;
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Deserializes a value from the proto3 JSON mapping into `T` (the value is field `.0`).
///
/// Implemented for [`FieldMask`] and for `Option`, `Vec` and maps of it: concrete containers rather than
/// `impl<T> … for De<Option<T>> where De<T>: …`, because pbjson-build often leaves the type to inference
/// (`field__ = map_.next_value()?`) and a recursive impl sends the trait solver into `Option<Option<…>>`
/// before the variable's type is known.
pub struct De<T>(pub T);

impl<'de> Deserialize<'de> for De<FieldMask> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(d)?;
        field_mask_from_json(&text)
            .map(|paths| De(FieldMask { paths }))
            .map_err(serde::de::Error::custom)
    }
}

/// A `FieldMask`'s paths from the mapping's comma-separated string of lowerCamel paths, as snake_case paths.
/// Fails on a path holding `_`, which lowerCamel never does.
pub fn field_mask_from_json(text: &str) -> Result<Vec<String>, String> {
    let mut paths = Vec::new();
    for path in text.split(',').filter(|p| !p.is_empty()) {
        let mut snake = String::with_capacity(path.len() + 4);
        for c in path.chars() {
            if c == '_' {
                return Err(format!("FieldMask path `{path}` is not lowerCamelCase"));
            }
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        paths.push(snake);
    }
    Ok(paths)
}

/// `De` for the containers generated fields hold `$ty` in: optional, repeated, map values.
macro_rules! containers {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for De<Option<$ty>> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(De(<Option<De<$ty>>>::deserialize(d)?.map(|v| v.0)))
            }
        }

        impl<'de> Deserialize<'de> for De<Vec<$ty>> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let items = <Vec<De<$ty>>>::deserialize(d)?;
                Ok(De(items.into_iter().map(|v| v.0).collect()))
            }
        }

        impl<'de, K> Deserialize<'de> for De<HashMap<K, $ty>>
        where
            K: Deserialize<'de> + Eq + Hash,
        {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let items = <HashMap<K, De<$ty>>>::deserialize(d)?;
                Ok(De(items.into_iter().map(|(k, v)| (k, v.0)).collect()))
            }
        }

        impl<'de, K> Deserialize<'de> for De<BTreeMap<K, $ty>>
        where
            K: Deserialize<'de> + Ord,
        {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let items = <BTreeMap<K, De<$ty>>>::deserialize(d)?;
                Ok(De(items.into_iter().map(|(k, v)| (k, v.0)).collect()))
            }
        }
    };
}
containers!(FieldMask);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_masks() {
        assert_eq!(field_mask_from_json("").unwrap(), Vec::<String>::new());
        assert_eq!(
            field_mask_from_json("userId,a.bC").unwrap(),
            ["user_id", "a.b_c"]
        );
        assert!(field_mask_from_json("user_id").is_err());
        let De(mask) = serde_json::from_str::<De<Option<FieldMask>>>("\"fooBar\"").unwrap();
        assert_eq!(mask.unwrap().paths, ["foo_bar"]);
    }
}
