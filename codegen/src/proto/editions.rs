//! Lowers protobuf editions files (`edition = "2023"`) to proto2, on the raw descriptor bytes.
//!
//! prost-build, pbjson-build and prost-reflect all fail on editions descriptors, and prost-types drops the
//! `edition` and `features` fields, so the rewrite happens on the wire bytes of the `FileDescriptorSet`
//! before anything decodes it. Each field's features are resolved file → message → field from the 2023
//! defaults, then expressed in proto2 terms:
//!
//! - `field_presence = LEGACY_REQUIRED` → `LABEL_REQUIRED`;
//! - `message_encoding = DELIMITED` → `TYPE_GROUP`;
//! - packed repeated scalars (the 2023 default) → `[packed = true]`;
//! - `field_presence = IMPLICIT` → a proto2 optional field, recorded in the returned side table so validators
//!   keep treating it as implicit (its zero value means "not set");
//! - `edition` dropped, `syntax = "proto2"`, `features` options dropped.

use std::collections::BTreeSet;

// descriptor.proto field numbers.
const SET_FILE: u32 = 1;
const FILE_PACKAGE: u32 = 2;
const FILE_MESSAGE: u32 = 4;
const FILE_EXTENSION: u32 = 7;
const FILE_OPTIONS: u32 = 8;
const FILE_SYNTAX: u32 = 12;
const FILE_EDITION: u32 = 14;
const MESSAGE_NAME: u32 = 1;
const MESSAGE_FIELD: u32 = 2;
const MESSAGE_NESTED: u32 = 3;
const MESSAGE_EXTENSION: u32 = 6;
const MESSAGE_OPTIONS: u32 = 7;
const FIELD_NAME: u32 = 1;
const FIELD_LABEL: u32 = 4;
const FIELD_TYPE: u32 = 5;
const FIELD_TYPE_NAME: u32 = 6;
const FIELD_OPTIONS: u32 = 8;
const FIELD_ONEOF_INDEX: u32 = 9;
const FILE_OPTIONS_FEATURES: u32 = 50;
const MESSAGE_OPTIONS_FEATURES: u32 = 12;
const FIELD_OPTIONS_FEATURES: u32 = 21;
const FIELD_OPTIONS_PACKED: u32 = 2;
const FEATURE_PRESENCE: u32 = 1;
const FEATURE_REPEATED: u32 = 3;
const FEATURE_MESSAGE_ENCODING: u32 = 5;

const LABEL_REQUIRED: u64 = 2;
const LABEL_REPEATED: u64 = 3;
const TYPE_GROUP: u64 = 10;
const TYPE_MESSAGE: u64 = 11;
const TYPE_STRING: u64 = 9;
const TYPE_BYTES: u64 = 12;

const PRESENCE_IMPLICIT: u64 = 2;
const PRESENCE_LEGACY_REQUIRED: u64 = 3;
const REPEATED_PACKED: u64 = 1;
const ENCODING_DELIMITED: u64 = 2;

/// The result of lowering a descriptor set.
#[derive(Debug, Default)]
pub struct Lowered {
    /// The set, with every editions file rewritten as proto2.
    pub bytes: Vec<u8>,
    /// Fields (`pkg.Message.field`) declared with implicit presence.
    pub implicit_presence: BTreeSet<String>,
    /// The editions files that were lowered.
    pub files: Vec<String>,
}

/// Resolved features (0 = not set at this level).
#[derive(Debug, Clone, Copy)]
struct Features {
    presence: u64,
    repeated: u64,
    message_encoding: u64,
}

impl Features {
    /// Edition 2023's defaults.
    const DEFAULTS: Features = Features {
        presence: 1,
        repeated: REPEATED_PACKED,
        message_encoding: 1,
    };

