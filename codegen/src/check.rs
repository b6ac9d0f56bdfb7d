//! Checks on the IR: every rule runs once here, whichever front end built the schema.
//!
//! Each rule is a small function that pushes to a shared list, so a user sees every problem at once (as
//! serde_derive's `Ctxt` does). Emitters only ever see a schema that passed.

pub mod validate;

use crate::diagnostic::{Diagnostic, OptionId, Text};
use crate::ir::{
    CompositeIndex, EntityOptions, Field, FieldType, IndexKind, Label, Message, Origin, Scalar,
    Schema, TtlError, parse_size, parse_ttl,
};
use std::collections::{BTreeMap, HashSet};

/// Runs every check; an empty list means the schema is sound.
pub fn check(schema: &Schema) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for message in &schema.messages {
        match &message.entity {
            Some(entity) => check_entity(message, entity, &mut out),
            None => storage_options_need_entity(message, &mut out),
        }
        for field in &message.fields {
            encrypt_needs_string_or_bytes(message, field, &mut out);
        }
    }
    one_table_per_entity(schema, &mut out);
    for (message, entity) in schema.entities() {
        event_sourcing_is_sound(schema, message, entity, &mut out);
    }
    out
}

/// `event_sourced`: a SQL store, no outbox, a positive snapshot interval, and an events message with one
/// oneof whose cases are messages without encrypted fields (event payloads are stored as written).
fn event_sourcing_is_sound(
    schema: &Schema,
    message: &Message,
    entity: &EntityOptions,
    out: &mut Vec<Diagnostic>,
) {
    let Some(options) = &entity.event_sourced else {
        return;
    };
    let name = &message.full_name;
    let mut error = |text: String, label: &str, help: &str| {
        out.push(Diagnostic::new(&options.origin, text, label.to_string()).help(help.to_string()));
    };
    if entity.backend() == crate::ir::Backend::Memory {
        error(
            format!(
                "`{name}`: `event_sourced` needs a SQLite or Postgres backend: the memory store has no event tables"
            ),
            "event sourcing on a memory entity",
            "store the entity in SQLite or Postgres, or drop `event_sourced`",
        );
    }
    if entity.outbox.is_some() {
        error(
            format!(
                "`{name}`: `event_sourced` and `outbox` cannot be combined: an event-sourced entity has no rows to publish"
            ),
            "outbox on an event-sourced entity",
            "drop `outbox`; projections read the events in global order with `Stream::read_all`",
        );
    }
    if options.snapshot_every == Some(0) {
        error(
            format!("`{name}`: `snapshot_every` is 0"),
            "snapshot_every 0",
            "write a positive interval (the default is 100), or leave `snapshot_every` out",
        );
    }
    if options.events.is_empty() {
        error(
            format!("`{name}`: `event_sourced` names no events message"),
            "missing events message",
            "write `events: \"<Message>\"`, a message with one oneof of event messages",
        );
        return;
    }
    // The derive names a Rust type: the compiler checks it (`EventKind + Message + Validate`).
    if matches!(message.origin, Origin::Derive(_)) {
        return;
    }
    let events_name = options.events_full_name(message);
    let Some(events) = schema.message(&events_name) else {
        error(
            format!("`{name}`: events message `{events_name}` is not in the schema"),
            "unknown events message",
            "name a message of the schema (in the entity's package, or by its full name)",
        );
        return;
    };
    if events.package != message.package {
        error(
            format!("`{name}`: events message `{events_name}` is in another package"),
            "events message in another package",
            "declare the events message in the entity's package",
        );
        return;
    }
    if events.oneofs.len() != 1 {
        error(
            format!(
                "`{name}`: events message `{events_name}` has {} oneofs; it needs exactly one, with a case per event",
                events.oneofs.len()
            ),
            "events message without one oneof",
            "declare `oneof event { OrderPlaced placed = 1; ... }` in the events message",
        );
        return;
    }
    let oneof = &events.oneofs[0].name;
    let mut sealed = Vec::new();
    for field in &events.fields {
        match (&field.oneof, &field.ty) {
            (Some(o), FieldType::Message(case)) if o == oneof => {
                if let Some(case_message) = schema.message(case) {
                    for f in case_message
                        .fields
                        .iter()
                        .filter(|f| f.options.encrypt.as_ref().is_some_and(|e| e.value))
                    {
                        sealed.push(
                            Diagnostic::new(
                                &f.origin,
                                format!(
                                    "`{}.{}`: `encrypt` inside an event of `{name}`: events are stored as written, \
                                     not sealed",
                                    case_message.full_name, f.name
                                ),
                                "encrypted field in an event",
                            )
                            .help("drop `encrypt` (keep `pii` for redacted Debug), or keep the value in a regular entity and reference it"),
                        );
                    }
                }
            }
            (Some(o), _) if o == oneof => error(
                format!(
                    "`{name}`: case `{}` of the events oneof is not a message",
                    field.name
                ),
                "event case is not a message",
                "make every case of the oneof a message, one per event",
            ),
            _ => error(
                format!(
                    "`{name}`: field `{}` of events message `{events_name}` is outside its oneof",
                    field.name
                ),
                "field outside the events oneof",
                "move the field into an event message",
            ),
        }
    }
    out.extend(sealed);
}

