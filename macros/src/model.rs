//! The derive input turned into the IR: a `capacitor_codegen::ir::Message`, plus the spans its origins refer to.

use crate::attr::{ContainerAttrs, FieldAttrs, Spanned};
use crate::ctxt::{Ctxt, SpanRange};
use crate::prost_attr::{self, ProstField};
use crate::rule_attrs;
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::ir::{
    CacheOptions, CompositeIndex, Declared, EntityOptions, EventSourcedOptions, Field,
    FieldOptions, FieldType, IndexKind, Label, Message, OutboxOptions,
};
use syn::{Data, DeriveInput, Fields};

/// Which derive is reading the struct: they need different things from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    Entity,
    RedactedDebug,
    Validate,
}

impl Derive {
    fn name(self) -> &'static str {
        match self {
            Derive::Entity => "Entity",
            Derive::RedactedDebug => "RedactedDebug",
            Derive::Validate => "Validate",
        }
    }
}

/// A struct, read: its IR message and what else the emitters need.
pub(crate) struct Model {
    pub(crate) message: Message,
    pub(crate) runtime: RuntimePath,
    /// The struct's name, where errors about the struct as a whole point.
    pub(crate) ident_span: SpanRange,
    /// Whether some field carries `#[prost(...)]`, and whether the struct has `#[prost(skip_debug)]`.
    pub(crate) prost_fields: bool,
    pub(crate) prost_skip_debug: bool,
    /// `#[capacitor(repository)]`: implement `Record` and emit the typed repository too.
    pub(crate) repository: bool,
    /// Whether the struct or a field carries `validate(...)`: the struct then derives (or implements)
    /// `Validate`, and a derived `Record` checks those rules before every write.
    pub(crate) validates: bool,
}

/// Reads the struct into the IR, recording every problem in `cx`.
///
/// Fails at once when the input is not something the derive can describe at all (an enum, a tuple struct);
/// otherwise returns a model that may still be incomplete if `cx` holds errors.
pub(crate) fn read(cx: &mut Ctxt, input: &DeriveInput, derive: Derive) -> syn::Result<Model> {
    let name = derive.name();
    let ident_span = SpanRange::of(&input.ident);
    // Nothing else can be said about an input of the wrong shape, so this error alone is returned.
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named,
            _ => {
                let message = format!("`#[derive({name})]` needs a struct with named fields");
                return Err(syn::Error::new_spanned(&input.ident, message));
            }
        },
        Data::Enum(e) => {
            let message = format!("`#[derive({name})]` works on structs, not enums");
            return Err(syn::Error::new_spanned(e.enum_token, message));
        }
        Data::Union(u) => {
            let message = format!("`#[derive({name})]` works on structs, not unions");
            return Err(syn::Error::new_spanned(u.union_token, message));
        }
    };
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        cx.error(
            &input.generics,
            format!(
                "`#[derive({name})]` does not support generic structs: the schema is one static description \
                 of one concrete type; derive it on a struct without type, lifetime or const parameters"
            ),
        );
    }

    let container = ContainerAttrs::from_attrs(cx, &input.attrs);
    let package = container
        .package
        .get()
        .map(|p| p.value.clone())
        .unwrap_or_default();
    let rust_name = input.ident.to_string();
    let full_name = match package.as_str() {
        "" => rust_name.clone(),
        package => format!("{package}.{rust_name}"),
    };

    let mut prost_fields = false;
    let mut validates = !container.validate.is_empty();
    let mut ir_fields = Vec::new();
    // `Validate` numbers a field without a prost tag as prost does: the previous field's number + 1.
    let mut next_number = 1;
    for (position, field) in fields.named.iter().enumerate() {
        let ident = field.ident.as_ref().expect("named fields have identifiers");
        let attrs = FieldAttrs::from_attrs(cx, &field.attrs);
        let prost = ProstField::from_attrs(cx, &field.attrs);
        prost_fields |= prost.is_some();
        validates |= !attrs.validate.is_empty();
        let rust_name = ident.to_string();
        let proto_name = rust_name.trim_start_matches("r#").to_string();
        let span = SpanRange::of(ident);
        let mut rules = Vec::new();
        let (number, ty, label) = match (&prost, derive) {
            (_, Derive::Validate) => {
                let read = rule_attrs::read_field(
                    cx,
                    field,
                    prost.as_ref(),
                    &attrs.validate,
                    &mut next_number,
                );
                let Some(read) = read else { continue };
                rules = read.rules;
                (read.number, read.ty, read.label)
            }
            (Some(p), _) => {
                let (ty, label) = p.ir_type(&field.ty);
                let number = p.number.unwrap_or_else(|| {
                    if derive == Derive::Entity {
                        cx.error_at(
                            p.span,
                            format!(
                                "field `{proto_name}` has no field number: add `tag = \"N\"` to its #[prost(...)]; \
                                 `Entity` keys columns by field number, so it does not infer one from field order"
                            ),
                        );
                    }
                    0
                });
                (number, ty, label)
            }
            (None, Derive::Entity) => {
                cx.error(
                    ident,
                    format!(
                        "field `{proto_name}` has no #[prost(...)] attribute: `Entity` reads each field's number \
                         and proto type from it, e.g. #[prost(string, tag = \"{}\")]",
                        position + 1
                    ),
                );
                continue;
            }
            // Debug needs neither a number nor a proto type: any struct may derive RedactedDebug.
            (None, Derive::RedactedDebug) => {
                (0, FieldType::Message(String::new()), Label::Optional)
            }
        };
        let options = match derive {
            // Storage keys (`primary_key`, `index`, `column`, `encrypt`, `ignore`) belong to `Entity`, which
            // reads and checks them when the struct derives it too; `Validate` leaves them out of its model.
            Derive::Validate => FieldOptions {
                pii: attrs.pii.get().map(|p| p.value),
                ..FieldOptions::default()
            },
            Derive::Entity | Derive::RedactedDebug => {
                let index = index_kind(cx, &attrs);
                FieldOptions {
                    pii: attrs.pii.get().map(|p| p.value),
                    index: index.map(|i| Declared::new(i.value, cx.origin(i.span))),
                    encrypt: attrs
                        .encrypt
                        .get()
                        .map(|e| Declared::new(true, cx.origin(e.span))),
                    // Saturates: `check` refuses anything over 256 with the attribute's span.
                    blind_index_bits: attrs.blind_index_bits.get().map(|b| {
                        Declared::new(
                            u32::try_from(b.value).unwrap_or(u32::MAX),
                            cx.origin(b.span),
                        )
                    }),
                    // Without a threshold, "" (with the attribute's span) for `check` to refuse.
                    claim_check: attrs
                        .claim_check
                        .get()
                        .map(|c| match c.value.threshold.get() {
                            Some(t) => Declared::new(t.value.clone(), cx.origin(t.span)),
                            None => Declared::new(String::new(), cx.origin(c.span)),
                        }),
                    column: attrs.column.get().map(|c| c.value.clone()),
                    ignore: attrs.ignore.is_set(),
                }
            }
        };
        let field = Field {
            number,
            name: proto_name,
            rust_name,
            ty,
            label,
            oneof: None,
            options,
            debug_redact: attrs.redact.is_set(),
            rules,
            origin: cx.origin(span),
        };
        ir_fields.push(field);
    }

    let entity = entity_options(cx, &container, ident_span);
    let repository = container.repository.is_set();
    let runtime = container
        .runtime
        .into_inner()
        .map(|r| r.value)
        .unwrap_or_default();
    let message = Message {
        package,
        full_name,
        rust_path: rust_name.clone(),
        rust_name,
        fields: ir_fields,
        oneofs: Vec::new(),
        rules: match derive {
            Derive::Validate => rule_attrs::message_rules(cx, &container.validate),
            Derive::Entity | Derive::RedactedDebug => Vec::new(),
        },
        entity: (derive == Derive::Entity).then_some(entity),
        reserved: Vec::new(),
        origin: cx.origin(ident_span),
    };
    Ok(Model {
        message,
        runtime,
        ident_span,
        prost_fields,
        prost_skip_debug: prost_attr::skips_debug(&input.attrs),
        repository,
        validates,
    })
}

