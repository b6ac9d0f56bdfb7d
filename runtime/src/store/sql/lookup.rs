//! The SQL of index lookups, per dialect, and its execution on each SQL store.
//!
//! `SELECT <row columns>, "_version" FROM <table> WHERE <index columns> = <values> [AND (<key>) > (<after>)]
//! ORDER BY <key> LIMIT <n>`: an equality lookup on the index (which the DDL creates, so it is an index scan)
//! paginated by the primary key.

use super::Dialect;
use crate::schema::{EntitySchema, FieldSchema, FieldType, IndexSchema, Label, WellKnown};

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The columns of a field in `dialect`: a Timestamp is two on Postgres (`<col>`, `<col>_nanos`), as in the
/// codec and the DDL.
fn columns_of(field: &FieldSchema, dialect: Dialect) -> Vec<String> {
    let Some(column) = field.column else {
        return Vec::new();
    };
    let single = !matches!(field.label, Label::Repeated | Label::Map { .. });
    match (field.ty, dialect) {
        (FieldType::WellKnown(WellKnown::Timestamp), Dialect::Postgres) if single => {
            vec![quote(column), quote(&format!("{column}_nanos"))]
        }
        _ => vec![quote(column)],
    }
}

fn columns_of_numbers(schema: &EntitySchema, numbers: &[u32], dialect: Dialect) -> Vec<String> {
    numbers
        .iter()
        .filter_map(|n| schema.field_by_number(*n))
        .flat_map(|f| columns_of(f, dialect))
        .collect()
}

/// The lookup statement of `index`; with `after`, it continues after a primary key. Placeholders, in bind
/// order: the index values, the key after which to start (if any), the limit.
pub(crate) fn lookup_sql(
    schema: &EntitySchema,
    index: &IndexSchema,
    dialect: Dialect,
    after: bool,
) -> String {
    let placeholder = |n: usize| match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    };
    let row = super::statements::row_columns(schema, dialect);
    let keys = columns_of_numbers(schema, schema.primary_key, dialect);
    let mut n = 0;
    let mut next = || {
        n += 1;
        placeholder(n)
    };
    let mut conditions: Vec<String> = columns_of_numbers(schema, index.fields, dialect)
        .into_iter()
        .map(|c| format!("{c} = {}", next()))
        .collect();
    if after {
        let bound: Vec<String> = keys.iter().map(|_| next()).collect();
        conditions.push(format!("({}) > ({})", keys.join(", "), bound.join(", ")));
    }
    format!(
        "SELECT {}, \"_version\" FROM {} WHERE {} ORDER BY {} LIMIT {}",
        row.join(", "),
        quote(schema.table),
        conditions.join(" AND "),
        keys.join(", "),
        next()
    )
}

