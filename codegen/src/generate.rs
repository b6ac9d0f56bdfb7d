//! The pure generation step: input in, file contents out. No I/O beyond reading the input; writing is
//! [`crate::output`]'s job, so the CLI, `capgen check` and build.rs share this path.

use crate::check::check;
use crate::emit::rust::{RuntimePath, debug_impls, entity_impl, enum_debug_impl, masked_impls};
use crate::emit::validate::{ValidateContext, validate_impl};
use crate::error::Error;
use crate::ir::Schema;
pub use crate::progress::Progress;
use crate::proto::{self, Input, Loaded};
use crate::report::SourceDiagnostic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One generated file: a name relative to the output directory and its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// `app.v1.rs`: one file per proto package, named as prost-build names it.
    pub name: String,
    pub contents: String,
}

/// Everything one generation produced.
#[derive(Debug)]
pub struct Generated {
    pub files: Vec<GeneratedFile>,
    /// The checked IR.
    pub schema: Schema,
    /// Every input file read from disk.
    pub inputs: Vec<PathBuf>,
    /// Every file of the schema by import name, imports included, with the path it was read from (`None`:
    /// built in, or taken from a descriptor set).
    pub sources: Vec<(String, Option<PathBuf>)>,
    /// Rules skipped because capgen does not know them (with `allow_unsupported_rules`), one line each
    /// (`file:line:col: …`).
    pub warnings: Vec<String>,
    /// Messages whose rules were invalid, generated without validation rules (only with
    /// `refuse_invalid_messages`; otherwise invalid rules fail the generation).
    pub refused: Vec<String>,
}

/// prost-build options that pass through to the DTOs (see [`crate::Builder`] for each one's meaning).
#[derive(Debug, Clone, Default)]
pub struct DtoOptions {
    pub runtime: RuntimePath,
    pub extern_paths: Vec<(String, String)>,
    pub type_attributes: Vec<(String, String)>,
    pub message_attributes: Vec<(String, String)>,
    pub enum_attributes: Vec<(String, String)>,
    pub field_attributes: Vec<(String, String)>,
    pub bytes: Vec<String>,
    pub btree_map: Vec<String>,
    pub boxed: Vec<String>,
    /// Leave out the proto3 JSON (serde) impls, e.g. where only the wire format is used.
    pub skip_json: bool,
    /// Generate no `impl Validate`.
    pub skip_validators: bool,
    /// Generate validators even when the schema holds message or oneof rules capgen does not know, skipping
    /// those rules with a warning instead of refusing the schema (CEL rules are compiled, never skipped).
    pub allow_unsupported_rules: bool,
    /// Instead of failing on a message whose rules are invalid, generate it without rules and list it in
    /// [`Generated::refused`]. For test harnesses (the conformance runner expects a "compilation error" per
    /// message); users want the error.
    pub refuse_invalid_messages: bool,
    /// buf or protoc 27+ for editions sources (protox cannot parse them); `None` looks for one on PATH.
    pub editions_compiler: Option<PathBuf>,
}

/// Loads and checks the schema; the IR only, for `capgen inspect` and the other emitters. Rules capgen cannot
/// check yet (CEL) do not stop it.
pub fn load_schema(input: &Input) -> Result<(Loaded, Schema), Error> {
    load_schema_with(input, None)
}

/// [`load_schema`], compiling editions sources with `editions_compiler` (buf or protoc 27+) instead of one
/// found on PATH.
pub fn load_schema_with(
    input: &Input,
    editions_compiler: Option<&Path>,
) -> Result<(Loaded, Schema), Error> {
    load_checked(input, editions_compiler, true, false, &mut |_| {})
        .map(|(loaded, schema, _, _)| (loaded, schema))
}

