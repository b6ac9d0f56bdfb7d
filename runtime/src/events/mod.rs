//! Event-sourced entities: an append-only event store with optimistic concurrency and snapshots.
//!
//! An entity marked `(capacitor.v1.entity).event_sourced = { events: "OrderEvent" snapshot_every: 100 }` is
//! not stored as a row: its state is the fold of its events. capgen emits the two tables (see
//! `docs/event-sourcing.md`), an [`EventSourced`] impl naming them and the event type of each `oneof` case,
//! and `type OrderStream = capacitor::events::Stream<Order>`. The user writes the fold ([`Aggregate`]).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run<A: capacitor::events::Aggregate>(events: Vec<A::Event>) -> Result<(), capacitor::Error> {
//! use capacitor::events::EventStore;
//!
//! let store = EventStore::connect("sqlite:orders.db").await?;
//! let stream = store.stream::<A>();
//! let version = stream.append("order-1", 0, &events).await?; // a new stream: expected version 0
//! let loaded = stream.load("order-1").await?;
//! assert_eq!(loaded.version, version);
//! # Ok(()) }
//! ```
//!
//! Guarantees: versions of a stream are 1, 2, 3… with no gap and no duplicate; an append whose expected
//! version is not the stream's current one writes nothing and is [`Error::Conflict`]; the events of one
//! append commit together; a snapshot is written in the append's transaction; global positions
//! ([`Stream::read_all`]) increase in commit order (appends to one entity's events table are serialized for
//! it: a Postgres advisory lock held to commit, SQLite's single writer).

mod sql;

use std::marker::PhantomData;

use prost::Message;

use crate::Error;
use crate::validate::Validate;

pub use sql::EventStore;

/// Where an event-sourced entity's events and snapshots live; emitted by capgen as a `static`.
#[derive(Debug)]
pub struct StreamSchema {
    /// The aggregate's message name (as in errors).
    pub entity: &'static str,
    /// The events table: `(stream_id, version)` primary key, `position` unique.
    pub events_table: &'static str,
    /// The snapshots table: `(stream_id, version)` primary key.
    pub snapshots_table: &'static str,
    /// Write a snapshot each time a stream's version crosses a multiple of this; `0` never does.
    pub snapshot_every: u64,
}

/// An entity whose state is rebuilt from its events. Implemented by generated code.
///
/// The implementing type (the entity's message) is the aggregate's state; it is what a snapshot stores, in
/// its protobuf encoding.
pub trait EventSourced: prost::Message + Default + Send + Sync + 'static {
    /// The events message: one `oneof` with a case per event.
    type Event: prost::Message + Default + Validate + Send + Sync + 'static;

    /// The tables and snapshot interval.
    const STREAM: &'static StreamSchema;

    /// The name of the event's `oneof` case (the event message's name), stored in `event_type`; `""` when
    /// the `oneof` is unset.
    fn event_type(event: &Self::Event) -> &'static str;
}

/// The case name of an events value, for entities derived with `#[capacitor(event_sourced(events = "E"))]`:
/// the derive cannot see `E`'s `oneof`, so `E` says it (generated code from a proto needs no impl).
pub trait EventKind {
    /// The name stored in `event_type` (`""` when no case is set).
    fn event_type(&self) -> &'static str;
}

/// The fold of an event-sourced entity: how one event changes the state. Written by the user.
///
/// `apply` must be deterministic and must not fail: it runs on replay of events that were already accepted
/// (decide and validate before appending, not here).
pub trait Aggregate: EventSourced {
    /// Applies one event to the state.
    fn apply(&mut self, event: &Self::Event);
}

/// An aggregate's state as loaded, with the version of the last event applied (`0`: an empty stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state after the last event.
    pub state: A,
    /// The stream's version: the number of events applied; pass it as the next append's `expected_version`.
    pub version: u64,
    /// The version of the snapshot the load started from, if any.
    pub from_snapshot: Option<u64>,
}

/// One stored event, as [`Stream::read_all`] and [`Stream::read_stream`] return it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent<E> {
    /// The stream (aggregate id) it belongs to.
    pub stream_id: String,
    /// Its version in that stream (1 for the first).
    pub version: u64,
    /// Its position in the store's global order (increasing in commit order; may skip numbers).
    pub position: u64,
    /// The `oneof` case name stored beside it.
    pub event_type: String,
    /// The decoded event.
    pub event: E,
    /// The metadata given to the append (empty if none).
    pub metadata: Vec<u8>,
    /// When it was recorded, in microseconds since the Unix epoch (the appending process's clock).
    pub recorded_at_micros: i64,
}

/// The typed stream API of one event-sourced entity (`OrderStream` is `Stream<Order>`).
pub struct Stream<A> {
    store: EventStore,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for Stream<A> {
    fn clone(&self) -> Self {
        Stream {
            store: self.store.clone(),
            _aggregate: PhantomData,
        }
    }
}

impl<A> std::fmt::Debug for Stream<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("store", &self.store)
            .finish()
    }
}

