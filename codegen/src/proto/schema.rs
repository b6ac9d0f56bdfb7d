//! Reads messages, fields and Capacitor's options out of the descriptor pool into the IR.

use super::Loaded;
use super::rules;
use super::source::SourceMap;
use crate::diagnostic::Diagnostic;
use crate::ir::{
    Backend, CacheOptions, CompositeIndex, Consistency, Declared, EntityOptions,
    EventSourcedOptions, Field, FieldOptions, FieldType, IndexKind, Label, Message, Oneof, Origin,
    OutboxOptions, Pii, PredefinedRule, Rule, Scalar, Schema, WellKnown,
};
use crate::names;
use prost_reflect::{
    Cardinality, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    OneofDescriptor, Value,
};

// Field numbers inside descriptor.proto, for source-info paths.
const MESSAGE_OPTIONS: i32 = 7; // DescriptorProto.options
const FIELD_OPTIONS: i32 = 8; // FieldDescriptorProto.options
const ONEOF_OPTIONS: i32 = 2; // OneofDescriptorProto.options

// Extension numbers in capacitor/v1/options.proto.
const FIELD_EXT: i32 = 50700;
const ENTITY_EXT: i32 = 50701;

/// Capacitor's extensions, when the pool has them (a schema that never imports the options has none).
struct Extensions {
    field: Option<ExtensionDescriptor>,
    entity: Option<ExtensionDescriptor>,
    file: Option<ExtensionDescriptor>,
    validate_field: Option<ExtensionDescriptor>,
    validate_message: Option<ExtensionDescriptor>,
    validate_oneof: Option<ExtensionDescriptor>,
}

/// Builds the IR for every target file of `loaded`. Option values that cannot be represented (an enum number
/// the vocabulary does not know) are reported as diagnostics.
pub fn build_schema(loaded: &Loaded) -> (Schema, Vec<Diagnostic>) {
    let ext = Extensions {
        field: loaded.pool.get_extension_by_name("capacitor.v1.field"),
        entity: loaded.pool.get_extension_by_name("capacitor.v1.entity"),
        file: loaded.pool.get_extension_by_name("capacitor.v1.file"),
        validate_field: loaded.pool.get_extension_by_name("buf.validate.field"),
        validate_message: loaded.pool.get_extension_by_name("buf.validate.message"),
        validate_oneof: loaded.pool.get_extension_by_name("buf.validate.oneof"),
    };
    let mut schema = Schema::default();
    let mut diagnostics = Vec::new();
    for name in &loaded.targets {
        let Some(file) = loaded.pool.get_file_by_name(name) else {
            continue;
        };
        let spans = SourceMap::new(&file);
        let defaults = ext
            .file
            .as_ref()
            .and_then(|e| extension(&file.options(), e))
            .map(|o| FileDefaults::read(&o, &spans, &mut diagnostics))
            .unwrap_or_default();
        let mut reader = Reader {
            ext: &ext,
            spans: &spans,
            defaults: &defaults,
            diagnostics: &mut diagnostics,
        };
        for message in file.messages() {
            reader.message(&message, "", &mut schema.messages);
        }
    }
    schema.predefined = predefined_rules(loaded);
    (schema, diagnostics)
}