/// `find_by_index` on one SQL store type; binds and reads through the [`Column`](crate::record::Column) hooks
/// of its dialect.
macro_rules! lookup_store {
    ($module:ident, $store:ident, $args:ty, $row:ty, $bind:ident, $read:ident, $dialect:expr) => {
        mod $module {
            use crate::error::{BoxError, DecodeError, Error, Tier};
            use crate::record::{Column, ColumnReader, ColumnWriter, Record};
            use crate::schema::IndexSchema;
            use crate::store::Page;
            use crate::store::lookup::IndexValues;
            use crate::versioned::Versioned;
            use sqlx::{Arguments, Row};

            struct Writer {
                args: $args,
                error: Option<BoxError>,
            }

            impl ColumnWriter for Writer {
                fn column<T: Column>(&mut self, value: &T) {
                    if self.error.is_none()
                        && let Err(e) = value.$bind(&mut self.args)
                    {
                        self.error = Some(e);
                    }
                }
            }

            struct Reader<'r> {
                row: &'r $row,
                index: usize,
            }

            impl ColumnReader for Reader<'_> {
                fn column<T: Column>(&mut self) -> Result<T, DecodeError> {
                    let at = self.index;
                    T::$read(self.row, &mut self.index)?
                        .ok_or_else(|| DecodeError::new(format!("column {at}: unexpected NULL")))
                }
            }

            fn store_error<E: Record>(e: impl Into<BoxError>) -> Error {
                Error::backend(E::SCHEMA.message, Tier::Store, e)
            }

            impl super::super::$module::$store {
                pub(crate) async fn find_by_index<E: Record, V: IndexValues>(
                    &self,
                    index: &'static IndexSchema,
                    values: &V,
                    after: Option<&E::Key>,
                    limit: usize,
                    with: Option<&crate::cursor::CursorKey>,
                ) -> Result<Page<E>, Error> {
                    let sql = super::lookup_sql(E::SCHEMA, index, $dialect, after.is_some());
                    let mut w = Writer {
                        args: <$args>::default(),
                        error: None,
                    };
                    values.write_values(&mut w);
                    if let Some(key) = after {
                        E::write_key(key, &mut w);
                    }
                    // One row more than asked tells whether there is a next page.
                    let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
                    if let Err(e) = w.args.add(fetch) {
                        w.error.get_or_insert(e);
                    }
                    if let Some(e) = w.error {
                        return Err(store_error::<E>(e));
                    }
                    let rows = sqlx::query_with(&sql, w.args)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(store_error::<E>)?;
                    let more = rows.len() > limit;
                    let mut items = Vec::with_capacity(rows.len().min(limit));
                    for row in rows.iter().take(limit) {
                        let mut reader = Reader { row, index: 0 };
                        let value = E::read_row(&mut reader).map_err(store_error::<E>)?;
                        let version: i64 = row.try_get(reader.index).map_err(|e| {
                            store_error::<E>(DecodeError::new(format!("_version: {e}")))
                        })?;
                        items.push(Versioned::new(value, version as u64));
                    }
                    let next = match (more, with) {
                        (true, Some(with)) => items
                            .last()
                            .map(|v| crate::cursor::Cursor::seal::<E>(&v.value.key(), with)),
                        _ => None,
                    };
                    Ok(Page { items, next })
                }
            }
        }
    };
}

#[cfg(feature = "sqlite")]
lookup_store!(
    sqlite,
    SqliteStore,
    sqlx::sqlite::SqliteArguments<'static>,
    sqlx::sqlite::SqliteRow,
    bind_sqlite,
    read_sqlite,
    super::Dialect::Sqlite
);

#[cfg(feature = "postgres")]
lookup_store!(
    postgres,
    PgStore,
    sqlx::postgres::PgArguments,
    sqlx::postgres::PgRow,
    bind_pg,
    read_pg,
    super::Dialect::Postgres
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    const FIELD: FieldSchema = FieldSchema {
        number: 1,
        name: "id",
        column: Some("id"),
        oneof: None,
        ty: FieldType::Scalar(Scalar::String),
        label: Label::Implicit,
        pii: None,
        redacted: false,
        encrypt: false,
    };
    const SCHEMA: EntitySchema = EntitySchema {
        package: "t.v1",
        message: "Row",
        table: "rows",
        backend: Backend::Sqlite,
        consistency: Consistency::Strong,
        cache: None,
        primary_key: &[1],
        fields: &[
            FIELD,
            FieldSchema {
                number: 2,
                name: "email",
                column: Some("email"),
                ..FIELD
            },
            FieldSchema {
                number: 3,
                name: "at",
                column: Some("at"),
                ty: FieldType::WellKnown(WellKnown::Timestamp),
                label: Label::Optional,
                ..FIELD
            },
        ],
        indexes: &[],
    };
    const BY_AT: IndexSchema = IndexSchema {
        name: "rows_at_idx",
        fields: &[3],
        kind: IndexKind::Secondary,
    };

    #[test]
    fn postgres_lookup_covers_the_nanos_column() {
        assert_eq!(
            lookup_sql(&SCHEMA, &BY_AT, Dialect::Postgres, true),
            r#"SELECT "id", "email", "at", "at_nanos", "_version" FROM "rows" WHERE "at" = $1 AND "at_nanos" = $2 AND ("id") > ($3) ORDER BY "id" LIMIT $4"#
        );
    }

    #[test]
    fn sqlite_first_page() {
        let by_email = IndexSchema {
            name: "rows_email_key",
            fields: &[2],
            kind: IndexKind::Unique,
        };
        assert_eq!(
            lookup_sql(&SCHEMA, &by_email, Dialect::Sqlite, false),
            r#"SELECT "id", "email", "at", "_version" FROM "rows" WHERE "email" = ?1 ORDER BY "id" LIMIT ?2"#
        );
    }
}