/// Loads and checks the schema, `buf.validate` rules included; unsupported rules are errors unless
/// `allow_unsupported_rules`, when they come back as warnings.
fn load_checked(
    input: &Input,
    editions_compiler: Option<&Path>,
    allow_unsupported_rules: bool,
    refuse_invalid_messages: bool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Loaded, Schema, Vec<String>, Vec<String>), Error> {
    let loaded = proto::load_reporting(input, editions_compiler, progress)?;
    let (mut schema, mut diagnostics) = proto::build_schema(&loaded);
    diagnostics.extend(check(&schema));
    let mut rules = crate::check::validate::RuleReport::default();
    let mut refused = Vec::new();
    let reports: Vec<crate::check::validate::RuleReport> = schema
        .messages
        .iter()
        .map(|message| {
            let mut own = crate::check::validate::RuleReport::default();
            crate::check::validate::check_message_in(
                &schema,
                message,
                allow_unsupported_rules,
                &mut own,
            );
            own
        })
        .collect();
    for (message, own) in schema.messages.iter_mut().zip(reports) {
        rules.warnings.extend(own.warnings);
        if refuse_invalid_messages && !own.errors.is_empty() {
            // The message gets no rules at all, and is listed as refused.
            refused.push(message.full_name.clone());
            rules.warnings.extend(own.errors);
            message.rules.clear();
            message.oneofs.iter_mut().for_each(|o| o.rules.clear());
            message.fields.iter_mut().for_each(|f| f.rules.clear());
        } else {
            rules.errors.extend(own.errors);
        }
    }
    diagnostics.extend(rules.errors);
    let warnings = rules
        .warnings
        .into_iter()
        .map(|d| SourceDiagnostic::new(d, &loaded.sources).to_string())
        .collect();
    if !diagnostics.is_empty() {
        return Err(Error::Schema {
            diagnostics: diagnostics
                .into_iter()
                .map(|d| SourceDiagnostic::new(d, &loaded.sources))
                .collect(),
        });
    }
    Ok((loaded, schema, warnings, refused))
}

/// Compiles `input` and generates the Rust for every proto package: prost structs, proto3-JSON serde impls,
/// redacting `Debug` impls and `impl Entity` for entities. Output is formatted and byte-identical for the same
/// input.
pub fn generate(input: &Input, options: &DtoOptions) -> Result<Generated, Error> {
    generate_with_progress(input, options, &mut |_| {})
}