/// Every extension of a `buf.validate.*Rules` message in the pool that declares
/// `(buf.validate.predefined).cel`: protovalidate's and the user's predefined rules.
fn predefined_rules(loaded: &Loaded) -> Vec<PredefinedRule> {
    let Some(predefined) = loaded.pool.get_extension_by_name("buf.validate.predefined") else {
        return Vec::new();
    };
    loaded
        .pool
        .all_extensions()
        .filter_map(|ext| {
            let extends = ext
                .containing_message()
                .full_name()
                .strip_prefix("buf.validate.")?
                .to_string();
            if !extends.ends_with("Rules") {
                return None;
            }
            let file = ext.parent_file();
            let spans = SourceMap::new(&file);
            // FileDescriptorProto.extension = 7 for a top-level extension; a nested one falls back to its file.
            let index = file
                .extensions()
                .position(|e| e.full_name() == ext.full_name());
            let path: Vec<i32> = index.map_or_else(Vec::new, |i| vec![7, i as i32, 8]);
            let cel = rules::read(&ext.options(), &predefined, &spans, &path)
                .into_iter()
                .find(|r| r.path == "cel");
            Some(PredefinedRule {
                full_name: ext.full_name().to_string(),
                number: ext.number(),
                extends,
                ty: extension_type(&ext),
                repeated: ext.is_list(),
                origin: spans.origin(&path),
                cel,
            })
        })
        .collect()
}

fn extension_type(ext: &ExtensionDescriptor) -> FieldType {
    match ext.kind() {
        Kind::Message(m) => match WellKnown::from_full_name(m.full_name()) {
            Some(w) => FieldType::WellKnown(w),
            None => FieldType::Message(m.full_name().to_string()),
        },
        Kind::Enum(e) => FieldType::Enum(e.full_name().to_string()),
        other => scalar_of_kind(&other).map_or(FieldType::Scalar(Scalar::Bytes), FieldType::Scalar),
    }
}

/// File-level defaults (`option (capacitor.v1.file) = {…}`).
#[derive(Default)]
struct FileDefaults {
    backend: Option<Backend>,
    cache: Option<CacheOptions>,
    consistency: Option<Consistency>,
}

impl FileDefaults {
    fn read(
        options: &DynamicMessage,
        spans: &SourceMap,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Self {
        // FileDescriptorProto.options = 8; the extension lives under it.
        let origin = spans.origin(&[8, 50702]);
        FileDefaults {
            backend: enum_option(
                options,
                "backend",
                &origin,
                "(capacitor.v1.file).backend",
                Backend::from_number,
                diagnostics,
            ),
            consistency: enum_option(
                options,
                "consistency",
                &origin,
                "(capacitor.v1.file).consistency",
                Consistency::from_number,
                diagnostics,
            ),
            cache: message_field(options, "cache")
                .map(|c| cache_options(&c, spans, &[8, 50702, 2])),
        }
    }
}

struct Reader<'a> {
    ext: &'a Extensions,
    spans: &'a SourceMap,
    defaults: &'a FileDefaults,
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// The name prost-build gives a oneof's enum inside its message's module: UpperCamel, with `OneOf` appended
/// when a nested message or enum has the same name.
pub fn oneof_type_name(message: &MessageDescriptor, oneof: &OneofDescriptor) -> String {
    let type_name = names::type_name(oneof.name());
    let has_conflict = message
        .child_messages()
        .any(|m| names::type_name(m.name()) == type_name)
        || message
            .child_enums()
            .any(|e| names::type_name(e.name()) == type_name);
    if has_conflict {
        format!("{type_name}OneOf")
    } else {
        type_name
    }
}

impl Reader<'_> {
    /// The `buf.validate` rules in `options` (declared at `path` + `options_field`).
    fn rules(
        &self,
        ext: &Option<ExtensionDescriptor>,
        options: &DynamicMessage,
        path: &[i32],
        options_field: i32,
    ) -> Vec<Rule> {
        let Some(ext) = ext else {
            return Vec::new();
        };
        let mut options_path = path.to_vec();
        options_path.push(options_field);
        rules::read(options, ext, self.spans, &options_path)
    }

