//! The masked view of a whole message, for logs and support UIs: `value.masked()`.
//!
//! Generated code (the proto path and `#[derive(RedactedDebug)]`, one shared emitter) implements
//! [`MaskFields`] for every message with a PII or `debug_redact` field and adds an inherent
//! `fn masked(&self) -> MaskedView<'_, Self>`. The view shows:
//!
//! - a PII **string** field (implicit, required or proto3 `optional`) masked by its kind with
//!   [`super::Masked`] (`a***@example.com`, `A. L.`, `***42`…; an unset optional is `null`);
//! - any other PII or `debug_redact` field (bytes, repeated, maps, messages) as `<redacted>`;
//! - every other field as its `Debug` text (a oneof through its generated, redacting `Debug`).
//!
//! `Display` writes `User { email: a***@example.com, name: A. L., age: 36 }`. `Serialize` writes a JSON object
//! keyed by the proto field names: masked and redacted fields as strings; other fields as JSON numbers or
//! booleans when their `Debug` text is one, as the string their `Debug` shows for strings, else as the `Debug`
//! text itself. That is deliberately simpler than the proto3 JSON mapping (no lowerCamelCase names, no
//! base64, nested messages as their `Debug` text): the view is for people reading logs, not for round trips.

use super::Masked;
use crate::schema::Pii;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;

/// A message whose fields a [`MaskedView`] can show; implemented by generated code.
pub trait MaskFields {
    /// The message's name, as `Display` starts.
    const MESSAGE: &'static str;

    /// Lists every field, in declaration order, with how the view shows it.
    fn mask_fields<'a>(&'a self, out: &mut MaskedFields<'a>);
}

/// How one field is shown.
enum Shown<'a> {
    Masked(Masked<'a>),
    Redacted,
    Unset,
    Plain(&'a dyn fmt::Debug),
}

/// The fields of one message as a [`MaskedView`] shows them (filled by [`MaskFields::mask_fields`]).
pub struct MaskedFields<'a> {
    fields: Vec<(&'static str, Shown<'a>)>,
}

impl<'a> MaskedFields<'a> {
    /// A PII string field, masked by `kind`.
    pub fn masked(&mut self, name: &'static str, kind: Pii, value: &'a str) {
        self.fields
            .push((name, Shown::Masked(Masked::new(kind, value))));
    }

    /// An optional PII string field, masked by `kind`; `None` shows as unset.
    pub fn masked_option(&mut self, name: &'static str, kind: Pii, value: Option<&'a str>) {
        let shown = match value {
            Some(value) => Shown::Masked(Masked::new(kind, value)),
            None => Shown::Unset,
        };
        self.fields.push((name, shown));
    }

    /// A field that shows nothing of its value.
    pub fn redacted(&mut self, name: &'static str) {
        self.fields.push((name, Shown::Redacted));
    }

    /// A field without PII, shown as its `Debug` text.
    pub fn plain(&mut self, name: &'static str, value: &'a dyn fmt::Debug) {
        self.fields.push((name, Shown::Plain(value)));
    }
}

/// A message with its PII masked: `Display` and `serde::Serialize` (see the [module docs](self)).
pub struct MaskedView<'a, E: MaskFields + ?Sized> {
    value: &'a E,
}

impl<'a, E: MaskFields + ?Sized> MaskedView<'a, E> {
    /// The view of `value`.
    pub fn new(value: &'a E) -> Self {
        MaskedView { value }
    }

    fn fields(&self) -> MaskedFields<'a> {
        let mut fields = MaskedFields { fields: Vec::new() };
        self.value.mask_fields(&mut fields);
        fields
    }
}

impl<E: MaskFields + ?Sized> fmt::Display for MaskedView<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {{", E::MESSAGE)?;
        for (at, (name, shown)) in self.fields().fields.iter().enumerate() {
            let separator = if at == 0 { " " } else { ", " };
            write!(f, "{separator}{name}: ")?;
            match shown {
                Shown::Masked(masked) => write!(f, "{masked}")?,
                Shown::Redacted => f.write_str(super::mask::REDACTED)?,
                Shown::Unset => f.write_str("unset")?,
                Shown::Plain(value) => write!(f, "{value:?}")?,
            }
        }
        f.write_str(" }")
    }
}

/// The same text as `Display`.
impl<E: MaskFields + ?Sized> fmt::Debug for MaskedView<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<E: MaskFields + ?Sized> Serialize for MaskedView<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = self.fields();
        let mut map = serializer.serialize_map(Some(fields.fields.len()))?;
        for (name, shown) in &fields.fields {
            match shown {
                Shown::Masked(masked) => map.serialize_entry(name, &masked.to_string())?,
                Shown::Redacted => map.serialize_entry(name, super::mask::REDACTED)?,
                Shown::Unset => map.serialize_entry(name, &())?,
                Shown::Plain(value) => {
                    map.serialize_entry(name, &plain_json(&format!("{value:?}")))?
                }
            }
        }
        map.end()
    }
}

/// A field's `Debug` text as JSON: a number or boolean as itself, a quoted string as the string, else the text.
fn plain_json(text: &str) -> serde_json::Value {
    if let Ok(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) =
        serde_json::from_str::<serde_json::Value>(text)
    {
        return value;
    }
    if text.starts_with('"')
        && let Ok(string) = serde_json::from_str::<String>(text)
    {
        return serde_json::Value::String(string);
    }
    serde_json::Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct User {
        email: String,
        nick: Option<String>,
        age: i64,
        note: String,
    }

    impl MaskFields for User {
        const MESSAGE: &'static str = "User";
        fn mask_fields<'a>(&'a self, out: &mut MaskedFields<'a>) {
            out.masked("email", Pii::Email, &self.email);
            out.masked_option("nick", Pii::Name, self.nick.as_deref());
            out.redacted("photo");
            out.plain("age", &self.age);
            out.plain("note", &self.note);
        }
    }

    #[test]
    fn display_and_json_mask_pii_and_show_the_rest() {
        let user = User {
            email: "ada@example.com".into(),
            nick: None,
            age: 36,
            note: "hello \"world\"".into(),
        };
        let view = MaskedView::new(&user);
        assert_eq!(
            view.to_string(),
            r#"User { email: a***@example.com, nick: unset, photo: <redacted>, age: 36, note: "hello \"world\"" }"#
        );
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            serde_json::json!({
                "email": "a***@example.com", "nick": null, "photo": "<redacted>", "age": 36,
                "note": "hello \"world\""
            })
        );
    }
}
