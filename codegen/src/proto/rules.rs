//! Reads `buf.validate` rules (`(buf.validate.field)`, `(buf.validate.message)`, `(buf.validate.oneof)`) into
//! the IR, when the schema imports `buf/validate/validate.proto`.

use super::source::SourceMap;
use crate::ir::{Rule, RuleValue};
use prost_reflect::{DynamicMessage, ExtensionDescriptor, ReflectMessage, Value};

/// Flattens a rules message into one [`Rule`] per set scalar, list or message-list, with the position of the
/// rule when source info has it (falling back to the option, then the declaration).
pub fn read(
    options: &DynamicMessage,
    ext: &ExtensionDescriptor,
    spans: &SourceMap,
    options_path: &[i32],
) -> Vec<Rule> {
    if !options.has_extension(ext) {
        return Vec::new();
    }
    let Some(rules) = options.get_extension(ext).as_message().cloned() else {
        return Vec::new();
    };
    let mut path = options_path.to_vec();
    path.push(ext.number() as i32);
    let mut out = Vec::new();
    flatten(&rules, "", &path, spans, &mut out);
    out
}

fn flatten(
    message: &DynamicMessage,
    prefix: &str,
    path: &[i32],
    spans: &SourceMap,
    out: &mut Vec<Rule>,
) {
    // Predefined rules are extensions of the rules messages; keep them (named `[full.name]`) so the checks
    // can report them instead of dropping them silently.
    for (ext, value) in message.extensions() {
        let mut field_path = path.to_vec();
        field_path.push(ext.number() as i32);
        out.push(Rule::new(
            format!("{prefix}[{}]", ext.full_name()),
            convert(value),
            spans.origin(&field_path),
        ));
    }
    for (field, value) in message.fields() {
        let name = format!("{prefix}{}", field.name());
        let mut field_path = path.to_vec();
        field_path.push(field.number() as i32);
        match value {
            Value::Message(m) if !is_leaf(m.descriptor().full_name()) => {
                flatten(m, &format!("{name}."), &field_path, spans, out);
            }
            other => {
                let origin = spans.origin(&field_path);
                // Each item of a repeated rule where source info places it (each `option (…).cel = {…}`
                // statement is a location of its own, indexed under the field's path).
                let item_origins = match other {
                    Value::List(items) => (0..items.len())
                        .map(|i| {
                            let mut item_path = field_path.clone();
                            item_path.push(i as i32);
                            spans.origin(&item_path)
                        })
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                let item_origins = match item_origins.iter().all(|o| *o == origin) {
                    true => Vec::new(),
                    false => item_origins,
                };
                out.push(Rule {
                    path: name,
                    value: convert(other),
                    origin,
                    item_origins,
                });
            }
        }
    }
}

/// A message-typed rule value read as one value rather than flattened into rules of its own: a Duration,
/// a Timestamp, or a FieldMask (`field_mask.const`, whose empty mask is a rule too).
fn is_leaf(full_name: &str) -> bool {
    is_time(full_name) || full_name == FIELD_MASK
}

const FIELD_MASK: &str = "google.protobuf.FieldMask";

fn is_time(full_name: &str) -> bool {
    matches!(
        full_name,
        "google.protobuf.Duration" | "google.protobuf.Timestamp"
    )
}

fn convert(value: &Value) -> RuleValue {
    match value {
        Value::Bool(b) => RuleValue::Bool(*b),
        Value::I32(v) => RuleValue::Int(i64::from(*v)),
        Value::I64(v) => RuleValue::Int(*v),
        Value::U32(v) => RuleValue::Uint(u64::from(*v)),
        Value::U64(v) => RuleValue::Uint(*v),
        Value::F32(v) => RuleValue::Float(f64::from(*v)),
        Value::F64(v) => RuleValue::Float(*v),
        Value::String(s) => RuleValue::String(s.clone()),
        Value::Bytes(b) => RuleValue::Bytes(b.to_vec()),
        Value::EnumNumber(n) => RuleValue::Enum(*n),
        Value::List(items) => RuleValue::List(items.iter().map(convert).collect()),
        Value::Message(m) if is_time(m.descriptor().full_name()) => {
            let int = |name: &str| {
                m.get_field_by_name(name).map_or(0, |v| match v.as_ref() {
                    Value::I64(v) => *v,
                    Value::I32(v) => i64::from(*v),
                    _ => 0,
                })
            };
            RuleValue::Time {
                seconds: int("seconds"),
                nanos: int("nanos") as i32,
            }
        }
        // A FieldMask is its list of paths.
        Value::Message(m) if m.descriptor().full_name() == FIELD_MASK => m
            .get_field_by_name("paths")
            .map_or(RuleValue::List(Vec::new()), |paths| convert(&paths)),
        Value::Message(m) => RuleValue::Message(
            m.fields()
                .map(|(f, v)| (f.name().to_string(), convert(v)))
                .collect(),
        ),
        // buf.validate declares no map-valued rule.
        Value::Map(_) => RuleValue::List(Vec::new()),
    }
}