/// The checks one entity must pass; the derive front end calls this for its one struct.
pub fn check_entity(message: &Message, entity: &EntityOptions, out: &mut Vec<Diagnostic>) {
    exactly_one_primary_key(message, entity, out);
    for field in &message.fields {
        if let Some(index) = &field.options.index {
            index_fits_field(message, field, index.value, &index.origin, out);
        }
        encrypted_field_is_not_a_key(message, field, out);
        blind_index_bits_fit(message, field, out);
        claim_check_fits(message, entity, field, out);
    }
    for index in &entity.indexes {
        composite_index_is_sound(message, index, out);
        composite_index_has_no_encrypted_field(message, index, out);
    }
    unique_columns(message, out);
    unique_index_names(message, entity, out);
    outbox_needs_a_sql_backend(message, entity, out);
    subject_is_sound(message, entity, out);
    if let Some(cache) = &entity.cache
        && let Some(ttl) = &cache.ttl
        && let Err(error) = parse_ttl(&ttl.value)
    {
        let text = &ttl.value;
        let reason = match error {
            TtlError::NotATtl => Text::from(format!(
                "`{text}` is not a ttl: write a whole number followed by ms, s, m, h or d (\"90s\", \"5m\")"
            )),
            TtlError::Zero => Text::from(format!(
                "ttl `{text}` is zero: leave the ttl out, or disable the cache with "
            ))
            .then(OptionId::CacheDisabled),
            TtlError::TooLong => Text::from(format!("ttl `{text}` is too long")),
        };
        out.push(
            Diagnostic::new(
                &ttl.origin,
                Text::from(format!("`{}`: ", message.full_name))
                    .then(OptionId::CacheTtl)
                    .then(": ")
                    .then(reason),
                "bad ttl",
            )
            .help("examples: \"500ms\", \"90s\", \"5m\", \"1h\", \"7d\""),
        );
    }
}

fn field_name(message: &Message, field: &Field) -> String {
    format!(
        "`{}.{}` (field {})",
        message.full_name, field.name, field.number
    )
}

/// Storage needs exactly one key: zero leaves rows unaddressable; two is ambiguous.
fn exactly_one_primary_key(message: &Message, entity: &EntityOptions, out: &mut Vec<Diagnostic>) {
    let fields = message.fields.iter().filter_map(|f| {
        f.options
            .index
            .as_ref()
            .filter(|i| i.value == IndexKind::Primary)
            .map(|i| (i.origin.clone(), format!("field `{}`", f.name)))
    });
    let composite = entity.indexes.iter().filter(|i| i.primary).map(|i| {
        (
            i.origin.clone(),
            format!("composite index ({})", i.fields.join(", ")),
        )
    });
    let keys: Vec<(Origin, String)> = fields.chain(composite).collect();
    match keys.as_slice() {
        [] => out.push(
            Diagnostic::new(
                &entity.origin,
                format!("entity `{}` has no primary key", message.full_name),
                "entity declared here",
            )
            .help(
                Text::from("mark one field ")
                    .then(OptionId::PrimaryKeyField)
                    .then(", or add ")
                    .then(OptionId::PrimaryIndex),
            ),
        ),
        [_] => {}
        [(_, first), rest @ ..] => {
            for (origin, what) in rest {
                out.push(
                    Diagnostic::new(
                        origin,
                        format!(
                            "entity `{}` has more than one primary key: {what} and {first}",
                            message.full_name
                        ),
                        "second primary key",
                    )
                    .help(
                        Text::from("keep one ")
                            .then(OptionId::PrimaryKey)
                            .then("; for a key over several fields use ")
                            .then(OptionId::PrimaryIndex),
                    ),
                );
            }
        }
    }
}