    /// Adds `message` and its nested messages (map entries excluded) to `out`.
    fn message(&mut self, message: &MessageDescriptor, module: &str, out: &mut Vec<Message>) {
        if message.is_map_entry() {
            return;
        }
        let path = message.path().to_vec();
        let rust_name = names::type_name(message.name());
        let rust_path = format!("{module}{rust_name}");
        let mut oneofs = Vec::new();
        for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
            let type_name = oneof_type_name(message, &oneof);
            oneofs.push(Oneof {
                name: oneof.name().to_string(),
                rust_name: names::field_name(oneof.name()),
                rust_type: format!("{module}{}::{type_name}", names::field_name(message.name())),
                rules: self.rules(
                    &self.ext.validate_oneof,
                    &oneof.options(),
                    oneof.path(),
                    ONEOF_OPTIONS,
                ),
            });
        }
        let fields = message.fields().map(|f| self.field(&f)).collect();
        let entity = self.entity(message, &path);
        out.push(Message {
            package: message.package_name().to_string(),
            full_name: message.full_name().to_string(),
            rust_name,
            rust_path,
            fields,
            oneofs,
            rules: self.rules(
                &self.ext.validate_message,
                &message.options(),
                &path,
                MESSAGE_OPTIONS,
            ),
            entity,
            reserved: message.reserved_ranges().collect(),
            origin: self.spans.origin(&path),
        });
        let nested_module = format!("{module}{}::", names::field_name(message.name()));
        for child in message.child_messages() {
            self.message(&child, &nested_module, out);
        }
    }

    fn field(&mut self, field: &FieldDescriptor) -> Field {
        let path = field.path().to_vec();
        let origin = self.spans.origin(&path);
        let field_options = field.options();
        let debug_redact = matches!(
            field_options.get_field_by_name("debug_redact").as_deref(),
            Some(Value::Bool(true))
        );
        let options = self
            .ext
            .field
            .as_ref()
            .and_then(|e| extension(&field_options, e))
            .map(|o| self.field_options(&o, &path))
            .unwrap_or_default();
        let (ty, label) = field_type(field);
        Field {
            number: field.number(),
            name: field.name().to_string(),
            rust_name: names::field_name(field.name()),
            ty,
            label,
            oneof: field
                .containing_oneof()
                .filter(|o| !o.is_synthetic())
                .map(|o| o.name().to_string()),
            options,
            debug_redact,
            rules: self.rules(
                &self.ext.validate_field,
                &field_options,
                &path,
                FIELD_OPTIONS,
            ),
            origin,
        }
    }

    fn field_options(&mut self, o: &DynamicMessage, field_path: &[i32]) -> FieldOptions {
        let at = |sub: i32| {
            let mut p = field_path.to_vec();
            p.extend([FIELD_OPTIONS, FIELD_EXT, sub]);
            self.spans.origin(&p)
        };
        let pii = enum_option(
            o,
            "pii",
            &at(1),
            "(capacitor.v1.field).pii",
            Pii::from_number,
            self.diagnostics,
        );
        let index = match get_enum(o, "index") {
            None => None,
            Some(n) => {
                let kind = match n {
                    1 => Some(IndexKind::Primary),
                    2 => Some(IndexKind::Unique),
                    3 => Some(IndexKind::Secondary),
                    _ => {
                        self.diagnostics.push(unknown_enum(
                            &at(2),
                            "(capacitor.v1.field).index",
                            n,
                        ));
                        None
                    }
                };
                kind.map(|k| Declared::new(k, at(2)))
            }
        };
        let encrypt = o
            .has_field_by_name("encrypt")
            .then(|| Declared::new(get_bool(o, "encrypt"), at(3)));
        let blind_index_bits = o
            .get_field_by_name("blind_index_bits")
            .and_then(|v| v.as_u32())
            .filter(|bits| *bits != 0)
            .map(|bits| Declared::new(bits, at(6)));
        // An empty `claim_check {}` has no threshold: kept as "" for the check to refuse.
        let claim_check = message_field(o, "claim_check").map(|c| {
            let mut threshold = field_path.to_vec();
            threshold.extend([FIELD_OPTIONS, FIELD_EXT, 7, 1]);
            Declared::new(
                get_string(&c, "threshold").unwrap_or_default(),
                self.spans.origin(&threshold),
            )
        });
        let column = get_string(o, "column").filter(|c| !c.is_empty());
        FieldOptions {
            pii,
            index,
            encrypt,
            blind_index_bits,
            claim_check,
            column,
            ignore: get_bool(o, "ignore"),
        }
    }

    fn entity(&mut self, message: &MessageDescriptor, path: &[i32]) -> Option<EntityOptions> {
        let o = self
            .ext
            .entity
            .as_ref()
            .and_then(|e| extension(&message.options(), e))?;
        let sub = |tail: &[i32]| {
            let mut p = path.to_vec();
            p.extend([MESSAGE_OPTIONS, ENTITY_EXT]);
            p.extend(tail);
            p
        };
        let origin = self.spans.origin(&sub(&[]));
        let table = get_string(&o, "table")
            .filter(|t| !t.is_empty())
            .map(|t| Declared::new(t, self.spans.origin(&sub(&[1]))));
        let backend = enum_option(
            &o,
            "backend",
            &self.spans.origin(&sub(&[2])),
            "(capacitor.v1.entity).backend",
            Backend::from_number,
            self.diagnostics,
        )
        .or(self.defaults.backend);
        let consistency = enum_option(
            &o,
            "consistency",
            &self.spans.origin(&sub(&[4])),
            "(capacitor.v1.entity).consistency",
            Consistency::from_number,
            self.diagnostics,
        )
        .or(self.defaults.consistency);
        let cache = message_field(&o, "cache")
            .map(|c| cache_options(&c, self.spans, &sub(&[3])))
            .or_else(|| self.defaults.cache.clone());
        let indexes = match o.get_field_by_name("indexes").as_deref() {
            Some(Value::List(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_message().map(|m| (i, m)))
                .map(|(i, m)| CompositeIndex {
                    name: get_string(m, "name").filter(|n| !n.is_empty()),
                    fields: match m.get_field_by_name("fields").as_deref() {
                        Some(Value::List(names)) => names
                            .iter()
                            .filter_map(|n| n.as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    },
                    unique: get_bool(m, "unique"),
                    primary: get_bool(m, "primary"),
                    origin: self.spans.origin(&sub(&[5, i as i32])),
                })
                .collect(),
            _ => Vec::new(),
        };
        let outbox = message_field(&o, "outbox").map(|m| OutboxOptions {
            topic: get_string(&m, "topic").filter(|t| !t.is_empty()),
            origin: self.spans.origin(&sub(&[7])),
        });
        let event_sourced = message_field(&o, "event_sourced").map(|m| EventSourcedOptions {
            events: get_string(&m, "events").unwrap_or_default(),
            snapshot_every: match m.get_field_by_name("snapshot_every").as_deref() {
                Some(Value::U64(v)) if m.has_field_by_name("snapshot_every") => Some(*v),
                _ => None,
            },
            origin: self.spans.origin(&sub(&[8])),
        });
        let subject = get_string(&o, "subject")
            .filter(|s| !s.is_empty())
            .map(|s| Declared::new(s, self.spans.origin(&sub(&[9]))));
        Some(EntityOptions {
            table,
            backend,
            cache,
            consistency,
            indexes,
            outbox,
            event_sourced,
            subject,
            origin,
        })
    }
}

fn cache_options(c: &DynamicMessage, spans: &SourceMap, path: &[i32]) -> CacheOptions {
    let nonzero = |name: &str| match c.get_field_by_name(name).as_deref() {
        Some(Value::U64(0)) | None => None,
        Some(Value::U64(v)) => Some(*v),
        _ => None,
    };
    let mut ttl_path = path.to_vec();
    ttl_path.push(2);
    CacheOptions {
        disabled: get_bool(c, "disabled"),
        ttl: get_string(c, "ttl")
            .filter(|t| !t.is_empty())
            .map(|t| Declared::new(t, spans.origin(&ttl_path))),
        max_entries: nonzero("max_entries"),
        max_bytes: nonzero("max_bytes"),
    }
}

fn field_type(field: &FieldDescriptor) -> (FieldType, Label) {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let key = entry.map_entry_key_field();
        let value = entry.map_entry_value_field();
        let key = match value_type(&key) {
            FieldType::Scalar(s) => s,
            _ => Scalar::String,
        };
        return (value_type(&value), Label::Map { key });
    }
    let label = if field.is_list() {
        Label::Repeated
    } else if field.cardinality() == Cardinality::Required {
        Label::Required
    } else if field.supports_presence() {
        Label::Optional
    } else {
        Label::Implicit
    };
    (value_type(field), label)
}