    fn merge(self, options: Option<&[u8]>, features_field: u32) -> Result<Features, String> {
        let mut out = self;
        let Some(options) = options else {
            return Ok(out);
        };
        for f in parse(options)? {
            if f.number != features_field {
                continue;
            }
            let Payload::Bytes(set) = f.payload else {
                continue;
            };
            for feature in parse(set)? {
                if let Payload::Varint(v) = feature.payload
                    && v != 0
                {
                    match feature.number {
                        FEATURE_PRESENCE => out.presence = v,
                        FEATURE_REPEATED => out.repeated = v,
                        FEATURE_MESSAGE_ENCODING => out.message_encoding = v,
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Lowers every editions file of a serialized `FileDescriptorSet`; other files pass through unchanged.
pub fn lower(set: &[u8]) -> Result<Lowered, String> {
    let mut out = Lowered::default();
    let mut bytes = Vec::with_capacity(set.len());
    for f in parse(set)? {
        match f.payload {
            Payload::Bytes(file) if f.number == SET_FILE && is_editions(file)? => {
                let (lowered, name) = lower_file(file, &mut out.implicit_presence)?;
                out.files.push(name);
                put_bytes(&mut bytes, SET_FILE, &lowered);
            }
            _ => bytes.extend_from_slice(f.raw),
        }
    }
    out.bytes = bytes;
    Ok(out)
}

fn is_editions(file: &[u8]) -> Result<bool, String> {
    Ok(parse(file)?.iter().any(|f| {
        f.number == FILE_SYNTAX && matches!(f.payload, Payload::Bytes(b"editions"))
            || f.number == FILE_EDITION
    }))
}

fn lower_file(file: &[u8], implicit: &mut BTreeSet<String>) -> Result<(Vec<u8>, String), String> {
    let fields = parse(file)?;
    let package = fields
        .iter()
        .find(|f| f.number == FILE_PACKAGE)
        .and_then(|f| f.as_str())
        .unwrap_or("")
        .to_string();
    let name = fields
        .iter()
        .find(|f| f.number == 1)
        .and_then(|f| f.as_str())
        .unwrap_or("")
        .to_string();
    let options = fields
        .iter()
        .find(|f| f.number == FILE_OPTIONS)
        .and_then(|f| f.bytes());
    let features = Features::DEFAULTS.merge(options, FILE_OPTIONS_FEATURES)?;
    let mut out = Vec::with_capacity(file.len());
    for f in &fields {
        match (f.number, &f.payload) {
            (FILE_EDITION, _) | (FILE_SYNTAX, _) => {}
            (FILE_MESSAGE, Payload::Bytes(m)) => {
                let lowered = lower_message(m, &package, features, implicit)?;
                put_bytes(&mut out, FILE_MESSAGE, &lowered);
            }
            (FILE_EXTENSION, Payload::Bytes(x)) => {
                let lowered = lower_field(x, "", features, implicit)?;
                put_bytes(&mut out, FILE_EXTENSION, &lowered);
            }
            (FILE_OPTIONS, Payload::Bytes(o)) => {
                put_bytes(&mut out, FILE_OPTIONS, &strip(o, FILE_OPTIONS_FEATURES)?);
            }
            _ => out.extend_from_slice(f.raw),
        }
    }
    put_bytes(&mut out, FILE_SYNTAX, b"proto2");
    Ok((out, name))
}

fn lower_message(
    message: &[u8],
    scope: &str,
    parent: Features,
    implicit: &mut BTreeSet<String>,
) -> Result<Vec<u8>, String> {
    let fields = parse(message)?;
    let name = fields
        .iter()
        .find(|f| f.number == MESSAGE_NAME)
        .and_then(|f| f.as_str())
        .unwrap_or("");
    let full_name = if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    };
    let options = fields
        .iter()
        .find(|f| f.number == MESSAGE_OPTIONS)
        .and_then(|f| f.bytes());
    let features = parent.merge(options, MESSAGE_OPTIONS_FEATURES)?;
    let mut out = Vec::with_capacity(message.len());
    for f in &fields {
        match (f.number, &f.payload) {
            (MESSAGE_FIELD, Payload::Bytes(x)) => {
                put_bytes(
                    &mut out,
                    MESSAGE_FIELD,
                    &lower_field(x, &full_name, features, implicit)?,
                );
            }
            (MESSAGE_EXTENSION, Payload::Bytes(x)) => {
                put_bytes(
                    &mut out,
                    MESSAGE_EXTENSION,
                    &lower_field(x, "", features, implicit)?,
                );
            }
            (MESSAGE_NESTED, Payload::Bytes(m)) => {
                put_bytes(
                    &mut out,
                    MESSAGE_NESTED,
                    &lower_message(m, &full_name, features, implicit)?,
                );
            }
            (MESSAGE_OPTIONS, Payload::Bytes(o)) => {
                put_bytes(
                    &mut out,
                    MESSAGE_OPTIONS,
                    &strip(o, MESSAGE_OPTIONS_FEATURES)?,
                );
            }
            _ => out.extend_from_slice(f.raw),
        }
    }
    Ok(out)
}

fn lower_field(
    field: &[u8],
    message: &str,
    parent: Features,
    implicit: &mut BTreeSet<String>,
) -> Result<Vec<u8>, String> {
    let fields = parse(field)?;
    let varint = |n: u32| {
        fields
            .iter()
            .find(|f| f.number == n)
            .and_then(|f| match f.payload {
                Payload::Varint(v) => Some(v),
                _ => None,
            })
    };
    let options = fields
        .iter()
        .find(|f| f.number == FIELD_OPTIONS)
        .and_then(|f| f.bytes());
    let features = parent.merge(options, FIELD_OPTIONS_FEATURES)?;
    let label = varint(FIELD_LABEL).unwrap_or(1);
    let ty = varint(FIELD_TYPE).unwrap_or(0);
    let in_oneof = varint(FIELD_ONEOF_INDEX).is_some();
    let type_name = fields
        .iter()
        .find(|f| f.number == FIELD_TYPE_NAME)
        .and_then(|f| f.as_str())
        .unwrap_or("");
    let name = fields
        .iter()
        .find(|f| f.number == FIELD_NAME)
        .and_then(|f| f.as_str())
        .unwrap_or("");
    let repeated = label == LABEL_REPEATED;
    let scalar = !matches!(ty, TYPE_MESSAGE | TYPE_GROUP | TYPE_STRING | TYPE_BYTES);
    let packed = repeated && scalar && features.repeated == REPEATED_PACKED;
    let new_label = if !repeated && features.presence == PRESENCE_LEGACY_REQUIRED {
        LABEL_REQUIRED
    } else {
        label
    };
    // Map entries stay length-prefixed whatever the features say.
    let is_map_entry = repeated && type_name.ends_with("Entry");
    let new_type =
        if ty == TYPE_MESSAGE && features.message_encoding == ENCODING_DELIMITED && !is_map_entry {
            TYPE_GROUP
        } else {
            ty
        };
    if !repeated
        && !in_oneof
        && features.presence == PRESENCE_IMPLICIT
        && ty != TYPE_MESSAGE
        && !message.is_empty()
    {
        implicit.insert(format!("{message}.{name}"));
    }
    let mut out = Vec::with_capacity(field.len() + 4);
    let mut saw_options = false;
    for f in &fields {
        match (f.number, &f.payload) {
            (FIELD_LABEL, _) => put_varint_field(&mut out, FIELD_LABEL, new_label),
            (FIELD_TYPE, _) => put_varint_field(&mut out, FIELD_TYPE, new_type),
            (FIELD_OPTIONS, Payload::Bytes(o)) => {
                saw_options = true;
                let mut o = strip(o, FIELD_OPTIONS_FEATURES)?;
                if packed {
                    o = strip(&o, FIELD_OPTIONS_PACKED)?;
                    put_varint_field(&mut o, FIELD_OPTIONS_PACKED, 1);
                }
                put_bytes(&mut out, FIELD_OPTIONS, &o);
            }
            _ => out.extend_from_slice(f.raw),
        }
    }
    if packed && !saw_options {
        let mut o = Vec::new();
        put_varint_field(&mut o, FIELD_OPTIONS_PACKED, 1);
        put_bytes(&mut out, FIELD_OPTIONS, &o);
    }
    Ok(out)
}

/// `message` without field `number`.
fn strip(message: &[u8], number: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(message.len());
    for f in parse(message)? {
        if f.number != number {
            out.extend_from_slice(f.raw);
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Payload<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// One field record of a message on the wire.
#[derive(Debug)]
struct WireField<'a> {
    number: u32,
    /// The whole record, tag included.
    raw: &'a [u8],
    payload: Payload<'a>,
}

impl<'a> WireField<'a> {
    fn bytes(&self) -> Option<&'a [u8]> {
        match self.payload {
            Payload::Bytes(b) => Some(b),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&'a str> {
        self.bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".to_string())
}

fn parse(buf: &[u8]) -> Result<Vec<WireField<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let tag = varint(buf, &mut pos)?;
        let number = (tag >> 3) as u32;
        let payload = match tag & 7 {
            0 => Payload::Varint(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Payload::Fixed
            }
            2 => {
                let len = varint(buf, &mut pos)? as usize;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or("truncated field")?;
                let b = &buf[pos..end];
                pos = end;
                Payload::Bytes(b)
            }
            5 => {
                pos += 4;
                Payload::Fixed
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        if pos > buf.len() {
            return Err("truncated field".to_string());
        }
        out.push(WireField {
            number,
            raw: &buf[start..pos],
            payload,
        });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint_field(out: &mut Vec<u8>, number: u32, v: u64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, v);
}

fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn field(name: &str, number: u64, label: u64, ty: u64, features: &[(u32, u64)]) -> Vec<u8> {
        let mut f = Vec::new();
        put_bytes(&mut f, FIELD_NAME, name.as_bytes());
        put_varint_field(&mut f, 3, number);
        put_varint_field(&mut f, FIELD_LABEL, label);
        put_varint_field(&mut f, FIELD_TYPE, ty);
        if ty == TYPE_MESSAGE {
            put_bytes(&mut f, FIELD_TYPE_NAME, b".ed.v1.Inner");
        }
        if !features.is_empty() {
            let mut set = Vec::new();
            for (n, v) in features {
                put_varint_field(&mut set, *n, *v);
            }
            let mut options = Vec::new();
            put_bytes(&mut options, FIELD_OPTIONS_FEATURES, &set);
            put_bytes(&mut f, FIELD_OPTIONS, &options);
        }
        f
    }

    #[test]
    fn editions_features_become_proto2_labels_types_and_options() {
        let mut inner = Vec::new();
        put_bytes(&mut inner, MESSAGE_NAME, b"Inner");
        let mut outer = Vec::new();
        put_bytes(&mut outer, MESSAGE_NAME, b"Outer");
        for f in [
            field("plain", 1, 1, 5, &[]),
            field(
                "implicit",
                2,
                1,
                9,
                &[(FEATURE_PRESENCE, PRESENCE_IMPLICIT)],
            ),
            field(
                "legacy",
                3,
                1,
                5,
                &[(FEATURE_PRESENCE, PRESENCE_LEGACY_REQUIRED)],
            ),
            field(
                "delimited",
                4,
                1,
                TYPE_MESSAGE,
                &[(FEATURE_MESSAGE_ENCODING, ENCODING_DELIMITED)],
            ),
            field("numbers", 5, LABEL_REPEATED, 5, &[]),
        ] {
            put_bytes(&mut outer, MESSAGE_FIELD, &f);
        }
        let mut file = Vec::new();
        put_bytes(&mut file, 1, b"ed/v1/outer.proto");
        put_bytes(&mut file, FILE_PACKAGE, b"ed.v1");
        put_bytes(&mut file, FILE_MESSAGE, &inner);
        put_bytes(&mut file, FILE_MESSAGE, &outer);
        put_bytes(&mut file, FILE_SYNTAX, b"editions");
        put_varint_field(&mut file, FILE_EDITION, 1000);
        let mut set = Vec::new();
        put_bytes(&mut set, SET_FILE, &file);

        let lowered = lower(&set).unwrap();
        assert_eq!(lowered.files, ["ed/v1/outer.proto"]);
        assert_eq!(
            lowered.implicit_presence.iter().collect::<Vec<_>>(),
            ["ed.v1.Outer.implicit"]
        );
        let set = prost_types::FileDescriptorSet::decode(lowered.bytes.as_slice()).unwrap();
        let file = &set.file[0];
        assert_eq!(file.syntax(), "proto2");
        let fields = &file.message_type[1].field;
        use prost_types::field_descriptor_proto::{Label, Type};
        assert_eq!(fields[0].label(), Label::Optional);
        assert_eq!(
            fields[1].label(),
            Label::Optional,
            "implicit becomes optional"
        );
        assert_eq!(fields[2].label(), Label::Required);
        assert_eq!(fields[3].r#type(), Type::Group);
        assert_eq!(fields[4].label(), Label::Repeated);
        assert!(
            fields[4].options.as_ref().is_some_and(|o| o.packed()),
            "packed by default"
        );
    }

    #[test]
    fn files_without_editions_pass_through_unchanged() {
        let mut file = Vec::new();
        put_bytes(&mut file, 1, b"p3.proto");
        put_bytes(&mut file, FILE_SYNTAX, b"proto3");
        let mut set = Vec::new();
        put_bytes(&mut set, SET_FILE, &file);
        let lowered = lower(&set).unwrap();
        assert_eq!(lowered.bytes, set);
        assert!(lowered.files.is_empty());
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        assert!(lower(&[0x0a, 0x05, 0x01]).is_err());
    }
}