/// `primary_key`, `unique` and `index` each declare the field's one index; two of them contradict each other.
fn index_kind(cx: &mut Ctxt, attrs: &FieldAttrs) -> Option<Spanned<IndexKind>> {
    let declared: Vec<(&str, IndexKind, SpanRange)> = [
        ("primary_key", IndexKind::Primary, attrs.primary_key.get()),
        ("unique", IndexKind::Unique, attrs.unique.get()),
        ("index", IndexKind::Secondary, attrs.index.get()),
    ]
    .into_iter()
    .filter_map(|(name, kind, flag)| flag.map(|f| (name, kind, f.span)))
    .collect();
    let (first_name, kind, span) = *declared.first()?;
    for (name, _, span) in &declared[1..] {
        cx.error_at(
            *span,
            format!(
                "`{name}` and `{first_name}` on one field: a field has one index; keep one \
                 (`primary_key` is unique and indexed, `unique` is indexed)"
            ),
        );
    }
    Some(Spanned { value: kind, span })
}

fn entity_options(
    cx: &mut Ctxt,
    container: &ContainerAttrs,
    ident_span: SpanRange,
) -> EntityOptions {
    let cache = container.cache.get().map(|c| {
        let cache = &c.value;
        CacheOptions {
            disabled: cache.disabled.is_set(),
            ttl: cache
                .ttl
                .get()
                .map(|t| Declared::new(t.value.clone(), cx.origin(t.span))),
            max_entries: cache.max_entries.get().map(|n| n.value),
            max_bytes: cache.max_bytes.get().map(|n| n.value),
        }
    });
    let indexes = container
        .indexes
        .iter()
        .map(|index| CompositeIndex {
            name: index.value.name.get().map(|n| n.value.clone()),
            fields: index
                .value
                .fields
                .get()
                .map(|f| f.value.clone())
                .unwrap_or_default(),
            unique: index.value.unique.is_set(),
            primary: index.value.primary.is_set(),
            origin: cx.origin(index.span),
        })
        .collect();
    EntityOptions {
        table: container
            .table
            .get()
            .map(|t| Declared::new(t.value.clone(), cx.origin(t.span))),
        backend: container.backend.get().map(|b| b.value),
        cache,
        consistency: container.consistency.get().map(|c| c.value),
        indexes,
        outbox: container.outbox.get().map(|o| OutboxOptions {
            topic: o.value.topic.get().map(|t| t.value.clone()),
            origin: cx.origin(o.span),
        }),
        event_sourced: container.event_sourced.get().map(|e| EventSourcedOptions {
            events: e
                .value
                .events
                .get()
                .map(|t| t.value.clone())
                .unwrap_or_default(),
            snapshot_every: e.value.snapshot_every.get().map(|n| n.value),
            origin: cx.origin(e.span),
        }),
        subject: container
            .subject
            .get()
            .map(|s| Declared::new(s.value.clone(), cx.origin(s.span))),
        origin: cx.origin(ident_span),
    }
}