fn value_type(field: &FieldDescriptor) -> FieldType {
    match field.kind() {
        Kind::Enum(e) => FieldType::Enum(e.full_name().to_string()),
        Kind::Message(m) => match WellKnown::from_full_name(m.full_name()) {
            Some(w) => FieldType::WellKnown(w),
            None => FieldType::Message(m.full_name().to_string()),
        },
        other => FieldType::Scalar(scalar_of_kind(&other).expect("a scalar kind")),
    }
}

/// The scalar of a scalar field kind; `None` for enums and messages.
fn scalar_of_kind(kind: &Kind) -> Option<Scalar> {
    Some(match kind {
        Kind::Double => Scalar::Double,
        Kind::Float => Scalar::Float,
        Kind::Int32 => Scalar::Int32,
        Kind::Int64 => Scalar::Int64,
        Kind::Uint32 => Scalar::Uint32,
        Kind::Uint64 => Scalar::Uint64,
        Kind::Sint32 => Scalar::Sint32,
        Kind::Sint64 => Scalar::Sint64,
        Kind::Fixed32 => Scalar::Fixed32,
        Kind::Fixed64 => Scalar::Fixed64,
        Kind::Sfixed32 => Scalar::Sfixed32,
        Kind::Sfixed64 => Scalar::Sfixed64,
        Kind::Bool => Scalar::Bool,
        Kind::String => Scalar::String,
        Kind::Bytes => Scalar::Bytes,
        Kind::Enum(_) | Kind::Message(_) => return None,
    })
}