/// An index needs one comparable value per row: no lists, maps, structured messages or oneof members (a oneof
/// is one JSON column). A key must also be present in every row, so it may not be ignored (unstored).
fn index_fits_field(
    message: &Message,
    field: &Field,
    kind: IndexKind,
    origin: &Origin,
    out: &mut Vec<Diagnostic>,
) {
    let what = match kind {
        IndexKind::Primary => "a primary key",
        IndexKind::Unique => "a unique index",
        IndexKind::Secondary => "an index",
    };
    let shape = match (&field.label, &field.ty) {
        // A oneof is stored as one JSON value in its own column: a member has no column to index.
        _ if field.oneof.is_some() => Some("a oneof member"),
        (Label::Repeated, _) => Some("a repeated field"),
        (Label::Map { .. }, _) => Some("a map field"),
        (_, ty) if !ty.is_indexable() => Some("a message field"),
        _ => None,
    };
    if let Some(shape) = shape {
        out.push(
            Diagnostic::new(
                origin,
                format!("{}: {what} cannot be on {shape}", field_name(message, field)),
                format!("{what} on {shape}"),
            )
            .help("index a scalar, an enum, or a one-column well-known type (Timestamp, Duration, wrappers)"),
        );
    }
    if field.options.ignore {
        out.push(Diagnostic::new(
            origin,
            format!(
                "{}: {what} cannot be on an `ignore`d field, which is not stored",
                field_name(message, field)
            ),
            "ignored field",
        ));
    }
}

/// Encryption is defined on byte strings only.
fn encrypt_needs_string_or_bytes(message: &Message, field: &Field, out: &mut Vec<Diagnostic>) {
    let Some(encrypt) = field.options.encrypt.as_ref().filter(|e| e.value) else {
        return;
    };
    // One value per column: the ciphertext of a single string or bytes value. A list, a map or a oneof member
    // (stored inside its oneof's JSON column) has no column of its own to hold one ciphertext.
    let problem = if !matches!(field.ty, FieldType::Scalar(Scalar::String | Scalar::Bytes)) {
        Some("needs a string or bytes field")
    } else if matches!(field.label, Label::Map { .. } | Label::Repeated) {
        Some("needs a single string or bytes value, not a repeated or map field")
    } else if field.oneof.is_some() {
        Some("cannot be on a oneof member (a oneof is stored as one JSON value)")
    } else {
        None
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::new(
                &encrypt.origin,
                format!("{}: `encrypt` {problem}", field_name(message, field)),
                "encrypt on a field that is not string or bytes",
            )
            .help("store the value as string or bytes, or drop `encrypt`"),
        );
    }
}

