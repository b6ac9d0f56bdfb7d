//! The event store's SQL, one implementation per dialect (sqlx on both, so one pool type per dialect).

use std::fmt;

use super::StreamSchema;
use crate::driver_error::DriverError;
use crate::{Error, Tier};

/// A stored event, not decoded.
pub(super) struct RawEvent {
    pub(super) stream_id: String,
    pub(super) version: u64,
    pub(super) position: u64,
    pub(super) event_type: String,
    pub(super) payload: Vec<u8>,
    pub(super) metadata: Vec<u8>,
    pub(super) recorded_at_micros: i64,
}

/// What a load folds: the latest snapshot (version, encoded state) and the events after it (version, payload).
pub(super) struct StreamRows {
    pub(super) snapshot: Option<(u64, Vec<u8>)>,
    pub(super) events: Vec<(u64, Vec<u8>)>,
}

/// Computes the snapshot to store with an append, from the stream as it is before it (inside its transaction).
pub(super) type SnapshotFn<'a> = &'a (dyn Fn(StreamRows) -> Result<Vec<u8>, Error> + Send + Sync);

/// An event store on Postgres or SQLite: the pool every [`Stream`](super::Stream) of it shares. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

impl fmt::Debug for EventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dialect = match self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
        };
        f.debug_struct("EventStore")
            .field("dialect", &dialect)
            .finish()
    }
}

fn store_error(entity: &'static str, e: sqlx::Error) -> Error {
    Error::backend(entity, Tier::Store, DriverError::from(e))
}