fn extension(options: &DynamicMessage, ext: &ExtensionDescriptor) -> Option<DynamicMessage> {
    if !options.has_extension(ext) {
        return None;
    }
    options.get_extension(ext).as_message().cloned()
}

fn message_field(m: &DynamicMessage, name: &str) -> Option<DynamicMessage> {
    if !m.has_field_by_name(name) {
        return None;
    }
    m.get_field_by_name(name)?.as_message().cloned()
}

fn get_string(m: &DynamicMessage, name: &str) -> Option<String> {
    m.get_field_by_name(name)?.as_str().map(str::to_string)
}

fn get_bool(m: &DynamicMessage, name: &str) -> bool {
    m.get_field_by_name(name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// The number of a set enum field; `None` when unset or UNSPECIFIED (0).
fn get_enum(m: &DynamicMessage, name: &str) -> Option<i32> {
    m.get_field_by_name(name)?
        .as_enum_number()
        .filter(|n| *n != 0)
}

fn enum_option<T>(
    m: &DynamicMessage,
    name: &str,
    origin: &Origin,
    option: &str,
    from_number: fn(i32) -> Option<T>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    let n = get_enum(m, name)?;
    let value = from_number(n);
    if value.is_none() {
        diagnostics.push(unknown_enum(origin, option, n));
    }
    value
}

fn unknown_enum(origin: &Origin, option: &str, n: i32) -> Diagnostic {
    Diagnostic::new(
        origin,
        format!("{option}: unknown value {n}"),
        "unknown enum value",
    )
    .help("use one of the names declared in capacitor/v1/options.proto")
}