/// `claim_check`: a threshold that parses and is above 0, on a single string or bytes field with a column of its
/// own that no index or key reads (an index would compare references, not values; for an encrypted field, blind
/// index tokens of the reference), in an entity stored in SQLite or Postgres (the memory store keeps values in the
/// process, where a blob store saves nothing). An encrypted field may be claim-checked: its blob is sealed too.
fn claim_check_fits(
    message: &Message,
    entity: &EntityOptions,
    field: &Field,
    out: &mut Vec<Diagnostic>,
) {
    let Some(claim) = &field.options.claim_check else {
        return;
    };
    let indexed = field.options.index.is_some()
        || entity
            .indexes
            .iter()
            .any(|i| i.fields.contains(&field.name));
    let problem = match parse_size(&claim.value) {
        None => Some((
            format!(
                "threshold `{}` is not a size: write a whole number followed by B, KiB, MiB, GiB, KB, MB or GB",
                claim.value
            ),
            "bad threshold",
        )),
        Some(0) => Some((
            "threshold is 0, which would move every value, even an empty one, to the blob store"
                .to_owned(),
            "zero threshold",
        )),
        Some(_) if !matches!(field.ty, FieldType::Scalar(Scalar::String | Scalar::Bytes)) => {
            Some((
                "needs a string or bytes field".to_owned(),
                "claim check on a field that is not string or bytes",
            ))
        }
        Some(_) if matches!(field.label, Label::Map { .. } | Label::Repeated) => Some((
            "needs a single string or bytes value, not a repeated or map field".to_owned(),
            "claim check on a collection",
        )),
        Some(_) if field.oneof.is_some() => Some((
            "cannot be on a oneof member (a oneof is stored as one JSON value)".to_owned(),
            "claim check on a oneof member",
        )),
        Some(_) if field.options.ignore => Some((
            "cannot be on an `ignore`d field, which is not stored".to_owned(),
            "claim check on an ignored field",
        )),
        Some(_) if indexed => Some((
            "cannot be on a key or indexed field: the index would hold references, not values"
                .to_owned(),
            "claim check on an indexed field",
        )),
        Some(_) if entity.backend() == crate::ir::Backend::Memory => Some((
            "needs a SQLite or Postgres backend: the memory store keeps values in the process"
                .to_owned(),
            "claim check on a memory entity",
        )),
        Some(_) if entity.event_sourced.is_some() => Some((
            "is not built for event-sourced entities, whose events are stored as written"
                .to_owned(),
            "claim check on an event-sourced entity",
        )),
        Some(_) => None,
    };
    if let Some((problem, label)) = problem {
        out.push(
            Diagnostic::new(
                &claim.origin,
                format!("{}: `claim_check` {problem}", field_name(message, field)),
                label,
            )
            .help("see docs/claim-check.md"),
        );
    }
}

/// An encrypted field's unique or secondary index is a blind index (keyed HMAC tokens in a column of their
/// own). A primary key cannot be encrypted: every ciphertext of a row is bound to the row's key, which must be
/// readable to find the row.
fn encrypted_field_is_not_a_key(message: &Message, field: &Field, out: &mut Vec<Diagnostic>) {
    if let (Some(encrypt), Some(index)) = (
        field.options.encrypt.as_ref().filter(|e| e.value),
        &field.options.index,
    ) && index.value == IndexKind::Primary
    {
        out.push(
            Diagnostic::new(
                &encrypt.origin,
                format!(
                    "{}: a primary key cannot be encrypted (every ciphertext is bound to the row's key)",
                    field_name(message, field)
                ),
                "encrypted primary key",
            )
            .help("key the entity by another field (e.g. an opaque id) and give this one a unique index"),
        );
    }
}

/// `blind_index_bits` sets the width of a secondary blind index: 1 to 256 bits, on an encrypted field whose one
/// index is secondary (a unique index keeps all 256 bits, and a field without an index has no blind index).
fn blind_index_bits_fit(message: &Message, field: &Field, out: &mut Vec<Diagnostic>) {
    let Some(bits) = &field.options.blind_index_bits else {
        return;
    };
    let encrypted = field.options.encrypt.as_ref().is_some_and(|e| e.value);
    let index = field.options.index.as_ref().map(|i| i.value);
    let problem = if !(1..=256).contains(&bits.value) {
        Some(("must be 1 to 256", "out of range"))
    } else if !encrypted {
        Some((
            "needs `encrypt` (only an encrypted field has a blind index)",
            "blind index width on a plain field",
        ))
    } else if index == Some(IndexKind::Unique) {
        Some((
            "has no effect with a unique index, which keeps all 256 bits so the database can enforce uniqueness",
            "blind index width on a unique index",
        ))
    } else if index != Some(IndexKind::Secondary) {
        Some((
            "needs a secondary index on the field (without an index there is no blind index)",
            "blind index width without an index",
        ))
    } else {
        None
    };
    if let Some((problem, label)) = problem {
        out.push(
            Diagnostic::new(
                &bits.origin,
                format!("{}: `blind_index_bits` {problem}", field_name(message, field)),
                label,
            )
            .help("see docs/pii.md, Blind indexes, for how the width trades false positives against leakage"),
        );
    }
}

