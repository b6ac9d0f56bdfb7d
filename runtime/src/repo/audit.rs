//! The repository's audit trail: one [`AuditEvent`] per row read, written or erased, for entities with PII.
//!
//! Off by default ([`RepositoryBuilder::audit`](super::RepositoryBuilder::audit) turns it on): an audit trail
//! is a policy decision with a storage cost, and a sink is a service's choice (the batched
//! [`TracingAuditSink`](crate::pii::TracingAuditSink), or its own). Entities without a PII field are never
//! audited, whatever the builder says.
//!
//! An event names the entity (full name), the operation, the row's key — its keyed token when the key is PII,
//! else its key text —, the entity's PII fields (the fields a read or write of a whole row touches), the task's
//! [`Actor`](crate::pii::Actor), the time and the outcome.

use crate::error::Error;
use crate::pii::{AuditEvent, AuditKey, AuditOutcome, AuditSink, Operation, TokenKey};
use crate::record::Record;
use crate::schema::EntitySchema;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What a repository needs to audit: the sink, and how to name keys.
pub(super) struct Audit {
    sink: Arc<dyn AuditSink>,
    /// The token key when the entity's key is PII.
    tokens: Option<TokenKey>,
    names: &'static EntityNames,
}

/// An entity's full name and PII field names, made once per entity for the life of the process, so an event
/// borrows them instead of allocating them.
pub(super) struct EntityNames {
    full_name: &'static str,
    pii_fields: &'static [&'static str],
}

impl Audit {
    /// The audit of entity `E` into `sink`; `None` when `E` has no PII field.
    pub(super) fn new<E: Record>(
        sink: Arc<dyn AuditSink>,
        tokens: Option<TokenKey>,
    ) -> Option<Audit> {
        E::SCHEMA.pii_fields().next()?;
        Some(Audit {
            sink,
            tokens,
            names: names(E::SCHEMA),
        })
    }

    /// Records `operation` on `key` with `outcome`.
    pub(super) fn record<E: Record>(
        &self,
        operation: Operation,
        key: &E::Key,
        outcome: AuditOutcome,
    ) {
        let text = crate::record::key_token::<E>(key);
        let key = match &self.tokens {
            Some(tokens) => AuditKey::Token(tokens.token(self.names.full_name, text.as_bytes())),
            None => AuditKey::Clear(text),
        };
        self.sink.record(AuditEvent::now(
            self.names.full_name,
            operation,
            key,
            self.names.pii_fields,
            outcome,
        ));
    }

    /// Records `operation` on `key`, its outcome taken from `result`.
    pub(super) fn record_result<E: Record, T>(
        &self,
        operation: Operation,
        key: &E::Key,
        result: &Result<T, Error>,
    ) {
        self.record::<E>(operation, key, outcome_of(result));
    }
}

/// The audit outcome of an operation's result.
pub(super) fn outcome_of<T>(result: &Result<T, Error>) -> AuditOutcome {
    match result {
        Ok(_) => AuditOutcome::Success,
        Err(Error::NotFound { .. }) => AuditOutcome::NotFound,
        Err(_) => AuditOutcome::Failed,
    }
}

/// The names of `schema`'s entity, leaked once per entity (a bounded set: one per entity type).
fn names(schema: &'static EntitySchema) -> &'static EntityNames {
    static NAMES: OnceLock<Mutex<HashMap<usize, &'static EntityNames>>> = OnceLock::new();
    let mut map = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(schema as *const EntitySchema as usize)
        .or_insert_with(|| {
            let fields: Vec<&'static str> = schema.pii_fields().map(|f| f.name).collect();
            Box::leak(Box::new(EntityNames {
                full_name: Box::leak(schema.full_name().into_boxed_str()),
                pii_fields: Box::leak(fields.into_boxed_slice()),
            }))
        })
}
