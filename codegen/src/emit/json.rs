//! The proto3 JSON mapping of a package's messages and enums, as tables over the runtime's `json` module.
//!
//! The serde logic lives once in the runtime (`capacitor::json`, see `docs/json.md`); per message this emits
//! only what the schema knows: an `impl json::Message` holding the message's name, its fields' JSON and proto
//! names, and which codec each field's values go through (`Plain`, `Msg`, `Enum::<E>` in the shape `Opt`,
//! `Rep` or `Map`), then one `json::messages!(..)` and one `json::enums!(..)` that implement `Serialize` and
//! `Deserialize` by calling the runtime.
//!
//! Everything is read from the descriptor pool, grouped by package in one pass ([`JsonPackages`]), with one
//! pass over each message's fields; Rust paths are spelled as prost-build spells them (`names`, and
//! [`RustPaths`] for types in other modules or crates). The code is written as formatted Rust text directly:
//! building tokens to parse them into a syntax tree and print that again cost more than the rest of the
//! emission at googleapis scale.

use crate::emit::rust::RuntimePath;
use crate::names;
use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    OneofDescriptor,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How Rust names the types of other packages: prost-build's relative paths (`super::other::Kind`) and the
/// extern paths it was given (`.google.protobuf` → `::pbjson_types`).
pub struct RustPaths<'a> {
    /// `(proto path with a leading dot, Rust path)`, as given to prost-build.
    pub extern_paths: &'a [(String, String)],
}

impl RustPaths<'_> {
    /// The Rust path of the message or enum `full_name`, as named from the top of `package`'s module.
    pub fn type_path(&self, package: &str, full_name: &str) -> String {
        let dotted = format!(".{full_name}");
        if let Some(path) = self.extern_path(&dotted) {
            return path;
        }
        let mut local = package.split('.').filter(|s| !s.is_empty()).peekable();
        let mut ident = full_name.split('.');
        let type_name = ident.next_back().unwrap_or_default();
        let mut ident = ident.peekable();
        while local.peek().is_some() && local.peek() == ident.peek() {
            local.next();
            ident.next();
        }
        local
            .map(|_| "super".to_string())
            .chain(ident.map(names::field_name))
            .chain(std::iter::once(names::type_name(type_name)))
            .collect::<Vec<_>>()
            .join("::")
    }

    /// Whether `full_name` is mapped to an existing Rust type (so this build generates nothing for it).
    pub fn is_extern(&self, full_name: &str) -> bool {
        self.extern_path(&format!(".{full_name}")).is_some()
    }

    /// prost-build's `ExternPaths::resolve_ident`: the longest configured prefix, then the rest of the name
    /// as modules and a type.
    fn extern_path(&self, dotted: &str) -> Option<String> {
        let exact = |proto: &str| {
            self.extern_paths
                .iter()
                .rev()
                .find(|(p, _)| p == proto)
                .map(|(_, rust)| rust.clone())
        };
        if let Some(rust) = exact(dotted) {
            return Some(rust);
        }
        for (at, _) in dotted.rmatch_indices('.') {
            if let Some(rust) = exact(&dotted[..at]) {
                let mut rest = dotted[at + 1..].split('.');
                let type_name = rest.next_back().map(names::type_name);
                let path = rust
                    .split("::")
                    .chain(rest)
                    .enumerate()
                    .map(|(i, segment)| {
                        if (i == 0 && segment == "crate") || segment.is_empty() {
                            segment.to_string()
                        } else {
                            names::field_name(segment)
                        }
                    })
                    .chain(type_name)
                    .collect::<Vec<_>>()
                    .join("::");
                return Some(path);
            }
        }
        None
    }
}

/// Every package's messages and enums that get JSON impls, gathered in one pass over the pool.
pub struct JsonPackages {
    by_package: BTreeMap<String, (Vec<MessageDescriptor>, Vec<EnumDescriptor>)>,
}

impl JsonPackages {
    /// Groups the pool's messages (map entries left out: prost generates no struct for them) and enums by
    /// package, leaving out those mapped to existing Rust types.
    pub fn new(pool: &DescriptorPool, paths: &RustPaths<'_>) -> Self {
        let mut by_package: BTreeMap<String, (Vec<MessageDescriptor>, Vec<EnumDescriptor>)> =
            BTreeMap::new();
        for message in pool.all_messages() {
            if !message.is_map_entry() && !paths.is_extern(message.full_name()) {
                let package = message.package_name().to_string();
                by_package.entry(package).or_default().0.push(message);
            }
        }
        for enumeration in pool.all_enums() {
            if !paths.is_extern(enumeration.full_name()) {
                let package = enumeration.package_name().to_string();
                by_package.entry(package).or_default().1.push(enumeration);
            }
        }
        JsonPackages { by_package }
    }