/// A composite index over an encrypted field would need a blind index over several fields; only single-field
/// indexes get one.
fn composite_index_has_no_encrypted_field(
    message: &Message,
    index: &CompositeIndex,
    out: &mut Vec<Diagnostic>,
) {
    for name in &index.fields {
        if let Some(field) = message.field(name)
            && field.options.encrypt.as_ref().is_some_and(|e| e.value)
        {
            out.push(Diagnostic::new(
                &index.origin,
                format!(
                    "{}: a composite index cannot include an encrypted field (only a single-field index gets a blind index)",
                    field_name(message, field)
                ),
                "encrypted field in a composite index",
            ));
        }
    }
}

/// A composite index must name fields that exist, once each, and that fit an index.
fn composite_index_is_sound(message: &Message, index: &CompositeIndex, out: &mut Vec<Diagnostic>) {
    if index.fields.is_empty() {
        out.push(Diagnostic::new(
            &index.origin,
            indexes_text(message, ": an index needs at least one field"),
            "empty index",
        ));
    }
    if index.primary && index.unique {
        out.push(Diagnostic::new(
            &index.origin,
            indexes_text(
                message,
                ": set `primary` or `unique`, not both (a primary key is unique)",
            ),
            "primary and unique",
        ));
    }
    let mut seen = HashSet::new();
    for name in &index.fields {
        if !seen.insert(name) {
            out.push(Diagnostic::new(
                &index.origin,
                indexes_text(message, format!(" names field `{name}` twice")),
                "duplicate field",
            ));
            // The checks below already ran for this field.
            continue;
        }
        match message.field(name) {
            None => {
                let known: Vec<&str> = message.fields.iter().map(|f| f.name.as_str()).collect();
                out.push(
                    Diagnostic::new(
                        &index.origin,
                        indexes_text(
                            message,
                            format!(" names `{name}`, which is not a field of the message"),
                        ),
                        "unknown field",
                    )
                    .help(format!("fields are: {}", known.join(", "))),
                );
            }
            Some(field) => {
                let kind = if index.primary {
                    IndexKind::Primary
                } else if index.unique {
                    IndexKind::Unique
                } else {
                    IndexKind::Secondary
                };
                index_fits_field(message, field, kind, &index.origin, out);
            }
        }
    }
}

/// `` `app.v1.User`: (capacitor.v1.entity).indexes`` followed by `rest`.
fn indexes_text(message: &Message, rest: impl Into<Text>) -> Text {
    Text::from(format!("`{}`: ", message.full_name))
        .then(OptionId::Indexes)
        .then(rest)
}

/// Two fields in one column would overwrite each other.
fn unique_columns(message: &Message, out: &mut Vec<Diagnostic>) {
    let mut columns: BTreeMap<&str, &Field> = BTreeMap::new();
    // A oneof's members share the oneof's column; a clash is a field (or another oneof) in the same column.
    for field in message.fields.iter() {
        let Some(column) = field.stored_in() else {
            continue;
        };
        let first = *columns.entry(column).or_insert(field);
        if std::ptr::eq(first, field) || (first.oneof.is_some() && first.oneof == field.oneof) {
            continue;
        }
        let holder = match &first.oneof {
            Some(oneof) => format!("oneof `{oneof}`"),
            None => format!("field `{}`", first.name),
        };
        out.push(
            Diagnostic::new(
                &field.origin,
                format!(
                    "{} and {holder} are both stored in column `{column}`",
                    field_name(message, field),
                ),
                "column used twice",
            )
            .help("give one of them another `column`"),
        );
    }
}