fn conflict(entity: &'static str, expected: u64, found: u64) -> Error {
    Error::Conflict {
        entity,
        expected: (expected > 0).then_some(expected),
        found: (found > 0).then_some(found),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The key of the per-table advisory lock that orders appends (FNV-1a of the table name).
#[cfg(feature = "postgres")]
fn lock_key(table: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in table.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The writer's clock, in microseconds since the Unix epoch (`recorded_at`, as the outbox records it).
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn version_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl EventStore {
    /// Opens a pool on `url`: `postgres://…` (feature `postgres`) or `sqlite:…` (feature `sqlite`; the file
    /// is created if missing, in WAL mode; every commit waits for the disk unless the URL says
    /// `?synchronous=normal`). The tables come from capgen's migrations, applied beforehand.
    pub async fn connect(url: &str) -> Result<EventStore, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(url)
                    .await
                    .map_err(|e| store_error("EventStore", e))?;
                return Ok(EventStore::postgres(pool));
            }
            #[cfg(not(feature = "postgres"))]
            return Err(Error::Config(
                "postgres URL, but the `postgres` feature is off".into(),
            ));
        }
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                use capacitor_schema::sqlite_url::Durability;
                use std::str::FromStr;
                let (url, durability) = Durability::from_url(url)
                    .map_err(|e| Error::Config(format!("sqlite URL: {e}")))?;
                // Every append waits for the disk unless the URL says `synchronous=normal`, as in the store.
                let synchronous =
                    crate::store::sqlite_synchronous(durability.unwrap_or(Durability::Full));
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .map_err(|e| store_error("EventStore", e))?
                    .create_if_missing(true)
                    .synchronous(synchronous)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(std::time::Duration::from_secs(30));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .connect_with(options)
                    .await
                    .map_err(|e| store_error("EventStore", e))?;
                return Ok(EventStore::sqlite(pool));
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(Error::Config(
                "sqlite URL, but the `sqlite` feature is off".into(),
            ));
        }
        Err(Error::Config(
            "event store URL must start with postgres:// or sqlite:".into(),
        ))
    }

    /// [`connect`](Self::connect), then applies capgen's migrations for the URL's dialect (embedded with
    /// [`crate::migrations!`]); a dialect with no migrations given is [`Error::Config`].
    pub async fn open_migrated(
        url: &str,
        migrations: &crate::migrate::Migrations,
    ) -> Result<EventStore, Error> {
        let store = EventStore::connect(url).await?;
        let missing = || Error::Config("no migrations given for the event store's dialect".into());
        match &store.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => migrations
                .postgres_migrator()
                .ok_or_else(missing)?
                .run(pool)
                .await
                .map_err(|e| Error::backend("EventStore", Tier::Store, DriverError::from(e)))?,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => migrations
                .sqlite_migrator()
                .ok_or_else(missing)?
                .run(pool)
                .await
                .map_err(|e| Error::backend("EventStore", Tier::Store, DriverError::from(e)))?,
        }
        Ok(store)
    }

    /// An event store on an existing Postgres pool.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool) -> EventStore {
        EventStore {
            backend: Backend::Postgres(pool),
        }
    }

    /// An event store on an existing SQLite pool.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool) -> EventStore {
        EventStore {
            backend: Backend::Sqlite(pool),
        }
    }

    /// The typed stream API of `A` on this store.
    pub fn stream<A: super::Aggregate>(&self) -> super::Stream<A> {
        super::Stream::new(self.clone())
    }

    pub(super) async fn append(
        &self,
        schema: &'static StreamSchema,
        id: &str,
        expected: u64,
        events: &[(&'static str, Vec<u8>)],
        metadata: &[u8],
        snapshot: Option<SnapshotFn<'_>>,
    ) -> Result<u64, Error> {
        match &self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                pg::append(pool, schema, id, expected, events, metadata, snapshot).await
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => {
                lite::append(pool, schema, id, expected, events, metadata, snapshot).await
            }
        }
    }

    pub(super) async fn read_for_load(
        &self,
        schema: &'static StreamSchema,
        id: &str,
        use_snapshot: bool,
    ) -> Result<StreamRows, Error> {
        match &self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| store_error(schema.entity, e))?;
                pg::read_for_load(&mut conn, schema, id, use_snapshot).await
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => {
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| store_error(schema.entity, e))?;
                lite::read_for_load(&mut conn, schema, id, use_snapshot).await
            }
        }
    }

    pub(super) async fn read_stream(
        &self,
        schema: &'static StreamSchema,
        id: &str,
        after_version: u64,
    ) -> Result<Vec<RawEvent>, Error> {
        let sql = format!(
            "SELECT stream_id, version, position, event_type, payload, metadata, recorded_at FROM {} \
             WHERE stream_id = $1 AND version > $2 ORDER BY version",
            schema.events_table
        );
        self.fetch_events(schema, &sql, Some(id), version_i64(after_version), i64::MAX)
            .await
    }

    pub(super) async fn read_all(
        &self,
        schema: &'static StreamSchema,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<RawEvent>, Error> {
        let sql = format!(
            "SELECT stream_id, version, position, event_type, payload, metadata, recorded_at FROM {} \
             WHERE position > $1 ORDER BY position LIMIT $2",
            schema.events_table
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.fetch_events(schema, &sql, None, version_i64(after_position), limit)
            .await
    }

    async fn fetch_events(
        &self,
        schema: &'static StreamSchema,
        sql: &str,
        id: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RawEvent>, Error> {
        type Row = (String, i64, i64, String, Vec<u8>, Vec<u8>, i64);
        let rows: Vec<Row> = match &self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => {
                let q = sqlx::query_as::<_, Row>(sql);
                let q = match id {
                    Some(id) => q.bind(id).bind(after),
                    None => q.bind(after).bind(limit),
                };
                q.fetch_all(pool).await
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => {
                let q = sqlx::query_as::<_, Row>(sql);
                let q = match id {
                    Some(id) => q.bind(id).bind(after),
                    None => q.bind(after).bind(limit),
                };
                q.fetch_all(pool).await
            }
        }
        .map_err(|e| store_error(schema.entity, e))?;
        Ok(rows
            .into_iter()
            .map(
                |(stream_id, version, position, event_type, payload, metadata, at)| RawEvent {
                    stream_id,
                    version: version as u64,
                    position: position as u64,
                    event_type,
                    payload,
                    metadata,
                    recorded_at_micros: at,
                },
            )
            .collect())
    }
}

/// The reads and the snapshot insert an append and a load share, the same SQL on both dialects (`$n`
/// placeholders work on SQLite too), expanded in each dialect's module over its connection type.
macro_rules! stream_reads {
    ($conn:ty) => {
        /// The latest snapshot (when `use_snapshot`) and the events after it, in version order.
        pub(super) async fn read_for_load(
            conn: &mut $conn,
            schema: &'static StreamSchema,
            id: &str,
            use_snapshot: bool,
        ) -> Result<StreamRows, Error> {
            let entity = schema.entity;
            let snapshot = if use_snapshot {
                let sql = format!(
                    "SELECT version, state FROM {} WHERE stream_id = $1 ORDER BY version DESC LIMIT 1",
                    schema.snapshots_table
                );
                sqlx::query_as::<_, (i64, Vec<u8>)>(&sql)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| store_error(entity, e))?
                    .map(|(v, s)| (v as u64, s))
            } else {
                None
            };
            let after = snapshot.as_ref().map_or(0, |(v, _)| *v as i64);
            let sql = format!(
                "SELECT version, payload FROM {} WHERE stream_id = $1 AND version > $2 ORDER BY version",
                schema.events_table
            );
            let events = sqlx::query_as::<_, (i64, Vec<u8>)>(&sql)
                .bind(id)
                .bind(after)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| store_error(entity, e))?
                .into_iter()
                .map(|(v, p)| (v as u64, p))
                .collect();
            Ok(StreamRows { snapshot, events })
        }

        /// The stream's current version (0 when it has no event).
        async fn current_version(
            conn: &mut $conn,
            schema: &'static StreamSchema,
            id: &str,
        ) -> Result<u64, Error> {
            let sql = format!(
                "SELECT coalesce(max(version), 0) FROM {} WHERE stream_id = $1",
                schema.events_table
            );
            let (v,): (i64,) = sqlx::query_as(&sql)
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| store_error(schema.entity, e))?;
            Ok(v as u64)
        }

        /// Stores the stream's state at `version`, in the append's transaction.
        async fn insert_snapshot(
            conn: &mut $conn,
            schema: &'static StreamSchema,
            id: &str,
            version: u64,
            state: Vec<u8>,
            at: i64,
        ) -> Result<(), Error> {
            let sql = format!(
                "INSERT INTO {} (stream_id, version, state, recorded_at) VALUES ($1, $2, $3, $4)",
                schema.snapshots_table
            );
            sqlx::query(&sql)
                .bind(id)
                .bind(version_i64(version))
                .bind(state)
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(|e| store_error(schema.entity, e))?;
            Ok(())
        }
    };
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use sqlx::{PgConnection, PgPool};

    stream_reads!(PgConnection);

    pub(super) async fn append(
        pool: &PgPool,
        schema: &'static StreamSchema,
        id: &str,
        expected: u64,
        events: &[(&'static str, Vec<u8>)],
        metadata: &[u8],
        snapshot: Option<SnapshotFn<'_>>,
    ) -> Result<u64, Error> {
        let entity = schema.entity;
        let types: Vec<&str> = events.iter().map(|(t, _)| *t).collect();
        let payloads: Vec<&[u8]> = events.iter().map(|(_, p)| p.as_slice()).collect();
        let new_version = expected + events.len() as u64;
        let mut conn = pool.acquire().await.map_err(|e| store_error(entity, e))?;
        let Some(snapshot) = snapshot else {
            // One statement (its own transaction): the lock orders global positions by commit, the WHERE
            // refuses a stale expected version, the primary key refuses a racing one.
            // One event (the common append) binds plain values; a batch binds two arrays and unnests them.
            let (version, values) = match events.len() {
                1 => ("$3 + 1", "$4, $5, $6, $7 FROM lock"),
                _ => (
                    "$3 + e.ord",
                    "e.event_type, e.payload, $6, $7 FROM lock, unnest($4::text[], $5::bytea[]) WITH ORDINALITY \
                     AS e(event_type, payload, ord)",
                ),
            };
            let sql = format!(
                "WITH lock AS (SELECT pg_advisory_xact_lock($1)) \
                 INSERT INTO {t} (stream_id, version, event_type, payload, metadata, recorded_at) \
                 SELECT $2, {version}, {values} \
                 WHERE (SELECT coalesce(max(version), 0) FROM {t} WHERE stream_id = $2) = $3",
                t = schema.events_table
            );
            let query = sqlx::query(&sql)
                .bind(lock_key(schema.events_table))
                .bind(id)
                .bind(version_i64(expected));
            let query = match events {
                [(event_type, payload)] => query.bind(*event_type).bind(payload.as_slice()),
                _ => query.bind(&types).bind(&payloads),
            };
            let result = query
                .bind(metadata)
                .bind(now_micros())
                .execute(&mut *conn)
                .await;
            return match result {
                Ok(done) if done.rows_affected() == events.len() as u64 => Ok(new_version),
                Ok(_) => Err(conflict(
                    entity,
                    expected,
                    current_version(&mut conn, schema, id).await?,
                )),
                Err(e) if is_unique_violation(&e) => Err(conflict(
                    entity,
                    expected,
                    current_version(&mut conn, schema, id).await?,
                )),
                Err(e) => Err(store_error(entity, e)),
            };
        };
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| store_error(entity, e))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(schema.events_table))
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(entity, e))?;
        let found = current_version(&mut tx, schema, id).await?;
        if found != expected {
            return Err(conflict(entity, expected, found));
        }
        let state = snapshot(read_for_load(&mut tx, schema, id, true).await?)?;
        let at = now_micros();
        let sql = format!(
            "INSERT INTO {} (stream_id, version, event_type, payload, metadata, recorded_at) \
             SELECT $1, $2 + e.ord, e.event_type, e.payload, $5, $6 \
             FROM unnest($3::text[], $4::bytea[]) WITH ORDINALITY AS e(event_type, payload, ord)",
            schema.events_table
        );
        sqlx::query(&sql)
            .bind(id)
            .bind(version_i64(expected))
            .bind(&types)
            .bind(&payloads)
            .bind(metadata)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(entity, e))?;
        insert_snapshot(&mut tx, schema, id, new_version, state, at).await?;
        tx.commit().await.map_err(|e| store_error(entity, e))?;
        Ok(new_version)
    }
}