impl<A: Aggregate> Stream<A> {
    /// The stream API of `A` over `store`.
    pub fn new(store: EventStore) -> Self {
        Stream {
            store,
            _aggregate: PhantomData,
        }
    }

    /// The store it reads and writes.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Appends `events` to stream `id`, whose current version must be `expected_version` (`0` for a new
    /// stream), and returns the new version. Every event is validated first (`buf.validate` rules): one
    /// invalid event is [`Error::Validation`] and nothing is written. A stream at another version (a
    /// concurrent append won) is [`Error::Conflict`] with the version found, and nothing is written. No events
    /// is [`Error::Config`].
    pub async fn append(
        &self,
        id: &str,
        expected_version: u64,
        events: &[A::Event],
    ) -> Result<u64, Error> {
        self.append_with_metadata(id, expected_version, events, &[])
            .await
    }

    /// [`append`](Self::append), storing `metadata` (opaque bytes: correlation ids, the command…) beside
    /// each event.
    pub async fn append_with_metadata(
        &self,
        id: &str,
        expected_version: u64,
        events: &[A::Event],
        metadata: &[u8],
    ) -> Result<u64, Error> {
        if events.is_empty() {
            return Err(Error::Config(format!(
                "{}: append of no events",
                A::STREAM.entity
            )));
        }
        for event in events {
            event.validate().map_err(Error::Validation)?;
        }
        let encoded: Vec<(&'static str, Vec<u8>)> = events
            .iter()
            .map(|e| (A::event_type(e), e.encode_to_vec()))
            .collect();
        let new_version = expected_version + events.len() as u64;
        let every = A::STREAM.snapshot_every;
        let snapshot = every > 0 && expected_version / every != new_version / every;
        if !snapshot {
            return self
                .store
                .append(A::STREAM, id, expected_version, &encoded, metadata, None)
                .await;
        }
        let snapshot_of = |base: Loaded<A>| -> Result<Vec<u8>, Error> {
            let mut state = base.state;
            for event in events {
                state.apply(event);
            }
            Ok(state.encode_to_vec())
        };
        self.store
            .append(
                A::STREAM,
                id,
                expected_version,
                &encoded,
                metadata,
                Some(&|rows: sql::StreamRows| snapshot_of(fold::<A>(rows)?)),
            )
            .await
    }

    /// The state of stream `id`: the latest snapshot plus the events after it (an unknown id is the
    /// default state at version 0).
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, Error> {
        fold::<A>(self.store.read_for_load(A::STREAM, id, true).await?)
    }

    /// The state of stream `id` by replaying every event, ignoring snapshots (to check them, or measure).
    pub async fn replay(&self, id: &str) -> Result<Loaded<A>, Error> {
        fold::<A>(self.store.read_for_load(A::STREAM, id, false).await?)
    }

    /// The events of stream `id` with a version above `after_version`, in version order.
    pub async fn read_stream(
        &self,
        id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent<A::Event>>, Error> {
        let rows = self.store.read_stream(A::STREAM, id, after_version).await?;
        rows.into_iter().map(decode_recorded::<A>).collect()
    }

    /// Up to `limit` events of every stream with a global position above `after_position`, in global order
    /// (for projections: pass the last position seen).
    pub async fn read_all(
        &self,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent<A::Event>>, Error> {
        let rows = self
            .store
            .read_all(A::STREAM, after_position, limit)
            .await?;
        rows.into_iter().map(decode_recorded::<A>).collect()
    }
}

fn decode_error(entity: &'static str, what: &'static str) -> Error {
    Error::backend(
        entity,
        crate::Tier::Store,
        format!("a stored {what} does not decode"),
    )
}

fn decode_recorded<A: Aggregate>(row: sql::RawEvent) -> Result<RecordedEvent<A::Event>, Error> {
    let event = A::Event::decode(row.payload.as_slice())
        .map_err(|_| decode_error(A::STREAM.entity, "event"))?;
    Ok(RecordedEvent {
        stream_id: row.stream_id,
        version: row.version,
        position: row.position,
        event_type: row.event_type,
        event,
        metadata: row.metadata,
        recorded_at_micros: row.recorded_at_micros,
    })
}

fn fold<A: Aggregate>(rows: sql::StreamRows) -> Result<Loaded<A>, Error> {
    let entity = A::STREAM.entity;
    let (mut state, mut version, from_snapshot) = match rows.snapshot {
        Some((v, bytes)) => (
            A::decode(bytes.as_slice()).map_err(|_| decode_error(entity, "snapshot"))?,
            v,
            Some(v),
        ),
        None => (A::default(), 0, None),
    };
    for (v, payload) in rows.events {
        let event =
            A::Event::decode(payload.as_slice()).map_err(|_| decode_error(entity, "event"))?;
        state.apply(&event);
        version = v;
    }
    Ok(Loaded {
        state,
        version,
        from_snapshot,
    })
}