/// Index names are global per table in SQLite and per schema in Postgres.
fn unique_index_names(message: &Message, entity: &EntityOptions, out: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    // Primary keys are counted by `exactly_one_primary_key`; a second one is not also a name clash.
    for index in message
        .resolved_indexes(entity)
        .into_iter()
        .filter(|i| i.kind != IndexKind::Primary)
    {
        if !seen.insert(index.name.clone()) {
            out.push(
                Diagnostic::new(
                    &entity.origin,
                    format!(
                        "entity `{}` declares index `{}` twice",
                        message.full_name, index.name
                    ),
                    "duplicate index name",
                )
                .help("give the composite index a distinct `name`"),
            );
        }
    }
}

/// `index`, `column`, `encrypt` (with `blind_index_bits`), `claim_check` and `ignore` describe storage; on a message that is not an entity they would be
/// silently ignored, which usually means the entity option was forgotten.
fn storage_options_need_entity(message: &Message, out: &mut Vec<Diagnostic>) {
    for field in &message.fields {
        let o = &field.options;
        let origin = o
            .index
            .as_ref()
            .map(|i| &i.origin)
            .or(o.encrypt.as_ref().map(|e| &e.origin))
            .or(o.blind_index_bits.as_ref().map(|b| &b.origin))
            .or(o.claim_check.as_ref().map(|c| &c.origin));
        let used = o.index.is_some()
            || o.column.is_some()
            || o.ignore
            || o.encrypt.as_ref().is_some_and(|e| e.value)
            || o.blind_index_bits.is_some()
            || o.claim_check.is_some();
        if used {
            out.push(
                Diagnostic::new(
                    origin.unwrap_or(&field.origin),
                    format!(
                        "{}: storage options (index, column, encrypt, claim_check, ignore) on a message that is not an entity",
                        field_name(message, field)
                    ),
                    "storage option outside an entity",
                )
                .help(
                    Text::from("add ")
                        .then(OptionId::Entity)
                        .then(format!(" to `{}`, or remove the option", message.full_name)),
                ),
            );
        }
    }
}

/// Two entities in one table would read each other's rows.
/// The outbox is a table written in the entity's own transaction: only a SQL store has one.
fn outbox_needs_a_sql_backend(
    message: &Message,
    entity: &EntityOptions,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(outbox) = &entity.outbox
        && entity.backend() == crate::ir::Backend::Memory
    {
        out.push(
            Diagnostic::new(
                &outbox.origin,
                format!(
                    "`{}`: `outbox` needs a SQLite or Postgres backend: the memory store has no transaction \
                     to write the outbox row in",
                    message.full_name
                ),
                "outbox on a memory entity",
            )
            .help("store the entity in SQLite or Postgres, or drop `outbox`"),
        );
    }
}