    /// The JSON items of `package`, as Rust source: the runtime's module under a local name, each message's
    /// table, and the macros implementing serde for every message and enum. Empty when the package defines
    /// neither.
    pub fn package_code(
        &self,
        package: &str,
        paths: &RustPaths<'_>,
        runtime: &RuntimePath,
    ) -> String {
        let Some((messages, enums)) = self.by_package.get(package) else {
            return String::new();
        };
        let emitter = Emitter { package, paths };
        let mut out = String::with_capacity(messages.len() * 2048);
        // `RuntimePath` holds tokens; as text they print with spaces around `::`.
        let runtime = runtime.tokens().to_string().replace(' ', "");
        let _ = writeln!(out, "use {runtime}::json as __json;");
        for message in messages {
            emitter.message_table(message, &mut out);
        }
        for (name, items) in [
            (
                "messages",
                messages.iter().map(|m| m.full_name()).collect::<Vec<_>>(),
            ),
            ("enums", enums.iter().map(|e| e.full_name()).collect()),
        ] {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(out, "__json::{name}!(");
            for full_name in items {
                let _ = writeln!(out, "    {},", paths.type_path(package, full_name));
            }
            out.push_str(");\n");
        }
        out
    }
}

struct Emitter<'a> {
    package: &'a str,
    paths: &'a RustPaths<'a>,
}