#[cfg(feature = "sqlite")]
mod lite {
    use super::*;
    use sqlx::{SqliteConnection, SqlitePool};

    stream_reads!(SqliteConnection);

    pub(super) async fn append(
        pool: &SqlitePool,
        schema: &'static StreamSchema,
        id: &str,
        expected: u64,
        events: &[(&'static str, Vec<u8>)],
        metadata: &[u8],
        snapshot: Option<SnapshotFn<'_>>,
    ) -> Result<u64, Error> {
        let entity = schema.entity;
        let mut conn = pool.acquire().await.map_err(|e| store_error(entity, e))?;
        // IMMEDIATE: the write lock is taken before the version is read, so the check and the insert see
        // the same stream (SQLite has one writer; positions follow commit order).
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
            .await
            .map_err(|e| store_error(entity, e))?;
        let found = current_version(&mut tx, schema, id).await?;
        if found != expected {
            return Err(conflict(entity, expected, found));
        }
        let state = match snapshot {
            Some(snapshot) => Some(snapshot(read_for_load(&mut tx, schema, id, true).await?)?),
            None => None,
        };
        let sql = format!(
            "INSERT INTO {t} (position, stream_id, version, event_type, payload, metadata, recorded_at) \
             SELECT coalesce(max(position), 0) + 1, $1, $2, $3, $4, $5, $6 FROM {t}",
            t = schema.events_table
        );
        let at = now_micros();
        let mut version = expected;
        for (event_type, payload) in events {
            version += 1;
            sqlx::query(&sql)
                .bind(id)
                .bind(version_i64(version))
                .bind(*event_type)
                .bind(payload.as_slice())
                .bind(metadata)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        conflict(entity, expected, expected + 1)
                    } else {
                        store_error(entity, e)
                    }
                })?;
        }
        if let Some(state) = state {
            insert_snapshot(&mut tx, schema, id, version, state, at).await?;
        }
        tx.commit().await.map_err(|e| store_error(entity, e))?;
        Ok(version)
    }
}