/// `subject` (crypto-shredding) names a field whose value identifies the data subject: a singular string,
/// integer or bytes field outside any oneof, not itself `encrypt` (its value finds the subject's key, so it
/// must be readable without it), on an entity that has `encrypt` fields (the subject key seals nothing
/// otherwise), stored in SQLite or Postgres (the subject key table is a SQL table: the memory store keeps
/// plaintext in the process and has nothing to shred), without an outbox (its relay does not load subject keys)
/// and not event-sourced (event payloads are not encrypted).
fn subject_is_sound(message: &Message, entity: &EntityOptions, out: &mut Vec<Diagnostic>) {
    let Some(subject) = &entity.subject else {
        return;
    };
    let name = &message.full_name;
    let mut error = |text: String, label: &str, help: &str| {
        out.push(Diagnostic::new(&subject.origin, text, label.to_string()).help(help.to_string()));
    };
    let Some(field) = message.fields.iter().find(|f| f.name == subject.value) else {
        error(
            format!(
                "`{name}`: `subject` names `{}`, which is not a field of the entity",
                subject.value
            ),
            "unknown subject field",
            "name the field that identifies the data subject (e.g. `user_id`)",
        );
        return;
    };
    let scalar = matches!(
        field.ty,
        FieldType::Scalar(
            Scalar::String
                | Scalar::Bytes
                | Scalar::Int32
                | Scalar::Int64
                | Scalar::Uint32
                | Scalar::Uint64
                | Scalar::Sint32
                | Scalar::Sint64
                | Scalar::Fixed32
                | Scalar::Fixed64
                | Scalar::Sfixed32
                | Scalar::Sfixed64
        )
    );
    let singular = matches!(field.label, Label::Implicit | Label::Required)
        && field.oneof.is_none()
        && !field.options.ignore;
    if !scalar || !singular {
        error(
            format!(
                "`{name}`: the subject field {} must be a singular string, integer or bytes field that is always \
                 set and stored (not optional, repeated, a map, a message, a oneof member or `ignore`d)",
                field_name(message, field)
            ),
            "subject field of the wrong type",
            "name a plain string, integer or bytes field such as the owning user's id",
        );
    }
    if field.options.encrypt.as_ref().is_some_and(|e| e.value) {
        error(
            format!(
                "`{name}`: the subject field {} is `encrypt`: its value finds the subject's data key, so it \
                 must be readable without that key",
                field_name(message, field)
            ),
            "encrypted subject field",
            "drop `encrypt` from the subject field (store an opaque id there), or name another field",
        );
    }
    if !message
        .fields
        .iter()
        .any(|f| f.options.encrypt.as_ref().is_some_and(|e| e.value))
    {
        error(
            format!(
                "`{name}`: `subject` needs at least one `encrypt` field: the subject's data key seals only \
                 encrypted fields, so shredding it would make nothing unreadable"
            ),
            "subject without encrypted fields",
            "mark the subject's personal fields `encrypt`, or drop `subject`",
        );
    }
    if entity.backend() == crate::ir::Backend::Memory {
        error(
            format!(
                "`{name}`: `subject` needs a SQLite or Postgres backend: subject keys live in the \
                 `capacitor_subject_keys` table, and the memory store keeps values in plaintext in the process"
            ),
            "subject on a memory entity",
            "store the entity in SQLite or Postgres, or drop `subject`",
        );
    }
    if entity.outbox.is_some() {
        error(
            format!(
                "`{name}`: `subject` cannot be combined with `outbox` yet: outbox payloads would be sealed under \
                 subject keys the relay does not load"
            ),
            "subject with an outbox",
            "drop `outbox` or `subject` (see docs/pii.md, crypto-shredding)",
        );
    }
    if entity.event_sourced.is_some() {
        error(
            format!(
                "`{name}`: `subject` cannot be combined with `event_sourced`: event payloads are stored as written, \
                 so there is nothing for a subject key to seal"
            ),
            "subject on an event-sourced entity",
            "drop `subject`, or store the entity as rows",
        );
    }
}

fn one_table_per_entity(schema: &Schema, out: &mut Vec<Diagnostic>) {
    let mut tables: BTreeMap<(String, crate::ir::Backend), &Message> = BTreeMap::new();
    for (message, entity) in schema.entities() {
        if entity.backend() == crate::ir::Backend::Memory {
            continue;
        }
        let key = (entity.table_name(message), entity.backend());
        if let Some(first) = tables.get(&key) {
            let origin = entity.table.as_ref().map_or(&entity.origin, |t| &t.origin);
            out.push(
                Diagnostic::new(
                    origin,
                    format!(
                        "entities `{}` and `{}` are both mapped to table `{}`",
                        first.full_name, message.full_name, key.0
                    ),
                    "table used twice",
                )
                .help("set a distinct `table` in one of the entity options"),
            );
        } else {
            tables.insert(key, message);
        }
    }
    // An outbox table is named after its entity's table: it must not be another entity's table.
    for (message, entity) in schema.entities() {
        let Some(option) = &entity.outbox else {
            continue;
        };
        if entity.backend() == crate::ir::Backend::Memory {
            continue;
        }
        let outbox = capacitor_schema::columns::outbox_table(&entity.table_name(message));
        if let Some(other) = tables.get(&(outbox.clone(), entity.backend())) {
            out.push(
                Diagnostic::new(
                    &option.origin,
                    format!(
                        "the outbox of `{}` is table `{outbox}`, which entity `{}` is mapped to",
                        message.full_name, other.full_name
                    ),
                    "table used twice",
                )
                .help("set a distinct `table` in one of the entity options"),
            );
        }
    }
}