impl Emitter<'_> {
    /// `impl __json::Message for X`: the table and the two functions that walk it.
    fn message_table(&self, message: &MessageDescriptor, out: &mut String) {
        let fields: Vec<FieldDescriptor> = message.fields().collect();
        let deprecated = fields.iter().any(|f| {
            f.field_descriptor_proto()
                .options
                .as_ref()
                .is_some_and(|o| o.deprecated())
        });
        if deprecated {
            out.push_str("#[allow(deprecated)]\n");
        }
        let path = self.paths.type_path(self.package, message.full_name());
        let _ = writeln!(out, "impl __json::Message for {path} {{");
        let _ = writeln!(
            out,
            "    const NAME: &'static str = {:?};",
            message.full_name()
        );
        if fields.is_empty() {
            out.push_str(concat!(
                "    const FIELDS: &'static [__json::Field] = &[];\n",
                "    fn write<W: __json::Writer>(&self, _: &mut W) -> ::core::result::Result<(), W::Error> {\n",
                "        ::core::result::Result::Ok(())\n",
                "    }\n",
                "    fn read<'de, R: __json::Reader<'de>>(&mut self, _: usize, _: R) -> ::core::result::Result<(), R::Error> {\n",
                "        ::core::result::Result::Ok(())\n",
                "    }\n",
                "}\n",
            ));
            return;
        }
        out.push_str("    const FIELDS: &'static [__json::Field] = &[\n");
        for field in &fields {
            let (json, proto) = (field.json_name(), field.name());
            if json == proto {
                let _ = writeln!(out, "        __json::Field::same({proto:?}),");
            } else {
                let _ = writeln!(out, "        __json::Field::new({json:?}, {proto:?}),");
            }
        }
        out.push_str("    ];\n");

        let mut writes = String::new();
        let mut reads = String::new();
        let mut oneofs_written: Vec<String> = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            let codec = self.element_codec(field);
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(oneof) => {
                    let slot = names::field_name(oneof.name());
                    let oneof_type = self.oneof_type(message, &oneof);
                    let variant = names::type_name(field.name());
                    let _ = writeln!(
                        reads,
                        "            {index} => r.member({codec}, &mut self.{slot}, {oneof_type}::{variant}),"
                    );
                    if oneofs_written.iter().any(|o| o == oneof.name()) {
                        continue;
                    }
                    oneofs_written.push(oneof.name().to_string());
                    let _ = writeln!(
                        writes,
                        "        if let ::core::option::Option::Some(v) = &self.{slot} {{\n            match v {{"
                    );
                    for member in oneof.fields() {
                        let at = fields
                            .iter()
                            .position(|f| f.number() == member.number())
                            .unwrap_or(index);
                        let codec = self.element_codec(&member);
                        let variant = names::type_name(member.name());
                        let _ = writeln!(
                            writes,
                            "                {oneof_type}::{variant}(v) => w.member({at}, {codec}, v),"
                        );
                    }
                    writes.push_str("            }?;\n        }\n");
                }
                None => {
                    let slot = names::field_name(field.name());
                    let codec = self.shaped_codec(field, codec);
                    // A proto2 `required` scalar is a plain value in prost and is always written.
                    let always = field.cardinality() == Cardinality::Required
                        && !matches!(field.kind(), Kind::Message(_));
                    let call = if always { "member" } else { "field" };
                    let _ = writeln!(writes, "        w.{call}({index}, {codec}, &self.{slot})?;");
                    let _ = writeln!(
                        reads,
                        "            {index} => r.field({codec}, &mut self.{slot}),"
                    );
                }
            }
        }
        out.push_str(
            "    fn write<W: __json::Writer>(&self, w: &mut W) -> ::core::result::Result<(), W::Error> {\n",
        );
        out.push_str(&writes);
        out.push_str("        ::core::result::Result::Ok(())\n    }\n");
        out.push_str(concat!(
            "    fn read<'de, R: __json::Reader<'de>>(&mut self, index: usize, r: R) -> ::core::result::Result<(), R::Error> {\n",
            "        match index {\n",
        ));
        out.push_str(&reads);
        out.push_str("            _ => ::core::result::Result::Ok(()),\n        }\n    }\n}\n");
    }

    /// The codec of one value of the field: a map's value, a list's item.
    fn element_codec(&self, field: &FieldDescriptor) -> String {
        let kind = match field.kind() {
            Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
            kind => kind,
        };
        match kind {
            Kind::Enum(e) => format!(
                "__json::Enum::<{}>::new()",
                self.paths.type_path(self.package, e.full_name())
            ),
            Kind::Message(m)
                if !matches!(
                    m.full_name(),
                    "google.protobuf.Timestamp" | "google.protobuf.FieldMask"
                ) =>
            {
                "__json::Msg".to_string()
            }
            _ => "__json::Plain".to_string(),
        }
    }

    /// The codec of the whole field, in the shape prost holds it in.
    fn shaped_codec(&self, field: &FieldDescriptor, element: String) -> String {
        if field.is_map() {
            format!("__json::Map({element})")
        } else if field.is_list() {
            format!("__json::Rep({element})")
        } else if matches!(field.kind(), Kind::Message(_))
            || (field.supports_presence() && field.cardinality() != Cardinality::Required)
        {
            format!("__json::Opt({element})")
        } else {
            element
        }
    }

    /// The oneof's enum, as prost-build names it: `<message module>::<Oneof>`, with `OneOf` appended when a
    /// nested type has the same name.
    fn oneof_type(&self, message: &MessageDescriptor, oneof: &OneofDescriptor) -> String {
        let message_path = self.paths.type_path(self.package, message.full_name());
        let module = match message_path.rsplit_once("::") {
            Some((parent, _)) => format!("{parent}::{}", names::field_name(message.name())),
            None => names::field_name(message.name()),
        };
        format!(
            "{module}::{}",
            crate::proto::oneof_type_name(message, oneof)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::RustPaths;

    #[test]
    fn paths_are_spelled_as_prost_build_spells_them() {
        let extern_paths = [
            (".google.protobuf".to_string(), "::pbjson_types".to_string()),
            (".vendor.v1".to_string(), "::vendor_types::v1".to_string()),
        ];
        let paths = RustPaths {
            extern_paths: &extern_paths,
        };
        assert_eq!(
            paths.type_path("a.b", "a.b.Outer.Inner_kind"),
            "outer::InnerKind"
        );
        assert_eq!(paths.type_path("a.b", "a.c.Color"), "super::c::Color");
        assert_eq!(
            paths.type_path("a.b", "x.type.Color"),
            "super::super::x::r#type::Color"
        );
        assert_eq!(paths.type_path("", "Top"), "Top");
        assert_eq!(
            paths.type_path("a.b", "google.protobuf.NullValue"),
            "::pbjson_types::NullValue"
        );
        assert_eq!(
            paths.type_path("a.b", "vendor.v1.Box.Kind"),
            "::vendor_types::v1::r#box::Kind"
        );
        assert!(paths.is_extern("vendor.v1.Box"));
        assert!(!paths.is_extern("vendor.v10.Box"));
    }
}
