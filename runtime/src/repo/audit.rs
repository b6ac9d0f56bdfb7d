//! The repository's audit trail: one [`AuditEvent`] per row read, written or erased, for entities with PII.
//!
//! Off by default ([`RepositoryBuilder::audit`](super::RepositoryBuilder::audit) turns it on): an audit trail
//! is a policy decision with a storage cost, and a sink is a service's choice (the batched
//! [`TracingAuditSink`](crate::pii::TracingAuditSink), or its own). Entities without a PII field are never
//! audited, whatever the builder says.
//!
//! An event names the entity (full name), the operation, the row's key — its keyed token when the key is PII,
//! else its key text —, the entity's PII fields (the fields a read or write of a whole row touches), the task's
//! [`Actor`](crate::pii::Actor), the time and the outcome. With a [`TracingAuditSink`](crate::pii::TracingAuditSink)
//! the repository records a compact record instead of an event (the key's naming, the JSON and the write happen
//! on the sink's writer task; see [`crate::pii::audit`]); with any other sink, an [`AuditEvent`] per access.

use crate::error::Error;
use crate::pii::audit::Recorder;
use crate::pii::{AuditEvent, AuditKey, AuditOutcome, AuditSink, Operation, TokenKey};
use crate::record::Record;
use crate::schema::EntitySchema;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What a repository needs to audit: the sink, and how to name keys.
pub(super) struct Audit<K: Clone + Eq + std::hash::Hash + Send + Sync + 'static> {
    /// Kept so that the sink (and its writer task) lives as long as the repository.
    sink: Arc<dyn AuditSink>,
    how: How<K>,
}

/// How a repository records: compact records into a [`TracingAuditSink`](crate::pii::TracingAuditSink), or an
/// [`AuditEvent`] per access into any other sink.
enum How<K: Clone + Eq + std::hash::Hash + Send + Sync + 'static> {
    Records(Recorder<K>),
    Events {
        /// The token key when the entity's key is PII.
        tokens: Option<TokenKey>,
        names: &'static EntityNames,
    },
}

/// An entity's full name and PII field names, made once per entity for the life of the process, so an event
/// borrows them instead of allocating them.
pub(super) struct EntityNames {
    full_name: &'static str,
    pii_fields: &'static [&'static str],
}

impl<K: Clone + Eq + std::hash::Hash + Send + Sync + 'static> Audit<K> {
    /// The audit of entity `E` into `sink`; `None` when `E` has no PII field.
    pub(super) fn new<E: Record<Key = K>>(
        sink: Arc<dyn AuditSink>,
        tokens: Option<TokenKey>,
    ) -> Option<Audit<K>> {
        E::SCHEMA.pii_fields().next()?;
        let names = names(E::SCHEMA);
        let how = match sink.tracing_sink() {
            Some(tracing) => How::Records(tracing.recorder(
                names.full_name,
                names.pii_fields,
                Box::new(move |key: &K| audit_key::<E>(names, tokens.as_ref(), key)),
            )),
            None => How::Events { tokens, names },
        };
        Some(Audit { sink, how })
    }

    /// Records `operation` on `key` with `outcome`.
    pub(super) fn record<E: Record<Key = K>>(
        &self,
        operation: Operation,
        key: &K,
        outcome: AuditOutcome,
    ) {
        match &self.how {
            How::Records(recorder) => recorder.record(operation, key, outcome),
            How::Events { tokens, names } => self.sink.record(AuditEvent::now(
                names.full_name,
                operation,
                audit_key::<E>(names, tokens.as_ref(), key),
                names.pii_fields,
                outcome,
            )),
        }
    }

    /// Records `operation` on `key`, its outcome taken from `result`.
    pub(super) fn record_result<E: Record<Key = K>, T>(
        &self,
        operation: Operation,
        key: &K,
        result: &Result<T, Error>,
    ) {
        self.record::<E>(operation, key, outcome_of(result));
    }
}

/// How an audit line names `key`: its keyed token when the key is PII (`tokens` set), else its canonical text.
fn audit_key<E: Record>(names: &EntityNames, tokens: Option<&TokenKey>, key: &E::Key) -> AuditKey {
    let text = crate::record::key_token::<E>(key);
    match tokens {
        Some(tokens) => AuditKey::Token(tokens.token(names.full_name, text.as_bytes())),
        None => AuditKey::Clear(text),
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