/// [`generate`], telling `progress` how far it has got (files compiled, packages emitted): `capgen` shows it on
/// a terminal.
pub fn generate_with_progress(
    input: &Input,
    options: &DtoOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Generated, Error> {
    let (loaded, schema, warnings, refused) = load_checked(
        input,
        options.editions_compiler.as_deref(),
        options.allow_unsupported_rules,
        options.refuse_invalid_messages,
        progress,
    )?;
    let files = generate_dtos(&loaded, &schema, options, progress)?;
    let sources = loaded
        .sources
        .iter()
        .map(|(name, source)| (name.clone(), source.path.clone()))
        .collect();
    Ok(Generated {
        files,
        schema,
        inputs: loaded.inputs,
        sources,
        warnings,
        refused,
    })
}

fn generate_dtos(
    loaded: &Loaded,
    schema: &Schema,
    options: &DtoOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<GeneratedFile>, Error> {
    let well_known = options.runtime.well_known_types();
    let mut prost = prost_build::Config::new();
    prost
        .compile_well_known_types()
        .extern_path(".google.protobuf", &well_known);
    for (proto, rust) in &options.extern_paths {
        prost.extern_path(proto, rust);
    }
    for (path, attr) in &options.type_attributes {
        prost.type_attribute(path, attr);
    }
    for (path, attr) in &options.message_attributes {
        prost.message_attribute(path, attr);
    }
    for (path, attr) in &options.enum_attributes {
        prost.enum_attribute(path, attr);
    }
    for (path, attr) in &options.field_attributes {
        prost.field_attribute(path, attr);
    }
    prost.bytes(&options.bytes).btree_map(&options.btree_map);
    for path in &options.boxed {
        prost.boxed(path);
    }
    // `skip_debug` replaces its list on each call: give it every path at once.
    prost.skip_debug(
        schema
            .messages
            .iter()
            .filter(|m| m.needs_redaction())
            .map(|m| format!(".{}", m.full_name)),
    );
    // A oneof's variants can differ widely in size; boxing is the user's call, so silence the lint. One
    // attribute for every enum prost-build writes (it is inert on a C-like enum): prost-build matches each
    // configured path against each enum and oneof in turn, so a path per oneof made its generation quadratic
    // (a quarter of generating googleapis).
    prost.enum_attribute(".", "#[allow(clippy::large_enum_variant)]");

    // prost-build resolves field types (for its Copy/Eq derives) only among the files it is given, and
    // panics on a type it cannot find: give it every file, imports and well-known types included, and keep
    // only the target packages' modules.
    let requests: Vec<(prost_build::Module, prost_types::FileDescriptorProto)> = loaded
        .pool
        .files()
        .map(|f| {
            let proto = f.file_descriptor_proto().clone();
            (
                prost_build::Module::from_protobuf_package_name(proto.package()),
                proto,
            )
        })
        .collect();
    let modules = prost
        .generate(requests)
        .map_err(|e| Error::Generate(e.to_string()))?;

    let validation = ValidationFacts::new(loaded);
    // Messages mapped to existing Rust types (`extern_path`) get no impl here and are not recursed into:
    // whether they implement Validate is their crate's business.
    let is_extern = |full_name: &str| {
        let dotted = format!(".{full_name}");
        options.extern_paths.iter().any(|(proto, _)| {
            dotted == *proto || dotted.starts_with(&format!("{}.", proto.trim_end_matches('.')))
        })
    };
    let mut local = Schema::new(
        schema
            .messages
            .iter()
            .filter(|m| !is_extern(&m.full_name))
            .cloned()
            .collect(),
    );
    local.predefined = schema.predefined.clone();
    let validate_cx = ValidateContext {
        runtime: &options.runtime,
        schema: &local,
        enum_values: &validation.enum_values,
        implicit_presence: &loaded.implicit_presence,
        groups: &validation.groups,
    };

    let packages = loaded.target_packages();
    let module_file = |package: &str| {
        prost_build::Module::from_protobuf_package_name(package).to_file_name_or("_")
    };
    // prost-build's output is kept as it wrote (and formatted) it; our items for each package are built as one
    // syntax tree, printed once, and appended.
    let mut prost_code: BTreeMap<String, String> = modules
        .into_iter()
        .map(|(module, code)| (module.to_file_name_or("_"), code))
        .collect();
    let json_paths = {
        let mut paths = vec![(".google.protobuf".to_string(), well_known.clone())];
        paths.extend(options.extern_paths.iter().cloned());
        paths
    };
    let json_paths = crate::emit::json::RustPaths {
        extern_paths: &json_paths,
    };
    let json = (!options.skip_json)
        .then(|| crate::emit::json::JsonPackages::new(&loaded.pool, &json_paths));
    let with_checks = messages_with_checks(&local);
    let mut messages_by_file: BTreeMap<String, Vec<&crate::ir::Message>> = BTreeMap::new();
    for message in &schema.messages {
        messages_by_file
            .entry(module_file(&message.package))
            .or_default()
            .push(message);
    }
    // One package at a time, so only one package's syntax tree is alive at once.
    let total = packages.len();
    let mut files = Vec::with_capacity(total);
    for (done, package) in packages.iter().enumerate() {
        let name = module_file(package);
        let Some(prost) = prost_code.remove(&name) else {
            continue;
        };
        let json = json
            .as_ref()
            .map(|json| json.package_code(package, &json_paths, &options.runtime))
            .unwrap_or_default();
        let mut ours = syn::File {
            shebang: None,
            attrs: Vec::new(),
            items: Vec::new(),
        };
        let mut without_rules = Vec::new();
        for message in messages_by_file.remove(&name).unwrap_or_default() {
            let mut append = |what: &str, tokens: proc_macro2::TokenStream| {
                syn::parse2::<syn::File>(tokens)
                    .map(|parsed| ours.items.extend(parsed.items))
                    .map_err(|e| {
                        Error::Generate(format!(
                            "generated {what} for `{}` does not parse: {e}",
                            message.full_name
                        ))
                    })
            };
            let redacted = message.needs_redaction();
            // prost-build's `skip_debug` path of a redacted message covers the types nested in it too.
            let nested_in_redacted = !redacted && under_redacted(schema, &message.full_name);
            if redacted || nested_in_redacted {
                append("Debug impl", debug_impls(message))?;
            }
            if redacted {
                append("masked view", masked_impls(message, &options.runtime))?;
            }
            if redacted || nested_in_redacted {
                for path in nested_enum_paths(&loaded.pool, message) {
                    append("Debug impl", enum_debug_impl(&path))?;
                }
            }
            if let Some(entity) = &message.entity {
                append(
                    "Entity impl",
                    entity_impl(message, entity, &options.runtime),
                )?;
                let validates = !options.skip_validators && !is_extern(&message.full_name);
                if entity.event_sourced.is_some() {
                    append(
                        "event stream",
                        crate::emit::rust::event_sourced_impl(
                            schema,
                            message,
                            entity,
                            &options.runtime,
                        ),
                    )?;
                } else {
                    append(
                        "record and repository",
                        crate::emit::record::record_and_repo(
                            schema,
                            message,
                            entity,
                            &options.runtime,
                            crate::emit::record::TypeStyle::Proto {
                                json: !options.skip_json,
                            },
                            validates,
                        ),
                    )?;
                }
            }
            if !options.skip_validators && !is_extern(&message.full_name) {
                if with_checks.contains(message.full_name.as_str()) {
                    append("Validate impl", validate_impl(message, validate_cx))?;
                } else {
                    // Most messages of a large schema (all of googleapis) have nothing to check: one macro
                    // line each instead of an impl built, parsed and printed per message.
                    without_rules.push(message.rust_path.as_str());
                }
            }
        }
        let without_rules = if without_rules.is_empty() {
            String::new()
        } else {
            let runtime = options.runtime.tokens().to_string().replace(' ', "");
            let mut code = format!("{runtime}::validate::without_rules!(\n");
            for path in without_rules {
                code.push_str("    ");
                code.push_str(path);
                code.push_str(",\n");
            }
            code.push_str(");\n");
            code
        };
        // prost-build starts with a comment line of its own; ours says who generated the whole file.
        let prost = prost
            .strip_prefix("// This file is @generated by prost-build.\n")
            .unwrap_or(&prost);
        let contents = format!(
            "// @generated by capgen {} from Protobuf sources. Do not edit: regenerate.\n{prost}{json}{without_rules}{}",
            env!("CARGO_PKG_VERSION"),
            prettyplease::unparse(&ours)
        );
        files.push(GeneratedFile { name, contents });
        progress(Progress::Emitting {
            done: done + 1,
            total,
            package,
        });
    }
    // `packages` is sorted, and so are prost-build's file names: the files come out in name order.
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The messages whose validation can fail: those with `buf.validate` rules of their own (on the message, a
/// oneof or a field) and those reaching one through message fields, as `impl Validate` recurses. The others
/// get an impl that checks nothing (`validate::without_rules!`), which is what theirs would amount to.
fn messages_with_checks(schema: &Schema) -> std::collections::HashSet<&str> {
    let mut referenced_by: std::collections::HashMap<&str, Vec<&str>> =
        std::collections::HashMap::new();
    for message in &schema.messages {
        for field in &message.fields {
            if let crate::ir::FieldType::Message(name) = &field.ty {
                referenced_by
                    .entry(name.as_str())
                    .or_default()
                    .push(message.full_name.as_str());
            }
        }
    }
    let mut with_checks: std::collections::HashSet<&str> = schema
        .messages
        .iter()
        .filter(|m| {
            !m.rules.is_empty()
                || m.oneofs.iter().any(|o| !o.rules.is_empty())
                || m.fields.iter().any(|f| !f.rules.is_empty())
        })
        .map(|m| m.full_name.as_str())
        .collect();
    let mut reached: Vec<&str> = with_checks.iter().copied().collect();
    while let Some(name) = reached.pop() {
        for &user in referenced_by.get(name).into_iter().flatten() {
            if with_checks.insert(user) {
                reached.push(user);
            }
        }
    }
    with_checks
}

/// What the validator emitter needs from the descriptor pool beyond the IR.
struct ValidationFacts {
    /// Defined numbers of every enum, by fully qualified name.
    enum_values: BTreeMap<String, Vec<i32>>,
    /// Fields encoded as groups, as `pkg.Message.field`.
    groups: std::collections::BTreeSet<String>,
}

impl ValidationFacts {
    fn new(loaded: &Loaded) -> Self {
        let enum_values = loaded
            .pool
            .all_enums()
            .map(|e| {
                let mut numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
                numbers.sort_unstable();
                numbers.dedup();
                (e.full_name().to_string(), numbers)
            })
            .collect();
        let groups = loaded
            .pool
            .all_messages()
            .flat_map(|m| m.fields().collect::<Vec<_>>())
            .filter(|f| f.is_group())
            .map(|f| f.full_name().to_string())
            .collect();
        ValidationFacts {
            enum_values,
            groups,
        }
    }
}

/// Whether a message enclosing `full_name` needs redaction (its `skip_debug` path covers `full_name` too).
fn under_redacted(schema: &Schema, full_name: &str) -> bool {
    let mut outer = full_name;
    while let Some((parent, _)) = outer.rsplit_once('.') {
        if schema.message(parent).is_some_and(|m| m.needs_redaction()) {
            return true;
        }
        outer = parent;
    }
    false
}

/// The Rust paths (relative to the package module) of the enums declared directly in `message`: prost puts them
/// in the module named after the message, beside its nested messages.
fn nested_enum_paths(
    pool: &prost_reflect::DescriptorPool,
    message: &crate::ir::Message,
) -> Vec<String> {
    let Some(descriptor) = pool.get_message_by_name(&message.full_name) else {
        return Vec::new();
    };
    let module = match message.rust_path.rsplit_once("::") {
        Some((outer, _)) => format!("{outer}::"),
        None => String::new(),
    };
    descriptor
        .child_enums()
        .map(|e| {
            format!(
                "{module}{}::{}",
                crate::names::field_name(descriptor.name()),
                crate::names::type_name(e.name())
            )
        })
        .collect()
}
